#!/usr/bin/env bash
# Prints a hash of the sources that the compiled programs are built from: C++
# and CUDA sources, headers and CMake files. It needs no git, so a machine that
# received a copy of the tree can tell whether a prebuilt gpu-bundle.tar.xz
# was made from the same sources.
#
# Usage: scripts/source-hash.sh [SOURCE_DIR]
set -euo pipefail

source_dir="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "${source_dir}"
find CMakeLists.txt cmake include kernels src tests bench -type f \
  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh' -o -name '*.in' \
     -o -name '*.cmake' -o -name CMakeLists.txt \) -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
