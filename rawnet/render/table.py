"""Plain-text and rich table rendering, JSON lines and CSV of records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

__all__ = ["json_lines", "csv_rows", "format_ts", "format_bytes", "render_table", "format_duration_ns"]


def json_lines(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write one JSON object per line to ``out``; return how many were written."""
    n = 0
    dumps = json.JSONEncoder(separators=(", ", ": ")).encode
    batch: list[str] = []
    for rec in records:
        batch.append(dumps(rec))
        n += 1
        if len(batch) >= 4096:
            batch.append("")
            out.write("\n".join(batch))
            batch.clear()
    if batch:
        batch.append("")
        out.write("\n".join(batch))
    return n


def csv_rows(records: Iterable[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """Write ``records`` as CSV with ``columns`` as the header (None as empty)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    for rec in records:
        w.writerow(["" if rec.get(c) is None else rec.get(c) for c in columns])


def format_ts(ts_ns: int | None, *, date: bool = False) -> str:
    """Return a UTC time of day with microseconds (and the date when asked)."""
    if ts_ns is None:
        return "-"
    secs, ns = divmod(ts_ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=timezone.utc)
    base = dt.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    return f"{base}.{ns // 1000:06d}"


def format_duration_ns(ns: int | None) -> str:
    """Return a duration in the most readable unit."""
    if ns is None:
        return "-"
    if ns < 1_000:
        return f"{ns} ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.3f} ms"
    return f"{ns / 1e9:.3f} s"


def format_bytes(n: int) -> str:
    """Return a byte count with a binary unit."""
    f = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if f < 1024 or unit == "TiB":
            return f"{int(f)} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{n} B"


def render_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO | None = None,
                 *, justify: Sequence[str] | None = None) -> str:
    """Return (and write to ``out``) a rich table; plain text when ``out`` is not a terminal."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False, box=None)
    for i, col in enumerate(columns):
        table.add_column(col, justify=(justify[i] if justify else "left"), no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*["-" if v is None else str(v) for v in row])
    buf = io.StringIO()
    Console(file=buf, width=200, force_terminal=False, color_system=None).print(table)
    text = buf.getvalue()
    if out is not None:
        out.write(text)
    return text
