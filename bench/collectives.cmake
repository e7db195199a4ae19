# bench_collectives: the project's collective algorithms against MPI's own, in one run
# (mpirun -np 2 bench_collectives [--all] [--json FILE]). Included from bench/CMakeLists.txt.
add_executable(bench_collectives ${CMAKE_CURRENT_LIST_DIR}/collectives_bench.cpp)
target_link_libraries(bench_collectives PRIVATE spmd_collectives spmd_partitioner spmd_runtime CLI11::CLI11 nlohmann_json::nlohmann_json)
