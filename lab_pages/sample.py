"""Sample: draw clips from a checkpoint, watch them denoise, scrub the kept trajectory."""
import numpy as np
import streamlit as st

from motionlab.lab import config, figures, jobs, keys, player, results, scrubber, ui
from motionlab.pipeline.defaults import faithful_default

st.header("Sample")
entry = ui.checkpoint_picker("sample.checkpoint")
if entry is None:
    st.stop()

with st.expander(f"About {entry.tag}", expanded=False):
    st.table({k: [str(v)] for k, v in entry.facts().items()})
    if entry.card:
        st.markdown(entry.card.read_text(errors="replace")[:20_000])

c1, c2 = st.columns([1, 2])
seed = c1.number_input("Seed", min_value=0, max_value=2**31 - 1, value=42, step=1, key="sample.seed")
n = c2.slider("Number of samples", 1, config.MAX_SAMPLES, 8, key="sample.num_samples")
default = faithful_default(entry.path)
sampler, precision = ui.sampling_controls("sample", default, entry.timesteps)
st.caption(ui.sampler_caption(sampler, default, entry.timesteps)
           + f", with the checkpoint's {entry.weights_label}. The denoising trajectory is kept in this session (float16, capped at "
           f"{config.trajectory_budget_bytes() // 2**20} MB) for the step slider below.")

if not ui.job_running("sample"):
    ui.warm_sampling(entry, int(n), precision)


def sample_job() -> jobs.JobSpec:
    lm, budget = ui.model_for(entry), config.trajectory_budget_bytes()
    return jobs.JobSpec(
        lambda report: results.run_sampling(lm, int(n), int(seed), precision, budget=budget, sampler=sampler,
                                            on_progress=jobs.step_reporter(report, "denoising"), name=entry.name,
                                            tag=entry.tag, mtime_ns=entry.mtime_ns),
        f"Sampling {entry.tag}", int(n) * sampler.steps_for(entry.timesteps), {"joints": lm.joints})


ui.job_button("sample", "Sample", sample_job, type="primary", icon=":material/play_arrow:")

done = ui.job_panel("sample")
if done is not None:
    results.store_result(st.session_state, done.result)
    for k in (keys.SAMPLE_SHOW, keys.SAMPLE_DENOISE_VIEW, keys.SAMPLE_DENOISE_SAMPLE):
        st.session_state.pop(k, None)

result = results.get_result(st.session_state)
if result is None:
    if not ui.job_running("sample"):
        st.info("Choose a checkpoint and settings, then press **Sample**.")
    st.stop()

st.subheader("Samples")
st.caption(f"{result.num_samples} samples from **{result.name}**, seed {result.seed}, {result.sampler}, "
           f"{result.tuning or result.precision}, {result.window} frames, {result.seconds:.1f} s, "
           f"{'EMA' if result.weights == 'ema' else 'raw'} weights.")
if result.key != results.entry_key(entry, seed, n, sampler, precision):
    st.caption("These samples come from earlier settings; press **Sample** to draw with the ones above.")
if not np.isfinite(result.pixels).all():
    st.warning("Some samples contain NaN or inf values; those joints are left out of the drawing.")

options = list(range(result.num_samples))
ui.keep_valid(keys.SAMPLE_SHOW, options, multi=True)
show = st.multiselect("Samples to show", options, default=ui.current(keys.SAMPLE_SHOW, options[:8]),
                      format_func=lambda i: f"#{i}", key=keys.SAMPLE_SHOW)
if show:
    panels = figures.panels_from_pixels(result.pixels[show], result.joints, result.titles(show))
    player.show(panels, "sample.animation")
    ui.export_buttons("sample", result.clips(show), result.titles(show),
                      f"{result.tag}_seed{result.seed}" + (f"_{show[0]}" if len(show) == 1 else ""))
else:
    st.info("Pick at least one sample to show.")


@st.fragment
def denoising(result: results.SampleResult):
    st.subheader("Denoising trajectory")
    if result.trajectory is None:
        st.info("This result kept no trajectory.")
        return
    ui.keep_valid(keys.SAMPLE_DENOISE_SAMPLE, range(result.num_samples))
    i = st.selectbox("Sample", range(result.num_samples), format_func=lambda i: f"#{i}", key=keys.SAMPLE_DENOISE_SAMPLE)
    data = scrubber.payload(result, i, ui.scrubber_step(keys.SAMPLE_DENOISE_VIEW))
    step = ui.denoise_scrubber(data, keys.SAMPLE_DENOISE_VIEW)
    t = result.trajectory
    st.caption(f"{len(data['steps'])} kept states of {result.sampler}, frames {', '.join(map(str, data['frames']))}: "
               f"{data['bytes'] / 1024:.0f} KB sent once. The slider and **Play denoising** run in your browser "
               "(no model, no server). Each row is fitted to its own box (its size at the left): noise near T spans "
               "far more pixels than the dancer. "
               "The whole clip below follows the step you release the slider on.")
    kept, xt, x0 = result.denoise_state(step, i)
    panels = [figures.Panel(f"x_t at step {kept} (noisy input)", xt, result.joints),
              figures.Panel(f"x̂0 predicted at step {kept}", x0, result.joints)]
    player.show(panels, "sample.denoise", cols=2, shared_bounds=False)
    st.caption(f"The trajectory is kept in this session (float16, {t.nbytes / 2**20:.1f} MB). "
               "Each panel has its own axes: x_t spreads wide near T.")


denoising(result)
