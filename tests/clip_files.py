"""Clip files the tests write, shared by the tests of several packages (like pose_files.py for pose files).

- CORPUS: malformed clip files, each with the regex its one error line must match (`expected(name)`), and
  VALID: odd but valid ones; conftest's `corpus` fixture writes them. data/test_clip.py feeds them to the
  loader, tools/ to every command-line tool that takes a clip.
- three_clips(tmp_path): three clip files of different lengths for datasets of several clips, and
  three_clip_dataset(tmp_path, **data_config) the loaded clips and their MotionSequenceDataset.
"""
from __future__ import annotations

import json

import numpy as np

from conftest import REAL_CLIP, TINY_MODEL_FLAGS
from motionlab.data.clip import MAX_FRAMES, Clip, load_clip, save_clip
from motionlab.data.clipset import load_clip_set
from motionlab.data.dataset import DataConfig, MotionSequenceDataset
from motionlab.data.demo import demo_clip


# ---- malformed and odd clip files ----------------------------------------------------------------------

WINDOW = 16


def _clip(frames=40, joints=("a", "b"), seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(50, 450, (frames, 2)).round(2).tolist() for n in joints}


def _js(obj) -> bytes:
    return json.dumps(obj).encode()


def _good_text() -> str:
    return json.dumps(_clip())


# name -> (file bytes, regex the one error line must match after "<path>: ")
CORPUS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", r"the file is empty"),
    "whitespace": (b" \n\t\n", r"the file is empty"),
    "not_json": (b"hello, world", r"not valid JSON"),
    "python_literal": (b"{'a': [(1, 2)]}", r"not valid JSON"),
    "cut_in_half": (_good_text()[: len(_good_text()) // 2].encode(), r"not valid JSON"),
    "trailing_garbage": (_good_text().encode() + b" }", r"not valid JSON"),
    "nul_bytes": (b"\0" * 64, r"not valid JSON"),
    "top_level_list": (_js([[1, 2], [3, 4]]), r"expected a JSON object .* got list"),
    "top_level_null": (b"null", r"expected a JSON object .* got NoneType"),
    "top_level_string": (b'"a clip"', r"expected a JSON object .* got str"),
    "no_joints": (b"{}", r"the clip has no joints"),
    "joint_is_number": (_js({"a": 5}), r"joint 'a' must map to a list"),
    "zero_frames": (_js({"a": [], "b": []}), r"0 frames"),
    "unequal_lengths": (_js({"a": [[1, 2]] * 20, "b": [[1, 2]] * 19}), r"unequal lengths"),
    "nan": (b'{"a": [[NaN, 1.0]]}', r"NaN, which is not a finite number"),
    "infinity": (b'{"a": [[1.0, Infinity]]}', r"Infinity, which is not a finite number"),
    "minus_infinity": (b'{"a": [[-Infinity, 1.0]]}', r"-Infinity, which is not a finite number"),
    "null_coordinate": (_js({"a": [[None, 1]]}), r"coordinate null is not a number"),
    "string_coordinate": (_js({"a": [["12", 1]]}), r"coordinate \"12\" is not a number"),
    "bool_coordinate": (_js({"a": [[True, 1]]}), r"coordinate true is not a number"),
    "triple": (_js({"a": [[1, 2, 3]]}), r"expected an \[x, y\] pair"),
    "single": (_js({"a": [[1]]}), r"expected an \[x, y\] pair"),
    "frame_is_object": (_js({"a": [{"x": 1, "y": 2}]}), r"expected an \[x, y\] pair"),
    "extra_nesting": (_js({"a": [[[1, 2], [3, 4]]]}), r"coordinate \[1, 2\] is not a number"),
    "huge_float": (_js({"a": [[1e300, 1]]}), r"not a finite pixel value"),
    "float_overflow_literal": (b'{"a": [[1e999, 1]]}', r"not a finite pixel value"),
    "huge_int_400_digits": (('{"a": [[' + "9" * 400 + ", 1]]}").encode(), r"not a finite pixel value"),
    "huge_int_5000_digits": (('{"a": [[' + "9" * 5000 + ", 1]]}").encode(), r"not valid JSON"),
    "one_frame": (_js(_clip(frames=1)), rf"1 frames is shorter than the window of {WINDOW}"),
    "shorter_than_window": (_js(_clip(frames=WINDOW - 1)), rf"{WINDOW - 1} frames is shorter than the window"),
    "frames_50000": (_js({"a": [[1, 2]] * 50_000}), rf"50000 frames exceeds the limit of {MAX_FRAMES} frames"),
    "too_many_joints": (_js({f"j{i}": [[1, 2]] for i in range(300)}), r"300 joints exceeds the limit of 256"),
    "duplicate_keys": (b'{"a": [[1, 2]], "b": [[1, 2]], "a": [[3, 4]]}', r"duplicate joint name 'a'"),
    "nested_lists_100k": (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply"),
    "nested_objects_100k": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, r"nested too deeply"),
    "empty_joint_name": (_js({"": [[1, 2]]}), r"joint names must be non-empty strings"),
    "blank_joint_name": (_js({"   ": [[1, 2]]}), r"joint names must be non-empty strings"),
    "control_char_name": (_js({"a\u0000b": [[1, 2]]}), r"must be printable Unicode text"),
    "newline_name": (_js({"left\nhand": [[1, 2]]}), r"must be printable Unicode text"),
    "lone_surrogate_name": (b'{"\\ud800": [[1, 2]]}', r"must be printable Unicode text"),
    "very_long_name": (_js({"x" * 5000: [[1, 2]]}), r"at most 200 characters"),
    "binary": (bytes(range(256)) * 16, r"not UTF-8 text"),
    "random_bytes": (np.random.default_rng(7).bytes(4096), r"not UTF-8 text"),
    "utf16": (json.dumps(_clip(frames=20)).encode("utf-16"), r"not UTF-8 text"),
    "latin1_name": (json.dumps({"h\u00fcfte": [[1, 2]]}, ensure_ascii=False).encode("latin-1"), r"not UTF-8 text"),
    "gzip_magic": (b"\x1f\x8b\x08\x00" + bytes(60), r"not UTF-8 text"),
}


def write_corpus(folder) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (data, _) in CORPUS.items():
        p = folder / f"{name}.json"
        p.write_bytes(data)
        paths[name] = p
    return paths


EXTRA = {"oversized": r"MB exceeds the 50 MB limit", "a_directory": r"no such clip file",
         "missing": r"no such clip file"}


ALL_CASES = sorted(CORPUS) + sorted(EXTRA)


# --data also takes a folder of clips (motionlab.data.clipset): to the CLIs an empty one is an empty dataset
CLI_EXTRA = {"a_directory": r"the folder holds no \*\.json clip files"}


def expected(name, cli: bool = False) -> str:
    if cli and name in CLI_EXTRA:
        return CLI_EXTRA[name]
    return CORPUS[name][1] if name in CORPUS else EXTRA[name]


def train_argv(data, out):
    return ["--data", str(data), "--window", str(WINDOW), "--stride", "8", "--limit", "4", "--epochs", "1",
            "--timesteps", "10", "--no-progress", "--out", str(out), *TINY_MODEL_FLAGS]


def eval_argv(data):
    return ["--dataset-only", "--data", str(data), "--window", str(WINDOW), "--stride", "8", "--limit", "4",
            "--json"]


VALID = {
    # joint names in any script are names: valid when the file is otherwise well-formed
    "non_ascii_names": json.dumps(_clip(joints=("h\u00fcfte", "\u624b\u9996", "\u043b\u043e\u043a\u043e\u0442\u044c",
                                                "\U0001f57a")), ensure_ascii=False).encode("utf-8"),
    "escaped_non_ascii_names": json.dumps(_clip(joints=("h\u00fcfte", "\u624b"))).encode(),
    "utf8_bom": b"\xef\xbb\xbf" + _js(_clip()),
    "integer_and_negative_coordinates": _js({"a": [[i, -i] for i in range(20)], "b": [[0, 0]] * 20}),
    "exactly_window_frames": _js(_clip(frames=WINDOW)),
}


# ---- datasets of several clips -------------------------------------------------------------------------

def three_clips(tmp_path):
    """Three clip files the test makes: the demo dancer at two tempos and a segment of the real clip
    (a third tempo when the real clip is absent). Frame counts differ on purpose."""
    d = tmp_path / "clips"
    d.mkdir(exist_ok=True)
    save_clip(demo_clip(frames=120, bpm=100, seed=1), d / "a_demo100.json")
    if REAL_CLIP.is_file():
        real = load_clip(REAL_CLIP)
        save_clip(Clip(real.joints, real.xy[300:437]), d / "b_real300.json")
    else:
        save_clip(demo_clip(frames=137, bpm=140, seed=2), d / "b_demo140.json")
    save_clip(demo_clip(frames=90, bpm=125, seed=3), d / "c_demo125.json")
    return sorted(d.glob("*.json"))


def three_clip_dataset(tmp_path, **kw):
    clips = load_clip_set([str(p) for p in three_clips(tmp_path)])
    return clips, MotionSequenceDataset(clips, DataConfig(**{"window": 16, "stride": 8, "limit": 0, **kw}))
