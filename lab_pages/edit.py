"""Edit: in-betweening, continuation, long dances and joint regeneration by masked sampling."""
import streamlit as st

from motionlab.pipeline import editing as ed
from motionlab.formats.export import CLIP_FPS
from motionlab.lab import editing, jobs, keys, player, results, ui
from motionlab.pipeline.defaults import faithful_default

st.header("Edit")
st.caption("Given frames or joints are held while the rest is generated (masked sampling: at every step the "
           "given part is set to its forward-noised values). Grey discs mark the held joints.")
entry = ui.checkpoint_picker("edit.checkpoint")
if entry is None:
    st.stop()
clip, clip_name, _ = ui.active_clip()

task = st.radio("Task", list(editing.TASK_LABELS), format_func=editing.TASK_LABELS.get, horizontal=True,
                key="edit.task")
sample = results.get_result(st.session_state)
sources = ["clip"] + ([f"sample #{i}" for i in range(sample.num_samples)]
                      if sample is not None and tuple(sample.joints) == tuple(clip.joints) else [])
ui.keep_valid("edit.source", sources)
source_name = st.selectbox("Given motion from", sources, key="edit.source",
                           format_func=lambda s: f"the clip ({clip_name}, {clip.num_frames} frames)" if s == "clip"
                           else f"{s} of the Sample page ({sample.tag})",
                           disabled=task == "long" and not st.session_state.get(keys.EDIT_LONG_CONTEXT))
source = clip if source_name == "clip" else sample.clip(int(source_name.split("#")[1]))
last = source.num_frames - 1
w = entry.window

c1, c2, c3, c4 = st.columns(4)
params = {}
if task == "inbetween":
    ctx = c3.number_input("Given frames each side", 1, max(1, w // 4), min(8, max(1, w // 4)), key="edit.context")
    start = c1.number_input("Last given frame before the gap", int(ctx) - 1, max(int(ctx) - 1, last - 2),
                            min(max(int(ctx) - 1, last // 3), last), key="edit.from")
    end = c2.number_input("First given frame after the gap", int(start) + 2, max(int(start) + 2, last),
                          min(int(start) + 2 + w // 3, last), key="edit.to")
    params = {"start": int(start), "end": int(end), "context": int(ctx)}
elif task == "continue":
    ctx = c2.number_input("Given frames", 1, w - 1, min(64, w // 4), key="edit.context")
    at = c1.number_input("They start at frame", 0, max(0, last - int(ctx) + 1), 0, key="edit.at")
    length = c3.number_input("Total frames", int(ctx) + 1, 4 * w, w, key="edit.length")
    params = {"at": int(at), "context": int(ctx), "length": int(length), "overlap": max(1, w // 4)}
elif task == "long":
    secs = c1.number_input("Length (s)", 1.0, 600.0, 30.0, step=5.0, key="edit.seconds")
    overlap = c2.number_input("Frames each window continues", 1, w - 1, max(1, w // 4), key="edit.overlap")
    use_ctx = c3.toggle("Start from given frames", key=keys.EDIT_LONG_CONTEXT)
    ctx = c4.number_input("Given frames", 1, w - 1, min(64, w // 4), key="edit.context", disabled=not use_ctx)
    params = {"frames": int(round(secs * CLIP_FPS)), "overlap": int(overlap), "context": int(ctx) if use_ctx else 0,
              "at": 0}
else:
    part = c1.radio("Regenerate", ["upper", "legs"], horizontal=True, key="edit.part",
                    format_func=lambda p: {"upper": "upper body (head, arms)", "legs": "legs (hips down)"}[p])
    at = c2.number_input("Window starts at frame", 0, max(0, source.num_frames - w), 0, key="edit.at")
    params = {"part": part, "at": int(at)}

c5, c6, c7, c8 = st.columns(4)
seed = c5.number_input("Seed", min_value=0, max_value=2**31 - 1, value=42, step=1, key="edit.seed")
n = c6.slider("Samples", 1, 4, 2, key="edit.num_samples")
resample = c7.slider("RePaint resampling (tries per step)", 1, 10, ed.DEFAULT_RESAMPLE, key="edit.resample",
                     help="Each step is taken this many times, re-noising in between, so the generated part "
                          "can settle against the given one (Lugmayr et al. 2022). Costs that many times more.")
blend = c8.slider("Seam blend (frames)", 0, max(1, w // 4), min(ed.DEFAULT_BLEND, max(1, w // 4)),
                  key="edit.blend",
                  help="The offset between the model's estimate and the given pose at a seam fades into this many "
                       "generated frames; the given frames are untouched. 0: plain replacement.")
default = faithful_default(entry.path, rewindable=True)  # the slider above resamples by default
sampler, precision = ui.sampling_controls("edit", default, entry.timesteps, precision_default="fp32")
st.caption(ui.sampler_caption(sampler, default, entry.timesteps) + ".")
if int(resample) > 1 and not sampler.rewindable:
    st.warning(f"{sampler.label(entry.timesteps)} cannot be resampled (its churn raises each step above where it "
               "started), so this edit takes one try per step; pick s_churn 0 or another sampler to resample.")
    resample = 1



def edit_job() -> jobs.JobSpec:
    lm = ui.model_for(entry)
    reference, _, _ = ui.active_clip(show_hint=False)
    passes = editing.windows_needed(task, params, lm.window) * int(n) * sampler.steps_for(entry.timesteps) * int(resample)
    return jobs.JobSpec(
        lambda report: editing.run_edit(lm, task, source, params, reference, int(n), int(seed), sampler, precision,
                                        int(resample), blend=int(blend), report=report, name=entry.name,
                                        tag=entry.tag, source_name=clip_name if source_name == "clip" else source_name),
        f"{editing.TASK_LABELS[task]} with {entry.tag}", passes)


ui.job_button("edit", "Edit", edit_job, type="primary", icon=":material/auto_fix_high:")

done = ui.job_panel("edit")
if done is not None:
    editing.store(st.session_state, done.result)

run = editing.get(st.session_state)
if run is None:
    if not ui.job_running("edit"):
        st.info("Choose a task and its frames, then press **Edit**.")
    st.stop()

e = run.edit
st.subheader(editing.TASK_LABELS[e.task])
st.caption(f"{e.num_samples} x {e.num_frames} frames ({e.num_frames / CLIP_FPS:.1f} s at {CLIP_FPS:g} fps) from "
           f"**{run.name}**, seed {e.seed}, {e.sampler}, {e.windows} window(s), {e.seconds:.1f} s; given motion: "
           f"{run.source}; {int(e.known.sum())} of {e.known.size} frame-joints held.")
player.show(editing.panels(run), "edit.animation", fps=CLIP_FPS)

st.subheader("Seams")
rows = editing.seam_rows(run.seams)
if rows:
    st.caption("Velocity change at each joint where generated frames meet given ones (or two windows meet), "
               "against the same statistic over the clip's own frames: ratio to the clip's per-joint median "
               "(mean over joints), where it falls in the clip's distribution, and joints above the clip's "
               "95th percentile. A seam as smooth as the clip has ratio ~1, percentile ~50.")
    st.dataframe(rows, key="edit.seams", hide_index=True)
bones = editing.bone_rows(run.seams)
if bones:
    st.caption("No frame seam: the bones between kept and regenerated joints, against their length in the clip.")
    st.dataframe(bones, key="edit.bones", hide_index=True)
st.subheader("Generated part: the six metrics")
mrows = editing.metric_rows(run.metrics)
if mrows:
    st.caption(f"Only the generated frames and joints ({run.metrics['frames']} frames x "
               f"{len(run.metrics['joints'])} joints, in pieces of {run.metrics['piece_frames']}), beside the same "
               "part of the clip's windows (stride 5). Ratios below 1 mean editing damped the motion.")
    st.dataframe(mrows, key="edit.metrics", hide_index=True)
ui.export_buttons("edit", e.clips(), run.titles(), run.base, fps=int(CLIP_FPS))
