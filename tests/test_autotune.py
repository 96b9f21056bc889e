"""motionlab.core.autotune: explicit choices are honoured, auto keeps the fastest measured, bf16 only where faster."""
import threading

import pytest
import torch

from conftest import tiny_model_config
from motionlab.core import autotune
from motionlab.core.model import PositionalUNet1D


@pytest.fixture
def model():
    torch.manual_seed(0)
    return PositionalUNet1D(tiny_model_config()).eval()


@pytest.fixture(autouse=True)
def fresh_cache():
    threads = torch.get_num_threads()
    autotune.forget()
    yield
    autotune.forget()
    torch.set_num_threads(threads)


def fake_timings(monkeypatch, table: dict, calls: list):
    """Replace the stopwatch: seconds per pass from table[(precision, threads, batch)]."""
    def seconds(model, x, t, precision, threads, reps):
        calls.append((precision, threads, x.shape[0]))
        return table[(precision, threads, x.shape[0])]
    monkeypatch.setattr(autotune, "_seconds", seconds)
    monkeypatch.setattr(autotune, "max_threads", lambda: 2)


def test_explicit_choice_is_honoured_without_timing(model, monkeypatch):
    calls = []
    fake_timings(monkeypatch, {}, calls)
    c = autotune.choose(model, (8, 40, 32), "cpu", "bf16", 1)
    assert (c.precision, c.threads, c.source) == ("bf16", 1, "given") and calls == []
    assert torch.get_num_threads() == 1


def test_auto_keeps_the_fastest_threads_and_caches(model, monkeypatch):
    calls = []
    table = {("fp32", 1, 8): 0.30, ("fp32", 2, 8): 1.2, ("fp32", 1, 1): 0.05, ("bf16", 1, 1): 0.9}
    fake_timings(monkeypatch, table, calls)
    c = autotune.choose(model, (8, 40, 32), "cpu")
    assert (c.precision, c.threads, c.source) == ("fp32", 1, "measured")
    # bf16 lost the one-item screen, so it was never timed at the full shape
    assert ("bf16", 1, 8) not in calls
    n = len(calls)
    again = autotune.choose(model, (8, 40, 32), "cpu")
    assert (again.precision, again.threads, again.source) == ("fp32", 1, "cached") and len(calls) == n
    assert autotune.is_cached(model, (8, 40, 32))
    autotune.choose(model, (4, 40, 32), "cpu", threads=2, precision="fp32")  # explicit: no timing
    assert len(calls) == n


def test_bf16_is_taken_only_where_it_measured_faster(model, monkeypatch):
    base = {("fp32", 1, 8): 0.30, ("fp32", 2, 8): 0.20, ("fp32", 2, 1): 0.05, ("bf16", 2, 1): 0.02}
    calls = []
    fake_timings(monkeypatch, {**base, ("bf16", 2, 8): 0.12}, calls)
    c = autotune.choose(model, (8, 40, 32), "cpu")
    assert (c.precision, c.threads) == ("bf16", 2) and c.timings["bf16/2t"] == 0.12
    autotune.forget()
    fake_timings(monkeypatch, {**base, ("bf16", 2, 8): 0.25}, calls)  # passed the screen, lost at full size
    assert autotune.choose(model, (8, 40, 32), "cpu").precision == "fp32"


def test_threads_auto_with_a_fixed_precision(model, monkeypatch):
    calls = []
    fake_timings(monkeypatch, {("bf16", 1, 8): 0.3, ("bf16", 2, 8): 0.1}, calls)
    c = autotune.choose(model, (8, 40, 32), "cpu", "bf16", "auto")
    assert (c.precision, c.threads) == ("bf16", 2) and {p for p, *_ in calls} == {"bf16"}


def test_bad_values(model):
    with pytest.raises(ValueError, match="precision"):
        autotune.choose(model, (1, 40, 32), "cpu", "fp16")
    for bad in ("0", "two", -1):
        with pytest.raises(ValueError, match="threads"):
            autotune.parse_threads(bad)


def test_real_measurement_runs_and_is_reused(model):
    c = autotune.choose(model, (2, 40, 32), "cpu")
    assert c.precision in ("fp32", "bf16") and 1 <= c.threads <= autotune.max_threads()
    assert all(v > 0 for v in c.timings.values())
    assert autotune.choose(model, (2, 40, 32), "cpu").source == "cached"
    th = autotune.warm_async(model, (3, 40, 32))
    th.join(60)
    assert autotune.is_cached(model, (3, 40, 32)) and autotune.warm_async(model, (3, 40, 32)) is None


def test_warming_runs_one_measurement_at_a_time(model, monkeypatch):
    """Reruns during a measurement (or a new sample count) must not queue more of them."""
    started, go = threading.Event(), threading.Event()
    calls = []

    def slow_choose(*a, **k):
        calls.append(a[1])
        started.set()
        go.wait(10)
    monkeypatch.setattr(autotune, "choose", slow_choose)
    th = autotune.warm_async(model, (4, 40, 32))
    assert started.wait(10)
    assert autotune.warm_async(model, (4, 40, 32)) is None and autotune.warm_async(model, (5, 40, 32)) is None
    go.set()
    th.join(10)
    th2 = autotune.warm_async(model, (5, 40, 32))  # free again once the first ended
    th2.join(10)
    assert calls == [(4, 40, 32), (5, 40, 32)]
