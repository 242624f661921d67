"""Edge: watch the socket table, turning successive snapshots into events with the pure :func:`diff`.

The loop is bounded by a number of intervals or by a duration (at least one must be given). The clock
and the sleep are parameters, so a test can drive the loop step by step and a caller in a network
namespace runs it in the thread that entered the namespace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from ..errors import UsageError
from . import Reader, snapshot
from .table import SocketEvent, SocketFilter, SocketTable, diff

__all__ = ["run_watch"]


def run_watch(flt: SocketFilter | None = None, *, interval_s: float = 0.5, count: int | None = None,
              duration_s: float | None = None, reader: Reader = "diag", processes: bool = True,
              clock: Callable[[], int] = time.time_ns, sleep: Callable[[float], None] = time.sleep,
              take: Callable[[], SocketTable] | None = None) -> Iterator[SocketEvent]:
    """Yield the events between successive snapshots, taken every ``interval_s`` seconds.

    Args:
        flt: which sockets to watch.
        interval_s: seconds between snapshots.
        count: number of intervals (snapshots after the first).
        duration_s: take no snapshot later than this after the first (by the snapshots' ``ts_ns``);
            with ``count`` too, whichever ends first.
        reader, processes: as for :func:`rawnet.sockets.snapshot`.
        clock: nanosecond clock stamped on snapshots and events.
        sleep: waits between snapshots.
        take: takes a snapshot (defaults to :func:`snapshot` with the arguments above).

    Raises:
        UsageError: neither ``count`` nor ``duration_s`` given, or a negative value.
    """
    if count is None and duration_s is None:
        raise UsageError("watch: give --count N or --duration S (the watch must end)")
    if interval_s <= 0 or (count is not None and count < 0) or (duration_s is not None and duration_s < 0):
        raise UsageError("watch: --interval must be positive, --count and --duration not negative")

    def _take() -> SocketTable:
        return snapshot(reader=reader, processes=processes, flt=flt, clock=clock)

    grab = take or _take
    prev = grab()
    step_ns = int(interval_s * 1e9)
    deadline = None if duration_s is None else prev.ts_ns + int(duration_s * 1e9)
    limit = count if count is not None else 1 << 62
    for _ in range(limit):
        if deadline is not None and prev.ts_ns + step_ns > deadline:
            return  # the next snapshot would fall after the end of the watch
        sleep(interval_s)
        cur = grab()
        yield from diff(prev, cur)
        prev = cur
