"""Who holds a local port, and how: one sentence per holder, for "Address already in use" (pure).

A holder is a process (or the kernel) together with the way it holds the port: listening (TCP),
bound (UDP), with connections in some state, or as TIME_WAIT remnants of closed connections that the
kernel keeps for 2*MSL (60 s on Linux, ``TCP_TIMEWAIT_LEN``) and that block a ``bind()`` without
SO_REUSEADDR.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .table import SocketEntry, SocketState, SocketTable

__all__ = ["Holder", "HoldKind", "who_holds", "TIME_WAIT_S"]

S = SocketState
HoldKind = Literal["listener", "bound", "connected", "time_wait", "request", "orphan"]

#: Linux keeps a TIME_WAIT socket for TCP_TIMEWAIT_LEN = 60 s (include/net/tcp.h).
TIME_WAIT_S = 60


@dataclass(frozen=True, slots=True)
class Holder:
    """One holder of a port: how it holds it, who, the sockets, and the sentence that says so."""

    kind: HoldKind
    """listener, bound (UDP), connected, time_wait, request (SYN_RECEIVED minisockets) or orphan."""
    pid: int | None
    """The process, or ``None`` for the kernel or a hidden owner."""
    process: str | None
    """Its name."""
    user: str | None
    """Its user."""
    owner: str
    """``process``, ``kernel`` or ``hidden``."""
    entries: tuple[SocketEntry, ...]
    """The sockets behind this holder."""
    sentence: str
    """One sentence for a person."""

    def as_dict(self) -> dict[str, object]:
        """Return the holder as the JSON object ``rawnet sockets who --json`` writes."""
        return {"kind": self.kind, "pid": self.pid, "process": self.process, "user": self.user,
                "owner": self.owner, "count": len(self.entries), "sentence": self.sentence,
                "sockets": [e.as_dict() for e in self.entries]}


def _ep(addr: str | None, port: int | None) -> str:
    if addr is None:
        return "*"
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _subject(e: SocketEntry) -> str:
    if e.pid is not None:
        user = f", user {e.user}" if e.user else ""
        return f"{e.process or 'an unnamed process'} (pid {e.pid}{user})"
    if e.owner == "hidden":
        return "A process you may not see (run as root to name it)"
    return "The kernel"


def _where(e: SocketEntry) -> str:
    if e.laddr in ("0.0.0.0", "::"):
        return f"every IPv{e.family} address, port {e.lport}"
    return _ep(e.laddr, e.lport)


def _kind(e: SocketEntry) -> HoldKind:
    if e.state is S.LISTEN:
        return "listener"
    if e.proto == "udp":
        return "bound" if e.raddr is None else "connected"
    if e.state is S.TIME_WAIT:
        return "time_wait"
    if e.owner == "kernel" and e.state is S.SYN_RECEIVED:
        return "request"
    if e.owner == "kernel":
        return "orphan"
    return "connected"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _sentence(kind: HoldKind, rows: Sequence[SocketEntry], max_listed: int) -> str:
    e = rows[0]
    who = _subject(e)
    proto = e.proto.upper()
    if kind == "listener":
        where = " and ".join(dict.fromkeys(_where(r) for r in rows))
        return f"{who} listens for {proto} connections on {where}."
    if kind == "bound":
        where = " and ".join(dict.fromkeys(_where(r) for r in rows))
        return f"{who} has a {proto} socket bound to {where}."
    if kind == "time_wait":
        peers = ", ".join(_ep(r.raddr, r.rport) for r in rows[:max_listed])
        more = f" and {len(rows) - max_listed} more" if len(rows) > max_listed else ""
        return (f"The kernel holds {_plural(len(rows), 'TIME_WAIT remnant')} of closed {proto} connections "
                f"on port {e.lport} (peers {peers}{more}); no process owns them and each expires within "
                f"~{TIME_WAIT_S} s of its close.")
    if kind == "request":
        peers = ", ".join(_ep(r.raddr, r.rport) for r in rows[:max_listed])
        return (f"The kernel holds {_plural(len(rows), 'half-open connection')} (SYN_RECEIVED, handshake "
                f"not completed) on port {e.lport} from {peers}; they go when the handshake completes or times out.")
    if kind == "orphan":
        states = ", ".join(sorted({str(r.state) for r in rows}))
        return (f"The kernel holds {_plural(len(rows), 'orphaned connection')} on port {e.lport} ({states}): "
                f"their process closed them and the kernel is finishing the close.")
    by_state: dict[str, list[SocketEntry]] = defaultdict(list)
    for r in rows:
        by_state[str(r.state)].append(r)
    parts = []
    for st, rs in by_state.items():
        listed = ", ".join(f"{_ep(r.laddr, r.lport)} <-> {_ep(r.raddr, r.rport)}" for r in rs[:max_listed])
        more = f" and {len(rs) - max_listed} more" if len(rs) > max_listed else ""
        what = "connected UDP socket" if e.proto == "udp" else f"{st} {proto} connection"
        parts.append(f"{_plural(len(rs), what)} ({listed}{more})")
    return f"{who} has " + "; ".join(parts) + f" on local port {e.lport}."


def who_holds(table: SocketTable | Sequence[SocketEntry], port: int, *, proto: str | None = None,
              max_listed: int = 3) -> list[Holder]:
    """Return who holds local ``port`` (TCP and UDP, or only ``proto``), one holder per process and way.

    Holders come in the order: listeners, bound UDP sockets, connections, request sockets, orphans,
    TIME_WAIT remnants; within a kind by pid.
    """
    entries = table.entries if isinstance(table, SocketTable) else tuple(table)
    groups: dict[tuple[str, HoldKind, int | None, str], list[SocketEntry]] = defaultdict(list)
    for e in entries:
        if e.lport != port or (proto is not None and e.proto != proto):
            continue
        kind = _kind(e)
        groups[(e.proto, kind, e.pid, e.owner)].append(e)
    order: list[HoldKind] = ["listener", "bound", "connected", "request", "orphan", "time_wait"]
    holders = []
    for (p, kind, pid, owner), rows in sorted(groups.items(),
                                              key=lambda kv: (order.index(kv[0][1]), kv[0][0], kv[0][2] or 0)):
        rows.sort(key=lambda r: (r.family, r.laddr, r.raddr or "", r.rport or 0))
        e = rows[0]
        text = _sentence(kind, rows, max_listed)
        holders.append(Holder(kind, pid, e.process, e.user, owner, tuple(rows), text))
    return holders
