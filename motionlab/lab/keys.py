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
