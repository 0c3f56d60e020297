# Installs the library, headers and program, and exports the CMake package
# so that consumers can call find_package(fmala) and link fmala::fmala.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FMALA_INSTALL_TARGETS fmala_lib)
if(FMALA_HAVE_CUDA)
  list(APPEND FMALA_INSTALL_TARGETS fmala_cuda)
endif()

install(TARGETS ${FMALA_INSTALL_TARGETS} EXPORT fmalaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS fmala_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/fmala DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT fmalaTargets NAMESPACE fmala:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fmala)

configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/fmalaConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/fmalaConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fmala)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/fmalaConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/fmalaConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/fmalaConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fmala)
