"""ui.warm_sampling: the model is loaded off the page's thread unless this very file version is loaded."""
import os
import shutil

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
