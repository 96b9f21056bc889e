"""The Streamlit lab's logic, kept testable without Streamlit.

Run the app with ``streamlit run lab_app.py``. Pages live in ``lab_pages/`` and stay thin (the folder is
not called ``pages/``: Streamlit would treat that as a second, file-based navigation and serve a
deep link such as /training without lab_app.py on a fresh server):

    config.py     folders and limits (environment variables below)
    catalog.py    checkpoint discovery with cached summaries (broken files listed, never raised)
    keys.py       every st.session_state key the lab reads, writes or pops
    results.py    per-session sampling results: pixels, the kept denoising trajectory, the pixel cache
    jobs.py       background jobs (sampling, edits) on a thread of their own; progress and cancel
    uploads.py    uploaded clips, validated once per file
    panels.py     the Compare page's panels: samples, real windows, nearest real windows
    datasets.py   the reference dataset (one clip or several): loading, per-clip windows, table rows
    figures.py    plotly figure builders (plain dicts; skeleton animations with shared frames)
    scrubber.py   the denoising view's payload (kept states at a few moments, sent to the browser once);
                  static/scrubber.js draws it and scrubs in the browser
    tables.py     metrics rows, ratio-to-baseline, the spec's table layout, CSV / markdown
    exports.py    GIF / MP4 / JSON bytes for the download buttons; pose-tool zips (motionlab.formats.export)
    imports.py    pose files (MediaPipe, COCO-17, OpenPose, MMPose) -> the session's clip (Dataset page)
    editing.py    the Edit page: run an edit (motionlab.edit) as a job, its panels, seam and metric rows
    processes.py  background training runs (python -m motionlab.train) tracked in lab_process.json; a run's summary
    access.py     who may upload and start/stop runs (server address, visitor's address), disk floor
    sampler_advice.py  per checkpoint, whether the fast default sampler matched ddpm-400 in docs/SAMPLERS.json
    ui.py         the only Streamlit glue: cached models and dataset summaries, pickers, errors, exports

Environment variables (read on every page run, so tests can point them at tmp folders):

    MOTIONLAB_CHECKPOINT_DIRS   shipped checkpoint folders, os.pathsep-separated (default: checkpoints)
    MOTIONLAB_RUNS_DIR          training run folders (default: runs)
    MOTIONLAB_CLIP              the reference clip (default: data/uptown_funk.json; a missing file
                                makes the pages fall back to the demo clip with a hint); also a
                                folder of clips, a .txt manifest, or several, os.pathsep-separated
    MOTIONLAB_TRAJECTORY_MB     per-session cap for the kept denoising trajectory (default 64)
    MOTIONLAB_MAX_TRAINING_RUNS concurrent training runs the lab may start (default 2)
    MOTIONLAB_TORCH_THREADS     torch intra-op threads for sampling in the app (default: measured
                                once per process by motionlab.core.autotune, 1..N)
    MOTIONLAB_ALLOW_REMOTE_WRITES  1: visitors from other hosts may upload and start/stop runs
                                (default: only this machine's, when the server listens beyond loopback)
    MOTIONLAB_MIN_FREE_MB       free space the runs volume needs to start a run or take an upload (1024)

Widget keys (stable; tests drive the app through them):

    Sampling (prefix sample., compare. or metrics.): PREFIX.sampler (selectbox ddpm/ddim/dpmpp),
             PREFIX.steps (select_slider of step counts), PREFIX.precision ("auto"/"fp32"/"bf16"),
             PREFIX.use_spec (button: DDPM over the full chain)
    Sample   sample.checkpoint (selectbox of checkpoint paths), sample.seed, sample.num_samples,
             sample.run (button), sample.show (multiselect of
             sample indices), sample.denoise_sample, sample.denoise_view (the browser-side denoising
             view, st.components.v2; its state {"step": level} is the step it settled on),
             sample.export_gif / sample.export_mp4 / sample.export_json (download buttons),
             plotly charts sample.animation, sample.denoise
    Compare  compare.checkpoints (multiselect of paths), compare.seed, compare.num_samples,
             compare.real_clip (selectbox, several clips only), compare.real_count,
             compare.real_start, compare.run (button),
             compare.panels (multiselect of panel names), compare.nearest (toggle: each sample
             beside its nearest real window), compare.export_gif / _mp4 / _json,
             plotly chart compare.animation
    Edit     edit.checkpoint, edit.task (radio: inbetween / continue / long / regen), edit.source
             ("clip" or "sample #i" of the Sample page), edit.from, edit.to, edit.context, edit.at,
             edit.length, edit.seconds, edit.overlap, edit.long_context (toggle), edit.part, edit.seed,
             edit.num_samples, edit.resample, edit.sampler / edit.steps / edit.precision, edit.run
             (button), plotly chart edit.animation, tables edit.seams / edit.bones / edit.metrics
    Exports  every page's export_buttons(prefix): PREFIX.export_fps, PREFIX.export_layout,
             PREFIX.export_gif / _mp4 / _json / _openpose / _pose_png / _csv / _npy
    Metrics  metrics.checkpoints, metrics.seed, metrics.num_samples, metrics.run (button),
             metrics.recompute (button: sample rows that a release's evaluation.json answered),
             metrics.log_scale (toggle), metrics.download_csv,
             metrics.download_md, plotly chart metrics.ratios
    Dataset  dataset.upload (file_uploader, .json, 50 MB), dataset.use_upload (toggle),
             dataset.forget_upload (button), dataset.import_files (file_uploader, several .json/.csv
             pose files), dataset.import_width, dataset.import_height, dataset.import_min_conf,
             dataset.import_max_gap, dataset.import_run (button), dataset.import.export_gif / _mp4 /
             _json (downloads of the imported clip), dataset.window, dataset.stride, dataset.limit,
             dataset.clip (selectbox, several clips only),
             dataset.frames (range slider), plotly charts dataset.animation, dataset.coverage
    Training training.run (selectbox of metrics.jsonl paths), training.stop, training.kill
             (buttons), the form training.form with training.name, training.data, training.window,
             training.stride, training.limit, training.epochs, training.batch_size, training.lr,
             training.timesteps, training.base_channels, training.channel_mults,
             training.time_dim, training.monitor_every, training.save_every, training.start
             (submit); plotly charts training.loss, training.sample_metrics

Session state keys owned by the lab start with "lab."; every key the code reads, writes or pops in
st.session_state, widget keys included, is a constant in keys.py (tests/test_lab.py checks the pages).
"""
