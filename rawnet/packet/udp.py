"""UDP (RFC 768)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import BuildError, TruncatedPacketError
from ._wire import fast_constructor
from .checksum import transport_checksum

__all__ = ["UDPHeader", "parse_udp", "build_udp"]

_HDR = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True)
class UDPHeader:
    """A UDP header. ``None`` in ``length`` or ``checksum`` means "compute when built"."""

    src_port: int
    """Source port."""
    dst_port: int
    """Destination port."""
    length: int | None = None
    """Length of header and data in bytes."""
    checksum: int | None = None
    """Checksum (0 over IPv4 means "not computed")."""

    header_length = 8


_new_udp = fast_constructor(UDPHeader)


def parse_udp(data: bytes | memoryview, offset: int = 0, end: int | None = None) -> UDPHeader:
    """Return the UDP header at ``offset`` (the datagram ending at ``end``); raise TruncatedPacketError when cut short."""
    if end is None or end > len(data):
        end = len(data)
    if end - offset < 8:
        raise TruncatedPacketError("UDP", offset, 8, max(end - offset, 0))
    sport, dport, length, csum = _HDR.unpack_from(data, offset)
    return _new_udp(sport, dport, length, csum)


def build_udp(h: UDPHeader, payload: bytes = b"", *, src: bytes | None = None, dst: bytes | None = None,
              checksum: str | None = None) -> bytes:
    """Return the UDP datagram bytes; fills length and the checksum (which needs ``src``/``dst``)."""
    length = h.length if h.length is not None else 8 + len(payload)
    for name, value in (("src_port", h.src_port), ("dst_port", h.dst_port), ("length", length)):
        if not 0 <= value <= 0xFFFF:
            raise BuildError(f"UDP: {name} {value} does not fit in 16 bits")
    seg = bytearray(_HDR.pack(h.src_port, h.dst_port, length, 0)) + payload
    if h.checksum is not None and checksum != "recompute":
        csum = h.checksum
    else:
        if src is None or dst is None:
            raise BuildError("UDP: the checksum needs the IP source and destination (pass src= and dst=)")
        csum = transport_checksum(src, dst, 17, seg) or 0xFFFF  # RFC 768: a computed 0 is sent as all ones
    struct.pack_into("!H", seg, 6, csum)
    return bytes(seg)
