"""data.clipset: the --data forms (files, a folder, a manifest) name the same clips; bad forms and short clips
are one-line errors naming the clip."""
import hashlib

import pytest

from clip_files import three_clips
from motionlab import ClipError
from motionlab.data.clipset import expand, load_clip_set, resolve_clips


def test_data_forms_name_the_same_clips(tmp_path):
    paths = three_clips(tmp_path)
    (tmp_path / "set.txt").write_text(f"# the three\nclips/{paths[0].name}\n\nclips/{paths[1].name}  # a segment\n"
                                       f"{paths[2]}\n")  # relative to the manifest, or absolute
    by_files = expand([str(p) for p in paths])
    assert expand(str(tmp_path / "clips")) == by_files
    assert [p.resolve() for p in expand(str(tmp_path / "set.txt"))] == [p.resolve() for p in by_files]
    clips, spec = resolve_clips([str(tmp_path / "clips")])
    assert spec == str(tmp_path / "clips") and [c.name for c in clips] == [str(p) for p in paths]
    assert clips[0].sha256 == hashlib.sha256(paths[0].read_bytes()).hexdigest()


@pytest.mark.parametrize("make,match", [
    (lambda t: (t / "empty").mkdir() or [str(t / "empty")], "holds no \\*.json clip files"),
    (lambda t: (t / "m.txt").write_text("# nothing\n") and [str(t / "m.txt")], "lists no clips"),
    (lambda t: (t / "m.txt").write_text("gone.json\n") and [str(t / "m.txt")], "gone.json: no such clip file"),
    (lambda t: ["demo", str(t / "clips")], "'demo' cannot be combined"),
    (lambda t: [str(t / "clips"), str(sorted((t / "clips").glob("*"))[0])], "listed twice"),
])
def test_bad_data_forms_are_one_line_errors(tmp_path, make, match):
    three_clips(tmp_path)
    with pytest.raises(ClipError, match=match):
        load_clip_set(make(tmp_path))


def test_a_clip_shorter_than_the_window_is_named(tmp_path):
    three_clips(tmp_path)
    with pytest.raises(ClipError, match="c_demo125.json: 90 frames is shorter than the window of 100"):
        resolve_clips([str(tmp_path / "clips")], min_frames=100)
