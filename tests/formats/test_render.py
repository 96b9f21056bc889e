"""Rasterized skeletons and GIF / MP4 encoding."""
import numpy as np
import pytest
from PIL import Image

from motionlab.data.clip import Clip
from motionlab.data.demo import demo_clip
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
