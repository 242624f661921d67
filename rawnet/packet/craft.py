"""Crafting whole IP packets from hping3/nping-style parameters (pure: returns bytes and Packets)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from ..errors import BuildError
from .icmp import ICMPMessage, echo
from .ipv4 import IPV4_DF, IPv4Header
from .ipv6 import IPv6Header
from .stack import Packet, encode
from .tcp import (MSSOption, NOPOption, SACKPermittedOption, TCPHeader, TCPOption, TimestampsOption,
                  WindowScaleOption, parse_flags)
from .udp import UDPHeader

__all__ = ["CraftSpec", "craft", "ip_bytes"]


def ip_bytes(text: str) -> bytes:
    """Return the packed form of an IPv4 or IPv6 address; raise BuildError when it is not one."""
    try:
        return ipaddress.ip_address(text).packed
    except ValueError as err:
        raise BuildError(f"{text!r} is not an IPv4 or IPv6 address") from err


@dataclass(frozen=True, slots=True)
class CraftSpec:
    """What to craft: one TCP, UDP or ICMP(v6) packet over IPv4 or IPv6 (chosen by the addresses)."""

    proto: str
    """"tcp", "udp" or "icmp" (ICMPv6 when the addresses are IPv6)."""
    src: str
    """Source address."""
    dst: str
    """Destination address."""
    sport: int = 0
    """Source port (TCP/UDP)."""
    dport: int = 0
    """Destination port (TCP/UDP)."""
    flags: str = "S"
    """TCP flags, hping3 letters (FSRPAUECN) or names."""
    seq: int = 0
    """TCP sequence number."""
    ack: int = 0
    """TCP acknowledgment number."""
    window: int = 65535
    """TCP window."""
    ttl: int = 64
    """IPv4 TTL or IPv6 hop limit."""
    ip_id: int = 0
    """IPv4 identification."""
    df: bool = False
    """Set IPv4 Don't Fragment."""
    mss: int | None = None
    """TCP MSS option."""
    wscale: int | None = None
    """TCP window scale option."""
    sackok: bool = False
    """TCP SACK-permitted option."""
    timestamps: tuple[int, int] | None = None
    """TCP timestamps option (tsval, tsecr)."""
    icmp_type: int | None = None
    """ICMP type (default echo request)."""
    icmp_code: int = 0
    """ICMP code."""
    icmp_id: int = 0
    """ICMP echo identifier."""
    icmp_seq: int = 0
    """ICMP echo sequence."""
    payload: bytes = b""
    """Transport payload."""
    bad_checksum: bool = False
    """Write a deliberately wrong transport checksum."""


def _options(spec: CraftSpec) -> tuple[TCPOption, ...]:
    opts: list[TCPOption] = []
    if spec.mss is not None:
        opts.append(MSSOption(spec.mss))
    if spec.sackok:
        opts.append(SACKPermittedOption())
    if spec.timestamps is not None:
        if not spec.sackok:
            opts += [NOPOption(), NOPOption()]
        opts.append(TimestampsOption(*spec.timestamps))
    if spec.wscale is not None:
        if spec.wscale > 14:
            raise BuildError(f"TCP option WindowScale: shift {spec.wscale} exceeds the maximum of 14 (RFC 7323 §2.3)")
        opts += [NOPOption(), WindowScaleOption(spec.wscale)]
    return tuple(opts)


def craft(spec: CraftSpec) -> Packet:
    """Return the Packet (raw IP, no link layer) described by ``spec``, all lengths and checksums computed."""
    src, dst = ip_bytes(spec.src), ip_bytes(spec.dst)
    if len(src) != len(dst):
        raise BuildError(f"source {spec.src} and destination {spec.dst} are of different IP versions")
    v6 = len(src) == 16
    proto = spec.proto.lower()
    transport: TCPHeader | UDPHeader | ICMPMessage
    if proto == "tcp":
        transport = TCPHeader(spec.sport, spec.dport, spec.seq, spec.ack, parse_flags(spec.flags), spec.window,
                              options=_options(spec))
        pnum = 6
    elif proto == "udp":
        transport = UDPHeader(spec.sport, spec.dport)
        pnum = 17
    elif proto in ("icmp", "icmpv6", "icmp6"):
        if spec.icmp_type is None:
            transport = echo(spec.icmp_id, spec.icmp_seq, spec.payload, version=6 if v6 else 4)
        else:
            transport = ICMPMessage(spec.icmp_type, spec.icmp_code, b"\x00\x00\x00\x00", spec.payload,
                                    6 if v6 else 4)
        pnum = 58 if v6 else 1
    else:
        raise BuildError(f"unknown protocol {spec.proto!r} (tcp, udp or icmp)")
    network: IPv4Header | IPv6Header
    if v6:
        network = IPv6Header(src, dst, pnum, spec.ttl)
    else:
        network = IPv4Header(src, dst, pnum, spec.ttl, spec.ip_id, IPV4_DF if spec.df else 0)
    payload = b"" if isinstance(transport, ICMPMessage) else spec.payload
    pkt = Packet(None, network, transport, payload, linktype=229 if v6 else 228)
    if spec.bad_checksum:
        good = encode(pkt)
        hl = network.header_length
        off = {6: 16, 17: 6}.get(pnum, 2)
        csum = int.from_bytes(good[hl + off:hl + off + 2], "big")
        pkt = replace(pkt, transport=replace(transport, checksum=csum ^ 0xFFFF or 0x1234))
    return pkt
