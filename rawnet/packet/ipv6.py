"""IPv6 (RFC 8200): fixed header and the extension header chain (hop-by-hop, routing, fragment,
destination options), with the Jumbo Payload option (RFC 2675) understood when payload length is 0."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from ..errors import BuildError, MalformedPacketError
from ._wire import need

__all__ = ["IPv6Header", "IPv6Extension", "parse_ipv6", "build_ipv6", "EXTENSION_HEADERS"]

HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, AH = 0, 43, 44, 60, 51
EXTENSION_HEADERS = frozenset((HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, AH, 135, 139, 140))
_HDR = struct.Struct("!IHBB16s16s")


@dataclass(frozen=True, slots=True)
class IPv6Extension:
    """One extension header, kept byte for byte (``data`` is the whole header including its first two bytes)."""

    kind: int
    """This header's protocol number (0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH)."""
    next_header: int
    """Next header after this one."""
    data: bytes
    """The complete extension header bytes."""

    @property
    def fragment_offset(self) -> int:
        """Return the fragment offset in 8-byte units (fragment header only, else 0)."""
        return struct.unpack_from("!H", self.data, 2)[0] >> 3 if self.kind == FRAGMENT else 0

    @property
    def more_fragments(self) -> bool:
        """Return the M flag (fragment header only)."""
        return bool(self.data[3] & 1) if self.kind == FRAGMENT else False

    @property
    def identification(self) -> int:
        """Return the fragment identification (fragment header only, else 0)."""
        return struct.unpack_from("!I", self.data, 4)[0] if self.kind == FRAGMENT else 0

    @property
    def jumbo_length(self) -> int | None:
        """Return the Jumbo Payload length (hop-by-hop with option 0xC2), else None."""
        if self.kind != HOP_BY_HOP:
            return None
        pos = 2
        while pos + 2 <= len(self.data):
            otype = self.data[pos]
            if otype == 0:
                pos += 1
                continue
            olen = self.data[pos + 1]
            if otype == 0xC2 and olen == 4 and pos + 6 <= len(self.data):
                return int(struct.unpack_from("!I", self.data, pos + 2)[0])
            pos += 2 + olen
        return None


@dataclass(frozen=True, slots=True)
class IPv6Header:
    """An IPv6 header with its extension chain. ``payload_length=None`` means compute when built."""

    src: bytes
    """Source address, 16 bytes."""
    dst: bytes
    """Destination address, 16 bytes."""
    next_header: int
    """Next header of the fixed header (the first extension, or the upper layer)."""
    hop_limit: int = 64
    """Hop limit."""
    traffic_class: int = 0
    """Traffic class (8 bits)."""
    flow_label: int = 0
    """Flow label (20 bits)."""
    extensions: tuple[IPv6Extension, ...] = ()
    """Extension headers in wire order."""
    payload_length: int | None = None
    """Payload length field (0 with a Jumbo Payload option)."""
    version: int = 6
    """Version field (6)."""

    @property
    def header_length(self) -> int:
        """Return the length of the fixed header plus extensions in bytes."""
        return 40 + sum(len(e.data) for e in self.extensions)

    @property
    def upper_protocol(self) -> int:
        """Return the protocol after the last extension header."""
        return self.extensions[-1].next_header if self.extensions else self.next_header

    @property
    def fragment(self) -> IPv6Extension | None:
        """Return the fragment extension header, if any."""
        for e in self.extensions:
            if e.kind == FRAGMENT:
                return e
        return None

    @property
    def is_fragment(self) -> bool:
        """Return True when a fragment header says this is a fragment."""
        f = self.fragment
        return f is not None and (f.more_fragments or f.fragment_offset != 0)

    @property
    def jumbo_length(self) -> int | None:
        """Return the Jumbo Payload length when payload_length is 0 and the option is present."""
        if self.payload_length == 0 and self.extensions:
            return self.extensions[0].jumbo_length
        return None

    @property
    def final_dst(self) -> bytes:
        """Return the destination a transport checksum's pseudo-header uses (RFC 8200 §8.1).

        While a Routing header has segments left, that is its final address (the last of a type 0/2
        header, Segment List[0] of a segment routing header, RFC 8754); otherwise ``dst``.
        """
        for e in self.extensions:
            if e.kind == ROUTING and len(e.data) >= 24 and e.data[3] > 0:
                rtype = e.data[2]
                if rtype == 4:
                    return e.data[8:24]
                if rtype in (0, 2):
                    last = 8 + 16 * ((len(e.data) - 8) // 16)
                    return e.data[last - 16:last]
        return self.dst

    @property
    def src_ip(self) -> ipaddress.IPv6Address:
        """Return the source as an ipaddress object."""
        return ipaddress.IPv6Address(self.src)

    @property
    def dst_ip(self) -> ipaddress.IPv6Address:
        """Return the destination as an ipaddress object."""
        return ipaddress.IPv6Address(self.dst)


def parse_ipv6(data: bytes | memoryview, offset: int = 0) -> IPv6Header:
    """Return the IPv6 header at ``offset`` with its extension chain.

    Raises:
        TruncatedPacketError: the header or an extension header is cut short.
        MalformedPacketError: version is not 6, or a chain longer than 16 headers.
    """
    need(data, offset, 40, "IPv6")
    vtf, plen, nxt, hlim, src, dst = _HDR.unpack_from(data, offset)
    version = vtf >> 28
    if version != 6:
        raise MalformedPacketError("IPv6", offset, f"version is {version} (expected 6)")
    exts: list[IPv6Extension] = []
    pos = offset + 40
    cur = nxt
    while cur in EXTENSION_HEADERS and cur not in (135, 139, 140):
        if cur == FRAGMENT:
            need(data, pos, 8, "IPv6", "fragment header")
            elen = 8
        elif cur == AH:
            need(data, pos, 2, "IPv6", "AH header")
            elen = (data[pos + 1] + 2) * 4
        else:
            need(data, pos, 2, "IPv6", "extension header")
            elen = (data[pos + 1] + 1) * 8
        need(data, pos, elen, "IPv6", "extension header")
        nh = data[pos]
        exts.append(IPv6Extension(cur, nh, bytes(data[pos:pos + elen])))
        pos += elen
        if len(exts) > 16:
            raise MalformedPacketError("IPv6", pos, "more than 16 extension headers")
        if cur == FRAGMENT and exts[-1].fragment_offset != 0:
            break  # later fragments carry no upper-layer header
        cur = nh
    return IPv6Header(src, dst, nxt, hlim, (vtf >> 20) & 0xFF, vtf & 0xFFFFF, tuple(exts), plen, version)


def build_ipv6(h: IPv6Header, payload: bytes = b"") -> bytes:
    """Return the IPv6 header, its extensions and ``payload``; payload_length computed when None."""
    if len(h.src) != 16 or len(h.dst) != 16:
        raise BuildError("IPv6: addresses must be 16 bytes")
    ext = b"".join(e.data for e in h.extensions)
    plen = h.payload_length if h.payload_length is not None else len(ext) + len(payload)
    if plen > 0xFFFF:
        raise BuildError(f"IPv6: payload length {plen} exceeds 65535 (use a Jumbo Payload option and length 0)")
    for name, value, bits in (("hop_limit", h.hop_limit, 8), ("traffic_class", h.traffic_class, 8),
                              ("flow_label", h.flow_label, 20), ("next_header", h.next_header, 8)):
        if not 0 <= value < (1 << bits):
            raise BuildError(f"IPv6: {name} {value} does not fit in {bits} bits")
    vtf = (h.version << 28) | (h.traffic_class << 20) | h.flow_label
    return _HDR.pack(vtf, plen, h.next_header, h.hop_limit, h.src, h.dst) + ext + payload
