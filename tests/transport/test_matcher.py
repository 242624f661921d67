"""The reply matcher, pure: pairing rules and the explanation for every kind of mismatch."""

from __future__ import annotations

from rawnet.packet import decode, encode
from rawnet.packet.craft import CraftSpec, craft
from rawnet.testing import ADMIN_PROHIBITED, PORT_UNREACH, echo_reply, icmp_error, rst, syn_ack
from rawnet.transport.matcher import Match, Mismatch, MismatchRule, Probe, ReplyKind, ReplyMatcher

US, THEM = "198.18.0.1", "198.18.0.2"


def syn(dport: int = 80, sport: int = 40000, seq: int = 100, src: str = US, dst: str = THEM):
    probe = Probe("tcp", src, dst, sport, dport, seq=seq)
    pkt = decode(encode(craft(CraftSpec("tcp", src, dst, sport, dport, "S", seq))), 101)
    return probe, pkt


def tcp_reply(flags: str, *, src: str = THEM, dst: str = US, sport: int = 80, dport: int = 40000, seq: int = 7,
              ack: int = 101):
    return decode(encode(craft(CraftSpec("tcp", src, dst, sport, dport, flags, seq, ack))), 101)


def test_syn_ack_pairs_with_rtt_and_ttl() -> None:
    m = ReplyMatcher()
    probe, sent = syn()
    m.add_probe(probe, 1_000)
    r = m.match(decode(syn_ack(sent, ttl=61), 101), 5_000)
    assert isinstance(r, Match)
    assert (r.kind, r.rtt_ns, r.reply_ttl, r.sender, r.probe) == (ReplyKind.SYN_ACK, 4_000, 61, THEM, probe)
    assert m.outstanding == {}


def test_rst_ack_pairs_as_reset() -> None:
    m = ReplyMatcher()
    probe, sent = syn()
    m.add_probe(probe, 0)
    r = m.match(decode(rst(sent), 101), 10)
    assert isinstance(r, Match) and r.kind == ReplyKind.RESET


def test_bare_rst_accepted_and_syn_is_simultaneous_open() -> None:
    m = ReplyMatcher()
    p1, _ = syn(dport=80)
    p2, _ = syn(dport=81)
    m.add_probe(p1, 0)
    m.add_probe(p2, 0)
    r1 = m.match(tcp_reply("R", ack=0), 1)
    r2 = m.match(tcp_reply("S", sport=81, ack=0), 2)
    assert isinstance(r1, Match) and r1.kind == ReplyKind.RESET
    assert isinstance(r2, Match) and r2.kind == ReplyKind.SYN


def test_wrong_ack_is_explained_with_offset() -> None:
    m = ReplyMatcher()
    probe, sent = syn(seq=100)
    m.add_probe(probe, 0)
    r = m.match(tcp_reply("SA", ack=105), 1)
    assert isinstance(r, Mismatch)
    assert r.rule == MismatchRule.ACK
    assert r.explanation == ("SYN/ACK acknowledges 105, but our SYN had seq 100 so it must acknowledge 101 "
                             "(off by 4)")
    assert probe.key() in m.outstanding  # still waiting for the right answer


def test_rst_with_wrong_ack() -> None:
    m = ReplyMatcher()
    probe, sent = syn(seq=100)
    m.add_probe(probe, 0)
    r = m.match(decode(rst(sent, ack_offset=3), 101), 1)
    assert isinstance(r, Mismatch) and r.rule == MismatchRule.ACK and "off by 2" in r.explanation


def test_ports_not_swapped() -> None:
    m = ReplyMatcher()
    probe, _ = syn()
    m.add_probe(probe, 0)
    r = m.match(tcp_reply("SA", sport=40000, dport=80), 1)
    assert isinstance(r, Mismatch)
    assert r.rule == MismatchRule.PORTS_NOT_SWAPPED
    assert "must go 80>40000" in r.explanation


def test_reply_from_other_address_names_it() -> None:
    m = ReplyMatcher()
    probe, _ = syn()
    m.add_probe(probe, 0)
    r = m.match(tcp_reply("SA", src="198.18.0.9"), 1)
    assert isinstance(r, Mismatch)
    assert r.rule == MismatchRule.ADDRESS
    assert "comes from 198.18.0.9, not 198.18.0.2" in r.explanation


def test_kernel_rst_is_own_packet_not_a_reply() -> None:
    m = ReplyMatcher()
    probe, _ = syn()
    m.add_probe(probe, 0)
    kernel_rst = tcp_reply("R", src=US, dst=THEM, sport=40000, dport=80, seq=101, ack=0)
    r = m.match(kernel_rst, 1)
    assert isinstance(r, Mismatch)
    assert r.rule == MismatchRule.OWN_PACKET
    assert "our kernel answering the target's SYN/ACK" in r.explanation
    assert probe.key() in m.outstanding


def test_loopback_target_still_pairs() -> None:
    m = ReplyMatcher()
    probe, sent = syn(src="127.0.0.1", dst="127.0.0.1")
    m.add_probe(probe, 0)
    own = m.match(sent, 1)  # on lo our own SYN comes back in
    assert isinstance(own, Mismatch) and own.rule == MismatchRule.OWN_PACKET
    r = m.match(decode(syn_ack(sent), 101), 2)
    assert isinstance(r, Match) and r.kind == ReplyKind.SYN_ACK


def test_duplicate_and_late() -> None:
    m = ReplyMatcher(timeout_ns=100)
    probe, sent = syn()
    m.add_probe(probe, 0)
    assert isinstance(m.match(decode(syn_ack(sent), 101), 10), Match)
    dup = m.match(decode(syn_ack(sent), 101), 20)
    assert isinstance(dup, Mismatch) and dup.rule == MismatchRule.DUPLICATE
    p2, sent2 = syn(dport=81)
    m.add_probe(p2, 0)
    assert m.next_deadline() == 100
    assert m.expire(99) == []
    assert m.expire(100) == [p2]
    late = m.match(decode(rst(sent2), 101), 250)
    assert isinstance(late, Mismatch) and late.rule == MismatchRule.LATE
    assert "arrived 0.0 ms after it, past the 0 ms timeout" in late.explanation


def test_icmp_error_pairs_by_quoted_header_from_a_router() -> None:
    m = ReplyMatcher()
    probe, sent = syn()
    m.add_probe(probe, 0)
    r = m.match(decode(icmp_error(sent, ADMIN_PROHIBITED[4], sender="198.18.9.1"), 101), 3)
    assert isinstance(r, Match)
    assert (r.kind, r.sender, r.packet.icmp.code) == (ReplyKind.ICMP_ERROR, "198.18.9.1", 13)


def test_icmp_error_with_wrong_quoted_seq() -> None:
    m = ReplyMatcher()
    probe, _ = syn(seq=100)
    m.add_probe(probe, 0)
    _, other = syn(seq=555)
    r = m.match(decode(icmp_error(other, PORT_UNREACH[4]), 101), 3)
    assert isinstance(r, Mismatch) and r.rule == MismatchRule.QUOTED_SEQ


def test_icmp_error_quoting_someone_else() -> None:
    m = ReplyMatcher()
    probe, _ = syn()
    m.add_probe(probe, 0)
    _, foreign = syn(src="198.18.0.7")
    r = m.match(decode(icmp_error(foreign, PORT_UNREACH[4]), 101), 3)
    assert isinstance(r, Mismatch) and r.rule == MismatchRule.UNRELATED
    assert "quotes a packet 198.18.0.7 > 198.18.0.2 that we did not send" in r.explanation


def echo(seq: int, ident: int = 9, src: str = US, dst: str = THEM):
    return (Probe("icmp", src, dst, icmp_id=ident, icmp_seq=seq),
            decode(encode(craft(CraftSpec("icmp", src, dst, icmp_id=ident, icmp_seq=seq))), 101))


def test_echo_reply_rules() -> None:
    m = ReplyMatcher()
    probe, sent = echo(1)
    m.add_probe(probe, 0)
    assert isinstance(m.match(decode(echo_reply(sent), 101), 5), Match)
    _, other_id = echo(1, ident=10)
    r = m.match(decode(echo_reply(other_id), 101), 6)
    assert isinstance(r, Mismatch) and r.rule == MismatchRule.ICMP_ID and "id 10 is not ours" in r.explanation
    _, other_seq = echo(7)
    r = m.match(decode(echo_reply(other_seq), 101), 6)
    assert isinstance(r, Mismatch) and r.rule == MismatchRule.ICMP_SEQ


def test_ipv6_echo_and_port_unreachable() -> None:
    m = ReplyMatcher()
    probe, sent = echo(3, src="fd00::1", dst="fd00::2")
    m.add_probe(probe, 0)
    r = m.match(decode(echo_reply(sent), 101), 5)
    assert isinstance(r, Match) and r.kind == ReplyKind.ECHO_REPLY
    p2, sent2 = syn(src="fd00::1", dst="fd00::2")
    m.add_probe(p2, 0)
    r2 = m.match(decode(icmp_error(sent2, PORT_UNREACH[6]), 101), 7)
    assert isinstance(r2, Match) and (r2.packet.icmp.type, r2.packet.icmp.code) == (1, 4)


def test_not_ip() -> None:
    r = ReplyMatcher().match(decode(b"\x00" * 20, 1, strict=False), 0)
    assert isinstance(r, Mismatch) and r.rule == MismatchRule.NOT_IP
