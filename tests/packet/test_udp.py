"""UDP from real bytes: fields, checksum rules over IPv4 and IPv6 (0 means "none" only over IPv4;
a computed 0 is sent as 0xFFFF), building, and truncation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rawnet.errors import BuildError, TruncatedPacketError
from rawnet.packet import UDPHeader, build_udp, decode, encode, parse_udp
from rawnet.packet.checksum import ipv4_pseudo_header, ipv6_pseudo_header, transport_checksum

from .test_link import RAW4, RAW6


def test_udp_over_ipv4() -> None:
    h = parse_udp(RAW4, 20)
    assert (h.src_port, h.dst_port, h.length, h.checksum, h.header_length) == (12345, 53, 37, 0x1976, 8)
    p = decode(RAW4, 228)
    assert (p.udp, p.checksum_ok, p.payload_len, p.payload) == (h, True, 29, RAW4[28:])
    assert build_udp(replace(h, length=None, checksum=None), RAW4[28:], src=RAW4[12:16], dst=RAW4[16:20]) == RAW4[20:]


def test_udp_over_ipv6() -> None:
    h = parse_udp(RAW6, 40)
    assert h == UDPHeader(12345, 53, 37, 0x98B3)
    assert build_udp(UDPHeader(12345, 53), RAW6[48:], src=RAW6[8:24], dst=RAW6[24:40]) == RAW6[40:]


def test_zero_checksum_over_ipv4_is_not_checked() -> None:
    frame = RAW4[:26] + b"\x00\x00" + RAW4[28:]
    p = decode(frame, 228)
    assert (p.udp.checksum, p.checksum_ok) == (0, None)


def test_zero_checksum_over_ipv6_is_bad() -> None:
    frame = RAW6[:46] + b"\x00\x00" + RAW6[48:]
    assert decode(frame, 229).checksum_ok is False


def test_computed_zero_is_sent_as_ffff() -> None:
    src, dst = b"\x00\x00\x00\x00", b"\x00\x00\x00\x00"
    # choose a payload word that makes the one's complement sum 0xFFFF, so the checksum computes to 0
    base = transport_checksum(src, dst, 17, build_udp(UDPHeader(1, 2, checksum=0), b"\x00\x00"))
    seg = build_udp(UDPHeader(1, 2), base.to_bytes(2, "big"), src=src, dst=dst)
    assert seg[6:8] == b"\xff\xff"
    p = decode(bytes.fromhex("4500001e000000004011") + b"\x00\x00" + src + dst + seg, 228)
    assert p.checksum_ok is True


def test_pseudo_headers() -> None:
    assert ipv4_pseudo_header(b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 17, 37) == bytes.fromhex(
        "01020304050607080011 0025")
    assert ipv6_pseudo_header(b"\x01" * 16, b"\x02" * 16, 6, 70000) == b"\x01" * 16 + b"\x02" * 16 + bytes.fromhex(
        "00011170 000000 06")
    with pytest.raises(BuildError) as ei:
        ipv4_pseudo_header(b"\x00" * 4, b"\x00" * 4, 6, 65536)
    assert str(ei.value) == "IPv4 pseudo-header: segment length 65536 does not fit in 16 bits"


def test_build_errors() -> None:
    with pytest.raises(BuildError) as ei:
        build_udp(UDPHeader(1, 2))
    assert str(ei.value) == "UDP: the checksum needs the IP source and destination (pass src= and dst=)"
    with pytest.raises(BuildError) as ei:
        build_udp(UDPHeader(70000, 2, checksum=0))
    assert str(ei.value) == "UDP: src_port 70000 does not fit in 16 bits"
    with pytest.raises(BuildError) as ei:
        build_udp(UDPHeader(1, 2, checksum=0), b"\x00" * 65530)
    assert str(ei.value) == "UDP: length 65538 does not fit in 16 bits"


def test_truncated_udp() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(RAW4[:25], 228)
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == ("UDP", 20, 8, 5)
    assert str(e) == "UDP at offset 20: header needs 8 bytes, 5 available"
    p = decode(RAW4[:25], 228, strict=False)
    assert (p.network.protocol, p.transport, p.payload, p.checksum_ok) == (17, None, RAW4[20:25], None)
    assert encode(p) == RAW4[:25]


def test_udp_bounded_by_ip_length_not_frame() -> None:
    # IP says 4 bytes of payload; the 33 after it are a trailer, not UDP
    frame = RAW4[:2] + b"\x00\x18" + RAW4[4:]
    with pytest.raises(TruncatedPacketError) as ei:
        decode(frame, 228)
    assert str(ei.value) == "UDP at offset 20: header needs 8 bytes, 4 available"
