"""JSON-ready records of packets: the field names of the ``rawnet pcap packets --json`` contract."""

from __future__ import annotations

from typing import Any

from ..packet.icmp import ICMPMessage
from ..packet.ipv4 import IPv4Header
from ..packet.stack import PROTO_NAMES, Packet, QuotedTCP
from ..packet.tcp import TCPHeader, flag_names
from ..packet.udp import UDPHeader

__all__ = ["packet_record"]


def packet_record(p: Packet, *, n: int | None = None, ts_ns: int | None = None, wirelen: int | None = None,
                  caplen: int | None = None) -> dict[str, Any]:
    """Return the JSON-ready dict of one packet (keys of the `rawnet pcap packets --json` contract)."""
    net = p.network
    t = p.transport
    tcp = t if isinstance(t, TCPHeader) else None
    proto_num = p.protocol
    rec: dict[str, Any] = {
        "n": n,
        "ts_ns": ts_ns,
        "wirelen": wirelen,
        "caplen": caplen,
        "ip_version": p.ip_version,
        "src": p.src,
        "dst": p.dst,
        "ttl": (net.ttl if isinstance(net, IPv4Header) else net.hop_limit) if net is not None else None,
        "ip_id": net.identification if isinstance(net, IPv4Header) else None,
        "proto": PROTO_NAMES.get(proto_num, proto_num) if proto_num is not None else None,
        "sport": t.src_port if isinstance(t, (TCPHeader, UDPHeader, QuotedTCP)) else None,
        "dport": t.dst_port if isinstance(t, (TCPHeader, UDPHeader, QuotedTCP)) else None,
        "tcp_flags": flag_names(tcp.flags) if tcp is not None else None,
        "seq": tcp.seq if tcp is not None else None,
        "ack": tcp.ack if tcp is not None else None,
        "window": tcp.window if tcp is not None else None,
        "payload_len": p.payload_len,
        "checksum_ok": p.checksum_ok,
        "error": str(p.error) if p.error is not None else None,
    }
    if isinstance(t, ICMPMessage):
        rec["icmp_type"] = t.type
        rec["icmp_code"] = t.code
    return rec
