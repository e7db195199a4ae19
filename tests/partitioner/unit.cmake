# Unit tests of the partitioner's analyses, included from this folder's CMakeLists.txt.
add_executable(partitioner_unit_tests cost_model_test.cpp dimensions_test.cpp json_fields_test.cpp kernel_rates_test.cpp
  reuse_distance_test.cpp
  structure_not_names_test.cpp)
target_include_directories(partitioner_unit_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(partitioner_unit_tests PRIVATE spmd_partitioner GTest::gtest_main)
target_compile_definitions(partitioner_unit_tests PRIVATE SPMD_TOPOLOGIES_DIR="${SPMD_TOPOLOGIES_DIR}")
spmd_unit_tests(partitioner_unit_tests)
