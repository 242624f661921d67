"""Edge: the reference socket-table reader on psutil, the only module of rawnet that calls psutil.

psutil (``psutil.net_connections``) parses ``/proc/net/{tcp,tcp6,udp,udp6}`` and walks ``/proc/*/fd``
(giampaolo/psutil ``_pslinux.py``). It reads ``/proc/self/net``, which follows the *main* thread's
network namespace, so call it from the main thread. It hides inodes, so the owner of an entry
without a pid is judged from its state (``_owner_without_pid``): TIME_WAIT, SYN_RECEIVED and the
closing states are the kernel's; LISTEN, SYN_SENT and UDP rows are ``hidden`` (they cannot outlive
their file); ESTABLISHED and CLOSE_WAIT are the kernel's as root (unaccepted), else ``hidden``. The
sock_diag reader sees the inode and needs no such rule. psutil is imported inside the functions,
never at import of ``rawnet.sockets``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import Any, Final

from ..errors import PrivilegeError, SocketTableError
from .table import Owner, SocketEntry, SocketState

__all__ = ["PSUTIL_STATES", "read_entries", "map_status"]

S = SocketState

#: The one mapping from psutil's status strings (``CONN_*``, compared by string value since newer
#: psutil releases make them StrEnum members) to RFC 9293 names.
PSUTIL_STATES: Final[dict[str, SocketState]] = {
    "ESTABLISHED": S.ESTABLISHED,
    "SYN_SENT": S.SYN_SENT,
    "SYN_RECV": S.SYN_RECEIVED,
    "FIN_WAIT1": S.FIN_WAIT_1,
    "FIN_WAIT2": S.FIN_WAIT_2,
    "TIME_WAIT": S.TIME_WAIT,
    "CLOSE": S.CLOSED,
    "CLOSE_WAIT": S.CLOSE_WAIT,
    "LAST_ACK": S.LAST_ACK,
    "LISTEN": S.LISTEN,
    "CLOSING": S.CLOSING,
    "NONE": S.NONE,
}


def map_status(status: object) -> SocketState:
    """Return the RFC 9293 state for a psutil status (a string or a StrEnum member).

    Raises:
        SocketTableError: psutil reported a status this mapping does not know.
    """
    value = getattr(status, "value", status)
    try:
        return PSUTIL_STATES[str(value)]
    except KeyError:
        raise SocketTableError(f"psutil: socket status {value!r} is unknown "
                               f"(expected one of {', '.join(PSUTIL_STATES)})") from None


_KINDS: Final = {("tcp", 4): "tcp4", ("tcp", 6): "tcp6", ("udp", 4): "udp4", ("udp", 6): "udp6"}


def read_entries(*, protos: Iterable[str] = ("tcp", "udp"), families: Iterable[int] = (4, 6),
                 processes: bool = True) -> list[SocketEntry]:
    """Return every TCP/UDP socket of the main thread's network namespace, as psutil sees it.

    Rows are never lost to privilege (psutil only loses their pids). A process that exits or
    refuses access while its name is read keeps its pid with ``process=None``.

    Raises:
        PrivilegeError: psutil raised AccessDenied for the whole table (not on Linux).
        SocketTableError: psutil failed otherwise.
    """
    import psutil  # type: ignore[import-untyped,unused-ignore]

    fams = tuple(families)
    conns: list[Any] = []
    for proto in protos:
        kind = _KINDS[(proto, 4)][:3] if set(fams) == {4, 6} else None
        kinds = [kind] if kind else [_KINDS[(proto, f)] for f in fams]
        for k in kinds:
            try:
                got = psutil.net_connections(kind=k)
            except psutil.AccessDenied as err:
                raise PrivilegeError("root", "listing sockets with psutil", "run as root") from err
            except (OSError, RuntimeError) as err:
                raise SocketTableError(f"psutil: net_connections({k!r}) failed: {err}") from err
            conns.extend((proto, c) for c in got)
    root = os.geteuid() == 0
    infos: dict[int, tuple[str | None, str | None]] = {}
    out: list[SocketEntry] = []
    for proto, c in conns:
        state = map_status(c.status) if proto == "tcp" else S.NONE
        family = 6 if c.family == socket.AF_INET6 else 4
        if c.laddr:
            laddr, lport = c.laddr[0], c.laddr[1]
        else:
            laddr, lport = ("::" if family == 6 else "0.0.0.0"), 0
        raddr, rport = (c.raddr[0], c.raddr[1]) if c.raddr else (None, None)
        pid = c.pid if processes else None
        name = user = None
        owner = "process" if c.pid is not None else _owner_without_pid(state, root)
        if pid is not None:
            info = infos.get(pid)
            if info is None:
                info = infos[pid] = _process_info(psutil, pid)
            name, user = info
        out.append(SocketEntry(proto, family, laddr, lport, raddr, rport, state, pid, name, user, owner))
    return out


# States a socket no file refers to can be in: TIME_WAIT and request minisockets, orphans finishing a
# close. Listeners, SYN_SENT and UDP sockets die with their last file, so without a pid they are
# hidden. ESTABLISHED and CLOSE_WAIT may also wait unaccepted in a listener's queue (no file yet).
_KERNEL_ONLY = frozenset({S.TIME_WAIT, S.SYN_RECEIVED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK})
_NEVER_KERNEL = frozenset({S.LISTEN, S.SYN_SENT, S.NONE})


def _owner_without_pid(state: SocketState, root: bool) -> Owner:
    """Return the owner kind of a row psutil gave no pid, judged from its state (psutil hides the inode)."""
    if state in _KERNEL_ONLY:
        return "kernel"
    if state in _NEVER_KERNEL:
        return "hidden"
    return "kernel" if root else "hidden"


def _process_info(psutil: Any, pid: int) -> tuple[str | None, str | None]:
    """Return (name, user) of ``pid``; ``None`` for what vanished or may not be read."""
    try:
        proc = psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None, None
    name: str | None
    user: str | None
    try:
        name = proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        name = None
    try:
        user = proc.username()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        user = None
    return name, user
