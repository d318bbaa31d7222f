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
  mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
