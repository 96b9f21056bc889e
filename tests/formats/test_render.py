"""Rasterized skeletons and GIF / MP4 encoding; the palette drawing path (one P image per grid frame, drawn once
for GIF and MP4) shows what the per-tile RGB drawing showed, but for the titles' antialiasing in 15 steps (<= 9 levels)."""
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from motionlab.data.clip import Clip
from motionlab.data.demo import demo_clip
from motionlab.data.skeleton import bones_for, side
from motionlab.formats import render
from motionlab.lab import exports
from motionlab.formats.render import (BACKGROUND, COLORS, clip_bounds, encode_video, render_clip, render_grid, video_bytes,
                              write_video)


@pytest.fixture(scope="module")
def short():
    return demo_clip(frames=6)


def test_render_clip_shape_and_content(short):
    frames = render_clip(short, size=64)
    assert frames.shape == (6, 64, 64, 3) and frames.dtype == np.uint8
    for f in frames:
        ink = (f != np.array(BACKGROUND, np.uint8)).any(-1)
        assert 0.01 < ink.mean() < 0.5                      # a figure is drawn, most of the frame is background
    colors = {tuple(c) for c in frames[0].reshape(-1, 3)}
    assert COLORS["left"] in colors and COLORS["right"] in colors
    assert not np.array_equal(frames[0], frames[-1])         # the dancer moves


def test_left_side_is_drawn_where_the_left_joints_are():
    xy = np.array([[[10.0, 50.0], [90.0, 50.0]]], np.float32)  # left_hand at x=10, right_hand at x=90
    frames = render_clip(Clip(("left_hand", "right_hand"), xy), size=100, bounds=(0, 0, 100, 100))
    f = frames[0]
    assert tuple(f[50, 10]) == COLORS["left"] and tuple(f[50, 90]) == COLORS["right"]


def test_clip_bounds_are_square_and_contain_the_clip(short):
    x0, y0, x1, y1 = clip_bounds([short])
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert x0 < short.xy[..., 0].min() and x1 > short.xy[..., 0].max()
    assert y0 < short.xy[..., 1].min() and y1 > short.xy[..., 1].max()


def test_nan_joints_are_skipped():
    xy = demo_clip(frames=3).xy.copy()
    xy[1, :5] = np.nan
    frames = render_clip(Clip(demo_clip(frames=3).joints, xy), size=32)
    assert frames.shape == (3, 32, 32, 3)
    all_nan = Clip(("a",), np.full((2, 1, 2), np.nan, np.float32))
    assert clip_bounds([all_nan]) == (0.0, 0.0, 512.0, 512.0)
    assert render_clip(all_nan, size=16).shape == (2, 16, 16, 3)


def test_render_grid_layout_and_holding_the_last_frame(short):
    long = demo_clip(frames=9)
    grid = render_grid([short, long, short], size=32, cols=2, titles=["a", "b", "c"])
    assert grid.shape == (9, 64, 64, 3)
    np.testing.assert_array_equal(grid[8, :32, :32], grid[5, :32, :32])   # 6-frame tile holds frame 5
    assert not np.array_equal(grid[8, :32, 32:], grid[5, :32, 32:])       # 9-frame tile keeps moving
    assert (grid[:, 32:, 32:] == 255).all()                               # the 4th cell is blank
    assert render_grid([short] * 5, size=16).shape == (6, 32, 64, 3)      # 4 columns by default
    with pytest.raises(ValueError):
        render_grid([])


def test_gif_bytes(short):
    frames = render_clip(short, size=64)
    data = encode_video(frames, "gif", fps=10)
    assert data[:6] == b"GIF89a"
    import io
    im = Image.open(io.BytesIO(data))
    assert im.size == (64, 64) and im.n_frames == 6
    assert im.info["duration"] == 100


def test_mp4_bytes(short):
    data = encode_video(render_clip(short, size=64), "mp4", fps=10)
    assert data[4:8] == b"ftyp" and len(data) > 500


def test_unknown_format(short):
    with pytest.raises(ValueError, match="unknown video format"):
        encode_video(render_clip(short, size=16), "avi")


def test_write_video_picks_the_format_from_the_suffix(short, tmp_path):
    write_video(tmp_path / "a.gif", [short], fps=10, size=32)
    write_video(tmp_path / "b.MP4", [short, short], fps=10, size=32)
    assert (tmp_path / "a.gif").read_bytes()[:6] == b"GIF89a"
    assert (tmp_path / "b.MP4").read_bytes()[4:8] == b"ftyp"
    assert video_bytes([short], "gif", size=16)[:6] == b"GIF89a"


# -- the palette drawing path shows what the per-tile RGB drawing showed ------------------------------

def drawing_before(clip, size, bounds, title):
    """render_clip as it was before the palette path (per tile, RGB, isfinite per bone)."""
    x0, y0, x1, y1 = bounds
    scale = (size - 1) / max(x1 - x0, y1 - y0)
    pts = (clip.xy - np.array([x0, y0], np.float32)) * scale
    r, width = max(1.5, size / 128), max(2, size // 96)
    out = np.empty((clip.num_frames, size, size, 3), np.uint8)
    for t in range(clip.num_frames):
        im = Image.new("RGB", (size, size), render.BACKGROUND)
        d, p = ImageDraw.Draw(im), pts[t]
        for a, b, s in bones_for(clip.joints):
            if np.isfinite(p[[a, b]]).all():
                d.line([tuple(p[a]), tuple(p[b])], fill=render.COLORS[s], width=width)
        for j, (x, y) in enumerate(p):
            if np.isfinite(x) and np.isfinite(y):
                d.ellipse([x - r, y - r, x + r, y + r], fill=render.COLORS[side(clip.joints[j])])
        if title:
            d.text((4, 2), title, fill=(0, 0, 0))
        out[t] = np.asarray(im)
    return out


@pytest.fixture
def clips():
    a, b = demo_clip(frames=8), demo_clip(frames=5, seed=3)
    xy = b.xy.copy()
    xy[2, :4] = np.nan  # some joints missing in one frame
    return [a, Clip(b.joints, xy)]


@pytest.fixture(autouse=True)
def empty_cache():
    render.forget()
    yield
    render.forget()


def test_grid_shows_what_the_drawing_before_showed(clips):
    size, titles = 96, ["sample #0", "sample #1"]
    grid = render.render_grid(clips, size=size, titles=titles)
    bounds = render.clip_bounds(clips)
    for i, c in enumerate(clips):
        before = drawing_before(c, size, bounds, titles[i])
        tile = grid[:, :, i * size:(i + 1) * size]
        held = np.minimum(np.arange(len(grid)), c.num_frames - 1)  # shorter clips hold their last frame
        diff = np.abs(tile.astype(int) - before[held].astype(int)).max(-1)
        title_box = np.zeros(diff.shape[1:], bool)
        title_box[:16, :80] = True
        assert (diff[:, ~title_box] == 0).all()          # figures: the same pixels
        assert diff.max() <= 9                           # titles: alpha in 15 steps, also over a figure


def test_gif_holds_the_drawn_frames_exactly(clips):
    frames = render.draw_grid(clips, size=64, titles=["a", "b"])
    gif = Image.open(io.BytesIO(render.encode_video(frames, "gif", fps=10)))
    got = []
    for k in range(gif.n_frames):
        gif.seek(k)
        got.append(np.asarray(gif.convert("RGB")))
    # Pillow merges identical consecutive frames; the held tile makes none here
    np.testing.assert_array_equal(np.stack(got), frames.rgb())


def test_frames_are_drawn_once_for_gif_and_mp4(clips, monkeypatch):
    drawn = []
    draw = render.draw_grid
    monkeypatch.setattr(render, "draw_grid", lambda *a, **k: drawn.append(1) or draw(*a, **k))
    gif = exports.video(clips, "gif", ["a", "b"])
    mp4 = exports.video(clips, "mp4", ["a", "b"])
    assert gif[:6] == b"GIF89a" and mp4[4:8] == b"ftyp" and len(drawn) == 1
    exports.video([clips[0], Clip(clips[1].joints, clips[1].xy + 1)], "gif", ["a", "b"])  # other clips: drawn
    exports.video(clips, "gif", ["a", "c"])                                               # other titles: drawn
    assert len(drawn) == 3


def test_export_of_nan_joints_works(clips):
    nan = Clip(clips[0].joints, np.full((4, len(clips[0].joints), 2), np.nan, np.float32))
    for fmt, magic in (("gif", b"GIF89a"), ("mp4", b"ftyp")):
        data = exports.video([clips[1], nan], fmt, ["partly", "all NaN"])
        assert magic in data[:8]
    grid = render.render_grid(clips, size=64)
    ink = (grid[:, :, 64:] != 255).any(-1).sum((1, 2))
    assert 0 < ink[2] < ink[1]  # the frame with missing joints draws fewer pixels, not nothing


def test_any_rgb_frames_get_one_palette(clips):
    rgb = render.render_grid(clips, size=48)
    rgb[:, :4, :4] = (10, 200, 30)  # a colour the skeleton palette lacks
    gif = Image.open(io.BytesIO(render.encode_video(rgb, "gif", fps=10)))
    gif.seek(3)
    assert np.abs(np.asarray(gif.convert("RGB")).astype(int) - rgb[3]).max() <= 8
