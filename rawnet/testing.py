"""Test doubles for rawnet's own tests and for users' tests (like ``trio.testing``): a manual clock,
a fake transport with a scriptable peer, and factories for the replies a kernel would send.

Nothing here touches the network or reads a clock. A ``FakeTransport`` decodes each packet the code
under test sends, asks a *responder* (a function of the sent Packet) for replies with delays, and
hands them back from ``recv()`` while moving the ``ManualClock`` forward, so ``run_*`` functions
run instantly and deterministically.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .packet import encode
from .packet.craft import CraftSpec, craft
from .packet.icmp import ICMPMessage
from .packet.ipv4 import IPv4Header
from .packet.stack import Packet, decode

__all__ = ["ManualClock", "FakeTransport", "Responder", "syn_ack", "rst", "icmp_error", "echo_reply",
           "udp_reply", "FakeHost", "FakeRouter", "PORT_UNREACH", "ADMIN_PROHIBITED"]

Responder = Callable[[Packet], Iterable[tuple[int, bytes]]]
PORT_UNREACH = {4: (3, 3), 6: (1, 4)}
ADMIN_PROHIBITED = {4: (3, 13), 6: (1, 1)}
HOST_UNREACH = {4: (3, 1), 6: (1, 3)}


@dataclass
class ManualClock:
    """A monotonic nanosecond clock that moves only when told to; call it like ``time.monotonic_ns``."""

    now_ns: int = 1_000_000_000

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, ns: int) -> None:
        """Move the clock forward by ``ns``; returns nothing."""
        if ns < 0:
            raise ValueError("a monotonic clock never goes back")
        self.now_ns += ns

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` (a drop-in for time.sleep); returns nothing."""
        self.advance(int(seconds * 1e9))


@dataclass
class FakeTransport:
    """A Transport whose peer is a function: sent packets are decoded and answered after a delay."""

    clock: ManualClock
    responder: Responder
    sent: list[tuple[int, bytes, str]] = field(default_factory=list)
    closed: bool = False
    _queue: list[tuple[int, int, bytes]] = field(default_factory=list)
    _n: int = 0

    def send(self, data: bytes, dst: str) -> None:
        """Record the packet and schedule the responder's replies; returns nothing."""
        now = self.clock()
        self.sent.append((now, data, dst))
        pkt = decode(data, 101)
        for delay, reply in self.responder(pkt):
            self._n += 1
            heapq.heappush(self._queue, (now + delay, self._n, reply))

    def recv(self, timeout_ns: int) -> list[tuple[int, bytes]]:
        """Return replies due within ``timeout_ns``, advancing the clock to the first of them (or the timeout)."""
        deadline = self.clock() + max(timeout_ns, 0)
        if not self._queue or self._queue[0][0] > deadline:
            self.clock.advance(deadline - self.clock())
            return []
        due = max(self._queue[0][0], self.clock())
        self.clock.advance(due - self.clock())
        out = []
        while self._queue and self._queue[0][0] <= due:
            ts, _, data = heapq.heappop(self._queue)
            out.append((ts, data))
        return out

    def close(self) -> None:
        """Mark the transport closed; returns nothing."""
        self.closed = True


# ------------------------------------------------------------------------------------------ factories

def _ttl(p: Packet) -> int:
    net = p.network
    assert net is not None
    return net.ttl if isinstance(net, IPv4Header) else net.hop_limit


def syn_ack(sent: Packet, *, ttl: int = 64, seq: int = 1000) -> bytes:
    """Return the SYN/ACK a listening host sends for the SYN ``sent``."""
    t = sent.tcp
    assert t is not None and sent.dst and sent.src
    return encode(craft(CraftSpec("tcp", sent.dst, sent.src, t.dst_port, t.src_port, "SA", seq,
                                  (t.seq + 1) & 0xFFFFFFFF, ttl=ttl, mss=1460)))


def rst(sent: Packet, *, ttl: int = 64, ack_offset: int = 1) -> bytes:
    """Return the RST|ACK a host sends for a SYN to a closed port (``ack_offset`` != 1 makes a bad one)."""
    t = sent.tcp
    assert t is not None and sent.dst and sent.src
    return encode(craft(CraftSpec("tcp", sent.dst, sent.src, t.dst_port, t.src_port, "RA", 0,
                                  (t.seq + ack_offset) & 0xFFFFFFFF, window=0, ttl=ttl)))


def icmp_error(sent: Packet, typ_code: tuple[int, int], *, sender: str | None = None, ttl: int = 64) -> bytes:
    """Return an ICMP(v6) error of (type, code) about ``sent``, from ``sender`` (default: the target)."""
    assert sent.dst and sent.src
    raw = encode(sent)
    quote = raw[:548] if sent.ip_version == 4 else raw[:1184]  # as much as fits (RFC 1812 4.3.2.3, RFC 4443 2.4)
    src = sender or sent.dst
    typ, code = typ_code
    return encode(craft(CraftSpec("icmp", src, sent.src, icmp_type=typ, icmp_code=code, payload=quote, ttl=ttl)))


def echo_reply(sent: Packet, *, ttl: int = 64) -> bytes:
    """Return the echo reply to the echo request ``sent``."""
    m = sent.icmp
    assert m is not None and sent.dst and sent.src
    reply = ICMPMessage(129 if m.version == 6 else 0, 0, m.rest, m.body, m.version)
    net = sent.network
    assert net is not None
    if isinstance(net, IPv4Header):
        new_net: object = IPv4Header(net.dst, net.src, 1, ttl)
    else:
        from .packet.ipv6 import IPv6Header

        new_net = IPv6Header(net.dst, net.src, 58, ttl)
    return encode(Packet(None, new_net, reply, linktype=101))  # type: ignore[arg-type]


def udp_reply(sent: Packet, data: bytes = b"ok", *, ttl: int = 64) -> bytes:
    """Return a UDP datagram answering ``sent``."""
    u = sent.udp
    assert u is not None and sent.dst and sent.src
    return encode(craft(CraftSpec("udp", sent.dst, sent.src, u.dst_port, u.src_port, ttl=ttl, payload=data)))


@dataclass
class FakeHost:
    """A responder that behaves like a Linux host: per-port rules for TCP and UDP, echo replies.

    ``tcp`` maps a port to "open", "closed", "drop", "reject" (ICMP port unreachable), "prohibit"
    (admin prohibited) or "reset"; ports not listed are "closed". ``udp`` likewise ("open" answers,
    default "closed" = port unreachable). ``delay_ns`` is the RTT of every answer.
    """

    address: str
    tcp: dict[int, str] = field(default_factory=dict)
    udp: dict[int, str] = field(default_factory=dict)
    delay_ns: int = 1_000_000
    ttl: int = 64
    answer_ping: bool = True

    def __call__(self, p: Packet) -> list[tuple[int, bytes]]:
        if p.dst != str(ipaddress.ip_address(self.address)):
            return []
        v = p.ip_version or 4
        d = self.delay_ns
        if p.tcp is not None:
            rule = self.tcp.get(p.tcp.dst_port, "closed")
            if p.tcp.flags & 0x04:
                return []
            return _rule(p, rule, v, d, self.ttl, syn_ack)
        if p.udp is not None:
            rule = self.udp.get(p.udp.dst_port, "reject")
            return _rule(p, "reject" if rule == "closed" else rule, v, d, self.ttl, udp_reply)
        if p.icmp is not None and p.icmp.type in (8, 128) and self.answer_ping:
            return [(d, echo_reply(p, ttl=self.ttl))]
        return []


def _rule(p: Packet, rule: str, v: int, d: int, ttl: int, positive: Callable[..., bytes]) -> list[tuple[int, bytes]]:
    if rule == "open":
        return [(d, positive(p, ttl=ttl))]
    if rule in ("closed", "reset"):
        return [(d, rst(p, ttl=ttl))] if p.tcp is not None else [(d, icmp_error(p, PORT_UNREACH[v], ttl=ttl))]
    if rule == "reject":
        return [(d, icmp_error(p, PORT_UNREACH[v], ttl=ttl))]
    if rule == "prohibit":
        return [(d, icmp_error(p, ADMIN_PROHIBITED[v], ttl=ttl))]
    if rule == "host-unreach":
        return [(d, icmp_error(p, HOST_UNREACH[v], ttl=ttl))]
    return []


@dataclass
class FakeRouter:
    """A responder for a path: hop i (1-based) sends time-exceeded when a probe's TTL equals i; then ``host``."""

    hops: list[str | None]
    host: Responder
    hop_delay_ns: int = 500_000

    def __call__(self, p: Packet) -> list[tuple[int, bytes]]:
        ttl = _ttl(p)
        if ttl <= len(self.hops):
            hop = self.hops[ttl - 1]
            if hop is None:
                return []
            v = p.ip_version or 4
            code = (11, 0) if v == 4 else (3, 0)
            return [(self.hop_delay_ns * ttl, icmp_error(p, code, sender=hop, ttl=64 - ttl + 1))]
        extra = self.hop_delay_ns * len(self.hops)
        return [(d + extra, b) for d, b in self.host(p)]
