"""ui.warm_sampling: the model is loaded off the page's thread unless this very file version is loaded."""
import os
import shutil

from conftest import run_python
from motionlab.lab import catalog, ui


class _Thread:
    started = []

    def __init__(self, target, name, daemon):
        self.target = target

    def start(self):
        _Thread.started.append(self.target)


def test_a_rewritten_checkpoint_is_loaded_on_a_thread_not_on_the_page(tiny_checkpoint, tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    shutil.copy(tiny_checkpoint, path)
    entry = catalog.describe(path)
    s = os.stat(path)
    monkeypatch.setattr(ui, "_loaded", {(str(path), s.st_mtime_ns, s.st_size)})
    monkeypatch.setattr(ui.threading, "Thread", _Thread)
    monkeypatch.setattr(ui, "_warming", [])
    on_page = []

    def model_for(e):
        on_page.append(e)
        raise ui.MotionlabError("stop here")  # warm() then returns, as for an unloadable file
    monkeypatch.setattr(ui, "model_for", model_for)
    _Thread.started.clear()
    ui.warm_sampling(entry, 8, "auto")                       # this version is loaded: warmed at once
    assert on_page and not _Thread.started
    on_page.clear()
    os.utime(path, ns=(s.st_atime_ns, s.st_mtime_ns + 10**9))  # the run wrote last.pt again
    ui.warm_sampling(catalog.describe(path), 8, "auto")
    assert not on_page and len(_Thread.started) == 1         # a load: on a thread of its own


def test_a_process_exiting_while_a_model_loads_on_the_warm_thread_exits_cleanly(tiny_checkpoint):
    """A torch op on the warm-up's daemon thread at interpreter teardown aborted the process (exit 134,
    'terminate called without an active exception'); the load is held open in a torch op here, so the exit
    lands inside it on a machine of any speed."""
    code = ("import sys, threading, torch\n"
            "from motionlab.lab import catalog, ui\n"
            "inside = threading.Event()\n"
            "def slow_load(entry):\n"
            "    inside.set()\n"
            "    a = torch.randn(1500, 1500)\n"
            "    for _ in range(6): a = a @ a / 40\n"
            "    raise ui.MotionlabError('loaded')\n"
            "ui.model_for, ui.WARM_AFTER_S = slow_load, 0\n"
            "script = threading.Thread(target=ui.warm_sampling, args=(catalog.describe(sys.argv[1]), 8, 'auto'))\n"
            "script.start(); script.join()\n"
            "assert inside.wait(60)\n")
    run_python(code, str(tiny_checkpoint))
