"""TCP from real bytes: every header field, all nine flags, every option kind (unknown kinds byte
for byte, EOL padding, TCP Fast Open as kind 34 and as 254/0xF989), building, and the errors."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rawnet.errors import BuildError, MalformedPacketError, TruncatedPacketError
from rawnet.packet import (EOLOption, FastOpenOption, MSSOption, NOPOption, SACKOption, SACKPermittedOption, TCPFlags,
                           TCPHeader, TimestampsOption, UnknownOption, WindowScaleOption, build_tcp, decode, encode,
                           parse_tcp)
from rawnet.packet.tcp import build_tcp_options, flag_names, parse_flags, parse_tcp_options

from ._corpus import CORPUS, corpus_record

# accecn_handshake.pcap records 0-2: SYN with AE+CWR+ECE, SYN-ACK with AccECN option 254/0xACC0, ACK with EOL
ACCECN_SYN = bytes.fromhex(
    "18fd740745cd000c29f7801208004500003c0000400040061a4f1f8592f842e42b0c40310050741d4a2d00000000a1c2ffff209c0000"
    "020405b4010303060402080a06af3c1500000000")
ACCECN_SYNACK = bytes.fromhex(
    "000c29f7801218fd740745cd080045000048000040003606244342e42b0c1f8592f800504031b128b393741d4a2ed092fe8822a80000"
    "020405b40402080aa5e4dec406af3c15fe0dacc0000001000000000000030307")
ACCECN_ACK = bytes.fromhex(
    "18fd740745cd000c29f780120800450000440000400040061a471f8592f842e42b0c40310050741d4a2eb128b394c090040320a40000"
    "0101080a06af3cf2a5e4dec4fe0dacc0000000ffffffffffff000000")
# ssh.pcap record 47: 14 NOPs then one SACK block
SSH_SACK = bytes.fromhex(
    "8c85903f77ddd4ca6d2e7f67080045480040e202400036062af9df8435deca6c57a50016f2c29257b836f352059ab0100154e1f30000"
    "0101010101010101010101010101050af35205faf35205fb")
# mptcp-aa-echo.pcap record 0 (Linux SLL): two MPTCP options, kind 30 (unknown to rawnet, kept byte for byte)
MPTCP = bytes.fromhex(
    "00040001000606d8efe13828000008004500004c27fb40004006faae0a0001010a0003022710d5d19b4b0eecaab1178ee01001fe1841"
    "00000101080a79b051273009cb9e1e1030010a000201f8295862f645df191e082001d0bd7aef")
# tfo-5c1fa7f9ae91.pcap records 0 and 2: TFO cookie request and cookie, experimental kind 254 / ExID 0xF989
TFO_REQUEST = bytes.fromhex(
    "1c7ee54ca1cbb0750c00000108004500002c00060000ff06f4b3c0a800640303030332f732fe0d05af640000000060020578b9660000"
    "fe04f989")
TFO_COOKIE = bytes.fromhex(
    "1c7ee54ca1ccb0750c00000208004500003400020000ff06a3aa030303030909090932fe32f7f08733f50d05af658012057810b20000"
    "fe0af9890909090900000101")
# bgp_pmsi_tunnel-oobr.pcap record 0: unknown kind 161 with length 2, then EOL followed by 0x0a
ODD_OPTIONS = bytes.fromhex(
    "000ce0007f0100c1c0a0abaf0800450001289d0fe000fe068e15f1002013ef00000100b300007ff3f9890001808e6000dada24db2d9d"
    "a102000affffffffffffffffffffffffffffffff002d02000310180d06b2ff80000700000fe3000101010113010101160100")


@pytest.mark.parametrize(("name", "index", "frozen"), [
    ("accecn_handshake.pcap", 0, ACCECN_SYN), ("accecn_handshake.pcap", 1, ACCECN_SYNACK),
    ("accecn_handshake.pcap", 2, ACCECN_ACK), ("ssh.pcap", 47, SSH_SACK), ("mptcp-aa-echo.pcap", 0, MPTCP),
    ("tfo-5c1fa7f9ae91.pcap", 0, TFO_REQUEST), ("tfo-5c1fa7f9ae91.pcap", 2, TFO_COOKIE),
    ("bgp_pmsi_tunnel-oobr.pcap", 0, ODD_OPTIONS),
], ids=["accecn0", "accecn1", "accecn2", "ssh47", "mptcp0", "tfo0", "tfo2", "bgp-pmsi0"])
def test_frozen_hex_is_the_corpus_record(name: str, index: int, frozen: bytes) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"tcpdump corpus not found at {CORPUS}")
    assert corpus_record(name, index)[0] == frozen


def test_syn_every_field() -> None:
    h = parse_tcp(ACCECN_SYN, 34)
    assert (h.src_port, h.dst_port, h.seq, h.ack) == (16433, 80, 1948076589, 0)
    assert (h.data_offset, h.reserved, h.flags, h.window, h.checksum, h.urgent_pointer) == (10, 0, 0x1C2, 65535,
                                                                                             0x209C, 0)
    assert h.flag_names == ["SYN", "ECE", "CWR", "AE"]
    assert h.flags == TCPFlags.SYN | TCPFlags.ECE | TCPFlags.CWR | TCPFlags.AE
    assert h.options == (MSSOption(1460), NOPOption(), WindowScaleOption(6), SACKPermittedOption(),
                         TimestampsOption(112147477, 0))
    assert (h.header_length, h.option(MSSOption), h.option(SACKOption)) == (40, MSSOption(1460), None)
    p = decode(ACCECN_SYN)
    # tshark agrees the checksum is wrong: the capturing host offloads it
    assert (p.tcp, p.checksum_ok, p.payload, p.payload_len) == (h, False, b"", 0)
    assert encode(p) == ACCECN_SYN


def test_synack_with_unknown_254_option() -> None:
    h = parse_tcp(ACCECN_SYNACK, 34)
    assert (h.src_port, h.dst_port, h.seq, h.ack, h.flags, h.window) == (80, 16433, 2972234643, 1948076590, 0x092,
                                                                        65160)
    assert h.flag_names == ["SYN", "ACK", "CWR"]
    assert h.options == (MSSOption(1460), SACKPermittedOption(), TimestampsOption(2783239876, 112147477),
                         UnknownOption(254, bytes.fromhex("acc0000001000000000000")), WindowScaleOption(7))
    assert (h.data_offset, h.checksum) == (13, 0x22A8)
    assert decode(ACCECN_SYNACK).checksum_ok is True
    assert build_tcp_options(h.options) == ACCECN_SYNACK[54:]


def test_eol_with_padding() -> None:
    h = parse_tcp(ACCECN_ACK, 34)
    assert h.options == (NOPOption(), NOPOption(), TimestampsOption(112147698, 2783239876),
                         UnknownOption(254, bytes.fromhex("acc0000000ffffffffffff")), EOLOption(b"\x00\x00"))
    assert (h.flags, h.flag_names, h.data_offset) == (0x090, ["ACK", "CWR"], 12)
    assert build_tcp_options(h.options) == ACCECN_ACK[54:]


def test_sack_blocks() -> None:
    h = parse_tcp(SSH_SACK, 34)
    assert (h.src_port, h.dst_port, h.seq, h.ack, h.flags, h.window, h.checksum) == (22, 62146, 2455222326,
                                                                                    4082238874, 0x010, 340, 0xE1F3)
    assert h.options == (NOPOption(),) * 14 + (SACKOption(((4082238970, 4082238971),)),)
    p = decode(SSH_SACK)
    assert (p.network.dscp, p.network.ecn, p.checksum_ok) == (18, 0, True)
    assert encode(p) == SSH_SACK


def test_unknown_kinds_are_kept_byte_for_byte() -> None:
    p = decode(MPTCP, 113)
    h = p.tcp
    assert h.options == (NOPOption(), NOPOption(), TimestampsOption(2041598247, 805948318),
                         UnknownOption(30, bytes.fromhex("30010a000201f8295862f645df19")),
                         UnknownOption(30, bytes.fromhex("2001d0bd7aef")))
    assert (h.data_offset, h.flags, h.window) == (14, 0x010, 510)
    assert build_tcp_options(h.options) == MPTCP[56:]
    assert encode(p) == MPTCP


def test_unknown_zero_length_kind_and_nonzero_eol_padding() -> None:
    p = decode(ODD_OPTIONS)
    h = p.tcp
    assert h.options == (UnknownOption(161, b""), EOLOption(b"\x0a"))
    assert (h.data_offset, h.flags, h.urgent_pointer, p.network.flags) == (6, 0, 11677, 7)
    assert encode(p) == ODD_OPTIONS


def test_tfo_experimental_cookie_request() -> None:
    h = parse_tcp(TFO_REQUEST, 34)
    assert (h.src_port, h.dst_port, h.seq, h.flags, h.window, h.data_offset) == (13047, 13054, 218476388, 0x002,
                                                                                1400, 6)
    assert h.options == (FastOpenOption(b"", experimental=True),)
    assert h.options[0].kind == 254
    assert build_tcp_options(h.options) == bytes.fromhex("fe04f989")


def test_tfo_experimental_cookie() -> None:
    h = parse_tcp(TFO_COOKIE, 34)
    assert h.options == (FastOpenOption(bytes.fromhex("090909090000"), experimental=True), NOPOption(), NOPOption())
    assert h.flag_names == ["SYN", "ACK"]
    assert decode(TFO_COOKIE).checksum_ok is True  # tshark: cookie 090909090000, checksum Good


def test_tfo_kind_34() -> None:
    opts = bytes.fromhex("020405b4 220a 0102030405060708 0101")
    assert parse_tcp_options(opts, 0, len(opts)) == (MSSOption(1460), FastOpenOption(bytes(range(1, 9))), NOPOption(),
                                                     NOPOption())
    assert parse_tcp_options(b"\x22\x02", 0, 2) == (FastOpenOption(b""),)
    assert FastOpenOption(b"").kind == 34
    assert build_tcp_options((FastOpenOption(bytes(range(1, 9))),), pad=False) == bytes.fromhex("220a0102030405060708")


def test_254_without_the_tfo_magic_is_unknown() -> None:
    assert parse_tcp_options(b"\xfe\x04\xf9\x88", 0, 4) == (UnknownOption(254, b"\xf9\x88"),)


@pytest.mark.parametrize(("data", "option"), [
    (b"\x02\x03\x05", UnknownOption(2, b"\x05")), (b"\x03\x04\x01\x02", UnknownOption(3, b"\x01\x02")),
    (b"\x04\x03\x00", UnknownOption(4, b"\x00")), (b"\x05\x03\x00", UnknownOption(5, b"\x00")),
    (b"\x08\x04\x00\x00", UnknownOption(8, b"\x00\x00")), (b"\x05\x02", SACKOption(())),
])
def test_known_kinds_with_odd_lengths_are_kept(data: bytes, option: object) -> None:
    assert parse_tcp_options(data, 0, len(data)) == (option,)
    assert build_tcp_options((option,), pad=False) == data  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", list(TCPFlags))
def test_each_flag(flag: TCPFlags) -> None:
    seg = bytearray(ACCECN_SYN[34:])
    seg[12] = (seg[12] & 0xF0) | (flag >> 8)
    seg[13] = flag & 0xFF
    h = parse_tcp(bytes(seg))
    assert (h.flags, h.flag_names, h.reserved) == (flag, [flag.name], 0)
    assert build_tcp(h) == bytes(seg)


def test_reserved_bits() -> None:
    seg = bytearray(ACCECN_SYN[34:])
    seg[12] |= 0x0E
    h = parse_tcp(bytes(seg))
    assert (h.reserved, h.flags, h.data_offset) == (7, 0x1C2, 10)
    assert build_tcp(h) == bytes(seg)


def test_flag_names_and_parse_flags() -> None:
    assert flag_names(0x1FF) == ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE"]
    assert [parse_flags(t) for t in ("S", "SA", "FPA", "RA", "U", "E", "C", "X", "N", "")] == [
        0x002, 0x012, 0x019, 0x014, 0x020, 0x040, 0x080, 0x080, 0x100, 0]
    assert [parse_flags(t) for t in ("SYN,ACK", "syn", "NS", "FIN, PSH")] == [0x012, 0x002, 0x100, 0x009]
    with pytest.raises(BuildError) as ei:
        parse_flags("SZ")
    assert str(ei.value) == "TCP flags: unknown letter 'Z' (use F S R P A U E C N)"
    with pytest.raises(BuildError) as ei:
        parse_flags("SYN,BOGUS")
    assert str(ei.value) == ("TCP flags: unknown flag 'BOGUS' (expected one of FIN, SYN, RST, PSH, ACK, URG, ECE, "
                             "CWR, AE)")


def test_build_fills_data_offset_and_checksum() -> None:
    h = parse_tcp(ACCECN_SYNACK, 34)
    src, dst = ACCECN_SYNACK[26:30], ACCECN_SYNACK[30:34]
    fresh = replace(h, data_offset=None, checksum=None)
    assert build_tcp(fresh, src=src, dst=dst) == ACCECN_SYNACK[34:]
    assert (fresh.data_offset, fresh.checksum) == (None, None)  # unchanged
    assert build_tcp(replace(h, checksum=0x1234), src=src, dst=dst, checksum="recompute") == ACCECN_SYNACK[34:]
    assert build_tcp(h)[16:18] == b"\x22\xa8"  # a set checksum is kept and needs no addresses


def test_build_pads_options_with_zeros() -> None:
    seg = build_tcp(TCPHeader(1, 2, options=(WindowScaleOption(7),), checksum=0))
    assert (seg[12] >> 4, seg[20:]) == (6, b"\x03\x03\x07\x00")


def test_build_checksum_needs_addresses() -> None:
    with pytest.raises(BuildError) as ei:
        build_tcp(TCPHeader(1, 2))
    assert str(ei.value) == "TCP: the checksum needs the IP source and destination (pass src= and dst=)"


@pytest.mark.parametrize(("header", "message"), [
    (TCPHeader(65536, 1, checksum=0), "TCP: src_port 65536 does not fit in 16 bits"),
    (TCPHeader(1, 1, seq=1 << 32, checksum=0), "TCP: seq 4294967296 does not fit in 32 bits"),
    (TCPHeader(1, 1, flags=0x200, checksum=0), "TCP: flags 512 does not fit in 9 bits"),
    (TCPHeader(1, 1, reserved=8, checksum=0), "TCP: reserved 8 does not fit in 3 bits"),
    (TCPHeader(1, 1, options=(TimestampsOption(0, 0),) * 5, checksum=0), "TCP: options take 52 bytes (at most 40)"),
    (TCPHeader(1, 1, options=(WindowScaleOption(256),), checksum=0),
     "TCP option WindowScale: shift 256 does not fit in a byte"),
    (TCPHeader(1, 1, options=(SACKOption(((1, 2),) * 5),), checksum=0),
     "TCP option SACK: 5 blocks (at most 4 fit, RFC 2018 §3)"),
    (TCPHeader(1, 1, options=(UnknownOption(99, b"\x00" * 254),), checksum=0),
     "TCP option kind 99: 254 data bytes (at most 253)"),
])
def test_build_errors(header: TCPHeader, message: str) -> None:
    with pytest.raises(BuildError) as ei:
        build_tcp(header)
    assert str(ei.value) == message


def test_truncated_header() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(ACCECN_SYN[:50])
    e = ei.value
    assert (type(e), e.layer, e.offset, e.needed, e.available) == (TruncatedPacketError, "TCP", 34, 20, 16)
    assert str(e) == "TCP at offset 34: header needs 20 bytes, 16 available"
    p = decode(ACCECN_SYN[:50], strict=False)
    assert (p.network is not None, p.transport, p.payload, p.error.offset) == (True, None, ACCECN_SYN[34:50], 34)
    assert encode(p) == ACCECN_SYN[:50]


def test_truncated_options() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(ACCECN_SYN[:70])
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == ("TCP", 34, 40, 36)
    assert str(e) == "TCP at offset 34: header with options needs 40 bytes, 36 available"


def test_data_offset_below_five() -> None:
    frame = ACCECN_SYN[:46] + b"\x41" + ACCECN_SYN[47:]
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert (ei.value.layer, ei.value.offset) == ("TCP", 34)
    assert str(ei.value) == "TCP at offset 34: data offset is 4 words (minimum 5)"
    p = decode(frame, strict=False)
    assert (p.transport, p.payload, str(p.error)) == (None, frame[34:], str(ei.value))
    assert encode(p) == frame


def test_option_without_length_byte() -> None:
    data = b"\x01\x01\x01\x02"
    with pytest.raises(MalformedPacketError) as ei:
        parse_tcp_options(data, 0, 4)
    assert (ei.value.layer, ei.value.offset) == ("TCP", 3)
    assert str(ei.value) == "TCP at offset 3: option kind 2 has no length byte"


@pytest.mark.parametrize(("data", "offset", "message"), [
    (b"\x02\x01\x00\x00", 0, "TCP at offset 0: option kind 2 has length 1 (4 bytes left in the header; minimum 2)"),
    (b"\x01\x08\x0a\x00", 1, "TCP at offset 1: option kind 8 has length 10 (3 bytes left in the header; minimum 2)"),
])
def test_option_bad_length(data: bytes, offset: int, message: str) -> None:
    with pytest.raises(MalformedPacketError) as ei:
        parse_tcp_options(data, 0, 4)
    assert (type(ei.value), ei.value.layer, ei.value.offset, str(ei.value)) == (MalformedPacketError, "TCP", offset,
                                                                                message)


def test_bad_option_in_a_frame_strict_and_lenient() -> None:
    frame = ACCECN_SYN[:55] + b"\x00" + ACCECN_SYN[56:]  # MSS length 0
    with pytest.raises(MalformedPacketError) as ei:
        decode(frame)
    assert str(ei.value) == "TCP at offset 54: option kind 2 has length 0 (20 bytes left in the header; minimum 2)"
    p = decode(frame, strict=False)
    assert (p.transport, p.payload, p.error.offset) == (None, frame[34:], 54)
    assert encode(p) == frame
