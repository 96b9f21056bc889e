"""Dataset: the clip or clips, their training windows and baseline metrics (pooled and per clip); clip upload
and pose-file import."""
import pandas as pd
import streamlit as st

from motionlab.errors import MotionlabError
from motionlab.lab import access, config, datasets, figures, imports, keys, player, ui, uploads
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.spec_reference import SPEC_BASELINES

st.header("Dataset")

# -- upload ------------------------------------------------------------------------------------
with st.container(border=True):
    st.markdown("**Clip source**")
    refusal = ui.write_access().reason or access.low_disk(config.runs_dir(), access.min_free_bytes(),
                                                          "accept an upload")
    if refusal:
        st.warning(refusal, icon=":material/block:")
    up = st.file_uploader(f"Upload a clip (JSON, at most {config.UPLOAD_LIMIT_MB} MB)", type=["json"],
                          key="dataset.upload", max_upload_size=config.UPLOAD_LIMIT_MB, disabled=bool(refusal),
                          help="A JSON object of joint name → [[x, y], …] in pixels (y down), every joint with "
                               "the same number of frames (at least 8). It is validated before use and kept for "
                               "this browser session only.")
    if up is not None:  # never while disabled: Streamlit discards a disabled widget's value server-side
        was = st.session_state.get(keys.UPLOADED_CLIP)
        error = uploads.accept_upload(st.session_state, up.name, up.file_id, up.size, up.getvalue,
                                      config.UPLOAD_LIMIT_MB * 2**20)
        if error:
            st.error(error)
        elif st.session_state.get(keys.UPLOADED_CLIP) is not was:  # a new clip: use it everywhere
            st.session_state[keys.USE_UPLOAD] = True
            st.session_state.pop(keys.DATASET_USE_UPLOAD, None)
    with st.expander("Import a pose file: MediaPipe Pose (JSON, CSV), COCO-17, OpenPose, MMPose"):
        files = st.file_uploader(
            f"Pose files (JSON or CSV, at most {config.UPLOAD_LIMIT_MB} MB together)", type=["json", "csv"],
            accept_multiple_files=True, key="dataset.import_files", max_upload_size=config.UPLOAD_LIMIT_MB,
            disabled=bool(refusal), help="One file of all frames (MediaPipe landmarks, MMPose predictions, Detectron2/COCO keypoint "
                 "results), or OpenPose's one JSON per frame, all of them (read in name order). "
                 "docs/POSE_FORMATS.md lists the layouts and how they map onto the clip's joints.")
        c1, c2, c3, c4 = st.columns(4)
        width = c1.number_input("Frame width (px)", min_value=0, max_value=100_000, value=0, step=1,
                                key="dataset.import_width",
                                help="For normalized (0..1) coordinates, as MediaPipe writes them: the "
                                     "video's size. Leave 0 x 0 when they are pixels.")
        height = c2.number_input("Frame height (px)", min_value=0, max_value=100_000, value=0, step=1,
                                 key="dataset.import_height")
        min_conf = c3.number_input("Min confidence", min_value=0.01, max_value=1.0, value=0.3, step=0.05,
                                   key="dataset.import_min_conf",
                                   help="Points below this visibility/score count as missing.")
        max_gap = c4.number_input("Max gap (frames)", min_value=0, max_value=10_000, value=10, step=1,
                                  key="dataset.import_max_gap",
                                  help="Missing points are filled by interpolation, up to this many frames in a row.")
        if st.button("Convert and use", key="dataset.import_run", disabled=not files or bool(refusal)):
            error = imports.import_pose_files(
                st.session_state, [(f.name, f.size, f.getvalue) for f in files],
                imports.ImportOptions(int(width), int(height), float(min_conf), int(max_gap)),
                config.UPLOAD_LIMIT_MB * 2**20)
            if error:
                st.error(error)
            else:
                st.session_state[keys.USE_UPLOAD] = True
                st.session_state.pop(keys.DATASET_USE_UPLOAD, None)
        rep = st.session_state.get(keys.IMPORT_REPORT)
        current = ui.uploaded_clip()
        if rep and current is not None and current["name"] == rep["name"]:
            st.caption("  \n".join(rep["lines"]))
            ui.export_buttons("dataset.import", [current["clip"]], [rep["name"]], rep["name"])
    stored = ui.uploaded_clip()
    if stored is not None:
        c = stored["clip"]
        st.success(f"Loaded {stored['name']}: {c.num_frames} frames, {len(c.joints)} joints.")
        a, b = st.columns([2, 1])
        use = a.toggle("Use the uploaded clip on every page", value=st.session_state.get(keys.USE_UPLOAD, True),
                       key=keys.DATASET_USE_UPLOAD)
        st.session_state[keys.USE_UPLOAD] = use
        if b.button("Forget the uploaded clip", key="dataset.forget_upload"):
            st.session_state.pop(keys.UPLOADED_CLIP, None)
            st.session_state.pop(keys.DATASET_USE_UPLOAD, None)
            st.rerun()

clips, name, is_real = ui.active_clips()
names = datasets.short_names(clips) if len(clips) > 1 else [name]
if len(clips) == 1:
    st.caption(f"Clip **{name}**: {clips[0].clip.num_frames} frames, {len(clips[0].clip.joints)} joints.")
else:
    st.caption(f"Dataset **{name}**: {len(clips)} clips, {sum(c.clip.num_frames for c in clips)} frames, "
               f"{len(clips[0].clip.joints)} joints. Windows, limit and jitter work per clip; "
               "normalization and the first baseline row pool them.")

# -- windows and baseline ----------------------------------------------------------------------
st.subheader("Training windows and their baseline")
st.caption("The spec's splits: 64 / 32 / 32 (baseline_1epoch) and 256 / 5 / 1024 (the long runs). "
           "limit keeps a seeded random subset of windows (0 = all).")
c1, c2, c3 = st.columns(3)
window = c1.number_input("Window (frames)", min_value=8, max_value=4096, value=64, step=8, key="dataset.window")
stride = c2.number_input("Stride", min_value=1, max_value=4096, value=32, step=1, key="dataset.stride")
limit = c3.number_input("Limit (0 = all)", min_value=0, max_value=100_000, value=32, step=1, key="dataset.limit")


try:
    summary = ui.dataset_summary(clips, int(window), int(stride), int(limit))
except MotionlabError as e:
    ui.error(e)
    summary = None
if summary is not None:
    wsl = f"{window} / {stride} / {limit}"
    recs = datasets.baseline_records(summary, f"ours ({name})", wsl, names)
    spec = SPEC_BASELINES.get((int(window), int(stride), int(limit)))
    if spec is not None:
        recs.append({"source": "spec (uptown_funk.json)", "window/stride/limit": wsl,
                     **{k: spec[k] for k in METRICS}, "clips": spec["clips"]})
    st.dataframe(pd.DataFrame.from_records(recs), hide_index=True,
                 column_config={k: st.column_config.NumberColumn(format="%.2f") for k in METRICS})
    if spec is not None and not is_real:
        st.caption("The spec's row was measured on data/uptown_funk.json; this clip is a different one.")
    if len(clips) > 1:
        st.dataframe(pd.DataFrame.from_records(datasets.clip_rows(summary, names)), hide_index=True)

shown = 0
if len(clips) > 1:
    ui.keep_valid("dataset.clip", names)
    shown = names.index(st.selectbox("Clip to show", names, key="dataset.clip",
                                     help="Its window coverage and its animation below."))
clip = clips[shown].clip
if summary is not None:
    ui.plotly(figures.coverage_figure(clip.num_frames, summary["clips"][shown]["starts"], int(window)),
              "dataset.coverage")

# -- animation ---------------------------------------------------------------------------------
st.subheader("The clip")
hi = clip.num_frames
rng = st.session_state.get(keys.DATASET_FRAMES)
if rng is not None and not (isinstance(rng, (tuple, list)) and len(rng) == 2 and 0 <= rng[0] < rng[1] <= hi):
    st.session_state.pop(keys.DATASET_FRAMES, None)
a, b = st.slider("Frames to animate", 0, hi, (0, min(hi, 300)), key=keys.DATASET_FRAMES) if hi > 1 else (0, hi)
if b - a < 1:
    st.info("Pick a frame range of at least one frame.")
else:
    player.show([figures.Panel(f"{names[shown]}: frames {a}-{b - 1}", clip.xy[a:b], clip.joints)],
                "dataset.animation", panel_height=480)
