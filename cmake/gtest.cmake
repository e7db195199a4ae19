# GoogleTest: the installed package, or (on a machine that has none, such as a GPU machine
# with the CUDA toolkit alone) its sources at SPMD_GTEST_SOURCE_DIR, e.g. a copy of Debian's
# /usr/src/googletest.
set(SPMD_GTEST_SOURCE_DIR "" CACHE PATH "GoogleTest sources to build when no installed package is found")
if(BUILD_TESTING)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND AND SPMD_GTEST_SOURCE_DIR)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory(${SPMD_GTEST_SOURCE_DIR} ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
    if(NOT TARGET GTest::gtest)  # older GoogleTest sources do not name these themselves
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
  elseif(NOT GTest_FOUND)
    message(FATAL_ERROR "GoogleTest not found: install libgtest-dev, or pass -DSPMD_GTEST_SOURCE_DIR=<its sources>")
  endif()
endif()
