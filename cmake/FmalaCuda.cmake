# Finds a CUDA compiler and enables the CUDA language when one is present.
# The CUDA back end compiles and links without a GPU; it targets sm_80 and sm_90.

set(FMALA_HAVE_CUDA OFF)
if(FMALA_ENABLE_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    # CMake before 3.26 does not know nvcc's C++20 flag and rejects CUDA_STANDARD 20
    # at generate time, although nvcc 12 and later accept -std=c++20.
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION AND
       CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(FMALA_HAVE_CUDA ON)
    message(STATUS "fmala: CUDA back end enabled (architectures ${CMAKE_CUDA_ARCHITECTURES})")
  else()
    message(STATUS "fmala: no CUDA compiler found, building the CPU back end only")
  endif()
endif()

function(fmala_set_cuda_flags target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr --extended-lambda -Xcompiler=-Wall,-Wextra>)
  if(FMALA_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Werror>)
  endif()
endfunction()
