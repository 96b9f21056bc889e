#!/usr/bin/env bash
# The spec's "next steps" as a small ablation on the real clip: plain vs velocity-weighted loss vs
# window jitter vs jitter + mirroring. 64-frame windows so it runs on a 2-core CPU in minutes.
# Usage: bash scripts/ablate_next_steps.sh [epochs]   (writes runs/ablate_*, then docs/ABLATIONS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-300}
py=.venv/bin/python
common="--data data/uptown_funk.json --window 64 --stride 8 --limit 0 --batch-size 16 --lr 2e-4 --seed 42
        --epochs $epochs --precision bf16 --monitor-every 50 --save-every 50 --no-progress"
run() {  # name, extra flags
  if [ -f runs/$1/last.pt ]; then resume=--resume; else resume=; fi
  OMP_NUM_THREADS=1 $py -m motionlab.train $common --tag $1 --out runs/$1 $resume ${@:2} > runs/$1.log 2>&1
}
mkdir -p runs
run ablate_plain & run ablate_vel --vel-weight 1.0 & wait
run ablate_jitter --jitter & run ablate_jitter_mirror --jitter --mirror & wait
$py -m motionlab.report --title "Next-step ablation (64-frame windows, $epochs epochs)" \
  --checkpoints runs/ablate_plain/best.pt runs/ablate_vel/best.pt runs/ablate_jitter/best.pt \
  runs/ablate_jitter_mirror/best.pt --num-samples 8 --seed 42 --out docs/ABLATIONS.md --notes docs/ABLATIONS_NOTES.md
