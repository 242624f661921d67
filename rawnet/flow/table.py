"""Conversation table: TCP/UDP by 5-tuple, ICMP/ICMPv6 echo by identifier, other IP by address pair
and protocol; direction-independent keys; per-direction packets, bytes (frame length on the wire),
first and last timestamps.

Theory of operation: each packet is reduced to ``(proto, src, sport, dst, dport)`` (ports are the
echo identifier for ICMP echo, None for everything without ports). The dict maps BOTH orientations
of a live key to its Flow, so one lookup finds it and tells the direction. The originator (``a``)
is the sender of the first packet, except that for TCP the sender of the first bare SYN becomes the
originator when it is seen (the counters swap with it). A bare SYN whose sequence number differs
from the ISN already seen from that endpoint starts a new flow on the same 5-tuple (reused ports,
as Wireshark does). IPv4/IPv6 fragments: the first fragment carries the ports and maps the
datagram id to its flow; later fragments follow it there; a later fragment seen before its first
fragment is held (by count, not bytes) and attributed when the first arrives, or to the address-pair
flow at the end. ``expire(now_ns, idle_ns)`` removes idle flows so memory stays bounded on endless input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..packet.icmp import ICMPMessage
from ..packet.ipv4 import IPv4Header
from ..packet.stack import PROTO_NAMES, Packet
from ..packet.tcp import TCPHeader
from ..packet.udp import UDPHeader

__all__ = ["Flow", "ConversationTable", "FlowKey", "flow_record"]

FlowKey = tuple[int, bytes, "int | None", bytes, "int | None"]


@dataclass(slots=True, eq=False)
class Flow:
    """One conversation; ``a`` is the originator, ``b`` the responder."""

    id: int
    """0-based number in order of first packet."""
    proto: int
    """IP protocol number (6, 17, 1, 58, ...)."""
    a_addr: bytes
    """Originator address (packed)."""
    a_port: int | None
    """Originator port (ICMP echo: the identifier; None when there are no ports)."""
    b_addr: bytes
    """Responder address (packed)."""
    b_port: int | None
    """Responder port (ICMP echo: the identifier; None when there are no ports)."""
    first_ts_ns: int
    """Timestamp of the first packet."""
    last_ts_ns: int
    """Timestamp of the last packet."""
    first_n: int
    """Number of the first packet (1-based)."""
    last_n: int = 0
    """Number of the last packet."""
    packets_fwd: int = 0
    """Packets from a to b."""
    bytes_fwd: int = 0
    """Frame bytes (wire length) from a to b."""
    packets_rev: int = 0
    """Packets from b to a."""
    bytes_rev: int = 0
    """Frame bytes (wire length) from b to a."""
    syn_seq_a: int | None = None
    """ISN of a bare SYN sent by a, if seen."""
    syn_seq_b: int | None = None
    """ISN of a bare SYN sent by b, if seen."""
    echo: bool = False
    """True for an ICMP echo conversation (ports hold the identifier)."""
    tcp: Any = None
    """Slot for the TCP tracker's per-connection state (rawnet.tcp); None otherwise."""
    extra: dict[str, Any] | None = None
    """Free slot for analyses layered on top (None until one uses it)."""

    def is_forward(self, src: bytes, sport: int | None) -> bool:
        """Return True when a packet from ``src``/``sport`` goes a -> b."""
        return src == self.a_addr and sport == self.a_port

    def swap(self) -> None:
        """Make b the originator (a bare SYN from b was seen before any from a)."""
        self.a_addr, self.b_addr = self.b_addr, self.a_addr
        self.a_port, self.b_port = self.b_port, self.a_port
        self.packets_fwd, self.packets_rev = self.packets_rev, self.packets_fwd
        self.bytes_fwd, self.bytes_rev = self.bytes_rev, self.bytes_fwd
        self.syn_seq_a, self.syn_seq_b = self.syn_seq_b, self.syn_seq_a

    @property
    def packets(self) -> int:
        """Return the packet count in both directions."""
        return self.packets_fwd + self.packets_rev

    @property
    def bytes(self) -> int:
        """Return the byte count in both directions."""
        return self.bytes_fwd + self.bytes_rev


def _ports(p: Packet) -> tuple[int, int | None, int | None, bool]:
    t = p.transport
    proto = p.protocol or 0
    if isinstance(t, (TCPHeader, UDPHeader)):
        return proto, t.src_port, t.dst_port, False
    if isinstance(t, ICMPMessage) and t.is_echo:
        return proto, t.identifier, t.identifier, True
    return proto, None, None, False


class ConversationTable:
    """Streaming conversation table; feed packets with ``add`` and read ``flows()`` at the end."""

    def __init__(self) -> None:
        self._live: dict[tuple[Any, ...], Flow] = {}
        self._done: list[Flow] = []
        self._frag: dict[tuple[bytes, bytes, int, int], Flow] = {}
        self._orphans: dict[tuple[bytes, bytes, int, int], list[tuple[int, int, int]]] = {}
        self._next_id = 0
        self.non_ip = 0
        """Packets with no IP layer (counted, not in any flow)."""

    def __len__(self) -> int:
        return len(self._done) + len({id(f) for f in self._live.values()})

    def _new(self, proto: int, src: bytes, sport: int | None, dst: bytes, dport: int | None, n: int,
             ts_ns: int, echo: bool) -> Flow:
        flow = Flow(self._next_id, proto, src, sport, dst, dport, ts_ns, ts_ns, n, echo=echo)
        self._next_id += 1
        self._live[(proto, src, sport, dst, dport)] = flow
        self._live[(proto, dst, dport, src, sport)] = flow
        return flow

    def _retire(self, flow: Flow) -> None:
        self._live.pop((flow.proto, flow.a_addr, flow.a_port, flow.b_addr, flow.b_port), None)
        self._live.pop((flow.proto, flow.b_addr, flow.b_port, flow.a_addr, flow.a_port), None)
        self._done.append(flow)

    def lookup(self, proto: int, src: bytes, sport: int | None, dst: bytes, dport: int | None) -> Flow | None:
        """Return the live flow of a 5-tuple in either orientation, or None."""
        return self._live.get((proto, src, sport, dst, dport))

    def add(self, p: Packet, n: int, ts_ns: int, wirelen: int) -> tuple[Flow, bool] | None:
        """Count packet number ``n``; return its flow and whether it goes a -> b (None without IP)."""
        net = p.network
        if net is None:
            self.non_ip += 1
            return None
        fkey = None
        first = True
        if p.is_fragment:
            if isinstance(net, IPv4Header):
                fkey = (net.src, net.dst, net.identification, net.protocol)
                first = net.fragment_offset == 0
            else:
                fh = net.fragment
                assert fh is not None
                fkey = (net.src, net.dst, fh.identification, net.upper_protocol)
                first = fh.fragment_offset == 0
        proto, sport, dport, echo = _ports(p)
        if not first:
            sport = dport = None
        tcp = p.transport if isinstance(p.transport, TCPHeader) else None
        syn_seq = tcp.seq if tcp is not None and tcp.flags & 0x12 == 0x02 else None
        return self.add_fields(proto, net.src, sport, net.dst, dport, echo, syn_seq, fkey, first, n, ts_ns, wirelen)

    def add_fields(self, proto: int, src: bytes, sport: int | None, dst: bytes, dport: int | None, echo: bool,
                   syn_seq: int | None, fkey: tuple[bytes, bytes, int, int] | None, first: bool, n: int,
                   ts_ns: int, wirelen: int) -> tuple[Flow, bool] | None:
        """Count one packet given as fields (the fast path of ``add``); same result as ``add``."""
        if fkey is not None and not first:
            flow = self._frag.get(fkey)
            if flow is None:
                self._orphans.setdefault(fkey, []).append((n, ts_ns, wirelen))
                return None
            fwd = src == flow.a_addr
            self._count(flow, fwd, n, ts_ns, wirelen)
            return flow, fwd
        flow = self._live.get((proto, src, sport, dst, dport))
        if flow is not None and syn_seq is not None:
            fwd = src == flow.a_addr and sport == flow.a_port
            known = flow.syn_seq_a if fwd else flow.syn_seq_b
            if known is not None and known != syn_seq:
                self._retire(flow)  # reused ports: a new connection on the same 5-tuple
                flow = None
        if flow is None:
            flow = self._new(proto, src, sport, dst, dport, n, ts_ns, echo)
            fwd = True
        else:
            fwd = src == flow.a_addr and sport == flow.a_port
        if syn_seq is not None:
            if fwd:
                if flow.syn_seq_a is None:
                    flow.syn_seq_a = syn_seq
            elif flow.syn_seq_b is None:
                if flow.syn_seq_a is None:
                    flow.swap()  # the first bare SYN names the originator
                    fwd = True
                    flow.syn_seq_a = syn_seq
                else:
                    flow.syn_seq_b = syn_seq  # simultaneous open
        self._count(flow, fwd, n, ts_ns, wirelen)
        if fkey is not None:
            self._frag[fkey] = flow
            for on, ots, owl in self._orphans.pop(fkey, ()):
                self._count(flow, src == flow.a_addr, on, ots, owl)
        return flow, fwd

    @staticmethod
    def _count(flow: Flow, fwd: bool, n: int, ts_ns: int, wirelen: int) -> None:
        if fwd:
            flow.packets_fwd += 1
            flow.bytes_fwd += wirelen
        else:
            flow.packets_rev += 1
            flow.bytes_rev += wirelen
        if ts_ns < flow.first_ts_ns:
            flow.first_ts_ns = ts_ns
        if ts_ns > flow.last_ts_ns:
            flow.last_ts_ns = ts_ns
        if n > flow.last_n:
            flow.last_n = n

    def finish(self) -> None:
        """Attribute fragments whose first fragment never came to an address-pair flow."""
        for (src, dst, _ident, proto), items in self._orphans.items():
            flow = self._live.get((proto, src, None, dst, None))
            for n, ts, wl in items:
                if flow is None:
                    flow = self._new(proto, src, None, dst, None, n, ts, False)
                self._count(flow, src == flow.a_addr, n, ts, wl)
        self._orphans.clear()
        self.renumber()

    def expire(self, now_ns: int, idle_ns: int) -> list[Flow]:
        """Retire and return flows idle for longer than ``idle_ns`` at ``now_ns``."""
        old = {id(f): f for f in self._live.values() if now_ns - f.last_ts_ns > idle_ns}
        for f in old.values():
            self._retire(f)
        if old:
            self._frag = {k: f for k, f in self._frag.items() if id(f) not in old}
        return list(old.values())

    def renumber(self) -> None:
        """Give every flow its id in order of first packet (after batch counting created them out of order)."""
        for i, f in enumerate(sorted(self.flows(), key=lambda f: (f.first_n, f.id))):
            f.id = i

    def flows(self) -> list[Flow]:
        """Return every flow (retired and live) in order of first packet."""
        live = {id(f): f for f in self._live.values()}
        return sorted([*self._done, *live.values()], key=lambda f: f.id)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows())


_ADDR_TEXT: dict[bytes, str] = {}


def _addr_text(a: bytes) -> str:
    """Return the text form of a packed address (memoised: captures repeat few addresses)."""
    text = _ADDR_TEXT.get(a)
    if text is None:
        import ipaddress

        text = str(ipaddress.ip_address(a))
        if len(_ADDR_TEXT) < 65536:
            _ADDR_TEXT[a] = text
    return text


def flow_record(f: Flow) -> dict[str, Any]:
    """Return the JSON-ready dict of a flow (keys of the `rawnet pcap flows --json` contract)."""
    rec: dict[str, Any] = {
        "proto": PROTO_NAMES.get(f.proto, f.proto),
        "src": _addr_text(f.a_addr),
        "sport": None if f.echo else f.a_port,
        "dst": _addr_text(f.b_addr),
        "dport": None if f.echo else f.b_port,
        "packets_fwd": f.packets_fwd,
        "bytes_fwd": f.bytes_fwd,
        "packets_rev": f.packets_rev,
        "bytes_rev": f.bytes_rev,
        "first_ts_ns": f.first_ts_ns,
        "last_ts_ns": f.last_ts_ns,
    }
    if f.echo:
        rec["icmp_id"] = f.a_port
    return rec
