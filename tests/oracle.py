"""tshark as an independent oracle: conversations and per-packet fields, parsed into plain dicts."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

Endpoint = tuple[str, int]


def _run(args: list[str], timeout: int = 300) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return proc.stdout


def tshark_stream_counts(path: Path | str) -> dict[tuple[str, int], dict[Endpoint, list[int]]]:
    """Return {(proto, stream): {(src, sport): [packets, bytes]}} from tshark's tcp.stream/udp.stream.

    The packets of each direction are keyed by their sender; bytes are frame.len as tshark's
    conversation table counts them. tshark reassembles IP fragments and puts the datagram's
    transport header on the last fragment's frame; ``ip.fragment``/``ipv6.fragment`` on that frame
    lists every frame of the datagram, and each of those frames is credited to the datagram's
    stream here (what tshark says the frame belongs to). ICMP errors that quote a TCP/UDP header
    are left out (their outer layer is ICMP; rawnet counts them in the ICMP flow).
    """
    members: dict[int, list[int]] = {}
    in_datagram: set[int] = set()
    rows: dict[int, list[str]] = {}
    for num, r in tshark_table(path).items():
        frag = r["ip.fragment"] or r["ipv6.fragment"]
        if frag:
            frames = [int(x) for x in frag.split(",") if x]
            members[num] = frames
            in_datagram.update(frames)
        rows[num] = [r[k] for k in ("frame.number", "tcp.stream", "udp.stream", "ip.src", "ipv6.src", "tcp.srcport",
                                    "udp.srcport", "frame.len", "icmp.type", "icmpv6.type")]
    convs: dict[tuple[str, int], dict[Endpoint, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for num, f in rows.items():
        _, tstream, ustream, src4, src6, tport, uport, flen, itype, i6type = f[:10]
        if itype or i6type:
            continue
        src = src4 or src6
        if tstream:
            key, port = ("tcp", int(tstream)), int(tport)
        elif ustream:
            key, port = ("udp", int(ustream)), int(uport)
        else:
            continue
        frames = members.get(num, [num])
        if num in in_datagram and num not in members:
            continue  # a fragment whose datagram is counted through its reassembling frame
        for fr in frames:
            c = convs[key][(src, port)]
            c[0] += 1
            c[1] += int(rows[fr][7]) if fr in rows else int(flen)
    return {k: dict(v) for k, v in convs.items()}


_CONV = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\S+(?: \w+)?\s+(\d+)\s+")


def tshark_conv_frames(path: Path | str) -> dict[frozenset[Endpoint], dict[str, int]]:
    """Return {frozenset of the two endpoints: {"<-": frames, "->": frames}} from ``-z conv,tcp -z conv,udp``."""
    out = _run(["tshark", "-r", str(path), "-n", "-q", "-z", "conv,tcp", "-z", "conv,udp"])
    res: dict[frozenset[Endpoint], dict[str, int]] = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s", line)
        if not m:
            continue
        a, ap, b, bp, back = m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))
        rest = line[m.end():]
        nums = re.findall(r"(\d+) (?:bytes|kB|MB|GB)", line)
        fwd = int(re.search(r"\S+\s+(?:bytes|kB|MB|GB)\s+(\d+)", rest).group(1)) if nums else 0  # type: ignore[union-attr]
        res[frozenset({(a, ap), (b, bp)})] = {"<-": back, "->": fwd}
    return res


TABLE_FIELDS = ["frame.number", "tcp.stream", "udp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ip.ttl",
                "ipv6.hlim", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value",
                "tcp.len", "udp.srcport", "udp.dstport", "frame.len", "icmp.type", "icmpv6.type", "ip.fragment",
                "ipv6.fragment", "frame.protocols"]
_TABLES: dict[str, dict[int, dict[str, str]]] = {}


def tshark_table(path: Path | str) -> dict[int, dict[str, str]]:
    """Return {frame number: {field: first occurrence}} for TABLE_FIELDS, one tshark run per file (cached).

    ``ip.fragment``/``ipv6.fragment`` keep every occurrence (the frames of a reassembled datagram).
    """
    key = str(path)
    if key in _TABLES:
        return _TABLES[key]
    out = _run(["tshark", "-r", key, "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                "-E", "separator=|", *[a for f in TABLE_FIELDS for a in ("-e", f)]], timeout=300)
    rows: dict[int, dict[str, str]] = {}
    for line in out.splitlines():
        f = line.split("|")
        if len(f) != len(TABLE_FIELDS):
            continue
        row = {name: (v if name in ("ip.fragment", "ipv6.fragment", "frame.protocols") else v.split(",")[0])
               for name, v in zip(TABLE_FIELDS, f)}
        rows[int(row["frame.number"])] = row
    _TABLES[key] = rows
    return rows


def prefetch(paths: list[Path]) -> None:
    """Run tshark_table on ``paths`` four at a time (tshark runs in its own process)."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [p for p in paths if str(p) not in _TABLES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(tshark_table, todo))
