#!/bin/bash
# The speed targets' JSON, one file per bench, into OUT (default runs/bench_targets); a file already
# there is kept, so a stopped run resumes. docs/SPEED.md quotes docs/speed/ (made this way).
#   bash bench/targets.sh [OUT]      (needs /usr/bin/chromium and data/uptown_funk.json)
set -u
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench_targets}
P=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
run() {
  local name=$1; shift
  if [ -s "$OUT/$name.json" ]; then echo "$name: kept"; return; fi
  echo "$name: $(date +%T)"
  "$@" > "$OUT/$name.tmp" 2> "$OUT/$name.err" && mv "$OUT/$name.tmp" "$OUT/$name.json" || echo "$name failed: $OUT/$name.err"
}
BEST=checkpoints/best_fidelity/model.pt
run lab_sample_latency $P bench/lab_sample_latency.py --presses 3
run lab_sample_latency_64 $P bench/lab_sample_latency.py --samples 64 --presses 1 --play 0
run first_visit $P bench/first_visit.py --servers 4 --after 2
run page_open $P bench/page_open.py --rounds 3
run page_open_reader $P bench/page_open.py --rounds 2 --think 3
run slider_fps $P bench/slider_fps.py --checkpoint $BEST
run export_speed $P bench/export_speed.py --repeat 3
run autotune_check $P bench/autotune_check.py --checkpoint $BEST --steps 18 --repeat 5
run bf16_fidelity_best_fidelity $P bench/bf16_fidelity.py --checkpoint $BEST
run sampler_speed $P bench/sampler_speed.py --checkpoints checkpoints/*/model.pt
run eval_speed $P bench/eval_speed.py --checkpoint $BEST
run ddp_shutdown $P bench/ddp_shutdown.py --runs 20
