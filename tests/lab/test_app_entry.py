"""lab_app.py's two roles: `streamlit run` serves it as an st.App whose start hook imports the lab on a
thread (a fresh server's first visitor waited 0.9 s for torch), and every session runs it as __main__."""
from conftest import REPO, run_python


def test_streamlit_run_finds_the_app_in_lab_app():
    from streamlit.web.server.app_discovery import discover_asgi_app

    assert discover_asgi_app(REPO / "lab_app.py").is_asgi_app


def test_the_start_hook_imports_the_lab_on_a_thread():
    # a fresh interpreter: this test session has imported the lab long ago
    code = ("import asyncio, importlib.util, sys, threading\n"
            f"spec = importlib.util.spec_from_file_location('lab_app', {str(REPO / 'lab_app.py')!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "import streamlit as st\n"
            "assert isinstance(m.app, st.App) and 'motionlab.lab.ui' not in sys.modules\n"
            "async def start():\n"
            "    async with m._preload(m.app):\n"
            "        return [t for t in threading.enumerate() if t.name == 'motionlab-preload']\n"
            "th = asyncio.run(start())\n"
            "assert th and th[0].daemon\n"
            "th[0].join(120)\n"
            "assert 'motionlab.lab.ui' in sys.modules and 'torch' in sys.modules\n")
    run_python(code)
