"""Health checks of a socket snapshot: findings with the evidence behind each (pure).

Checks:
  * CLOSE_WAIT leak: a process holds ``close_wait_threshold`` or more CLOSE_WAIT sockets. The peer
    closed (RFC 9293 section 3.6) and the application never called close(): they stay forever.
  * TIME_WAIT pressure: TIME_WAIT sockets towards one remote endpoint take ports from the ephemeral
    range (``/proc/sys/net/ipv4/ip_local_port_range``, read by the caller); a share of
    ``time_wait_share`` or more of the range is reported, since connect() then starts failing
    with EADDRNOTAVAIL. The total against the range is part of the evidence.
  * Loopback-only listener: reachable only from this host ("works locally, refused from outside").
  * Listener on every address (``0.0.0.0`` / ``::``): reachable on every interface.
  * Shared port: the same protocol and local port held open for listening by several processes
    (SO_REUSEPORT, or a socket inherited across fork).
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .table import SocketEntry, SocketState, SocketTable

__all__ = ["FindingKind", "Finding", "check"]

S = SocketState


class FindingKind(StrEnum):
    """What a finding is about."""

    CLOSE_WAIT_LEAK = "close_wait_leak"
    TIME_WAIT_PRESSURE = "time_wait_pressure"
    LOOPBACK_ONLY_LISTENER = "loopback_only_listener"
    ALL_ADDRESSES_LISTENER = "all_addresses_listener"
    SHARED_PORT = "shared_port"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a snapshot: its kind, a one-sentence message and the evidence."""

    kind: FindingKind
    """What was found."""
    message: str
    """One sentence for a person."""
    evidence: tuple[str, ...]
    """The facts behind it (sockets, counts, limits), one per line."""
    pid: int | None = None
    """The process concerned, when there is one."""
    port: int | None = None
    """The port concerned, when there is one."""

    def as_dict(self) -> dict[str, object]:
        """Return the finding as the JSON object ``rawnet sockets check --json`` writes."""
        return {"kind": str(self.kind), "message": self.message, "evidence": list(self.evidence),
                "pid": self.pid, "port": self.port}


def _ep(addr: str | None, port: int | None) -> str:
    if addr is None:
        return "*"
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _who(pid: int | None, process: str | None) -> str:
    if pid is None:
        return "an unknown process"
    return f"{process or '?'} (pid {pid})"


def _is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _is_any(addr: str) -> bool:
    return addr in ("0.0.0.0", "::")


def check(table: SocketTable | Sequence[SocketEntry], *, close_wait_threshold: int = 10,
          port_range: tuple[int, int] = (32768, 60999), time_wait_share: float = 0.5,
          max_evidence: int = 5) -> list[Finding]:
    """Return the findings for ``table``, most serious kind first.

    Args:
        table: a snapshot (or its entries).
        close_wait_threshold: CLOSE_WAIT sockets of one process that count as a leak.
        port_range: the ephemeral port range, inclusive (from ``ip_local_port_range``).
        time_wait_share: share of the range that TIME_WAIT sockets to one endpoint may take.
        max_evidence: sockets listed as evidence per finding (the count is always given).
    """
    entries = table.entries if isinstance(table, SocketTable) else tuple(table)
    findings: list[Finding] = []

    # CLOSE_WAIT leak per process
    cw: dict[int | None, list[SocketEntry]] = defaultdict(list)
    for e in entries:
        if e.state is S.CLOSE_WAIT:
            cw[e.pid].append(e)
    for pid, rows in sorted(cw.items(), key=lambda kv: (-len(kv[1]), kv[0] or 0)):
        if len(rows) < close_wait_threshold:
            continue
        peers = Counter(_ep(e.raddr, e.rport) for e in rows)
        ev = [f"{len(rows)} CLOSE_WAIT sockets (threshold {close_wait_threshold})"]
        ev += [f"{_ep(e.laddr, e.lport)} <- {_ep(e.raddr, e.rport)} CLOSE_WAIT" for e in rows[:max_evidence]]
        ev.append("peers: " + ", ".join(f"{p} x{n}" for p, n in peers.most_common(max_evidence)))
        findings.append(Finding(
            FindingKind.CLOSE_WAIT_LEAK,
            f"{_who(pid, rows[0].process)} holds {len(rows)} CLOSE_WAIT sockets: the peers closed "
            f"their side and the application never called close() on its own",
            tuple(ev), pid=pid))

    # TIME_WAIT against the ephemeral range
    lo, hi = port_range
    size = max(hi - lo + 1, 1)
    tw = [e for e in entries if e.state is S.TIME_WAIT]
    if tw:
        per_dest = Counter((e.raddr, e.rport) for e in tw)
        (daddr, dport), worst = per_dest.most_common(1)[0]
        if worst >= time_wait_share * size:
            ev = [f"{len(tw)} TIME_WAIT sockets in all; ephemeral range {lo}-{hi} has {size} ports",
                  f"{worst} of them ({100 * worst / size:.0f}% of the range) go to {_ep(daddr, dport)}"]
            ev += [f"{_ep(a, p)}: {n}" for (a, p), n in per_dest.most_common(max_evidence)[1:]]
            findings.append(Finding(
                FindingKind.TIME_WAIT_PRESSURE,
                f"{worst} TIME_WAIT sockets to {_ep(daddr, dport)} use {100 * worst / size:.0f}% of the "
                f"ephemeral port range {lo}-{hi}; new connections to it will fail with EADDRNOTAVAIL "
                f"when the range runs out (each remnant lasts ~60 s)",
                tuple(ev), port=dport))

    # listeners: loopback only, every address, shared
    listeners = [e for e in entries if e.state is S.LISTEN or (e.proto == "udp" and e.raddr is None)]
    seen: set[tuple[object, ...]] = set()
    for e in sorted(listeners, key=lambda e: (e.proto, e.lport, e.family, e.laddr, e.pid or 0)):
        key = (e.proto, e.family, e.laddr, e.lport, e.pid)
        if key in seen:
            continue
        seen.add(key)
        what = "listens on TCP" if e.proto == "tcp" else "is bound to UDP"
        if _is_loopback(e.laddr):
            findings.append(Finding(
                FindingKind.LOOPBACK_ONLY_LISTENER,
                f"{_who(e.pid, e.process)} {what} {_ep(e.laddr, e.lport)} on loopback only: "
                f"other hosts cannot reach it",
                (f"{e.proto} {_ep(e.laddr, e.lport)} {e.state} pid={e.pid} process={e.process}",),
                pid=e.pid, port=e.lport))
        elif _is_any(e.laddr):
            findings.append(Finding(
                FindingKind.ALL_ADDRESSES_LISTENER,
                f"{_who(e.pid, e.process)} {what} {_ep(e.laddr, e.lport)}: every address of every "
                f"interface, reachable from any network this host is on",
                (f"{e.proto} {_ep(e.laddr, e.lport)} {e.state} pid={e.pid} process={e.process}",),
                pid=e.pid, port=e.lport))

    by_port: dict[tuple[str, int], list[SocketEntry]] = defaultdict(list)
    for e in listeners:
        by_port[(e.proto, e.lport)].append(e)
    for (proto, port), rows in sorted(by_port.items()):
        pids = sorted({e.pid for e in rows if e.pid is not None})
        if len(pids) < 2:
            continue
        names = {e.pid: e.process for e in rows}
        findings.append(Finding(
            FindingKind.SHARED_PORT,
            f"{proto.upper()} port {port} is held by {len(pids)} processes: "
            + ", ".join(_who(p, names.get(p)) for p in pids),
            tuple(f"{e.proto} {_ep(e.laddr, e.lport)} {e.state} pid={e.pid} process={e.process}"
                  for e in rows[:max_evidence * 2]),
            port=port))

    order = list(FindingKind)
    return sorted(findings, key=lambda f: order.index(f.kind))
