"""RFC 9293 per-endpoint state timelines on hand-built exchanges, asserted exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawnet.tcp import TRANSITIONS, TCPState
from rawnet.tcp.state import EndpointMachine, Event, observe_segment

from .dialog import Dialog, handshake

C, S = "client", "server"
OPEN = [(C, "SYN_SENT", 1, True), (S, "LISTEN", 1, False), (S, "SYN_RECEIVED", 2, True),
        (C, "ESTABLISHED", 2, False), (S, "ESTABLISHED", 3, False)]


def test_clean_close_client_first() -> None:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"x" * 100)
    d.s("A", 5001, 1101)
    d.c("FA", 1101, 5001)
    d.s("FA", 5001, 1102)
    d.c("A", 1102, 5002)
    assert d.timeline() == OPEN + [(C, "FIN_WAIT_1", 6, True), (S, "CLOSE_WAIT", 6, False),
                                   (S, "LAST_ACK", 7, True), (C, "TIME_WAIT", 7, False),
                                   (S, "CLOSED", 8, False)]
    k = d.keys()
    assert (k["client_state"], k["server_state"], k["close"], k["closed_by"]) == ("TIME_WAIT", "CLOSED", "fin",
                                                                                 "client")
    assert (k["conn_state"], k["history"], k["irtt_ns"]) == ("SF", "ShADaFf", 200_000)


def test_simultaneous_open() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.s("S", 5000)
    d.c("SA", 1000, 5001)
    d.s("SA", 5000, 1001)
    d.c("A", 1001, 5001)
    assert d.timeline() == [(C, "SYN_SENT", 1, True), (S, "SYN_SENT", 2, True), (C, "SYN_RECEIVED", 2, False),
                            (S, "SYN_RECEIVED", 2, False), (S, "ESTABLISHED", 3, False),
                            (C, "ESTABLISHED", 4, False)]
    k = d.keys()
    assert k["anomalies"] == ["simultaneous_open"]
    assert (k["conn_state"], k["history"]) == ("S1", "SsA")


def test_simultaneous_close() -> None:
    d = Dialog()
    handshake(d)
    d.c("FA", 1001, 5001)
    d.s("FA", 5001, 1001)  # does not acknowledge the client's FIN: the FINs crossed
    d.c("A", 1002, 5002)
    d.s("A", 5002, 1002)
    assert d.timeline() == OPEN + [(C, "FIN_WAIT_1", 4, True), (S, "FIN_WAIT_1", 5, True), (C, "CLOSING", 5, False),
                                   (S, "CLOSING", 5, False), (S, "TIME_WAIT", 6, False),
                                   (C, "TIME_WAIT", 7, False)]
    k = d.keys()
    assert (k["client_state"], k["server_state"], k["anomalies"]) == ("TIME_WAIT", "TIME_WAIT",
                                                                      ["simultaneous_close"])


def test_half_close_server_keeps_sending() -> None:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"q" * 10)
    d.c("FA", 1011, 5001)
    d.s("A", 5001, 1012)
    d.s("PA", 5001, 1012, b"r" * 100)
    d.c("A", 1012, 5101)
    d.s("FA", 5101, 1012)
    d.c("A", 1012, 5102)
    assert d.timeline() == OPEN + [(C, "FIN_WAIT_1", 5, True), (S, "CLOSE_WAIT", 5, False),
                                   (C, "FIN_WAIT_2", 6, False), (S, "LAST_ACK", 9, True),
                                   (C, "TIME_WAIT", 9, False), (S, "CLOSED", 10, False)]
    assert d.keys()["conn_state"] == "SF"


def test_fin_ack_of_fin_goes_straight_to_time_wait() -> None:
    d = Dialog()
    handshake(d)
    d.s("FA", 5001, 1001)
    d.c("FA", 1001, 5002)  # ACKs the server's FIN and carries its own
    d.s("A", 5002, 1002)
    assert d.timeline() == OPEN + [(S, "FIN_WAIT_1", 4, True), (C, "CLOSE_WAIT", 4, False),
                                   (C, "LAST_ACK", 5, True), (S, "TIME_WAIT", 5, False), (C, "CLOSED", 6, False)]


def test_rst_out_of_window_changes_nothing_in_window_closes() -> None:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"q" * 10)
    d.s("A", 5001, 1011)
    d.s("R", 9_999_999)  # the client's RCV.NXT is 5001: far outside its window
    assert d.timeline() == OPEN
    d.s("R", 5001)
    assert d.timeline() == OPEN + [(S, "CLOSED", 7, True), (C, "CLOSED", 7, False)]
    k = d.keys()
    assert (k["anomalies"], k["close"], k["closed_by"], k["conn_state"]) == (["rst_out_of_window"], "rst",
                                                                             "server", "RSTR")


def test_refused() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.s("RA", 0, 1001)
    assert d.timeline() == [(C, "SYN_SENT", 1, True), (S, "CLOSED", 2, True), (C, "CLOSED", 2, False)]
    k = d.keys()
    assert (k["refused"], k["conn_state"], k["history"], k["close"], k["closed_by"]) == (True, "REJ", "Sr", "rst",
                                                                                         "server")


def test_rst_with_wrong_ack_in_syn_sent_is_ignored() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.s("RA", 0, 4242)
    assert d.timeline() == [(C, "SYN_SENT", 1, True)]
    assert d.keys()["refused"] is False


def test_mid_stream_start_is_unknown_until_evidence() -> None:
    d = Dialog()
    d.c("PA", 1001, 5001, b"q" * 10)
    assert d.keys()["server_state"] == "UNKNOWN"
    d.s("A", 5001, 1011)
    d.c("FA", 1011, 5001)
    d.s("FA", 5001, 1012)
    d.c("A", 1012, 5002)
    assert d.timeline() == [(C, "ESTABLISHED", 1, True), (S, "ESTABLISHED", 2, True), (C, "FIN_WAIT_1", 3, True),
                            (S, "CLOSE_WAIT", 3, False), (S, "LAST_ACK", 4, True), (C, "TIME_WAIT", 4, False),
                            (S, "CLOSED", 5, False)]
    assert (d.keys()["conn_state"], d.keys()["irtt_ns"]) == ("SF", None)


def test_only_one_side_seen_mid_stream() -> None:
    d = Dialog()
    d.c("PA", 1001, 5001, b"q" * 10)
    d.c("PA", 1011, 5001, b"q" * 10)
    k = d.keys()
    assert (k["client_state"], k["server_state"], k["conn_state"]) == ("ESTABLISHED", "UNKNOWN", "OTH")


def test_data_after_fin() -> None:
    d = Dialog()
    handshake(d)
    d.c("FA", 1001, 5001)
    d.c("PA", 1002, 5001, b"x" * 5)
    d.s("A", 5001, 1007)
    assert d.keys()["anomalies"] == ["data_after_fin"]
    assert d.timeline()[-3:] == [(C, "FIN_WAIT_1", 4, True), (S, "CLOSE_WAIT", 4, False),
                                 (C, "FIN_WAIT_2", 6, False)]


def test_syn_after_close_same_isn() -> None:
    d = Dialog()
    handshake(d)
    d.c("RA", 1001, 5001)
    d.c("S", 1000)  # same ISN: the same connection as far as the flow table knows
    assert len(d.flows) == 1
    assert d.timeline()[-3:] == [(C, "CLOSED", 4, True), (S, "CLOSED", 4, False), (C, "SYN_SENT", 5, True)]
    assert d.keys()["anomalies"] == ["syn_after_close"]


def test_port_reuse_is_a_new_connection() -> None:
    d = Dialog()
    handshake(d)
    d.c("RA", 1001, 5001)
    d.c("S", 77777)
    d.s("SA", 88888, 77778)
    d.c("A", 77778, 88889)
    assert len(d.flows) == 2
    assert d.timeline(d.flows[0]) == OPEN + [(C, "CLOSED", 4, True), (S, "CLOSED", 4, False)]
    assert d.timeline(d.flows[1]) == [(C, "SYN_SENT", 5, True), (S, "LISTEN", 5, False), (S, "SYN_RECEIVED", 6, True),
                                      (C, "ESTABLISHED", 6, False), (S, "ESTABLISHED", 7, False)]
    assert (d.keys(d.flows[0])["conn_state"], d.keys(d.flows[1])["conn_state"]) == ("RSTO", "S1")


def test_keep_alive_and_zero_window_change_no_state() -> None:
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
    assert d.timeline() == OPEN
    assert {n: v for n, v in d.analysis.items() if v} == {
        6: ["keep_alive"], 7: ["keep_alive_ack"], 9: ["zero_window"], 10: ["zero_window_probe"],
        11: ["zero_window", "zero_window_probe_ack"], 12: ["window_update"]}
    assert d.keys()["history"] == "ShADaw"


def test_syn_and_synack_retransmissions_and_handshake_halves() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.c("S", 1000, dt_us=1_000_000)
    d.s("SA", 5000, 1001)
    d.s("SA", 5000, 1001, dt_us=100_000)
    d.c("A", 1001, 5001)
    k = d.keys()
    assert (k["irtt_ns"], k["syn_retransmissions"], k["synack_retransmissions"], k["syn_to_synack_ns"],
            k["synack_to_ack_ns"], k["retransmissions"]) == (100_200_000, 1, 1, 100_000, 100_000, 2)
    assert d.analysis == {1: [], 2: ["retransmission"], 3: [], 4: ["retransmission"], 5: []}


def test_events_drain() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.s("RA", 0, 1001)
    ev = d.tr.events()
    kinds = [type(e).__name__ for e in ev]
    assert kinds == ["StateChanged", "HandshakeCompleted", "StateChanged", "StateChanged", "ResetObserved"]
    assert [(e.endpoint, e.new, e.seen) for e in ev if type(e).__name__ == "StateChanged"] == [
        ("client", TCPState.SYN_SENT, True), ("server", TCPState.CLOSED, True), ("client", TCPState.CLOSED, False)]
    assert d.tr.events() == []


def test_table_names_only_known_states() -> None:
    for (src, ev), dst in TRANSITIONS.items():
        assert isinstance(src, TCPState) and isinstance(ev, Event) and isinstance(dst, TCPState)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01]),
                          st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 3000),
                          st.integers(0, 65535)), max_size=30))
def test_any_sequence_ends_in_a_state(segs: list[tuple[bool, int, int, int, int, int]]) -> None:
    a, b = EndpointMachine(b"a", 1), EndpointMachine(b"b", 2)
    for i, (fwd, flags, seq, ack, ln, win) in enumerate(segs, 1):
        e, r = (a, b) if fwd else (b, a)
        notes = observe_segment(e, r, flags, seq, ack, ln, win, i * 1000, i)
        assert isinstance(notes, int)
    assert isinstance(a.state, TCPState) and isinstance(b.state, TCPState)
    for m in (a, b):
        assert all(isinstance(t[0], TCPState) and t[2] <= len(segs) for t in m.transitions())


@pytest.mark.parametrize("state", list(TCPState))
def test_rst_from_any_state_never_raises(state: TCPState) -> None:
    a, b = EndpointMachine(b"a", 1), EndpointMachine(b"b", 2)
    b.state = state
    observe_segment(a, b, 0x04, 0, 0, 0, 0, 1, 1)
    assert isinstance(b.state, TCPState)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["S", "SA", "A", "PA", "FA", "R", "RA", "F", "SF", "FR"]),
                          st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 40),
                          st.integers(0, 65535)), min_size=1, max_size=25))
def test_tracker_never_raises_and_counts_each_packet_once(
        segs: list[tuple[bool, str, int, int, int, int]]) -> None:
    d = Dialog()
    for to_server, flags, seq, ack, ln, win in segs:
        names = (d.c if to_server else d.s)(flags, seq, ack, b"x" * ln, win=win)
        assert all(isinstance(x, str) for x in names)
    d.tr.finish()
    assert sum(f.tcp.packets for f in d.flows) == len(segs)
    for f in d.flows:
        k = d.tr.flow_keys(f)
        assert k["conn_state"] in {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH",
                                   "SHR", "OTH"}
        assert k["client_state"] in {s.value for s in TCPState}
        assert [t["packet"] for t in d.tr.timeline(f)] == sorted(t["packet"] for t in d.tr.timeline(f))


def test_closed_connections_are_compacted_after_the_linger() -> None:
    d = Dialog(closed_linger_ns=1_000_000)
    handshake(d)
    d.c("PA", 1001, 5001, b"x" * 100)
    d.s("A", 5001, 1101)
    d.c("FA", 1101, 5001)
    d.s("FA", 5001, 1102)
    d.c("A", 1102, 5002)
    before = d.tr.flow_keys(d.flow)
    c = d.flow.tcp
    d.tr._compact(d.ts + 500_000)  # quiet for less than the linger: kept
    assert c.ws is not None
    d.tr._compact(d.ts + 2_000_000)
    assert (c.ws, c.zk) == (None, None)
    assert d.tr.flow_keys(d.flow) == before
    assert (before["conn_state"], before["rtt_samples"]) == ("SF", 5)
    # a late retransmitted FIN: a fresh Wireshark analysis, Zeek's result stays frozen
    assert d.s("FA", 5001, 1102, dt_us=3000) == []
    k = d.keys()
    assert (k["conn_state"], k["history"], k["server_state"], k["rtt_samples"]) == ("SF", before["history"],
                                                                                  "CLOSED", 5)


def test_sack_aware_retransmitted_bytes() -> None:
    from rawnet.packet.tcp import SACKOption
    from rawnet.tcp.tracker import _covered

    assert _covered(1000, 1100, 1050, ()) == 50
    assert _covered(1000, 1100, 900, ((1020, 1040), (1030, 1060), (1090, 1200))) == 50
    assert _covered(2**32 - 50, 50, 0, ()) == 50  # across the wrap
    d = Dialog()
    handshake(d)
    for i in range(4):
        d.c("A", 1001 + 100 * i, 5001, b"d" * 100, dt_us=10)
    d.s("A", 5001, 1101, opts=(SACKOption(((1201, 1401),)),))  # 1101..1201 missing, 1201..1401 SACKed
    d.c("A", 1101, 5001, b"d" * 100, dt_us=10_000)  # needed
    d.c("A", 1201, 5001, b"d" * 100, dt_us=10)  # already SACKed: unneeded
    k = d.keys()
    assert (k["retransmissions"], k["retransmitted_bytes_client"], k["retransmitted_bytes_unneeded"]) == (2, 200, 100)


def test_idle_connections_expire_and_apply_pending_facts() -> None:
    d = Dialog(idle_timeout_ns=1_000_000)
    handshake(d)
    d.c("FA", 1001, 5001)  # the server's processing of this FIN is pending until it answers
    c = d.flow.tcp
    assert c.e1.pending_fin is not None
    assert d.tr.expire(d.ts + 500_000) == 0
    assert d.tr.expire(d.ts + 2_000_000) == 1
    assert (c.e1.pending_fin, c.e1.state) == (None, TCPState.CLOSE_WAIT)


def test_synack_lost_beyond_the_tap() -> None:
    d = Dialog()
    d.c("S", 1000)
    d.s("SA", 5000, 1001)
    d.c("S", 1000, dt_us=1_000_000)  # the client never got the SYN/ACK: it repeats its SYN
    d.s("SA", 5000, 1001)
    d.c("A", 1001, 5001)
    assert d.timeline() == [(C, "SYN_SENT", 1, True), (S, "LISTEN", 1, False), (S, "SYN_RECEIVED", 2, True),
                            (C, "ESTABLISHED", 2, False), (C, "SYN_SENT", 3, True), (C, "ESTABLISHED", 4, False),
                            (S, "ESTABLISHED", 5, False)]
    assert d.keys()["anomalies"] == ["synack_lost_after_tap"]


def test_event_senders_follow_the_flow_originator() -> None:
    d = Dialog()
    d.s("A", 5001, 1001)  # a stray server segment first: the tracker meets the server first
    d.c("S", 1000)  # the client's SYN makes it the originator (the flow swaps)
    d.s("RA", 0, 1001)
    ev = [e for e in d.tr.events() if type(e).__name__ == "ResetObserved"]
    assert [(e.sender, e.acceptable, e.refused) for e in ev] == [("server", True, True)]
    d2 = Dialog()
    handshake(d2)
    d2.c("PA", 1001, 5001, b"x" * 10)
    d2.c("PA", 1001, 5001, b"x" * 10, dt_us=300_000)
    ev2 = [e for e in d2.tr.events() if type(e).__name__ == "SegmentRetransmitted"]
    assert [(e.sender, e.kind, e.packet) for e in ev2] == [("client", "retransmission", 5)]
