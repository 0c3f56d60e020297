# Writes build_info.cpp (version, source commit, CUDA architectures). Run as a
# script on every build (cmake -P), so the commit follows the checkout; the
# file is rewritten only when its content changes, so an unchanged checkout
# recompiles nothing.
#
# Inputs: SOURCE_DIR, TEMPLATE, OUTPUT, FMALA_VERSION, FMALA_ARCHITECTURES.

set(FMALA_COMMIT unknown)
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
                  WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE commit
                  RESULT_VARIABLE status OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(status EQUAL 0)
    set(FMALA_COMMIT "${commit}")
    # Untracked files are not counted: build directories inside the tree would
    # mark every build dirty.
    execute_process(COMMAND "${GIT_EXECUTABLE}" diff --quiet HEAD --
                    WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      set(FMALA_COMMIT "${commit}-dirty")
    endif()
  endif()
endif()
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
