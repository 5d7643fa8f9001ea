#!/usr/bin/env bash
# The CUDA checks in one prepared run (<= 8 minutes on one GPU): AMP training steps of
# DenseCLIP-RN50, Conv-Former, CLIP-SP and SegCLIP at the papers' batch per GPU, ProxyCLIP
# fp16 images/s on 50 VOC-sized images, peak memory. Writes OUT/gpu_check.{json,md}.
#   benchmarks/gpu_check.sh [OUT] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-work_dirs/gpu_check}"
shift || true
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
exec timeout 480 "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
