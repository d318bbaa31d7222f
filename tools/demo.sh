#!/usr/bin/env bash
# The README's first command: set up a Debian 12 machine, build, and run the main job on the models in
# models/: device info, text generation with the v1 demo model (trained on the King James Bible by
# tools/train/train_demo.py), the eval contract (prefill + replayed decode), a short speed run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash tools/setup-debian.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVKC_BUILD_TESTS=OFF
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
run=build/tools/vkconvgpt-run
$run info
$run generate --model models/convgpt-v1-demo --prompt "And God said" -n 48 --temp 0.7 --top-k 40 --seed 1
echo
$run eval --model models/convgpt-v1-tiny --ids 5,17,3,99,256,42,7,300,11,64,128,9,480,33,2,77 --prefill 8 \
  --out build/demo_logits.safetensors
$run bench --model models/convgpt-v1-demo -p 64 -n 32 -r 3
