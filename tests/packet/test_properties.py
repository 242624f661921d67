"""hypothesis properties of the codec (STYLE.md §8): build/parse round trips per layer and for
whole stacks, decode-or-DecodeError on arbitrary bytes, lenient decoding that loses nothing,
single-bit flips that checksums catch, and encoding that never changes its input."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawnet.errors import BuildError, DecodeError
from rawnet.packet import (ICMPMessage, IPv4Header, IPv6Header, LinkType, Packet, TCPHeader, UDPHeader, build_icmp,
                           build_ipv4, build_ipv6, build_tcp, build_udp, decode, encode, parse_icmp, parse_ipv4,
                           parse_ipv6, parse_tcp, parse_udp)
from rawnet.packet.link import (build_ethernet, build_null, build_sll, build_sll2, parse_ethernet, parse_null,
                                parse_sll, parse_sll2)
from rawnet.packet.tcp import build_tcp_options

from strategies import (ethernet_headers, icmp_messages, icmpv6_messages, ipv4_addr, ipv4_headers, ipv6_addr,
                        ipv6_headers, null_headers, sll2_headers, sll_headers, tcp_headers, udp_headers)

LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]
payloads = st.binary(max_size=64)
SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------- per layer

@SETTINGS
@given(tcp_headers, payloads, ipv4_addr, ipv4_addr)
def test_tcp_round_trip(h: TCPHeader, payload: bytes, src: bytes, dst: bytes) -> None:
    wire = build_tcp(h, payload, src=src, dst=dst)
    parsed = parse_tcp(wire)
    doff = 5 + len(build_tcp_options(h.options)) // 4
    assert parsed == replace(h, data_offset=doff, checksum=int.from_bytes(wire[16:18], "big"))
    assert wire[doff * 4:] == payload


@SETTINGS
@given(udp_headers, payloads, ipv6_addr, ipv6_addr)
def test_udp_round_trip(h: UDPHeader, payload: bytes, src: bytes, dst: bytes) -> None:
    wire = build_udp(h, payload, src=src, dst=dst)
    assert parse_udp(wire) == replace(h, length=8 + len(payload), checksum=int.from_bytes(wire[6:8], "big"))


@SETTINGS
@given(ipv4_headers, payloads)
def test_ipv4_round_trip(h: IPv4Header, payload: bytes) -> None:
    wire = build_ipv4(h, payload)
    ihl = 5 + len(h.options) // 4
    assert parse_ipv4(wire) == replace(h, ihl=ihl, total_length=ihl * 4 + len(payload),
                                       checksum=int.from_bytes(wire[10:12], "big"))
    assert wire[ihl * 4:] == payload


@SETTINGS
@given(ipv6_headers(), payloads)
def test_ipv6_round_trip(h: IPv6Header, payload: bytes) -> None:
    wire = build_ipv6(h, payload)
    assert parse_ipv6(wire) == replace(h, payload_length=len(wire) - 40)


@SETTINGS
@given(icmp_messages)
def test_icmp_round_trip(m: ICMPMessage) -> None:
    wire = build_icmp(m)
    assert parse_icmp(wire) == replace(m, checksum=int.from_bytes(wire[2:4], "big"))


@SETTINGS
@given(icmpv6_messages, ipv6_addr, ipv6_addr)
def test_icmpv6_round_trip(m: ICMPMessage, src: bytes, dst: bytes) -> None:
    wire = build_icmp(m, src=src, dst=dst)
    assert parse_icmp(wire, version=6) == replace(m, checksum=int.from_bytes(wire[2:4], "big"))


@SETTINGS
@given(ethernet_headers, sll_headers, sll2_headers, null_headers)
def test_link_round_trips(eth, sll, sll2, null) -> None:  # type: ignore[no-untyped-def]
    assert parse_ethernet(build_ethernet(eth))[0] == eth
    assert parse_sll(build_sll(sll))[0] == sll
    assert parse_sll2(build_sll2(sll2))[0] == sll2
    loop = null.byte_order == "big"
    assert parse_null(build_null(null), loop=loop)[0] == null


# ------------------------------------------------------------------------------------- whole stacks

@st.composite
def packets(draw: st.DrawFn) -> Packet:
    """Return a Packet with every computed field None: link x IPv4/IPv6 x TCP/UDP/ICMP x payload."""
    v6 = draw(st.booleans())
    kind = draw(st.sampled_from(("tcp", "udp", "icmp")))
    proto = {"tcp": 6, "udp": 17, "icmp": 58 if v6 else 1}[kind]
    if v6:
        network: IPv4Header | IPv6Header = draw(ipv6_headers(st.just(proto)))
    else:
        network = replace(draw(ipv4_headers), protocol=proto, flags=draw(st.sampled_from((0, 2))),
                          fragment_offset=0)
    payload = draw(payloads)
    transport: TCPHeader | UDPHeader | ICMPMessage
    if kind == "tcp":
        transport = draw(tcp_headers)
    elif kind == "udp":
        transport = draw(udp_headers)
    else:
        transport = replace(draw(icmpv6_messages if v6 else icmp_messages), type=draw(st.sampled_from((0, 8, 128))))
        transport = replace(transport, body=transport.body + payload)
        payload = b""
    etype = 0x86DD if v6 else 0x0800
    linktype = draw(st.sampled_from((1, 113, 276, 0, 108, 101, 228 + v6)))
    link = {1: replace(draw(ethernet_headers), ethertype=etype),
            113: replace(draw(sll_headers), protocol=etype),
            276: replace(draw(sll2_headers), protocol=etype),
            0: replace(draw(null_headers), family=30 if v6 else 2, byte_order="little"),
            108: replace(draw(null_headers), family=24 if v6 else 2, byte_order="big")}.get(linktype)
    return Packet(link, network, transport, payload, b"", linktype)


def _filled(p: Packet, q: Packet) -> Packet:
    """Return ``p`` with the computed fields taken from ``q`` (the decoded packet)."""
    net, t = p.network, p.transport
    if isinstance(net, IPv4Header):
        net = replace(net, ihl=q.network.ihl, total_length=q.network.total_length, checksum=q.network.checksum)
    else:
        net = replace(net, payload_length=q.network.payload_length)
    if isinstance(t, TCPHeader):
        t = replace(t, data_offset=q.transport.data_offset, checksum=q.transport.checksum)
    elif isinstance(t, UDPHeader):
        t = replace(t, length=q.transport.length, checksum=q.transport.checksum)
    else:
        t = replace(t, checksum=q.transport.checksum)
    return replace(p, network=net, transport=t)


@SETTINGS
@given(packets())
def test_stack_round_trip(p: Packet) -> None:
    wire = encode(p)
    q = decode(wire, p.linktype)
    whole = not p.network.is_fragment  # a fragment's transport checksum covers bytes not in it
    assert (q.error, q.checksum_ok, q.ip_checksum_ok) == (None, True if whole else None,
                                                          True if p.ip_version == 4 else None)
    assert dataclasses.replace(q, quoted=None, ip_payload_length=None, checksum_ok=None, ip_checksum_ok=None) == \
        _filled(p, q)
    assert encode(q) == wire
    assert encode(q, checksums="recompute") == wire


# ------------------------------------------------------------------------------------- arbitrary bytes

def _decode_or_decode_error(data: bytes, linktype: int) -> None:
    try:
        p = decode(data, linktype)
    except DecodeError:
        pass
    else:
        assert isinstance(p, Packet)
        assert encode(p) == data
    q = decode(data, linktype, strict=False)  # never raises
    assert isinstance(q, Packet)
    assert encode(q) == data


@settings(max_examples=500)
@given(st.binary(max_size=200), st.sampled_from(LINKTYPES))
def test_arbitrary_bytes(data: bytes, linktype: int) -> None:
    _decode_or_decode_error(data, linktype)


# prefixes that reach the deeper parsers, so random bytes exercise IP options, extension chains,
# TCP options and ICMP quotes rather than dying in the link layer
_PREFIXES = [
    bytes.fromhex("45"), bytes.fromhex("4f00"), bytes.fromhex("450000000000000040 06"),
    bytes.fromhex("4500000000000000 4001 0000 01020304 05060708"),
    bytes.fromhex("4500000000000000 4006 0000 01020304 05060708 0001 0002 00000000 00000000"),
    bytes.fromhex("4500000000000000 4011 0000 01020304 05060708"),
    bytes.fromhex("60000000 0000 00 40") + b"\x01" * 32, bytes.fromhex("60000000 0000 2c 40") + b"\x01" * 32,
    bytes.fromhex("60000000 0000 3a 40") + b"\x01" * 32 + b"\x01\x00",
    bytes.fromhex("60000000 0000 06 40") + b"\x01" * 32 + bytes.fromhex("0001000200000000 00000000"),
]


@settings(max_examples=1000)
@given(st.sampled_from(_PREFIXES), st.binary(max_size=120), st.booleans())
def test_arbitrary_bytes_after_ip_prefix(prefix: bytes, tail: bytes, v4_total_from_frame: bool) -> None:
    data = prefix + tail
    _decode_or_decode_error(data, 101)
    _decode_or_decode_error(bytes(12) + b"\x08\x00" + data, 1)


@settings(max_examples=300)
@given(packets(), st.data())
def test_mutated_valid_packets(p: Packet, data: st.DataObject) -> None:
    wire = bytearray(encode(p))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    _decode_or_decode_error(bytes(wire[:cut]), p.linktype)


# ------------------------------------------------------------------------------------- checksums

@st.composite
def segments(draw: st.DrawFn) -> Packet:
    """Return a raw-IP packet (IPv4 or IPv6) carrying a TCP or UDP segment."""
    v6 = draw(st.booleans())
    tcp = draw(st.booleans())
    proto = 6 if tcp else 17
    if v6:
        network: IPv4Header | IPv6Header = IPv6Header(draw(ipv6_addr), draw(ipv6_addr), proto)
    else:
        network = IPv4Header(draw(ipv4_addr), draw(ipv4_addr), proto)
    transport = draw(tcp_headers) if tcp else draw(udp_headers)
    return Packet(None, network, transport, draw(payloads), b"", 229 if v6 else 228)


@SETTINGS
@given(segments(), st.data())
def test_single_bit_flip_is_caught(p: Packet, data: st.DataObject) -> None:
    wire = encode(p)
    assert decode(wire, p.linktype).checksum_ok is True
    hlen = p.network.header_length
    bit = data.draw(st.integers(0, (len(wire) - hlen) * 8 - 1))
    flipped = bytearray(wire)
    flipped[hlen + bit // 8] ^= 0x80 >> (bit % 8)
    try:
        q = decode(bytes(flipped), p.linktype)
    except DecodeError:
        return
    assert q.checksum_ok is not True


# ------------------------------------------------------------------------------------- no mutation

@SETTINGS
@given(packets())
def test_encode_never_changes_its_input(p: Packet) -> None:
    before = copy.deepcopy(p)
    first = encode(p)
    assert p == before
    encode(p, checksums="recompute")
    assert p == before
    assert encode(p) == first


@SETTINGS
@given(packets())
def test_decode_copies_mutable_input(p: Packet) -> None:
    wire = encode(p)
    buf = bytearray(wire)
    q = decode(buf, p.linktype)
    r = decode(memoryview(bytes(wire)), p.linktype)
    assert buf == wire
    for i in range(len(buf)):
        buf[i] ^= 0xFF
    assert (encode(q), encode(r), q == r) == (wire, wire, True)
    assert all(type(v) is bytes for v in (q.payload, q.trailer, q.network.src, q.network.dst))


def test_builders_do_not_mutate_payload_buffers() -> None:
    payload = bytearray(b"hello")
    src, dst = b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"
    seg = build_tcp(TCPHeader(1, 2), payload, src=src, dst=dst)  # type: ignore[arg-type]
    build_udp(UDPHeader(1, 2), payload, src=src, dst=dst)  # type: ignore[arg-type]
    build_ipv4(IPv4Header(src, dst, 6), seg)
    assert payload == b"hello"
    payload[0] = 0
    assert seg[20:] == b"hello"


@pytest.mark.parametrize("obj", [
    TCPHeader(1, 2), UDPHeader(1, 2), IPv4Header(b"\x00" * 4, b"\x00" * 4, 6), ICMPMessage(8, 0),
    IPv6Header(b"\x00" * 16, b"\x00" * 16, 6), Packet(),
], ids=lambda o: type(o).__name__)
def test_headers_are_frozen(obj: object) -> None:
    field = dataclasses.fields(obj)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, field, 1)


def test_build_error_is_a_value_error() -> None:
    assert (issubclass(BuildError, ValueError), issubclass(DecodeError, ValueError)) == (True, True)


def test_linktype_enum_covers_the_decoded_linktypes() -> None:
    assert sorted(int(x) for x in LinkType) == [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]
