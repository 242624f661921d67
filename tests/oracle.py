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
    conversation table counts them. ICMP errors that quote a TCP/UDP header are left out (their
    outer layer is ICMP; rawnet counts them in the ICMP flow between the two addresses).
    """
    out = _run(["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=f", "-E", "separator=|",
                "-e", "tcp.stream", "-e", "udp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                "-e", "udp.srcport", "-e", "frame.len", "-e", "icmp.type", "-e", "icmpv6.type",
                "-o", "tcp.analyze_sequence_numbers:TRUE"])
    convs: dict[tuple[str, int], dict[Endpoint, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for line in out.splitlines():
        f = line.split("|")
        if len(f) < 9:
            continue
        tstream, ustream, src4, src6, tport, uport, flen, itype, i6type = f[:9]
        if itype or i6type:
            continue
        src = src4 or src6
        if tstream:
            key, port = ("tcp", int(tstream)), int(tport)
        elif ustream:
            key, port = ("udp", int(ustream)), int(uport)
        else:
            continue
        c = convs[key][(src, port)]
        c[0] += 1
        c[1] += int(flen)
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
