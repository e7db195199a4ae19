# bench_topology: build and print a 1,024-node x 16-GPU topology (DGX-2 replicated).
# Included from bench/CMakeLists.txt.
add_executable(bench_topology ${CMAKE_CURRENT_LIST_DIR}/topology_bench.cpp)
target_link_libraries(bench_topology PRIVATE spmd_launcher)
target_compile_definitions(bench_topology PRIVATE
  SPMD_TOPOLOGIES_DIR="${PROJECT_SOURCE_DIR}/tests/data/topologies")
