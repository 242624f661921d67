"""The local socket table: snapshots of TCP and UDP sockets with their processes, filters, diffs,
summaries, "who holds this port" and health checks.

The pure core (``table``, ``check``, ``who``) works on :class:`SocketTable` snapshots. :func:`snapshot`
is the edge that takes one: by default with the netlink sock_diag reader (``_diag.py``, as fast as
``ss``), or with psutil (``_psutil.py``, the reference) when ``reader="psutil"``. Importing this package
imports neither psutil nor a socket reader.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Literal

from ..errors import SocketTableError, UsageError
from .check import Finding, FindingKind, check as check
from .table import (
    STATE_GROUPS,
    SocketEntry,
    SocketEvent,
    SocketFilter,
    SocketState,
    SocketSummary,
    SocketTable,
    diff,
    parse_states,
    summarize,
)
from .who import Holder, who_holds

__all__ = [
    "STATE_GROUPS",
    "SocketEntry",
    "SocketEvent",
    "SocketFilter",
    "SocketState",
    "SocketSummary",
    "SocketTable",
    "Finding",
    "FindingKind",
    "Holder",
    "Reader",
    "check",
    "diff",
    "ephemeral_port_range",
    "parse_states",
    "snapshot",
    "summarize",
    "who_holds",
]

Reader = Literal["diag", "psutil"]


def snapshot(*, reader: Reader = "diag", processes: bool = True, flt: SocketFilter | None = None,
             clock: Callable[[], int] = time.time_ns) -> SocketTable:
    """Return a snapshot of this thread's TCP and UDP sockets (IPv4 and IPv6), filtered by ``flt``.

    Args:
        reader: ``"diag"`` (netlink sock_diag, the default and the fast one; follows the calling
            thread's network namespace) or ``"psutil"`` (the reference; follows the main thread's).
        processes: resolve pid, process name and user (walks ``/proc/*/fd``).
        flt: keep only matching entries; its protocols and families also limit what is read.
        clock: gives the snapshot's ``ts_ns``.

    Returns:
        A :class:`SocketTable`; every socket of another user's process has ``owner="hidden"`` unless
        the caller is root.

    Raises:
        PrivilegeError: the reader may not run at all.
        SocketTableError: the reader failed otherwise.
        UsageError: unknown reader, or a pid/process filter without ``processes``.
    """
    if not processes and flt is not None and (flt.pid is not None or flt.process is not None):
        raise UsageError("--pid and --process need process resolution; drop --no-processes")
    protos: Iterable[str] = sorted(flt.protos) if flt and flt.protos else ("tcp", "udp")
    families: Iterable[int] = sorted(flt.families) if flt and flt.families else (4, 6)
    ts = clock()
    if reader == "diag":
        from . import _diag

        entries = _diag.read_entries(protos=protos, families=families, processes=processes)
    elif reader == "psutil":
        from . import _psutil

        entries = _psutil.read_entries(protos=protos, families=families, processes=processes)
    else:
        raise UsageError(f"reader {reader!r} is unknown (diag or psutil)")
    table = SocketTable(tuple(entries), ts, reader)
    if flt is None or flt == SocketFilter(protos=flt.protos, families=flt.families):
        return table  # the reader already kept only these protocols and families
    return table.select(flt)


def ephemeral_port_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """Return the (first, last) ephemeral port of this thread's network namespace.

    Raises:
        SocketTableError: the file is missing or does not hold two port numbers.
    """
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except OSError as err:
        raise SocketTableError(f"{path}: cannot be read ({err.strerror})") from err
    parts = text.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise SocketTableError(f"{path}: holds {text.strip()!r} (expected two port numbers)")
    return int(parts[0]), int(parts[1])
