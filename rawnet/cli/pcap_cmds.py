"""`rawnet pcap summary|flows|packets FILE`: capture analysis on the command line."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..errors import UsageError
from ..flow.table import ConversationTable
from ..packet.text import summarize
from ..pipeline import Analysis, analyze, flows_fast, iter_packets
from ..render.records import packet_record
from ..render.table import csv_rows, format_bytes, format_duration_ns, format_ts, json_lines, render_table

FLOW_COLUMNS = ["proto", "src", "sport", "dst", "dport", "packets_fwd", "bytes_fwd", "packets_rev", "bytes_rev",
                "first_ts_ns", "last_ts_ns"]
TCP_COLUMNS = ["conn_state", "history", "irtt_ns", "retransmissions", "client_state", "server_state", "close",
               "closed_by"]


@click.group("pcap")
def pcap_group() -> None:
    """Analyse pcap/pcapng captures (FILE may be - for stdin, and may be gzip-compressed)."""


@contextmanager
def _progress(path: str) -> Iterator[Callable[[int], None] | None]:
    """Yield a progress callback drawing a bar on stderr when it is a terminal, else None."""
    if path == "-" or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn

    size = os.path.getsize(path) if os.path.exists(path) else None
    with Progress(TextColumn("reading"), BarColumn(), TextColumn("{task.completed:,} packets"),
                  transient=True, console=__import__("rich.console").console.Console(stderr=True)) as bar:
        task = bar.add_task("read", total=None)
        del size

        def update(n: int) -> None:
            bar.update(task, completed=n)

        yield update


def _finish(res: Analysis) -> None:
    """Report a cut capture as a warning; a corrupt one as an error (exit 65) after all output."""
    if res.warning:
        click.echo(f"rawnet: warning: {res.warning}", err=True)
    if res.fatal is not None:
        click.echo(f"rawnet: error: {res.fatal}", err=True)
        sys.exit(res.fatal.exit_code)


def _flow_filter(proto: str | None, host: str | None, port: int | None) -> Callable[[dict[str, Any]], bool]:
    want_host = None
    if host is not None:
        try:
            want_host = str(ipaddress.ip_address(host))
        except ValueError as err:
            raise UsageError(f"--host {host!r} is not an IP address") from err

    def keep(rec: dict[str, Any]) -> bool:
        if proto is not None:
            p = rec["proto"]
            if proto == "icmp":
                if p not in ("icmp", "icmpv6"):
                    return False
            elif p != proto:
                return False
        if want_host is not None and want_host not in (rec["src"], rec["dst"]):
            return False
        if port is not None and port not in (rec["sport"], rec["dport"]):
            return False
        return True

    return keep


@pcap_group.command("flows")
@click.argument("file")
@click.option("--sort", "sort_key", type=click.Choice(["bytes", "packets", "start"]), default="bytes",
              show_default=True)
@click.option("--top", type=click.IntRange(min=1), help="only the first N flows after sorting")
@click.option("--proto", type=click.Choice(["tcp", "udp", "icmp"]), help="only this protocol (icmp includes icmpv6)")
@click.option("--host", help="only flows with this address on either side")
@click.option("--port", type=click.IntRange(0, 65535), help="only flows with this port on either side")
@click.option("--json", "as_json", is_flag=True, help="JSON lines")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row")
@click.option("--fast", is_flag=True, help="conversation counts only (no TCP state, Zeek or analysis keys)")
def flows_cmd(file: str, sort_key: str, top: int | None, proto: str | None, host: str | None, port: int | None,
              as_json: bool, as_csv: bool, fast: bool) -> None:
    """The conversation table: TCP/UDP by 5-tuple, ICMP echo by identifier, other IP by address pair."""
    if as_json and as_csv:
        raise UsageError("give --json or --csv, not both")
    with _progress(file) as progress:
        res = flows_fast(file, progress=progress) if fast else analyze(file, track=True, progress=progress)
    keep = _flow_filter(proto, host, port)
    flows = res.flows()
    if sort_key == "bytes":
        flows.sort(key=lambda f: (-(f.bytes_fwd + f.bytes_rev), f.first_ts_ns, f.id))
    elif sort_key == "packets":
        flows.sort(key=lambda f: (-(f.packets_fwd + f.packets_rev), f.first_ts_ns, f.id))
    else:
        flows.sort(key=lambda f: (f.first_ts_ns, f.id))
    wanted = proto is not None or host is not None or port is not None

    def records() -> Iterator[dict[str, Any]]:
        shown = 0
        for f in flows:
            rec = res.record(f)
            if wanted and not keep(rec):
                continue
            yield rec
            shown += 1
            if top is not None and shown >= top:
                return

    recs = records()
    out = sys.stdout
    if as_json:
        json_lines(recs, out)
    elif as_csv:
        cols = FLOW_COLUMNS + ([] if fast else TCP_COLUMNS)
        csv_rows(recs, cols, out)
    else:
        rows = []
        recs = list(recs)  # type: ignore[assignment]
        for r in recs:
            src = f"{r['src']}:{r['sport']}" if r["sport"] is not None else r["src"]
            dst = f"{r['dst']}:{r['dport']}" if r["dport"] is not None else r["dst"]
            dur = format_duration_ns(r["last_ts_ns"] - r["first_ts_ns"])
            extra = [] if fast else [r.get("conn_state"), r.get("close") and f"{r['close']} by {r['closed_by']}",
                                     format_duration_ns(r.get("irtt_ns")) if r.get("irtt_ns") is not None else None,
                                     r.get("retransmissions")]
            rows.append([r["proto"], src, dst, r["packets_fwd"], format_bytes(r["bytes_fwd"]), r["packets_rev"],
                         format_bytes(r["bytes_rev"]), dur, *extra])
        cols = ["proto", "originator", "responder", "pkts >", "bytes >", "pkts <", "bytes <", "duration"]
        if not fast:
            cols += ["state", "ended", "irtt", "retrans"]
        render_table(f"{len(rows)} flows in {res.path}", cols, rows, out)
    _finish(res)


@pcap_group.command("packets")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (n, ts_ns, wirelen, caplen, ip_version, src, ...)")
@click.option("--analysis", is_flag=True, help="add tshark-compatible tcp.analysis flags to TCP packets")
@click.option("-c", "--count", type=click.IntRange(min=1), help="stop after N packets")
def packets_cmd(file: str, as_json: bool, analysis: bool, count: int | None) -> None:
    """One line per packet like `tcpdump -nn`, or JSON lines."""
    res = Analysis("", ConversationTable())
    out = sys.stdout
    write = out.write
    for item in iter_packets(file, track=analysis, result=res):
        if as_json:
            rec = packet_record(item.packet, n=item.n, ts_ns=item.ts_ns, wirelen=item.wirelen, caplen=item.caplen)
            if analysis and item.packet.tcp is not None:
                rec["analysis"] = item.analysis or []
            write(json.dumps(rec))
            write("\n")
        else:
            line = f"{item.n:>6} {format_ts(item.ts_ns)} {summarize(item.packet)}"
            if item.analysis:
                line += " [" + ", ".join(item.analysis) + "]"
            write(line + "\n")
        if count is not None and item.n >= count:
            break
    _finish(res)


@pcap_group.command("summary")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="one JSON object")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="conversations and talkers shown")
def summary_cmd(file: str, as_json: bool, top: int) -> None:
    """Packets, bytes, time span, link types, protocol mix, top conversations and talkers, decode problems."""
    with _progress(file) as progress:
        res = analyze(file, track=False, progress=progress)
    flows = res.flow_records()
    flows.sort(key=lambda r: -(r["bytes_fwd"] + r["bytes_rev"]))
    talkers: Counter[str] = Counter()
    talker_pkts: Counter[str] = Counter()
    for r in flows:
        talkers[r["src"]] += r["bytes_fwd"]
        talkers[r["dst"]] += r["bytes_rev"]
        talker_pkts[r["src"]] += r["packets_fwd"]
        talker_pkts[r["dst"]] += r["packets_rev"]
    from ..packet.link import LinkType

    lt_names = {lt: (LinkType.from_wire(lt).name if LinkType.from_wire(lt) else f"LINKTYPE_{lt}") for lt in res.linktypes}
    duration = (res.last_ts_ns - res.first_ts_ns) if res.first_ts_ns is not None and res.last_ts_ns is not None else None
    undecoded = sum(res.errors.values())
    summary = {
        "file": res.path,
        "format": getattr(res.info, "format", None),
        "packets": res.packets,
        "bytes": res.bytes,
        "first_ts_ns": res.first_ts_ns,
        "last_ts_ns": res.last_ts_ns,
        "duration_ns": duration,
        "linktypes": {lt_names[k]: v for k, v in sorted(res.linktypes.items())},
        "protocols": {k: {"packets": v, "bytes": res.protocol_bytes[k]} for k, v in res.protocols.most_common()},
        "flows": len(flows),
        "top_conversations": flows[:top],
        "top_talkers": [{"address": a, "bytes_sent": b, "packets_sent": talker_pkts[a]} for a, b in talkers.most_common(top)],
        "undecoded": undecoded,
        "undecoded_reasons": [{"reason": k, "packets": v, "first_packet": res.error_examples.get(k)}
                              for k, v in res.errors.most_common()],
        "warning": res.warning,
    }
    if as_json:
        click.echo(json.dumps(summary))
        _finish(res)
        return
    out = sys.stdout
    w = out.write
    w(f"file       {res.path} ({summary['format']})\n")
    w(f"packets    {res.packets:,}   bytes {res.bytes:,} ({format_bytes(res.bytes)})\n")
    w(f"time       {format_ts(res.first_ts_ns, date=True)} .. {format_ts(res.last_ts_ns, date=True)} UTC"
      f"  ({format_duration_ns(duration)})\n")
    w("linktypes  " + ", ".join(f"{k} {v:,}" for k, v in summary["linktypes"].items()) + "\n")
    w(f"flows      {len(flows):,}\n\n")
    render_table("protocols", ["protocol", "packets", "bytes", "share"],
                 [[k, f"{v:,}", format_bytes(res.protocol_bytes[k]), f"{100 * v / max(res.packets, 1):.1f}%"]
                  for k, v in res.protocols.most_common()], out, justify=["left", "right", "right", "right"])
    w("\n")
    render_table("top conversations", ["proto", "originator", "responder", "packets", "bytes"],
                 [[r["proto"], f"{r['src']}:{r['sport']}" if r["sport"] is not None else r["src"],
                   f"{r['dst']}:{r['dport']}" if r["dport"] is not None else r["dst"],
                   r["packets_fwd"] + r["packets_rev"], format_bytes(r["bytes_fwd"] + r["bytes_rev"])]
                  for r in flows[:top]], out)
    w("\n")
    render_table("top talkers", ["address", "packets sent", "bytes sent"],
                 [[t["address"], t["packets_sent"], format_bytes(t["bytes_sent"])] for t in summary["top_talkers"]], out)
    w(f"\nundecoded  {undecoded:,} packets\n")
    for e in summary["undecoded_reasons"]:
        w(f"  {e['packets']:>8,}  {e['reason']} (first: packet {e['first_packet']})\n")
    _finish(res)


def register(group: click.Group) -> None:
    """Attach the pcap group, with the TCP commands (tcp, ladder), to ``group``."""
    from . import tcp_cmds

    tcp_cmds.register(pcap_group)
    group.add_command(pcap_group)
