"""The scapy bridge: ``to_scapy(p)`` is scapy's view of ``encode(p)`` rooted at the right layer, and
``from_scapy(s)`` is ``decode(bytes(s), linktype)``."""

from __future__ import annotations

import pytest

from rawnet.errors import BuildError
from rawnet.packet import Packet, decode, encode
from rawnet.packet.scapy_bridge import from_scapy, to_scapy

from .test_icmp import PACKET_TOO_BIG6, PORT_UNREACH4
from .test_link import LOOP6, NULL_BE, NULL_LE, QINQ, RAW4, RAW6, SLL2_TCP, SLL_RADIUS
from .test_tcp import ACCECN_SYNACK

pytest.importorskip("scapy")

CASES = [
    (ACCECN_SYNACK, 1, ["Ether", "IP", "TCP"]),
    (QINQ, 1, ["Ether", "Dot1AD", "Dot1Q", "IP", "UDP"]),
    (PORT_UNREACH4, 1, ["Ether", "IP", "ICMP", "IPerror", "UDPerror"]),
    (PACKET_TOO_BIG6, 1, ["Ether", "IPv6", "ICMPv6PacketTooBig", "IPerror6", "TCPerror"]),
    (SLL_RADIUS, 113, ["CookedLinux", "IP", "UDP"]),
    (SLL2_TCP, 276, ["CookedLinuxV2", "IP", "TCP"]),
    (NULL_LE, 0, ["Loopback", "IP", "UDP"]),
    (NULL_BE, 0, ["LoopbackOpenBSD", "IP", "UDP"]),
    # scapy binds IPv6 under its loopback layers only for AF_INET6 of the running OS (10 on Linux), so
    # OpenBSD's 24 dissects as Raw there: the bytes are still right
    (LOOP6, 108, ["LoopbackOpenBSD", "Raw"]),
    (RAW4, 228, ["IP", "UDP"]),
    (RAW6, 229, ["IPv6", "UDP"]),
    (RAW4, 101, ["IP", "UDP"]),
]
IDS = ["eth-tcp", "qinq", "icmp-quote", "icmpv6-quote", "sll", "sll2", "null-le", "null-be", "loop", "raw4", "raw6",
       "raw101"]


def _layers(s: object) -> list[str]:
    names = []
    layer = s
    while layer is not None and type(layer).__name__ != "NoPayload":
        names.append(type(layer).__name__)
        layer = layer.payload  # type: ignore[attr-defined]
    return names


@pytest.mark.parametrize(("frame", "linktype", "layers"), CASES, ids=IDS)
def test_to_scapy(frame: bytes, linktype: int, layers: list[str]) -> None:
    p = decode(frame, linktype)
    s = to_scapy(p)
    assert bytes(s) == encode(p) == frame
    assert _layers(s)[:len(layers)] == layers  # above the transport, scapy's choice depends on what it loaded


@pytest.mark.parametrize(("frame", "linktype", "layers"), CASES, ids=IDS)
def test_from_scapy_round_trip(frame: bytes, linktype: int, layers: list[str]) -> None:
    p = decode(frame, linktype)
    q = from_scapy(to_scapy(p))
    # raw IP comes back as linktype 228/229 (scapy's IP/IPv6 carry no pcap link type); NULL written in
    # network order comes back as DLT_LOOP (scapy's LoopbackOpenBSD), with the same header
    expected_lt = {101: 228 if p.ip_version == 4 else 229}.get(linktype, linktype)
    if layers[0] == "LoopbackOpenBSD":
        expected_lt = 108
    assert q == Packet(p.link, p.network, p.transport, p.payload, p.trailer, expected_lt, p.error, p.checksum_ok,
                       p.ip_checksum_ok, p.ip_payload_length, p.quoted)
    assert encode(q) == frame


def test_fields_seen_by_scapy() -> None:
    s = to_scapy(decode(ACCECN_SYNACK))
    from scapy.layers.inet import IP, TCP

    assert (s[IP].src, s[IP].dst, s[TCP].sport, s[TCP].dport, s[TCP].seq, s[TCP].ack) == (
        "66.228.43.12", "31.133.146.248", 80, 16433, 2972234643, 1948076590)
    assert (str(s[TCP].flags), s[TCP].window, s[TCP].chksum) == ("SAC", 65160, 0x22A8)


def test_from_scapy_built_packet() -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    s = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="198.18.0.1", dst="198.18.0.2") / TCP(
        sport=1234, dport=80, flags="S", options=[("MSS", 1460)])
    p = from_scapy(s)
    assert (p.linktype, p.src, p.dst, p.tcp.src_port, p.tcp.dst_port, p.tcp.flag_names) == (
        1, "198.18.0.1", "198.18.0.2", 1234, 80, ["SYN"])
    assert (p.checksum_ok, p.ip_checksum_ok, encode(p)) == (True, True, bytes(s))


def test_from_scapy_lenient() -> None:
    from scapy.layers.inet import IP
    from scapy.packet import Raw

    s = IP(src="198.18.0.1", dst="198.18.0.2", proto=6) / Raw(b"\x00\x01")
    with pytest.raises(Exception) as ei:
        from_scapy(s)
    assert str(ei.value) == "TCP at offset 20: header needs 20 bytes, 2 available"
    p = from_scapy(s, strict=False)
    assert (p.transport, p.payload, encode(p)) == (None, b"\x00\x01", bytes(s))


def test_from_scapy_unknown_first_layer() -> None:
    from scapy.layers.l2 import ARP

    with pytest.raises(BuildError) as ei:
        from_scapy(ARP())
    assert str(ei.value) == ("from_scapy: a packet starting with ARP has no pcap link type rawnet decodes "
                             "(Ether, CookedLinux, CookedLinuxV2, Loopback, LoopbackOpenBSD, IP, IPv6)")
