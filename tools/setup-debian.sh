#!/usr/bin/env bash
# Installs everything vkconvgpt needs to build and test on Debian 12 (run as root). Nothing else is
# downloaded at build or run time.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  cmake make g++ pkg-config \
  libvulkan-dev glslc spirv-tools \
  nlohmann-json3-dev libcli11-dev libgtest-dev libsentencepiece-dev \
  mesa-vulkan-drivers vulkan-validationlayers vulkan-tools \
  clang libclang-rt-14-dev llvm
# clang + libclang-rt-14-dev: the sanitizer build and libFuzzer (tools/test.sh); llvm: llvm-symbolizer,
# so sanitizer reports show file:line.
# vkconvgpt-server: cpp-httplib; curl and the openai npm package (node + npm; Debian's unless a node is
# already installed) for its client tests (tests/server/server_clients.sh).
apt-get install -y -q --no-install-recommends libcpp-httplib-dev curl
command -v npm >/dev/null || apt-get install -y -q --no-install-recommends nodejs npm
