#!/usr/bin/env bash
# Train the spec's three 256/5/1024 runs side by side on one CUDA GPU (the device tool's machine),
# then pack fp16 release copies into $OUT in pieces under its 16 MiB-per-file limit.
# Usage: OUT=/some/dir bash scripts/train_release_gpu.sh [seconds_budget]
set -u
budget=${1:-480}
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/release_out}; mkdir -p "$OUT"
R=/tmp/release_runs; mkdir -p $R
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee $R/machine.txt
python3 -c "import torch; print('torch', torch.__version__)" | tee -a $R/machine.txt
python3 bench/train_step.py --device cuda --steps 30 | tee $R/bench_cuda.json
common="--data data/uptown_funk.json --window 256 --stride 5 --limit 1024 --batch-size 16 --lr 2e-4
        --timesteps 400 --beta-start 1e-4 --beta-end 0.02 --patience 0 --seed 42 --device cuda --no-progress"
launch() {  # tag epochs monitor_every save_every
  ( start=$(date +%s)
    timeout -s TERM $budget python3 -m motionlab.train $common --epochs $2 --monitor-every $3 --save-every $4 \
      --tag $1 --cuda-graph --out $R/$1 > $R/$1.log 2>&1
    rc=$?
    if [ $rc -ne 0 ] && [ ! -f $R/$1/last.pt ]; then  # graph capture failed: fall back to eager
      echo "cuda-graph run failed (rc $rc); eager fallback" >> $R/$1.log
      left=$(( budget - ($(date +%s) - start) ))
      timeout -s TERM $left python3 -m motionlab.train $common --epochs $2 --monitor-every $3 --save-every $4 \
        --tag $1 --out $R/$1 >> $R/$1.log 2>&1
    fi
    echo "wall_seconds $(( $(date +%s) - start ))" >> $R/$1.log ) &
}
launch long_10000 10000 250 500
launch long_1000 1000 50 100
launch earlystop_500 500 25 100
wait
tail -n 3 $R/*.log
python3 - <<'PY'
import json, os
from motionlab.formats.checkpoints import release_copy, read_checkpoint
R = "/tmp/release_runs"
os.makedirs(f"{R}/pack", exist_ok=True)
for tag, which in (("earlystop_500", "last"), ("long_1000", "best"), ("long_10000", "best")):
    src = f"{R}/{tag}/{which}.pt"
    if os.path.exists(src):
        release_copy(src, f"{R}/pack/{tag}.pt")
        ck = read_checkpoint(src)
        print(tag, which, "epoch", ck["epoch"], "best_loss", ck["best_loss"])
    for f in ("metrics.jsonl",):
        if os.path.exists(f"{R}/{tag}/{f}"):
            os.system(f"cp {R}/{tag}/{f} {R}/pack/{tag}.metrics.jsonl")
    if os.path.exists(f"{R}/{tag}.log"):
        os.system(f"cp {R}/{tag}.log {R}/pack/{tag}.log")
os.system(f"cp {R}/machine.txt {R}/bench_cuda.json {R}/pack/")
PY
tar cf - -C $R pack | split -b 15M - "$OUT/pack.tar.part_"
ls -la "$OUT"
