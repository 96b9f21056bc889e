"""Draws assets/icon.png, the lab's browser-tab icon: one frame of the procedural dancer, drawn by the
exporter. A local file, because a :material/...: page icon makes every browser fetch it from Google.

    python scripts/make_icon.py
"""
from pathlib import Path

import numpy as np
from PIL import Image

from motionlab.data.demo import demo_clip
from motionlab.formats.render import render_clip

OUT = Path(__file__).resolve().parents[1] / "assets" / "icon.png"

if __name__ == "__main__":
    clip = demo_clip(frames=32)
    rgb = render_clip(clip, size=128)[12]
    Image.fromarray(np.ascontiguousarray(rgb)).resize((64, 64), Image.LANCZOS).save(OUT, optimize=True)
    print(OUT)
