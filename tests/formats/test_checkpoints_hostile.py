"""Hardening: hostile and broken checkpoints (bad sample arguments: tools/test_sample.py).

Every bad file is refused with a one-line CheckpointError by read_checkpoint and load_model,
with exit code 2 and one stderr line by `motionlab.sample` / `motionlab.evaluate --checkpoints`,
and listed as broken (never raising) by list_checkpoints. Pickles that would run code are
refused without running it: the file they would create never appears.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from conftest import REPO, assert_cli_error, tiny_model_config
from motionlab import CheckpointError
from motionlab import evaluate as evaluate_mod
from motionlab import sample as sample_mod
from motionlab.formats.checkpoints import REQUIRED, list_checkpoints, load_model, read_checkpoint, summarize
from motionlab.cli import run_main
from motionlab.core.model import PositionalUNet1D

# ---- hostile pickles ---------------------------------------------------------------------------------

MARKER_NAME = "PWNED"


class OpenForWrite:
    """Unpickling calls open(path, 'w'): creates the file."""
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


class ShellTouch:
    path = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class EvalOpen:
    path = ""

    def __reduce__(self):
        return (eval, (f"open({self.path!r}, 'w')",))


class PopenTouch:
    path = ""

    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.path],))


def _evil(cls, marker):
    obj = cls()
    obj.path = str(marker)
    return obj


def _hostile_files(folder, good_bytes: bytes, marker) -> dict:
    """name -> path of files whose unpickling would create `marker`."""
    out = {}

    def put(name, data: bytes):
        p = folder / f"{name}.pt"
        p.write_bytes(data)
        out[name] = p

    for cls in (OpenForWrite, ShellTouch, EvalOpen, PopenTouch):
        # a torch zip checkpoint with the payload inside a plausible dict
        buf = io.BytesIO()
        torch.save({"format": "motionlab-checkpoint", "version": 1, "x": _evil(cls, marker)}, buf)
        put(f"torch_{cls.__name__}", buf.getvalue())
        # the legacy (non-zip) format: a bare pickle, protocols 2 and 4
        for proto in (2, 4):
            put(f"pickle{proto}_{cls.__name__}", pickle.dumps(_evil(cls, marker), protocol=proto))
    # a real motionlab checkpoint whose data.pkl was swapped for an evil one: same zip layout
    src = zipfile.ZipFile(io.BytesIO(good_bytes))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                data = pickle.dumps(_evil(OpenForWrite, marker), protocol=2)
            z.writestr(info, data)
    put("swapped_data_pkl", buf.getvalue())
    return out


@pytest.fixture()
def hostile(tmp_path, tiny_checkpoint):
    marker = tmp_path / MARKER_NAME
    files = _hostile_files(tmp_path, tiny_checkpoint.read_bytes(), marker)
    return files, marker


def test_the_payloads_really_are_hostile(tmp_path):
    """Guard against a vacuous test: unpickled unsafely, a payload does create the file."""
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(_evil(OpenForWrite, marker))).close()
    assert marker.exists()


def test_hostile_pickles_are_refused_and_never_run(hostile, tmp_path, capsys):
    files, marker = hostile
    assert len(files) >= 12
    for name, p in files.items():
        with pytest.raises(CheckpointError, match="refused to load|not a readable checkpoint") as e:
            read_checkpoint(p)
        _assert_one_line(str(e.value), p)
        with pytest.raises(CheckpointError):
            load_model(p)
        assert not summarize(p)["ok"]
        rc = run_main("motionlab.sample", sample_mod.main,
                      ["--checkpoint", str(p), "--num-samples", "1", "--out", str(tmp_path / "s")])
        assert_cli_error(rc, capsys.readouterr().err, "motionlab.sample", p)
        assert not marker.exists(), f"{name} ran its payload"
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())
    # the refusal names the reason, not torch's advice to load the file unsafely
    msg = str(pytest.raises(CheckpointError, read_checkpoint, files["torch_OpenForWrite"]).value)
    assert "weights_only" not in msg and "\x1b" not in msg and "GLOBAL" in msg


# ---- broken files ------------------------------------------------------------------------------------

def _edited(good, folder, name, edit):
    ck = torch.load(good, map_location="cpu", weights_only=True)
    edit(ck)
    p = folder / f"{name}.pt"
    torch.save(ck, p)
    return p


def _set(**kw):
    return lambda ck: ck.update(kw)


def _pop(key):
    return lambda ck: ck.pop(key)


def _mcfg(**kw):
    return lambda ck: ck.update(model_config={**ck["model_config"], **kw})


def _state(fn):
    return lambda ck: ck.update(model_state=fn(ck["model_state"]))


# name -> (edit of a real checkpoint dict, regex of the message)
EDITS = {
    "version_2": (_set(version=2), r"version 2 is not supported"),
    "version_0": (_set(version=0), r"version 0 is not supported"),
    "version_str": (_set(version="1"), r"version '1' is not supported"),
    "no_marker": (_pop("format"), r"not a motionlab checkpoint"),
    "other_marker": (_set(format="diffusers"), r"not a motionlab checkpoint"),
    **{f"missing_{k}": (_pop(k), rf"missing {k}") for k in REQUIRED if k not in ("format", "version")},
    "channels_model_38": (_mcfg(in_channels=38), r"channel mismatch"),
    "channels_stats_short": (lambda ck: ck.update(norm_mean=ck["norm_mean"][:-2]), r"channel mismatch"),
    "channels_joints_short": (lambda ck: ck.update(joints=ck["joints"][:-1]), r"channel mismatch"),
    "joints_none": (_set(joints=None), r"joints must be"),
    "joints_empty": (_set(joints=[]), r"joints must be"),
    "model_config_list": (_set(model_config=[1, 2]), r"model_config must be a dict"),
    "model_config_unknown_key": (_mcfg(bogus=1), r"incompatible checkpoint: .*bogus"),
    "model_config_negative": (_mcfg(base_channels=-16), r"incompatible checkpoint"),
    "model_config_other_width": (_mcfg(base_channels=32), r"incompatible checkpoint: .*shape"),
    "model_state_list": (_set(model_state=[1, 2]), r"model_state must be"),
    "model_state_missing_tensor": (_state(lambda s: dict(list(s.items())[1:])), r"weights do not fit"),
    "model_state_extra_tensor": (_state(lambda s: {**s, "extra.weight": torch.zeros(2)}), r"weights do not fit"),
    "model_state_wrong_shape": (_state(lambda s: {k: (v[..., :1] if v.ndim > 1 else v) for k, v in s.items()}),
                                r"has shape"),
    "model_state_nan": (_state(lambda s: {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                                          for k, v in s.items()}), r"NaN or inf"),
    "norm_std_zero": (lambda ck: ck.update(norm_std=[0.0] * len(ck["norm_std"])), r"norm_std must be positive"),
    "norm_mean_nan": (lambda ck: ck.update(norm_mean=[float("nan")] * len(ck["norm_mean"])), r"finite numbers"),
    "window_str": (_set(window="16"), r"window must be"),
    "window_tiny": (_set(window=2), r"window must be at least 8"),
    "epoch_negative": (_set(epoch=-1), r"epoch must be"),
    "diffusion_timesteps_1e9": (lambda ck: ck.update(diffusion_config={**ck["diffusion_config"], "timesteps": 10**9}),
                                r"timesteps must be 1\.\."),
    "diffusion_bad_beta": (lambda ck: ck.update(diffusion_config={**ck["diffusion_config"], "beta_end": 2.0}),
                           r"incompatible checkpoint: beta_end must be > 0 and < 1"),
}


def _raw_files(folder, good_bytes: bytes) -> dict:
    """name -> (path, regex): files that are not a torch checkpoint of ours at the byte level."""
    out = {}

    def put(name, data, pattern):
        p = folder / f"{name}.pt"
        p.write_bytes(data)
        out[name] = (p, pattern)

    put("zero_bytes", b"", r"the file is empty")
    n = len(good_bytes)
    for cut in (1, 8, 64, 512, n // 4, n // 2, 3 * n // 4, n - 100, n - 1):
        put(f"truncated_at_{cut}", good_bytes[:cut], r"not a readable checkpoint|refused to load")
    for seed in range(3):
        put(f"random_{seed}", np.random.default_rng(seed).bytes(4096), r"not a readable checkpoint|refused to load")
    put("text_file", b"this is not a checkpoint\n" * 10, r"not a readable checkpoint|refused to load")
    put("json_file", b'{"format": "motionlab-checkpoint"}', r"not a readable checkpoint|refused to load")
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w") as z:
        z.writestr("archive/data.pkl", b"junk")
    put("zip_with_junk", zb.getvalue(), r"not a readable checkpoint|refused to load")
    buf = io.BytesIO()
    torch.save(PositionalUNet1D(tiny_model_config()).state_dict(), buf)
    put("plain_state_dict", buf.getvalue(), r"not a motionlab checkpoint")
    buf = io.BytesIO()
    torch.save(torch.zeros(3, 4), buf)
    put("plain_tensor", buf.getvalue(), r"not a motionlab checkpoint")
    buf = io.BytesIO()
    torch.save([1, 2, 3], buf)
    put("a_list", buf.getvalue(), r"not a motionlab checkpoint")
    return out


@pytest.fixture(scope="module")
def broken(tmp_path_factory, tiny_checkpoint):
    folder = tmp_path_factory.mktemp("broken_ckpts")
    files = _raw_files(folder, tiny_checkpoint.read_bytes())
    for name, (edit, pattern) in EDITS.items():
        files[name] = (_edited(tiny_checkpoint, folder, name, edit), pattern)
    (folder / "a_directory.pt").mkdir()
    files["a_directory"] = (folder / "a_directory.pt", r"no such checkpoint file")
    return folder, files


def _assert_one_line(msg, path):
    assert "\n" not in msg and "\x1b" not in msg, msg
    assert msg.startswith(f"{path}: "), msg
    assert len(msg) < 400, msg


def test_every_broken_file_is_refused_by_read_and_load(broken):
    for name, (p, pattern) in broken[1].items():
        for fn in (read_checkpoint, load_model):
            with pytest.raises(CheckpointError) as e:
                fn(p)
            _assert_one_line(str(e.value), p)
            assert re.search(pattern, str(e.value)), (name, str(e.value))


def test_every_broken_file_exits_2_from_sample_and_evaluate(broken, tmp_path, capsys):
    out = tmp_path / "samples"
    for name, (p, pattern) in broken[1].items():
        rc = run_main("motionlab.sample", sample_mod.main,
                      ["--checkpoint", str(p), "--num-samples", "2", "--out", str(out)])
        cap = capsys.readouterr()
        assert_cli_error(rc, cap.err, "motionlab.sample", p, pattern)
        assert cap.out == ""
        rc = run_main("motionlab.evaluate", evaluate_mod.main,
                      ["--checkpoints", str(p), "--num-samples", "2", "--json"])
        cap = capsys.readouterr()
        assert_cli_error(rc, cap.err, "motionlab.evaluate", p, pattern)
    assert not out.exists() or not list(out.iterdir()), "no sample may be written from a broken checkpoint"


def test_list_checkpoints_lists_broken_files_as_broken(broken, tiny_checkpoint):
    folder, files = broken
    good = folder / "sub" / "good.pt"
    good.parent.mkdir(exist_ok=True)
    shutil.copy(tiny_checkpoint, good)
    rows = list_checkpoints(folder)
    by_path = {r["path"]: r for r in rows}
    assert by_path[str(good)]["ok"] is True
    expected_broken = {str(p) for name, (p, _) in files.items() if p.suffix == ".pt"}
    for path in expected_broken:
        row = by_path[path]
        assert row["ok"] is False, row
        assert row["error"].startswith(path) and "\n" not in row["error"]
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    assert len(rows) == len(expected_broken) + 1


def test_a_file_vanishing_while_listing_does_not_raise(tmp_path, tiny_checkpoint, monkeypatch):
    shutil.copy(tiny_checkpoint, tmp_path / "a.pt")
    import motionlab.formats.checkpoints as ckmod
    real = ckmod.read_checkpoint

    def vanish(p):
        os.unlink(p)  # gone between the listing's stat() and reading
        return real(p)
    monkeypatch.setattr(ckmod, "read_checkpoint", vanish)
    rows = list_checkpoints(tmp_path)
    assert len(rows) == 1 and rows[0]["ok"] is False


@pytest.mark.slow
def test_real_subprocesses_refuse_hostile_and_broken(hostile, broken, tiny_checkpoint, tmp_path):
    """`python -m motionlab.sample` / `evaluate` on a hostile and two broken files, plus bad args, in parallel."""
    files, marker = hostile
    _, bad = broken
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    runs = [
        ("motionlab.sample", files["swapped_data_pkl"], ["--num-samples", "1", "--out", str(tmp_path / "a")], None),
        ("motionlab.sample", bad["truncated_at_%d" % (len(tiny_checkpoint.read_bytes()) // 2)][0],
         ["--num-samples", "1", "--out", str(tmp_path / "b")], None),
        ("motionlab.evaluate", bad["channels_model_38"][0], ["--num-samples", "1"], None),
        # protocol 4 also makes torch print a UserWarning; stderr must still be the one error line
        ("motionlab.evaluate", files["pickle4_ShellTouch"], ["--num-samples", "1"], None),
        ("motionlab.sample", tiny_checkpoint, ["--num-samples", "0", "--out", str(tmp_path / "c")],
         r"number of samples"),
    ]
    procs = []
    for prog, ck, extra, pattern in runs:
        flag = "--checkpoint" if prog.endswith("sample") else "--checkpoints"
        argv = [sys.executable, "-m", prog, flag, str(ck), *extra]
        procs.append((prog, ck, pattern, subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                                          stderr=subprocess.PIPE, text=True)))
    for prog, ck, pattern, p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 2, err
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
        if pattern:
            assert re.search(pattern, err), err
        else:
            assert err.startswith(f"{prog}: error: {ck}: "), err
    assert not marker.exists()


def test_good_checkpoint_is_untouched_by_all_this(tiny_checkpoint):
    h = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    read_checkpoint(tiny_checkpoint)
    load_model(tiny_checkpoint)
    assert hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest() == h
