"""diag.explain: conversations in plain language, from packets built by rawnet.testing."""

from __future__ import annotations

from rawnet.diag.explain import explain_packets
from rawnet.packet import decode, encode
from rawnet.packet.craft import CraftSpec, craft
from rawnet.testing import echo_reply, icmp_error, rst, syn_ack

C, S = "198.18.0.1", "198.18.0.2"


def pkt(*a, **k):
    return decode(encode(craft(CraftSpec(*a, **k))), 101)


def test_conversation_sentences() -> None:
    s1 = pkt("tcp", C, S, 40000, 22, "S", 10)
    s2 = pkt("tcp", C, S, 40001, 80, "S", 10)
    s3 = pkt("tcp", C, S, 40002, 81, "S", 10)
    s4 = pkt("tcp", C, S, 40003, 82, "S", 10)
    e1 = pkt("icmp", C, S, icmp_id=5, icmp_seq=1)
    seq = [s1, decode(syn_ack(s1), 101), pkt("tcp", C, S, 40000, 22, "A", 11, 1001),
           pkt("tcp", C, S, 40000, 22, "PA", 11, 1001, payload=b"hello"), pkt("tcp", C, S, 40000, 22, "FA", 16, 1001),
           s2, decode(rst(s2), 101), s3, s3, decode(icmp_error(s4, (3, 3), sender="198.18.9.1"), 101), s4,
           e1, decode(echo_reply(e1), 101)]
    convs = explain_packets([(i * 1_000_000, p) for i, p in enumerate(seq)])
    got = [c.sentence() for c in convs]
    assert got == [
        "tcp 198.18.0.1:40000 -> 198.18.0.2:22 (5 packets, 4.0 ms): connected (198.18.0.1 sent 5 bytes); "
        "closed with FIN",
        "tcp 198.18.0.1:40001 -> 198.18.0.2:80 (2 packets, 1.0 ms): refused: SYN answered by RST from 198.18.0.2",
        "tcp 198.18.0.1:40002 -> 198.18.0.2:81 (2 packets, 1.0 ms): no answer to 2 SYNs (dropped by a firewall, "
        "or the host is down)",
        "tcp 198.18.0.1:40003 -> 198.18.0.2:82 (2 packets, 1.0 ms): rejected: ICMP port-unreachable from 198.18.9.1",
        "ping 198.18.0.1 -> 198.18.0.2: 1 requests, 1 replies",
    ]
