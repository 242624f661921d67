"""ICMP and ICMPv6 from kernel-style bytes: echo, destination unreachable (every code), time
exceeded, fragmentation needed / packet too big, parameter problem, and the quoted invoking packet
(inner IP header plus the first 8 transport bytes, QuotedTCP when no more was quoted).

The error messages are laid out as Linux sends them (TOS 0xC0, TTL 64, as much of the invoking
packet as fits for ICMPv6, header + 8 bytes for the router-style ICMPv4 ones); the tcpdump corpus
has no ICMP errors over Ethernet."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rawnet.errors import BuildError, TruncatedPacketError
from rawnet.packet import (ICMPMessage, ICMPType, ICMPv6Type, IPv4Header, IPv6Header, MSSOption, QuotedTCP, TCPHeader,
                           UDPHeader, build_icmp, decode, encode, parse_icmp)
from rawnet.packet.icmp import UNREACH6_CODES, UNREACH_CODES, echo

ECHO4 = bytes.fromhex(
    "02000000000102000000000208004500002cbeef40004001efb9c6120001c61200020800ad8a12340001000102030405060708090a0b0c"
    "0d0e0f")
ECHO_REPLY4 = bytes.fromhex(
    "02000000000102000000000208004500002c9d3c00004001516dc6120002c61200010000b58a12340001000102030405060708090a0b0c"
    "0d0e0f")
# port unreachable for a traceroute probe (UDP 44123 > 33434, TTL 1); quotes the whole probe
PORT_UNREACH4 = bytes.fromhex(
    "020000000001020000000002080045c000583a1f00004001b29ec6120102c612000103038a5e000000004500003c1c4600000111104"
    "4c6120001c6120102ac5b829a00284e7b404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f")
# a router's time exceeded / fragmentation needed / parameter problem, quoting IP + 8 bytes of a TCP SYN
TIME_EXCEEDED4 = bytes.fromhex(
    "020000000001020000000002080045c00038010100004001ebe0c61200fec61200010b00e7a5000000004500002c424240000106aa62"
    "c6120001c6120102c73801bb11223344")
FRAG_NEEDED4 = bytes.fromhex(
    "020000000001020000000002080045c00038010200004001ebdfc61200fec61200010304ea29000005784500002c424240000106aa62"
    "c6120001c6120102c73801bb11223344")
PARAM_PROBLEM4 = bytes.fromhex(
    "020000000001020000000002080045c00038010300004001ebdec61200fec61200010c00d2a5140000004500002c424240000106aa62"
    "c6120001c6120102c73801bb11223344")
ECHO6 = bytes.fromhex(
    "02000000000102000000000286dd6001234500103a40fd000000000000000000000000000001fd000000000000000000000000000002"
    "8000f3a0007700036162636465666768")
ECHO_REPLY6 = bytes.fromhex(
    "02000000000102000000000286dd600abcde00103a40fd000000000000000000000000000002fd000000000000000000000000000001"
    "8100f2a0007700036162636465666768")
PORT_UNREACH6 = bytes.fromhex(
    "02000000000102000000000286dd6000000000483a40fd000001000000000000000000000002fd000000000000000000000000000001"
    "01049383000000006000000000181101fd000000000000000000000000000001fd000001000000000000000000000002ac5b829a0018"
    "a78b30313233343536373839616263646566")
PACKET_TOO_BIG6 = bytes.fromhex(
    "02000000000102000000000286dd6000000000483a40fd0000000000000000000000000000fefd000000000000000000000000000001"
    "0200974300000500600000000018063ffd000000000000000000000000000001fd000001000000000000000000000002c73801bb5566"
    "77880000000060022000e8520000020405a0")
TIME_EXCEEDED6 = bytes.fromhex(
    "02000000000102000000000286dd6000000000483a40fd0000000000000000000000000000fefd000000000000000000000000000001"
    "03009b4300000000600000000018063ffd000000000000000000000000000001fd000001000000000000000000000002c73801bb5566"
    "77880000000060022000e8520000020405a0")
PARAM_PROBLEM6 = bytes.fromhex(
    "02000000000102000000000286dd6000000000483a40fd0000000000000000000000000000fefd000000000000000000000000000001"
    "04019a1a00000028600000000018063ffd000000000000000000000000000001fd000001000000000000000000000002c73801bb5566"
    "77880000000060022000e8520000020405a0")

QUOTED_SYN4 = IPv4Header(bytes.fromhex("c6120001"), bytes.fromhex("c6120102"), 6, 1, 0x4242, 2, 0, 0, 0, b"", 4, 5, 44,
                         0xAA62)
QUOTED_SYN6 = IPv6Header(bytes.fromhex("fd000000000000000000000000000001"),
                         bytes.fromhex("fd000001000000000000000000000002"), 6, 63, 0, 0, (), 24, 6)
SYN6 = TCPHeader(51000, 443, 0x55667788, 0, 0x002, 8192, 0, (MSSOption(1440),), 0, 6, 0xE852)


def test_echo_request_and_reply_v4() -> None:
    p = decode(ECHO4)
    assert p.icmp == ICMPMessage(8, 0, bytes.fromhex("12340001"), bytes(range(16)), 4, 0xAD8A)
    m = p.icmp
    assert (m.identifier, m.sequence, m.is_echo, m.is_error, m.type_name, m.code_name) == (0x1234, 1, True, False,
                                                                                          "echo-request", None)
    assert (p.checksum_ok, p.ip_checksum_ok, p.protocol, p.quoted, p.payload, p.payload_len) == (True, True, 1, None,
                                                                                                 b"", 16)
    assert encode(p) == ECHO4
    r = decode(ECHO_REPLY4)
    assert (r.icmp.type, r.icmp.type_name, r.icmp.identifier, r.icmp.sequence, r.checksum_ok) == (0, "echo-reply",
                                                                                                  0x1234, 1, True)
    assert build_icmp(echo(0x1234, 1, bytes(range(16)))) == ECHO4[34:]
    assert build_icmp(echo(0x1234, 1, bytes(range(16)), reply=True)) == ECHO_REPLY4[34:]


def test_port_unreachable_v4_quotes_the_udp_probe() -> None:
    p = decode(PORT_UNREACH4)
    m = p.icmp
    assert (m.type, m.code, m.checksum, m.rest, m.version) == (3, 3, 0x8A5E, b"\x00" * 4, 4)
    assert (m.is_error, m.is_echo, m.type_name, m.code_name) == (True, False, "dest-unreach", "port-unreachable")
    assert (p.network.dscp, p.network.ttl, p.checksum_ok, p.ip_checksum_ok) == (48, 64, True, True)
    q = p.quoted
    assert q is not None
    assert q.network == IPv4Header(bytes.fromhex("c6120001"), bytes.fromhex("c6120102"), 17, 1, 0x1C46, 0, 0, 0, 0,
                                   b"", 4, 5, 60, 0x1044)
    assert q.udp == UDPHeader(44123, 33434, 40, 0x4E7B)
    assert (q.payload, q.error, q.checksum_ok, q.ip_checksum_ok) == (bytes(range(0x40, 0x60)), None, None, True)
    assert (q.src, q.dst, q.protocol) == ("198.18.0.1", "198.18.1.2", 17)
    assert m.body == PORT_UNREACH4[42:]
    assert encode(p) == PORT_UNREACH4


@pytest.mark.parametrize("code", range(16))
def test_every_unreachable_code_v4(code: int) -> None:
    p = decode(PORT_UNREACH4)
    frame = encode(replace(p, transport=replace(p.icmp, code=code, checksum=None)))
    q = decode(frame)
    assert (q.icmp.type, q.icmp.code, q.icmp.code_name, q.checksum_ok) == (3, code, UNREACH_CODES[code], True)
    assert q.quoted.udp == UDPHeader(44123, 33434, 40, 0x4E7B)


def test_time_exceeded_v4_quotes_8_tcp_bytes() -> None:
    p = decode(TIME_EXCEEDED4)
    assert (p.icmp.type, p.icmp.code, p.icmp.type_name, p.icmp.code_name, p.checksum_ok) == (
        11, 0, "time-exceeded", None, True)
    q = p.quoted
    assert q.network == QUOTED_SYN4
    assert q.transport == QuotedTCP(51000, 443, 0x11223344)
    assert (q.tcp, q.payload, q.payload_len, q.error, q.checksum_ok) == (None, b"", None, None, None)
    assert encode(p) == TIME_EXCEEDED4


def test_fragmentation_needed_v4() -> None:
    p = decode(FRAG_NEEDED4)
    assert (p.icmp.type, p.icmp.code, p.icmp.code_name, p.icmp.mtu, p.icmp.rest) == (
        3, 4, "fragmentation-needed", 1400, bytes.fromhex("00000578"))
    assert (p.quoted.network, p.quoted.transport, p.checksum_ok) == (QUOTED_SYN4, QuotedTCP(51000, 443, 0x11223344),
                                                                     True)


def test_parameter_problem_v4() -> None:
    p = decode(PARAM_PROBLEM4)
    assert (p.icmp.type, p.icmp.code, p.icmp.pointer, p.icmp.type_name, p.checksum_ok) == (12, 0, 20,
                                                                                          "parameter-problem", True)
    assert p.quoted.transport == QuotedTCP(51000, 443, 0x11223344)


def test_echo_request_and_reply_v6() -> None:
    p = decode(ECHO6)
    assert p.icmp == ICMPMessage(128, 0, bytes.fromhex("00770003"), b"abcdefgh", 6, 0xF3A0)
    assert (p.icmp.identifier, p.icmp.sequence, p.icmp.type_name, p.icmp.is_echo, p.checksum_ok) == (
        0x77, 3, "echo-request", True, True)
    assert (p.network.flow_label, p.network.next_header, p.protocol) == (0x12345, 58, 58)
    r = decode(ECHO_REPLY6)
    assert (r.icmp.type, r.icmp.type_name, r.icmp.identifier, r.icmp.sequence, r.checksum_ok) == (
        129, "echo-reply", 0x77, 3, True)
    src, dst = p.network.src, p.network.dst
    assert build_icmp(echo(0x77, 3, b"abcdefgh", version=6), src=src, dst=dst) == ECHO6[54:]
    assert encode(r) == ECHO_REPLY6


def test_port_unreachable_v6_quotes_the_udp_probe() -> None:
    p = decode(PORT_UNREACH6)
    assert (p.icmp.type, p.icmp.code, p.icmp.checksum, p.icmp.code_name, p.icmp.type_name) == (
        1, 4, 0x9383, "port-unreachable", "dest-unreach")
    q = p.quoted
    assert q.network == IPv6Header(bytes.fromhex("fd000000000000000000000000000001"),
                                   bytes.fromhex("fd000001000000000000000000000002"), 17, 1, 0, 0, (), 24, 6)
    assert q.udp == UDPHeader(44123, 33434, 24, 0xA78B)
    assert (q.payload, q.error, p.checksum_ok) == (b"0123456789abcdef", None, True)
    assert encode(p) == PORT_UNREACH6


@pytest.mark.parametrize("code", range(8))
def test_every_unreachable_code_v6(code: int) -> None:
    p = decode(PORT_UNREACH6)
    q = decode(encode(replace(p, transport=replace(p.icmp, code=code, checksum=None))))
    assert (q.icmp.type, q.icmp.code, q.icmp.code_name, q.checksum_ok) == (1, code, UNREACH6_CODES[code], True)


def test_packet_too_big_v6() -> None:
    p = decode(PACKET_TOO_BIG6)
    assert (p.icmp.type, p.icmp.code, p.icmp.mtu, p.icmp.type_name, p.checksum_ok) == (2, 0, 1280, "packet-too-big",
                                                                                      True)
    assert (p.quoted.network, p.quoted.tcp, p.quoted.payload) == (QUOTED_SYN6, SYN6, b"")
    assert encode(p) == PACKET_TOO_BIG6


def test_time_exceeded_and_parameter_problem_v6() -> None:
    t = decode(TIME_EXCEEDED6)
    assert (t.icmp.type, t.icmp.code, t.icmp.type_name, t.checksum_ok, t.quoted.tcp) == (3, 0, "time-exceeded", True,
                                                                                          SYN6)
    pp = decode(PARAM_PROBLEM6)
    assert (pp.icmp.type, pp.icmp.code, pp.icmp.pointer, pp.icmp.type_name, pp.checksum_ok) == (
        4, 1, 40, "parameter-problem", True)
    assert pp.quoted.network == QUOTED_SYN6


def test_quoted_tcp_v6_with_8_bytes() -> None:
    p = decode(PACKET_TOO_BIG6)
    short = replace(p, network=replace(p.network, payload_length=None),
                    transport=replace(p.icmp, body=p.icmp.body[:48], checksum=None))
    q = decode(encode(short))
    assert (q.checksum_ok, q.quoted.transport) == (True, QuotedTCP(51000, 443, 0x55667788))


def test_quote_shorter_than_8_transport_bytes_is_a_lenient_error() -> None:
    p = decode(TIME_EXCEEDED4)
    cut = decode(encode(replace(p, network=replace(p.network, total_length=None),
                                transport=replace(p.icmp, body=p.icmp.body[:24], checksum=None))))
    q = cut.quoted
    assert (cut.error, cut.checksum_ok, q.network, q.transport, q.payload) == (None, True, QUOTED_SYN4, None,
                                                                               bytes.fromhex("c73801bb"))
    assert (type(q.error), q.error.layer, q.error.offset) == (TruncatedPacketError, "TCP", 20)
    assert str(q.error) == "TCP at offset 20: quoted header needs 8 bytes, 4 available"


def test_types_from_wire() -> None:
    assert (ICMPType.from_wire(3), ICMPType.from_wire(99)) == (ICMPType.DEST_UNREACH, None)
    assert (ICMPv6Type.from_wire(2), ICMPv6Type.from_wire(135)) == (ICMPv6Type.PACKET_TOO_BIG, None)
    assert ICMPMessage(42, 0).type_name == "type-42"


def test_parse_icmp_bounds() -> None:
    m = parse_icmp(ECHO4, 34, 34 + 24)
    assert (m.type, m.body) == (8, bytes(range(16)))
    with pytest.raises(TruncatedPacketError) as ei:
        parse_icmp(ECHO4, 34, 40)
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == ("ICMP", 34, 8, 6)
    assert str(e) == "ICMP at offset 34: header needs 8 bytes, 6 available"


def test_truncated_icmp_in_a_frame() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(ECHO4[:40])
    assert str(ei.value) == "ICMP at offset 34: header needs 8 bytes, 6 available"
    p = decode(ECHO4[:40], strict=False)
    assert (p.transport, p.payload, p.error.layer) == (None, ECHO4[34:40], "ICMP")
    assert encode(p) == ECHO4[:40]


def test_icmpv6_with_payload_length_zero() -> None:
    # icmpv6-length-zero.pcapng: the message lies beyond the IPv6 payload length (0). Regression: it was
    # decoded from the trailer and encode() wrote it twice.
    frame = bytes.fromhex(
        "33330000000100212808f15086dd6000000000003afffe80000000000000025a28fffe08f1506e0200000000000000000000000000"
        "4188000b2020800000fe80000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    with pytest.raises(TruncatedPacketError) as ei:
        decode(frame)
    assert (ei.value.layer, ei.value.offset, str(ei.value)) == ("ICMPv6", 54, "ICMPv6 at offset 54: header needs 8 "
                                                                              "bytes, 0 available")
    p = decode(frame, strict=False)
    assert (p.network.payload_length, p.transport, p.payload) == (0, None, frame[54:])
    assert encode(p) == frame


def test_icmp_over_the_wrong_ip_version_is_left_undecoded() -> None:
    p = decode(ECHO6)
    frame = encode(replace(p, network=replace(p.network, next_header=1), transport=None,
                           payload=ECHO6[54:]))
    q = decode(frame)
    assert (q.protocol, q.transport, q.payload, q.checksum_ok) == (1, None, ECHO6[54:], None)


def test_build_errors() -> None:
    with pytest.raises(BuildError) as ei:
        build_icmp(ICMPMessage(8, 0, b"\x00"))
    assert str(ei.value) == "ICMP: rest of header must be 4 bytes, got 1"
    with pytest.raises(BuildError) as ei:
        build_icmp(ICMPMessage(256, 0))
    assert str(ei.value) == "ICMP: type 256 / code 0 must fit in a byte"
    with pytest.raises(BuildError) as ei:
        build_icmp(ICMPMessage(128, 0, version=6))
    assert str(ei.value) == "ICMPv6: the checksum needs the IP source and destination (pass src= and dst=)"


def test_build_keeps_or_recomputes_the_checksum() -> None:
    m = decode(ECHO4).icmp
    assert build_icmp(replace(m, checksum=0x0102))[2:4] == b"\x01\x02"
    assert build_icmp(replace(m, checksum=0x0102), checksum="recompute") == ECHO4[34:]
