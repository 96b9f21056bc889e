"""Streamlit glue shared by the pages: cached models and clips, pickers, errors, export buttons.

The only module of motionlab.lab that imports streamlit (besides player.py, which does so inside its
Streamlit functions). Models are cached with st.cache_resource
keyed by path + mtime + size: they are in eval mode and only used under inference_mode, so one
copy serves every session. Sampling results stay in st.session_state (see results.py; every key is in keys.py).
"""
from __future__ import annotations

from typing import Callable

import atexit
import functools
import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from motionlab.formats.checkpoints import LoadedModel, load_model
from motionlab.data.clip import Clip
from motionlab.data.clipset import NamedClip, named
from motionlab.data.demo import demo_clip
from motionlab.core import autotune
from motionlab.errors import MotionlabError, one_line
from motionlab.core.samplers import SamplerChoice
from motionlab.core.samplers import REGISTRY
from motionlab.evaluation.spec_reference import SPEC_RUNS
from motionlab.lab import access, catalog, config, datasets, exports, figures, jobs, player, scrubber
from motionlab.pipeline.defaults import Default
from motionlab.pipeline.evaluating import judged_rank
from motionlab.lab.keys import (UPLOADED_CLIP, USE_UPLOAD, default_for_key, param_key, per_checkpoint_key,
                                precision_key, sampler_key, steps_key)


@st.cache_resource(max_entries=6, show_spinner=False)  # model_for shows one, on the script's thread only
def _load_model(path: str, mtime_ns: int, size: int) -> LoadedModel:
    lm = load_model(path)
    _loaded.add((path, mtime_ns, size))
    return lm


_loaded: set = set()  # keys loaded once in this process (warm_sampling loads on a thread of its own)


def _model_key(entry: catalog.CheckpointEntry) -> tuple:
    """The file version a loaded model is kept under: a run's last.pt is rewritten every epoch."""
    try:
        s = os.stat(entry.path)
    except OSError as e:
        raise MotionlabError(f"{entry.name}: {e.strerror or 'cannot be read'}") from None
    return entry.path, s.st_mtime_ns, s.st_size


def model_for(entry: catalog.CheckpointEntry) -> LoadedModel:
    """The cached model of a checkpoint entry; CheckpointError (one line) when it cannot load."""
    key = _model_key(entry)
    if key in _loaded or threading.current_thread().name == WARM_THREAD:
        return _load_model(*key)
    with st.spinner("Loading checkpoint…"):
        return _load_model(*key)


def entries() -> list[catalog.CheckpointEntry]:
    return catalog.discover(config.checkpoint_dirs(), config.runs_dir())


def where_checkpoints_go() -> str:
    dirs = ", ".join(config.display_path(d) for d in config.checkpoint_dirs())
    return (f"No usable checkpoint found. Shipped checkpoints go in {dirs} as <tag>/model.pt; "
            f"training runs write {config.display_path(config.runs_dir())}/NAME/best.pt "
            "(start one on the Training page or with `python -m motionlab.train ... --out runs/NAME`).")


def current(key: str, fallback):
    """A keyed widget's default: its value now, else `fallback`. Streamlit sends a widget's default with it,
    and a browser that mounts the widget afresh (when a rerun overtook the one that set the value through
    st.session_state) shows that default and sends it back: so the default must be the value, never the
    first option or the minimum (it was: the Sample page drew with s_churn 0, s_tmax 0 after one press)."""
    return st.session_state.get(key, fallback)


def keep_valid(key: str, options, multi: bool = False) -> None:
    """Drop a remembered widget value that is no longer among the options (file removed, new result)."""
    if key not in st.session_state:
        return
    v = st.session_state[key]
    opts = set(options)
    if multi:
        if not isinstance(v, list) or any(x not in opts for x in v):
            st.session_state[key] = [x for x in (v if isinstance(v, list) else []) if x in opts]
    elif v not in opts:
        del st.session_state[key]


def show_broken(broken: list[catalog.CheckpointEntry]) -> None:
    if not broken:
        return
    with st.expander(f"{len(broken)} broken checkpoint file(s), not selectable"):
        for e in broken:
            st.warning(f"**{e.name}** (broken): {e.error}")


def _split(all_entries) -> tuple[list, list]:
    """(usable, broken) entries; with none usable, says where checkpoints go."""
    all_entries = entries() if all_entries is None else all_entries
    ok = [e for e in all_entries if e.ok]
    if not ok:
        st.info(where_checkpoints_go())
    return ok, [e for e in all_entries if not e.ok]


def _preferred(ok: list[catalog.CheckpointEntry]) -> list[str]:
    """Paths, the shipped checkpoint closest to the data first (its precomputed judged set:
    pipeline.evaluating.judged_rank), then the other shipped ones by training, then runs."""
    def key(e):
        rank = judged_rank(e.path) if e.kind == "shipped" else None
        return e.kind == "shipped", rank is not None, rank or (0, 0.0), e.epoch
    return [e.path for e in sorted(ok, key=key, reverse=True)]


def best_and_spec_pair(all_entries=None) -> list[str]:
    """Compare's default: the checkpoint closest to the data beside the spec's longest-trained run."""
    ok, _ = _split(all_entries)
    pref = _preferred(ok)
    spec = [e for e in ok if e.kind == "shipped" and e.tag in SPEC_RUNS]
    longest = max(spec, key=lambda e: SPEC_RUNS[e.tag][0][3], default=None)
    return list(dict.fromkeys(pref[:1] + ([longest.path] if longest else [])))


def checkpoint_picker(key: str, all_entries=None, label: str = "Checkpoint") -> catalog.CheckpointEntry | None:
    """Select one usable checkpoint by path; broken files are listed, never offered."""
    ok, broken = _split(all_entries)
    by = {e.path: e for e in ok}
    if ok:
        keep_valid(key, by)
        path = st.selectbox(label, list(by), format_func=lambda p: by[p].label, key=key,
                            index=list(by).index(current(key, _preferred(ok)[0])),
                            help="Shipped checkpoints first, then run folders; each with its training config "
                                 "(window/stride/limit), epoch and best loss.")
    show_broken(broken)
    return by.get(path) if ok else None


def checkpoints_multi(key: str, all_entries=None, label: str = "Checkpoints", default_max: int = 2,
                      default: list[str] | None = None):
    ok, broken = _split(all_entries)
    by = {e.path: e for e in ok}
    paths = []
    if ok:
        keep_valid(key, by, multi=True)
        pref = _preferred(ok)
        default = [p for p in default or [] if p in by] or [p for p in pref if by[p].kind == "shipped"] or pref
        paths = st.multiselect(label, list(by), format_func=lambda p: by[p].label, key=key,
                               default=current(key, default[:default_max]))
    show_broken(broken)
    return [by[p] for p in paths if p in by]


def error(e: BaseException) -> None:
    """One line, no traceback."""
    st.error(one_line(e))


# -- who may change things -------------------------------------------------------------------

def write_access() -> access.Access:
    """May this visitor start/stop training and upload clips? From the session's WebSocket request (its client
    address and headers) and the server's settings; access.py says the rules."""
    from streamlit import config as st_config
    from streamlit.runtime import context as st_context
    try:  # the raw address: st.context.ip_address reports a loopback peer as None, like an unknown one
        ctx = st_context._get_client_context()
        peer, headers = getattr(ctx, "remote_ip", None), list(getattr(ctx, "headers", None) or ())
    except Exception:  # noqa: BLE001 - unknown is not local
        peer, headers = None, []
    if not isinstance(peer, str):
        # AppTest runs the script in the test's own process with a mock runtime: that visitor is this machine
        testing = peer is not None and st_config.get_option("global.appTest")
        peer, headers = ("127.0.0.1" if testing else None), []
    return access.decide(st_config.get_option("server.address"), peer,
                         xsrf=bool(st_config.get_option("server.enableXsrfProtection")),
                         cors=bool(st_config.get_option("server.enableCORS")),
                         headers=headers, allowed_hosts=st_config.get_option("server.allowedHosts"))


# -- clips -------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _demo() -> Clip:
    return demo_clip()


@st.cache_resource(max_entries=8, show_spinner=False)
def _named(fp: str, name: str, _clip: Clip) -> NamedClip:
    return named(_clip, name)  # hashes the clip's JSON once, not on every rerun


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_clips(key: tuple) -> list[NamedClip]:
    return datasets.load(key)


def reference_clips(show_hint: bool = True) -> tuple[list[NamedClip], str, bool]:
    """(clips, name, is_real): the configured dataset (one clip or several), or the demo clip with a hint."""
    specs = config.clip_specs()
    missing = config.missing_spec()
    if missing is None:
        try:
            clips = _load_clips(datasets.file_key(specs))
            return clips, ", ".join(config.display_path(p) for p in specs), True
        except MotionlabError as e:
            if show_hint:
                error(e)
                st.info("Showing the procedural demo clip instead.")
    elif show_hint:
        st.info(config.missing_clip_hint(missing))
    return [_named(fingerprint(_demo()), "demo", _demo())], "demo", False


def active_clips(show_hint: bool = True) -> tuple[list[NamedClip], str, bool]:
    """The uploaded clip when one is loaded and in use (Dataset page), else the reference dataset."""
    up = uploaded_clip()
    if up is not None and st.session_state.get(USE_UPLOAD, True):
        return [_named(fingerprint(up["clip"]), up["name"], up["clip"])], up["name"], True
    return reference_clips(show_hint)


def real_clip_picker(key: str) -> tuple[Clip, str]:
    """(clip, panel label) that real windows come from: the only clip, or the one picked here."""
    clips, _, _ = active_clips()
    if len(clips) == 1:
        return clips[0].clip, "real"
    names = datasets.short_names(clips)
    keep_valid(key, names)
    pick = st.selectbox("Real windows from", names, key=key, help="The reference dataset has several clips.")
    return clips[names.index(pick)].clip, f"real {pick}"


def uploaded_clip() -> dict | None:
    v = st.session_state.get(UPLOADED_CLIP)
    return v if isinstance(v, dict) and isinstance(v.get("clip"), Clip) else None


@st.cache_data(max_entries=64, show_spinner="Computing baseline metrics…")
def _summary(fp: str, window: int, stride: int, limit: int, _clips) -> dict:
    return datasets.summarize(_clips, window, stride, limit)


def dataset_summary(clips: list[NamedClip], window: int, stride: int, limit: int) -> dict:
    """datasets.summarize, cached across sessions by the clips' content (the Dataset page's baseline)."""
    return _summary("|".join(fingerprint(c.clip) for c in clips), int(window), int(stride), int(limit), clips)


def active_clip(show_hint: bool = True) -> tuple[Clip, str, bool]:
    """active_clips for pages that show one clip: its first clip."""
    clips, name, is_real = active_clips(show_hint)
    return clips[0].clip, (name if len(clips) == 1 else clips[0].name), is_real


def fingerprint(clip: Clip) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(np.ascontiguousarray(clip.xy).tobytes())
    h.update("|".join(clip.joints).encode())
    return h.hexdigest()


# -- figures and exports -----------------------------------------------------------------------

PLOTLY_CONFIG = {"displaylogo": False, "scrollZoom": False}


def use_sampler(prefix: str, choice: SamplerChoice, timesteps: int) -> None:
    """Set a page's sampler widgets (sampler, steps and every setting of that sampler) to `choice`."""
    st.session_state[sampler_key(prefix)] = choice.name
    st.session_state[steps_key(prefix)] = choice.steps_for(timesteps)
    for q in REGISTRY[choice.name].params:
        st.session_state[param_key(prefix, choice.name, q.name)] = dict(choice.params).get(q.name, q.default)


def sampling_controls(prefix: str, default: Default, timesteps: int, precision_default: str = "auto",
                      per_checkpoint: bool = False) -> tuple[SamplerChoice | None, str]:
    """Sampler, steps, the sampler's own settings and precision; returns (choice, requested precision).

    The widgets start at `default` (the checkpoint's faithful setting, motionlab.pipeline.defaults) and go
    back to it when the page's checkpoint, and so its default, changes. per_checkpoint (pages that sample
    several checkpoints): a toggle keeps each checkpoint's own faithful setting, returned as choice None.
    """
    d = default.choice
    mark = default_for_key(prefix)

    set_to = functools.partial(use_sampler, prefix, timesteps=timesteps)
    if st.session_state.get(mark) != (d.label(timesteps), timesteps):
        st.session_state[mark] = (d.label(timesteps), timesteps)
        set_to(d)
    if per_checkpoint and st.toggle("Each checkpoint's faithful sampler", value=current(per_checkpoint_key(prefix), True),
                                    key=per_checkpoint_key(prefix),
                                    help="Each checkpoint samples with the setting its sampler study chose "
                                         "(sampler.json beside it), or the fallback; off: one sampler for all."):
        precision = _precision_radio(prefix, precision_default)
        return None, precision
    options = sorted(set(config.step_options(timesteps)) | {d.steps_for(timesteps)})
    keep_valid(steps_key(prefix), options)
    c1, c2, c3 = st.columns([1.2, 1.5, 1])
    names = list(REGISTRY)
    name = c1.selectbox("Sampler", names, index=names.index(current(sampler_key(prefix), d.name)),
                        format_func=lambda n: REGISTRY[n].label, key=sampler_key(prefix),
                        help="; ".join(f"{c.label}: {c.about}" for c in REGISTRY.values()))
    steps = c2.select_slider("Steps", options, value=current(steps_key(prefix), d.steps_for(timesteps)),
                             key=steps_key(prefix))
    with c3:
        precision = _precision_radio(prefix, precision_default)
    b1, b2 = st.columns(2)
    b1.button(f"The spec's sampler (DDPM, all {timesteps} steps)", key=f"{prefix}.use_spec", on_click=set_to,
              args=(SamplerChoice("ddpm"),), type="tertiary", icon=":material/history_edu:")
    b2.button(f"This checkpoint's faithful setting ({d.label(timesteps)})", key=f"{prefix}.use_default",
              on_click=set_to, args=(d,), type="tertiary", icon=":material/tune:")
    params = {}
    for q in REGISTRY[name].params:
        k = param_key(prefix, name, q.name)
        params[q.name] = c2.slider(q.name, q.low, q.high, value=current(k, q.default), key=k, help=q.help)
    return SamplerChoice.of(name, None if steps >= timesteps else int(steps), **params), precision


def _precision_radio(prefix: str, precision_default: str) -> str:
    precisions = ["auto", "fp32", "bf16"]
    return st.radio("Precision", precisions, index=precisions.index(current(precision_key(prefix), precision_default)),
                    horizontal=True,
                    key=precision_key(prefix),
                    help="auto times fp32 and bf16 (and 1..N threads) on this machine at the shape it will run, "
                         "and keeps the fastest; bf16 is never taken where it is slower.")


def sampler_caption(choice: SamplerChoice | None, default: Default, timesteps: int) -> str:
    """What samples with what, and why: the line under the sampling controls."""
    if choice is None:
        return "Sampler: each checkpoint's faithful setting (its sampler study's pick, or the fallback)"
    label = choice.label(timesteps)
    if label == default.choice.label(timesteps):  # ddpm-20 and the whole ddpm-10 chain are one on 10 steps
        return f"Sampler: {label}, {default.why}"
    if choice.is_spec:
        return f"Sampler: {label}, the spec's ancestral DDPM chain (this checkpoint's faithful setting: " \
               f"{default.choice.label(timesteps)})"
    return f"Sampler: {label}, your choice (this checkpoint's faithful setting: {default.choice.label(timesteps)})"


def warm_sampling(entry: catalog.CheckpointEntry, num_samples: int, precision: str) -> None:
    """Load the model and start measuring precision and threads for this shape while the user looks at the
    page; a first load does not wait for the model (a press does, through the same cache). The thread
    starts a second after this script run ends, so it does not compete with the browser drawing the page
    on the same cores."""
    script = threading.current_thread()

    def warm():
        if script is not threading.current_thread():
            script.join(timeout=5)
            if _exiting.wait(WARM_AFTER_S):
                return
        try:
            lm = model_for(entry)
        except MotionlabError:
            return  # the Sample button reports it
        autotune.warm_async(lm.model, (num_samples, lm.model.cfg.in_channels, lm.window), precision,
                            config.torch_threads() or "auto")

    try:
        loaded = _model_key(entry) in _loaded
    except MotionlabError:
        return  # the Sample button reports it
    if loaded:
        warm()  # a cache hit: no thread
    elif not _exiting.is_set():
        th = threading.Thread(target=warm, name=WARM_THREAD, daemon=True)
        _warming[:] = [t for t in _warming if t.is_alive()] + [th]
        th.start()


WARM_THREAD = "motionlab-warm"
WARM_AFTER_S = 1.0  # the browser draws the page meanwhile, on the same cores
# a model load still running on a daemon thread at interpreter teardown aborts the process (exit 134), as
# autotune's measurements did: at exit, a warm-up that has not started never does, one that has is joined
_exiting = threading.Event()
_warming: list[threading.Thread] = []


@atexit.register
def _stop_warming() -> None:
    _exiting.set()
    for th in list(_warming):
        th.join(timeout=10)


def warm_chart_code() -> None:
    """Let the browser fetch and compile Streamlit's chart and table code once the page is idle: the
    first chart of a tab otherwise waits for it (bench/page_open.py --think)."""
    if _CHUNKS:
        _warm(key="warm-charts", data={"chunks": _CHUNKS})


def _chunks(*names: str) -> list[str]:
    js = Path(st.__file__).parent / "static" / "static" / "js"
    return sorted(p.name for n in names for p in js.glob(f"{n}.*.js"))


# none found (a Streamlit that names them otherwise): nothing is warmed, nothing breaks
_CHUNKS = _chunks("PlotlyChart", "DataFrame", "StreamlitSyntaxHighlighter")
_warm = st.components.v2.component("motionlab_warm_charts", js=(Path(__file__).parent / "static" / "warm.js").read_text())


def plotly(fig: dict, key: str) -> None:
    st.plotly_chart(figures.streamlit_figure(fig), key=key, config=PLOTLY_CONFIG)


_scrubber = st.components.v2.component("motionlab_denoise_scrubber", js=scrubber.JS, css=scrubber.CSS)


def scrubber_step(key: str) -> int | None:
    """The step a scrubber last settled on in this session, if any (to start a redrawn one there)."""
    try:
        step = st.session_state[key]["step"]
    except (KeyError, TypeError):
        return None
    return int(step) if isinstance(step, (int, float)) else None


def denoise_scrubber(payload: dict, key: str) -> int:
    """Mount the browser-side denoising view (scrubber.payload); returns the step it settled on.

    Scrubbing and playing run in the browser; only a release (or the end of a replay) sends the
    step back, which reruns the enclosing fragment.
    """
    settled = payload["steps"][payload["start"]]
    res = _scrubber(key=key, data=payload, default={"step": settled}, on_step_change=lambda: None)
    step = getattr(res, "step", None)
    return int(step) if isinstance(step, (int, float)) else settled


def export_buttons(prefix: str, clips: list[Clip], titles: list[str], base: str, fps: int = 30) -> None:
    """GIF, MP4 and JSON downloads of what is shown, then the pose-tool formats (OpenPose JSON, pose
    images, CSV, NPY) at a chosen frame rate; files are made only when a button is clicked."""
    if not clips:
        return
    base = exports.slug(base)
    clips, titles = list(clips), list(titles)
    what = "clip" if len(clips) == 1 else f"{len(clips)} clips side by side"
    c0, c00 = st.columns([1, 3])
    out_fps = c0.number_input("Export frame rate (fps)", min_value=1.0, max_value=120.0, value=float(fps), step=1.0,
                              key=f"{prefix}.export_fps",
                              help=f"The clips are {fps:g} fps; another rate resamples them (linear in time). "
                                   "Every file name below carries its rate.")
    out_fps = float(out_fps)
    layout = c00.radio("OpenPose layout", list(exports.LAYOUTS), horizontal=True, key=f"{prefix}.export_layout",
                       help="BODY_25: OpenPose's default output; COCO_18: what ControlNet's openpose annotator uses. "
                            "Points our skeleton lacks (eyes, ears, small toes) are written as not detected.")
    vfps = max(1, round(out_fps))
    c1, c2, c3 = st.columns(3)
    c1.download_button(f"GIF ({what}, {vfps} fps)",
                       data=lambda: exports.video(exports.at_fps(clips, out_fps, fps), "gif", titles, vfps),
                       file_name=f"{base}.gif", mime=exports.MIME["gif"], key=f"{prefix}.export_gif",
                       on_click="ignore", icon=":material/gif_box:")
    c2.download_button(f"MP4 ({what}, {vfps} fps)",
                       data=lambda: exports.video(exports.at_fps(clips, out_fps, fps), "mp4", titles, vfps),
                       file_name=f"{base}.mp4", mime=exports.MIME["mp4"], key=f"{prefix}.export_mp4",
                       on_click="ignore", icon=":material/movie:")
    ext = "json" if len(clips) == 1 else "zip"
    c3.download_button(("JSON clip" if len(clips) == 1 else f"JSON clips (zip of {len(clips)})") + f", {fps:g} fps",
                       data=lambda: exports.clips_json(clips, titles)[0], file_name=f"{base}.{ext}",
                       mime=exports.MIME[ext], key=f"{prefix}.export_json", on_click="ignore",
                       icon=":material/data_object:")
    tag = exports.fps_tag(out_fps)
    d1, d2, d3, d4 = st.columns(4)
    for col, fmt, label, icon in ((d1, "openpose", f"OpenPose JSON ({layout})", ":material/accessibility_new:"),
                                  (d2, "pose_png", "Pose images (PNG, ControlNet)", ":material/image:"),
                                  (d3, "csv", "CSV", ":material/table:"), (d4, "npy", "NPY", ":material/grid_on:")):
        col.download_button(f"{label}, {out_fps:g} fps",
                            data=lambda fmt=fmt: exports.pose_zip(clips, titles, fmt, out_fps, fps, layout),
                            file_name=f"{base}_{fmt}_{tag}.zip", mime=exports.MIME["zip"],
                            key=f"{prefix}.export_{fmt}", on_click="ignore", icon=icon)


def preview_image(xy: np.ndarray, joints) -> np.ndarray:
    """A still of the middle frame of up to 4 clips (n, W, J, 2), for the live sampling preview."""
    from motionlab.formats.render import render_grid
    mid = xy.shape[1] // 2
    clips = [Clip(tuple(joints), np.ascontiguousarray(x[mid:mid + 1], np.float32)) for x in xy]
    return render_grid(clips, size=180, cols=len(clips))[0]


def project_path(p) -> str:
    return config.display_path(Path(p))


def job_running(name: str) -> bool:
    job = jobs.get_job(st.session_state, name)
    return job is not None and job.running


def job_button(name: str, text: str, make: Callable[[], jobs.JobSpec], disabled: bool = False, **button_kw) -> None:
    """The page's button for its background job: pressed, make() describes the work (it may load a model
    and raise MotionlabError), the lab's one door admits it (jobs.submit: cost ceiling, slots, queue),
    and the page reruns to show progress. Errors are one line."""
    if st.button(text, key=f"{name}.run", disabled=disabled or job_running(name), **button_kw):
        try:
            jobs.submit(st.session_state, name, make())
            st.rerun()  # draw the button disabled while the job runs
        except MotionlabError as e:
            error(e)


POLL_S = 0.25  # progress refresh; a job's end is seen at once (job_panel waits on it)


def job_panel(name: str, preview_caption: str = "live preview: predicted x̂0, middle frame"):
    """Progress of the session's `name` job; returns the finished job once (then forgets it).

    While the job waits or runs, a fragment polls it (place in the queue, progress bar, live preview,
    cancel button) and reruns the page when it ends. Errors show as one st.error line.
    """
    job = jobs.get_job(st.session_state, name)
    if job is None:
        return None
    if job.running:
        runs = []

        def poll():
            if runs:  # a poll, not the page's own run (whose rest would wait): watch for the end
                job.wait(POLL_S)  # GIL released; returns at the job's end, so the result shows at once
            runs.append(1)
            if not job.running:
                st.rerun()
            if job.queued:
                place, waiting = jobs.DOOR.position(job)
                st.progress(0.0, text=f"{job.label}: waiting for a free slot, {place} of {waiting} in the queue "
                                      f"({jobs.slots()} job(s) run at once on this machine)")
            else:
                st.progress(job.fraction, text=f"{job.label}: {job.text}")
            joints = job.meta.get("joints")
            if job.preview is not None and joints:
                st.image(preview_image(job.preview, joints), caption=preview_caption)
            if joints:  # skeletons follow: the browser compiles plotly.js while the model works
                player.preload(f"{name}.plotly")
            if st.button("Cancel", key=f"{name}.cancel", icon=":material/cancel:"):
                job.cancel()
                st.caption("Cancelling after the current step…")
        st.fragment(poll, run_every=POLL_S)()
        return None
    jobs.pop_job(st.session_state, name)
    if job.error:
        st.error(job.error)
        return None
    if job.cancelled:
        st.info(f"{job.label}: cancelled.")
        return None
    return job


def settings_widgets(fields, prefix: str, per_row: int = 4) -> dict:
    """One widget per declared setting (motionlab.settings.form_fields), in rows; {name: value}."""
    out = {}
    for i in range(0, len(fields), per_row):
        for col, f in zip(st.columns(per_row), fields[i:i + per_row]):
            s, key = f.setting, f"{prefix}.{f.name}"
            if f.kind == "choice":
                opts = list(s.options())
                out[f.name] = col.selectbox(f.label, opts, index=opts.index(f.default), key=key, help=s.help)
            elif f.kind == "bool":
                out[f.name] = col.checkbox(f.label, value=f.default, key=key, help=s.help)
            elif f.kind == "int":
                out[f.name] = int(col.number_input(f.label, value=int(f.default), key=key, help=s.help, step=1,
                                                   min_value=None if s.low is None else int(s.low),
                                                   max_value=None if s.high is None else int(s.high)))
            elif f.kind == "float":
                out[f.name] = float(col.number_input(f.label, value=float(f.default), key=key, help=s.help,
                                                     format="%.5g"))
            else:
                out[f.name] = col.text_input(f.label, value=str(f.default), key=key, help=s.help).strip()
    return out
