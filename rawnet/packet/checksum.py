"""Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers (RFC 9293 §3.1, RFC 8200 §8.1)."""

from __future__ import annotations

from ..errors import BuildError

__all__ = ["internet_checksum", "ipv4_pseudo_header", "ipv6_pseudo_header", "transport_checksum", "checksum_ok",
           "transport_checksum_ok"]


def internet_checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """Return the 16-bit one's complement checksum of ``data`` (odd length padded with a zero byte)."""
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    total = initial + int.from_bytes(data, "big")
    # fold the big integer into 16 bits: sum of 16-bit words == value mod 0xFFFF (one's complement)
    total = total % 0xFFFF if total else 0
    if total == 0 and (initial or any(data)):
        total = 0xFFFF
    return (~total) & 0xFFFF


def ipv4_pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    """Return the 12-byte IPv4 pseudo-header for a transport checksum.

    Raises:
        BuildError: ``length`` does not fit the pseudo-header's 16 bits.
    """
    if not 0 <= length <= 0xFFFF:
        raise BuildError(f"IPv4 pseudo-header: segment length {length} does not fit in 16 bits")
    return src + dst + bytes((0, protocol)) + length.to_bytes(2, "big")


def ipv6_pseudo_header(src: bytes, dst: bytes, next_header: int, length: int) -> bytes:
    """Return the 40-byte IPv6 pseudo-header for a transport checksum.

    Raises:
        BuildError: ``length`` does not fit the pseudo-header's 32 bits.
    """
    if not 0 <= length <= 0xFFFFFFFF:
        raise BuildError(f"IPv6 pseudo-header: segment length {length} does not fit in 32 bits")
    return src + dst + length.to_bytes(4, "big") + b"\x00\x00\x00" + bytes((next_header,))


def transport_checksum(src: bytes, dst: bytes, protocol: int, segment: bytes | bytearray | memoryview) -> int:
    """Return the TCP/UDP/ICMPv6 checksum of ``segment`` (its checksum field zeroed) for ``src``/``dst``."""
    if len(src) == 4:
        pseudo = ipv4_pseudo_header(src, dst, protocol, len(segment))
    else:
        pseudo = ipv6_pseudo_header(src, dst, protocol, len(segment))
    return internet_checksum(pseudo + bytes(segment))


def checksum_ok(data: bytes) -> bool:
    """Return True when ``data`` (with its checksum field in place) sums to 0xFFFF, i.e. verifies.

    Same verdict as ``internet_checksum(data) == 0``, without the complement step: the sum of the
    16-bit words is the big integer modulo 0xFFFF (2**16 is 1 modulo 0xFFFF), and an all-zero
    buffer does not verify.
    """
    if len(data) % 2:
        total = int.from_bytes(data, "big") << 8
    else:
        total = int.from_bytes(data, "big")
    return total != 0 and total % 0xFFFF == 0


def transport_checksum_ok(src: bytes, dst: bytes, protocol: int, segment: bytes) -> bool:
    """Return True when the TCP/UDP/ICMPv6 ``segment`` (checksum in place) verifies for ``src``/``dst``.

    Same verdict as ``transport_checksum(src, dst, protocol, segment) == 0``, summed without building
    the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1). The protocol number makes the sum non-zero.
    """
    n = len(segment)
    total = int.from_bytes(segment, "big")
    if n % 2:
        total <<= 8
    total += int.from_bytes(src, "big") + int.from_bytes(dst, "big") + protocol + (n & 0xFFFF) + (n >> 16)
    return total % 0xFFFF == 0
