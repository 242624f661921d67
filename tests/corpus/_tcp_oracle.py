"""Helpers for the tshark oracle of the TCP tracker: run tshark and rawnet over one capture."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from rawnet.capture.files import iter_frames
from rawnet.flow.table import ConversationTable
from rawnet.packet.stack import decode
from rawnet.tcp import TCPTracker

FLAGS = ("retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
         "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe", "zero_window_probe_ack",
         "window_full", "window_update", "keep_alive", "keep_alive_ack")


def tshark_analysis(tshark: str, path: Path, streams: dict[int, int] | None = None
                    ) -> dict[int, tuple[list[str], int | None]]:
    """Return {frame: (analysis names, initial_rtt_ns or None)} for frames with a TCP layer.

    ``streams``, when given, is filled with {frame: tcp.stream}.
    """
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "tcp.srcport",
           "-e", "tcp.analysis.initial_rtt", "-e", "tcp.stream"]
    for f in FLAGS:
        cmd += ["-e", "tcp.analysis." + f]
    cmd += ["-E", "occurrence=f", "-E", "separator=\t"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False).stdout
    res: dict[int, tuple[list[str], int | None]] = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) < 4 + len(FLAGS) or not cols[1]:
            continue
        irtt = None
        if cols[2]:
            sec, _, frac = cols[2].partition(".")
            irtt = int(sec) * 10**9 + int((frac + "000000000")[:9])
        names = [f for f, v in zip(FLAGS, cols[4:]) if v]
        res[int(cols[0])] = (names, irtt)
        if streams is not None and cols[3]:
            streams[int(cols[0])] = int(cols[3])
    return res


def rawnet_analysis(path: Path, groups: dict[int, tuple[int, int]] | None = None
                    ) -> tuple[dict[int, tuple[list[str], int | None]], Any, TCPTracker, set[int]]:
    """Return ({frame: (names, current irtt)}, table, tracker, frames that are ICMP-quoting TCP).

    ``groups``, when given, is filled with {frame: (flow id, Wireshark conversation number in it)}.
    """
    table = ConversationTable()
    tr = TCPTracker()
    res: dict[int, tuple[list[str], int | None]] = {}
    icmp: set[int] = set()
    for n, frame in enumerate(iter_frames(str(path)), 1):
        pkt = decode(frame.data, frame.linktype, strict=False)
        r = table.add(pkt, n, frame.ts_ns, frame.wirelen)
        if r is None:
            continue
        flow, fwd = r
        if pkt.tcp is not None:
            names = tr.process(pkt, n, frame.ts_ns, flow, fwd)
            ws = flow.tcp.ws
            res[n] = (names, ws.ts_first_rtt if ws.irtt_shown else None)
            if groups is not None:
                groups[n] = (flow.id, flow.tcp.ws_conversations)
        elif pkt.icmp is not None and pkt.quoted is not None:
            q = pkt.quoted
            qt = q.transport
            if q.network is not None and qt is not None and q.protocol == 6:
                f = table.lookup(6, q.network.src, getattr(qt, "src_port", None), q.network.dst,
                                 getattr(qt, "dst_port", None))
                if f is not None:
                    tr.process_icmp(pkt, n, frame.ts_ns, f)
                    icmp.add(n)
    tr.finish()
    return res, table, tr, icmp
