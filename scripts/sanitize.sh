#!/usr/bin/env bash
# Builds with AddressSanitizer and UndefinedBehaviorSanitizer and runs the unit tests
# (those labelled `unit`: no mpirun, so the sanitizers see only the project's code). The
# CUDA backends are left out: the CUDA runtime and ASan's shadow memory do not mix.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSPMD_SANITIZE=ON -DSPMD_WITH_CUDA=OFF
cmake --build build-asan -j2 --target unit_tests
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/support/lsan.supp
ctest --test-dir build-asan --output-on-failure -j2 -L unit --timeout 900
