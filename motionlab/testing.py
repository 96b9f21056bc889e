"""Tiny models for tests and benches: ~46k parameters, a second or two of training on a CPU.

    from motionlab.testing import tiny_trainer, tiny_run
    best = tiny_run(out, epochs=1) / "best.pt"

The one builder of tiny checkpoints: tests/conftest.py, tests/lab_support.py and the benches use it.
Also the one way to start the lab for a browser (lab_server) and the Chromium flags.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from motionlab.data.dataset import DataConfig
from motionlab.data.demo import demo_clip
from motionlab.core.diffusion import DiffusionConfig
from motionlab.core.model import ModelConfig
from motionlab.pipeline.training import TrainConfig, Trainer
from motionlab.paths import REPO
from motionlab import settings

TINY_MODEL = dict(base_channels=16, channel_mults=(1, 2), time_dim=32)
TINY_MODEL_FLAGS = settings.argv(**TINY_MODEL)  # --base-channels 16 --channel-mults 1,2 --time-dim 32
TINY_TIMESTEPS = 10


def tiny_model_config(**kw) -> ModelConfig:
    return ModelConfig(**{**TINY_MODEL, **kw})


def tiny_trainer(out_dir, clip=None, *, window: int = 16, stride: int = 8, limit: int = 0, epochs: int = 2,
                 timesteps: int = TINY_TIMESTEPS, frames: int = 96, log=None, data_kw=None, model_kw=None,
                 **train_kw) -> Trainer:
    """A Trainer of the tiny network on `clip` (default: the demo dancer, `frames` long).
    train_kw go to TrainConfig (batch_size 8 unless given), data_kw to DataConfig, model_kw to ModelConfig."""
    train_kw.setdefault("batch_size", 8)
    data = DataConfig(data="demo", window=window, stride=stride, limit=limit, **(data_kw or {}))
    return Trainer(data, tiny_model_config(**(model_kw or {})), DiffusionConfig(timesteps=timesteps),
                   TrainConfig(epochs=epochs, **train_kw), out_dir, clip=demo_clip(frames) if clip is None else clip,
                   log=log or (lambda s: None))


def tiny_run(out_dir, clip=None, **kw) -> Path:
    """tiny_trainer(out_dir, clip, **kw) trained to its last epoch; returns the run folder
    (best.pt, last.pt, metrics.jsonl)."""
    tiny_trainer(out_dir, clip, **kw).run(progress=False)
    return Path(out_dir)


def wait_until_healthy(url: str, proc, timeout: float) -> bool:
    """Poll a `streamlit run` server's health endpoint until it answers ok (True), or until its
    process `proc` exits or `timeout` seconds pass (False)."""
    import time
    import urllib.request

    t = time.time()
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return True
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t > timeout:
            return False
        time.sleep(0.3)


# -- the lab in a real browser (tests/lab/test_browser.py and the browser benches) ---------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's; never a downloaded browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"  # the app has finished its script run
# Counts script runs (whole page or fragment) from the app's script-run state.
# Counts every change of the app's script state into "running". The observer gets its records in a
# batch: a short rerun can start and end before it runs, so each record's new value is read from the
# next record's old value (or the attribute itself for the last), never only from the attribute.
COUNT_RERUNS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  window.__reruns = 0;
  new MutationObserver(recs => recs.forEach((r, i) => {
    const now = i + 1 < recs.length ? recs[i + 1].oldValue : app.dataset.testScriptState;
    if (now === "running" && r.oldValue !== "running") window.__reruns += 1;
  })).observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"]});
}"""


# A press of Sample on the Sample page, as bench/lab_sample_latency.py and bench/lab_sessions.py time it: click
# SAMPLE_BUTTON, then the caption of the new result (sample_caption(seed)) and the skeleton animation appear.
SAMPLE_BUTTON = ".st-key-sample-run button"
SAMPLE_ANIMATION = ".st-key-sample-animation .js-plotly-plot"
PAGE_ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"


def sample_caption(seed: int):
    """The caption of a finished sampling run with `seed` (a regular expression for get_by_text)."""
    import re
    return re.compile(rf"samples from .*seed {seed}, ")


def server_pid(url: str) -> int | None:
    """pid of the `streamlit run` serving url (lab_server's), from /proc; None when not found."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and b"--server.port" in cmd and cmd[cmd.index(b"--server.port") + 1] == port.encode():
            return int(p.name)
    return None


def memory_kb(pid: int, key: str = "VmHWM") -> int | None:
    """A /proc/PID/status memory figure in kB (VmHWM: peak resident set; VmRSS: now); None when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(env: dict | None = None, log_path=None, timeout: float = 90, args=(), port: int | None = None):
    """`streamlit run lab_app.py` on a free loopback port (or `port`: one origin, so a browser's cache
    carries over between servers), as a user starts it (plus `args`, Streamlit flags such as
    --server.allowedHosts); yields its URL and stops the server (its whole process group) on exit.
    RuntimeError with the log's tail when it does not come up within `timeout` seconds."""
    import os
    import subprocess
    import sys

    port = port or free_port()
    root = REPO
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "lab_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", *args],
        cwd=root, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_healthy(url, proc, timeout):
            tail = Path(log_path).read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"streamlit did not come up in {timeout:g} s\n{tail}")
        yield url
    finally:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, 9)
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def torchrun_workers(pid: int, count: int, timeout: float = 60) -> dict[int, int]:
    """{rank: pid} of a torchrun's worker processes, read from /proc (Linux)."""
    import time
    end = time.time() + timeout
    while time.time() < end:
        found = {}
        for kids in Path(f"/proc/{pid}/task").glob("*/children"):
            for c in kids.read_text().split():
                try:
                    env = dict(kv.split("=", 1) for kv in Path(f"/proc/{c}/environ").read_text().split("\0") if "=" in kv)
                except OSError:
                    continue
                if "RANK" in env:
                    found[int(env["RANK"])] = int(c)
        if len(found) == count:
            return found
        time.sleep(0.2)
    raise AssertionError("torchrun's workers did not appear")


# rAF timestamps and the frame slider's label while an animation under `sel` plays for `ms` (the benches)
PLAYBACK_TRACE = """async ([sel, ms]) => {
  const label = () => { const e = document.querySelector(sel + " .slider-container text.slider-label");
                        return e ? e.textContent : ""; };
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const ts = [], labels = [];
  let t = await frame();
  const end = t + ms;
  while (t < end) { ts.push(t); labels.push(label()); t = await frame(); }
  return {ts, labels};
}"""
