"""Link layers: Ethernet II with 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, BSD null/loopback, raw IP.

Each parser returns ``(header, next_offset, ethertype)``, where ``ethertype`` names the network layer
that follows (0x0800 IPv4, 0x86DD IPv6, or anything else, which is left undecoded).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ..errors import BuildError, MalformedPacketError
from ._wire import fast_constructor, need

__all__ = [
    "LinkType", "EthernetHeader", "VLANTag", "SLLHeader", "SLL2Header", "NullHeader",
    "parse_ethernet", "build_ethernet", "parse_sll", "build_sll", "parse_sll2", "build_sll2",
    "parse_null", "build_null", "ETHERTYPE_IPV4", "ETHERTYPE_IPV6", "VLAN_TPIDS",
]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
# BSD address families seen in DLT_NULL/DLT_LOOP headers
_AF_INET = 2
_AF_INET6 = frozenset((10, 24, 28, 30))


class LinkType(IntEnum):
    """pcap link-layer header types (https://www.tcpdump.org/linktypes.html) the codec decodes."""

    NULL = 0
    ETHERNET = 1
    RAW_LEGACY = 12
    RAW_OPENBSD = 14
    RAW = 101
    LOOP = 108
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276

    @classmethod
    def from_wire(cls, value: int) -> LinkType | None:
        """Return the member for ``value``, or None when the codec does not know it."""
        try:
            return cls(value)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class VLANTag:
    """One 802.1Q / 802.1ad tag."""

    tpid: int
    """Tag protocol identifier: 0x8100 (802.1Q), 0x88A8 (802.1ad S-tag) or 0x9100."""
    pcp: int
    """Priority code point (3 bits)."""
    dei: int
    """Drop eligible indicator (1 bit)."""
    vid: int
    """VLAN identifier (12 bits)."""


@dataclass(frozen=True, slots=True)
class EthernetHeader:
    """Ethernet II header, with any 802.1Q/QinQ tags in wire order."""

    dst: bytes
    """Destination MAC address (6 bytes)."""
    src: bytes
    """Source MAC address (6 bytes)."""
    ethertype: int
    """EtherType of the payload after the last tag (a value < 0x0600 is an 802.3 length)."""
    vlans: tuple[VLANTag, ...] = ()
    """802.1Q/802.1ad tags, outermost first."""

    @property
    def header_length(self) -> int:
        """Return the header length in bytes (14 plus 4 per tag)."""
        return 14 + 4 * len(self.vlans)


def parse_ethernet(data: bytes | memoryview, offset: int = 0) -> tuple[EthernetHeader, int, int]:
    """Return the Ethernet header at ``offset``, the payload offset and the payload's EtherType."""
    if len(data) - offset < 14:
        need(data, offset, 14, "Ethernet")
    dst, src, etype = _ETH.unpack_from(data, offset)
    pos = offset + 14
    if etype not in VLAN_TPIDS:
        return _new_ethernet(dst, src, etype, ()), pos, etype
    tags: list[VLANTag] = []
    while etype in VLAN_TPIDS:
        need(data, pos, 4, "802.1Q", "tag")
        tci, inner = struct.unpack_from("!HH", data, pos)
        tags.append(VLANTag(etype, tci >> 13, (tci >> 12) & 1, tci & 0xFFF))
        etype = inner
        pos += 4
        if len(tags) > 8:
            raise MalformedPacketError("802.1Q", pos, "more than 8 stacked VLAN tags")
    return EthernetHeader(dst, src, etype, tuple(tags)), pos, etype


def build_ethernet(h: EthernetHeader) -> bytes:
    """Return the wire bytes of an Ethernet header with its tags."""
    if len(h.dst) != 6 or len(h.src) != 6:
        raise BuildError("Ethernet: MAC addresses must be 6 bytes")
    out = bytearray(h.dst + h.src)
    for tag in h.vlans:
        if not (0 <= tag.vid < 4096 and 0 <= tag.pcp < 8 and tag.dei in (0, 1)):
            raise BuildError(f"802.1Q: tag {tag} out of range (vid 0-4095, pcp 0-7, dei 0-1)")
        out += struct.pack("!HH", tag.tpid, (tag.pcp << 13) | (tag.dei << 12) | tag.vid)
    out += struct.pack("!H", h.ethertype)
    return bytes(out)


_ETH = struct.Struct("!6s6sH")
_new_ethernet = fast_constructor(EthernetHeader)


@dataclass(frozen=True, slots=True)
class SLLHeader:
    """Linux cooked capture v1 header (LINKTYPE_LINUX_SLL, 16 bytes)."""

    packet_type: int
    """0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us."""
    arphrd_type: int
    """ARPHRD_ type of the interface (1 Ethernet, 772 loopback, ...)."""
    address_length: int
    """Number of valid bytes in ``address``."""
    address: bytes
    """Link-layer source address, 8 bytes (padded)."""
    protocol: int
    """Protocol type (an EtherType for IP)."""


def parse_sll(data: bytes | memoryview, offset: int = 0) -> tuple[SLLHeader, int, int]:
    """Return the SLL header at ``offset``, the payload offset and the protocol."""
    need(data, offset, 16, "SLL")
    ptype, arphrd, alen = struct.unpack_from("!HHH", data, offset)
    addr = bytes(data[offset + 6:offset + 14])
    (proto,) = struct.unpack_from("!H", data, offset + 14)
    return SLLHeader(ptype, arphrd, alen, addr, proto), offset + 16, proto


def build_sll(h: SLLHeader) -> bytes:
    """Return the wire bytes of an SLL header."""
    return struct.pack("!HHH8sH", h.packet_type, h.arphrd_type, h.address_length, h.address, h.protocol)


@dataclass(frozen=True, slots=True)
class SLL2Header:
    """Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2, 20 bytes)."""

    protocol: int
    """Protocol type (an EtherType for IP)."""
    reserved: int
    """Reserved (MBZ)."""
    interface_index: int
    """Interface index the packet was seen on."""
    arphrd_type: int
    """ARPHRD_ type of the interface."""
    packet_type: int
    """0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us."""
    address_length: int
    """Number of valid bytes in ``address``."""
    address: bytes
    """Link-layer source address, 8 bytes (padded)."""


def parse_sll2(data: bytes | memoryview, offset: int = 0) -> tuple[SLL2Header, int, int]:
    """Return the SLL2 header at ``offset``, the payload offset and the protocol."""
    need(data, offset, 20, "SLL2")
    proto, res, ifindex, arphrd, ptype, alen = struct.unpack_from("!HHIHBB", data, offset)
    addr = bytes(data[offset + 12:offset + 20])
    return SLL2Header(proto, res, ifindex, arphrd, ptype, alen, addr), offset + 20, proto


def build_sll2(h: SLL2Header) -> bytes:
    """Return the wire bytes of an SLL2 header."""
    return struct.pack("!HHIHBB8s", h.protocol, h.reserved, h.interface_index, h.arphrd_type,
                       h.packet_type, h.address_length, h.address)


@dataclass(frozen=True, slots=True)
class NullHeader:
    """BSD loopback header: a 4-byte address family (DLT_NULL host order, DLT_LOOP network order)."""

    family: int
    """Address family (2 IPv4; 10, 24, 28 or 30 IPv6 depending on the OS)."""
    byte_order: str = "little"
    """"little" or "big": how the family was written."""


def parse_null(data: bytes | memoryview, offset: int = 0, *, loop: bool = False) -> tuple[NullHeader, int, int]:
    """Return the null/loopback header, the payload offset and the implied EtherType (0 if unknown)."""
    need(data, offset, 4, "Null")
    raw = bytes(data[offset:offset + 4])
    if loop:
        order = "big"
    else:
        # DLT_NULL is written in the capturing host's byte order and families are < 256
        order = "big" if raw[0] == 0 and raw[3] != 0 else "little"
    family = int.from_bytes(raw, order)  # type: ignore[arg-type]
    if family == _AF_INET:
        etype = ETHERTYPE_IPV4
    elif family in _AF_INET6:
        etype = ETHERTYPE_IPV6
    else:
        etype = 0
    return NullHeader(family, order), offset + 4, etype


def build_null(h: NullHeader) -> bytes:
    """Return the wire bytes of a null/loopback header."""
    return h.family.to_bytes(4, h.byte_order)  # type: ignore[arg-type]
