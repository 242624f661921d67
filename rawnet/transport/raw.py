"""Raw sockets (edge): L3 IP_HDRINCL senders, AF_PACKET receivers with an in-kernel BPF filter, L2 senders.

Theory of operation: a probe is crafted whole (IP header included) by ``rawnet.packet.craft`` and
sent through ``socket(AF_INET, SOCK_RAW, IPPROTO_RAW)`` (IP_HDRINCL is implied) or its IPv6 twin
``socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)``, which on Linux also takes the whole IPv6 packet; the
kernel routes it, so namespaces and policy routing apply exactly as to any other packet. Replies
are read from one cooked packet socket (AF_PACKET, SOCK_DGRAM, ETH_P_ALL) bound to the interface
the kernel routes through: it sees TCP, UDP and ICMP/ICMPv6 for both families at once, starting at
the IP header. A classic BPF program (``tcpdump -dd`` when tcpdump exists, else
``bpf.reply_filter``) is attached before the socket is bound, so no unfiltered packet is ever
queued, and PACKET_IGNORE_OUTGOING keeps our own packets out. Timestamps come from the kernel
(SO_TIMESTAMPNS) and are moved onto the caller's monotonic clock.

Every socket is made through ``socket_factory`` (trio's pattern) so tests can swap it. A
PermissionError from ``socket()`` becomes PrivilegeError (exit 77) with the setcap hint.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence

from ..errors import TargetError, UsageError
from .bpf import Insn, pack_program, parse_dd, reply_filter
from .privileges import privilege_error

__all__ = ["compile_filter", "attach_filter", "bind_packet", "L3Sender", "PacketReceiver", "LiveTransport", "L2Sender",
           "open_transport", "PreparedBatch", "ETH_P_ALL", "ETH_P_IP", "ETH_P_IPV6"]

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
PACKET_QDISC_BYPASS = 20

SocketFactory = Callable[..., socket.socket]


def compile_filter(expr: str, linktype: int = 101) -> list[Insn]:
    """Return the classic BPF program libpcap compiles for ``expr`` on ``linktype`` (runs ``tcpdump -dd``).

    Raises:
        UsageError: tcpdump is missing, or the expression does not compile.
    """
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise UsageError(f"BPF filter {expr!r}: tcpdump is not installed to compile it (apt-get install tcpdump)")
    with tempfile.NamedTemporaryFile(suffix=".pcap") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        fh.flush()
        proc = subprocess.run([tcpdump, "-dd", "-r", fh.name, expr], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("reading from file")]
        raise UsageError(f"BPF filter {expr!r}: {' '.join(lines).strip() or 'does not compile'}")
    return parse_dd(proc.stdout)


def attach_filter(sock: socket.socket, insns: Sequence[Insn]) -> None:
    """Attach the classic BPF program ``insns`` to ``sock`` (SO_ATTACH_FILTER); returns nothing."""
    prog = pack_program(list(insns))
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("HL", len(insns), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def kernel_ts(anc: list[tuple[int, int, bytes]], offset: int, now: int, *, slack_ns: int = 1_000_000_000) -> int:
    """Return the SO_TIMESTAMPNS time of a packet moved onto the caller's clock (``realtime - offset``), or ``now``.

    Outgoing TCP segments can carry their departure time in CLOCK_MONOTONIC rather than realtime
    (the kernel's EDT pacing), so a kernel stamp more than ``slack_ns`` away from ``now`` is not trusted.
    """
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(cdata) >= 16:
            sec, nsec = struct.unpack_from("qq", cdata)
            ts = sec * 1_000_000_000 + nsec - offset
            if abs(ts - now) <= slack_ns:
                return ts
    return now


def bind_packet(sock: socket.socket, iface: str | None, protocol: int = ETH_P_ALL) -> None:
    """Bind an AF_PACKET socket to ``iface``, or to every interface (ifindex 0) when None; returns nothing."""
    if iface:
        sock.bind((iface, protocol))
        return
    # Python's AF_PACKET address needs an interface name; bind sockaddr_ll with ifindex 0 directly
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    addr = struct.pack("=HHiHBB8s", socket.AF_PACKET, socket.htons(protocol), 0, 0, 0, 0, b"")
    if libc.bind(sock.fileno(), ctypes.c_char_p(addr), len(addr)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _open(factory: SocketFactory, operation: str, *args: int) -> socket.socket:
    try:
        return factory(*args)
    except PermissionError as err:
        raise privilege_error(operation, err) from err


class L3Sender:
    """Sends whole IPv4 or IPv6 packets through a raw IPPROTO_RAW socket (needs CAP_NET_RAW)."""

    def __init__(self, version: int, *, socket_factory: SocketFactory = socket.socket, mark: int | None = None) -> None:
        fam = socket.AF_INET6 if version == 6 else socket.AF_INET
        self.version = version
        self.sock = _open(socket_factory, f"opening a raw IPv{version} socket", fam, socket.SOCK_RAW,
                          socket.IPPROTO_RAW)
        if mark is not None:  # SO_MARK (needs CAP_NET_ADMIN) lets a firewall rule tell our packets apart
            self.sock.setsockopt(socket.SOL_SOCKET, 36, mark)

    def send(self, data: bytes, dst: str) -> None:
        """Send one packet (IP header included) to ``dst``; returns nothing."""
        addr: tuple[str, int] | tuple[str, int, int, int] = (dst, 0) if self.version == 4 else (dst, 0, 0, 0)
        try:
            self.sock.sendto(data, addr)
        except PermissionError as err:
            # EPERM on send: a local firewall (nft/iptables OUTPUT) refused the packet
            raise TargetError(f"sending to {dst}: refused by this host (a firewall output rule?): {err.strerror}") from err

    def close(self) -> None:
        """Close the socket; returns nothing."""
        self.sock.close()


class PacketReceiver:
    """A cooked AF_PACKET socket on one interface (or all), with a BPF filter attached before binding."""

    def __init__(self, iface: str | None, program: Sequence[Insn] | None, *, ignore_outgoing: bool = True,
                 socket_factory: SocketFactory = socket.socket, kind: int = socket.SOCK_DGRAM,
                 rcvbuf: int = 32 << 20) -> None:
        self.sock = _open(socket_factory, "opening an AF_PACKET socket", socket.AF_PACKET, kind, 0)
        try:
            try:  # as root, beyond net.core.rmem_max: a fast scan's answers arrive in a burst
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            except OSError:
                with contextlib.suppress(OSError):
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if program is not None:
                attach_filter(self.sock, program)
            if ignore_outgoing:
                with contextlib.suppress(OSError):  # Linux >= 4.20
                    self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            bind_packet(self.sock, iface)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise
        self.ignore_outgoing = ignore_outgoing

    def recv_batch(self, timeout_ns: int, clock: Callable[[], int] = time.monotonic_ns,
                   max_packets: int = 4096) -> list[tuple[int, bytes, tuple[object, ...]]]:
        """Return (ts_ns on ``clock``, bytes, sockaddr_ll tuple) for packets within ``timeout_ns``."""
        out: list[tuple[int, bytes, tuple[object, ...]]] = []
        if timeout_ns > 0:
            r, _, _ = select.select([self.sock], [], [], timeout_ns / 1e9)
            if not r:
                return out
        offset = time.time_ns() - clock()
        while len(out) < max_packets:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, 64)
            except BlockingIOError:
                break
            now = clock()
            ts = kernel_ts(anc, offset, now)
            if self.ignore_outgoing and len(addr) > 2 and addr[2] == PACKET_OUTGOING:
                continue
            out.append((ts, data, addr))
        return out

    def statistics(self) -> tuple[int, int]:
        """Return (packets, drops) from PACKET_STATISTICS since the last call (the kernel resets them)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return packets, drops

    def close(self) -> None:
        """Close the socket; returns nothing."""
        self.sock.close()


class LiveTransport:
    """Transport over an L3 raw sender and a filtered cooked AF_PACKET receiver (implements base.Transport)."""

    def __init__(self, sender: L3Sender, receiver: PacketReceiver,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.sender = sender
        self.receiver = receiver
        self.clock = clock
        self.sent = 0

    def send(self, data: bytes, dst: str) -> None:
        """Send one IP packet to ``dst``; returns nothing."""
        self.sender.send(data, dst)
        self.sent += 1

    def recv(self, timeout_ns: int) -> list[tuple[int, bytes]]:
        """Return received (ts_ns, ip_packet) pairs within ``timeout_ns``."""
        return [(ts, data) for ts, data, _ in self.receiver.recv_batch(timeout_ns, self.clock)]

    def close(self) -> None:
        """Close both sockets; returns nothing."""
        self.sender.close()
        self.receiver.close()

    def __enter__(self) -> LiveTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_transport(target: str, iface: str | None, *, bpf: str | None = None,
                   clock: Callable[[], int] = time.monotonic_ns,
                   socket_factory: SocketFactory = socket.socket) -> LiveTransport:
    """Return a LiveTransport for ``target`` receiving on ``iface`` (None: every interface).

    The receive filter is ``bpf``, or by default "packets from the target and all ICMP of its family",
    compiled by libpcap (``tcpdump -dd``) or, without tcpdump, hand-built (``bpf.reply_filter``).

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
    """
    version = 6 if ":" in target else 4
    if bpf:
        program = compile_filter(bpf)
    else:
        try:  # libpcap's compiler when tcpdump is there, else the hand-built program of the same meaning
            program = compile_filter(f"src host {target} or {'icmp6' if version == 6 else 'icmp'}")
        except UsageError:
            program = reply_filter(target)
    receiver = PacketReceiver(iface, program, socket_factory=socket_factory)
    try:
        sender = L3Sender(version, socket_factory=socket_factory)
    except BaseException:
        receiver.close()
        raise
    return LiveTransport(sender, receiver, clock)


class _MMsgHdr(ctypes.Structure):
    pass


class _IOVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_IOVec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


_MMsgHdr._fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint)]


class PreparedBatch:
    """Frames copied once into C buffers with their iovecs and mmsghdrs (kept alive together)."""

    def __init__(self, frames: Sequence[bytes]) -> None:
        self.n = n = len(frames)
        self.bufs = [ctypes.create_string_buffer(bytes(f), len(f)) for f in frames]
        self.iovs = (_IOVec * max(n, 1))()
        self.msgs = (_MMsgHdr * max(n, 1))()
        for i, (b, f) in enumerate(zip(self.bufs, frames)):
            self.iovs[i].iov_base = ctypes.addressof(b)
            self.iovs[i].iov_len = len(f)
            self.msgs[i].msg_hdr.msg_iov = ctypes.pointer(self.iovs[i])
            self.msgs[i].msg_hdr.msg_iovlen = 1


class L2Sender:
    """Sends whole Ethernet frames on one interface through AF_PACKET SOCK_RAW, in sendmmsg batches."""

    def __init__(self, iface: str, *, socket_factory: SocketFactory = socket.socket,
                 qdisc_bypass: bool = True) -> None:
        self.sock = _open(socket_factory, "opening an AF_PACKET socket", socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.sock.bind((iface, 0))
        if qdisc_bypass:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

    def send(self, frame: bytes) -> None:
        """Send one frame; returns nothing."""
        self.sock.send(frame)

    def prepare(self, frames: Sequence[bytes]) -> PreparedBatch:
        """Return ``frames`` laid out once as an mmsghdr array, for repeated ``send_prepared`` calls."""
        return PreparedBatch(frames)

    def send_prepared(self, batch: PreparedBatch, count: int | None = None) -> int:
        """Send the first ``count`` (default all) frames of ``batch`` with sendmmsg(); return how many were sent."""
        n = batch.n if count is None else min(count, batch.n)
        sent = 0
        fd = self.sock.fileno()
        size = ctypes.sizeof(_MMsgHdr)
        while sent < n:
            rv = self._libc.sendmmsg(fd, ctypes.byref(batch.msgs, sent * size), min(n - sent, 1024), 0)
            if rv < 0:
                err = ctypes.get_errno()
                if err in (11, 105):  # EAGAIN, ENOBUFS: queue full, wait a little and go on
                    select.select([], [self.sock], [], 0.01)
                    continue
                raise OSError(err, os.strerror(err))
            sent += rv
        return sent

    def send_batch(self, frames: Sequence[bytes]) -> int:
        """Send ``frames`` with as few sendmmsg() calls as the kernel allows; return how many were sent."""
        return self.send_prepared(self.prepare(frames)) if frames else 0

    def close(self) -> None:
        """Close the socket; returns nothing."""
        self.sock.close()
