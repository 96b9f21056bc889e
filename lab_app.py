"""motionlab lab: `streamlit run lab_app.py`. Pages are thin views over motionlab.lab.

Two roles in one file. `streamlit run` finds `app` and serves this file as every session's script;
its start hook imports the lab (torch: 0.9 s) on a thread, so the first visitor of a fresh server does
not wait for it (docs/SPEED.md). A session's run executes the file as __main__: the navigation.
"""
import streamlit as st

if __name__ != "__main__":  # imported by `streamlit run` to serve
    import threading
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _preload(_app):
        threading.Thread(target=__import__, args=("motionlab.lab.ui",), name="motionlab-preload", daemon=True).start()
        yield

    app = st.App(__file__, lifespan=_preload)
else:
    from pathlib import Path

    from motionlab.lab import access, config, ui

    st.set_page_config(page_title="motionlab lab", page_icon=str(Path(__file__).parent / "assets" / "icon.png"), layout="wide")

    PAGES = [
        st.Page("lab_pages/sample.py", title="Sample", icon=":material/casino:", default=True),
        st.Page("lab_pages/compare.py", title="Compare", icon=":material/view_column:"),
        st.Page("lab_pages/edit.py", title="Edit", icon=":material/auto_fix_high:"),
        st.Page("lab_pages/metrics.py", title="Metrics", icon=":material/bar_chart:"),
        st.Page("lab_pages/dataset.py", title="Dataset", icon=":material/dataset:"),
        st.Page("lab_pages/training.py", title="Training", icon=":material/model_training:"),
    ]
    page = st.navigation(PAGES)

    with st.sidebar:
        st.caption("**motionlab** · motion diffusion lab")
        clips = ", ".join(f"`{config.display_path(p)}`" for p in config.clip_specs())
        if config.missing_spec() is None:
            st.caption(f"Clip: {clips}")
        else:
            st.caption(f"Clip: {clips} missing (demo clip in use): copy ../shared/data/uptown_funk.json to data/")
        st.caption("Checkpoints: " + ", ".join(f"`{config.display_path(d)}`" for d in config.checkpoint_dirs())
                   + f" · runs: `{config.display_path(config.runs_dir())}`")
        acc = ui.write_access()
        if acc.open_to_all:  # whatever the bind address says: a proxy or a forward may bring anyone here
            st.warning(f":material/public: Uploads and training runs are open to every visitor, from any host "
                       f"({access.ALLOW_ENV}=1): anyone who reaches this page can start processes and write under runs/.")
        elif acc.exposed:  # say so: the shipped config listens on 127.0.0.1 only
            st.caption(":material/public: Reachable from other hosts. Uploads and training runs: this machine only.")
        if not acc.writes:
            st.caption(":material/block: " + acc.reason)
        ui.warm_chart_code()

    page.run()
