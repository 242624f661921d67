"""Link layers from real bytes: Ethernet, 802.1Q, QinQ, Linux SLL and SLL2, BSD null (both byte
orders), DLT_LOOP, raw IPv4/IPv6 (pcap linktypes 1, 113, 276, 0, 108, 101, 228, 229)."""

from __future__ import annotations

import pytest

from rawnet.errors import BuildError, MalformedPacketError, TruncatedPacketError
from rawnet.packet import (EthernetHeader, IPv4Header, IPv6Header, LinkType, NullHeader, SLL2Header, SLLHeader,
                           TCPHeader, UDPHeader, VLANTag, decode, encode)
from rawnet.packet.link import (build_ethernet, build_null, build_sll, build_sll2, parse_ethernet, parse_null,
                                parse_sll, parse_sll2)

from ._corpus import CORPUS, corpus_record

# tfo-5c1fa7f9ae91.pcap record 0: Ethernet / IPv4 / TCP SYN with a TFO cookie request
ETH_TFO = bytes.fromhex(
    "1c7ee54ca1cbb0750c00000108004500002c00060000ff06f4b3c0a800640303030332f732fe0d05af640000000060020578b966"
    "0000fe04f989")
# MSTP_Intra-Region_BPDUs.pcap record 0: 802.1Q tag (priority 7, VLAN 0) over an 802.3 length field
DOT1Q_BPDU = bytes.fromhex(
    "0180c2000000001ef705a8928100e000008942420300000302380000001f27b47d8000030d408000001646b58c8080120100140002"
    "000f0000006000427265776572790000000000000000000000000000000000000000000000000000009357ebb7a8d74dd5fef4f2ba"
    "b50531aa00030d408000001ef705a88014fc6001001ef705a88000000000608014f88002001646b58c8000030d40808014")
# QinQ: 802.1ad S-tag (pcp 5, vid 100) then 802.1Q C-tag (pcp 3, dei 1, vid 200), IPv4 / UDP 5353 > 53
QINQ = bytes.fromhex(
    "02000000000102000000000288a8a064810070c808004500001d000100004011eea7c6120001c612000214e900350009ed9571")
# RADIUS-RFC5580.pcap record 0: Linux cooked v1 on loopback (ARPHRD 772) / IPv4 / UDP to 1812
SLL_RADIUS = bytes.fromhex(
    "00000304000600000000000000000800450000d3990800004011e30f7f0000017f0000019517071400bffed2010200b7c670215681da"
    "366d666794ca6abdb54b7e12306e616d6573706163652054414449477e12316e616d657370616365205245414c4d7e11326e616d6573"
    "7061636520453231327e10336e616d657370616365204943437e14346e616d65737061636520494e56414c49447f1900010000e2b369"
    "6789abcdefe2b4122789abcdef475053800f00016d79206c6f636174696f6e81110000e2b60c6789abcdef746573743181118000e2b6"
    "0c6789abcdef7465737432")
# Linux cooked v2 (ifindex 3, ARPHRD_ETHER, PACKET_OUTGOING) / IPv4 / TCP ACK, as the kernel writes it
SLL2_TCP = bytes.fromhex(
    "080000000000000300010406020000000002000045000028000240004006aea6c6120001c61200029c400016000003e8000007d050"
    "1001f679a80000")
# dns-badcookie.pcap record 0: DLT_NULL, AF_INET in little-endian (host order), IPv4 checksum left 0
NULL_LE = bytes.fromhex(
    "0200000045000044000f0000401100007f0000017f000001d6aa00350030fe43f6ab0120000100000000000100000600010000291000"
    "00000000000c000a000836bf111fef2e0109")
# DLT_NULL written by a big-endian host: AF_INET = 2 as 00 00 00 02
NULL_BE = bytes.fromhex("000000024500001e0003000040117cca7f0000017f00000113881389000a725d6869")
# DLT_LOOP (always network order), AF_INET6 = 24 (OpenBSD) / IPv6 / UDP
LOOP6 = bytes.fromhex(
    "0000001860000000000a1140000000000000000000000000000000010000000000000000000000000000000113881389000a705e6869")
# LINKTYPE_IPV4.pcap and LINKTYPE_IPV6.pcap record 0: raw IP, a DNS query each
RAW4 = bytes.fromhex(
    "45000039000100004011a695c0a80164090909093039003500251976123401000001000000000000076578616d706c6503636f6d0000"
    "010001")
RAW6 = bytes.fromhex(
    "600000000025114020010db8000000000000000000000001262000fe00000000000000000000000930390035002598b3123401000001"
    "000000000000076578616d706c6503636f6d0000010001")


@pytest.mark.parametrize(("name", "index", "frozen"), [
    ("tfo-5c1fa7f9ae91.pcap", 0, ETH_TFO), ("MSTP_Intra-Region_BPDUs.pcap", 0, DOT1Q_BPDU),
    ("RADIUS-RFC5580.pcap", 0, SLL_RADIUS), ("dns-badcookie.pcap", 0, NULL_LE), ("LINKTYPE_IPV4.pcap", 0, RAW4),
    ("LINKTYPE_IPV6.pcap", 0, RAW6),
], ids=["tfo", "mstp", "radius", "dns-badcookie", "linktype-ipv4", "linktype-ipv6"])
def test_frozen_hex_is_the_corpus_record(name: str, index: int, frozen: bytes) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"tcpdump corpus not found at {CORPUS}")
    assert corpus_record(name, index)[0] == frozen


def test_ethernet() -> None:
    h, pos, etype = parse_ethernet(ETH_TFO)
    assert (h.dst, h.src, h.ethertype, h.vlans) == (bytes.fromhex("1c7ee54ca1cb"), bytes.fromhex("b0750c000001"),
                                                     0x0800, ())
    assert (pos, etype, h.header_length) == (14, 0x0800, 14)
    assert build_ethernet(h) == ETH_TFO[:14]
    p = decode(ETH_TFO)
    assert p.link == h
    assert (p.linktype, p.ip_version, p.trailer) == (1, 4, b"")
    assert encode(p) == ETH_TFO


def test_ethernet_at_an_offset() -> None:
    h, pos, etype = parse_ethernet(b"\xff\xff" + ETH_TFO, 2)
    assert (h.src, pos, etype) == (bytes.fromhex("b0750c000001"), 16, 0x0800)


def test_dot1q_over_8023_length() -> None:
    h, pos, etype = parse_ethernet(DOT1Q_BPDU)
    assert (h.dst, h.src) == (bytes.fromhex("0180c2000000"), bytes.fromhex("001ef705a892"))
    assert h.vlans == (VLANTag(tpid=0x8100, pcp=7, dei=0, vid=0),)
    assert (h.ethertype, pos, etype, h.header_length) == (0x0089, 18, 0x0089, 18)
    p = decode(DOT1Q_BPDU)
    assert (p.network, p.transport, p.error) == (None, None, None)
    assert p.payload == DOT1Q_BPDU[18:]
    assert encode(p) == DOT1Q_BPDU


def test_qinq() -> None:
    h, pos, etype = parse_ethernet(QINQ)
    assert h.vlans == (VLANTag(0x88A8, 5, 0, 100), VLANTag(0x8100, 3, 1, 200))
    assert (h.ethertype, pos, etype, h.header_length) == (0x0800, 22, 0x0800, 22)
    assert build_ethernet(h) == QINQ[:22]
    p = decode(QINQ)
    assert p.udp == UDPHeader(5353, 53, 9, 0xED95)
    assert (p.src, p.dst, p.payload, p.checksum_ok, p.ip_checksum_ok) == ("198.18.0.1", "198.18.0.2", b"q", True, True)
    assert encode(p) == QINQ


def test_vlan_tag_range_is_checked_when_built() -> None:
    with pytest.raises(BuildError, match=r"802.1Q: tag .* out of range \(vid 0-4095, pcp 0-7, dei 0-1\)"):
        build_ethernet(EthernetHeader(b"\x00" * 6, b"\x00" * 6, 0x0800, (VLANTag(0x8100, 0, 0, 4096),)))
    with pytest.raises(BuildError, match="^Ethernet: MAC addresses must be 6 bytes$"):
        build_ethernet(EthernetHeader(b"\x00" * 5, b"\x00" * 6, 0x0800))


def test_too_many_vlan_tags() -> None:
    frame = b"\x00" * 12 + b"\x81\x00\x00\x01" * 9 + b"\x08\x00"
    with pytest.raises(MalformedPacketError) as ei:
        parse_ethernet(frame)
    assert (type(ei.value), ei.value.layer, ei.value.offset) == (MalformedPacketError, "802.1Q", 50)
    assert str(ei.value) == "802.1Q at offset 50: more than 8 stacked VLAN tags"


def test_sll() -> None:
    h, pos, etype = parse_sll(SLL_RADIUS)
    assert h == SLLHeader(packet_type=0, arphrd_type=772, address_length=6, address=b"\x00" * 8, protocol=0x0800)
    assert (pos, etype) == (16, 0x0800)
    assert build_sll(h) == SLL_RADIUS[:16]
    p = decode(SLL_RADIUS, LinkType.LINUX_SLL)
    assert (p.linktype, p.src, p.dst) == (113, "127.0.0.1", "127.0.0.1")
    assert p.udp == UDPHeader(src_port=38167, dst_port=1812, length=191, checksum=0xFED2)
    # tshark -o udp.check_checksum:TRUE agrees: udp.checksum.status Bad, ip.checksum.status Good
    assert (p.checksum_ok, p.ip_checksum_ok, len(p.payload), p.payload_len) == (False, True, 183, 183)
    assert encode(p) == SLL_RADIUS


def test_sll2() -> None:
    h, pos, etype = parse_sll2(SLL2_TCP)
    assert h == SLL2Header(protocol=0x0800, reserved=0, interface_index=3, arphrd_type=1, packet_type=4,
                           address_length=6, address=bytes.fromhex("0200000000020000"))
    assert (pos, etype) == (20, 0x0800)
    assert build_sll2(h) == SLL2_TCP[:20]
    p = decode(SLL2_TCP, 276)
    assert p.tcp == TCPHeader(40000, 22, 1000, 2000, 0x010, 502, 0, (), 0, 5, 0x79A8)
    assert (p.checksum_ok, p.ip_checksum_ok, p.payload, p.payload_len) == (True, True, b"", 0)
    assert encode(p) == SLL2_TCP


def test_null_little_endian() -> None:
    h, pos, etype = parse_null(NULL_LE)
    assert (h, pos, etype) == (NullHeader(2, "little"), 4, 0x0800)
    assert build_null(h) == b"\x02\x00\x00\x00"
    p = decode(NULL_LE, LinkType.NULL)
    assert p.network == IPv4Header(b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x01", 17, 64, 15, 0, 0, 0, 0, b"", 4, 5, 68, 0)
    assert p.udp == UDPHeader(54954, 53, 48, 0xFE43)
    # loopback: checksums are never filled in; tshark says Bad for both as well
    assert (p.ip_checksum_ok, p.checksum_ok) == (False, False)
    assert encode(p) == NULL_LE


def test_null_big_endian() -> None:
    h, pos, etype = parse_null(NULL_BE)
    assert (h, pos, etype) == (NullHeader(2, "big"), 4, 0x0800)
    assert build_null(h) == b"\x00\x00\x00\x02"
    p = decode(NULL_BE, 0)
    assert p.udp == UDPHeader(5000, 5001, 10, 0x725D)
    assert (p.payload, p.checksum_ok, p.ip_checksum_ok) == (b"hi", True, True)
    assert encode(p) == NULL_BE


@pytest.mark.parametrize("family", [10, 24, 28, 30])
def test_null_ipv6_families(family: int) -> None:
    frame = family.to_bytes(4, "little") + RAW6
    p = decode(frame, 0)
    assert (p.link, p.ip_version, p.udp) == (NullHeader(family, "little"), 6, UDPHeader(12345, 53, 37, 0x98B3))
    assert encode(p) == frame


def test_null_unknown_family_is_left_undecoded() -> None:
    frame = (7).to_bytes(4, "little") + RAW4
    p = decode(frame, 0)
    assert (p.link, p.network, p.payload, p.error) == (NullHeader(7, "little"), None, RAW4, None)
    assert encode(p) == frame


def test_loop() -> None:
    h, pos, etype = parse_null(LOOP6, loop=True)
    assert (h, pos, etype) == (NullHeader(24, "big"), 4, 0x86DD)
    p = decode(LOOP6, LinkType.LOOP)
    assert (p.linktype, p.src, p.dst) == (108, "::1", "::1")
    assert p.udp == UDPHeader(5000, 5001, 10, 0x705E)
    assert (p.payload, p.checksum_ok) == (b"hi", True)
    assert encode(p) == LOOP6


def test_loop_is_always_network_order() -> None:
    # 02 00 00 00 in DLT_LOOP is family 0x02000000, not AF_INET
    h, _, etype = parse_null(b"\x02\x00\x00\x00", loop=True)
    assert (h, etype) == (NullHeader(0x02000000, "big"), 0)


@pytest.mark.parametrize("linktype", [228, 101, 12, 14])
def test_raw_ipv4(linktype: int) -> None:
    p = decode(RAW4, linktype)
    assert (p.link, p.linktype, p.ip_version, p.src, p.dst) == (None, linktype, 4, "192.168.1.100", "9.9.9.9")
    assert p.udp == UDPHeader(12345, 53, 37, 0x1976)
    assert (p.checksum_ok, p.ip_checksum_ok, len(p.payload)) == (True, True, 29)
    assert encode(p) == RAW4


@pytest.mark.parametrize("linktype", [229, 101])
def test_raw_ipv6(linktype: int) -> None:
    p = decode(RAW6, linktype)
    assert (p.link, p.linktype, p.ip_version, p.src, p.dst) == (None, linktype, 6, "2001:db8::1", "2620:fe::9")
    assert p.udp == UDPHeader(12345, 53, 37, 0x98B3)
    assert (p.checksum_ok, p.ip_checksum_ok, len(p.payload)) == (True, None, 29)
    assert encode(p) == RAW6


def test_raw_with_unknown_version_is_left_undecoded() -> None:
    p = decode(b"\x50\x01\x02", 101)
    assert (p.link, p.network, p.payload, p.error) == (None, None, b"\x50\x01\x02", None)


def test_link_type_from_wire() -> None:
    assert [LinkType.from_wire(n) for n in (0, 1, 101, 108, 113, 228, 229, 276)] == [
        LinkType.NULL, LinkType.ETHERNET, LinkType.RAW, LinkType.LOOP, LinkType.LINUX_SLL, LinkType.IPV4,
        LinkType.IPV6, LinkType.LINUX_SLL2]
    assert LinkType.from_wire(147) is None


@pytest.mark.parametrize(("linktype", "layer", "needed"), [(1, "Ethernet", 14), (113, "SLL", 16), (276, "SLL2", 20),
                                                          (0, "Null", 4), (108, "Null", 4)])
def test_truncated_link_headers(linktype: int, layer: str, needed: int) -> None:
    data = b"\x00" * (needed - 1)
    with pytest.raises(TruncatedPacketError) as ei:
        decode(data, linktype)
    e = ei.value
    assert (e.layer, e.offset, e.needed, e.available) == (layer, 0, needed, needed - 1)
    assert str(e) == f"{layer} at offset 0: header needs {needed} bytes, {needed - 1} available"
    p = decode(data, linktype, strict=False)
    assert (p.link, p.network, p.transport, p.payload) == (None, None, None, data)
    assert (type(p.error), str(p.error)) == (TruncatedPacketError, str(e))
    assert encode(p) == data


def test_truncated_vlan_tag() -> None:
    data = QINQ[:20]
    with pytest.raises(TruncatedPacketError) as ei:
        decode(data)
    assert (ei.value.layer, ei.value.offset, ei.value.needed, ei.value.available) == ("802.1Q", 18, 4, 2)
    assert str(ei.value) == "802.1Q at offset 18: tag needs 4 bytes, 2 available"
    p = decode(data, strict=False)
    assert (p.link, p.payload, str(p.error)) == (None, data, str(ei.value))
    assert encode(p) == data


def test_unknown_linktype() -> None:
    with pytest.raises(MalformedPacketError) as ei:
        decode(b"\x00" * 20, 147)
    assert (ei.value.layer, ei.value.offset) == ("link", 0)
    assert str(ei.value) == "link at offset 0: link type 147 is not decoded by rawnet"
    p = decode(b"\x00" * 20, 147, strict=False)
    assert (p.payload, p.linktype, encode(p)) == (b"\x00" * 20, 147, b"\x00" * 20)


def test_empty_raw_frame() -> None:
    with pytest.raises(TruncatedPacketError) as ei:
        decode(b"", 101)
    assert str(ei.value) == "IP at offset 0: header needs 1 bytes, 0 available"
