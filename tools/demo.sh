#!/usr/bin/env bash
# The README's first command: set up a Debian 12 machine, build, and run the main job on the model in
# models/: device info, then logits of a token sequence through one batched prefill plus replayed
# single-token decode, then a short speed run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash tools/setup-debian.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVKC_BUILD_TESTS=OFF
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
run=build/tools/vkconvgpt-run
model=models/convgpt-v1-tiny
$run info
ids=5,17,3,99,256,42,7,300,11,64,128,9,480,33,2,77
$run eval --model $model --ids $ids --prefill 8 --out build/demo_logits.safetensors
$run bench --model $model -p 64 -n 32 -r 3
