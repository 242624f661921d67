"""ICMP (RFC 792, RFC 1191, RFC 4884) and ICMPv6 (RFC 4443): echo, destination unreachable (all codes),
time exceeded, packet too big, parameter problem, and any other type kept byte for byte.
An error message's ``body`` (the invoking packet) is decoded into ``quoted`` by the stack."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ..errors import BuildError, TruncatedPacketError
from .checksum import internet_checksum, transport_checksum

__all__ = ["ICMPType", "ICMPv6Type", "ICMPMessage", "parse_icmp", "build_icmp", "UNREACH_CODES",
           "UNREACH6_CODES", "ICMP_ERROR_TYPES", "ICMPV6_ERROR_TYPES"]


class ICMPType(IntEnum):
    """ICMPv4 message types rawnet names."""

    ECHO_REPLY = 0
    DEST_UNREACH = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    TIME_EXCEEDED = 11
    PARAMETER_PROBLEM = 12
    TIMESTAMP = 13
    TIMESTAMP_REPLY = 14

    @classmethod
    def from_wire(cls, value: int) -> ICMPType | None:
        """Return the member for ``value`` or None."""
        try:
            return cls(value)
        except ValueError:
            return None


class ICMPv6Type(IntEnum):
    """ICMPv6 message types rawnet names."""

    DEST_UNREACH = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAMETER_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129

    @classmethod
    def from_wire(cls, value: int) -> ICMPv6Type | None:
        """Return the member for ``value`` or None."""
        try:
            return cls(value)
        except ValueError:
            return None


UNREACH_CODES = {
    0: "net-unreachable", 1: "host-unreachable", 2: "protocol-unreachable", 3: "port-unreachable",
    4: "fragmentation-needed", 5: "source-route-failed", 6: "net-unknown", 7: "host-unknown",
    8: "source-host-isolated", 9: "net-prohibited", 10: "host-prohibited", 11: "net-tos-unreachable",
    12: "host-tos-unreachable", 13: "admin-prohibited", 14: "host-precedence-violation",
    15: "precedence-cutoff",
}
UNREACH6_CODES = {
    0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "address-unreachable", 4: "port-unreachable",
    5: "source-policy-failed", 6: "reject-route", 7: "source-routing-header-error",
}
ICMP_ERROR_TYPES = frozenset((3, 4, 5, 11, 12))
ICMPV6_ERROR_TYPES = frozenset((1, 2, 3, 4))


@dataclass(frozen=True, slots=True)
class ICMPMessage:
    """An ICMP or ICMPv6 message: type, code, checksum, the 4-byte rest-of-header and the body.

    ``rest`` holds identifier+sequence (echo), unused+next-hop MTU (fragmentation needed), the MTU
    (ICMPv6 packet too big) or the pointer (parameter problem). ``body`` is the echo data or the
    quoted invoking packet, kept byte for byte.
    """

    type: int
    """Message type."""
    code: int
    """Message code."""
    rest: bytes = b"\x00\x00\x00\x00"
    """The four bytes after the checksum."""
    body: bytes = b""
    """Echo data, or the invoking packet of an error."""
    version: int = 4
    """4 for ICMP, 6 for ICMPv6."""
    checksum: int | None = None
    """Checksum; None means compute when built."""

    header_length = 8

    @property
    def is_error(self) -> bool:
        """Return True for error messages (unreachable, time exceeded, too big, parameter problem, ...)."""
        return self.type in (ICMPV6_ERROR_TYPES if self.version == 6 else ICMP_ERROR_TYPES)

    @property
    def is_echo(self) -> bool:
        """Return True for echo request or reply."""
        return self.type in ((128, 129) if self.version == 6 else (0, 8))

    @property
    def identifier(self) -> int:
        """Return the echo identifier (first two bytes of ``rest``)."""
        return int(struct.unpack_from("!H", self.rest, 0)[0])

    @property
    def sequence(self) -> int:
        """Return the echo sequence number (last two bytes of ``rest``)."""
        return int(struct.unpack_from("!H", self.rest, 2)[0])

    @property
    def mtu(self) -> int:
        """Return the next-hop MTU (ICMP frag-needed: low 16 bits; ICMPv6 packet too big: 32 bits)."""
        if self.version == 6:
            return int(struct.unpack_from("!I", self.rest, 0)[0])
        return int(struct.unpack_from("!H", self.rest, 2)[0])

    @property
    def pointer(self) -> int:
        """Return the parameter-problem pointer (ICMP: first byte; ICMPv6: 32 bits)."""
        if self.version == 6:
            return int(struct.unpack_from("!I", self.rest, 0)[0])
        return self.rest[0]

    @property
    def code_name(self) -> str | None:
        """Return the name of a destination-unreachable code, else None."""
        if self.version == 4 and self.type == 3:
            return UNREACH_CODES.get(self.code)
        if self.version == 6 and self.type == 1:
            return UNREACH6_CODES.get(self.code)
        return None

    @property
    def type_name(self) -> str:
        """Return a readable name of the type."""
        t = ICMPv6Type.from_wire(self.type) if self.version == 6 else ICMPType.from_wire(self.type)
        return t.name.lower().replace("_", "-") if t is not None else f"type-{self.type}"


def parse_icmp(data: bytes | memoryview, offset: int = 0, end: int | None = None, *, version: int = 4) -> ICMPMessage:
    """Return the ICMP (``version`` 4) or ICMPv6 (6) message from ``offset`` to ``end``."""
    layer = "ICMPv6" if version == 6 else "ICMP"
    end = len(data) if end is None else min(end, len(data))
    if end - offset < 8:  # the IP length bounds the message, not the frame (the rest is a trailer)
        raise TruncatedPacketError(layer, offset, 8, max(end - offset, 0))
    typ, code, csum = struct.unpack_from("!BBH", data, offset)
    return ICMPMessage(typ, code, bytes(data[offset + 4:offset + 8]), bytes(data[offset + 8:end]), version, csum)


def build_icmp(m: ICMPMessage, *, src: bytes | None = None, dst: bytes | None = None,
               checksum: str | None = None) -> bytes:
    """Return the message bytes; fills the checksum (ICMPv6 needs ``src``/``dst`` for its pseudo-header)."""
    if len(m.rest) != 4:
        raise BuildError(f"ICMP: rest of header must be 4 bytes, got {len(m.rest)}")
    if not (0 <= m.type <= 255 and 0 <= m.code <= 255):
        raise BuildError(f"ICMP: type {m.type} / code {m.code} must fit in a byte")
    msg = bytearray(struct.pack("!BBH", m.type, m.code, 0) + m.rest + m.body)
    if m.checksum is not None and checksum != "recompute":
        csum = m.checksum
    elif m.version == 6:
        if src is None or dst is None:
            raise BuildError("ICMPv6: the checksum needs the IP source and destination (pass src= and dst=)")
        csum = transport_checksum(src, dst, 58, msg)
    else:
        csum = internet_checksum(msg)
    struct.pack_into("!H", msg, 2, csum)
    return bytes(msg)


def echo(identifier: int, sequence: int, data: bytes = b"", *, version: int = 4, reply: bool = False) -> ICMPMessage:
    """Return an echo request (or reply) message."""
    if version == 6:
        typ = 129 if reply else 128
    else:
        typ = 0 if reply else 8
    return ICMPMessage(typ, 0, struct.pack("!HH", identifier & 0xFFFF, sequence & 0xFFFF), data, version)
