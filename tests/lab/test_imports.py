"""lab.imports: the Dataset page's import of pose files (no Streamlit) replaces the session's clip only when good."""
from motionlab.data.skeleton import JOINTS_20

import pose_files as pf
from pose_files import check_same


def test_lab_import_replaces_the_session_clip_only_when_good(demo):
    from motionlab.lab import imports, keys

    def files(pairs):
        return [(n, len(b), (lambda b=b: b)) for n, b in pairs]

    state = {}
    frames = pf.openpose_frames(pf.keypoints(demo, "coco17")[:30])
    shuffled = [(f"{t:04d}_keypoints.json", b) for t, b in enumerate(frames)][::-1]  # upload order is not frame order
    err = imports.import_pose_files(state, files(shuffled), imports.ImportOptions(), 2**20)
    assert err == ""
    got = state[keys.UPLOADED_CLIP]
    assert got["name"] == "import:0000_keypoints.json (+29 files)" and got["clip"].num_frames == 30
    check_same(got["clip"], type(demo)(demo.joints, demo.xy[:30]))
    assert state[keys.IMPORT_REPORT]["lines"][0].startswith("0000_keypoints.json .. 0029_keypoints.json (30 files)")

    def refused(pairs, opts, limit=2**20):
        e = imports.import_pose_files(state, files(pairs), opts, limit)
        assert state[keys.UPLOADED_CLIP] is got  # the clip there was stays
        return e

    normalized = [("n.json", pf.mediapipe_json(pf.keypoints(demo, "mediapipe33")[:20] / 512))]
    assert "look normalized" in refused(normalized, imports.ImportOptions())
    assert refused(normalized, imports.ImportOptions(width=512)) == (
        "give both the frame width and height (got 512 x 0), or 0 for both when the coordinates are pixels")
    assert refused(shuffled[:5], imports.ImportOptions()) == (
        "0025_keypoints.json .. 0029_keypoints.json (5 files): 5 frames is shorter than the window of 8 frames")
    assert refused(shuffled, imports.ImportOptions(), limit=1000).endswith("MB limit for one import")
    assert refused([], imports.ImportOptions()) == "choose one or more pose files first"
    assert imports.import_pose_files(state, files(normalized), imports.ImportOptions(512, 512), 2**20) == ""
    assert state[keys.UPLOADED_CLIP]["clip"].joints == tuple(sorted(JOINTS_20))
