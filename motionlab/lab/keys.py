"""Every key this lab keeps in st.session_state (lab-owned state, not widget keys passed as key=).

One module so a newcomer sees at a glance what a session holds; pages and motionlab.lab modules
read, write and pop st.session_state only through these names.
"""

SAMPLE_RESULT = "lab.sample.result"
PIXEL_CACHE = "lab.pixel_cache"
METRIC_ROWS = "lab.metrics.rows"
METRIC_RECOMPUTE = "lab.metrics.recompute"  # keys whose precomputed rows the user asked to sample afresh
JOBS = "lab.jobs"
UPLOADED_CLIP = "lab.uploaded_clip"
UPLOAD_CHECK = "lab.upload_check"   # the last uploaded file id and its validation error, if any
EDIT_RESULT = "lab.edit.result"
IMPORT_REPORT = "lab.import_report"  # {"name", "lines"} of the last successful import
USE_UPLOAD = "lab.use_upload"        # every page uses the uploaded clip (the Dataset page's toggle)
COMPARE_KNOWN = "lab.compare.known"  # panel names the compare page offered last run: new ones join the view
TRAINING_FLASH = "lab.training.flash"                # message to show once after a run starts
TRAINING_SELECT = "lab.training.select"              # metrics file to select on the next run
TRAINING_RESET_NAME = "lab.training.reset_name"      # a run started: offer a fresh name
TRAINING_DEFAULT_NAME = "lab.training.default_name"

# Widget keys the code also reads, writes or pops (the widget is created with key=the same constant).
COMPARE_PANELS = "compare.panels"
SAMPLE_SHOW = "sample.show"
SAMPLE_DENOISE_SAMPLE = "sample.denoise_sample"
SAMPLE_DENOISE_VIEW = "sample.denoise_view"
DATASET_USE_UPLOAD = "dataset.use_upload"
DATASET_FRAMES = "dataset.frames"
EDIT_LONG_CONTEXT = "edit.long_context"
TRAINING_RUN = "training.run"
TRAINING_NAME = "training.name"
METRICS_SEED = "metrics.seed"
METRICS_NUM_SAMPLES = "metrics.num_samples"
METRICS_VERDICTS = "lab.metrics.verdicts"            # (label A, label B, judging.compare_pixels result)


def sampler_key(prefix: str) -> str:
    """sampling_controls' sampler selectbox for a page prefix (sample, compare, metrics, edit)."""
    return f"{prefix}.sampler"


def steps_key(prefix: str) -> str:
    return f"{prefix}.steps"


def precision_key(prefix: str) -> str:
    return f"{prefix}.precision"


def per_checkpoint_key(prefix: str) -> str:
    """sampling_controls' toggle: each checkpoint samples with its own faithful setting."""
    return f"{prefix}.per_checkpoint"


def default_for_key(prefix: str) -> str:
    """The faithful setting sampling_controls last reset its widgets to (lab-owned)."""
    return f"lab.{prefix}.default_for"


def param_key(prefix: str, sampler: str, param: str) -> str:
    """A sampler's own setting (eta, s_churn, ...) under sampling_controls."""
    return f"{prefix}.{sampler}.{param}"
