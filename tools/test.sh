#!/usr/bin/env bash
# The test command of README.md (and of .ci/run): set up a Debian 12 machine, build, run the suite on
# lavapipe with the Khronos validation layer (every test fails on any validation message).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash tools/setup-debian.sh; fi
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
export VKC_VALIDATION=1  # Context::create turns the Khronos layer on (and fails if it is missing)
export VKCONVGPT_CACHE_DIR="$PWD/build/pipeline-cache"
# Tests must run on lavapipe (the CPU Vulkan driver), also on machines that have a GPU.
icd=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n1 || true)
[ -n "$icd" ] && export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600
