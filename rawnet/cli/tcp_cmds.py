"""`rawnet pcap tcp FILE` and `rawnet pcap ladder FILE --conn N`: per-connection TCP reports and ladder
diagrams. ``register(pcap_group)`` attaches both commands to the ``pcap`` group.

A connection number N is the 0-based index of a TCP connection in order of first packet (the order
`rawnet pcap tcp` lists them in; a reused 5-tuple with a new ISN is a new connection).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import UsageError
from ..flow.table import ConversationTable
from ..pipeline import Analysis, iter_packets
from ..tcp.report import connection_report, format_report, ladder_data

__all__ = ["ladder_cmd", "register", "tcp_cmd"]


def _finish(res: Analysis) -> None:
    if res.warning:
        click.echo(f"rawnet: warning: {res.warning}", err=True)
    if res.fatal is not None:
        click.echo(f"rawnet: error: {res.fatal}", err=True)
        sys.exit(res.fatal.exit_code)


def _tcp_flows(res: Analysis) -> list[Any]:
    return [f for f in res.table.flows() if f.proto == 6 and not f.echo and f.tcp is not None]


@click.command("tcp")
@click.argument("file")
@click.option("--conn", "conn", type=click.IntRange(min=0), help="only connection N (0-based, see the list)")
@click.option("--port", "port", type=click.IntRange(0, 65535), help="only connections with this port on either side")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: the flow keys plus `timeline`")
def tcp_cmd(file: str, conn: int | None, port: int | None, as_json: bool) -> None:
    """Report per TCP connection: endpoints, handshake timing, state timelines, anomalies, ending."""
    if conn is not None and port is not None:
        raise UsageError("pcap tcp: --conn and --port exclude each other (give one)")
    res = Analysis("", ConversationTable())
    for _ in iter_packets(file, track=True, result=res):
        pass
    flows = _tcp_flows(res)
    if conn is not None and conn >= len(flows):
        raise UsageError(f"pcap tcp: --conn {conn} does not exist ({len(flows)} TCP connections in {file})")
    out = sys.stdout
    first = True
    for i, f in enumerate(flows):
        if conn is not None and i != conn:
            continue
        if port is not None and port not in (f.a_port, f.b_port):
            continue
        rec = connection_report(f, res.tracker, i)
        if as_json:
            out.write(json.dumps(rec) + "\n")
        else:
            if not first:
                out.write("\n")
            out.write(format_report(rec) + "\n")
        first = False
    _finish(res)


@click.command("ladder")
@click.argument("file")
@click.option("--conn", "conn", type=click.IntRange(min=0), required=True, help="connection N (0-based)")
@click.option("--svg", "svg", type=click.Path(dir_okay=False, writable=True), help="also write an SVG picture")
def ladder_cmd(file: str, conn: int, svg: str | None) -> None:
    """Ladder diagram of one TCP connection: arrows with flags, seq/ack, lengths, Δt and both states."""
    from ..render.ladder import ladder_svg, ladder_text

    res = Analysis("", ConversationTable())
    order: dict[int, int] = {}
    items: list[Any] = []
    target = None
    for item in iter_packets(file, track=True, result=res):
        f = item.flow
        p = item.packet
        if f is not None and f.proto == 6 and p.tcp is not None:
            idx = order.setdefault(f.id, len(order))
            if idx == conn:
                target = f
                items.append(item)
        elif target is not None and p.icmp is not None and p.quoted is not None:
            q = p.quoted
            qn = q.network
            qt = q.transport
            if qn is not None and qt is not None and q.protocol == 6 and res.table.lookup(
                    6, qn.src, getattr(qt, "src_port", None), qn.dst, getattr(qt, "dst_port", None)) is target:
                items.append(item)
    if target is None:
        raise UsageError(f"pcap ladder: --conn {conn} does not exist ({len(order)} TCP connections in {file})")
    lad = ladder_data(items, target, res.tracker, conn)
    sys.stdout.write(ladder_text(lad))
    if svg:
        with open(svg, "w", encoding="utf-8") as fh:
            fh.write(ladder_svg(lad))
    _finish(res)


def register(group: click.Group) -> None:
    """Attach `tcp` and `ladder` to the ``pcap`` group."""
    group.add_command(tcp_cmd)
    group.add_command(ladder_cmd)
