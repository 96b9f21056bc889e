#!/usr/bin/env bash
# The fidelity study (motionlab.fidelity) on one CUDA GPU, the device tool's machine, in one call:
# both phases, the evaluation, then the JSON, logs, monitor curves and an fp16 release copy of the
# shipped run packed into $OUT in pieces under the tool's 16 MiB-per-file limit.
# Usage: OUT=/some/dir bash scripts/fidelity_gpu.sh SECONDS   (the study's budget; packing adds ~20 s)
# Here, afterwards: cat pack.tar.part_* | tar x; python -m motionlab.fidelity report --json .../FIDELITY.json
set -u
budget=${1:?seconds for the study}
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/fidelity_out}; mkdir -p "$OUT"
R=/tmp/fidelity; mkdir -p $R/pack
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__)"; nproc; } | tee $R/pack/machine.txt
# the JSON and the log go straight to $OUT: they come back even if the call runs out of time
python3 -m motionlab.fidelity run --device cuda --epochs 1000 --budget-seconds "$budget" \
  --out $R/runs --json "$OUT/FIDELITY.json" 2>&1 | tee "$OUT/fidelity.log"
cp "$OUT/FIDELITY.json" "$OUT/fidelity.log" $R/pack/
python3 - <<'PY' 2>&1
import json, shutil
from pathlib import Path
from motionlab.formats.checkpoints import release_copy
R = Path("/tmp/fidelity")
d = json.loads((R / "pack/FIDELITY.json").read_text())
s = d.get("shipped") or min((r for r in d["rows"] if d["runs"][r["run"]]["seed"] == 42), key=lambda r: r["score"])
run = d["runs"][s["run"]]
release_copy(run["last"], R / "pack/best_fidelity.pt", ema_only=s["weights"] == "ema", raw_only=s["weights"] == "raw")
for name, r in d["runs"].items():
    shutil.copyfile(Path(r["last"]).with_name("metrics.jsonl"), R / f"pack/{name}.metrics.jsonl")
print("packed", s["run"], s["weights"])
PY
rm -f "$OUT"/pack.tar.part_*
tar cf - -C $R pack | split -b 15M - "$OUT/pack.tar.part_"
ls -la "$OUT"
