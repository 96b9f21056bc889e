#!/usr/bin/env bash
# The spec's "next steps" as a small ablation on the real clip: plain vs velocity-weighted loss vs
# window jitter vs jitter + mirroring, one seed each, bf16 on the CPU, all four runs in parallel pairs.
# Usage: bash scripts/ablate_next_steps.sh [epochs [window stride [doc]]]
#   defaults: 300 epochs, 64/8 -> runs/ablate_*, docs/ABLATIONS.md
#   the spec's regime: bash scripts/ablate_next_steps.sh 300 256 5 docs/ABLATIONS_256.md -> runs/ablate256_*
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-300}; window=${2:-64}; stride=${3:-8}; doc=${4:-docs/ABLATIONS.md}
prefix=ablate; [ "$window" = 64 ] || prefix=ablate$window
notes=${doc%.md}_NOTES.md
py=.venv/bin/python
common="--data data/uptown_funk.json --window $window --stride $stride --limit 0 --batch-size 16 --lr 2e-4
        --seed 42 --epochs $epochs --precision bf16 --monitor-every 50 --save-every 50 --no-progress"
run() {  # name, extra flags
  if [ -f runs/$1/last.pt ]; then resume=--resume; else resume=; fi
  OMP_NUM_THREADS=1 $py -m motionlab.train $common --tag $1 --out runs/$1 $resume ${@:2} > runs/$1.log 2>&1
}
mkdir -p runs
run ${prefix}_plain & run ${prefix}_vel --vel-weight 1.0 & wait
run ${prefix}_jitter --jitter & run ${prefix}_jitter_mirror --jitter --mirror & wait
$py -m motionlab.studies.report --title "Next-step ablation ($window-frame windows, $epochs epochs)" \
  --checkpoints runs/${prefix}_plain/best.pt runs/${prefix}_vel/best.pt runs/${prefix}_jitter/best.pt \
  runs/${prefix}_jitter_mirror/best.pt --num-samples 8 --seed 42 --out $doc --notes $notes
