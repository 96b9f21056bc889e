"""Who may change things through the lab, and whether there is disk space to do it.

The lab starts training processes with options the visitor picks, accepts clip uploads and writes
under runs/. Those actions ("writes") are allowed when

- Streamlit's XSRF and CORS protections are on (else a page on another site could drive them), and
- the server listens on a loopback address only (the shipped .streamlit/config.toml), or the visitor
  connects from this machine (an SSH tunnel counts), or MOTIONLAB_ALLOW_REMOTE_WRITES=1 is set where
  the server starts.

Reading (sampling, charts, downloads) stays open to anyone who can reach the lab.
Starting a run or accepting an upload also needs MOTIONLAB_MIN_FREE_MB of free space on the runs
volume (default 1024); the lab never deletes anything to make room.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

ALLOW_ENV = "MOTIONLAB_ALLOW_REMOTE_WRITES"
MIN_FREE_ENV = "MOTIONLAB_MIN_FREE_MB"
DEFAULT_MIN_FREE_MB = 1024
_TRUE = {"1", "true", "yes", "on"}


def is_loopback(host: str | None) -> bool:
    """'localhost', 127.0.0.0/8, ::1 or an IPv4-mapped loopback; False for names, wildcards and None."""
    if not host:
        return False
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def server_is_local(address: str | None) -> bool:
    """Whether a Streamlit server.address accepts connections from this machine only.

    Unset (Streamlit then listens on every interface), a wildcard, a LAN address or a host name
    count as reachable from other hosts.
    """
    if address and address.startswith("unix://"):
        return True
    return is_loopback(address)


def client_is_local(ip: str | None) -> bool:
    """Whether the visitor's TCP peer is this machine.

    None is local: Streamlit's st.context.ip_address reports a loopback peer as None. Behind a
    reverse proxy on this machine every visitor is local unless the proxy sends X-Forwarded-For
    (which Streamlit's server trusts from 127.0.0.1 only).
    """
    return ip is None or is_loopback(ip)


def remote_writes_allowed(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(ALLOW_ENV, "").strip().lower() in _TRUE


@dataclass(frozen=True)
class Access:
    writes: bool        # may start/stop training runs and upload clips
    reason: str         # why not ('' when allowed): shown beside the disabled buttons
    exposed: bool       # the server is reachable from other hosts


def decide(server_address: str | None, client_ip: str | None, xsrf: bool = True, cors: bool = True,
           env: Mapping[str, str] = os.environ) -> Access:
    exposed = not server_is_local(server_address)
    if not (xsrf and cors):
        off = "server.enableXsrfProtection" if not xsrf else "server.enableCORS"
        return Access(False, f"Uploads and training runs are off: Streamlit's {off} is false, so another web "
                             "site could send requests to this lab. Remove that setting and restart the lab.",
                      exposed)
    if not exposed or client_is_local(client_ip) or remote_writes_allowed(env):
        return Access(True, "", exposed)
    where = f"listens on {server_address}" if server_address else "listens on every network interface"
    return Access(False, f"Uploads and starting or stopping training runs are off for visitors from other hosts: "
                         f"this lab {where} and you are connected from {client_ip}. To allow them, restart the "
                         f"lab with {ALLOW_ENV}=1, or reach it through an SSH tunnel (see the README).", exposed)


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
