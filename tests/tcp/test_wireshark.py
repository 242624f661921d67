"""Wireshark analysis flags on hand-built exchanges: frozen values, and tshark run live as the oracle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rawnet.packet.tcp import WindowScaleOption
from rawnet.tcp.wireshark import (
    FAST_RETRANSMISSION,
    RETRANSMISSION,
    SPURIOUS_RETRANSMISSION,
    WSConv,
    analyze,
    flag_names,
)

from .dialog import Dialog, handshake

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "corpus"))
from _tcp_oracle import tshark_analysis


def _seq_dialog() -> Dialog:
    d = Dialog()
    d.c("S", 1000, opts=(WindowScaleOption(7),))
    d.s("SA", 5000, 1001, opts=(WindowScaleOption(0),), win=3000)
    d.c("A", 1001, 5001)
    for i in range(5):
        d.c("A", 1001 + i * 100, 5001, b"d" * 100, dt_us=10)
    for _ in range(4):
        d.s("A", 5001, 1101)
    d.c("A", 1101, 5001, b"d" * 100, dt_us=10)  # after 3 dup ACKs within 20 ms
    d.s("A", 5001, 1501)
    d.c("A", 1701, 5001, b"d" * 100)  # 1501..1701 never sent
    d.s("A", 5001, 1901)  # acknowledges bytes never seen
    d.c("A", 1601, 5001, b"d" * 100, dt_us=10)
    d.c("A", 1501, 5001, b"d" * 100, dt_us=5000)
    d.c("A", 1001, 5001, b"d" * 100)
    return d


def _window_dialog() -> Dialog:
    d = Dialog()
    d.c("S", 1000)
    d.s("SA", 5000, 1001, win=300)
    d.c("A", 1001, 5001)
    d.c("A", 1001, 5001, b"d" * 100)
    d.c("A", 1101, 5001, b"d" * 200)  # fills the 300-byte window exactly
    d.s("A", 5001, 1301, win=300)
    d.s("A", 5001, 1301, win=600)
    return d


def _ooo_dialog() -> Dialog:
    d = Dialog()
    handshake(d)
    d.c("A", 1001, 5001, b"a" * 100, dt_us=10)
    d.c("A", 1201, 5001, b"c" * 100, dt_us=10)
    d.c("A", 1101, 5001, b"b" * 100, dt_us=10)  # fills the hole 10 us later: out of order
    d.s("A", 5001, 1301)
    return d


def _keepalive_dialog() -> Dialog:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"q" * 10)
    d.s("A", 5001, 1011)
    d.c("A", 1010, 5001, dt_us=1_000_000)
    d.s("A", 5001, 1011)
    d.c("PA", 1011, 5001, b"z" * 100)
    d.s("A", 5001, 1111, win=0)
    d.c("A", 1111, 5001, b"1")
    d.s("A", 5001, 1111, win=0)
    d.s("A", 5001, 1111, win=1000)
    return d


def _zwp_dialog() -> Dialog:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"z" * 100)
    d.s("A", 5001, 1101, win=0)
    d.c("A", 1101, 5001, b"1")  # zero-window probe
    d.s("A", 5001, 1102, win=0)  # the receiver took the probe byte
    d.c("A", 1102, 5001, b"2")
    d.s("A", 5001, 1102, win=0)
    d.s("A", 5001, 1103, win=500)
    d.c("A", 1103, 5001, b"x" * 10)
    return d


def _ack_lost_dialog() -> Dialog:
    d = Dialog()
    handshake(d)
    d.c("A", 1001, 5001, b"a" * 100)
    d.c("A", 1201, 5001, b"c" * 100)  # 1101..1201 not captured
    d.c("A", 1301, 5001, b"d" * 100)
    d.s("A", 5001, 1201)  # ACKs the unseen segment; tshark then moves on to the sender's next seq
    d.s("A", 5001, 1401)
    d.c("A", 1401, 5001, b"e" * 100)
    d.s("A", 5001, 1501)
    return d


def _synack_new_isn_dialog() -> Dialog:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"a" * 10)
    d.s("SA", 9000, 1011)  # tshark 4.0 keeps the conversation for a SYN/ACK with a new ISN
    d.c("A", 1011, 9001)
    d.s("PA", 9001, 1011, b"x" * 10)
    return d


DIALOGS = {
    "zwp": (_zwp_dialog, {5: ["zero_window"], 6: ["zero_window_probe"], 7: ["ack_lost_segment", "zero_window"],
                          8: ["lost_segment"], 9: ["ack_lost_segment", "zero_window"]}),
    "ack_lost": (_ack_lost_dialog, {5: ["lost_segment"], 7: ["ack_lost_segment"]}),
    "synack_new_isn": (_synack_new_isn_dialog, {5: ["lost_segment"], 6: ["ack_lost_segment"]}),
    "seq": (_seq_dialog, {10: ["duplicate_ack"], 11: ["duplicate_ack"], 12: ["duplicate_ack"],
                          13: ["retransmission", "fast_retransmission"], 15: ["lost_segment"],
                          16: ["ack_lost_segment"], 17: ["retransmission", "spurious_retransmission"],
                          18: ["retransmission", "spurious_retransmission"],
                          19: ["retransmission", "spurious_retransmission"]}),
    "window": (_window_dialog, {5: ["window_full"], 7: ["window_update"]}),
    "ooo": (_ooo_dialog, {5: ["lost_segment"], 6: ["out_of_order"]}),
    "keepalive": (_keepalive_dialog, {6: ["keep_alive"], 7: ["keep_alive_ack"], 9: ["zero_window"],
                                      10: ["zero_window_probe"], 11: ["zero_window", "zero_window_probe_ack"],
                                      12: ["window_update"]}),
}


@pytest.mark.parametrize("name", sorted(DIALOGS))
def test_frozen_flags(name: str) -> None:
    make, expected = DIALOGS[name]
    d = make()
    assert {n: v for n, v in d.analysis.items() if v} == expected


@pytest.mark.needs_tshark
@pytest.mark.parametrize("name", sorted(DIALOGS))
def test_flags_equal_tshark(name: str, tshark: str, tmp_path: Path) -> None:
    d = DIALOGS[name][0]()
    p = tmp_path / f"{name}.pcap"
    p.write_bytes(d.pcap())
    theirs = {n: v[0] for n, v in tshark_analysis(tshark, p).items()}
    assert d.analysis == theirs


def test_names_order_and_implied_retransmission() -> None:
    assert flag_names(FAST_RETRANSMISSION) == ("retransmission", "fast_retransmission")
    assert flag_names(SPURIOUS_RETRANSMISSION) == ("retransmission", "spurious_retransmission")
    assert flag_names(RETRANSMISSION) == ("retransmission",)
    assert flag_names(0) == ()


def test_timestamps_going_backwards_are_never_recent() -> None:
    c = WSConv()
    assert analyze(c, c.d0, c.d1, 100, 0, 10, 0x10, 1000, 5_000) == 0
    assert analyze(c, c.d0, c.d1, 110, 0, 10, 0x10, 1000, 6_000) == 0
    # a copy of the first segment stamped earlier than the original: tshark 4.0 says retransmission
    assert analyze(c, c.d0, c.d1, 100, 0, 10, 0x10, 1000, 1_000) == RETRANSMISSION
