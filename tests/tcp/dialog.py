"""Hand-built TCP exchanges for tracker tests: a client and a server trading crafted segments."""

from __future__ import annotations

import io
from typing import Any

from rawnet.capture.frame import Frame
from rawnet.capture.writer import PcapWriter
from rawnet.flow.table import ConversationTable, Flow
from rawnet.packet.ipv4 import IPv4Header
from rawnet.packet.stack import Packet, encode
from rawnet.packet.tcp import TCPHeader, TCPOption, parse_flags
from rawnet.tcp import TCPTracker

M32 = 0xFFFFFFFF
CLIENT = bytes([198, 18, 0, 1])
SERVER = bytes([198, 18, 0, 2])


class Dialog:
    """Feed crafted segments to a ConversationTable and a TCPTracker; remember them for a pcap."""

    def __init__(self, cport: int = 40000, sport: int = 8080, t0_ns: int = 1_700_000_000 * 10**9,
                 **tracker_args: Any) -> None:
        self.table = ConversationTable()
        self.tr = TCPTracker(**tracker_args)
        self.cport = cport
        self.sport = sport
        self.n = 0
        self.ts = t0_ns
        self.frames: list[tuple[int, Packet]] = []
        self.analysis: dict[int, list[str]] = {}
        self.flows: list[Flow] = []

    def _send(self, src: bytes, dst: bytes, sp: int, dp: int, flags: str, seq: int, ack: int, data: bytes,
              win: int, opts: tuple[TCPOption, ...], dt_us: int) -> list[str]:
        hdr = TCPHeader(sp, dp, seq & M32, ack & M32, parse_flags(flags), win, options=opts)
        pkt = Packet(network=IPv4Header(src, dst, 6), transport=hdr, payload=data,
                     ip_payload_length=hdr.header_length + len(data), linktype=101)
        self.n += 1
        self.ts += dt_us * 1000
        r = self.table.add(pkt, self.n, self.ts, 20 + hdr.header_length + len(data))
        assert r is not None
        if r[0] not in self.flows:
            self.flows.append(r[0])
        names = self.tr.process(pkt, self.n, self.ts, *r)
        self.frames.append((self.ts, pkt))
        self.analysis[self.n] = names
        return names

    def c(self, flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 64240,
          opts: tuple[TCPOption, ...] = (), dt_us: int = 100) -> list[str]:
        """Send a segment client -> server; return its analysis flags."""
        return self._send(CLIENT, SERVER, self.cport, self.sport, flags, seq, ack, data, win, opts, dt_us)

    def s(self, flags: str, seq: int, ack: int = 0, data: bytes = b"", win: int = 65160,
          opts: tuple[TCPOption, ...] = (), dt_us: int = 100) -> list[str]:
        """Send a segment server -> client; return its analysis flags."""
        return self._send(SERVER, CLIENT, self.sport, self.cport, flags, seq, ack, data, win, opts, dt_us)

    @property
    def flow(self) -> Flow:
        """Return the last flow."""
        return self.flows[-1]

    def timeline(self, flow: Flow | None = None) -> list[tuple[str, str, int, bool]]:
        """Return (endpoint, state, packet, seen) in order."""
        self.tr.finish()
        return [(t["endpoint"], t["state"], t["packet"], t["seen"])
                for t in self.tr.timeline(flow or self.flow)]

    def keys(self, flow: Flow | None = None) -> dict[str, Any]:
        """Return the flow keys."""
        self.tr.finish()
        return self.tr.flow_keys(flow or self.flow)

    def pcap(self) -> bytes:
        """Return the exchange as a nanosecond pcap (raw IP link type)."""
        buf = io.BytesIO()
        w = PcapWriter(buf, 101, nanosecond=True)
        for ts, pkt in self.frames:
            data = encode(pkt)
            w.write(Frame(ts, 101, data, len(data)))
        w.flush()
        return buf.getvalue()


def handshake(d: Dialog, ciss: int = 1000, siss: int = 5000) -> None:
    """Client SYN, server SYN/ACK, client ACK."""
    d.c("S", ciss)
    d.s("SA", siss, ciss + 1)
    d.c("A", ciss + 1, siss + 1)
