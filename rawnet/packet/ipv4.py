"""IPv4 (RFC 791): header with options kept byte for byte, fragment fields, DF/MF, header checksum."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from ..errors import BuildError, MalformedPacketError
from ._wire import fast_constructor, need
from .checksum import internet_checksum

__all__ = ["IPv4Header", "parse_ipv4", "build_ipv4", "IPV4_DF", "IPV4_MF", "IPV4_RESERVED"]

IPV4_RESERVED = 0x4
IPV4_DF = 0x2
IPV4_MF = 0x1
_HDR = struct.Struct("!BBHHHBBH4s4s")


@dataclass(frozen=True, slots=True)
class IPv4Header:
    """An IPv4 header. ``None`` in ``ihl``, ``total_length`` or ``checksum`` means "compute when built"."""

    src: bytes
    """Source address, 4 bytes."""
    dst: bytes
    """Destination address, 4 bytes."""
    protocol: int
    """Protocol of the payload (6 TCP, 17 UDP, 1 ICMP, ...)."""
    ttl: int = 64
    """Time to live."""
    identification: int = 0
    """Identification, for fragment reassembly."""
    flags: int = 0
    """3-bit flags: 0x4 reserved (evil bit), 0x2 DF, 0x1 MF."""
    fragment_offset: int = 0
    """Fragment offset in units of 8 bytes."""
    dscp: int = 0
    """Differentiated services code point (6 bits)."""
    ecn: int = 0
    """ECN field (2 bits)."""
    options: bytes = b""
    """Options and padding, kept byte for byte (length a multiple of 4)."""
    version: int = 4
    """Version field (4)."""
    ihl: int | None = None
    """Header length in 32-bit words."""
    total_length: int | None = None
    """Total length of header and payload in bytes."""
    checksum: int | None = None
    """Header checksum."""

    @property
    def header_length(self) -> int:
        """Return the header length in bytes."""
        return (self.ihl if self.ihl is not None else 5 + len(self.options) // 4) * 4

    @property
    def is_fragment(self) -> bool:
        """Return True when this is a fragment (MF set or a non-zero offset)."""
        return bool(self.flags & IPV4_MF) or self.fragment_offset != 0

    @property
    def df(self) -> bool:
        """Return True when Don't Fragment is set."""
        return bool(self.flags & IPV4_DF)

    @property
    def mf(self) -> bool:
        """Return True when More Fragments is set."""
        return bool(self.flags & IPV4_MF)

    @property
    def src_ip(self) -> ipaddress.IPv4Address:
        """Return the source as an ipaddress object."""
        return ipaddress.IPv4Address(self.src)

    @property
    def dst_ip(self) -> ipaddress.IPv4Address:
        """Return the destination as an ipaddress object."""
        return ipaddress.IPv4Address(self.dst)


_new_ipv4 = fast_constructor(IPv4Header)


def parse_ipv4(data: bytes | memoryview, offset: int = 0) -> IPv4Header:
    """Return the IPv4 header at ``offset`` (options included).

    Raises:
        TruncatedPacketError: fewer bytes than the header needs.
        MalformedPacketError: version is not 4 or IHL is below 5.
    """
    if len(data) - offset < 20:
        need(data, offset, 20, "IPv4")
    vihl, tos, total, ident, frag, ttl, proto, csum, src, dst = _HDR.unpack_from(data, offset)
    if vihl == 0x45:  # the common case: no options
        return _new_ipv4(src, dst, proto, ttl, ident, frag >> 13, frag & 0x1FFF, tos >> 2, tos & 3, b"", 4, 5,
                         total, csum)
    version, ihl = vihl >> 4, vihl & 0xF
    if version != 4:
        raise MalformedPacketError("IPv4", offset, f"version is {version} (expected 4)")
    if ihl < 5:
        raise MalformedPacketError("IPv4", offset, f"header length is {ihl} words (minimum 5)")
    hlen = ihl * 4
    need(data, offset, hlen, "IPv4", "header with options")
    options = bytes(data[offset + 20:offset + hlen])
    return _new_ipv4(src, dst, proto, ttl, ident, frag >> 13, frag & 0x1FFF, tos >> 2, tos & 3, options, version,
                     ihl, total, csum)


def header_checksum_ok(data: bytes | memoryview, offset: int, ihl: int) -> bool:
    """Return True when the IPv4 header checksum at ``offset`` verifies."""
    return internet_checksum(bytes(data[offset:offset + ihl * 4])) == 0


def build_ipv4(h: IPv4Header, payload: bytes = b"") -> bytes:
    """Return the IPv4 header bytes followed by ``payload``, filling ihl, total_length and checksum if None."""
    if len(h.src) != 4 or len(h.dst) != 4:
        raise BuildError("IPv4: addresses must be 4 bytes")
    if len(h.options) % 4:
        raise BuildError(f"IPv4: options are {len(h.options)} bytes (must be a multiple of 4; pad with NOP/EOL)")
    ihl = h.ihl if h.ihl is not None else 5 + len(h.options) // 4
    if not 5 <= ihl <= 15 or len(h.options) > 40:
        raise BuildError(f"IPv4: header length {ihl} words out of range (5-15)")
    total = h.total_length if h.total_length is not None else ihl * 4 + len(payload)
    for name, value, bits in (("ttl", h.ttl, 8), ("identification", h.identification, 16), ("flags", h.flags, 3),
                              ("fragment_offset", h.fragment_offset, 13), ("dscp", h.dscp, 6), ("ecn", h.ecn, 2),
                              ("protocol", h.protocol, 8), ("total_length", total, 16), ("version", h.version, 4)):
        if not 0 <= value < (1 << bits):
            raise BuildError(f"IPv4: {name} {value} does not fit in {bits} bits")
    hdr = bytearray(_HDR.pack((h.version << 4) | ihl, (h.dscp << 2) | h.ecn, total, h.identification,
                              (h.flags << 13) | h.fragment_offset, h.ttl, h.protocol, 0, h.src, h.dst))
    hdr += h.options
    csum = h.checksum if h.checksum is not None else internet_checksum(hdr)
    struct.pack_into("!H", hdr, 10, csum)
    return bytes(hdr) + payload
