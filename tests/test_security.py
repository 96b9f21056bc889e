"""Safe by default (issue 14): who can reach the lab, whether a checkpoint is intact, what a crash leaves, disk.

1. The shipped Streamlit config listens on loopback with XSRF/CORS on; a visitor from another host sees
   uploads and training switched off unless MOTIONLAB_ALLOW_REMOTE_WRITES=1.
2. sha256 records (PATH.sha256) of shipped and run checkpoints; a flipped bit in a weight is refused.
3. Stale `.*.tmp` files of a killed save are removed when a run starts there, live ones never;
   `--resume` refuses other diffusion settings.
4. Starting a run or accepting an upload needs MOTIONLAB_MIN_FREE_MB free on the runs volume.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from streamlit.testing.v1 import AppTest

from conftest import REPO, TINY_MODEL_FLAGS
from lab_support import lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.formats import integrity
from motionlab import io as io_mod
from motionlab import train as train_mod
from motionlab.pipeline import training
from motionlab.formats.checkpoints import load_model, read_checkpoint, release_copy, save_checkpoint
from motionlab.cli import run_main
from motionlab.data.demo import demo_clip
from motionlab.errors import CheckpointError, MotionlabError
from motionlab.lab import access, catalog, processes

ARGS = ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "8", "--batch-size", "8",
        "--timesteps", "10", "--save-every", "1", "--seed", "7", "--no-progress", *TINY_MODEL_FLAGS]
REMOTE_IP = "203.0.113.7"  # TEST-NET-3: never a real peer


# -- 1. who can reach the lab ------------------------------------------------------------------

def test_shipped_streamlit_config_listens_on_loopback_with_xsrf_and_cors_on():
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]
    assert access.server_is_local(cfg["address"]) and cfg["address"] == "127.0.0.1"
    assert cfg.get("enableXsrfProtection", True) is True and cfg.get("enableCORS", True) is True
    from motionlab.lab import config
    assert cfg["maxUploadSize"] == config.UPLOAD_LIMIT_MB  # Streamlit's upload route, not only the widget
    # what `streamlit run` in the project root reads (no STREAMLIT_SERVER_* override in the environment)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    code = ("from streamlit import config as c; import json; print(json.dumps([c.get_option(k) for k in "
            "('server.address', 'server.enableXsrfProtection', 'server.enableCORS', 'server.maxUploadSize')]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["127.0.0.1", True, True, config.UPLOAD_LIMIT_MB]


def _listening(port: int) -> list[str]:
    """Addresses with a TCP socket listening on port, from /proc/net/tcp and tcp6."""
    import ipaddress
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            host, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                raw = bytes.fromhex(host)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # per-word little endian
                out.append(str(ipaddress.ip_address(raw)))
    return out


@pytest.mark.slow
def test_the_lab_server_started_as_the_readme_says_listens_on_loopback_only():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "lab_app.py", "--server.port", str(port),
                          "--server.fileWatcherType", "none"], cwd=REPO, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t = time.monotonic()
        while not _listening(port) and time.monotonic() - t < 90:
            assert p.poll() is None, "the server exited"
            time.sleep(0.2)
        addrs = _listening(port)
        assert addrs and all(access.is_loopback(a) for a in addrs), addrs
    finally:
        p.terminate()
        p.wait(30)


def test_nothing_in_the_repository_turns_xsrf_or_cors_protection_off():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert ".streamlit/config.toml" in files and "scripts/setup.sh" in files
    off = re.compile(r"(enableXsrfProtection|enableCORS|ENABLE_XSRF_PROTECTION|ENABLE_CORS)[\"'\s=:,]+(false|0)\b",
                     re.IGNORECASE)
    hits = []
    for f in files:
        p = REPO / f
        if p.suffix in (".pt", ".png", ".gif", ".mp4") or p.name == Path(__file__).name or not p.is_file():
            continue
        text = p.read_text(errors="ignore")
        hits += [f"{f}: {m.group(0)}" for m in off.finditer(text)]
    assert not hits, hits


@pytest.mark.parametrize("address, ip, env, writes", [
    ("127.0.0.1", REMOTE_IP, {}, False),           # a loopback server behind a proxy that sends X-Forwarded-For
    ("localhost", None, {}, False),                # an unknown address is not local (issue 23)
    ("::1", "::1", {}, True),
    ("unix:///tmp/lab.sock", None, {}, False),
    ("unix:///tmp/lab.sock", REMOTE_IP, {}, False),
    (None, "127.0.0.1", {}, True),                 # every interface, but the visitor is on this machine
    ("0.0.0.0", "127.0.0.1", {}, True),
    ("0.0.0.0", "::ffff:127.0.0.1", {}, True),
    (None, REMOTE_IP, {}, False),                  # Streamlit's default: every interface
    ("0.0.0.0", REMOTE_IP, {}, False),
    ("::", "192.168.1.20", {}, False),
    ("192.168.1.5", "192.168.1.20", {}, False),
    ("lab.example.org", REMOTE_IP, {}, False),
    ("0.0.0.0", REMOTE_IP, {"MOTIONLAB_ALLOW_REMOTE_WRITES": "1"}, True),
    ("0.0.0.0", REMOTE_IP, {"MOTIONLAB_ALLOW_REMOTE_WRITES": "0"}, False),
])
def test_write_access_decision(address, ip, env, writes):
    a = access.decide(address, ip, env=env)
    assert a.writes is writes and a.exposed is (not access.server_is_local(address) or not access.client_is_local(ip))
    assert (a.reason == "") is writes
    if not writes:
        assert (ip or "an address the server does not know") in a.reason
        assert "MOTIONLAB_ALLOW_REMOTE_WRITES=1" in a.reason and "\n" not in a.reason


def test_xsrf_or_cors_off_switches_writes_off_for_everyone():
    for kw, name in (({"xsrf": False}, "server.enableXsrfProtection"), ({"cors": False}, "server.enableCORS")):
        a = access.decide("127.0.0.1", None, env={"MOTIONLAB_ALLOW_REMOTE_WRITES": "1"}, **kw)
        assert not a.writes and name in a.reason


@pytest.fixture
def visitor(monkeypatch):
    """visitor(address, ip, **options): the Streamlit server listens on address; the session's TCP peer is ip."""
    import streamlit.runtime.context as st_context
    from streamlit import config as st_config
    real = st_config.get_option

    def set_(address, ip, **options):
        opts = {"server.address": address, **options}
        monkeypatch.setattr(st_config, "get_option", lambda k: opts[k] if k in opts else real(k))
        monkeypatch.setattr(st_context, "_get_client_context",
                            lambda: SimpleNamespace(remote_ip=ip, headers=[], cookies={}))
    return set_


def _page(name: str) -> AppTest:
    return open_page(name)


def _warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


def _sleeper_run(run_dir: Path) -> subprocess.Popen:
    """A live process the lab takes for a training run (its command line names motionlab.train)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "motionlab.train"])
    for _ in range(100):
        if processes._proc_start(p.pid) and "motionlab.train" in processes._cmdline(p.pid):
            break
        time.sleep(0.02)
    rec = {"pid": p.pid, "pgid": p.pid, "proc_start": processes._proc_start(p.pid), "started": time.time(),
           "command": ["python", "-m", "motionlab.train"], "options": {"epochs": 5}, "log": "train.log",
           "state": "running"}
    (run_dir / processes.PROCESS_FILE).write_text(json.dumps(rec))
    (run_dir / "metrics.jsonl").write_text("")
    return p


def test_a_visitor_from_another_host_cannot_train_stop_or_upload(lab_env, visitor, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "none"))
    sleeper = _sleeper_run(tmp_path / "live")
    try:
        visitor("0.0.0.0", REMOTE_IP)
        at = _page("training")
        assert at.button(key="training.start").disabled and at.button(key="training.stop").disabled
        assert f"you are connected from {REMOTE_IP}" in _warnings(at)
        assert any("Reachable from other hosts" in c.value for c in at.sidebar.caption)
        # a forged click (what a browser cannot send, a hand-made websocket message can) does nothing
        from streamlit.testing.v1 import element_tree
        monkeypatch.setattr(element_tree.Widget, "_assert_can_interact", lambda self: None)
        at.button(key="training.stop").click().run()
        assert processes.status(tmp_path / "live")["state"] == "running" and sleeper.poll() is None
        at.text_input(key="training.name").set_value("forged")
        at.selectbox(key="training.data").set_value("demo")
        at.button(key="training.start").click().run()
        assert not (tmp_path / "forged").exists() and not at.success

        at = _page("dataset")
        assert at.file_uploader(key="dataset.upload").disabled and f"connected from {REMOTE_IP}" in _warnings(at)
        at.file_uploader(key="dataset.upload").set_value(
            ("mine.json", json.dumps(demo_clip(90).to_dict()).encode(), "application/json")).run()
        assert not at.success and "Loaded" not in str([e.value for e in at.error])

        # the same visitor may when the owner says so
        monkeypatch.setenv("MOTIONLAB_ALLOW_REMOTE_WRITES", "1")
        at = _page("training")
        assert not at.button(key="training.start").disabled and not at.button(key="training.stop").disabled
        assert not at.main.warning and "open to every visitor" in _warnings(at)  # the sidebar says so
        at = _page("dataset")
        assert not at.file_uploader(key="dataset.upload").disabled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_local_visitor_of_an_exposed_lab_may_train(lab_env, visitor):
    visitor("0.0.0.0", "127.0.0.1")
    at = _page("training")
    assert not at.button(key="training.start").disabled and not at.warning
    visitor("127.0.0.1", REMOTE_IP)  # a loopback server behind a proxy on this machine: the forwarded client decides
    at = _page("training")
    assert at.button(key="training.start").disabled and f"you are connected from {REMOTE_IP}" in _warnings(at)


def test_xsrf_protection_off_disables_training_in_the_lab(lab_env, visitor):
    visitor("127.0.0.1", None, **{"server.enableXsrfProtection": False})
    at = _page("training")
    assert at.button(key="training.start").disabled and "server.enableXsrfProtection is false" in _warnings(at)


# -- 2. checkpoint integrity -------------------------------------------------------------------

SHIPPED = sorted((REPO / "checkpoints").glob("*/model.pt"))


def test_every_shipped_checkpoint_has_a_matching_sha256_record():
    assert len(SHIPPED) >= 4
    for p in SHIPPED:
        assert integrity.recorded(p), f"{p} has no {p.name}.sha256"
        assert integrity.verify(p) is True
    # sha256sum's own format: `sha256sum -c model.pt.sha256` works in the folder
    line = integrity.sidecar(SHIPPED[0]).read_text()
    assert re.fullmatch(r"[0-9a-f]{64}  model\.pt\n", line)


def _flip_weight_byte(path: Path) -> str:
    """Flip the lowest bit of one value in the middle of the largest tensor (stays finite); returns its name."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
        assert info.compress_type == zipfile.ZIP_STORED
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        off = info.header_offset + 30 + n + m + (info.file_size // 2) // 4 * 4  # element-aligned: a low byte
        f.seek(off)
        b = f.read(1)[0]
        f.seek(off)
        f.write(bytes([b ^ 1]))
    return info.filename


def test_a_flipped_bit_in_a_shipped_weight_is_refused(tmp_path):
    src = SHIPPED[0]
    folder = tmp_path / "checkpoints" / src.parent.name
    folder.mkdir(parents=True)
    bad = folder / "model.pt"
    shutil.copy(src, bad)
    shutil.copy(integrity.sidecar(src), integrity.sidecar(bad))
    _flip_weight_byte(bad)
    # torch alone loads it: the flipped value is finite and torch does not check the zip CRC
    bare = tmp_path / "bare.pt"
    shutil.copy(bad, bare)
    a = read_checkpoint(src)["model_state"]
    b = torch.load(bare, map_location="cpu", weights_only=True)["model_state"]
    assert sum(int((a[k] != b[k]).sum()) for k in a) == 1
    # without its sha256 record, the zip's own CRC-32 of the entry catches it
    with pytest.raises(CheckpointError, match=r"bare\.pt: fails the zip's own checks \(Bad CRC-32 for file '[^']+'\)"):
        read_checkpoint(bare)
    for load in (read_checkpoint, load_model):
        with pytest.raises(CheckpointError) as e:
            load(bad)
        msg = str(e.value)
        assert msg.startswith(f"{bad}: sha256 ") and "does not match its record in model.pt.sha256" in msg
        assert "\n" not in msg
    [entry] = catalog.discover([tmp_path / "checkpoints"])
    assert not entry.ok and entry.label.endswith("(broken)") and "does not match" in entry.error


def test_the_evaluate_cli_refuses_a_flipped_checkpoint_in_one_line(tmp_path, capsys):
    from motionlab import evaluate
    bad = tmp_path / "model.pt"
    shutil.copy(SHIPPED[0], bad)
    shutil.copy(integrity.sidecar(SHIPPED[0]), integrity.sidecar(bad))
    _flip_weight_byte(bad)
    assert run_main("motionlab.evaluate", evaluate.main, ["--checkpoints", str(bad), "--num-samples", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"motionlab.evaluate: error: {bad}: sha256 ")


def test_release_copy_records_a_sha256_and_the_lab_shows_it(trained_run, tmp_path):
    dst = tmp_path / "ck" / "tiny" / "model.pt"
    release_copy(trained_run / "best.pt", dst)
    assert integrity.verify(dst)
    [e] = catalog.discover([tmp_path / "ck"])
    assert e.ok and e.verified and e.facts()["sha256"] == "matches model.pt.sha256"
    integrity.sidecar(dst).unlink()
    catalog._cache.clear()
    [e] = catalog.discover([tmp_path / "ck"])
    assert e.ok and not e.verified  # loads, but says it is unverified


@pytest.mark.slow
def test_make_release_writes_the_record_and_names_it_in_the_card(trained_run, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "make_release.py"), "--src",
                          str(trained_run / "best.pt"), "--metrics", str(trained_run / "metrics.jsonl"), "--tag", "t",
                          "--command", "x", "--machine", "y", "--wall-seconds", "1"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    m = tmp_path / "checkpoints" / "t" / "model.pt"
    assert integrity.verify(m)
    assert integrity.recorded(m)[0][:16] in (m.parent / "CARD.md").read_text()


def test_training_records_best_and_last_and_resume_verifies_last(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "2", "--out", str(out)]) == 0
    for name in ("best.pt", "last.pt"):
        assert integrity.verify(out / name) is True
    _flip_weight_byte(out / "last.pt")
    capsys.readouterr()
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "3", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"motionlab.train: error: {out / 'last.pt'}: sha256 ") and len(err) == 1


def test_a_crash_at_any_point_of_a_save_leaves_a_file_that_verifies(tmp_path, trained_run, monkeypatch):
    """write_verified: the record lists old and new digests while the file is swapped."""
    p = tmp_path / "last.pt"
    shutil.copy(trained_run / "last.pt", p)
    shutil.copy(integrity.sidecar(trained_run / "last.pt"), integrity.sidecar(p))
    ck = read_checkpoint(p)
    real = integrity.atomic_write_bytes
    for crash_at in (1, 2, 3):
        calls = []

        def write(path, data):
            calls.append(path)
            if len(calls) == crash_at:
                raise KeyboardInterrupt("killed")
            real(path, data)
        monkeypatch.setattr(integrity, "atomic_write_bytes", write)
        ck["step"] += 1
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(p, ck)
        monkeypatch.setattr(integrity, "atomic_write_bytes", real)
        integrity._cache.clear()
        assert read_checkpoint(p)["step"] in (ck["step"] - 1, ck["step"])  # old or new, and it verifies
        assert integrity.verify(p)
        ck = read_checkpoint(p)
    save_checkpoint(p, ck)
    assert len(integrity.recorded(p)) == 1


def test_digests_are_computed_once_per_file_version(tmp_path, trained_run, monkeypatch):
    p = tmp_path / "best.pt"
    shutil.copy(trained_run / "best.pt", p)
    integrity.write_record(p)
    integrity._cache.clear()
    calls = []
    real = integrity.hashlib.file_digest
    monkeypatch.setattr(integrity.hashlib, "file_digest", lambda f, d: calls.append(1) or real(f, d))
    for _ in range(3):
        read_checkpoint(p)
    assert len(calls) == 1
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))  # a rewritten file is hashed again
    read_checkpoint(p)
    assert len(calls) == 2


def test_malformed_records_are_one_line_errors(tmp_path, trained_run):
    p = tmp_path / "best.pt"
    shutil.copy(trained_run / "best.pt", p)
    for text in ("", "nothex  best.pt\n", "0" * 64 + "  other.pt\n"):
        integrity.sidecar(p).write_text(text)
        with pytest.raises(CheckpointError, match=r"best\.pt\.sha256 is (malformed|empty)") as e:
            read_checkpoint(p)
        assert str(e.value).startswith(f"{p}: ") and "\n" not in str(e.value)


# -- 3. leftovers and mismatches ----------------------------------------------------------------

def _temp(folder: Path, name: str, age_s: float = 0.0) -> Path:
    p = folder / name
    p.write_bytes(b"partial")
    if age_s:
        t = time.time() - age_s
        os.utime(p, (t, t))
    return p


def test_stale_temps_are_removed_at_the_next_start_and_live_ones_kept(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # can never be a live process
    held = _temp(out, ".best.pt.abcd1234.tmp", age_s=3600)  # old naming (no pid), held open by a live process
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'rb'); time.sleep(60)",
                              str(held)])
    try:
        for _ in range(250):
            if io_mod._open_anywhere(held):
                break
            time.sleep(0.02)
        stale = [_temp(out, f".last.pt.{dead_pid}.k2j4h5g6.tmp"),                 # its writer was killed
                 _temp(out, f".best.pt.{child.pid}.q9w8e7r6.tmp", age_s=3600),   # pid recycled since the write
                 _temp(out, ".metrics.jsonl.zx12cv34.tmp", age_s=3600)]          # old naming, nobody has it open
        live = [_temp(out, f".last.pt.{os.getpid()}.a1b2c3d4.tmp"),               # a writer in this process
                _temp(out, f".best.pt.{child.pid}.m5n6b7v8.tmp"),                 # a live writer's
                held,
                _temp(out, ".last.pt.p0o9i8u7.tmp")]                              # old naming, just written
        assert sorted(io_mod.stale_temps(out)) == sorted(stale)
        other = out / "notes.tmp"  # not hidden: not ours
        other.write_text("x")
        assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "1", "--out", str(out)]) == 0
        assert not any(p.exists() for p in stale)
        assert all(p.exists() for p in live) and other.exists()
        err = capsys.readouterr().err
        assert all(f"removed stale temporary file {p}" in err for p in stale)
    finally:
        child.kill()
        child.wait()


def test_temp_files_carry_their_writers_pid(tmp_path, monkeypatch):
    seen = []
    real = io_mod.os.replace
    monkeypatch.setattr(io_mod.os, "replace", lambda a, b: seen.append(Path(a).name) or real(a, b))
    io_mod.atomic_write_bytes(tmp_path / "x.pt", b"1")
    assert re.fullmatch(rf"\.x\.pt\.{os.getpid()}\.[a-z0-9_]{{8}}\.tmp", seen[0])


def test_resume_refuses_other_diffusion_settings_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "1", "--out", str(out)]) == 0
    before = (out / "last.pt").read_bytes()
    for flags, what in ((["--timesteps", "20"], "timesteps: 10 in the checkpoint, 20 asked"),
                        (["--variance", "posterior"], "variance: 'beta' in the checkpoint, 'posterior' asked"),
                        (["--beta-end", "0.03"], "beta_end: 0.02 in the checkpoint, 0.03 asked")):
        capsys.readouterr()
        rc = run_main("motionlab.train", train_mod.main, [*ARGS, *flags, "--epochs", "2", "--out", str(out), "--resume"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1, err
        assert err[0].startswith(f"motionlab.train: error: {out / 'last.pt'}: diffusion settings differ (") and what in err[0]
    assert (out / "last.pt").read_bytes() == before


def test_a_key_an_old_checkpoint_lacks_counts_as_its_default(tmp_path):
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "1", "--out", str(out)]) == 0
    ck = read_checkpoint(out / "last.pt")
    del ck["diffusion_config"]["variance"]  # written before the field existed
    save_checkpoint(out / "last.pt", ck)
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert training.diffusion_mismatch({**ck["diffusion_config"], "schedule": "cosine"},
                                        read_checkpoint(out / "last.pt")["diffusion_config"]) == \
        "schedule: 'cosine' in the checkpoint, 'linear' asked"


# -- 4. disk -------------------------------------------------------------------------------------

def test_low_disk_message_and_floor(tmp_path, monkeypatch):
    usage = SimpleNamespace(total=10 * 2**30, used=0, free=300 * 2**20)
    monkeypatch.setattr(access.shutil, "disk_usage", lambda p: usage)
    msg = access.low_disk(tmp_path / "runs" / "not_yet", 1024 * 2**20, "start a training run")
    assert msg == (f"Cannot start a training run: only 300 MB free on the volume of {tmp_path / 'runs' / 'not_yet'}, "
                   "below the lab's floor of 1,024 MB (MOTIONLAB_MIN_FREE_MB). Free some space; the lab deletes nothing.")
    assert access.low_disk(tmp_path, 200 * 2**20, "x") == "" and access.low_disk(tmp_path, 0, "x") == ""
    assert access.min_free_bytes({}) == 1024 * 2**20 and access.min_free_bytes({"MOTIONLAB_MIN_FREE_MB": "5"}) == 5 * 2**20


def test_start_run_refuses_below_the_floor_and_writes_nothing(tmp_path):
    floor = access.free_bytes(tmp_path) + 2**40
    with pytest.raises(MotionlabError, match="below the lab's floor"):
        processes.start_run(tmp_path, "r", processes.TrainOptions(data="demo"), min_free_bytes=floor)
    assert list(tmp_path.iterdir()) == []


def test_the_lab_refuses_runs_and_uploads_when_the_runs_volume_is_low(lab_env, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_MIN_FREE_MB", str(10**12))  # more than any disk
    runs = lab_env["runs"]
    before = sorted(p.relative_to(runs) for p in runs.rglob("*"))
    at = _page("training")
    assert at.button(key="training.start").disabled and "below the lab's floor" in _warnings(at)
    at = _page("dataset")
    assert at.file_uploader(key="dataset.upload").disabled and "Cannot accept an upload" in _warnings(at)
    from streamlit.testing.v1 import element_tree
    monkeypatch.setattr(element_tree.Widget, "_assert_can_interact", lambda self: None)  # a forged upload
    at.file_uploader(key="dataset.upload").set_value(
        ("mine.json", json.dumps(demo_clip(90).to_dict()).encode(), "application/json")).run()
    assert not at.success
    assert sorted(p.relative_to(runs) for p in runs.rglob("*")) == before  # nothing deleted or written
    monkeypatch.setenv("MOTIONLAB_MIN_FREE_MB", "0")
    at = _page("training")
    assert not at.button(key="training.start").disabled
