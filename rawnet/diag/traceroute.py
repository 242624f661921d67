"""Traceroute with ICMP echo, UDP (classic ports 33434+) or TCP SYN probes.

plan_traceroute() (pure) -> run_traceroute() (edge) -> interpret_traceroute() (pure) -> TraceReport.

Probes go out a window of TTLs at a time (``parallel``, default 4, like mtr/paris-traceroute);
after each window the run stops if the destination answered (echo reply, port unreachable, SYN/ACK
or RST from the target, or any ICMP error sent by the target itself). A hop whose probes all time
out prints ``*``. Every probe carries its own key (echo sequence, UDP destination port, TCP source
port) so each ICMP time-exceeded pairs by the header it quotes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import UsageError
from ..packet import encode
from ..packet.craft import CraftSpec, craft
from ..transport.base import Transport
from ..transport.matcher import Match, Mismatch, Probe, ReplyKind
from ..transport.policy import Bounds
from .engine import Exchange, exchange

__all__ = ["TraceVerdict", "HopProbe", "Hop", "TraceReport", "plan_traceroute", "run_traceroute",
           "interpret_traceroute"]

UDP_BASE_PORT = 33434


class TraceVerdict(StrEnum):
    """Did the trace reach the destination."""

    REACHED = "reached"
    UNREACHABLE = "unreachable"
    NOT_REACHED = "not-reached"


@dataclass(frozen=True, slots=True)
class HopProbe:
    """One probe at one TTL: who answered and how fast (None for a timeout)."""

    addr: str | None
    """Responder address, or None (timeout)."""
    rtt_ns: int | None
    """Round-trip time."""
    note: str = ""
    """What the answer was: "time-exceeded", "echo-reply", "port-unreachable", "syn-ack", "reset", ..."""


@dataclass(frozen=True, slots=True)
class Hop:
    """All probes of one TTL."""

    ttl: int
    """TTL / hop limit of the probes."""
    probes: tuple[HopProbe, ...]
    """One per query."""

    def line(self) -> str:
        """Return the traceroute(8)-style line: TTL, then each responder once with its RTTs."""
        parts: list[str] = []
        last: str | None = None
        for p in self.probes:
            if p.addr is None:
                parts.append("*")
                continue
            if p.addr != last:
                parts.append(p.addr)
                last = p.addr
            parts.append(f"{(p.rtt_ns or 0) / 1e6:.3f} ms" + (f" !{_BANG[p.note]}" if p.note in _BANG else ""))
        return f"{self.ttl:2d}  " + "  ".join(parts)


_BANG = {"host-unreachable": "H", "net-unreachable": "N", "admin-prohibited": "X", "protocol-unreachable": "P",
         "address-unreachable": "H", "no-route": "N"}


@dataclass
class TraceReport:
    """The hops up to the destination (or the last TTL tried)."""

    target: str
    """Target address."""
    method: str
    """"icmp", "udp" or "tcp"."""
    hops: list[Hop]
    """In TTL order."""
    verdict: TraceVerdict
    """Whether the destination answered."""
    mismatches: list[Mismatch] = field(default_factory=list)
    """Packets that answered no probe."""

    def record(self) -> dict[str, object]:
        """Return the JSON record: target, method, verdict and hops with addresses and RTTs."""
        return {"target": self.target, "method": self.method, "verdict": str(self.verdict),
                "hops": [{"ttl": h.ttl, "probes": [{"addr": p.addr, "rtt_ns": p.rtt_ns, "note": p.note}
                                                   for p in h.probes]} for h in self.hops]}


def plan_traceroute(src: str, dst: str, *, method: str = "icmp", ttls: range, queries: int = 3, port: int = 80,
                    ident: int = 0x5254, sport: int = 50000) -> list[tuple[Probe, bytes]]:
    """Return the probes for every TTL in ``ttls``, ``queries`` each (unique key per probe)."""
    if method not in ("icmp", "udp", "tcp"):
        raise UsageError(f"traceroute method {method!r}: expected icmp, udp or tcp")
    out = []
    for ttl in ttls:
        for q in range(queries):
            n = ttl * queries + q
            if method == "icmp":
                spec = CraftSpec("icmp", src, dst, ttl=ttl, icmp_id=ident, icmp_seq=n, payload=b"\x00" * 32)
                probe = Probe("icmp", src, dst, icmp_id=ident, icmp_seq=n, ttl=ttl, tag=q)
            elif method == "udp":
                dport = UDP_BASE_PORT + n
                spec = CraftSpec("udp", src, dst, sport, dport, ttl=ttl, payload=b"\x00" * 32)
                probe = Probe("udp", src, dst, sport, dport, ttl=ttl, tag=q)
            else:
                sp = sport + n
                seq = (ident << 16 | n) & 0xFFFFFFFF
                spec = CraftSpec("tcp", src, dst, sp, port, "S", seq, ttl=ttl, window=1024, mss=1460)
                probe = Probe("tcp", src, dst, sp, port, seq=seq, ttl=ttl, tag=q)
            out.append((probe, encode(craft(spec))))
    return out


def _note(m: Match) -> str:
    if m.kind == ReplyKind.ICMP_ERROR:
        icmp = m.packet.icmp
        assert icmp is not None
        return icmp.code_name or icmp.type_name
    return str(m.kind)


def interpret_traceroute(ex: Exchange, *, target: str, method: str, ttls: range, queries: int) -> TraceReport:
    """Return the TraceReport for the exchange ``ex``: hops up to the first TTL the destination answered."""
    by_probe: dict[tuple[int, int], Match] = {(m.probe.ttl, m.probe.tag): m for m in ex.matches}
    hops: list[Hop] = []
    verdict = TraceVerdict.NOT_REACHED
    for ttl in ttls:
        probes = []
        reached = False
        for q in range(queries):
            m = by_probe.get((ttl, q))
            if m is None:
                probes.append(HopProbe(None, None))
                continue
            note = _note(m)
            probes.append(HopProbe(m.sender, m.rtt_ns, note))
            if m.sender == target or m.kind != ReplyKind.ICMP_ERROR:
                reached = True
            elif note not in ("time-exceeded",):
                verdict = TraceVerdict.UNREACHABLE
                reached = True
        hops.append(Hop(ttl, tuple(probes)))
        if reached:
            if verdict != TraceVerdict.UNREACHABLE:
                verdict = TraceVerdict.REACHED
            break
    return TraceReport(target, method, hops, verdict, ex.mismatches)


def run_traceroute(host: str, *, method: str = "icmp", port: int = 80, first_ttl: int = 1, max_ttl: int = 30,
                   queries: int = 3, timeout_s: float = 1.0, parallel: int = 4, rate_pps: float = 100.0,
                   family: int | None = None, allow_broadcast: bool = False, transport: Transport | None = None,
                   src: str | None = None, clock: Callable[[], int] = time.monotonic_ns) -> TraceReport:
    """Return the TraceReport of tracing the path to ``host`` (needs CAP_NET_RAW unless ``transport`` is given).

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        UsageError: TTLs outside 1-255, queries outside 1-10.
    """
    if not 1 <= first_ttl <= max_ttl <= 255:
        raise UsageError(f"TTL range {first_ttl}-{max_ttl}: expected 1 <= first <= max <= 255")
    if not 1 <= queries <= 10:
        raise UsageError(f"--queries {queries}: expected 1-10")
    from .target import open_for

    transport, addr, src, owned = open_for(host, family=family, allow_broadcast=allow_broadcast, src=src,
                                           transport=transport, clock=clock, operation="sending traceroute probes",
                                           caller="run_traceroute")
    assert src is not None
    total = Exchange()
    try:
        ttl = first_ttl
        while ttl <= max_ttl:
            window = range(ttl, min(ttl + parallel, max_ttl + 1))
            plan = plan_traceroute(src, addr, method=method, ttls=window, queries=queries, port=port)
            ex = exchange(plan, transport, timeout_ns=int(timeout_s * 1e9),
                          bounds=Bounds(max_packets=len(plan), max_duration_s=60.0, rate_pps=rate_pps), clock=clock)
            total.matches += ex.matches
            total.mismatches += ex.mismatches
            total.sent += ex.sent
            rep = interpret_traceroute(ex, target=addr, method=method, ttls=window, queries=queries)
            if rep.verdict != TraceVerdict.NOT_REACHED:
                break
            ttl = window.stop
    finally:
        if owned:
            transport.close()
    return interpret_traceroute(total, target=addr, method=method, ttls=range(first_ttl, max_ttl + 1),
                                queries=queries)
