"""Zeek's conn_state function and history letters, and UDP conn_state from flow counters."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rawnet.tcp import udp_flow_keys
from rawnet.tcp.zeek import (
    CLOSED,
    ESTABLISHED,
    INACTIVE,
    PARTIAL,
    RESET,
    SYN_ACK_SENT,
    SYN_SENT,
    ZeekConn,
    conn_state,
)

from .dialog import Dialog, handshake


@pytest.mark.parametrize(("orig", "resp", "history", "sizes", "expected"), [
    (SYN_SENT, RESET, "Sr", (0, 0), "REJ"),
    (RESET, RESET, "ShR", (0, 0), "REJ"),
    (INACTIVE, RESET, "r", (0, 0), "RSTRH"),
    (ESTABLISHED, RESET, "ShADr", (10, 10), "RSTR"),
    (RESET, INACTIVE, "SR", (0, 0), "RSTOS0"),
    (RESET, PARTIAL, "DR", (10, 0), "OTH"),
    (RESET, ESTABLISHED, "ShADR", (10, 10), "RSTO"),
    (CLOSED, CLOSED, "ShADFf", (1, 1), "SF"),
    (CLOSED, INACTIVE, "SF", (0, 0), "SH"),
    (CLOSED, ESTABLISHED, "ShAF", (0, 0), "S2"),
    (PARTIAL, CLOSED, "df", (0, 0), "SHR"),
    (ESTABLISHED, CLOSED, "ShAf", (0, 0), "S3"),
    (SYN_SENT, INACTIVE, "S", (0, 0), "S0"),
    (ESTABLISHED, ESTABLISHED, "ShA", (0, 0), "S1"),
    (SYN_ACK_SENT, INACTIVE, "H", (0, 0), "OTH"),
])
def test_conn_state_table(orig: int, resp: int, history: str, sizes: tuple[int, int], expected: str) -> None:
    assert conn_state(orig, resp, history, *sizes) == expected


def test_history_letters_repeat_only_on_new_sequence_numbers() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.c("S", 1000)  # retransmitted SYN: same sequence number, no second S
    d.c("S", 2000)  # a different one: but it is a new connection for the flow table
    assert [f.tcp.zk.history_str() for f in d.flows] == ["S", "S"]


def test_history_scaled_retransmissions_and_zero_windows() -> None:
    d = Dialog()
    handshake(d)
    for _ in range(10):
        d.c("PA", 1001, 5001, b"x" * 10)  # 1 original + 9 retransmissions
    for _ in range(10):
        d.s("A", 5001, 1011, win=0)
    k = d.keys()
    # T at the 1st retransmission only (the 10th would add another), w at the 1st and the 10th zero window
    assert k["history"] == "ShADTaww"


def test_flip_from_a_likely_server_port() -> None:
    z = ZeekConn()
    # first packet is a SYN/ACK from port 80: Zeek makes the other side the originator
    z.packet(b"\x01", 80, b"\x02", 40000, 0x12, 5000, 1001, 0, 100)
    z.packet(b"\x02", 40000, b"\x01", 80, 0x10, 1001, 5001, 0, 100)
    assert z.history_str() == "^hA"


def test_fin_and_rst_and_multi_flag_letters() -> None:
    d = Dialog()
    handshake(d)
    d.c("FR", 1001, 5001)
    d.s("SF", 5000, 1001)
    assert d.keys()["history"] == "ShAIq"


def test_udp_keys() -> None:
    both = SimpleNamespace(packets_fwd=3, packets_rev=3)
    one = SimpleNamespace(packets_fwd=2, packets_rev=0)
    assert udp_flow_keys(both) == {"conn_state": "SF", "history": "Dd"}
    assert udp_flow_keys(one) == {"conn_state": "S0", "history": "D"}
