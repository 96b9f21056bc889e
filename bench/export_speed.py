"""Seconds to make the lab's GIF and MP4 of 8 clips side by side (256 frames, 30 fps); prints JSON.

    python bench/export_speed.py [--clips 8] [--frames 256] [--repeat 3]

The clips are windows of the real clip (what a sample looks like, without a model). "gif_s"/"mp4_s"
time exports.video as the download buttons call it, GIF first and then MP4 as a user clicking both;
"mp4_first_s" is an MP4 with nothing drawn yet. "draw_s" and "encode_*_s" split a fresh export into
drawing and encoding (render.draw_grid where it exists, else render_grid as before). Medians of
--repeat rounds; each round starts with empty caches.
"""
import argparse
import json
import statistics
import time

import numpy as np

from motionlab.data.clip import Clip, load_clip
from motionlab.formats import render
from motionlab.lab import exports
from motionlab.paths import DATA


def clips_for(n: int, frames: int) -> list[Clip]:
    real = load_clip(DATA / "uptown_funk.json")
    starts = np.linspace(0, real.num_frames - frames, n).astype(int)
    return [Clip(real.joints, np.ascontiguousarray(real.xy[s:s + frames])) for s in starts]


def fresh():
    getattr(render, "forget", lambda: None)()  # the frame cache; absent before


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    clips = clips_for(a.clips, a.frames)
    titles = [f"long_10000 #{i}" for i in range(a.clips)]
    size = exports.tile_size(len(clips))
    draw = getattr(render, "draw_grid", render.render_grid)
    rows = {k: [] for k in ("gif_s", "mp4_s", "mp4_first_s", "draw_s", "encode_gif_s", "encode_mp4_s")}
    nbytes = {}
    for _ in range(a.repeat):
        fresh()
        s, gif = timed(lambda: exports.video(clips, "gif", titles))
        rows["gif_s"].append(s)
        s, mp4 = timed(lambda: exports.video(clips, "mp4", titles))
        rows["mp4_s"].append(s)
        nbytes = {"gif_bytes": len(gif), "mp4_bytes": len(mp4)}
        fresh()
        rows["mp4_first_s"].append(timed(lambda: exports.video(clips, "mp4", titles))[0])
        fresh()
        s, frames = timed(lambda: draw(clips, size=size, titles=titles))
        rows["draw_s"].append(s)
        for fmt in ("gif", "mp4"):
            rows[f"encode_{fmt}_s"].append(timed(lambda f=frames, fmt=fmt: render.encode_video(f, fmt, 30))[0])
    out = {"clips": a.clips, "frames": a.frames, "tile": size, "grid_px": [2 * size, 4 * size],
           **{k: round(statistics.median(v), 3) for k, v in rows.items()}, **nbytes,
           "all": {k: [round(x, 3) for x in v] for k, v in rows.items()}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
