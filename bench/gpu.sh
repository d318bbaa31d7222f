#!/usr/bin/env bash
# One call on the GPU machine: (build if a toolchain is there, else use a carried x86-64 build),
# check the fixtures through prefill and decode, then time both presets. Prints one report and writes
# it to $OUT/gpu_report.md when $OUT is set.
#   bash bench/gpu.sh [BIN_DIR] [FIXTURES_DIR]
# MODE=quick: no fixtures; f16 bench and decode profile of both presets only (for tuning iterations).
# MODE=server: only the server rows (1, 2, 4, 8 concurrent streams). MODE=batch: only the decode_batch scaling rows (B = 1, 2, 4, 8 sequences per step) and a B = 8 profile.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/tools}
fix=${2:-../shared/fixtures}
out=${OUT:-/tmp}
report=$out/gpu_report.md
# Vulkan loader on machines without one (see the device notes): .gl holds Debian's loader packages.
if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
if [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
if command -v glslc >/dev/null && command -v cmake >/dev/null && [ ! -x "$bin/vkconvgpt-run" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVKC_BUILD_TESTS=OFF && cmake --build build -j"$(nproc)" || exit 1
fi
run="$bin/vkconvgpt-run"
export VKCONVGPT_CACHE_DIR=/tmp/vkc-cache
{
echo "# vkconvgpt GPU report ($(date -u +%F))"; echo
echo '```'; "$run" info; echo '```'; echo
batch_rows() { # decode_batch scaling on convgpt-v1-164m f16 (the server's batched step)
  "$run" init-model --preset convgpt-v1-164m --out /tmp/convgpt-v1-164m 2>/dev/null
  echo "## convgpt-v1-164m f16: B sequences per decode step (aggregate tokens/s)"; echo
  for b in 1 2 4 8; do
    "$run" bench --model /tmp/convgpt-v1-164m -p 0 -n 128 -r 3 --batch $b $([ $b = 1 ] && echo --chain 16) | grep '| tg'
  done; echo
  "$run" bench --model /tmp/convgpt-v1-164m -p 0 -n 0 --batch 8 --profile | head -n 40; echo
}
server_rows() { # vkconvgpt-server under 1, 2, 4, 8 concurrent greedy streams (issue 5's bar)
  srv=$bin/vkconvgpt-server; [ -x "$srv" ] || srv=$bin/server/vkconvgpt-server
  [ -x "$srv" ] || return 0
  "$run" init-model --preset convgpt-v1-164m --out /tmp/convgpt-v1-164m 2>/dev/null
  echo; echo "## Server: concurrent greedy streams (convgpt-v1-164m f16, demo tokenizer, 128 tokens each)"; echo
  cp models/convgpt-v1-demo/tokenizer* /tmp/convgpt-v1-164m/
  "$srv" --model /tmp/convgpt-v1-164m --parallel 8 --ctx 1024 --port 18080 >/tmp/server.log 2>&1 & spid=$!
  for _ in $(seq 60); do grep -q listening /tmp/server.log && break; sleep 1; done
  for c in 1 2 4 8; do "$(dirname "$srv")/vkconvgpt-loadgen" --port 18080 -c $c -n 128; done
  kill $spid
}
if [ "${MODE:-full}" = server ]; then server_rows; exit 0; fi
if [ "${MODE:-full}" = batch ]; then batch_rows; exit 0; fi
if [ "${MODE:-full}" = quick ]; then
  for preset in convgpt-v1-164m convgpt-v2-200m; do
    "$run" init-model --preset $preset --out /tmp/$preset 2>/dev/null
    echo "## $preset (quick)"; echo
    "$run" bench --model /tmp/$preset -p 512 -n 128 -r 3 --chain 16; echo
    "$run" bench --model /tmp/$preset -p 0 -n 0 --profile | head -n 30; echo
  done
  exit 0
fi
echo "## Fixtures (max|err|/max|logit|; prefill-only and prefill-8-then-decode)"; echo
echo "| fixture | precision | prefill | decode |"; echo "| --- | --- | ---: | ---: |"
for m in v1-tiny-tied/f32 v1-tiny-untied/f32 v1-tiny-swa/bf16 v2-tiny v2-tiny-g256; do
  base=$fix/${m%%/*}
  ids=$(python3 -c "from safetensors.numpy import load_file as l; print(','.join(map(str,l('$base/expected.safetensors')['input_ids'])))")
  for p in f32 f16; do
    "$run" eval --model "$fix/$m" --ids "$ids" --precision $p --out /tmp/a.st 2>/dev/null
    "$run" eval --model "$fix/$m" --ids "$ids" --prefill 8 --precision $p --out /tmp/b.st 2>/dev/null
    python3 - "$base/expected.safetensors" "$m" "$p" <<'PY'
import sys, numpy as np
from safetensors.numpy import load_file as l
ref = l(sys.argv[1])["logits"].astype(np.float64)
err = lambda f: np.abs(l(f)["logits"] - ref).max() / np.abs(ref).max()
print(f"| {sys.argv[2]} | {sys.argv[3]} | {err('/tmp/a.st'):.2e} | {err('/tmp/b.st'):.2e} |")
PY
  done
done
echo
for preset in convgpt-v1-164m convgpt-v2-200m; do
  "$run" init-model --preset $preset --out /tmp/$preset 2>/dev/null
  echo "## $preset"; echo
  for p in f16 f32 q8_0 q4_0; do "$run" bench --model /tmp/$preset --weights $p -p 512 -n 128 -r 5 --chain 16; echo; done
  "$run" bench --model /tmp/$preset -p 0 -n 0 --profile | head -n 30; echo
  echo "### $preset f16: short prompts, and the kernels of a 512-token prefill"; echo
  for pp in 16 128; do "$run" bench --model /tmp/$preset -p $pp -n 0 -r 5 | grep '| pp'; done; echo
  "$run" bench --model /tmp/$preset -p 0 -n 0 --profile-prefill 512 | head -n 20; echo
done
batch_rows
echo "## convgpt-v2-200m decode cost vs position (f16)"; echo
"$run" bench --model /tmp/convgpt-v2-200m -p 0 -n 0 -r 4 --positions 256,1024,4096,16384 --max-batch 512
echo; echo "## convgpt-v1-164m decode cost vs position (f16)"; echo
"$run" bench --model /tmp/convgpt-v1-164m -p 0 -n 0 -r 4 --positions 256,1024,4000 --max-batch 512
server_rows
} 2>&1 | tee "$report"
