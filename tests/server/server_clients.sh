#!/usr/bin/env bash
# vkconvgpt-server with real clients: curl for the raw SSE framing, then the official `openai` npm
# package (pinned in node/package-lock.json, installed with `npm ci` into a temporary folder) under
# node's test runner. Exits 77 (ctest: skipped) only when node, npm or curl is not installed.
# Usage: server_clients.sh SERVER_BIN MODEL_DIR
set -euo pipefail
bin=$1 model=$2
here=$(cd "$(dirname "$0")" && pwd)
for tool in node npm curl; do
  command -v $tool >/dev/null || { echo "SKIPPED: $tool is not installed (tools/setup-debian.sh installs it)"; exit 77; }
done
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp "$here/node/package.json" "$here/node/package-lock.json" "$here/node/openai_test.mjs" "$work/"
npm ci --prefix "$work" --no-audit --no-fund --loglevel=error

key=clients-key
"$bin" --model "$model" --port 0 --parallel 4 --ctx 256 --api-key "$key" 2> "$work/server.log" &
pid=$!
port=
while [ -z "$port" ]; do
  kill -0 "$pid" 2>/dev/null || { echo "server exited:"; cat "$work/server.log"; exit 1; }
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.log" | sed 's/.*://' || true)
  [ -n "$port" ] || sleep 0.1
done
name=$(basename "$model")
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }

# Raw SSE framing: status and content type, every event a "data: " line (or a ": " comment) followed by a
# blank line, JSON in each data event, and "data: [DONE]" last.
for ep in completions chat/completions; do
  if [ $ep = completions ]; then body='{"prompt":"In the beginning","max_tokens":6,"temperature":0,"ignore_eos":true,"stream":true}'
  else body='{"messages":[{"role":"user","content":"Hello"}],"max_tokens":6,"temperature":0,"ignore_eos":true,"stream":true}'; fi
  curl -sS -N -D "$work/h" -o "$work/sse" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "$body" "http://127.0.0.1:$port/v1/$ep"
  check "$ep: HTTP 200" "head -n1 '$work/h' | grep -q ' 200'"
  check "$ep: text/event-stream" "grep -qi '^content-type: text/event-stream' '$work/h'"
  check "$ep: ends with data: [DONE] and a blank line" "tail -c 14 '$work/sse' | cmp -s - <(printf 'data: [DONE]\\n\\n')"
  check "$ep: events are data:/comment lines separated by blank lines" \
    "awk 'NR%2==1 && !/^(data: |: )/ {exit 1} NR%2==0 && \$0!=\"\" {exit 1}' '$work/sse'"
  check "$ep: every data event but [DONE] is JSON with choices" \
    "grep '^data: ' '$work/sse' | grep -v '^data: \[DONE\]$' | sed 's/^data: //' | node -e '
      const lines = require(\"fs\").readFileSync(0, \"utf8\").trim().split(\"\n\");
      for (const l of lines) { const j = JSON.parse(l); if (!Array.isArray(j.choices)) process.exit(1); }
      if (lines.length < 2) process.exit(1);'"
done
# Non-streaming through curl, and an error body.
curl -sS -o "$work/one" -H "Authorization: Bearer $key" -d '{"prompt":"In the beginning","max_tokens":3,"temperature":0,"ignore_eos":true}' \
  "http://127.0.0.1:$port/v1/completions"
check "non-streaming usage" "node -e 'const j=JSON.parse(require(\"fs\").readFileSync(\"$work/one\",\"utf8\")); process.exit(j.usage.completion_tokens===3?0:1)'"
code=$(curl -sS -o "$work/err" -w '%{http_code}' -H "Authorization: Bearer $key" -d '{"prompt":' "http://127.0.0.1:$port/v1/completions")
check "invalid JSON: 400 with an OpenAI error body" "[ $code = 400 ] && grep -q '\"error\":{' '$work/err'"

VKC_PORT=$port VKC_MODEL_NAME=$name VKC_API_KEY=$key node --test "$work/openai_test.mjs" || fail=1
kill -0 "$pid" || { echo "FAILED: the server died"; fail=1; }
exit $fail
