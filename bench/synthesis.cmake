# bench_synthesis: the schedules synthesized for all-reduce on simulated clusters (DGX-2 x 4,
# 2-socket CPU nodes x 16), 4 KiB .. 1 GiB, against a flat ring, by the cost model
# (bench_synthesis [--json FILE]). Included from bench/CMakeLists.txt.
add_executable(bench_synthesis ${CMAKE_CURRENT_LIST_DIR}/synthesis_bench.cpp)
target_link_libraries(bench_synthesis PRIVATE spmd_collectives CLI11::CLI11 nlohmann_json::nlohmann_json)
target_compile_definitions(bench_synthesis PRIVATE
  SPMD_TOPOLOGIES_DIR="${PROJECT_SOURCE_DIR}/tests/data/topologies")
