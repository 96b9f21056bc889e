#!/usr/bin/env bash
# The spec's long_10000 run on one CUDA GPU (the device tool's machine), in segments that fit its calls.
# A first call benches the captured step in fp32 and bf16, keeps the faster and starts the run; a later
# call on the same warm machine resumes it. Each call ends by packing the fp16 best weights, metrics and
# logs into $OUT in pieces under the tool's 16 MiB-per-file limit.
# Usage: OUT=/some/dir bash scripts/train_long_gpu.sh SECONDS   (the whole call, packing included)
#
# When the device time runs out first, hand the run to the CPU (as long_10000 was, docs/RESULTS_NOTES.md):
#   there: python3 scripts/resume_state.py pack /tmp/long_runs/long_10000/last.pt /tmp/state.pt
#          split -b 15M /tmp/state.pt $OUT/state.part_     (75 MiB: two calls bring it back)
#   here:  cat state.part_* > RUN/last.pt, copy metrics.jsonl beside it, then motionlab.train with the
#          same flags and --device cpu --resume (loading fits the optimizer to the CPU)
set -u
secs=${1:?seconds for this call}
end=$(( $(date +%s) + secs ))
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/long_out}; mkdir -p "$OUT"
R=/tmp/long_runs; mkdir -p $R/pack
tag=long_10000
run=$R/$tag
if [ ! -f $run/last.pt ]; then
  { nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    python3 -c "import torch; print('torch', torch.__version__)"; } | tee $R/pack/machine.txt
  python3 bench/train_step.py --device cuda --cuda-graph --steps 40 | tee $R/pack/bench_graph.json
  python3 - $R/pack/bench_graph.json > $R/precision <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("bf16" if d.get("bf16_s_per_step", 1e9) < d.get("fp32_s_per_step", 1e9) else "fp32")
PY
  [ -s $R/precision ] || echo fp32 > $R/precision
  resume=""
else
  resume="--resume"
fi
prec=$(cat $R/precision)
left=$(( end - $(date +%s) - 25 ))  # keep time to pack
echo "segment: precision $prec, $left s, ${resume:-fresh}" | tee -a $R/pack/$tag.log
timeout -s TERM $left python3 -m motionlab.train --data data/uptown_funk.json --window 256 --stride 5 \
  --limit 1024 --batch-size 16 --lr 2e-4 --timesteps 400 --beta-start 1e-4 --beta-end 0.02 --patience 0 \
  --seed 42 --device cuda --no-progress --epochs 10000 --monitor-every 500 --save-every 500 \
  --precision $prec --cuda-graph --tag $tag --out $run $resume >> $R/pack/$tag.log 2>&1
echo "segment rc $?" >> $R/pack/$tag.log
python3 - <<'PY'
from motionlab.formats.checkpoints import read_checkpoint, release_copy
R = "/tmp/long_runs"
release_copy(f"{R}/long_10000/best.pt", f"{R}/pack/long_10000.pt")
best = read_checkpoint(f"{R}/pack/long_10000.pt")  # the last epoch is in the log's summary line
print("best epoch", best["epoch"], "best loss", best["best_loss"])
PY
cp $run/metrics.jsonl $R/pack/$tag.metrics.jsonl
tail -n 4 $R/pack/$tag.log
rm -f "$OUT"/pack.tar.part_*
tar cf - -C $R pack | split -b 15M - "$OUT/pack.tar.part_"
ls -la "$OUT"
