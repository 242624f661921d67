"""Ask the kernel how it would route to a target: interface, source address, gateway (edge).

Theory of operation: rawnet keeps no copy of the routing table (scapy's copy misses policy routing,
VRFs and namespaces). Two questions go to the kernel of the *current* network namespace: a
connected UDP socket's ``getsockname()`` gives the source address the kernel would pick (no packet
is sent), and ``ip -j route get`` (rtnetlink RTM_GETROUTE, so ``ip rule`` policy routing applies)
gives interface, gateway and route type. ``parse_route_get`` is the pure half.
"""

from __future__ import annotations

import os
import ipaddress
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass

from ..errors import TargetError

__all__ = ["Route", "route_to", "parse_route_get", "source_for"]


@dataclass(frozen=True, slots=True)
class Route:
    """The kernel's answer for one destination."""

    dst: str
    """Destination address."""
    src: str | None
    """Source address the kernel picks (None when there is no route)."""
    iface: str | None
    """Outgoing interface name."""
    gateway: str | None = None
    """Next-hop router, or None when the destination is on-link."""
    type: str = "unicast"
    """Route type: unicast, local, broadcast, multicast, unreachable, prohibit, blackhole, ..."""
    error: str | None = None
    """Why there is no route (e.g. "Network is unreachable"), else None."""
    table: str | None = None
    """Routing table the answer came from, when the kernel says."""

    @property
    def ok(self) -> bool:
        """Return True when packets to ``dst`` have somewhere to go."""
        return self.error is None and self.src is not None and self.type in ("unicast", "local", "broadcast",
                                                                               "multicast")

    @property
    def is_local(self) -> bool:
        """Return True when ``dst`` is an address of this host (namespace)."""
        return self.type == "local" or self.iface == "lo"

    def describe(self) -> str:
        """Return a one-line description like ``198.18.1.2 via 198.18.1.1 dev eth0 src ...``."""
        if self.error:
            return f"{self.dst}: no route ({self.error})"
        via = f" via {self.gateway}" if self.gateway else ""
        kind = "" if self.type == "unicast" else f"{self.type} "
        return f"{kind}{self.dst}{via} dev {self.iface} src {self.src}"


def parse_route_get(dst: str, text: str) -> Route:
    """Return the Route described by the JSON output of ``ip -j route get DST``."""
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        raise TargetError(f"route to {dst}: `ip -j route get` printed no JSON ({err})") from err
    if not rows:
        return Route(dst, None, None, error="no route")
    r = rows[0]
    return Route(dst, r.get("prefsrc"), r.get("dev"), r.get("gateway"), r.get("type", "unicast"),
                 None, str(r["table"]) if "table" in r else None)


def source_for(dst: str) -> str:
    """Return the source address the kernel would use towards ``dst`` (a connected UDP socket; nothing is sent).

    Raises:
        OSError: ENETUNREACH / EHOSTUNREACH and friends, as connect() reports them.
    """
    ip = ipaddress.ip_address(dst.split("%", 1)[0])
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.connect((dst, 9))
        return str(s.getsockname()[0]).split("%", 1)[0]


def route_to(dst: str) -> Route:
    """Return how the kernel of this thread's network namespace routes to ``dst``.

    Raises:
        TargetError: ``dst`` is not an address.
    """
    try:
        ipaddress.ip_address(dst.split("%", 1)[0])
    except ValueError as err:
        raise TargetError(f"{dst!r} is not an IPv4 or IPv6 address") from err
    try:
        src: str | None = source_for(dst)
        src_err = None
    except OSError as err:
        src, src_err = None, os_error_text(err)
    ip_cmd = shutil.which("ip")
    if ip_cmd is None:
        return Route(dst, src, None, error=src_err)
    proc = subprocess.run([ip_cmd, "-j", "route", "get", dst], capture_output=True, text=True, timeout=5)
    if proc.returncode != 0:
        msg = proc.stderr.strip().removeprefix("RTNETLINK answers: ") or src_err or "no route"
        kind = "unreachable"
        if "prohibit" in msg.lower() or "permission" in msg.lower():
            kind = "prohibit"
        return Route(dst, None, None, type=kind, error=msg)
    r = parse_route_get(dst, proc.stdout)
    if src is not None and r.src is None:
        r = Route(r.dst, src, r.iface, r.gateway, r.type, r.error, r.table)
    if src_err is not None and r.error is None:
        r = Route(r.dst, r.src, r.iface, r.gateway, r.type, src_err, r.table)
    return r


def os_error_text(err: OSError) -> str:
    """Return the strerror of an OSError ("Network is unreachable"), or its str."""
    if err.errno is not None:
        return os.strerror(err.errno)
    return str(err)
