"""The local socket table as plain data: entries, filters, the diff of two snapshots, summaries.

Theory of operation: a reader at the edge (``_diag.py`` on netlink sock_diag, ``_psutil.py`` on psutil)
turns the kernel's view into a :class:`SocketTable` of frozen :class:`SocketEntry` rows, stamped with
the ``ts_ns`` the caller's clock gave. Everything in this module is pure: it never reads a clock, a
file or a socket. States use the RFC 9293 names (section 3.3.2); UDP has no state and shows ``NONE``.
Linux has no pid for TIME_WAIT sockets, request sockets (SYN_RECEIVED before accept) and orphans
(closed by their process but still finishing the close): ``owner`` is then ``"kernel"``. When the
caller may not read another process's file descriptors, the pid is unknown for a different reason and
``owner`` is ``"hidden"``.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

from ..errors import UsageError

__all__ = [
    "SocketState",
    "SocketEntry",
    "SocketTable",
    "SocketFilter",
    "SocketEvent",
    "SocketSummary",
    "Owner",
    "EventKind",
    "STATE_GROUPS",
    "parse_states",
    "diff",
    "summarize",
    "entry_key",
]

Owner = Literal["process", "kernel", "hidden"]
EventKind = Literal["opened", "changed", "closed"]


class SocketState(StrEnum):
    """A socket's state, named as in RFC 9293 section 3.3.2; ``NONE`` for UDP."""

    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"
    CLOSED = "CLOSED"
    NONE = "NONE"


S = SocketState
_TCP_STATES: Final = frozenset(s for s in SocketState if s is not S.NONE)

#: ss's state groups (iproute2 ``misc/ss.c``: ``connected`` is all but listening and closed,
#: ``synchronized`` is connected minus SYN-SENT, ``bucket`` the minisockets, ``big`` the rest).
STATE_GROUPS: Final[dict[str, frozenset[SocketState]]] = {
    "all": frozenset(SocketState),
    "connected": _TCP_STATES - {S.LISTEN, S.CLOSED},
    "synchronized": _TCP_STATES - {S.LISTEN, S.CLOSED, S.SYN_SENT},
    "bucket": frozenset({S.SYN_RECEIVED, S.TIME_WAIT}),
    "big": _TCP_STATES - {S.SYN_RECEIVED, S.TIME_WAIT},
}

# ss(8) state filter names and the names ss prints, besides the RFC names themselves.
_ALIASES: Final[dict[str, SocketState]] = {
    "established": S.ESTABLISHED,
    "estab": S.ESTABLISHED,
    "syn-sent": S.SYN_SENT,
    "syn-recv": S.SYN_RECEIVED,
    "syn-received": S.SYN_RECEIVED,
    "fin-wait-1": S.FIN_WAIT_1,
    "fin-wait-2": S.FIN_WAIT_2,
    "time-wait": S.TIME_WAIT,
    "closed": S.CLOSED,
    "close": S.CLOSED,
    "unconn": S.CLOSED,
    "close-wait": S.CLOSE_WAIT,
    "last-ack": S.LAST_ACK,
    "listening": S.LISTEN,
    "listen": S.LISTEN,
    "closing": S.CLOSING,
    "none": S.NONE,
}


def parse_states(names: Iterable[str]) -> frozenset[SocketState]:
    """Return the set of states the names select: RFC names (any case), ss names or ss groups.

    Raises:
        UsageError: a name is none of these.
    """
    out: set[SocketState] = set()
    for raw in names:
        name = raw.strip().lower()
        if name in STATE_GROUPS:
            out |= STATE_GROUPS[name]
            continue
        alias = _ALIASES.get(name) or _ALIASES.get(name.replace("_", "-"))
        if alias is None:
            try:
                alias = SocketState(name.upper().replace("-", "_"))
            except ValueError:
                known = ", ".join([*sorted(_ALIASES), *STATE_GROUPS])
                raise UsageError(f"--state {raw}: unknown state (one of the RFC 9293 names or {known})") from None
        out.add(alias)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class SocketEntry:
    """One TCP or UDP socket as the kernel holds it, with the process that owns it."""

    proto: str
    """``"tcp"`` or ``"udp"``."""
    family: int
    """IP version, 4 or 6 (an IPv4-mapped address on an IPv6 socket stays 6)."""
    laddr: str
    """Local address as text (``0.0.0.0`` or ``::`` when bound to every address)."""
    lport: int
    """Local port."""
    raddr: str | None
    """Remote address, ``None`` when unconnected."""
    rport: int | None
    """Remote port, ``None`` when unconnected."""
    state: SocketState
    """RFC 9293 state; ``NONE`` for UDP."""
    pid: int | None = None
    """Process holding the socket (the lowest pid when several share it); ``None`` when unknown."""
    process: str | None = None
    """That process's name."""
    user: str | None = None
    """That process's user (name, or the uid as text when it has no name)."""
    owner: Owner = "process"
    """``process`` (a process holds it), ``kernel`` (no process can: TIME_WAIT, request and orphaned
    sockets) or ``hidden`` (a process holds it but the caller may not see which)."""

    @property
    def is_listening(self) -> bool:
        """Return True for a TCP listener or an unconnected UDP socket (what ``ss -l`` shows)."""
        return self.state is S.LISTEN or (self.proto == "udp" and self.raddr is None)

    def as_dict(self) -> dict[str, object]:
        """Return the entry as the JSON object ``rawnet sockets --json`` writes."""
        return {
            "proto": self.proto, "family": self.family, "laddr": self.laddr, "lport": self.lport,
            "raddr": self.raddr, "rport": self.rport, "state": str(self.state), "pid": self.pid,
            "process": self.process, "user": self.user, "owner": self.owner,
        }


EntryKey = tuple[str, int, str, int, "str | None", "int | None"]


def entry_key(e: SocketEntry) -> EntryKey:
    """Return the identity of a socket across snapshots: protocol, family and both endpoints."""
    return (e.proto, e.family, e.laddr, e.lport, e.raddr, e.rport)


@dataclass(frozen=True, slots=True)
class SocketTable:
    """A snapshot of the socket table: its entries, when it was taken and which reader took it."""

    entries: tuple[SocketEntry, ...]
    """Every socket seen, in the reader's order."""
    ts_ns: int = 0
    """Time the snapshot was taken, from the caller's clock."""
    reader: str = ""
    """``"diag"`` (netlink sock_diag) or ``"psutil"``."""

    def __len__(self) -> int:
        return len(self.entries)

    def select(self, flt: SocketFilter) -> SocketTable:
        """Return a table with only the entries ``flt`` matches."""
        return SocketTable(tuple(e for e in self.entries if flt.matches(e)), self.ts_ns, self.reader)

    def sorted(self) -> SocketTable:
        """Return a table whose entries are in a stable order: protocol, family, local then remote end."""
        return SocketTable(tuple(sorted(self.entries, key=_sort_key)), self.ts_ns, self.reader)


def _sort_key(e: SocketEntry) -> tuple[object, ...]:
    return (e.proto, e.family, e.lport, e.laddr, e.raddr or "", e.rport or 0, e.pid or 0)


def _host_matcher(host: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(host.strip("[]"), strict=False)
    except ValueError:
        raise UsageError(f"--host {host}: not an IP address or network (expected e.g. 198.18.0.2 or fd00::/8)") from None


@dataclass(frozen=True, slots=True)
class SocketFilter:
    """What to keep from a snapshot; every field left at its default keeps everything (fields AND)."""

    protos: frozenset[str] = frozenset()
    """``tcp`` and/or ``udp``; empty means both."""
    families: frozenset[int] = frozenset()
    """4 and/or 6; empty means both."""
    states: frozenset[SocketState] = frozenset()
    """States to keep (see :func:`parse_states`); empty means all."""
    listening: bool = False
    """Keep only TCP listeners and unconnected UDP sockets."""
    port: int | None = None
    """Local or remote port."""
    sport: int | None = None
    """Local (source) port."""
    dport: int | None = None
    """Remote (destination) port."""
    pid: int | None = None
    """Owning process id."""
    process: str | None = None
    """Owning process name (exact match)."""
    host: str | None = None
    """Local or remote address, or a network in CIDR notation containing one of them."""
    _net: ipaddress.IPv4Network | ipaddress.IPv6Network | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.host is not None:
            object.__setattr__(self, "_net", _host_matcher(self.host))
        for name in ("port", "sport", "dport"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 65535:
                raise UsageError(f"--{name} {v}: not a port number (0 to 65535)")
        bad = self.protos - {"tcp", "udp"}
        if bad:
            raise UsageError(f"protocol {sorted(bad)[0]!r} is not supported (tcp or udp)")

    def matches(self, e: SocketEntry) -> bool:
        """Return True when ``e`` passes every condition of this filter."""
        if self.protos and e.proto not in self.protos:
            return False
        if self.families and e.family not in self.families:
            return False
        if self.states and e.state not in self.states:
            return False
        if self.listening and not e.is_listening:
            return False
        if self.port is not None and e.lport != self.port and e.rport != self.port:
            return False
        if self.sport is not None and e.lport != self.sport:
            return False
        if self.dport is not None and e.rport != self.dport:
            return False
        if self.pid is not None and e.pid != self.pid:
            return False
        if self.process is not None and e.process != self.process:
            return False
        if self._net is not None and not (_in_net(e.laddr, self._net) or _in_net(e.raddr, self._net)):
            return False
        return True


def _in_net(addr: str | None, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if addr is None:
        return False
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None and net.version == 4:
        return ip.ipv4_mapped in net
    return ip.version == net.version and ip in net


@dataclass(frozen=True, slots=True)
class SocketEvent:
    """A change between two snapshots: a socket opened, changed state, or closed."""

    event: EventKind
    """``opened``, ``changed`` or ``closed``."""
    ts_ns: int
    """Time of the snapshot that showed the change."""
    entry: SocketEntry
    """The socket as the newer snapshot shows it (as the older one did, for ``closed``)."""
    old_state: SocketState | None
    """State before (``None`` for ``opened``)."""
    new_state: SocketState | None
    """State after (``None`` for ``closed``)."""

    def as_dict(self) -> dict[str, object]:
        """Return the event as the JSON object ``rawnet watch --json`` writes."""
        e = self.entry
        return {
            "ts_ns": self.ts_ns, "event": self.event, "proto": e.proto, "laddr": e.laddr, "lport": e.lport,
            "raddr": e.raddr, "rport": e.rport,
            "old_state": None if self.old_state is None else str(self.old_state),
            "new_state": None if self.new_state is None else str(self.new_state),
            "pid": e.pid, "process": e.process,
        }


def diff(old: SocketTable, new: SocketTable) -> list[SocketEvent]:
    """Return the events that turn snapshot ``old`` into ``new``, in a stable order.

    A socket is identified by protocol, family and both endpoints. Several sockets may share that
    identity (SO_REUSEPORT listeners, a connection and its TIME_WAIT remnant's successor); they are
    paired first by equal state and pid, then in order, and the rest open or close. A change of pid or
    owner alone (a process exits and its socket is orphaned) is not an event; a change of state is.
    """
    ts = new.ts_ns
    before: dict[EntryKey, list[SocketEntry]] = {}
    after: dict[EntryKey, list[SocketEntry]] = {}
    for e in old.entries:
        before.setdefault(entry_key(e), []).append(e)
    for e in new.entries:
        after.setdefault(entry_key(e), []).append(e)
    events: list[SocketEvent] = []
    for key in sorted(before.keys() | after.keys(), key=_key_order):
        olds = list(before.get(key, ()))
        news = list(after.get(key, ()))
        if olds == news:
            continue
        # pair identical (state, pid) first: those did not change
        rest_new: list[SocketEntry] = []
        for n in news:
            for i, o in enumerate(olds):
                if o.state is n.state and o.pid == n.pid:
                    del olds[i]
                    break
            else:
                rest_new.append(n)
        # then same state with another pid (owner changed): not an event
        still_new: list[SocketEntry] = []
        for n in rest_new:
            for i, o in enumerate(olds):
                if o.state is n.state:
                    del olds[i]
                    break
            else:
                still_new.append(n)
        for o, n in zip(olds, still_new):
            events.append(SocketEvent("changed", ts, n, o.state, n.state))
        for o in olds[len(still_new):]:
            events.append(SocketEvent("closed", ts, o, o.state, None))
        for n in still_new[len(olds):]:
            events.append(SocketEvent("opened", ts, n, None, n.state))
    return events


def _key_order(k: EntryKey) -> tuple[object, ...]:
    return (k[0], k[1], k[3], k[2], k[4] or "", k[5] or 0)


@dataclass(frozen=True, slots=True)
class SocketSummary:
    """Counts of a snapshot per protocol, family and state, like ``ss -s``."""

    total: int
    """Every entry."""
    by_proto_state: dict[str, dict[str, int]]
    """``{"tcp": {"ESTABLISHED": 3, ...}, "udp": {"NONE": 2}}``; only non-zero counts."""
    by_proto_family: dict[str, dict[int, int]]
    """``{"tcp": {4: 10, 6: 2}, ...}``."""
    by_owner: dict[str, int]
    """Entries per owner kind (``process``, ``kernel``, ``hidden``)."""
    orphaned: int
    """TCP sockets owned by the kernel that are neither TIME_WAIT nor SYN_RECEIVED (closed by their process)."""

    def as_dict(self) -> dict[str, object]:
        """Return the summary as the JSON object ``rawnet sockets --summary --json`` writes."""
        return {
            "total": self.total,
            "protocols": {p: {"total": sum(st.values()), "states": dict(st),
                              "families": {str(f): n for f, n in self.by_proto_family.get(p, {}).items()}}
                          for p, st in self.by_proto_state.items()},
            "owners": dict(self.by_owner),
            "orphaned": self.orphaned,
        }


def summarize(entries: Sequence[SocketEntry] | SocketTable) -> SocketSummary:
    """Return per-protocol, per-state, per-family and per-owner counts of ``entries``."""
    rows = entries.entries if isinstance(entries, SocketTable) else entries
    by_state: dict[str, Counter[str]] = {}
    by_fam: dict[str, Counter[int]] = {}
    owners: Counter[str] = Counter()
    orphaned = 0
    for e in rows:
        by_state.setdefault(e.proto, Counter())[str(e.state)] += 1
        by_fam.setdefault(e.proto, Counter())[e.family] += 1
        owners[e.owner] += 1
        if e.proto == "tcp" and e.owner == "kernel" and e.state not in (S.TIME_WAIT, S.SYN_RECEIVED):
            orphaned += 1
    order = {s.value: i for i, s in enumerate(SocketState)}
    return SocketSummary(
        total=len(rows),
        by_proto_state={p: dict(sorted(c.items(), key=lambda kv: order[kv[0]])) for p, c in sorted(by_state.items())},
        by_proto_family={p: dict(sorted(c.items())) for p, c in sorted(by_fam.items())},
        by_owner=dict(sorted(owners.items())),
        orphaned=orphaned,
    )
