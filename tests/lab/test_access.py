"""Who may write (issue 23, items 2 and 3): the visitor decides, never the server's own address; an unknown
address is not local; server.allowedHosts holds the loopback names, and empty or '*' switches writes off.

The unit tests feed access.decide what Streamlit 1.67 really keeps of a session's WebSocket request
(ClientContext.remote_ip after uvicorn's proxy-header middleware, and the request's headers); the first
tests pin those facts on the installed Streamlit and uvicorn. The real-server tests make a raw WebSocket
handshake with a foreign Host, and drive Chromium with and without X-Forwarded-For and under another name.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO
from lab_support import lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.lab import access
from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, IDLE, lab_server

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


# -- a real server ------------------------------------------------------------------------------

def _handshake(port: int, host: str, extra: str = "") -> str:
    """The status line a raw WebSocket handshake to the lab's stream gets (python socket, no client library)."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n"
                   f"{extra}\r\n").encode())
        return s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


@pytest.mark.slow
def test_a_websocket_under_a_foreign_host_is_refused(lab_tree, tmp_path):
    with lab_server({**lab_tree["env"], "OMP_NUM_THREADS": "1"}, tmp_path / "streamlit.log") as url:
        port = int(url.rsplit(":", 1)[1])
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert _handshake(port, host).startswith("HTTP/1.1 101 "), host
        for host in (f"rebind.attacker.example:{port}", f"127.0.0.1.nip.io:{port}", "lab.example.org"):
            assert _handshake(port, host).startswith("HTTP/1.1 403 "), host
        # the Origin of a rebinding page matches its Host: only the Host list stops it
        origin = f"Origin: http://rebind.attacker.example:{port}\r\n"
        assert _handshake(port, f"rebind.attacker.example:{port}", origin).startswith("HTTP/1.1 403 ")


def _chromium(pw, *args):
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not found")
    return pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *args], headless=True)


def _training_page(browser, url: str, headers: dict | None = None) -> tuple[bool, str]:
    """(Start button disabled, the page's text) of the Training page opened in a fresh browser context."""
    ctx = browser.new_context(extra_http_headers=headers or {})
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/training")
        button = page.get_by_role("button", name="Start training")
        button.wait_for()
        page.wait_for_selector(IDLE)
        page.wait_for_timeout(300)  # a rerun that follows at once
        page.wait_for_selector(IDLE)
        return button.is_disabled(), page.inner_text("body")
    finally:
        ctx.close()


@pytest.mark.browser
def test_in_chromium_the_forwarded_client_decides(lab_tree, tmp_path):
    """Chromium sends extra headers on the WebSocket handshake too: with X-Forwarded-For it is what a proxy on
    this machine that sends the header looks like to the lab."""
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright
    with lab_server({**lab_tree["env"], "OMP_NUM_THREADS": "1"}, tmp_path / "streamlit.log") as url, \
            sync_playwright() as pw:
        browser = _chromium(pw)
        disabled, text = _training_page(browser, url)  # this machine, or an SSH tunnel
        assert not disabled and "connected from" not in text
        disabled, text = _training_page(browser, url, {"X-Forwarded-For": REMOTE})
        assert disabled and f"you are connected from {REMOTE}." in text
        disabled, text = _training_page(browser, url, {"X-Forwarded-For": "127.0.0.1"})  # a local browser via a proxy
        assert not disabled
        browser.close()


@pytest.mark.browser
def test_in_chromium_another_name_for_this_machine_gets_no_writes(lab_tree, tmp_path):
    """What socat, `ssh -L 0.0.0.0:...` or a proxy without X-Forwarded-For look like: a loopback peer whose browser
    used another name (here mapped to 127.0.0.1 by Chromium's resolver, as a rebinding page's would be). With the
    shipped allow-list the page cannot connect; with the name added (exposing the lab on purpose), it can read
    but not write."""
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright
    name = "lab.example.test"
    hosts = [a for h in (*access.LOOPBACK_HOSTS, name) for a in ("--server.allowedHosts", h)]
    with sync_playwright() as pw:
        browser = _chromium(pw, f"--host-resolver-rules=MAP {name} 127.0.0.1")
        with lab_server({**lab_tree["env"], "OMP_NUM_THREADS": "1"}, tmp_path / "shipped.log") as url:
            port = url.rsplit(":", 1)[1]
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(f"http://{name}:{port}/training")
            page.wait_for_timeout(5000)
            assert not page.locator(".st-key-training-start").count()  # the WebSocket was refused
            ctx.close()
        with lab_server({**lab_tree["env"], "OMP_NUM_THREADS": "1"}, tmp_path / "named.log", args=hosts) as url:
            port = url.rsplit(":", 1)[1]
            disabled, text = _training_page(browser, f"http://{name}:{port}")
            assert disabled and f"under the name '{name}'" in text and "Reachable from other hosts" in text
            disabled, _ = _training_page(browser, url)  # the same server from this machine
            assert not disabled
        browser.close()
