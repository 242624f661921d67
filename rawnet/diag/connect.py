"""A kernel connect() watched by a packet capture (edge): what doctor and handshake observe.

Theory of operation: a cooked AF_PACKET socket is opened on the interface the kernel routes
through, *both* directions kept (our SYNs and retransmissions are evidence too), filtered in the
kernel to the target's traffic plus ICMP. Then a normal non-blocking ``connect()`` runs with a
bound on time; its errno is recorded next to the packets. On loopback every packet shows up twice
(outgoing and incoming); only the incoming copy is kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import UsageError
from ..packet.stack import Packet, decode
from ..transport.raw import PACKET_OUTGOING, PacketReceiver, compile_filter
from ..transport.route import Route

__all__ = ["Captured", "ConnectObservation", "connect_and_capture"]


@dataclass(frozen=True, slots=True)
class Captured:
    """One captured packet: when, what, and whether this host sent it."""

    ts_ns: int
    """Arrival time on the caller's clock."""
    packet: Packet
    """The decoded IP packet."""
    outgoing: bool
    """True when this host sent it."""


@dataclass
class ConnectObservation:
    """What connect() said and what the wire showed."""

    addr: str
    """Target address."""
    port: int
    """Target port."""
    connected: bool = False
    """connect() succeeded."""
    errno: int | None = None
    """connect()'s errno when it failed (ETIMEDOUT when our bound ran out)."""
    error: str | None = None
    """strerror of ``errno``."""
    start_ns: int = 0
    """When connect() was called."""
    connected_ns: int | None = None
    """When connect() completed."""
    sent_ns: int | None = None
    """When the request was written, if any."""
    closed_ns: int | None = None
    """When close() was called."""
    received: bytes = b""
    """What the server sent back (first read only)."""
    local: tuple[str, int] | None = None
    """Our address and port."""
    packets: list[Captured] = field(default_factory=list)
    """Captured packets in order."""
    capture_error: str | None = None
    """Why there is no capture (e.g. no CAP_NET_RAW), else None."""


def _filter(addr: str, port: int) -> list[tuple[int, int, int, int]] | None:
    icmp = "icmp6" if ":" in addr else "icmp"
    try:
        return compile_filter(f"(host {addr} and tcp port {port}) or {icmp}")
    except UsageError:  # no tcpdump: capture everything, rx_filter_ok() filters below
        return None


def connect_and_capture(addr: str, port: int, route: Route, *, timeout_s: float = 3.0, send: bytes | None = None,
                        linger_s: float = 0.2, clock: Callable[[], int] = time.monotonic_ns,
                        capture: bool = True) -> ConnectObservation:
    """Return the ConnectObservation of connecting to ``addr``:``port`` with the kernel's stack while capturing.

    Args:
        route: the kernel's route (its interface is captured).
        timeout_s: bound on connect() (the kernel's SYN retries run meanwhile).
        send: bytes to write after connecting; one read of the answer follows.
        capture: set False to skip the capture (no CAP_NET_RAW needed).
    """
    obs = ConnectObservation(addr, port)
    rx: PacketReceiver | None = None
    if capture:
        try:
            rx = PacketReceiver(route.iface, _filter(addr, port), ignore_outgoing=False)
        except PermissionError as err:
            obs.capture_error = f"no capture ({err})"
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    lo = route.iface == "lo"

    def drain(wait_ns: int) -> None:
        if rx is None:
            return
        for ts, data, sll in rx.recv_batch(max(wait_ns, 0), clock):
            out = len(sll) > 2 and sll[2] == PACKET_OUTGOING
            if lo and out:
                continue
            p = decode(data, 101, strict=False)
            if rx_filter_ok(p, addr, port):
                ours = _is_ours(p, obs, addr, out, lo)
                if ours or lo:  # checksum offload: our own packets carry a partial checksum
                    p = replace(p, checksum_ok=None)
                obs.packets.append(Captured(ts, p, ours))

    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.setblocking(False)
            obs.start_ns = clock()
            rc = s.connect_ex((addr, port))
            deadline = obs.start_ns + int(timeout_s * 1e9)
            with contextlib.suppress(OSError):
                obs.local = s.getsockname()[:2]
            while rc in (errno.EINPROGRESS, errno.EALREADY):
                left = deadline - clock()
                if left <= 0:
                    rc = errno.ETIMEDOUT
                    break
                _, w, _ = select.select([], [s], [], min(left, 20_000_000) / 1e9)
                drain(0)
                if w:
                    rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc == 0:
                obs.connected = True
                obs.connected_ns = clock()
                if send:
                    s.setblocking(True)
                    s.settimeout(1.0)
                    obs.sent_ns = clock()
                    with contextlib.suppress(OSError):
                        s.sendall(send)
                        obs.received = s.recv(4096)
            else:
                obs.errno = rc
                obs.error = os.strerror(rc)
            drain(0)
        finally:
            obs.closed_ns = clock()
            s.close()
        end = clock() + int(linger_s * 1e9)
        while clock() < end:
            drain(end - clock())
    finally:
        if rx is not None:
            rx.close()
    return obs  # in socket-queue order, which is the order the kernel saw them


def rx_filter_ok(p: Packet, addr: str, port: int) -> bool:
    """Return True when ``p`` is the target's TCP traffic on ``port`` or an ICMP error about it."""
    if p.network is None:
        return False
    if p.tcp is not None:
        return addr in (p.src, p.dst) and port in (p.tcp.src_port, p.tcp.dst_port)
    q = p.quoted
    if p.icmp is not None and p.icmp.is_error and q is not None and q.network is not None:
        return q.dst == addr and getattr(q.transport, "dst_port", None) == port
    return False


def _is_ours(p: Packet, obs: ConnectObservation, addr: str, outgoing: bool, lo: bool) -> bool:
    if not lo:
        return outgoing
    t = p.tcp
    return t is not None and obs.local is not None and t.src_port == obs.local[1] and p.dst == addr
