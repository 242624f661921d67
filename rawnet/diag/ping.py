"""ICMP / ICMPv6 echo with a ping(8)-style summary.

plan_ping() (pure) -> run_ping() (edge) -> interpret_ping() (pure) -> PingReport.
The summary follows iputils ping: loss = 1 - received/transmitted, and mdev is the population
standard deviation of the RTTs, sqrt(mean(rtt^2) - mean(rtt)^2).
"""

from __future__ import annotations

import math
import os
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

__all__ = ["PingVerdict", "PingReply", "PingReport", "plan_ping", "run_ping", "interpret_ping"]


class PingVerdict(StrEnum):
    """Overall answer of a ping run."""

    ALIVE = "alive"
    PARTIAL = "partial"
    UNREACHABLE = "unreachable"
    NO_REPLY = "no-reply"


@dataclass(frozen=True, slots=True)
class PingReply:
    """One answer: an echo reply, or an ICMP error about one of our requests."""

    seq: int
    """Echo sequence it answers."""
    sender: str
    """Who sent it."""
    rtt_ns: int
    """Round-trip time."""
    ttl: int | None
    """Reply TTL / hop limit."""
    size: int
    """ICMP bytes in the reply."""
    error: str | None = None
    """For an ICMP error, its description (e.g. "host-unreachable"), else None."""

    def line(self) -> str:
        """Return the ping(8)-style line for this reply."""
        if self.error:
            return f"From {self.sender} icmp_seq={self.seq} {self.error}"
        return (f"{self.size} bytes from {self.sender}: icmp_seq={self.seq} ttl={self.ttl} "
                f"time={self.rtt_ns / 1e6:.3f} ms")


@dataclass
class PingReport:
    """What ping reports: per-reply lines and the summary."""

    target: str
    """Target address."""
    transmitted: int
    """Echo requests sent (not counting nothing: every request is sent once)."""
    replies: list[PingReply]
    """Replies and errors, in arrival order."""
    verdict: PingVerdict
    """Overall answer."""
    mismatches: list[Mismatch] = field(default_factory=list)
    """Packets that answered none of our requests."""
    duration_ns: int = 0
    """Wall time."""

    @property
    def received(self) -> int:
        """Return the number of echo replies (errors excluded)."""
        return len({r.seq for r in self.replies if r.error is None})

    @property
    def errors(self) -> int:
        """Return the number of ICMP errors received."""
        return sum(1 for r in self.replies if r.error is not None)

    @property
    def loss_pct(self) -> float:
        """Return the packet loss in percent."""
        return 100.0 * (1 - self.received / self.transmitted) if self.transmitted else 0.0

    def rtt_stats_ns(self) -> tuple[int, int, int, int] | None:
        """Return (min, avg, max, mdev) of the echo replies' RTTs in ns, or None without replies."""
        rtts = [r.rtt_ns for r in self.replies if r.error is None]
        if not rtts:
            return None
        avg = sum(rtts) / len(rtts)
        var = sum(x * x for x in rtts) / len(rtts) - avg * avg
        return min(rtts), round(avg), max(rtts), round(math.sqrt(max(var, 0.0)))

    def summary(self) -> str:
        """Return the ping(8)-style statistics block."""
        lines = [f"--- {self.target} ping statistics ---",
                 f"{self.transmitted} packets transmitted, {self.received} received"
                 + (f", +{self.errors} errors" if self.errors else "")
                 + f", {self.loss_pct:.0f}% packet loss, time {self.duration_ns // 1_000_000}ms"]
        st = self.rtt_stats_ns()
        if st is not None:
            lines.append("rtt min/avg/max/mdev = " + "/".join(f"{x / 1e6:.3f}" for x in st) + " ms")
        return "\n".join(lines)

    def record(self) -> dict[str, object]:
        """Return the JSON record of the summary."""
        st = self.rtt_stats_ns()
        return {"target": self.target, "verdict": str(self.verdict), "transmitted": self.transmitted,
                "received": self.received, "errors": self.errors, "loss_pct": round(self.loss_pct, 2),
                "rtt_min_ns": st[0] if st else None, "rtt_avg_ns": st[1] if st else None,
                "rtt_max_ns": st[2] if st else None, "rtt_mdev_ns": st[3] if st else None}


def plan_ping(src: str, dst: str, *, count: int, ident: int, size: int = 56, ttl: int = 64,
              df: bool = False) -> list[tuple[Probe, bytes]]:
    """Return ``count`` echo requests (seq 1..count) with ``size`` data bytes each."""
    if not 0 <= size <= 65000:
        raise UsageError(f"--size {size}: expected 0-65000 bytes")
    out = []
    for seq in range(1, count + 1):
        data = (bytes(range(256)) * (size // 256 + 1))[:size]
        spec = CraftSpec("icmp", src, dst, ttl=ttl, df=df, icmp_id=ident, icmp_seq=seq, payload=data)
        out.append((Probe("icmp", src, dst, icmp_id=ident, icmp_seq=seq, ttl=ttl, tag=seq), encode(craft(spec))))
    return out


def interpret_ping(ex: Exchange, *, target: str, transmitted: int) -> PingReport:
    """Return the PingReport of the exchange ``ex``."""
    replies = []
    for m in ex.matches:
        replies.append(_reply(m))
    got = {r.seq for r in replies if r.error is None}
    if got and len(got) == transmitted:
        verdict = PingVerdict.ALIVE
    elif got:
        verdict = PingVerdict.PARTIAL
    elif any(r.error for r in replies):
        verdict = PingVerdict.UNREACHABLE
    else:
        verdict = PingVerdict.NO_REPLY
    return PingReport(target, transmitted, replies, verdict, ex.mismatches, ex.end_ns - ex.start_ns)


def _reply(m: Match) -> PingReply:
    icmp = m.packet.icmp
    assert icmp is not None
    if m.kind == ReplyKind.ECHO_REPLY:
        return PingReply(m.probe.icmp_seq, m.sender or "?", m.rtt_ns, m.reply_ttl, 8 + len(icmp.body))
    err = icmp.code_name or icmp.type_name
    if icmp.type_name == "time-exceeded":
        err = "Time to live exceeded"
    return PingReply(m.probe.icmp_seq, m.sender or "?", m.rtt_ns, m.reply_ttl, 8 + len(icmp.body), err)


def run_ping(host: str, *, count: int = 4, interval_s: float = 1.0, size: int = 56, ttl: int = 64,
             df: bool = False, timeout_s: float = 2.0, family: int | None = None, allow_broadcast: bool = False,
             transport: Transport | None = None, src: str | None = None, ident: int | None = None,
             clock: Callable[[], int] = time.monotonic_ns,
             on_event: Callable[[Match | Mismatch | Probe], None] | None = None) -> PingReport:
    """Return the PingReport of sending ``count`` echo requests to ``host``, one per ``interval_s``.

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        UsageError: count outside 1-100000 or interval below 1 ms.
    """
    if not 1 <= count <= 100_000:
        raise UsageError(f"--count {count}: expected 1-100000")
    if interval_s < 0.001:
        raise UsageError(f"--interval {interval_s}: the minimum is 0.001 s")
    from .target import open_for

    transport, addr, src, owned = open_for(host, family=family, allow_broadcast=allow_broadcast, src=src,
                                           transport=transport, clock=clock, operation="sending ICMP echo requests",
                                           caller="run_ping")
    assert src is not None
    ident = ident if ident is not None else (os.getpid() ^ int.from_bytes(os.urandom(2), "big")) & 0xFFFF
    try:
        plan = plan_ping(src, addr, count=count, ident=ident, size=size, ttl=ttl, df=df)
        bounds = Bounds(max_packets=count, max_duration_s=min(count * interval_s + timeout_s + 1, 600.0),
                        rate_pps=1.0 / interval_s)
        ex = exchange(plan, transport, timeout_ns=int(timeout_s * 1e9), bounds=bounds, clock=clock,
                      on_event=on_event)
    finally:
        if owned:
            transport.close()
    return interpret_ping(ex, target=addr, transmitted=ex.sent)
