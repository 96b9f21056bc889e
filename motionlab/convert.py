"""Convert 2D pose files (MediaPipe Pose JSON/CSV, COCO-17, OpenPose, MMPose) into a clip.

    python -m motionlab.convert landmarks.json --out data/mine.json
    python -m motionlab.convert landmarks.csv --size 1920x1080 --out data/mine.json
    python -m motionlab.convert openpose_json/ --out data/mine.json     # one OpenPose file per frame

The format and keypoint layout are detected; docs/POSE_FORMATS.md lists both and the joint mapping.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from motionlab.cli import run_main
from motionlab.errors import PoseFileError
from motionlab.data.clip import save_clip
from motionlab.formats.poseformats import MAX_POSE_FILE_BYTES, convert_files, parse_size


def _inputs(paths: list[str]) -> list[Path]:
    """Files as given; a folder stands for its *.json and *.csv files in name order."""
    out = []
    for s in paths:
        p = Path(s)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in (".json", ".csv"))
            if not found:
                raise PoseFileError(f"{p}: no .json or .csv files in this folder")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise PoseFileError(f"{p}: no such file or folder")
    return out


def _read(p: Path) -> bytes:
    size = p.stat().st_size
    if size > MAX_POSE_FILE_BYTES:
        raise PoseFileError(f"{p}: {size / 2**20:.1f} MB exceeds the {MAX_POSE_FILE_BYTES // 2**20} MB limit "
                            f"for pose files")
    return p.read_bytes()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.convert", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("inputs", nargs="+", help="pose file(s), or a folder of per-frame files (name order)")
    p.add_argument("--out", required=True, help="the clip JSON to write")
    p.add_argument("--size", default=None,
                   help="frame size WIDTHxHEIGHT: the coordinates are normalized (0..1) and are scaled by it")
    p.add_argument("--min-confidence", type=float, default=0.3,
                   help="detections below this visibility/score count as missing (default 0.3)")
    p.add_argument("--max-gap", type=int, default=10,
                   help="longest run of missing frames per joint filled by interpolation (default 10)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    a = p.parse_args(argv)
    size = parse_size(a.size) if a.size is not None else None
    out = Path(a.out)
    if out.exists() and not a.force:
        raise PoseFileError(f"{out} exists; pass --force to overwrite it")
    files = [(str(f), _read(f)) for f in _inputs(a.inputs)]
    clip, report = convert_files(files, size=size, min_confidence=a.min_confidence, max_gap=a.max_gap)
    save_clip(clip, out)
    if not a.quiet:
        for line in report.lines():
            print(line)
        print(f"wrote {out}: {clip.num_frames} frames, {len(clip.joints)} joints")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.convert", main))
