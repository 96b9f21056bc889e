"""Turn a training run into a release folder checkpoints/<tag>/: fp16 weights, their sha256 record, metrics.jsonl, CARD.md.

    python scripts/make_release.py --src runs/x/best.pt --metrics runs/x/metrics.jsonl --tag x \
        --command "python -m motionlab.train ..." --machine "..." --wall-seconds 123
"""
import argparse
import shutil
from pathlib import Path

import torch

from motionlab.formats.checkpoints import release_copy
from motionlab.formats.integrity import recorded, sidecar

p = argparse.ArgumentParser()
p.add_argument("--src", required=True)
p.add_argument("--metrics", required=True)
p.add_argument("--tag", required=True)
p.add_argument("--command", required=True)
p.add_argument("--machine", required=True)
p.add_argument("--wall-seconds", type=float, required=True)
p.add_argument("--note", default="")
p.add_argument("--ema-only", action="store_true",
               help="ship only the EMA weights of an --ema-decay run (half the size); by default both are kept")
a = p.parse_args()
dst = Path("checkpoints") / a.tag
dst.mkdir(parents=True, exist_ok=True)
ck = release_copy(a.src, dst / "model.pt", ema_only=a.ema_only)  # also writes model.pt.sha256
shutil.copyfile(a.metrics, dst / "metrics.jsonl")
t, d = ck.train_config, ck.data_config
data = ", ".join(Path(x).name for x in ([d["data"]] if isinstance(d["data"], str) else d["data"]))
if len(ck.clips or []) > 1:  # a folder or manifest names several clips
    data += f" ({len(ck.clips)} clips, {sum(c['frames'] for c in ck.clips)} frames)"
sha = recorded(dst / "model.pt")[0]
ema = t.get("ema_decay") or 0
if ck.weights == "ema":
    weights = f"EMA of the weights (decay {ema:g}), " + ("raw weights kept beside it" if ck.ema_state is not None else "raw weights not kept")
else:
    weights = f"raw (the run's EMA, decay {ema:g}, not kept)" if ema else "raw (trained without --ema-decay)"
card = f"""# {a.tag}

| field | value |
| --- | --- |
| command | `{a.command}` |
| seed | {t['seed']} |
| data | {data}, window {d['window']} / stride {d['stride']} / limit {d['limit']} |
| epochs asked / weights shipped | {t['epochs']} / epoch {ck.epoch} (best mean epoch loss {ck.best_loss:.5f} at epoch {ck.best_epoch}) |
| wall time | {a.wall_seconds:.0f} s |
| machine | {a.machine} |
| release made on | CPU capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__} |
| sampling weights | {weights} |
| file | model.pt, fp16 weights, no optimizer state, {(dst / 'model.pt').stat().st_size / 2**20:.1f} MiB, sha256 {sha[:16]}… (in {sidecar(dst / 'model.pt').name}) |

{a.note}
"""
(dst / "CARD.md").write_text(card)
print(dst)
