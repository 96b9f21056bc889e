"""scripts/make_release.py: the release copy gets its sha256 record, and the card names it."""
import os
import subprocess
import sys

import pytest

from conftest import REPO
from motionlab.formats import integrity


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
