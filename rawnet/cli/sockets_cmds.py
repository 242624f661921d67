"""``rawnet sockets`` (table, ``who``, ``check``) and ``rawnet watch``: parse options, call the socket
library, render. No logic of their own beyond choosing a renderer."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from ..sockets import (
    Finding,
    Holder,
    SocketEntry,
    SocketEvent,
    SocketFilter,
    SocketSummary,
    SocketTable,
    check,
    parse_states,
    snapshot,
    summarize,
    who_holds,
)

__all__ = ["register"]

F = TypeVar("F", bound=Callable[..., Any])


def _filter_options(fn: F) -> F:
    """Add the socket filter options shared by ``sockets`` and ``watch``."""
    opts = [
        click.option("--tcp", "tcp", is_flag=True, help="TCP sockets"),
        click.option("--udp", "udp", is_flag=True, help="UDP sockets"),
        click.option("-4", "--ipv4", "v4", is_flag=True, help="IPv4 sockets"),
        click.option("-6", "--ipv6", "v6", is_flag=True, help="IPv6 sockets"),
        click.option("-l", "--listening", is_flag=True, help="TCP listeners and unconnected UDP sockets"),
        click.option("--state", "states", multiple=True, metavar="NAME",
                     help="RFC 9293 or ss state name, or a group: connected, synchronized, bucket, big, all (repeatable)"),
        click.option("--port", type=click.IntRange(0, 65535), help="local or remote port"),
        click.option("--sport", type=click.IntRange(0, 65535), help="local port"),
        click.option("--dport", type=click.IntRange(0, 65535), help="remote port"),
        click.option("--pid", type=int, help="owning process id"),
        click.option("--process", metavar="NAME", help="owning process name"),
        click.option("--host", metavar="ADDR[/LEN]", help="local or remote address (or network)"),
        click.option("--no-processes", is_flag=True, help="do not resolve pid, process and user (faster)"),
        click.option("--reader", type=click.Choice(["diag", "psutil"]), default="diag", show_default=True,
                     help="netlink sock_diag (fast) or psutil (reference)"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _make_filter(kw: dict[str, Any]) -> SocketFilter:
    protos = frozenset(p for p in ("tcp", "udp") if kw.pop(p))
    families = frozenset(f for f, k in ((4, "v4"), (6, "v6")) if kw.pop(k))
    names = kw.pop("states")
    states = parse_states(names) if names else frozenset()
    return SocketFilter(protos=protos, families=families, states=states, listening=kw.pop("listening"),
                        port=kw.pop("port"), sport=kw.pop("sport"), dport=kw.pop("dport"), pid=kw.pop("pid"),
                        process=kw.pop("process"), host=kw.pop("host"))


# ---------------------------------------------------------------- rendering


def _js(s: str | None, cache: dict[str | None, str]) -> str:
    out = cache.get(s)
    if out is None:
        out = cache[s] = json.dumps(s)
    return out


def _json_lines(entries: Iterable[SocketEntry]) -> str:
    """Return one JSON object per entry, keys in the documented order (fast: the hot output path)."""
    cache: dict[str | None, str] = {None: "null"}
    parts = []
    for e in entries:
        raddr = "null" if e.raddr is None else f'"{e.raddr}"'
        rport = "null" if e.rport is None else e.rport
        pid = "null" if e.pid is None else e.pid
        parts.append(
            f'{{"proto": "{e.proto}", "family": {e.family}, "laddr": "{e.laddr}", "lport": {e.lport}, '
            f'"raddr": {raddr}, "rport": {rport}, "state": "{e.state.value}", "pid": {pid}, '
            f'"process": {_js(e.process, cache)}, "user": {_js(e.user, cache)}, "owner": "{e.owner}"}}\n')
    return "".join(parts)


def _ep(addr: str | None, port: int | None) -> str:
    if addr is None:
        return "*"
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _proc(e: SocketEntry) -> str:
    if e.pid is not None:
        return f"{e.process or '?'} ({e.pid})"
    return {"kernel": "[kernel]", "hidden": "[hidden]"}.get(e.owner, "")


def _render_table(table: SocketTable) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    t = Table(box=None, header_style="bold", pad_edge=False)
    for col, kw in (("Proto", {}), ("State", {}), ("Local", {"overflow": "fold"}), ("Peer", {"overflow": "fold"}),
                    ("Process", {}), ("User", {})):
        t.add_column(col, **kw)  # type: ignore[arg-type]
    for e in table.entries:
        st = "" if e.state.value == "NONE" else e.state.value
        cells = (f"{e.proto}{'6' if e.family == 6 else ''}", st, _ep(e.laddr, e.lport), _ep(e.raddr, e.rport),
                 _proc(e), e.user or "")
        t.add_row(*(Text(c) for c in cells))  # Text: "[kernel]" and process names are not markup
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    console.print(t)
    console.print(f"{len(table.entries)} sockets", style="dim")


def _render_summary(s: SocketSummary) -> str:
    lines = [f"Total: {s.total} (owned by processes {s.by_owner.get('process', 0)}, "
             f"kernel {s.by_owner.get('kernel', 0)}, hidden {s.by_owner.get('hidden', 0)})"]
    tcp = s.by_proto_state.get("tcp", {})
    lines.append(f"TCP:   {sum(tcp.values())} (estab {tcp.get('ESTABLISHED', 0)}, closed {tcp.get('CLOSED', 0)}, "
                 f"orphaned {s.orphaned}, timewait {tcp.get('TIME_WAIT', 0)})")
    for state, n in tcp.items():
        lines.append(f"  {state:<13}{n:>7}")
    udp = s.by_proto_state.get("udp", {})
    lines.append(f"UDP:   {sum(udp.values())}")
    lines.append("")
    lines.append(f"{'Transport':<10}{'Total':>7}{'IPv4':>7}{'IPv6':>7}")
    for proto in ("tcp", "udp"):
        fam = s.by_proto_family.get(proto, {})
        lines.append(f"{proto.upper():<10}{sum(fam.values()):>7}{fam.get(4, 0):>7}{fam.get(6, 0):>7}")
    return "\n".join(lines)


def _render_finding(f: Finding) -> str:
    return "\n".join([f"[{f.kind.value}] {f.message}", *(f"    {line}" for line in f.evidence)])


def _ts(ts_ns: int) -> str:
    t = _dt.datetime.fromtimestamp(ts_ns / 1e9, tz=_dt.timezone.utc)
    return t.strftime("%H:%M:%S.") + f"{(ts_ns // 1_000_000) % 1000:03d}"


def _render_event(ev: SocketEvent) -> str:
    e = ev.entry
    if ev.event == "changed":
        what = f"{ev.old_state} -> {ev.new_state}"
    elif ev.event == "opened":
        what = f"-> {ev.new_state}"
    else:
        what = f"{ev.old_state} ->"
    who = f"pid {e.pid} {e.process or '?'}" if e.pid is not None else f"[{e.owner}]"
    return f"{_ts(ev.ts_ns)} {ev.event:<7} {e.proto} {_ep(e.laddr, e.lport)} {_ep(e.raddr, e.rport)} {what}  {who}"


# ---------------------------------------------------------------- commands


@click.group("sockets", invoke_without_command=True)
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one per socket (or one summary object)")
@click.option("--summary", is_flag=True, help="counts per protocol and state, like ss -s")
@click.pass_context
def sockets_group(ctx: click.Context, /, as_json: bool, summary: bool, no_processes: bool, reader: str,
                  **kw: Any) -> None:
    """List local TCP and UDP sockets with their processes (like ss -tuanp, readable).

    Sockets owned by no process (TIME_WAIT, half-open requests, orphans) show as [kernel]; those
    of processes you are not permitted to inspect show as [hidden] (run as root to see them).
    """
    ctx.ensure_object(dict)
    ctx.obj["reader"] = reader
    ctx.obj["no_processes"] = no_processes
    if ctx.invoked_subcommand is not None:
        return
    flt = _make_filter(kw)
    table = snapshot(reader=reader, processes=not no_processes, flt=flt)  # type: ignore[arg-type]
    if summary:
        s = summarize(table)
        click.echo(json.dumps(s.as_dict()) if as_json else _render_summary(s))
    elif as_json:
        sys.stdout.write(_json_lines(table.entries))
        sys.stdout.flush()
    else:
        _render_table(table.sorted())


@sockets_group.command("who")
@click.argument("port", type=click.IntRange(0, 65535))
@click.option("--tcp", "proto", flag_value="tcp", help="only TCP")
@click.option("--udp", "proto", flag_value="udp", help="only UDP")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per holder")
@click.pass_context
def who_cmd(ctx: click.Context, /, port: int, proto: str | None, as_json: bool) -> None:
    """Say who holds local PORT and how (listener, bound, connections, TIME_WAIT remnants).

    Exits 1 when nothing holds the port.
    """
    table = snapshot(reader=ctx.obj["reader"], processes=not ctx.obj["no_processes"])
    holders: list[Holder] = who_holds(table, port, proto=proto)
    for h in holders:
        click.echo(json.dumps(h.as_dict()) if as_json else h.sentence)
    if not holders:
        if not as_json:
            click.echo(f"Nothing holds local port {port}{' (' + proto.upper() + ')' if proto else ''}.")
        ctx.exit(1)


@sockets_group.command("check")
@click.option("--close-wait-threshold", type=click.IntRange(1), default=10, show_default=True,
              help="CLOSE_WAIT sockets of one process that count as a leak")
@click.option("--time-wait-share", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="share of the ephemeral port range TIME_WAIT sockets to one peer may use")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per finding")
@click.pass_context
def check_cmd(ctx: click.Context, /, close_wait_threshold: int, time_wait_share: float, as_json: bool) -> None:
    """Look for CLOSE_WAIT leaks, TIME_WAIT pressure, loopback-only or all-address listeners and
    ports shared by several processes. Exits 1 when there is a finding."""
    from ..sockets import ephemeral_port_range

    table = snapshot(reader=ctx.obj["reader"], processes=not ctx.obj["no_processes"])
    findings = check(table, close_wait_threshold=close_wait_threshold, port_range=ephemeral_port_range(),
                     time_wait_share=time_wait_share)
    for f in findings:
        click.echo(json.dumps(f.as_dict()) if as_json else _render_finding(f))
    if not findings and not as_json:
        click.echo(f"No findings in {len(table)} sockets.")
    if findings:
        ctx.exit(1)


@click.command("watch")
@_filter_options
@click.option("--interval", type=click.FloatRange(0.01), default=0.5, show_default=True, help="seconds between snapshots")
@click.option("--duration", type=click.FloatRange(0), help="stop after S seconds")
@click.option("--count", type=click.IntRange(0), help="stop after N intervals")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one per event")
def watch_cmd(interval: float, duration: float | None, count: int | None, as_json: bool, no_processes: bool,
              reader: str, **kw: Any) -> None:
    """Show sockets opening, changing state and closing, snapshot by snapshot.

    Needs --duration or --count (defaults to --duration 10). Transitions faster than --interval are
    seen as one change.
    """
    from ..sockets.watch import run_watch

    if duration is None and count is None:
        duration = 10.0
    flt = _make_filter(kw)
    for ev in run_watch(flt, interval_s=interval, count=count, duration_s=duration, reader=reader,  # type: ignore[arg-type]
                        processes=not no_processes):
        click.echo(json.dumps(ev.as_dict()) if as_json else _render_event(ev))
        sys.stdout.flush()


def register(group: click.Group) -> None:
    """Attach ``sockets`` (with ``who`` and ``check``) and ``watch`` to ``group``."""
    group.add_command(sockets_group)
    group.add_command(watch_cmd)
