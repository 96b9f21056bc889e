"""Who may write (issue 23, items 2 and 3): the visitor decides, never the server's own address; an unknown
address is not local; server.allowedHosts holds the loopback names, and empty or '*' switches writes off.

The unit tests feed access.decide what Streamlit 1.67 really keeps of a session's WebSocket request
(ClientContext.remote_ip after uvicorn's proxy-header middleware, and the request's headers); the first
tests pin those facts on the installed Streamlit and uvicorn. Issue 14's rules follow: the shipped config
listens on loopback with XSRF/CORS on, a visitor from another host gets uploads and training switched off
unless MOTIONLAB_ALLOW_REMOTE_WRITES=1, and a low runs volume refuses runs and uploads.
Against a real server and in Chromium: test_access_server.py.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO
from lab_support import lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.data.demo import demo_clip
from motionlab.lab import access, processes

REMOTE = "203.0.113.5"  # TEST-NET-3
ALLOW = {"MOTIONLAB_ALLOW_REMOTE_WRITES": "1"}


# -- the facts the rules stand on ---------------------------------------------------------------

def test_uvicorn_puts_the_forwarded_client_in_place_of_a_loopback_peer():
    """Streamlit 1.67 serves with uvicorn (proxy_headers on, FORWARDED_ALLOW_IPS 127.0.0.1,::1 by default), whose
    middleware replaces a loopback peer by the X-Forwarded-For client, and keeps a remote peer's own address."""
    import uvicorn
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    cfg = uvicorn.Config(app=None)
    assert cfg.proxy_headers is True
    assert cfg.forwarded_allow_ips == os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

    def client(peer, xff=None):
        seen = {}

        async def app(scope, receive, send):
            seen.update(scope)
        headers = [(b"x-forwarded-for", xff.encode())] if xff else []
        scope = {"type": "websocket", "client": (peer, 1234), "headers": headers, "scheme": "ws"}
        asyncio.run(ProxyHeadersMiddleware(app, "127.0.0.1,::1")(scope, None, None))
        return seen["client"][0]

    assert client("127.0.0.1") == "127.0.0.1"                      # this machine or an SSH tunnel
    assert client("127.0.0.1", REMOTE) == REMOTE                   # a proxy here that sends it
    assert client("::1", f"127.0.0.1, {REMOTE}") == REMOTE         # appended to a forged one: the last hop counts
    assert client(REMOTE, "127.0.0.1") == REMOTE                   # forged from outside: ignored


def test_streamlit_reports_a_loopback_peer_as_none_and_keeps_the_raw_address():
    """st.context.ip_address cannot tell a loopback peer from an unknown one; ClientContext.remote_ip can."""
    from types import SimpleNamespace

    import streamlit.runtime.context as ctx_mod
    from streamlit.web.server.starlette.starlette_websocket import StarletteClientContext

    ws = SimpleNamespace(headers={"host": "127.0.0.1:8501"}, cookies={}, client=SimpleNamespace(host="127.0.0.1"))
    assert StarletteClientContext(ws).remote_ip == "127.0.0.1"
    assert StarletteClientContext(SimpleNamespace(headers={}, cookies={}, client=None)).remote_ip is None  # no peer
    real = ctx_mod._get_client_context
    try:
        for raw, shown in (("127.0.0.1", None), ("::1", None), (None, None), (REMOTE, REMOTE)):
            ctx_mod._get_client_context = lambda raw=raw: SimpleNamespace(remote_ip=raw)
            assert ctx_mod.ContextProxy().ip_address == shown
    finally:
        ctx_mod._get_client_context = real


def test_streamlit_can_limit_the_websocket_host():
    from streamlit import config as st_config
    from streamlit.web.server.starlette import starlette_websocket as sw

    assert "server.allowedHosts" in st_config._config_options_template
    real = st_config.get_option
    try:
        st_config.get_option = lambda k: list(access.LOOPBACK_HOSTS) if k == "server.allowedHosts" else real(k)
        assert all(sw.is_host_allowed(h) for h in ("127.0.0.1:8501", "localhost:8501", "[::1]:8501", "LOCALHOST"))
        assert not any(sw.is_host_allowed(h) for h in ("rebind.attacker.example:8501", "127.0.0.1.nip.io", None))
    finally:
        st_config.get_option = real


# -- the decision -------------------------------------------------------------------------------

def H(host=None, origin=None, xff=None, forwarded=None) -> list[tuple[str, str]]:
    """Request headers as Starlette hands them to StarletteClientContext (lower-case names)."""
    out = [("host", host)] if host else []
    out += [("origin", origin)] if origin else []
    out += [("x-forwarded-for", xff)] if xff else []
    out += [("forwarded", forwarded)] if forwarded else []
    return out


BROWSER_HERE = H("127.0.0.1:8501", "http://127.0.0.1:8501")
CASES = {
    # name: (server.address, ClientContext.remote_ip, headers, writes)
    "a browser on this machine": ("127.0.0.1", "127.0.0.1", BROWSER_HERE, True),
    "an SSH tunnel (ssh -L 8501:127.0.0.1:8501), opened as localhost": (
        "127.0.0.1", "127.0.0.1", H("localhost:8501", "http://localhost:8501"), True),
    "IPv6 loopback": ("::1", "::1", H("[::1]:8501", "http://[::1]:8501"), True),
    "an exposed lab, a browser on this machine": ("0.0.0.0", "127.0.0.1", BROWSER_HERE, True),
    "IPv4-mapped loopback": ("::", "::ffff:127.0.0.1", BROWSER_HERE, True),
    "a program without Host or Origin on this machine": ("127.0.0.1", "127.0.0.1", [], True),
    "a proxy here sends X-Forwarded-For (uvicorn put the client in)": (
        "127.0.0.1", REMOTE, H("lab.example.org", "https://lab.example.org", xff=REMOTE), False),
    "a proxy here sends X-Forwarded-For, the browser is on this machine": (
        "127.0.0.1", "127.0.0.1", H("localhost", "http://localhost", xff="127.0.0.1"), True),
    "a proxy appends to a forged X-Forwarded-For": (
        "127.0.0.1", REMOTE, H("lab.example.org", xff=f"127.0.0.1, {REMOTE}"), False),
    "X-Forwarded-For that uvicorn did not apply (FORWARDED_ALLOW_IPS elsewhere)": (
        "127.0.0.1", "127.0.0.1", H("127.0.0.1:8501", xff=REMOTE), False),
    "RFC 7239 Forwarded only": ("127.0.0.1", "127.0.0.1", H("127.0.0.1:8501", forwarded=f'for="{REMOTE}:4711";proto=https'), False),
    "Forwarded: for=unknown": ("127.0.0.1", "127.0.0.1", H("127.0.0.1:8501", forwarded="for=unknown"), False),
    "a proxy or socat or ssh -L 0.0.0.0 without X-Forwarded-For, Host kept": (
        "127.0.0.1", "127.0.0.1", H("lab.example.org:8501", "http://lab.example.org:8501"), False),
    "a proxy without X-Forwarded-For that rewrites Host to its upstream": (
        "127.0.0.1", "127.0.0.1", H("127.0.0.1:8501", "https://lab.example.org"), False),
    "DNS rebinding: a page whose name now points at 127.0.0.1": (
        "127.0.0.1", "127.0.0.1", H("rebind.attacker.example:8501", "http://rebind.attacker.example:8501"), False),
    "Origin null (a sandboxed page)": ("127.0.0.1", "127.0.0.1", H("127.0.0.1:8501", "null"), False),
    "a visitor from another host": ("0.0.0.0", REMOTE, H("lab.example.org:8501"), False),
    "a visitor from another host forging X-Forwarded-For (uvicorn ignored it)": (
        "0.0.0.0", REMOTE, H("localhost:8501", "http://localhost:8501", xff="127.0.0.1"), False),
    "a loopback server, a peer from elsewhere": ("127.0.0.1", REMOTE, [], False),
    "a unix socket, a peer from elsewhere": ("unix:///run/lab.sock", REMOTE, [], False),
    "a unix socket, no peer address": ("unix:///run/lab.sock", None, [], False),
    "no client address (agent API, no client)": ("127.0.0.1", None, BROWSER_HERE, False),
    "an unparsable address": ("127.0.0.1", "unix:/run/lab.sock", [], False),
    "a host name, not an address": ("127.0.0.1", "localhost", [], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_visitor_decides(name):
    address, ip, headers, writes = CASES[name]
    a = access.decide(address, ip, env={}, headers=headers)
    assert a.writes is writes and (a.reason == "") is writes and not a.open_to_all
    if not writes:
        assert a.exposed and "\n" not in a.reason and "you are connected from " in a.reason
        assert "MOTIONLAB_ALLOW_REMOTE_WRITES=1" in a.reason
    # the owner may open writes to everyone; XSRF or CORS off closes them for everyone
    b = access.decide(address, ip, env=ALLOW, headers=headers)
    assert b.writes and b.open_to_all
    assert not access.decide(address, ip, env=ALLOW, headers=headers, xsrf=False).writes


def test_the_reproductions_of_the_issue_refuse_writes():
    for server in ("127.0.0.1", "unix:///run/lab.sock"):
        a = access.decide(server, REMOTE, env={})
        assert not a.writes and f"you are connected from {REMOTE}." in a.reason
    assert not access.client_is_local(None)


def test_the_reason_says_how_the_visitor_came():
    def why(ip, headers=()):
        return access.decide("127.0.0.1", ip, env={}, headers=headers).reason
    assert f"{REMOTE} through a proxy on this machine" in why("127.0.0.1", H("127.0.0.1", xff=REMOTE))
    assert "under the name 'lab.example.org'" in why("127.0.0.1", H("lab.example.org:8501"))
    assert "an address the server does not know" in why(None)


@pytest.mark.parametrize("hosts, writes", [
    ([], False), (["*"], False), (["localhost", "*"], False), (["", " "], False), (None, False),
    (list(access.LOOPBACK_HOSTS), True), (["localhost"], True), (["*.example.org", "localhost"], True),
])
def test_writes_need_a_host_allow_list(hosts, writes):
    a = access.decide("127.0.0.1", "127.0.0.1", env={}, headers=BROWSER_HERE, allowed_hosts=hosts)
    assert a.writes is writes
    if not writes:
        assert "server.allowedHosts" in a.reason and "DNS rebinding" in a.reason and "\n" not in a.reason
        assert access.decide("127.0.0.1", "127.0.0.1", env=ALLOW, headers=BROWSER_HERE, allowed_hosts=hosts).writes


def test_a_named_allowed_host_means_the_lab_is_exposed():
    a = access.decide("127.0.0.1", "127.0.0.1", env={}, headers=BROWSER_HERE,
                      allowed_hosts=[*access.LOOPBACK_HOSTS, "lab.example.org"])
    assert a.writes and a.exposed
    assert not access.decide("127.0.0.1", "127.0.0.1", env={}, headers=BROWSER_HERE).exposed


def test_the_shipped_config_lists_the_loopback_names():
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]
    assert tuple(cfg["allowedHosts"]) == access.LOOPBACK_HOSTS
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    code = "from streamlit import config as c; import json; print(json.dumps(c.get_option('server.allowedHosts')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert tuple(json.loads(out.stdout.strip().splitlines()[-1])) == access.LOOPBACK_HOSTS


# -- the pages ----------------------------------------------------------------------------------

def _warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


def test_the_sidebar_warns_when_writes_are_open_to_every_visitor(lab_env, monkeypatch):
    at = open_page("training")
    assert not at.button(key="training.start").disabled and "open to every visitor" not in _warnings(at)
    monkeypatch.setenv("MOTIONLAB_ALLOW_REMOTE_WRITES", "1")
    at = open_page("training")  # a loopback server, yet a proxy or a forward may bring anyone to it
    assert "open to every visitor, from any host (MOTIONLAB_ALLOW_REMOTE_WRITES=1)" in \
        "\n".join(w.value for w in at.sidebar.warning)


def test_an_empty_host_allow_list_switches_training_off_in_the_lab(lab_env, monkeypatch):
    from streamlit import config as st_config
    real = st_config.get_option
    monkeypatch.setattr(st_config, "get_option", lambda k: [] if k == "server.allowedHosts" else real(k))
    at = open_page("training")
    assert at.button(key="training.start").disabled and "server.allowedHosts is empty" in _warnings(at)
    at = open_page("dataset")
    assert at.file_uploader(key="dataset.upload").disabled



# -- the shipped server config and the write decision (issue 14) -----------------------------------------

REMOTE_IP = "203.0.113.7"  # TEST-NET-3: never a real peer


def test_shipped_streamlit_config_listens_on_loopback_with_xsrf_and_cors_on():
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]
    assert access.server_is_local(cfg["address"]) and cfg["address"] == "127.0.0.1"
    assert cfg.get("enableXsrfProtection", True) is True and cfg.get("enableCORS", True) is True
    from motionlab.lab import config
    assert cfg["maxUploadSize"] == config.UPLOAD_LIMIT_MB  # Streamlit's upload route, not only the widget
    # what `streamlit run` in the project root reads (no STREAMLIT_SERVER_* override in the environment)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    code = ("from streamlit import config as c; import json; print(json.dumps([c.get_option(k) for k in "
            "('server.address', 'server.enableXsrfProtection', 'server.enableCORS', 'server.maxUploadSize')]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["127.0.0.1", True, True, config.UPLOAD_LIMIT_MB]


def test_nothing_in_the_repository_turns_xsrf_or_cors_protection_off():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert ".streamlit/config.toml" in files and "scripts/setup.sh" in files
    off = re.compile(r"(enableXsrfProtection|enableCORS|ENABLE_XSRF_PROTECTION|ENABLE_CORS)[\"'\s=:,]+(false|0)\b",
                     re.IGNORECASE)
    hits = []
    for f in files:
        p = REPO / f
        if p.suffix in (".pt", ".png", ".gif", ".mp4") or p.name == Path(__file__).name or not p.is_file():
            continue
        text = p.read_text(errors="ignore")
        hits += [f"{f}: {m.group(0)}" for m in off.finditer(text)]
    assert not hits, hits


@pytest.mark.parametrize("address, ip, env, writes", [
    ("127.0.0.1", REMOTE_IP, {}, False),           # a loopback server behind a proxy that sends X-Forwarded-For
    ("localhost", None, {}, False),                # an unknown address is not local (issue 23)
    ("::1", "::1", {}, True),
    ("unix:///tmp/lab.sock", None, {}, False),
    ("unix:///tmp/lab.sock", REMOTE_IP, {}, False),
    (None, "127.0.0.1", {}, True),                 # every interface, but the visitor is on this machine
    ("0.0.0.0", "127.0.0.1", {}, True),
    ("0.0.0.0", "::ffff:127.0.0.1", {}, True),
    (None, REMOTE_IP, {}, False),                  # Streamlit's default: every interface
    ("0.0.0.0", REMOTE_IP, {}, False),
    ("::", "192.168.1.20", {}, False),
    ("192.168.1.5", "192.168.1.20", {}, False),
    ("lab.example.org", REMOTE_IP, {}, False),
    ("0.0.0.0", REMOTE_IP, {"MOTIONLAB_ALLOW_REMOTE_WRITES": "1"}, True),
    ("0.0.0.0", REMOTE_IP, {"MOTIONLAB_ALLOW_REMOTE_WRITES": "0"}, False),
])
def test_write_access_decision(address, ip, env, writes):
    a = access.decide(address, ip, env=env)
    assert a.writes is writes and a.exposed is (not access.server_is_local(address) or not access.client_is_local(ip))
    assert (a.reason == "") is writes
    if not writes:
        assert (ip or "an address the server does not know") in a.reason
        assert "MOTIONLAB_ALLOW_REMOTE_WRITES=1" in a.reason and "\n" not in a.reason


def test_xsrf_or_cors_off_switches_writes_off_for_everyone():
    for kw, name in (({"xsrf": False}, "server.enableXsrfProtection"), ({"cors": False}, "server.enableCORS")):
        a = access.decide("127.0.0.1", None, env={"MOTIONLAB_ALLOW_REMOTE_WRITES": "1"}, **kw)
        assert not a.writes and name in a.reason


@pytest.fixture
def visitor(monkeypatch):
    """visitor(address, ip, **options): the Streamlit server listens on address; the session's TCP peer is ip."""
    import streamlit.runtime.context as st_context
    from streamlit import config as st_config
    real = st_config.get_option

    def set_(address, ip, **options):
        opts = {"server.address": address, **options}
        monkeypatch.setattr(st_config, "get_option", lambda k: opts[k] if k in opts else real(k))
        monkeypatch.setattr(st_context, "_get_client_context",
                            lambda: SimpleNamespace(remote_ip=ip, headers=[], cookies={}))
    return set_


def _page(name: str) -> AppTest:
    return open_page(name)


def _sleeper_run(run_dir: Path) -> subprocess.Popen:
    """A live process the lab takes for a training run (its command line names motionlab.train)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "motionlab.train"])
    for _ in range(100):
        if processes._proc_start(p.pid) and "motionlab.train" in processes._cmdline(p.pid):
            break
        time.sleep(0.02)
    rec = {"pid": p.pid, "pgid": p.pid, "proc_start": processes._proc_start(p.pid), "started": time.time(),
           "command": ["python", "-m", "motionlab.train"], "options": {"epochs": 5}, "log": "train.log",
           "state": "running"}
    (run_dir / processes.PROCESS_FILE).write_text(json.dumps(rec))
    (run_dir / "metrics.jsonl").write_text("")
    return p


def test_a_visitor_from_another_host_cannot_train_stop_or_upload(lab_env, visitor, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "none"))
    sleeper = _sleeper_run(tmp_path / "live")
    try:
        visitor("0.0.0.0", REMOTE_IP)
        at = _page("training")
        assert at.button(key="training.start").disabled and at.button(key="training.stop").disabled
        assert f"you are connected from {REMOTE_IP}" in _warnings(at)
        assert any("Reachable from other hosts" in c.value for c in at.sidebar.caption)
        # a forged click (what a browser cannot send, a hand-made websocket message can) does nothing
        from streamlit.testing.v1 import element_tree
        monkeypatch.setattr(element_tree.Widget, "_assert_can_interact", lambda self: None)
        at.button(key="training.stop").click().run()
        assert processes.status(tmp_path / "live")["state"] == "running" and sleeper.poll() is None
        at.text_input(key="training.name").set_value("forged")
        at.selectbox(key="training.data").set_value("demo")
        at.button(key="training.start").click().run()
        assert not (tmp_path / "forged").exists() and not at.success

        at = _page("dataset")
        assert at.file_uploader(key="dataset.upload").disabled and f"connected from {REMOTE_IP}" in _warnings(at)
        at.file_uploader(key="dataset.upload").set_value(
            ("mine.json", json.dumps(demo_clip(90).to_dict()).encode(), "application/json")).run()
        assert not at.success and "Loaded" not in str([e.value for e in at.error])

        # the same visitor may when the owner says so
        monkeypatch.setenv("MOTIONLAB_ALLOW_REMOTE_WRITES", "1")
        at = _page("training")
        assert not at.button(key="training.start").disabled and not at.button(key="training.stop").disabled
        assert not at.main.warning and "open to every visitor" in _warnings(at)  # the sidebar says so
        at = _page("dataset")
        assert not at.file_uploader(key="dataset.upload").disabled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_local_visitor_of_an_exposed_lab_may_train(lab_env, visitor):
    visitor("0.0.0.0", "127.0.0.1")
    at = _page("training")
    assert not at.button(key="training.start").disabled and not at.warning
    visitor("127.0.0.1", REMOTE_IP)  # a loopback server behind a proxy on this machine: the forwarded client decides
    at = _page("training")
    assert at.button(key="training.start").disabled and f"you are connected from {REMOTE_IP}" in _warnings(at)


def test_xsrf_protection_off_disables_training_in_the_lab(lab_env, visitor):
    visitor("127.0.0.1", None, **{"server.enableXsrfProtection": False})
    at = _page("training")
    assert at.button(key="training.start").disabled and "server.enableXsrfProtection is false" in _warnings(at)


# -- disk: starting a run or accepting an upload needs MOTIONLAB_MIN_FREE_MB free ------------------------

def test_low_disk_message_and_floor(tmp_path, monkeypatch):
    usage = SimpleNamespace(total=10 * 2**30, used=0, free=300 * 2**20)
    monkeypatch.setattr(access.shutil, "disk_usage", lambda p: usage)
    msg = access.low_disk(tmp_path / "runs" / "not_yet", 1024 * 2**20, "start a training run")
    assert msg == (f"Cannot start a training run: only 300 MB free on the volume of {tmp_path / 'runs' / 'not_yet'}, "
                   "below the lab's floor of 1,024 MB (MOTIONLAB_MIN_FREE_MB). Free some space; the lab deletes nothing.")
    assert access.low_disk(tmp_path, 200 * 2**20, "x") == "" and access.low_disk(tmp_path, 0, "x") == ""
    assert access.min_free_bytes({}) == 1024 * 2**20 and access.min_free_bytes({"MOTIONLAB_MIN_FREE_MB": "5"}) == 5 * 2**20


def test_the_lab_refuses_runs_and_uploads_when_the_runs_volume_is_low(lab_env, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_MIN_FREE_MB", str(10**12))  # more than any disk
    runs = lab_env["runs"]
    before = sorted(p.relative_to(runs) for p in runs.rglob("*"))
    at = _page("training")
    assert at.button(key="training.start").disabled and "below the lab's floor" in _warnings(at)
    at = _page("dataset")
    assert at.file_uploader(key="dataset.upload").disabled and "Cannot accept an upload" in _warnings(at)
    from streamlit.testing.v1 import element_tree
    monkeypatch.setattr(element_tree.Widget, "_assert_can_interact", lambda self: None)  # a forged upload
    at.file_uploader(key="dataset.upload").set_value(
        ("mine.json", json.dumps(demo_clip(90).to_dict()).encode(), "application/json")).run()
    assert not at.success
    assert sorted(p.relative_to(runs) for p in runs.rglob("*")) == before  # nothing deleted or written
    monkeypatch.setenv("MOTIONLAB_MIN_FREE_MB", "0")
    at = _page("training")
    assert not at.button(key="training.start").disabled
