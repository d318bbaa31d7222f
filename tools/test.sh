#!/usr/bin/env bash
# The test command of README.md (and of .ci/run): set up a Debian 12 machine, build, run the suite on
# lavapipe with the Khronos validation layer (every test fails on any validation message), then
# (README "Fuzzing and sanitizers") the same suite built with clang + ASan/UBSan/LSan, and each libFuzzer
# target for VKC_FUZZ_SECONDS (60) seconds on its seed corpus. VKC_SKIP_SANITIZE=1 stops after the
# first suite (local use). Each stage logs its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
stage() { echo "== [$(( SECONDS - t0 ))s] $*"; }
stage_done() { echo "== $1 took $(( SECONDS - $2 ))s"; }

s=$SECONDS; stage "setup"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash tools/setup-debian.sh; fi
stage_done setup $s
jobs=$(nproc 2>/dev/null || echo 2)

s=$SECONDS; stage "build (g++, Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
stage_done build $s
export VKC_VALIDATION=1  # Context::create turns the Khronos layer on (and fails if it is missing)
# Tests must run on lavapipe (the CPU Vulkan driver), also on machines that have a GPU.
icd=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n1 || true)
[ -n "$icd" ] && export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"

s=$SECONDS; stage "ctest (build)"
VKCONVGPT_CACHE_DIR="$PWD/build/pipeline-cache" ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600
stage_done "ctest (build)" $s
[ "${VKC_SKIP_SANITIZE:-0}" = 1 ] && exit 0

# ---- the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) ----
# One clang build serves both the suite and the fuzz targets (VKC_FUZZ implies address,undefined).
san=build-san
s=$SECONDS; stage "build ($san: clang, ASan+UBSan, fuzz targets)"
cmake -S . -B "$san" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DVKC_SANITIZE=address,undefined -DVKC_FUZZ=ON
cmake --build "$san" -j "$jobs"
stage_done "build ($san)" $s
# Every report fails: ASan and UBSan halt the process, LSan makes it exit non-zero. The suppression files
# cover only uninstrumented system libraries (Mesa lavapipe, the Vulkan loader, the validation layer),
# each entry commented; no vkconvgpt frame is ever suppressed.
supp="$PWD/tests/sanitize"
# quarantine_size_mb=16 (default 256): freed memory is still poisoned until 16 MiB more has been freed.
# lavapipe's device memory is malloc'd, so every test frees tens of MiB; with the default quarantine the
# suite spent a third of its time mapping, faulting and unmapping it (measured: 161 -> 112 s on a
# DecodeBatch / greedy subset).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:quarantine_size_mb=16"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"

s=$SECONDS; stage "ctest ($san)"
# The whole suite: every test, the end-to-end fixture / random-shape / limit-profile runs, the HTTP
# server tests (the server binary is instrumented too; LeakSanitizer checks it when the tests stop it)
# and the install check (the example built against the instrumented library). VKC_SAN_CTEST_ARGS passes
# ctest arguments instead (e.g. '-E Server' for a quicker local run).
san_args=${VKC_SAN_CTEST_ARGS-}
VKCONVGPT_CACHE_DIR="$PWD/$san/pipeline-cache" ctest --test-dir "$san" --output-on-failure -j "$jobs" --timeout 900 \
  $san_args
stage_done "ctest ($san)" $s

# ---- fuzzing: each target VKC_FUZZ_SECONDS on its committed corpus, two at a time ----
# New inputs go to $san/fuzz/<target>/ (the committed corpus is only read); a finding leaves its input
# in $san/fuzz/artifacts/ and fails the stage.
secs=${VKC_FUZZ_SECONDS:-60}
s=$SECONDS; stage "fuzz (${secs}s per target, $jobs at a time)"
mkdir -p "$san/fuzz/artifacts"
fuzz_one() { # target -> exit status of libFuzzer (0: no finding); its log goes to $san/fuzz/<target>.log
  local t=$1 bin="$san/tests/fuzz/fuzz_$1"
  mkdir -p "$san/fuzz/$t"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$san/fuzz/artifacts/$t-" "$san/fuzz/$t" "tests/fuzz/corpus/$t" >"$san/fuzz/$t.log" 2>&1
}
targets=$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
failed=""
set -- $targets
while [ $# -gt 0 ]; do
  pids=(); names=()
  for _ in $(seq "$jobs"); do
    [ $# -gt 0 ] || break
    fuzz_one "$1" & pids+=($!); names+=("$1"); shift
  done
  for i in "${!pids[@]}"; do
    t=${names[$i]}
    if wait "${pids[$i]}"; then
      echo "fuzz_$t: no finding ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$san/fuzz/$t.log" | grep -o '[0-9]*$') runs in ${secs}s)"
    else
      echo "fuzz_$t: FINDING"; tail -n 60 "$san/fuzz/$t.log"; failed="$failed $t"
    fi
  done
done
stage_done fuzz $s
[ -z "$failed" ] || { echo "fuzz findings in:$failed (inputs in $san/fuzz/artifacts/)"; exit 1; }
stage "all stages passed"
