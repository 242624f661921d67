"""interpret_handshake is pure: a ladder with both endpoints' RFC 9293 states from captured packets."""

from __future__ import annotations

from rawnet.diag.connect import Captured, rx_filter_ok
from rawnet.diag.handshake import EndpointState as S
from rawnet.diag.handshake import HandshakeVerdict, interpret_handshake
from rawnet.packet import decode, encode
from rawnet.packet.craft import CraftSpec, craft
from rawnet.testing import icmp_error

C, V = "198.18.0.1", "198.18.0.2"


def seg(frm_client: bool, flags: str, seq: int, ack: int = 0, data: bytes = b"") -> Captured:
    src, dst, sp, dp = (C, V, 40000, 80) if frm_client else (V, C, 80, 40000)
    p = decode(encode(craft(CraftSpec("tcp", src, dst, sp, dp, flags, seq, ack, payload=data))), 101)
    return Captured(0, p, frm_client)


def ladder(*caps: Captured):
    timed = [Captured(i * 1000, c.packet, c.outgoing) for i, c in enumerate(caps)]
    return interpret_handshake(timed, client=(C, 40000), server=(V, 80))


def test_full_connection_client_closes_first() -> None:
    rep = ladder(seg(True, "S", 100), seg(False, "SA", 500, 101), seg(True, "A", 101, 501),
                 seg(True, "PA", 101, 501, b"GET"), seg(False, "PA", 501, 104, b"OK!!"),
                 seg(True, "FA", 104, 505), seg(False, "A", 505, 105), seg(False, "FA", 505, 105),
                 seg(True, "A", 105, 506))
    assert [(r.label, r.client, r.server) for r in rep.rows] == [
        ("SYN seq=0", S.SYN_SENT, S.LISTEN),
        ("SYN/ACK seq=0 ack=1", S.ESTABLISHED, S.SYN_RECEIVED),
        ("ACK seq=1 ack=1", S.ESTABLISHED, S.ESTABLISHED),
        ("PSH/ACK seq=1 ack=1 len=3", S.ESTABLISHED, S.ESTABLISHED),
        ("PSH/ACK seq=1 ack=4 len=4", S.ESTABLISHED, S.ESTABLISHED),
        ("FIN/ACK seq=4 ack=5", S.FIN_WAIT_1, S.CLOSE_WAIT),
        ("ACK seq=5 ack=5", S.FIN_WAIT_2, S.CLOSE_WAIT),
        ("FIN/ACK seq=5 ack=5", S.TIME_WAIT, S.LAST_ACK),
        ("ACK seq=5 ack=6", S.TIME_WAIT, S.CLOSED),
    ]
    assert rep.verdict == HandshakeVerdict.COMPLETED
    t = rep.timings
    assert (t.syn_to_synack_ns, t.synack_to_ack_ns, t.syn_to_first_data_ns, t.request_to_response_ns,
            t.close_ns) == (1000, 1000, 3000, 1000, 3000)


def test_simultaneous_close_goes_through_closing() -> None:
    rep = ladder(seg(True, "S", 0), seg(False, "SA", 0, 1), seg(True, "A", 1, 1), seg(True, "FA", 1, 1),
                 seg(False, "FA", 1, 1), seg(True, "A", 2, 2), seg(False, "A", 2, 2))
    assert [(r.client, r.server) for r in rep.rows[3:]] == [
        (S.FIN_WAIT_1, S.CLOSE_WAIT), (S.CLOSING, S.LAST_ACK), (S.CLOSING, S.CLOSED), (S.TIME_WAIT, S.CLOSED)]


def test_refused_rejected_and_unanswered() -> None:
    refused = ladder(seg(True, "S", 9), seg(False, "RA", 0, 10))
    assert refused.verdict == HandshakeVerdict.REFUSED
    assert [(r.client, r.server) for r in refused.rows] == [(S.SYN_SENT, S.LISTEN), (S.CLOSED, S.CLOSED)]
    syn = seg(True, "S", 9)
    err = Captured(5, decode(icmp_error(syn.packet, (3, 13), sender="198.18.9.1"), 101), False)
    rejected = interpret_handshake([syn, err], client=(C, 40000), server=(V, 80))
    assert rejected.verdict == HandshakeVerdict.REJECTED
    assert rejected.rows[1].label == "ICMP admin-prohibited"
    quiet = ladder(seg(True, "S", 9), seg(True, "S", 9))
    assert quiet.verdict == HandshakeVerdict.NO_ANSWER
    assert quiet.notes == ["the SYN was sent 2 times (retransmissions)"]


def test_kernel_rst_of_a_crafted_handshake_is_noted() -> None:
    rep = ladder(seg(True, "S", 9), seg(False, "SA", 0, 10), seg(True, "R", 10))
    assert rep.verdict == HandshakeVerdict.RESET
    assert rep.notes[0].startswith("the client side sent RST in answer to the SYN/ACK")


def test_rx_filter_ok() -> None:
    syn = seg(True, "S", 9).packet
    assert rx_filter_ok(syn, V, 80) and not rx_filter_ok(syn, V, 81) and not rx_filter_ok(syn, "198.18.0.9", 80)
    err = decode(icmp_error(syn, (3, 3), sender="198.18.9.1"), 101)
    assert rx_filter_ok(err, V, 80) and not rx_filter_ok(err, V, 443)
