"""The send-and-match loop every probing diagnostic shares (edge only through its Transport).

Theory of operation: probes go out at most at ``bounds.rate_pps`` (a token-bucket with one token:
the next send is due ``interval_ns`` after the previous), never more than ``bounds.max_packets``
packets and never past ``bounds.max_duration_s``. Between sends the loop waits for replies with
the transport's ``recv(timeout)``, so with a ManualClock and a FakeTransport it runs instantly.
Every received packet is decoded leniently and offered to the ReplyMatcher; a probe whose timeout
passes is re-sent up to ``retries`` times (same bytes, same key), then reported unanswered.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..transport.base import Transport
from ..transport.matcher import Match, Mismatch, Probe, ReplyMatcher
from ..transport.policy import Bounds

__all__ = ["Exchange", "exchange"]


@dataclass
class Exchange:
    """What one send-and-match run saw."""

    matches: list[Match] = field(default_factory=list)
    """Replies paired with probes, in arrival order."""
    mismatches: list[Mismatch] = field(default_factory=list)
    """Packets that paired with nothing, each with the rule it failed."""
    unanswered: list[Probe] = field(default_factory=list)
    """Probes that got no answer after every retry."""
    attempts: dict[tuple[int, bytes, bytes, int, int], int] = field(default_factory=dict)
    """How many times each probe (by key) was sent."""
    sent: int = 0
    """Packets sent."""
    start_ns: int = 0
    """When the first packet went out."""
    end_ns: int = 0
    """When the run ended."""
    truncated: str | None = None
    """Why the run stopped early (a bound), else None."""


def exchange(plan: Sequence[tuple[Probe, bytes]], transport: Transport, *, timeout_ns: int, bounds: Bounds,
             retries: int = 0, clock: Callable[[], int] = time.monotonic_ns,
             on_event: Callable[[Match | Mismatch | Probe], None] | None = None,
             keep_mismatches: int = 1000, burst: int = 256) -> Exchange:
    """Return the Exchange of sending ``plan`` through ``transport`` and matching what comes back.

    Args:
        plan: (probe, ip_packet_bytes) pairs in send order.
        transport: where packets go and replies come from.
        timeout_ns: how long each probe waits for its answer after its (last) send.
        bounds: packet, time and rate limits.
        retries: how many times an unanswered probe is sent again.
        on_event: called with each Match, Mismatch and finally-unanswered Probe as it happens.
    """
    matcher = ReplyMatcher(timeout_ns=timeout_ns)
    queue: deque[tuple[Probe, bytes, tuple[int, bytes, bytes, int, int]]] = deque((p, b, p.key()) for p, b in plan)
    byte_of = {k: b for _, b, k in queue}
    ex = Exchange()
    interval = bounds.interval_ns
    start = clock()
    ex.start_ns = start
    hard_end = start + int(bounds.max_duration_s * 1e9)
    next_send = start
    while queue or matcher.outstanding:
        now = clock()
        if now >= hard_end:
            ex.truncated = f"time bound of {bounds.max_duration_s:g} s reached"
            break
        while queue and now >= next_send:
            if ex.sent >= bounds.max_packets:
                ex.truncated = f"packet bound of {bounds.max_packets} reached"
                queue.clear()
                break
            probe, data, k = queue.popleft()
            transport.send(data, probe.dst)
            matcher.add_probe(probe, now, k)
            ex.attempts[k] = ex.attempts.get(k, 0) + 1
            ex.sent += 1
            if interval:
                next_send = max(next_send + interval, now)
                break
            if ex.sent % burst == 0:  # unlimited rate: drain replies between bursts so no queue overflows
                break
        if queue and not interval:
            wait = 0
        else:
            deadline = matcher.next_deadline()
            wake = min(x for x in (next_send if queue else None, deadline, hard_end) if x is not None)
            wait = max(wake - clock(), 0)
        for ts, data in transport.recv(wait):
            r = matcher.match_raw(data, ts)
            if isinstance(r, Match):
                ex.matches.append(r)
            elif len(ex.mismatches) < keep_mismatches:
                ex.mismatches.append(r)
            if on_event is not None:
                on_event(r)
        for probe in matcher.expire(clock()):
            k = probe.key()
            if ex.attempts.get(k, 0) <= retries:
                queue.appendleft((probe, byte_of[k], k))
            else:
                ex.unanswered.append(probe)
                if on_event is not None:
                    on_event(probe)
    ex.unanswered.extend(e.probe for e in matcher.outstanding.values())
    ex.end_ns = clock()
    return ex
