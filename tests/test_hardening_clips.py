"""Hardening: a corpus of malformed clip files through every CLI that takes a clip.

Every bad file must end in exit code 2 with exactly one stderr line
`prog: error: <path>: <problem>` and no traceback; the few valid-but-odd files
(non-ASCII joint names, a UTF-8 byte-order mark) must train and evaluate.

Most cases run the real `main()` in-process through `run_main` (what `python -m` does);
a representative subset runs as real subprocesses, started in parallel to stay cheap.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, TINY_MODEL_FLAGS
from motionlab import ClipError
from motionlab import evaluate as evaluate_mod
from motionlab import sample as sample_mod
from motionlab import train as train_mod
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.cli import run_main
from motionlab.data.clip import MAX_FILE_BYTES, MAX_FRAMES, load_clip, loads_clip

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


def _write_corpus(folder) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (data, _) in CORPUS.items():
        p = folder / f"{name}.json"
        p.write_bytes(data)
        paths[name] = p
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_clips")
    paths = _write_corpus(d)
    # larger than MAX_FILE_BYTES without using the disk: a sparse file, refused before it is read
    big = d / "oversized.json"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    paths["oversized"] = big
    (d / "a_directory.json").mkdir()
    paths["a_directory"] = d / "a_directory.json"
    paths["missing"] = d / "does_not_exist.json"
    return paths


EXTRA = {"oversized": r"MB exceeds the 50 MB limit", "a_directory": r"no such clip file",
         "missing": r"no such clip file"}
ALL_CASES = sorted(CORPUS) + sorted(EXTRA)


# --data also takes a folder of clips (motionlab.data.clipset): to the CLIs an empty one is an empty dataset
CLI_EXTRA = {"a_directory": r"the folder holds no \*\.json clip files"}


def _expected(name, cli: bool = False) -> str:
    if cli and name in CLI_EXTRA:
        return CLI_EXTRA[name]
    return CORPUS[name][1] if name in CORPUS else EXTRA[name]


def _train_argv(data, out):
    return ["--data", str(data), "--window", str(WINDOW), "--stride", "8", "--limit", "4", "--epochs", "1",
            "--timesteps", "10", "--no-progress", "--out", str(out), *TINY_MODEL_FLAGS]


def _eval_argv(data):
    return ["--dataset-only", "--data", str(data), "--window", str(WINDOW), "--stride", "8", "--limit", "4",
            "--json"]


def _assert_one_line_error(rc, err, prog, path, pattern):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    head = f"{prog}: error: {path}: "
    assert lines[0].startswith(head), lines[0]
    import re
    assert re.search(pattern, lines[0][len(head):]), lines[0]
    assert len(lines[0]) < 400


@pytest.mark.parametrize("name", ALL_CASES)
def test_loader_refuses_with_one_line_clip_error(corpus, name):
    with pytest.raises(ClipError) as e:
        load_clip(corpus[name], min_frames=WINDOW)
    msg = str(e.value)
    assert "\n" not in msg
    import re
    assert re.search(_expected(name), msg), msg


@pytest.mark.parametrize("name", ALL_CASES)
def test_train_cli_in_process(corpus, name, tmp_path, capsys):
    out = tmp_path / "run"
    rc = run_main("motionlab.train", train_mod.main, _train_argv(corpus[name], out))
    cap = capsys.readouterr()
    _assert_one_line_error(rc, cap.err, "motionlab.train", corpus[name], _expected(name, cli=True))
    assert cap.out == ""
    assert not list(out.glob("*.pt")), "nothing may be trained on a bad clip"


@pytest.mark.parametrize("name", ALL_CASES)
def test_evaluate_dataset_only_in_process(corpus, name, capsys):
    rc = run_main("motionlab.evaluate", evaluate_mod.main, _eval_argv(corpus[name]))
    cap = capsys.readouterr()
    _assert_one_line_error(rc, cap.err, "motionlab.evaluate", corpus[name], _expected(name, cli=True))
    assert cap.out == ""


def _env():
    # one OpenMP thread: these runs only reach the error path, and 7 of them share 2 cores
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("PYTHONSTARTUP", None)
    return env


SUBPROCESS_TRAIN = ["empty", "nan", "nested_lists_100k", "frames_50000"]
SUBPROCESS_EVAL = ["utf16", "duplicate_keys", "oversized"]


@pytest.mark.slow
def test_real_subprocesses_exit_2_with_one_line(corpus, tmp_path):
    """`python -m motionlab.train/evaluate` on a representative subset, all started at once."""
    procs = []
    for name in SUBPROCESS_TRAIN:
        argv = [sys.executable, "-m", "motionlab.train", *_train_argv(corpus[name], tmp_path / name)]
        procs.append(("motionlab.train", name, subprocess.Popen(argv, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                                                                  stderr=subprocess.PIPE, text=True)))
    for name in SUBPROCESS_EVAL:
        argv = [sys.executable, "-m", "motionlab.evaluate", *_eval_argv(corpus[name])]
        procs.append(("motionlab.evaluate", name, subprocess.Popen(argv, cwd=REPO, env=_env(),
                                                                     stdout=subprocess.PIPE,
                                                                     stderr=subprocess.PIPE, text=True)))
    for prog, name, p in procs:
        out, err = p.communicate(timeout=120)
        _assert_one_line_error(p.returncode, err, prog, corpus[name], _expected(name, cli=True))
        assert out == "", (name, out)


# ---- odd but valid -------------------------------------------------------------------------------

VALID = {
    # joint names in any script are names: valid when the file is otherwise well-formed
    "non_ascii_names": json.dumps(_clip(joints=("h\u00fcfte", "\u624b\u9996", "\u043b\u043e\u043a\u043e\u0442\u044c",
                                                "\U0001f57a")), ensure_ascii=False).encode("utf-8"),
    "escaped_non_ascii_names": json.dumps(_clip(joints=("h\u00fcfte", "\u624b"))).encode(),
    "utf8_bom": b"\xef\xbb\xbf" + _js(_clip()),
    "integer_and_negative_coordinates": _js({"a": [[i, -i] for i in range(20)], "b": [[0, 0]] * 20}),
    "exactly_window_frames": _js(_clip(frames=WINDOW)),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_odd_but_valid_files_load(tmp_path, name):
    p = tmp_path / f"{name}.json"
    p.write_bytes(VALID[name])
    clip = load_clip(p, min_frames=WINDOW)
    assert clip.num_frames >= WINDOW and np.isfinite(clip.xy).all()


def test_non_ascii_joint_names_survive_train_sample_and_reload(tmp_path, capsys):
    p = tmp_path / "names.json"
    p.write_bytes(VALID["non_ascii_names"])
    names = tuple(sorted(json.loads(VALID["non_ascii_names"])))
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, _train_argv(p, out)) == 0
    assert run_main("motionlab.evaluate", evaluate_mod.main, _eval_argv(p)) == 0
    ck = read_checkpoint(out / "best.pt")
    assert tuple(ck["joints"]) == names
    assert run_main("motionlab.sample", sample_mod.main,
                    ["--checkpoint", str(out / "best.pt"), "--num-samples", "2", "--out", str(tmp_path / "s")]) == 0
    back = load_clip(tmp_path / "s" / "sample_01.json")
    assert back.joints == names and back.num_frames == WINDOW
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" not in err


def test_bom_clip_trains(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(VALID["utf8_bom"])
    assert run_main("motionlab.train", train_mod.main, _train_argv(p, tmp_path / "run")) == 0
    assert (tmp_path / "run" / "best.pt").is_file()


def test_loads_clip_text_and_bytes_agree_on_the_corpus():
    """The upload path (bytes) and the text path give the same verdict."""
    for name, (data, pattern) in CORPUS.items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        for arg in (data, text):
            try:
                loads_clip(arg, min_frames=WINDOW)
            except ClipError:
                continue
            pytest.fail(f"{name} loaded from {type(arg).__name__}")
