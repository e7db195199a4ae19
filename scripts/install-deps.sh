#!/usr/bin/env bash
# Installs what spmd builds and runs with, from Debian 12's packages (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  cmake ninja-build g++ ccache pkg-config \
  libopenmpi-dev openmpi-bin \
  libdnnl-dev ocl-icd-opencl-dev \
  libhwloc-dev hwloc \
  nlohmann-json3-dev libcli11-dev libgtest-dev
