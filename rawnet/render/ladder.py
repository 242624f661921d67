"""Ladder (sequence) diagrams of one TCP connection: text for the terminal, SVG for a picture.

Input is a ``rawnet.tcp.report.Ladder``: one row per segment with its direction, flags, relative
seq/ack, length, tshark analysis names and both endpoints' states after it. Text rows read
``#n  t  Δt  client-state  |--- label --->|  server-state  [analysis]``; a state printed in
capitals-with-asterisk changed at that packet. The SVG draws the same rows at a fixed vertical step
(time deltas are printed, not drawn to scale, so a 2-second RTO does not hide the handshake).
"""

from __future__ import annotations

from html import escape

from ..tcp.report import Ladder, LadderRow

__all__ = ["ladder_svg", "ladder_text"]

ARROW = 46


def _label(r: LadderRow) -> str:
    parts = [r.flags or "-", f"seq={r.seq}"]
    if r.ack is not None:
        parts.append(f"ack={r.ack}")
    parts.append(f"len={r.length}")
    return " ".join(parts)


def _arrow(r: LadderRow, width: int = ARROW) -> str:
    text = f" {_label(r)} "
    if len(text) > width - 4:
        text = text[: width - 5] + "…"
    fill = width - 2 - len(text)
    left = fill // 2
    right = fill - left
    if r.to_server:
        return "|" + "-" * left + text + "-" * (right - 1) + ">|"
    return "|<" + "-" * (left - 1) + text + "-" * right + "|"


def _state(name: str, changed: bool) -> str:
    return f"{name}*" if changed else name


def ladder_text(lad: Ladder) -> str:
    """Return the ladder diagram as text (one line per segment)."""
    out = [lad.title, ""]
    cw = max([len(lad.client), 14] + [len(r.client_state) + 1 for r in lad.rows])
    head = f"{'#':>6} {'t (ms)':>10} {'Δt (ms)':>9}  {lad.client:<{cw}} {'':^{ARROW}} {lad.server}"
    out.append(head)
    t0 = lad.rows[0].ts_ns if lad.rows else 0
    prev = t0
    for r in lad.rows:
        dt = (r.ts_ns - prev) / 1e6
        prev = r.ts_ns
        note = f"  [{', '.join(r.analysis)}]" if r.analysis else ""
        out.append(f"{r.n:>6} {(r.ts_ns - t0) / 1e6:>10.3f} {dt:>9.3f}  "
                   f"{_state(r.client_state, r.client_changed):<{cw}} {_arrow(r)} "
                   f"{_state(r.server_state, r.server_changed)}{note}")
    for n in lad.notes:
        out.append("  " + n)
    out.append("")
    out.append("(* = state changed at this packet; states are inferred per RFC 9293 from what each side sent "
               "and received)")
    return "\n".join(out) + "\n"


def ladder_svg(lad: Ladder) -> str:
    """Return the ladder diagram as a standalone SVG document."""
    step = 34
    top = 70
    xl, xr = 300, 760
    width = 1060
    height = top + step * (len(lad.rows) + 1) + 20 * len(lad.notes) + 30
    o: list[str] = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'font-family="monospace" font-size="12">'),
        ('<defs><marker id="a" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
         '<path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker>'
         '<marker id="r" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
         '<path d="M0,0 L10,4 L0,8 z" fill="#c0392b"/></marker></defs>'),
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-weight="bold">{escape(lad.title)}</text>',
        f'<text x="{xl}" y="48" text-anchor="middle" font-weight="bold">client {escape(lad.client)}</text>',
        f'<text x="{xr}" y="48" text-anchor="middle" font-weight="bold">server {escape(lad.server)}</text>',
        f'<line x1="{xl}" y1="{top - 10}" x2="{xl}" y2="{height - 30 - 20 * len(lad.notes)}" stroke="#888"/>',
        f'<line x1="{xr}" y1="{top - 10}" x2="{xr}" y2="{height - 30 - 20 * len(lad.notes)}" stroke="#888"/>',
    ]
    t0 = lad.rows[0].ts_ns if lad.rows else 0
    prev = t0
    for i, r in enumerate(lad.rows):
        y = top + step * i
        y2 = y + step * 0.6
        bad = bool(r.analysis) or "RST" in r.flags
        color = "#c0392b" if bad else "#333"
        marker = "r" if bad else "a"
        x1, x2 = (xl, xr) if r.to_server else (xr, xl)
        dt = (r.ts_ns - prev) / 1e6
        prev = r.ts_ns
        o.append(f'<text x="10" y="{y + 12}">#{r.n}  {(r.ts_ns - t0) / 1e6:.3f} ms (+{dt:.3f})</text>')
        o.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y2:.1f}" stroke="{color}" stroke-width="1.5" '
                 f'marker-end="url(#{marker})"/>')
        label = _label(r) + (f"  [{', '.join(r.analysis)}]" if r.analysis else "")
        o.append(f'<text x="{(xl + xr) / 2}" y="{(y + y2) / 2 - 4:.1f}" text-anchor="middle" '
                 f'fill="{color}">{escape(label)}</text>')
        if r.client_changed:
            o.append(f'<text x="{xl - 8}" y="{y2 + 4:.1f}" text-anchor="end" fill="#1a5276">'
                     f'{escape(r.client_state)}</text>')
        if r.server_changed:
            o.append(f'<text x="{xr + 8}" y="{y2 + 4:.1f}" fill="#1a5276">{escape(r.server_state)}</text>')
    y = top + step * len(lad.rows) + 10
    for n in lad.notes:
        o.append(f'<text x="10" y="{y}">{escape(n)}</text>')
        y += 20
    o.append("</svg>")
    return "\n".join(o) + "\n"
