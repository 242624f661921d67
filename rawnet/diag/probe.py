"""SYN (and ACK, UDP) port probes with nmap's port states and the packet that decided each one.

plan_probe() (pure) -> run_probe() (edge) -> interpret_probe() (pure) -> ProbeReport.

Port states follow nmap's reference guide: for a SYN probe, SYN/ACK -> open, a SYN without ACK
(split handshake) -> open, RST -> closed, ICMP unreachable type 3 code 0/1/2/3/9/10/13 (ICMPv6 1/*)
-> filtered, nothing after the retries -> filtered. For UDP: a UDP answer -> open, ICMP port
unreachable -> closed, other unreachables -> filtered, nothing -> open|filtered. For an ACK probe:
RST -> unfiltered, anything else -> filtered.

About the kernel's own RST: rawnet sends the SYN itself, so when the target answers SYN/ACK the
local kernel finds no socket for that port and answers with an RST, which closes the half-open
connection on the target (nmap -sS does the same). That RST is outgoing: the receive socket never
sees it (PACKET_IGNORE_OUTGOING), and if a capture does show it (loopback), the matcher labels it
"own-packet" instead of pairing it. rawnet adds no firewall rule to suppress it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import UsageError
from ..packet import encode
from ..packet.craft import CraftSpec, craft
from ..transport.base import Transport
from ..transport.matcher import Match, Mismatch, Probe, ReplyKind
from ..transport.policy import Bounds
from .engine import Exchange, exchange

__all__ = ["PortState", "Reason", "PortResult", "ProbeReport", "parse_ports", "plan_probe", "run_probe",
           "interpret_probe", "icmp_reason"]


class PortState(StrEnum):
    """nmap's port states."""

    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    UNFILTERED = "unfiltered"
    OPEN_FILTERED = "open|filtered"
    CLOSED_FILTERED = "closed|filtered"


class Reason(StrEnum):
    """The packet (or its absence) that decided a port's state, as nmap --reason names it."""

    SYN_ACK = "syn-ack"
    SYN = "split-handshake-syn"
    RESET = "reset"
    UDP_RESPONSE = "udp-response"
    PORT_UNREACH = "port-unreach"
    HOST_UNREACH = "host-unreach"
    NET_UNREACH = "net-unreach"
    PROTO_UNREACH = "proto-unreach"
    ADMIN_PROHIBITED = "admin-prohibited"
    HOST_PROHIBITED = "host-prohibited"
    NET_PROHIBITED = "net-prohibited"
    TIME_EXCEEDED = "time-exceeded"
    ICMP_OTHER = "icmp-other"
    NO_RESPONSE = "no-response"


_V4_REASON = {0: Reason.NET_UNREACH, 1: Reason.HOST_UNREACH, 2: Reason.PROTO_UNREACH, 3: Reason.PORT_UNREACH,
              9: Reason.NET_PROHIBITED, 10: Reason.HOST_PROHIBITED, 13: Reason.ADMIN_PROHIBITED}
_V6_REASON = {0: Reason.NET_UNREACH, 1: Reason.ADMIN_PROHIBITED, 3: Reason.HOST_UNREACH, 4: Reason.PORT_UNREACH,
              5: Reason.ADMIN_PROHIBITED, 6: Reason.ADMIN_PROHIBITED}


def icmp_reason(version: int, typ: int, code: int) -> Reason:
    """Return the Reason for an ICMP(v6) error of ``typ``/``code``."""
    if version == 4:
        if typ == 3:
            return _V4_REASON.get(code, Reason.ICMP_OTHER)
        return Reason.TIME_EXCEEDED if typ == 11 else Reason.ICMP_OTHER
    if typ == 1:
        return _V6_REASON.get(code, Reason.ICMP_OTHER)
    return Reason.TIME_EXCEEDED if typ == 3 else Reason.ICMP_OTHER


@dataclass(frozen=True, slots=True)
class PortResult:
    """One port's verdict and the evidence."""

    port: int
    """Target port."""
    proto: str
    """"tcp" or "udp"."""
    state: PortState
    """nmap-style state."""
    reason: Reason
    """What decided it."""
    rtt_ns: int | None = None
    """Round trip of the deciding reply."""
    reply_ttl: int | None = None
    """TTL / hop limit of the deciding reply."""
    sender: str | None = None
    """Who sent the deciding reply (a router for some ICMP errors)."""
    attempts: int = 1
    """How many probes were sent to this port."""
    evidence: str | None = None
    """One-line summary of the deciding packet."""

    def record(self) -> dict[str, object]:
        """Return the JSON-lines record (keys port, proto, state, reason, rtt_ns, reply_ttl, sender, attempts)."""
        return {"port": self.port, "proto": self.proto, "state": str(self.state), "reason": str(self.reason),
                "rtt_ns": self.rtt_ns, "reply_ttl": self.reply_ttl, "sender": self.sender, "attempts": self.attempts}


@dataclass
class ProbeReport:
    """Every port's result plus what could not be paired."""

    target: str
    """Target address."""
    src: str
    """Our source address."""
    scan: str
    """"syn", "ack" or "udp"."""
    results: list[PortResult]
    """One per port, in port order."""
    mismatches: list[Mismatch] = field(default_factory=list)
    """Received packets that answered no probe, with the reason."""
    sent: int = 0
    """Packets sent."""
    duration_ns: int = 0
    """Wall time of the exchange."""
    truncated: str | None = None
    """Which bound stopped the run early, if any."""

    def counts(self) -> dict[str, int]:
        """Return how many ports are in each state."""
        out: dict[str, int] = {}
        for r in self.results:
            out[str(r.state)] = out.get(str(r.state), 0) + 1
        return out


def parse_ports(text: str, *, limit: int = 65535) -> list[int]:
    """Return the sorted unique ports of ``22,80,8000-8100`` (``-`` alone means 1-65535).

    Raises:
        UsageError: a bad number or range.
    """
    ports: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part == "-":
            part = "1-65535"
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo) if lo else 1
            b = (int(hi) if hi else 65535) if sep else a
        except ValueError as err:
            raise UsageError(f"--ports {text!r}: {part!r} is not a port or range") from err
        if not (1 <= a <= b <= 65535):
            raise UsageError(f"--ports {text!r}: {part!r} is outside 1-65535 or reversed")
        ports.update(range(a, b + 1))
    if not ports:
        raise UsageError("--ports: no port given")
    if len(ports) > limit:
        raise UsageError(f"--ports: {len(ports)} ports exceed the limit of {limit}")
    return sorted(ports)


def plan_probe(src: str, dst: str, ports: Sequence[int], *, scan: str = "syn", sport: int = 40000,
               seq: int = 0x1000, ttl: int = 64) -> list[tuple[Probe, bytes]]:
    """Return the (probe, packet bytes) to send: one per port, all from ``sport``.

    Args:
        scan: "syn" (TCP SYN), "ack" (TCP ACK) or "udp" (empty UDP datagram).
    """
    if scan not in ("syn", "ack", "udp"):
        raise UsageError(f"scan type {scan!r}: expected syn, ack or udp")
    proto = "udp" if scan == "udp" else "tcp"
    if not ports:
        return []
    # one template, then each port patched in: dport and an incremental checksum update (RFC 1624 eqn. 3)
    first = ports[0]
    if proto == "tcp":
        flags = "S" if scan == "syn" else "A"
        ack = seq if scan == "ack" else 0
        spec = CraftSpec("tcp", src, dst, sport, first, flags, seq, ack, window=1024, ttl=ttl,
                         mss=1460 if scan == "syn" else None)
        ck_off = 16
    else:
        spec = CraftSpec("udp", src, dst, sport, first, ttl=ttl)
        ck_off = 6
    template = encode(craft(spec))
    hl = 40 if ":" in dst else (template[0] & 0x0F) * 4
    old_ck = int.from_bytes(template[hl + ck_off:hl + ck_off + 2], "big")
    out = []
    buf = bytearray(template)
    for i, port in enumerate(ports):
        total = (~old_ck & 0xFFFF) + (~first & 0xFFFF) + port
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        ck = ~total & 0xFFFF
        if proto == "udp" and ck == 0:
            ck = 0xFFFF  # RFC 768: a computed zero is sent as all ones
        buf[hl + 2] = port >> 8
        buf[hl + 3] = port & 0xFF
        buf[hl + ck_off] = ck >> 8
        buf[hl + ck_off + 1] = ck & 0xFF
        out.append((Probe(proto, src, dst, sport, port, seq=seq, ttl=ttl, tag=i), bytes(buf)))
    return out


def interpret_probe(ex: Exchange, *, target: str, src: str, scan: str, ports: Sequence[int]) -> ProbeReport:
    """Return the ProbeReport for the exchange ``ex`` of a ``scan`` probe of ``ports``."""
    by_port: dict[int, Match] = {}
    for m in ex.matches:
        by_port.setdefault(m.probe.dport, m)
    proto = "udp" if scan == "udp" else "tcp"
    attempts = {k[4]: n for k, n in ex.attempts.items()}
    results = []
    with_evidence = len(ports) <= 1024  # one-line summaries cost ~10 us each; skip them for big scans
    for port in ports:
        m = by_port.get(port)
        n = attempts.get(port, 0)
        if m is None:
            state = PortState.OPEN_FILTERED if scan == "udp" else PortState.FILTERED
            results.append(PortResult(port, proto, state, Reason.NO_RESPONSE, attempts=n))
            continue
        state, reason = _classify(m, scan)
        results.append(PortResult(port, proto, state, reason, m.rtt_ns, m.reply_ttl, m.sender, n,
                                  m.packet.summary() if with_evidence else None))
    return ProbeReport(target, src, scan, results, ex.mismatches, ex.sent, ex.end_ns - ex.start_ns, ex.truncated)


def _classify(m: Match, scan: str) -> tuple[PortState, Reason]:
    if m.kind == ReplyKind.ICMP_ERROR:
        icmp = m.packet.icmp
        assert icmp is not None
        reason = icmp_reason(icmp.version, icmp.type, icmp.code)
        if scan == "udp" and reason == Reason.PORT_UNREACH:
            return PortState.CLOSED, reason
        return PortState.FILTERED, reason
    if scan == "ack":
        return (PortState.UNFILTERED, Reason.RESET) if m.kind == ReplyKind.RESET else (PortState.FILTERED,
                                                                                        Reason.ICMP_OTHER)
    if m.kind == ReplyKind.SYN_ACK:
        return PortState.OPEN, Reason.SYN_ACK
    if m.kind == ReplyKind.SYN:
        return PortState.OPEN, Reason.SYN
    if m.kind == ReplyKind.RESET:
        return PortState.CLOSED, Reason.RESET
    return PortState.OPEN, Reason.UDP_RESPONSE


def run_probe(host: str, ports: Sequence[int], *, scan: str = "syn", rate_pps: float | None = 1000,
              retries: int = 1, timeout_s: float = 1.0, ttl: int = 64, family: int | None = None,
              allow_broadcast: bool = False, max_duration_s: float = 120.0, transport: Transport | None = None,
              src: str | None = None, sport: int | None = None, seq: int | None = None,
              clock: Callable[[], int] = time.monotonic_ns,
              on_event: Callable[[Match | Mismatch | Probe], None] | None = None) -> ProbeReport:
    """Return the ProbeReport of probing ``ports`` of ``host`` (needs CAP_NET_RAW unless ``transport`` is given).

    Args:
        rate_pps: send rate limit (None lifts it; benchmarks only).
        retries: re-sends of an unanswered probe (nmap's --max-retries).
        timeout_s: wait for each probe's answer after its last send.
        transport, src: inject a Transport (tests) and the source address it uses.

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        TargetError / TargetNotAllowedError: unresolvable, unroutable or not allowed.
    """
    from .target import open_for

    rng = random.Random()
    sport = sport if sport is not None else rng.randrange(40000, 60000)
    seq = seq if seq is not None else rng.randrange(1, 1 << 32)
    transport, addr, src, owned = open_for(host, family=family, allow_broadcast=allow_broadcast, src=src,
                                           transport=transport, clock=clock, operation="sending raw probes",
                                           caller="run_probe")
    assert src is not None
    try:
        plan = plan_probe(src, addr, ports, scan=scan, sport=sport, seq=seq, ttl=ttl)
        bounds = Bounds(max_packets=len(plan) * (retries + 1), max_duration_s=max_duration_s, rate_pps=rate_pps)
        ex = exchange(plan, transport, timeout_ns=int(timeout_s * 1e9), bounds=bounds, retries=retries,
                      clock=clock, on_event=on_event)
    finally:
        if owned:
            transport.close()
    return interpret_probe(ex, target=addr, src=src, scan=scan, ports=ports)
