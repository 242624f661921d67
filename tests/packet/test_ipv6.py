"""IPv6 from real bytes: the fixed header, the extension header chain (hop-by-hop, routing,
fragment, destination options), the Jumbo Payload option with payload length 0, building, errors."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv6Address

import pytest

from rawnet.errors import BuildError, MalformedPacketError, TruncatedPacketError
from rawnet.packet import (ICMPMessage, IPv6Extension, IPv6Header, NOPOption, TCPHeader, TimestampsOption, UDPHeader,
                           build_ipv6, decode, encode, parse_ipv6)

from ._corpus import CORPUS, corpus_record

# ipv6-routing-header.pcap record 0: type 0 routing header (1 segment left) / ICMPv6 echo request
ROUTING = bytes.fromhex(
    "0013c4c784f000123fae22f786dd6000000000202b04220000000000024402123ffffeae22f7220000000000024000020000000000"
    "043a02000100000000220000000000021000020000000000048000d3ab00000000")
# bigtcp-ipv6-hbh.pcap record 0, first 120 of 65535 captured bytes (80094 on the wire): BIG TCP,
# payload length 0 and a hop-by-hop Jumbo Payload option (0xC2) of 80040
BIGTCP = bytes.fromhex(
    "0600deadbeefb8cef6048b1486dd600a31ee00000040260413804091ce00000000000000000d260413804091ce00000000000000000b"
    "0600c204000138a8a37bab892355b91295c7c02980180850c8eb00000101080a46bdbe60fc8cfa386e657470657266006e65747065"
    "7266006e657470657266006e65")
# ipv6_jumbogram_1.pcap record 0, first 100 bytes: a jumbogram ICMPv6 echo request (jumbo length 65536)
JUMBO_ICMP = bytes.fromhex(
    "0013c4c784f000123fae22f786dd60000000000000e3220000000000024402123ffffeae22f7220000000000024000020000000000"
    "043a00c204000100008000e3b011e0c91ef4b5e35eff52cb42747eb65f9e5fbe3c591a535971da4a6426c28a0fa9eb")
# hop-by-hop, destination options, routing (type 0, 1 left), fragment (offset 0, M=1), destination options, UDP
CHAIN = bytes.fromhex(
    "02000000000102000000000286dd6000000000450040fd000000000000000000000000000001fd00000000000000000000000000000"
    "23c000104000000002b000104000000002c02000100000000fd0000000000000000000000000000093c000001deadbeef1100010400"
    "00000000010002000dd2f3636861696e")
# a later fragment (offset 185 = 1480 bytes, M=0) of a UDP datagram: no upper-layer header in it
FRAG_LATER = bytes.fromhex(
    "02000000000102000000000286dd6000000000202c40fd000000000000000000000000000001fd000000000000000000000000000002"
    "110005c8deadbeef7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a")


def test_frozen_hex_is_the_corpus_record() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"tcpdump corpus not found at {CORPUS}")
    assert corpus_record("ipv6-routing-header.pcap", 0)[0] == ROUTING
    assert corpus_record("bigtcp-ipv6-hbh.pcap", 0)[0][:120] == BIGTCP
    assert corpus_record("ipv6_jumbogram_1.pcap", 0)[0][:100] == JUMBO_ICMP


def test_routing_header() -> None:
    h = parse_ipv6(ROUTING, 14)
    assert (h.version, h.traffic_class, h.flow_label, h.payload_length, h.next_header, h.hop_limit) == (
        6, 0, 0, 32, 43, 4)
    assert (h.src_ip, h.dst_ip) == (IPv6Address("2200::244:212:3fff:feae:22f7"), IPv6Address("2200::240:2:0:0:4"))
    assert h.extensions == (IPv6Extension(43, 58, ROUTING[54:78]),)
    assert (h.header_length, h.upper_protocol, h.fragment, h.is_fragment, h.jumbo_length) == (64, 58, None, False,
                                                                                              None)
    # RFC 8200 §8.1: the pseudo-header uses the final destination, the routing header's last address
    assert IPv6Address(h.final_dst) == IPv6Address("2200::210:2:0:0:4")
    p = decode(ROUTING)
    assert p.icmp == ICMPMessage(128, 0, b"\x00\x00\x00\x00", b"", 6, 0xD3AB)
    assert (p.checksum_ok, p.ip_checksum_ok, p.ip_payload_length) == (True, None, 8)  # tshark: Good
    assert encode(p) == ROUTING


def test_hop_by_hop_jumbo_big_tcp() -> None:
    p = decode(BIGTCP)
    h = p.network
    assert isinstance(h, IPv6Header)
    assert (h.traffic_class, h.flow_label, h.payload_length, h.next_header, h.hop_limit) == (0, 0xA31EE, 0, 0, 64)
    assert (str(h.src_ip), str(h.dst_ip)) == ("2604:1380:4091:ce00::d", "2604:1380:4091:ce00::b")
    assert h.extensions == (IPv6Extension(0, 6, bytes.fromhex("0600c204000138a8")),)
    assert (h.jumbo_length, h.extensions[0].jumbo_length, h.upper_protocol, h.header_length) == (80040, 80040, 6, 48)
    assert p.tcp == TCPHeader(41851, 43913, 592820498, 2512896041, 0x018, 2128, 0,
                              (NOPOption(), NOPOption(), TimestampsOption(1186840160, 4237097528)), 0, 8, 0xC8EB)
    # 80094 bytes on the wire, 120 here: the checksum cannot be checked
    assert (p.ip_payload_length, p.payload_len, p.checksum_ok, p.payload) == (80032, 80000, None, BIGTCP[94:])
    assert encode(p) == BIGTCP


def test_jumbogram_icmpv6() -> None:
    p = decode(JUMBO_ICMP)
    h = p.network
    assert (h.payload_length, h.next_header, h.hop_limit, h.jumbo_length) == (0, 0, 227, 65536)
    assert h.extensions == (IPv6Extension(0, 58, bytes.fromhex("3a00c20400010000")),)
    assert (p.icmp.type, p.icmp.code, p.icmp.checksum, p.icmp.rest) == (128, 0, 0xE3B0, bytes.fromhex("11e0c91e"))
    assert (p.ip_payload_length, p.checksum_ok, p.icmp.body) == (65528, None, JUMBO_ICMP[70:])
    assert encode(p) == JUMBO_ICMP


def test_jumbo_length_ignored_when_payload_length_is_set() -> None:
    h = IPv6Header(b"\x00" * 16, b"\x00" * 16, 0, extensions=(IPv6Extension(0, 59, bytes.fromhex("3b00c20400010000")),),
                   payload_length=8)
    assert (h.jumbo_length, h.extensions[0].jumbo_length) == (None, 65536)


def test_full_extension_chain() -> None:
    p = decode(CHAIN)
    h = p.network
    assert isinstance(h, IPv6Header)
    assert (h.payload_length, h.next_header, h.upper_protocol, h.header_length) == (69, 0, 17, 96)
    assert [(e.kind, e.next_header, len(e.data)) for e in h.extensions] == [
        (0, 60, 8), (60, 43, 8), (43, 44, 24), (44, 60, 8), (60, 17, 8)]
    frag = h.fragment
    assert frag is not None
    assert (frag.fragment_offset, frag.more_fragments, frag.identification) == (0, True, 0xDEADBEEF)
    assert (h.is_fragment, p.is_fragment, IPv6Address(h.final_dst)) == (True, True, IPv6Address("fd00::9"))
    # a first fragment: UDP decoded, its checksum (over the whole datagram) not checked
    assert (p.udp, p.payload, p.checksum_ok) == (UDPHeader(1, 2, 13, 0xD2F3), b"chain", None)
    assert [e.fragment_offset for e in h.extensions] == [0, 0, 0, 0, 0]
    assert [e.identification for e in h.extensions] == [0, 0, 0, 0xDEADBEEF, 0]
    assert encode(p) == CHAIN


def test_later_fragment() -> None:
    p = decode(FRAG_LATER)
    h = p.network
    assert h.extensions == (IPv6Extension(44, 17, bytes.fromhex("110005c8deadbeef")),)
    assert (h.fragment.fragment_offset, h.fragment.more_fragments, h.is_fragment) == (185, False, True)
    assert (p.transport, p.payload, p.ip_payload_length, p.checksum_ok) == (None, b"z" * 24, 24, None)
    assert encode(p) == FRAG_LATER


def test_build_computes_payload_length() -> None:
    h = parse_ipv6(CHAIN, 14)
    body = CHAIN[14 + 96:]
    assert build_ipv6(replace(h, payload_length=None), body) == CHAIN[14:]
    assert build_ipv6(IPv6Header(h.src, h.dst, 59), b"") == (bytes.fromhex("60000000 0000 3b40") + h.src + h.dst)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"src": b"\x00" * 4}, "IPv6: addresses must be 16 bytes"),
    ({"hop_limit": 256}, "IPv6: hop_limit 256 does not fit in 8 bits"),
    ({"traffic_class": 256}, "IPv6: traffic_class 256 does not fit in 8 bits"),
    ({"flow_label": 1 << 20}, "IPv6: flow_label 1048576 does not fit in 20 bits"),
    ({"next_header": -1}, "IPv6: next_header -1 does not fit in 8 bits"),
])
def test_build_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BuildError) as ei:
        build_ipv6(replace(IPv6Header(b"\x00" * 16, b"\x00" * 16, 59), **kwargs))
    assert str(ei.value) == message


def test_build_payload_too_long() -> None:
    with pytest.raises(BuildError) as ei:
        build_ipv6(IPv6Header(b"\x00" * 16, b"\x00" * 16, 59), b"\x00" * 65536)
    assert str(ei.value) == ("IPv6: payload length 65536 exceeds 65535 (use a Jumbo Payload option and length 0)")


def test_truncated_fixed_header() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(ROUTING[:50])
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == ("IPv6", 14, 40, 36)
    assert str(e) == "IPv6 at offset 14: header needs 40 bytes, 36 available"


def test_truncated_extension_header() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(ROUTING[:70])
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == ("IPv6", 54, 24, 16)
    assert str(e) == "IPv6 at offset 54: extension header needs 24 bytes, 16 available"
    p = decode(ROUTING[:70], strict=False)
    assert (p.link is not None, p.network, p.payload, p.error.offset) == (True, None, ROUTING[14:70], 54)
    assert encode(p) == ROUTING[:70]


def test_truncated_fragment_header() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(FRAG_LATER[:58])
    assert str(ei.value) == "IPv6 at offset 54: fragment header needs 8 bytes, 4 available"


def test_bad_version() -> None:
    frame = ROUTING[:14] + b"\x40" + ROUTING[15:]
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert (ei.value.layer, ei.value.offset, str(ei.value)) == ("IPv6", 14,
                                                                "IPv6 at offset 14: version is 4 (expected 6)")


def test_payload_length_below_extension_headers() -> None:
    frame = ROUTING[:18] + b"\x00\x10" + ROUTING[20:]
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert (ei.value.layer, ei.value.offset) == ("IPv6", 14)
    assert str(ei.value) == "IPv6 at offset 14: payload length 16 is below the extension headers' 24 bytes"
    p = decode(frame, strict=False)
    assert (p.network.payload_length, p.transport, p.payload) == (16, None, frame[78:])
    assert encode(p) == frame


def test_more_than_16_extension_headers() -> None:
    exts = b"".join(bytes((60, 0)) + b"\x00" * 6 for _ in range(17)) + b"\x3b\x00" + b"\x00" * 6
    frame = bytes.fromhex("6000000000903c40") + b"\x00" * 32 + exts
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame, 229)
    assert (ei.value.layer, ei.value.offset) == ("IPv6", 176)
    assert str(ei.value) == "IPv6 at offset 176: more than 16 extension headers"
