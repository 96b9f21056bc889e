"""Training: chart any run's metrics.jsonl (live while written) and start / stop background runs."""
import time
from pathlib import Path

import streamlit as st

from motionlab.errors import MotionlabError
from motionlab.lab import access, catalog, config, figures, keys, processes, ui

st.header("Training")
runs_dir = config.runs_dir()
acc = ui.write_access()

flash = st.session_state.pop(keys.TRAINING_FLASH, None)
if flash:
    st.success(flash)

files = [str(p) for p in processes.list_metric_files(runs_dir, config.checkpoint_dirs())]
pending = st.session_state.pop(keys.TRAINING_SELECT, None)
if pending in files:
    st.session_state[keys.TRAINING_RUN] = pending
ui.keep_valid(keys.TRAINING_RUN, files)
if keys.TRAINING_RUN not in st.session_state and files:  # the newest run, else the longest shipped curve
    st.session_state[keys.TRAINING_RUN] = str(processes.default_metric_file([Path(f) for f in files], runs_dir))


def show_run(path: str, was_live: bool) -> None:
    run = processes.run_summary(path)
    if was_live and not run.live:
        st.rerun()  # the run ended: redraw the page once, without the timer
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("State", run.state_label,
              help="external: the run was not started from this lab (no lab_process.json), so only its log is shown")
    c2.metric("Epochs logged", run.epochs_text)
    c3.metric("Best loss", run.loss_text("best"))
    c4.metric("Last loss", run.loss_text("last"))
    if run.progress is not None:
        st.progress(run.progress, text=f"epoch {run.done} of {run.planned}")
    run_dir, state, records = run.run_dir, run.state, run.records
    if records:
        ui.plotly(figures.loss_figure(records, f"loss · {ui.project_path(path)}"), "training.loss")
        smf = figures.sample_metrics_figure(records, catalog.run_baseline(run_dir))
        if smf is not None:
            ui.plotly(smf, "training.sample_metrics")
        else:
            st.caption("No sample metrics in this log (train with --monitor-every N to record them).")
    else:
        st.info("No epochs logged yet." + (" The run is starting…" if run.live else ""))
    if state != "none":
        st.caption(run.process_text)
        if run.live:
            b1, b2 = st.columns(2)
            # Streamlit discards a disabled widget's value server-side, so a forged click does nothing either
            off = {"disabled": not acc.writes, "help": acc.reason or None}
            if b1.button("Stop (save and exit after this epoch)", key="training.stop", icon=":material/stop:", **off):
                try:
                    processes.stop_run(run_dir)
                    st.rerun(scope="fragment")
                except MotionlabError as e:
                    ui.error(e)
            if state == "stopping" and b2.button("Kill now", key="training.kill", icon=":material/dangerous:", **off):
                try:
                    processes.stop_run(run_dir, force=True)
                    st.rerun(scope="fragment")
                except MotionlabError as e:
                    ui.error(e)
        st.code(processes.log_tail(run_dir, 25) or "(log is empty)", language=None)
    if run.live:
        st.caption("Updating every 2 s while the run is alive.")


if files:
    path = st.selectbox("Run", files, index=files.index(ui.current(keys.TRAINING_RUN, files[0])),
                        format_func=lambda p: ui.project_path(Path(p).parent), key=keys.TRAINING_RUN)
    live = processes.status(Path(path).parent)["state"] in processes.LIVE_STATES
    st.fragment(show_run, run_every=2.0 if live else None)(path, live)
else:
    st.info(f"No runs yet in {ui.project_path(runs_dir)}. Start one below, or run "
            "`python -m motionlab.train ... --out runs/NAME`.")

# -- start a run -------------------------------------------------------------------------------
st.subheader("Start a training run")
st.caption("Runs in the background as `python -m motionlab.train … --out runs/NAME` and keeps going when you "
           f"leave or reload the page. At most {config.max_training_runs()} at a time: the CPUs are shared, so "
           "keep models small here and leave long runs to the GPU scripts.")
refusal = acc.reason or access.low_disk(runs_dir, access.min_free_bytes(), "start a training run")
if refusal:
    st.warning(refusal, icon=":material/block:")
refs = config.clip_specs()
ref_name = ", ".join(ui.project_path(p) for p in refs)
sources = {"reference": f"reference data ({ref_name})" if config.missing_spec() is None
           else f"reference data ({ref_name}, missing: demo clip instead)", "demo": "procedural demo clip"}
if ui.uploaded_clip() is not None:
    sources["uploaded"] = f"uploaded clip ({ui.uploaded_clip()['name']})"
if st.session_state.pop(keys.TRAINING_RESET_NAME, False):
    st.session_state.pop(keys.TRAINING_NAME, None)
default_name = st.session_state.setdefault(keys.TRAINING_DEFAULT_NAME, time.strftime("lab_%m%d_%H%M%S"))
with st.form("training.form"):
    c1, c2 = st.columns([2, 3])
    name = c1.text_input("Run name (folder under runs/)", value=default_name, key=keys.TRAINING_NAME, max_chars=64)
    src = c2.selectbox("Data", list(sources), format_func=sources.get, key="training.data")
    values = ui.settings_widgets(processes.FORM, "training")
    resume = st.checkbox("Resume from last.pt if the folder has one", key="training.resume")
    submitted = st.form_submit_button("Start training", key="training.start", type="primary",
                                      icon=":material/rocket_launch:", disabled=bool(refusal),
                                      help=refusal or None)

if submitted:
    try:
        run_name = processes.validate_name(name)
        opts = processes.TrainOptions(resume=bool(resume), **values)
        opts.validate()
        upload = ui.uploaded_clip() if src == "uploaded" else None
        opts.data = processes.data_option(src, refs, config.missing_spec() is None)
        rec = processes.start_run(runs_dir, run_name, opts, max_running=config.max_training_runs(),
                                  clip=upload["clip"] if upload else None, min_free_bytes=access.min_free_bytes())
        st.session_state[keys.TRAINING_SELECT] = str(runs_dir / run_name / "metrics.jsonl")
        st.session_state[keys.TRAINING_FLASH] = f"Started {run_name} (pid {rec['pid']})."
        st.session_state.pop(keys.TRAINING_DEFAULT_NAME, None)
        st.session_state[keys.TRAINING_RESET_NAME] = True
        st.rerun()
    except (MotionlabError, OSError) as e:
        ui.error(e)
