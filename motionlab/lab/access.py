"""Who may change things through the lab, and whether there is disk space to do it.

The lab starts training processes with options the visitor picks, accepts clip uploads and writes
under runs/. Those actions ("writes") are allowed when all of these hold:

1. Streamlit's XSRF and CORS protections are on (else a page on another site could drive them).
2. server.allowedHosts lists host names (the shipped config: localhost, 127.0.0.1, ::1), not nothing
   and not '*': Streamlit then refuses a WebSocket whose Host is another name, which is what stops a
   web page that rebinds its own name to 127.0.0.1 (DNS rebinding) from opening the lab in a
   visitor's browser. Rule 3 alone would not: such a page reaches the server from 127.0.0.1.
3. The visitor is on this machine, decided by the visitor, never by the address the server binds:
   - its address, as Streamlit 1.67 (uvicorn) reports it, is a loopback IP. uvicorn replaces the TCP
     peer with the X-Forwarded-For client when the peer is in FORWARDED_ALLOW_IPS (default 127.0.0.1
     and ::1), so behind a proxy on this machine that sends X-Forwarded-For, the forwarded client
     decides; a client cannot forge it from outside, as uvicorn trusts the header from loopback only;
   - every address a proxy forwarded (X-Forwarded-For, Forwarded: for=) is a loopback IP too;
   - the Host header and, when sent, the Origin header name a loopback host (localhost, 127.x.x.x,
     ::1): a browser through an SSH tunnel opens http://127.0.0.1:8501, a browser through a port
     forward that sends no X-Forwarded-For (socat, `ssh -L 0.0.0.0:...`, a proxy so configured) or a
     rebinding page uses another name, and so is not local even though its peer is 127.0.0.1.
   An unknown address is not local: None (a unix socket, the agent API, no client), an unparsable one.
   Or MOTIONLAB_ALLOW_REMOTE_WRITES=1 is set where the server starts: writes for every visitor.

What stays open: a program (not a browser) sending its own Host through a forward on this machine
that adds no X-Forwarded-For looks like a tunnel; run no such forward (docs/ACCESS.md).
Reading (sampling, charts, downloads) stays open to anyone who can reach the lab.
Starting a run or accepting an upload also needs MOTIONLAB_MIN_FREE_MB of free space on the runs
volume (default 1024); the lab never deletes anything to make room.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlsplit

ALLOW_ENV = "MOTIONLAB_ALLOW_REMOTE_WRITES"
MIN_FREE_ENV = "MOTIONLAB_MIN_FREE_MB"
DEFAULT_MIN_FREE_MB = 1024
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")  # the shipped server.allowedHosts
_TRUE = {"1", "true", "yes", "on"}
_FOR = re.compile(r'for=("[^"]*"|[^;,\s]*)', re.IGNORECASE)


def _ip(text: str | None):
    """An IP literal ('1.2.3.4', '::1', '[::1]', with a port or a zone), IPv4-mapped unwrapped; else None."""
    if not text:
        return None
    h = text.strip().strip('"')
    if h.startswith("["):
        h = h[1:h.find("]")] if "]" in h else h
    elif h.count(":") == 1:
        h = h.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def is_loopback(host: str | None) -> bool:
    """'localhost', 127.0.0.0/8, ::1 or an IPv4-mapped loopback; False for other names, wildcards and None."""
    if not host:
        return False
    h = host.strip().strip("[]").lower().rstrip(".")
    if h == "localhost":
        return True
    ip = _ip(h)
    return ip is not None and ip.is_loopback


def server_is_local(address: str | None) -> bool:
    """Whether a Streamlit server.address accepts connections from this machine only.

    Unset (Streamlit then listens on every interface), a wildcard, a LAN address or a host name
    count as reachable from other hosts. It says who can connect, not who connected: writes never
    depend on it (a proxy or a port forward on this machine reaches a loopback server too).
    """
    if address and address.startswith("unix://"):
        return True
    return is_loopback(address)


def client_is_local(ip: str | None) -> bool:
    """Whether an address a visitor connected from is a loopback IP. None (Streamlit's
    st.context.ip_address gives None for a loopback peer and an unknown one alike) is not."""
    ip_ = _ip(ip)
    return ip_ is not None and ip_.is_loopback


def _name(value: str | None, url: bool = False) -> str | None:
    """The host name of a Host header ('h:8501', '[::1]:8501') or of an Origin ('http://h:8501'); '' when
    there is a value without one (Origin 'null')."""
    if value is None:
        return None
    try:
        return urlsplit(value if url else f"//{value.strip()}").hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True)
class Visitor:
    """Who is on the other end of a session, from what Streamlit keeps of its WebSocket request."""
    address: str | None                 # the client address uvicorn reports (X-Forwarded-For applied)
    forwarded: tuple[str, ...] = ()     # every address in X-Forwarded-For and Forwarded: for=
    host: str | None = None             # the Host header's name
    origin: str | None = None           # the Origin header's name ('' for 'null')

    @classmethod
    def of(cls, address: str | None, headers: Iterable[tuple[str, str]] = ()) -> Visitor:
        fwd, host, origin = [], None, None
        for k, v in headers:
            k = k.lower()
            if k == "x-forwarded-for":
                fwd += [a.strip() for a in v.split(",")]
            elif k == "forwarded":
                fwd += [m.strip('"') for m in _FOR.findall(v)]
            elif k == "host":
                host = _name(v)
            elif k == "origin":
                origin = _name(v, url=True)
        return cls(address if isinstance(address, str) else None, tuple(fwd), host, origin)

    @property
    def address_local(self) -> bool:
        return client_is_local(self.address) and all(client_is_local(a) for a in self.forwarded)

    @property
    def name_local(self) -> bool:
        return all(n is None or is_loopback(n) for n in (self.host, self.origin))

    @property
    def local(self) -> bool:
        return self.address_local and self.name_local

    def where(self) -> str:
        """How this visitor reached the lab, for the line that says why writes are off."""
        if self.address is None or _ip(self.address) is None:
            return "an address the server does not know (a unix socket, the agent API or no client)"
        outside = next((a for a in self.forwarded if not client_is_local(a)), None)
        if not client_is_local(self.address):
            return self.address
        if outside is not None:
            return f"{outside} through a proxy on this machine"
        name = self.host if self.host is not None and not is_loopback(self.host) else self.origin
        return f"{self.address} under the name {name!r}, not a loopback name (a proxy or a port forward)"


def remote_writes_allowed(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(ALLOW_ENV, "").strip().lower() in _TRUE


def hosts_restricted(allowed_hosts) -> bool:
    """Whether server.allowedHosts limits the Host names Streamlit accepts (not empty, no '*')."""
    hosts = [h.strip() for h in (allowed_hosts or ()) if h and h.strip()]
    return bool(hosts) and "*" not in hosts


@dataclass(frozen=True)
class Access:
    writes: bool        # may start/stop training runs and upload clips
    reason: str         # why not ('' when allowed): shown beside the disabled buttons
    exposed: bool       # the lab is reachable from other hosts
    open_to_all: bool = False  # writes are allowed for visitors from other hosts too (the sidebar warns)


def decide(server_address: str | None, client_ip: str | None, xsrf: bool = True, cors: bool = True,
           env: Mapping[str, str] = os.environ, *, headers: Iterable[tuple[str, str]] = (),
           allowed_hosts=LOOPBACK_HOSTS) -> Access:
    """May this visitor write? client_ip and headers are what Streamlit keeps of the session's WebSocket
    request (ClientContext.remote_ip, .headers); server_address and allowed_hosts are its settings."""
    v = Visitor.of(client_ip, headers)
    named = [h for h in (allowed_hosts or ()) if h and h.strip() not in ("*", "") and not is_loopback(h)]
    exposed = not server_is_local(server_address) or not v.local or bool(named)  # this visitor came from elsewhere
    everyone = remote_writes_allowed(env)
    if not (xsrf and cors):
        off = "server.enableXsrfProtection" if not xsrf else "server.enableCORS"
        return Access(False, f"Uploads and training runs are off: Streamlit's {off} is false, so another web "
                             "site could send requests to this lab. Remove that setting and restart the lab.",
                      exposed)
    if everyone:
        return Access(True, "", exposed, open_to_all=True)
    if not hosts_restricted(allowed_hosts):
        return Access(False, "Uploads and training runs are off: Streamlit's server.allowedHosts is "
                             f"{'empty' if not allowed_hosts else 'a wildcard'}, so a web page that points its "
                             "own name at this machine could drive the lab from a visitor's browser (DNS "
                             "rebinding). List the host names the lab is reached by (docs/ACCESS.md), or "
                             f"restart the lab with {ALLOW_ENV}=1.", exposed)
    if v.local:
        return Access(True, "", exposed)
    return Access(False, f"Uploads and starting or stopping training runs are off for visitors from other hosts: "
                         f"you are connected from {v.where()}. To allow them, restart the lab with "
                         f"{ALLOW_ENV}=1, or reach it through an SSH tunnel (docs/ACCESS.md).", exposed)


def min_free_bytes(env: Mapping[str, str] = os.environ) -> int:
    try:
        mb = float(env.get(MIN_FREE_ENV, DEFAULT_MIN_FREE_MB))
    except ValueError:
        mb = DEFAULT_MIN_FREE_MB
    return int(max(0.0, mb) * 2**20)


def free_bytes(path) -> int:
    """Free space on the volume of path (or of its nearest existing parent: runs/ may not exist yet)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def low_disk(path, floor: int, what: str) -> str:
    """'' when the volume of path has at least floor bytes free, else a one-line refusal."""
    if floor <= 0:
        return ""
    try:
        free = free_bytes(path)
    except OSError as e:
        return f"Cannot {what}: the free space of {path} cannot be read ({e.strerror or e})."
    if free >= floor:
        return ""
    return (f"Cannot {what}: only {free / 2**20:,.0f} MB free on the volume of {path}, below the lab's floor of "
            f"{floor / 2**20:,.0f} MB ({MIN_FREE_ENV}). Free some space; the lab deletes nothing.")
