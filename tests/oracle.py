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
    out = _run(["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                "-E", "separator=|",
                "-e", "frame.number", "-e", "tcp.stream", "-e", "udp.stream", "-e", "ip.src", "-e", "ipv6.src",
                "-e", "tcp.srcport", "-e", "udp.srcport", "-e", "frame.len", "-e", "icmp.type",
                "-e", "icmpv6.type", "-e", "ip.fragment", "-e", "ipv6.fragment"])
    members: dict[int, list[int]] = {}
    in_datagram: set[int] = set()
    rows: dict[int, list[str]] = {}
    for line in out.splitlines():
        f = line.split("|")
        if len(f) < 12:
            continue
        num = int(f[0])
        if f[10] or f[11]:
            frames = [int(x) for x in (f[10] or f[11]).split(",") if x]
            members[num] = frames
            in_datagram.update(frames)
        rows[num] = [x.split(",")[0] for x in f[:10]]
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
