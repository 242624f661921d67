"""IPv4 from real bytes: every header field, options kept byte for byte, fragments, DF/MF, the
header checksum; building; and the errors a bad header raises."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from rawnet.errors import BuildError, MalformedPacketError, TruncatedPacketError
from rawnet.packet import IPv4Header, UDPHeader, build_ipv4, decode, encode, parse_ipv4
from rawnet.packet.ipv4 import IPV4_DF, IPV4_MF

from ._corpus import CORPUS, corpus_record

# IGMP_V1.pcap record 0: IHL 6 with a Router Alert option (94 04 00 00), TTL 1, IGMP, Ethernet padding
IGMP_RA = bytes.fromhex(
    "01005e0000015cd998f91c18080046000020000200000102723d0a00c897e0000001940400001100eeff000000000000000000000000"
    "000000000000")
# accecn_handshake.pcap record 0: DF set, TCP SYN
ACCECN_SYN = bytes.fromhex(
    "18fd740745cd000c29f7801208004500003c0000400040061a4f1f8592f842e42b0c40310050741d4a2d00000000a1c2ffff209c0000"
    "020405b4010303060402080a06af3c1500000000")
# first and last fragment of a UDP datagram (id 0x5555): MF with offset 0, then offset 3 (24 bytes)
FRAG_FIRST = bytes.fromhex(
    "02000000000102000000000208004500002c5555200040117944c6120001c6120002414141414141414141414141414141414141414141"
    "414141")
FRAG_LAST = bytes.fromhex(
    "0200000000010200000000020800450000245555000340119949c6120001c612000242424242424242424242424242424242")


def test_frozen_hex_is_the_corpus_record() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"tcpdump corpus not found at {CORPUS}")
    assert corpus_record("IGMP_V1.pcap", 0)[0] == IGMP_RA
    assert corpus_record("accecn_handshake.pcap", 0)[0] == ACCECN_SYN


def test_header_with_router_alert_option() -> None:
    h = parse_ipv4(IGMP_RA, 14)
    assert (h.version, h.ihl, h.dscp, h.ecn, h.total_length, h.identification) == (4, 6, 0, 0, 32, 2)
    assert (h.flags, h.fragment_offset, h.ttl, h.protocol, h.checksum) == (0, 0, 1, 2, 0x723D)
    assert (h.src, h.dst, h.options) == (bytes.fromhex("0a00c897"), bytes.fromhex("e0000001"), b"\x94\x04\x00\x00")
    assert (h.src_ip, h.dst_ip, h.header_length) == (IPv4Address("10.0.200.151"), IPv4Address("224.0.0.1"), 24)
    assert (h.df, h.mf, h.is_fragment) == (False, False, False)
    p = decode(IGMP_RA)
    assert (p.network, p.transport, p.protocol, p.ip_checksum_ok, p.checksum_ok) == (h, None, 2, True, None)
    assert (p.payload, p.trailer, p.ip_payload_length) == (bytes.fromhex("1100eeff00000000"), b"\x00" * 14, 8)
    assert build_ipv4(h, p.payload) == IGMP_RA[14:46]
    assert encode(p) == IGMP_RA


def test_header_with_df() -> None:
    h = parse_ipv4(ACCECN_SYN, 14)
    assert h == IPv4Header(src=bytes.fromhex("1f8592f8"), dst=bytes.fromhex("42e42b0c"), protocol=6, ttl=64,
                           identification=0, flags=IPV4_DF, fragment_offset=0, dscp=0, ecn=0, options=b"", version=4,
                           ihl=5, total_length=60, checksum=0x1A4F)
    assert (h.df, h.mf, h.is_fragment, str(h.src_ip), str(h.dst_ip)) == (True, False, False, "31.133.146.248",
                                                                          "66.228.43.12")
    assert decode(ACCECN_SYN).ip_checksum_ok is True


def test_first_fragment() -> None:
    p = decode(FRAG_FIRST)
    h = p.network
    assert isinstance(h, IPv4Header)
    assert (h.flags, h.fragment_offset, h.identification, h.protocol, h.total_length) == (IPV4_MF, 0, 0x5555, 17, 44)
    assert (h.mf, h.df, h.is_fragment, p.is_fragment) == (True, False, True, True)
    # the first fragment carries the UDP header; its checksum covers the whole datagram, so it is not checked
    assert (p.udp, p.checksum_ok, p.ip_checksum_ok) == (UDPHeader(0x4141, 0x4141, 0x4141, 0x4141), None, True)
    assert (p.payload, encode(p)) == (b"A" * 16, FRAG_FIRST)


def test_later_fragment_is_not_parsed_as_transport() -> None:
    p = decode(FRAG_LAST)
    h = p.network
    assert isinstance(h, IPv4Header)
    assert (h.flags, h.fragment_offset, h.identification, h.total_length) == (0, 3, 0x5555, 36)
    assert (h.mf, h.is_fragment, p.transport, p.payload, p.checksum_ok) == (False, True, None, b"B" * 16, None)
    assert (p.ip_checksum_ok, p.ip_payload_length, encode(p)) == (True, 16, FRAG_LAST)


def test_reserved_flag_and_bad_checksum_are_data() -> None:
    frame = bytearray(FRAG_LAST)
    frame[20] |= 0x80  # the evil bit; the header checksum no longer matches
    p = decode(bytes(frame))
    assert (p.network.flags, p.ip_checksum_ok, p.error) == (0x4, False, None)
    assert encode(p) == bytes(frame)


def test_build_computes_ihl_total_length_and_checksum() -> None:
    h = IPv4Header(bytes.fromhex("0a00c897"), bytes.fromhex("e0000001"), 2, ttl=1, identification=2,
                   options=b"\x94\x04\x00\x00")
    wire = build_ipv4(h, bytes.fromhex("1100eeff00000000"))
    assert wire == IGMP_RA[14:46]
    assert parse_ipv4(wire) == replace(h, ihl=6, total_length=32, checksum=0x723D)
    assert (h.ihl, h.total_length, h.checksum) == (None, None, None)  # the input is unchanged


def test_build_keeps_explicit_fields() -> None:
    h = replace(parse_ipv4(IGMP_RA, 14), checksum=0xBEEF, total_length=999)
    wire = build_ipv4(h, b"")
    assert (wire[2:4], wire[10:12]) == (b"\x03\xe7", b"\xbe\xef")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"src": b"\x00" * 3}, "IPv4: addresses must be 4 bytes"),
    ({"options": b"\x01"}, "IPv4: options are 1 bytes (must be a multiple of 4; pad with NOP/EOL)"),
    ({"options": b"\x01" * 44}, "IPv4: header length 16 words out of range (5-15)"),
    ({"ttl": 256}, "IPv4: ttl 256 does not fit in 8 bits"),
    ({"flags": 8}, "IPv4: flags 8 does not fit in 3 bits"),
    ({"fragment_offset": 8192}, "IPv4: fragment_offset 8192 does not fit in 13 bits"),
    ({"dscp": 64}, "IPv4: dscp 64 does not fit in 6 bits"),
    ({"ecn": 4}, "IPv4: ecn 4 does not fit in 2 bits"),
    ({"identification": -1}, "IPv4: identification -1 does not fit in 16 bits"),
])
def test_build_errors(kwargs: dict[str, object], message: str) -> None:
    h = replace(IPv4Header(b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 6), **kwargs)
    with pytest.raises(BuildError) as ei:
        build_ipv4(h)
    assert str(ei.value) == message


def test_truncated_header() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(ACCECN_SYN[:26])
    e = ei.value
    assert (type(e), e.layer, e.offset, e.needed, e.available) == (TruncatedPacketError, "IPv4", 14, 20, 12)
    assert str(e) == "IPv4 at offset 14: header needs 20 bytes, 12 available"


def test_truncated_options() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(IGMP_RA[:36])
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == ("IPv4", 14, 24, 22)
    assert str(e) == "IPv4 at offset 14: header with options needs 24 bytes, 22 available"


def test_bad_version() -> None:
    frame = ACCECN_SYN[:14] + b"\x55" + ACCECN_SYN[15:]
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert (ei.value.layer, ei.value.offset, str(ei.value)) == ("IPv4", 14, "IPv4 at offset 14: version is 5 "
                                                                             "(expected 4)")


def test_ihl_below_five() -> None:
    frame = ACCECN_SYN[:14] + b"\x44" + ACCECN_SYN[15:]
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert str(ei.value) == "IPv4 at offset 14: header length is 4 words (minimum 5)"


def test_total_length_below_header_length() -> None:
    frame = ACCECN_SYN[:16] + b"\x00\x13" + ACCECN_SYN[18:]
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert (ei.value.layer, ei.value.offset) == ("IPv4", 14)
    assert str(ei.value) == "IPv4 at offset 14: total length 19 is below the header length 20"
    p = decode(frame, strict=False)
    # the header decoded; everything after it is kept undecoded (regression: the header was kept twice)
    assert (p.network.total_length, p.transport, p.payload) == (19, None, frame[34:])
    assert encode(p) == frame


def test_total_length_zero_means_see_the_frame() -> None:
    # TSO / GRO captures carry total length 0; the frame length is used, as Wireshark does
    frame = ACCECN_SYN[:16] + b"\x00\x00" + ACCECN_SYN[18:]
    p = decode(frame)
    assert (p.network.total_length, p.ip_payload_length, p.tcp.src_port, p.ip_checksum_ok) == (0, 40, 16433, False)
    assert encode(p) == frame


def test_tso_super_packet_checksum_is_not_checked() -> None:
    # regression: a frame above 64 KiB with total length 0 raised OverflowError in the pseudo-header
    frame = ACCECN_SYN[:16] + b"\x00\x00" + ACCECN_SYN[18:] + b"\x00" * 70000
    p = decode(frame)
    assert (p.checksum_ok, len(p.payload), encode(p)) == (None, 70000, frame)
