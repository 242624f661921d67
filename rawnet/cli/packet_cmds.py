"""`rawnet decode` and `rawnet build`: the codec on the command line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from ..errors import DecodeError, UsageError
from ..packet import decode as decode_packet
from ..packet import encode
from ..packet.craft import CraftSpec, craft
from ..packet.link import LinkType
from ..packet.text import layered, summarize
from ..render.records import packet_record

LINKS = {"ethernet": 1, "eth": 1, "raw": 101, "ip": 101, "ipv4": 228, "ipv6": 229, "sll": 113, "sll2": 276,
         "null": 0, "loop": 108}


def parse_link(text: str) -> int:
    """Return the pcap link type named by ``text`` (a name from LINKS or a number)."""
    t = text.strip().lower()
    if t in LINKS:
        return LINKS[t]
    if t.isdigit() and LinkType.from_wire(int(t)) is not None:
        return int(t)
    raise UsageError(f"--link {text}: unknown link type (one of {', '.join(sorted(LINKS))}, or a pcap number "
                     f"{', '.join(str(int(x)) for x in LinkType)})")


def parse_hex(text: str) -> bytes:
    """Return the bytes of hex text (spaces, colons, newlines and a 0x prefix allowed)."""
    cleaned = re.sub(r"0x|[\s:.-]", "", text.strip(), flags=re.IGNORECASE)
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise DecodeError(f"input is not hex: character {bad.group()!r} at position {bad.start()} of the cleaned input")
    if len(cleaned) % 2:
        raise DecodeError(f"input is not hex: odd number of digits ({len(cleaned)})")
    if not cleaned:
        raise DecodeError("input is empty (give hex bytes, or - to read them from stdin)")
    return bytes.fromhex(cleaned)


@click.command("decode")
@click.argument("hexdata")
@click.option("--link", "link", default="ethernet", show_default=True,
              help="link layer: ethernet, raw, ipv4, ipv6, sll, sll2, null, loop, or a pcap linktype number")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (the `pcap packets --json` fields)")
@click.option("--lenient", is_flag=True, help="show what decoded instead of failing on a malformed layer")
def decode_cmd(hexdata: str, link: str, as_json: bool, lenient: bool) -> None:
    """Decode one packet given as HEXDATA (or - for hex on stdin) and show its layers."""
    text = sys.stdin.read() if hexdata == "-" else hexdata
    data = parse_hex(text)
    pkt = decode_packet(data, parse_link(link), strict=not lenient)
    if as_json:
        click.echo(json.dumps(packet_record(pkt, n=1, wirelen=len(data), caplen=len(data))))
    else:
        click.echo(summarize(pkt))
        click.echo(layered(pkt))


def _int(text: str, name: str) -> int:
    try:
        return int(text, 0)
    except ValueError as err:
        raise UsageError(f"--{name} {text!r}: not a number") from err


@click.command("build")
@click.argument("proto", type=click.Choice(["tcp", "udp", "icmp"]))
@click.option("--src", required=True, help="source address (IPv6 addresses make an IPv6 packet)")
@click.option("--dst", required=True, help="destination address")
@click.option("--sport", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option("--dport", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option("--flags", default="S", show_default=True, help="TCP flags: letters FSRPAUECN (N = AE) or SYN,ACK")
@click.option("--seq", default="0", help="TCP sequence number")
@click.option("--ack", default="0", help="TCP acknowledgment number")
@click.option("--win", type=click.IntRange(0, 65535), default=65535, show_default=True)
@click.option("--ttl", type=click.IntRange(0, 255), default=64, show_default=True)
@click.option("--id", "ip_id", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option("--df", is_flag=True, help="set IPv4 Don't Fragment")
@click.option("--mss", type=click.IntRange(0, 65535))
@click.option("--wscale", type=click.IntRange(0, 255))
@click.option("--sackok", is_flag=True)
@click.option("--ts", help="timestamps option VAL,ECR")
@click.option("--icmp-type", type=click.IntRange(0, 255), help="ICMP type (default echo request)")
@click.option("--icmp-code", type=click.IntRange(0, 255), default=0)
@click.option("--icmp-id", type=click.IntRange(0, 65535), default=0)
@click.option("--icmp-seq", type=click.IntRange(0, 65535), default=0)
@click.option("--payload", help="payload text")
@click.option("--payload-hex", help="payload as hex")
@click.option("--bad-checksum", is_flag=True, help="write a wrong transport checksum on purpose")
@click.option("--hex", "as_hex", is_flag=True, help="print the packet as hex")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="write raw bytes to FILE")
@click.option("--pcap", type=click.Path(dir_okay=False, path_type=Path),
              help="append to a pcap FILE (created as raw IP if missing)")
def build_cmd(proto: str, src: str, dst: str, sport: int, dport: int, flags: str, seq: str, ack: str, win: int,
              ttl: int, ip_id: int, df: bool, mss: int | None, wscale: int | None, sackok: bool, ts: str | None,
              icmp_type: int | None, icmp_code: int, icmp_id: int, icmp_seq: int, payload: str | None,
              payload_hex: str | None, bad_checksum: bool, as_hex: bool, output: Path | None,
              pcap: Path | None) -> None:
    """Craft one TCP, UDP or ICMP packet from hping3/nping-style options."""
    if payload is not None and payload_hex is not None:
        raise UsageError("give --payload or --payload-hex, not both")
    body = payload.encode() if payload is not None else parse_hex(payload_hex) if payload_hex else b""
    timestamps = None
    if ts is not None:
        parts = ts.split(",")
        if len(parts) != 2:
            raise UsageError(f"--ts {ts!r}: expected VAL,ECR")
        timestamps = (_int(parts[0], "ts"), _int(parts[1], "ts"))
    spec = CraftSpec(proto, src, dst, sport, dport, flags, _int(seq, "seq") & 0xFFFFFFFF,
                     _int(ack, "ack") & 0xFFFFFFFF, win, ttl, ip_id, df, mss, wscale, sackok, timestamps,
                     icmp_type, icmp_code, icmp_id, icmp_seq, body, bad_checksum)
    pkt = craft(spec)
    data = encode(pkt)
    wrote = False
    if output is not None:
        output.write_bytes(data)
        wrote = True
    if pcap is not None:
        import time

        from ..capture.writer import append_packet

        append_packet(pcap, pkt, ts_ns=time.time_ns())  # the CLI is an edge: it may read the clock
        wrote = True
    if as_hex or not wrote:
        click.echo(data.hex())
    if not wrote and not as_hex:
        click.echo(summarize(decode_packet(data, pkt.linktype)), err=True)


def register(group: click.Group) -> None:
    """Attach decode and build to ``group``."""
    group.add_command(decode_cmd)
    group.add_command(build_cmd)
