"""Who may write, against a real `streamlit run lab_app.py`: the server started as the README says listens on
loopback only, a raw WebSocket handshake with a foreign Host is refused, and Chromium with and without
X-Forwarded-For and under another name for this machine gets what lab.access decides (test_access.py)."""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from lab_support import lab_tree  # noqa: F401  (fixture)
from motionlab.lab import access
from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, IDLE, free_port, lab_server

REMOTE = "203.0.113.5"  # TEST-NET-3


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


def _listening(port: int) -> list[str]:
    """Addresses with a TCP socket listening on port, from /proc/net/tcp and tcp6."""
    import ipaddress
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            host, p = local.split(":")
            if state == "0A" and int(p, 16) == port:
                raw = bytes.fromhex(host)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # per-word little endian
                out.append(str(ipaddress.ip_address(raw)))
    return out


@pytest.mark.slow
def test_the_lab_server_started_as_the_readme_says_listens_on_loopback_only():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "lab_app.py", "--server.port", str(port),
                          "--server.fileWatcherType", "none"], cwd=REPO, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t = time.monotonic()
        while not _listening(port) and time.monotonic() - t < 90:
            assert p.poll() is None, "the server exited"
            time.sleep(0.2)
        addrs = _listening(port)
        assert addrs and all(access.is_loopback(a) for a in addrs), addrs
    finally:
        p.terminate()
        p.wait(30)
