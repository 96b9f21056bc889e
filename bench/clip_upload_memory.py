"""Peak memory and time of a clip upload (the lab's upload path, motionlab.lab.uploads.accept_upload); prints JSON.

    python bench/clip_upload_memory.py                  # this checkout
    python bench/clip_upload_memory.py --before HEAD~1  # also the same files through REV's motionlab/

Files (written to a temp folder, each under the 50 MB upload limit):
  single_joint_50mb   {"a": [[1, 2], ...]}: ~8.7M frames of one joint, refused (limit 20000 frames)
  many_joints_50mb    300 joints of ~29k frames each, refused (limits 256 joints, 20000 frames)
  wide_frame_50mb     one joint whose one frame is a list of ~26M numbers, refused
  largest_valid       256 joints x 20000 frames of small integers (~31 MB), accepted
  real_clip           data/uptown_funk.json when present (~0.7 MB), accepted

Each file runs in a fresh process that first holds the file's bytes (as Streamlit holds an upload),
then calls accept_upload: peak_mb is VmHWM minus VmRSS before the call, seconds is the call's wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 50 * 2**20 - 1024

CHILD = r"""
import json, sys, time
from pathlib import Path

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
data = Path(sys.argv[1]).read_bytes()
from motionlab.lab import uploads
before = status("VmRSS")
t = time.perf_counter()
state = {}
err = uploads.accept_upload(state, "upload.json", "id", len(data), lambda: data, 50 * 2**20)
dt = time.perf_counter() - t
print(json.dumps({"peak_mb": round((status("VmHWM") - before) / 2**20, 1), "seconds": round(dt, 2),
                  "accepted": not err, "error": err[:160]}))
"""


def _write(folder: Path) -> dict[str, Path]:
    out = {}

    def repeat(name, head: bytes, item: bytes, sep: bytes, tail: bytes, n: int | None = None):
        n = n if n is not None else (LIMIT - len(head) - len(tail)) // (len(item) + len(sep))
        p = folder / f"{name}.json"
        with open(p, "wb") as f:
            f.write(head)
            chunk = (item + sep) * 10000
            for _ in range(n // 10000):
                f.write(chunk)
            f.write((item + sep) * (n % 10000 - 1) + item + tail)
        out[name] = p

    repeat("single_joint_50mb", b'{"a": [', b"[1,2]", b",", b"]}")
    per = (LIMIT // 300 - 12) // 6
    p = folder / "many_joints_50mb.json"
    body = ",".join(f'"j{i}":[' + ",".join(["[1,2]"] * per) + "]" for i in range(300))
    p.write_text("{" + body + "}")
    out["many_joints_50mb"] = p
    repeat("wide_frame_50mb", b'{"a": [[', b"1", b",", b"]]}")
    p = folder / "largest_valid.json"
    frames = ",".join(["[1,2]"] * 20000)
    p.write_text("{" + ",".join(f'"j{i:03d}":[{frames}]' for i in range(256)) + "}")
    out["largest_valid"] = p
    real = ROOT / "data" / "uptown_funk.json"
    if real.is_file():
        out["real_clip"] = real
    return out


def _run(code_root: Path, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=code_root, env=env, capture_output=True,
                       text=True, timeout=600)
    if r.returncode:
        return {"failed": r.stderr.strip().splitlines()[-1:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="", help="a git revision: also run its motionlab/ on the same files")
    a = ap.parse_args()
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = _write(tmp)
        roots = {"after": ROOT}
        if a.before:
            old = tmp / "before"
            old.mkdir()
            # only the package: the temp copy sees its own motionlab, nothing else of the checkout
            tar = subprocess.run(["git", "archive", a.before, "motionlab"], cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "x", "-C", str(old)], input=tar.stdout, check=True)
            roots = {"before": old, **roots}
        for name, path in files.items():
            res[name] = {"file_mb": round(path.stat().st_size / 2**20, 1),
                         **{k: _run(root, path) for k, root in roots.items()}}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
