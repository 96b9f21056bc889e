"""motionlab.lab.keys: the pages (lab_pages/) and ui.py reach st.session_state only through its named keys,
and no two key constants share a value."""
from __future__ import annotations

from pathlib import Path

from conftest import REPO


def test_pages_reach_session_state_only_through_named_keys():
    import re

    from motionlab.lab import keys
    literal = re.compile(r"session_state(\.(get|pop|setdefault)\(|\[)\s*f?[\"']")
    files = sorted((REPO / "lab_pages").glob("*.py"))
    files.append(Path(keys.__file__).with_name("ui.py"))
    hits = [f"{f.name}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if literal.search(line)]
    assert hits == [], f"string literals as st.session_state keys (use motionlab.lab.keys): {hits}"
    values = [v for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)]
    assert len(values) == len(set(values)), "two key constants share a value"
