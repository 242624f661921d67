"""Live capture on AF_PACKET with an in-kernel BPF filter (edge; ``rawnet.capture`` does not import it).

Theory of operation: one packet socket per capture. On a named interface it is SOCK_RAW, so frames
keep their link header (Ethernet and loopback give pcap LINKTYPE_ETHERNET; an interface without a
link header, e.g. a tun device, is read cooked as LINKTYPE_RAW). With no interface ("any") it is
SOCK_DGRAM and rawnet writes a Linux cooked header (LINKTYPE_LINUX_SLL) from the sockaddr_ll each
packet comes with, as libpcap does. The filter is compiled for that link type by libpcap (through
``tcpdump -dd``) and attached before the socket is bound, so no unfiltered packet is ever queued.
Timestamps come from the kernel (SO_TIMESTAMPNS, nanoseconds since the epoch). ``statistics()``
reads PACKET_STATISTICS: packets the filter accepted and packets dropped because the socket's
buffer was full. Every loop is bounded by a count and/or a duration.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import UsageError
from ..transport.raw import (PACKET_STATISTICS, SO_TIMESTAMPNS, SOL_PACKET, attach_filter, bind_packet,
                             compile_filter, kernel_ts)
from .frame import Frame

__all__ = ["LiveCapture", "CaptureStats", "open_live"]

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
_ETHER_LIKE = {ARPHRD_ETHER, ARPHRD_LOOPBACK}


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """Kernel counters of one capture (PACKET_STATISTICS, summed over the run)."""

    received: int
    """Packets the filter accepted, dropped ones included (tcpdump's "received by filter")."""
    dropped: int
    """Packets dropped because the receive buffer was full."""


class LiveCapture:
    """A bounded live capture on one interface (or all of them)."""

    def __init__(self, iface: str | None, bpf: str | None = None, *, snaplen: int = 262144,
                 buffer_bytes: int = 8 << 20, socket_factory: Callable[..., socket.socket] = socket.socket) -> None:
        from ..transport.privileges import privilege_error

        self.iface = iface
        self.snaplen = snaplen
        self.loopback = False
        kind = socket.SOCK_RAW if iface else socket.SOCK_DGRAM
        try:
            probe = socket_factory(socket.AF_PACKET, kind, 0)
        except PermissionError as err:
            raise privilege_error("opening an AF_PACKET socket", err) from err
        self.sock = probe
        try:
            if iface:
                # learn the hardware type without receiving anything: bind with protocol 0 first
                try:
                    probe.bind((iface, 0))
                except OSError as err:
                    raise UsageError(f"capture: interface {iface!r}: {err.strerror}") from err
                hatype = probe.getsockname()[3]
                self.loopback = hatype == ARPHRD_LOOPBACK
                if hatype not in _ETHER_LIKE:
                    probe.close()
                    self.sock = socket_factory(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
                    self.linktype = 101
                else:
                    self.linktype = 1
            else:
                self.linktype = 113
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
            if bpf:
                # a cooked socket's filter sees the packet from the network header: compile for raw IP
                attach_filter(self.sock, compile_filter(bpf, 1 if self.linktype == 1 else 101))
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            bind_packet(self.sock, iface)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise
        self._received = 0
        self._dropped = 0

    def _frame(self, data: bytes, addr: tuple[object, ...], ts_ns: int) -> Frame:
        wirelen = len(data)
        if self.linktype == 113:
            _ifname, proto, pkttype, hatype, hwaddr = addr[:5]
            hw = bytes(hwaddr)[:8]  # type: ignore[arg-type]
            data = struct.pack("!HHH8sH", int(pkttype), int(hatype), len(hw), hw.ljust(8, b"\x00"),  # type: ignore[call-overload]
                               int(proto)) + data  # type: ignore[call-overload]
            wirelen += 16
        return Frame(ts_ns, self.linktype, data[:self.snaplen], wirelen)

    def frames(self, *, count: int | None = None, duration_s: float | None = None,
               stop: Callable[[], bool] | None = None,
               clock: Callable[[], int] = time.monotonic_ns) -> Iterator[Frame]:
        """Yield captured frames until ``count`` frames, ``duration_s`` seconds or ``stop()`` returns True.

        Raises:
            UsageError: neither a count nor a duration bounds the capture.
        """
        if count is None and duration_s is None:
            raise UsageError("capture: give -c COUNT or --duration SECONDS (every capture is bounded)")
        end = clock() + int(duration_s * 1e9) if duration_s is not None else None
        n = 0
        while count is None or n < count:
            if stop is not None and stop():
                return
            wait = 0.2
            if end is not None:
                left = (end - clock()) / 1e9
                if left <= 0:
                    return
                wait = min(wait, left)
            r, _, _ = select.select([self.sock], [], [], wait)
            if not r:
                continue
            while count is None or n < count:
                try:
                    data, anc, _flags, addr = self.sock.recvmsg(65535, 64)
                except BlockingIOError:
                    break
                ts = kernel_ts(anc, 0, time.time_ns())
                if self.loopback and addr[2] == socket.PACKET_OUTGOING:
                    continue  # loopback shows every packet twice; keep the incoming copy (as libpcap does)
                n += 1
                yield self._frame(data, addr, ts)

    def statistics(self) -> CaptureStats:
        """Return the kernel's counters since the capture opened (PACKET_STATISTICS, accumulated)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        self._received += packets
        self._dropped += drops
        return CaptureStats(self._received, self._dropped)

    def close(self) -> None:
        """Close the socket; returns nothing."""
        self.sock.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_live(iface: str | None, bpf: str | None = None, *, snaplen: int = 262144) -> LiveCapture:
    """Return a LiveCapture on ``iface`` (None or "any": every interface) filtered by ``bpf``.

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        UsageError: unknown interface, or a filter that does not compile.
    """
    from ..transport.privileges import require_cap_net_raw

    require_cap_net_raw("opening an AF_PACKET socket")
    return LiveCapture(None if iface in (None, "any") else iface, bpf, snaplen=snaplen)
