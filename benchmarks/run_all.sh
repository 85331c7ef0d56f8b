#!/usr/bin/env bash
# Every benchmark in one run, on WMT newstest (../shared/data/corpora/newstest):
#   1. opus-mt-en-fr-sized Marian: xalign end to end, the bare forward floor, and the naive
#      output_attentions=True path (bench_extract.py);
#   2. mBERT-sized encoder: xalign's embedding path, simalign and awesome-align
#      (bench_embedding.py; pip install simalign awesome-align for the last two);
#   3. the fused kernel against the torch path and the naive [B,H,T,S] computation
#      (bench_kernel.py; the Triton rows need a CUDA GPU).
# Usage: bash benchmarks/run_all.sh [PAIRS] — results go to stdout; copy them into
# benchmarks/README.md with the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-1000}"
python benchmarks/bench_extract.py --pairs "$pairs"
python benchmarks/bench_embedding.py --pairs "$pairs"
python benchmarks/bench_kernel.py
