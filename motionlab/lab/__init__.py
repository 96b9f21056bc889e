"""The Streamlit lab's logic, kept testable without Streamlit.

Run the app with ``streamlit run lab_app.py``. Pages live in ``lab_pages/`` and stay thin (the folder is
not called ``pages/``: Streamlit would treat that as a second, file-based navigation and serve a
deep link such as /training without lab_app.py on a fresh server):

    config.py     folders and limits (environment variables below)
    catalog.py    checkpoint discovery with cached summaries (broken files listed, never raised)
    session.py    per-session sampling results: pixels, the kept denoising trajectory, caches
    figures.py    plotly figure builders (plain dicts; skeleton animations with shared frames)
    tables.py     metrics rows, ratio-to-baseline, the spec's table layout, CSV / markdown
    exports.py    GIF / MP4 / JSON bytes for the download buttons
    processes.py  background training runs (python -m motionlab.train) tracked in lab_process.json
    ui.py         the only Streamlit glue: cached models, pickers, error display, export buttons

Environment variables (read on every page run, so tests can point them at tmp folders):

    MOTIONLAB_CHECKPOINT_DIRS   shipped checkpoint folders, os.pathsep-separated (default: checkpoints)
    MOTIONLAB_RUNS_DIR          training run folders (default: runs)
    MOTIONLAB_CLIP              the reference clip (default: data/uptown_funk.json; a missing file
                                makes the pages fall back to the demo clip with a hint)
    MOTIONLAB_TRAJECTORY_MB     per-session cap for the kept denoising trajectory (default 64)
    MOTIONLAB_MAX_TRAINING_RUNS concurrent training runs the lab may start (default 2)
    MOTIONLAB_TORCH_THREADS     torch intra-op threads for sampling in the app (default: torch's);
                                1 is much faster on a small machine shared with other work

Widget keys (stable; tests drive the app through them):

    Sample   sample.checkpoint (selectbox of checkpoint paths), sample.seed, sample.num_samples,
             sample.precision ("fp32"/"bf16"), sample.run (button), sample.show (multiselect of
             sample indices), sample.denoise_sample, sample.denoise_step (select_slider, T..0),
             sample.export_gif / sample.export_mp4 / sample.export_json (download buttons),
             plotly charts sample.animation, sample.denoise
    Compare  compare.checkpoints (multiselect of paths), compare.seed, compare.num_samples,
             compare.precision, compare.real_count, compare.real_start, compare.run (button),
             compare.panels (multiselect of panel names), compare.nearest (toggle: each sample
             beside its nearest real window), compare.export_gif / _mp4 / _json,
             plotly chart compare.animation
    Metrics  metrics.checkpoints, metrics.seed, metrics.num_samples, metrics.precision,
             metrics.run (button), metrics.log_scale (toggle), metrics.download_csv,
             metrics.download_md, plotly chart metrics.ratios
    Dataset  dataset.upload (file_uploader, .json, 50 MB), dataset.use_upload (toggle),
             dataset.forget_upload (button), dataset.window, dataset.stride, dataset.limit,
             dataset.frames (range slider), plotly charts dataset.animation, dataset.coverage
    Training training.run (selectbox of metrics.jsonl paths), training.stop, training.kill
             (buttons), the form training.form with training.name, training.data, training.window,
             training.stride, training.limit, training.epochs, training.batch_size, training.lr,
             training.timesteps, training.base_channels, training.channel_mults,
             training.time_dim, training.monitor_every, training.save_every, training.start
             (submit); plotly charts training.loss, training.sample_metrics

Session state keys owned by the lab start with "lab." (see session.py).
"""
