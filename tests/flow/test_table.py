"""Conversation table: keys, originator, directions, port reuse, fragments, ICMP echo, expiry."""

from __future__ import annotations

from dataclasses import replace

from rawnet.flow import ConversationTable, flow_record
from rawnet.packet import ICMPMessage, IPv4Header, IPv6Header, Packet, TCPHeader, UDPHeader, decode, encode
from rawnet.packet.craft import CraftSpec, craft, ip_bytes
from rawnet.packet.icmp import echo

C, S = "198.18.0.1", "198.18.0.2"


def tcp(src: str, dst: str, sport: int, dport: int, flags: str, seq: int = 0, ack: int = 0, payload: bytes = b"") -> Packet:
    return decode(encode(craft(CraftSpec("tcp", src, dst, sport, dport, flags, seq, ack, payload=payload))), 228)


def test_two_directions_one_flow_with_originator_first_sender() -> None:
    t = ConversationTable()
    t.add(tcp(C, S, 40000, 80, "S", 100), 1, 1_000, 74)
    t.add(tcp(S, C, 80, 40000, "SA", 500, 101), 2, 2_000, 74)
    t.add(tcp(C, S, 40000, 80, "A", 101, 501), 3, 3_500, 66)
    (f,) = t.flows()
    rec = flow_record(f)
    assert rec == {"proto": "tcp", "src": C, "sport": 40000, "dst": S, "dport": 80, "packets_fwd": 2,
                   "bytes_fwd": 140, "packets_rev": 1, "bytes_rev": 74, "first_ts_ns": 1_000, "last_ts_ns": 3_500}
    assert (f.id, f.first_n, f.last_n, f.syn_seq_a, f.syn_seq_b) == (0, 1, 3, 100, None)


def test_bare_syn_names_the_originator_even_when_seen_second() -> None:
    t = ConversationTable()
    t.add(tcp(S, C, 80, 40000, "RA", 0, 101), 1, 10, 60)  # a stray reset from the server first
    t.add(tcp(C, S, 40000, 80, "S", 100), 2, 20, 74)
    (f,) = t.flows()
    rec = flow_record(f)
    assert (rec["src"], rec["sport"], rec["packets_fwd"], rec["bytes_fwd"], rec["packets_rev"], rec["bytes_rev"]) == (
        C, 40000, 1, 74, 1, 60)


def test_new_syn_with_other_isn_on_same_tuple_starts_a_new_flow() -> None:
    t = ConversationTable()
    t.add(tcp(C, S, 40000, 80, "S", 100), 1, 10, 74)
    t.add(tcp(C, S, 40000, 80, "S", 100), 2, 20, 74)  # retransmitted SYN: same ISN, same flow
    t.add(tcp(S, C, 80, 40000, "RA", 0, 101), 3, 30, 60)
    t.add(tcp(C, S, 40000, 80, "S", 9000), 4, 40, 74)  # reused port: new ISN
    flows = t.flows()
    assert [(f.id, f.packets_fwd, f.packets_rev, f.syn_seq_a, f.first_n) for f in flows] == [
        (0, 2, 1, 100, 1), (1, 1, 0, 9000, 4)]


def test_simultaneous_open_keeps_first_syn_sender_as_originator() -> None:
    t = ConversationTable()
    t.add(tcp(C, S, 5000, 6000, "S", 1), 1, 10, 74)
    t.add(tcp(S, C, 6000, 5000, "S", 2), 2, 11, 74)
    (f,) = t.flows()
    assert (f.a_port, f.syn_seq_a, f.syn_seq_b, f.packets_fwd, f.packets_rev) == (5000, 1, 2, 1, 1)


def test_udp_icmp_echo_and_other_protocols_keys() -> None:
    t = ConversationTable()
    u = decode(encode(craft(CraftSpec("udp", C, S, 5353, 53, payload=b"q"))), 228)
    t.add(u, 1, 1, 50)
    e1 = decode(encode(craft(CraftSpec("icmp", C, S, icmp_id=77, icmp_seq=1))), 228)
    e2 = decode(encode(Packet(None, IPv4Header(ip_bytes(S), ip_bytes(C), 1), echo(77, 1, reply=True))), 228)
    e3 = decode(encode(craft(CraftSpec("icmp", C, S, icmp_id=78, icmp_seq=1))), 228)
    t.add(e1, 2, 2, 42)
    t.add(e2, 3, 3, 42)
    t.add(e3, 4, 4, 42)
    gre = decode(encode(Packet(None, IPv4Header(ip_bytes(S), ip_bytes(C), 47), None, b"\x00" * 4)), 228)
    t.add(gre, 5, 5, 24)
    recs = [flow_record(f) for f in t.flows()]
    assert [(r["proto"], r["src"], r["sport"], r["dport"], r.get("icmp_id"), r["packets_fwd"], r["packets_rev"])
            for r in recs] == [("udp", C, 5353, 53, None, 1, 0), ("icmp", C, None, None, 77, 1, 1),
                               ("icmp", C, None, None, 78, 1, 0), (47, S, None, None, None, 1, 0)]


def _frag(payload_total: bytes, offset8: int, chunk: bytes, mf: bool, ident: int = 4242) -> Packet:
    h = IPv4Header(ip_bytes(C), ip_bytes(S), 17, identification=ident, flags=1 if mf else 0, fragment_offset=offset8)
    return decode(encode(Packet(None, h, None, chunk)), 228)


def test_ipv4_fragments_follow_their_first_fragment_even_out_of_order() -> None:
    udp = encode(Packet(None, IPv4Header(ip_bytes(C), ip_bytes(S), 17), UDPHeader(7000, 9000), b"x" * 3000))[20:]
    first, second, third = udp[:1480], udp[1480:2960], udp[2960:]
    t = ConversationTable()
    t.add(_frag(udp, 185, second, True), 1, 10, 1514)   # arrives before the first fragment
    t.add(_frag(udp, 0, first, True), 2, 11, 1514)
    t.add(_frag(udp, 370, third, False), 3, 12, 82)
    t.finish()
    (f,) = t.flows()
    assert (f.proto, f.a_port, f.b_port, f.packets_fwd, f.bytes_fwd, f.first_ts_ns, f.last_ts_ns) == (
        17, 7000, 9000, 3, 1514 * 2 + 82, 10, 12)


def test_fragment_without_first_goes_to_address_pair_flow() -> None:
    t = ConversationTable()
    t.add(_frag(b"", 100, b"y" * 64, False, ident=9), 1, 5, 98)
    t.finish()
    (f,) = t.flows()
    assert (f.proto, f.a_port, f.b_port, f.packets_fwd) == (17, None, None, 1)


def test_ipv6_flow_and_non_ip_counted_apart() -> None:
    t = ConversationTable()
    p6 = decode(encode(craft(CraftSpec("tcp", "fd00::1", "fd00::2", 1, 2, "S", 5))), 229)
    assert t.add(p6, 1, 1, 94) is not None
    assert t.add(decode(b"\x00" * 14 + b"\x08\x06" + b"\x00" * 28, 1, strict=False), 2, 2, 60) is None
    assert t.non_ip == 1
    assert flow_record(t.flows()[0])["src"] == "fd00::1"


def test_expire_retires_idle_flows_only() -> None:
    t = ConversationTable()
    t.add(tcp(C, S, 1, 2, "S", 1), 1, 0, 60)
    t.add(tcp(C, S, 3, 4, "S", 1), 2, 50, 60)
    gone = t.expire(100, idle_ns=60)
    assert [f.a_port for f in gone] == [1]
    assert t.lookup(6, ip_bytes(C), 3, ip_bytes(S), 4) is not None
    assert t.lookup(6, ip_bytes(C), 1, ip_bytes(S), 2) is None
    assert [f.a_port for f in t.flows()] == [1, 3]


def test_lookup_is_direction_independent() -> None:
    t = ConversationTable()
    t.add(tcp(C, S, 1, 2, "S", 1), 1, 0, 60)
    f1 = t.lookup(6, ip_bytes(C), 1, ip_bytes(S), 2)
    f2 = t.lookup(6, ip_bytes(S), 2, ip_bytes(C), 1)
    assert f1 is f2 is t.flows()[0]


def test_add_does_not_change_the_packet() -> None:
    p = tcp(C, S, 1, 2, "S", 1)
    before = encode(p)
    ConversationTable().add(p, 1, 0, 60)
    assert encode(p) == before
    assert isinstance(p.transport, TCPHeader) and p.transport == replace(p.transport)
    assert isinstance(IPv6Header, type) and isinstance(ICMPMessage, type)
