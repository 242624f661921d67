"""``rawnet probe``, ``ping``, ``traceroute``, ``handshake``, ``doctor`` and ``capture``: parse options,
call one library function, render. Live commands need CAP_NET_RAW; without it they print how to get
it and exit 77 (the library raises PrivilegeError; the group's handler prints it)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["register"]

F = TypeVar("F", bound=Callable[..., Any])

KERNEL_RST_NOTE = ("note: rawnet sent the SYNs itself, so this host's kernel answered every SYN/ACK with an RST "
                   "(no local socket owns the probe's port); the target saw a half-open connection reset, as "
                   "with nmap -sS. Those RSTs are outgoing and are never taken for replies.")


def _family(v4: bool, v6: bool) -> int | None:
    if v4 and v6:
        raise click.UsageError("-4 and -6 exclude each other")
    return 4 if v4 else 6 if v6 else None


def _common(fn: F) -> F:
    opts = [
        click.option("-4", "v4", is_flag=True, help="use IPv4"),
        click.option("-6", "v6", is_flag=True, help="use IPv6"),
        click.option("--allow-broadcast", is_flag=True,
                     help="allow broadcast and multicast targets (refused by default)"),
        click.option("--json", "as_json", is_flag=True, help="print JSON lines"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.3f} ms"


# --------------------------------------------------------------------------------------------- probe

@click.command("probe")
@click.argument("host")
@click.option("-p", "--ports", required=True, help="ports and ranges: 22,80,8000-8100 (- for all)")
@click.option("--udp", "udp", is_flag=True, help="UDP probes (open|filtered when nothing answers)")
@click.option("--ack", "ack", is_flag=True, help="TCP ACK probes (unfiltered / filtered)")
@click.option("--rate", type=click.FloatRange(0.1, 100000), default=1000, show_default=True,
              help="packets per second")
@click.option("--retries", type=click.IntRange(0, 10), default=1, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.01, 60), default=1.0, show_default=True,
              help="seconds to wait for each answer")
@click.option("--ttl", type=click.IntRange(1, 255), default=64, show_default=True)
@click.option("--explain", is_flag=True, help="also list received packets that answered no probe, and why")
@_common
def probe_cmd(host: str, ports: str, udp: bool, ack: bool, rate: float, retries: int, timeout_s: float, ttl: int,
              explain: bool, v4: bool, v6: bool, allow_broadcast: bool, as_json: bool) -> int:
    """SYN-probe PORTS of HOST and give nmap's port states with the deciding packet.

    States: open (SYN/ACK), closed (RST), filtered (ICMP unreachable, or no answer after the
    retries); with --udp open|filtered when nothing answers; with --ack unfiltered/filtered.
    rawnet sends the SYN itself, so when a port answers SYN/ACK this host's kernel replies with an
    RST (no local socket owns the port): the target sees a half-open connection reset, as with
    nmap -sS. That RST is outgoing and never taken for a reply; rawnet adds no firewall rule.
    Needs CAP_NET_RAW. Exit status 0 when some port is open, 1 otherwise.
    """
    from ..diag.probe import parse_ports, run_probe

    if udp and ack:
        raise click.UsageError("--udp and --ack exclude each other")
    scan = "udp" if udp else "ack" if ack else "syn"
    plist = parse_ports(ports)
    rep = run_probe(host, plist, scan=scan, rate_pps=rate, retries=retries, timeout_s=timeout_s, ttl=ttl,
                    family=_family(v4, v6), allow_broadcast=allow_broadcast)
    if as_json:
        for r in rep.results:
            click.echo(json.dumps(r.record()))
    else:
        click.echo(f"rawnet probe {rep.target} from {rep.src}: {len(plist)} {('udp' if udp else 'tcp')} ports, "
                   f"{scan} scan")
        counts = Counter(r.state for r in rep.results)
        hide = None
        if len(rep.results) > 25:
            hide = counts.most_common(1)[0][0]
        click.echo(f"{'PORT':<11} {'STATE':<14} {'REASON':<18} {'RTT':>10}  TTL  FROM")
        for r in rep.results:
            if hide is not None and r.state == hide:
                continue
            click.echo(f"{f'{r.port}/{r.proto}':<11} {r.state:<14} {r.reason:<18} {_ms(r.rtt_ns):>10}  "
                       f"{r.reply_ttl if r.reply_ttl is not None else '-':>3}  {r.sender or '-'}")
        if hide is not None:
            click.echo(f"not shown: {counts[hide]} {hide} ports")
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        click.echo(f"{rep.sent} probes sent in {rep.duration_ns / 1e9:.2f} s: {summary}")
        if rep.truncated:
            click.echo(f"warning: stopped early: {rep.truncated}", err=True)
        if scan == "syn" and counts.get("open"):  # type: ignore[call-overload]
            click.echo(KERNEL_RST_NOTE)
        if explain:
            for m in rep.mismatches:
                click.echo(f"unmatched [{m.rule}]: {m.packet.summary()}: {m.explanation}")
    return 0 if any(r.state == "open" for r in rep.results) else 1


# ---------------------------------------------------------------------------------------------- ping

@click.command("ping")
@click.argument("host")
@click.option("-c", "--count", type=click.IntRange(1, 100000), default=4, show_default=True)
@click.option("-i", "--interval", "interval_s", type=click.FloatRange(0.001, 60), default=1.0, show_default=True,
              help="seconds between requests")
@click.option("-s", "--size", type=click.IntRange(0, 65000), default=56, show_default=True, help="data bytes")
@click.option("-t", "--ttl", type=click.IntRange(1, 255), default=64, show_default=True)
@click.option("--df", is_flag=True, help="set Don't Fragment (IPv4)")
@click.option("-W", "--timeout", "timeout_s", type=click.FloatRange(0.01, 60), default=2.0, show_default=True,
              help="seconds to wait for each reply")
@_common
def ping_cmd(host: str, count: int, interval_s: float, size: int, ttl: int, df: bool, timeout_s: float, v4: bool,
             v6: bool, allow_broadcast: bool, as_json: bool) -> int:
    """Send ICMP/ICMPv6 echo requests to HOST; ping(8)-style output. Exit 0 when any reply came."""
    from ..diag.ping import run_ping, _reply
    from ..transport.matcher import Match

    def show(ev: object) -> None:
        if isinstance(ev, Match) and not as_json:
            click.echo(_reply(ev).line())

    from ..diag.target import resolve
    from ..transport.policy import check_target

    addr = resolve(host, _family(v4, v6))
    check_target(addr, allow_broadcast=allow_broadcast)
    if not as_json:
        click.echo(f"PING {host} ({addr}): {size} data bytes")
    rep = run_ping(host, count=count, interval_s=interval_s, size=size, ttl=ttl, df=df, timeout_s=timeout_s,
                   family=_family(v4, v6), allow_broadcast=allow_broadcast, on_event=show)
    if as_json:
        for r in rep.replies:
            click.echo(json.dumps({"seq": r.seq, "from": r.sender, "rtt_ns": r.rtt_ns, "ttl": r.ttl,
                                   "error": r.error}))
        click.echo(json.dumps(rep.record()))
    else:
        click.echo("")
        click.echo(rep.summary())
    return 0 if rep.received else 1


# ---------------------------------------------------------------------------------------- traceroute

@click.command("traceroute")
@click.argument("host")
@click.option("--icmp", "method", flag_value="icmp", default=True, help="ICMP echo probes (default)")
@click.option("--udp", "method", flag_value="udp", help="UDP probes to ports 33434 and up")
@click.option("--tcp", "tcp_port", type=click.IntRange(1, 65535), default=None, help="TCP SYN probes to PORT")
@click.option("-f", "--first-ttl", type=click.IntRange(1, 255), default=1, show_default=True)
@click.option("-m", "--max-ttl", type=click.IntRange(1, 255), default=30, show_default=True)
@click.option("-q", "--queries", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option("-w", "--timeout", "timeout_s", type=click.FloatRange(0.01, 30), default=1.0, show_default=True)
@_common
def traceroute_cmd(host: str, method: str, tcp_port: int | None, first_ttl: int, max_ttl: int, queries: int,
                   timeout_s: float, v4: bool, v6: bool, allow_broadcast: bool, as_json: bool) -> int:
    """Show the routers on the path to HOST. Exit 0 when the destination answered."""
    from ..diag.traceroute import run_traceroute

    m = "tcp" if tcp_port is not None else method
    rep = run_traceroute(host, method=m, port=tcp_port or 80, first_ttl=first_ttl, max_ttl=max_ttl,
                         queries=queries, timeout_s=timeout_s, family=_family(v4, v6),
                         allow_broadcast=allow_broadcast)
    if as_json:
        click.echo(json.dumps(rep.record()))
    else:
        click.echo(f"traceroute to {host} ({rep.target}), {max_ttl} hops max, {m} probes")
        for h in rep.hops:
            click.echo(h.line())
        if rep.verdict != "reached":
            click.echo(f"destination {rep.verdict}")
    return 0 if rep.verdict == "reached" else 1


# -------------------------------------------------------------------------------------------- doctor

@click.command("doctor")
@click.argument("target", metavar="HOST:PORT")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
              help="bound on the connection attempt (the kernel retries its SYN meanwhile)")
@click.option("-4", "v4", is_flag=True, help="use IPv4")
@click.option("-6", "v6", is_flag=True, help="use IPv6")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (verdict, explanation, evidence)")
def doctor_cmd(target: str, timeout_s: float, v4: bool, v6: bool, as_json: bool) -> int:
    """Explain why HOST:PORT accepts, refuses, rejects or ignores connections, with the packets.

    Verdicts: open, refused, rejected, filtered, no-route, net-unreachable, host-unreachable,
    dns-failure, loopback-only, not-listening. Exit status 0 for open, 1 otherwise.
    """
    from ..diag.doctor import run_doctor

    rep = run_doctor(target, timeout_s=timeout_s, family=_family(v4, v6))
    if as_json:
        click.echo(json.dumps(rep.record()))
    else:
        click.echo(f"{target}: {rep.verdict}")
        click.echo(f"  {rep.explanation}")
        if rep.evidence:
            click.echo("evidence:")
            for line in rep.evidence:
                click.echo(f"  {line}")
    return 0 if rep.verdict == "open" else 1


# ------------------------------------------------------------------------------------------- capture

@click.command("capture")
@click.option("-i", "--interface", "iface", default="any", show_default=True, help="interface, or any")
@click.option("-f", "--filter", "bpf", default=None, help="BPF filter expression (tcpdump syntax)")
@click.option("-c", "--count", type=click.IntRange(1, 10_000_000), default=None, help="stop after N packets")
@click.option("--duration", "duration_s", type=click.FloatRange(0.01, 86400), default=None,
              help="stop after S seconds")
@click.option("-w", "--write", "path", type=click.Path(dir_okay=False), default=None,
              help="write a pcap file (nanosecond timestamps) instead of printing")
@click.option("-s", "--snaplen", type=click.IntRange(64, 262144), default=262144, show_default=True)
@click.option("--flows", is_flag=True, help="print the conversation table (TCP states, owning process) at the end")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the `rawnet pcap packets --json` fields)")
def capture_cmd(iface: str, bpf: str | None, count: int | None, duration_s: float | None, path: str | None,
                snaplen: int, flows: bool, as_json: bool) -> int:
    """Capture live packets on AF_PACKET; print them or write a pcap. Bounded by -c and/or --duration
    (with neither, 10 s). Ctrl-C stops cleanly and leaves a valid file. Prints the kernel's packet
    counters (PACKET_STATISTICS) at the end."""
    import signal

    from ..capture.live import open_live
    from ..packet import decode
    from ..packet.text import summarize
    from ..render.records import packet_record
    from ..render.table import format_ts

    if count is None and duration_s is None:
        duration_s = 10.0
    stop = {"flag": False}

    def on_sigint(signum: int, frame: object) -> None:
        stop["flag"] = True

    cap = open_live(iface, bpf, snaplen=snaplen)
    table = None
    owners = None
    if flows:
        from ..diag.flows import LiveFlows, socket_owners

        table = LiveFlows()
        owners = socket_owners()  # before: short-lived sockets may be gone at the end
    old = signal.signal(signal.SIGINT, on_sigint)
    writer = None
    n = 0
    try:
        if path is not None:
            from ..capture.writer import PcapWriter

            writer = PcapWriter(open(path, "wb"), cap.linktype, nanosecond=True, snaplen=snaplen)
            writer.flush()  # the header is on disk before the first packet: the file is valid from here on
        for fr in cap.frames(count=count, duration_s=duration_s, stop=lambda: stop["flag"]):
            n += 1
            if writer is not None:
                writer.write(fr)
            if table is not None:
                table.add(decode(fr.data, fr.linktype, strict=False), fr.ts_ns, fr.wirelen)
            elif writer is None:
                pkt = decode(fr.data, fr.linktype, strict=False)
                if as_json:
                    click.echo(json.dumps(packet_record(pkt, n=n, ts_ns=fr.ts_ns, wirelen=fr.wirelen,
                                                        caplen=fr.caplen)))
                else:  # the line format of `rawnet pcap packets`
                    click.echo(f"{n:>6} {format_ts(fr.ts_ns)} {summarize(pkt)}")
    finally:
        signal.signal(signal.SIGINT, old)
        if writer is not None:
            writer.close()
        st = cap.statistics()
        cap.close()
    if table is not None:
        from ..diag.flows import format_rows, socket_owners

        assert owners is not None
        owners.update(socket_owners())
        click.echo(format_rows(table.rows(owners)))
    click.echo(f"{n} packets captured\n{st.received} packets received by filter\n{st.dropped} packets dropped by "
               "kernel", err=True)
    return 0


# ----------------------------------------------------------------------------------------- handshake

@click.command("handshake")
@click.argument("target", metavar="HOST:PORT")
@click.option("--send", "send_text", default=None, help="text to send once connected (\\r\\n escapes allowed)")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 60), default=3.0, show_default=True)
@click.option("--crafted", is_flag=True, help="send the SYN, ACK and data from a raw socket instead of connect()")
@click.option("--suppress-kernel-rst", is_flag=True,
              help="with --crafted: add a temporary nft rule dropping this host's RSTs from the probe port "
                   "(removed afterwards; needs CAP_NET_ADMIN). Off by default.")
@click.option("-4", "v4", is_flag=True, help="use IPv4")
@click.option("-6", "v6", is_flag=True, help="use IPv6")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def handshake_cmd(target: str, send_text: str | None, timeout_s: float, crafted: bool, suppress_kernel_rst: bool,
                  v4: bool, v6: bool, as_json: bool) -> int:
    """Open a TCP connection to HOST:PORT while capturing it; print the ladder with both endpoints'
    states and the timings (SYN to SYN/ACK, to ACK, to first data, close). Exit 0 when it connected."""
    from ..diag.handshake import run_handshake

    if suppress_kernel_rst and not crafted:
        raise click.UsageError("--suppress-kernel-rst only applies to --crafted")
    data = None
    if send_text is not None:
        data = send_text.replace("\\r", "\r").replace("\\n", "\n").encode()
    rep = run_handshake(target, send=data, timeout_s=timeout_s, crafted=crafted,
                        suppress_kernel_rst=suppress_kernel_rst, family=_family(v4, v6))
    if as_json:
        click.echo(json.dumps(rep.record()))
    else:
        click.echo(rep.ladder())
        tm = rep.timings
        click.echo(f"verdict: {rep.verdict}")
        for name, val in (("SYN -> SYN/ACK", tm.syn_to_synack_ns), ("SYN/ACK -> ACK", tm.synack_to_ack_ns),
                          ("SYN -> first data", tm.syn_to_first_data_ns),
                          ("request -> response", tm.request_to_response_ns), ("close", tm.close_ns)):
            click.echo(f"  {name:<20} {_ms(val)}")
        for note in rep.notes:
            click.echo(f"note: {note}")
        if rep.tracker:
            tv = rep.tracker
            click.echo(f"tracker (rawnet.tcp): client {tv['client_state']}, server {tv['server_state']}, "
                       f"conn_state {tv['conn_state']}, history {tv['history']}")
    return 0 if rep.verdict in ("completed", "established") else 1


COMMANDS = [probe_cmd, ping_cmd, traceroute_cmd, doctor_cmd, capture_cmd, handshake_cmd]


def register(group: click.Group) -> None:
    """Add the live diagnostic commands to ``group``; returns nothing."""
    for cmd in COMMANDS:
        group.add_command(cmd)
