"""probe, ping and traceroute end to end against rawnet.testing fakes (no sockets, no sleeping)."""

from __future__ import annotations

import pytest

from rawnet.diag.ping import PingVerdict, run_ping
from rawnet.diag.probe import PortState, Reason, parse_ports, run_probe
from rawnet.diag.traceroute import TraceVerdict, run_traceroute
from rawnet.errors import UsageError
from rawnet.packet import decode
from rawnet.testing import FakeHost, FakeRouter, FakeTransport, ManualClock

SRV, CLI = "198.18.0.2", "198.18.0.1"
RULES = {22: "open", 81: "drop", 82: "reject", 83: "prohibit", 84: "reset"}


@pytest.mark.parametrize(("srv", "cli"), [(SRV, CLI), ("fd00::2", "fd00::1")])
def test_probe_states_and_reasons(srv: str, cli: str) -> None:
    clock = ManualClock()
    tr = FakeTransport(clock, FakeHost(srv, tcp=RULES, delay_ns=2_000_000, ttl=63))
    rep = run_probe(srv, [22, 80, 81, 82, 83, 84], transport=tr, src=cli, clock=clock, timeout_s=1.0, retries=2,
                    rate_pps=100)
    got = [(r.port, r.state, r.reason, r.rtt_ns, r.reply_ttl, r.attempts) for r in rep.results]
    assert got == [
        (22, PortState.OPEN, Reason.SYN_ACK, 2_000_000, 63, 1),
        (80, PortState.CLOSED, Reason.RESET, 2_000_000, 63, 1),
        (81, PortState.FILTERED, Reason.NO_RESPONSE, None, None, 3),
        (82, PortState.FILTERED, Reason.PORT_UNREACH, 2_000_000, 63, 1),
        (83, PortState.FILTERED, Reason.ADMIN_PROHIBITED, 2_000_000, 63, 1),
        (84, PortState.CLOSED, Reason.RESET, 2_000_000, 63, 1),
    ]
    assert rep.sent == 8
    assert rep.results[0].record() == {"port": 22, "proto": "tcp", "state": "open", "reason": "syn-ack",
                                       "rtt_ns": 2_000_000, "reply_ttl": 63, "sender": srv, "attempts": 1}


def test_probe_rate_limit_spaces_sends() -> None:
    clock = ManualClock()
    tr = FakeTransport(clock, FakeHost(SRV))
    run_probe(SRV, [1, 2, 3, 4], transport=tr, src=CLI, clock=clock, rate_pps=10, retries=0)
    times = [t for t, _, _ in tr.sent]
    assert [b - a for a, b in zip(times, times[1:])] == [100_000_000] * 3
    pkts = [decode(d, 101) for _, d, _ in tr.sent]
    assert {p.tcp.src_port for p in pkts if p.tcp} == {pkts[0].tcp.src_port}
    assert [p.tcp.flags for p in pkts if p.tcp] == [0x02] * 4


def test_udp_and_ack_scans() -> None:
    clock = ManualClock()
    host = FakeHost(SRV, udp={53: "open", 54: "drop", 55: "prohibit"})
    rep = run_probe(SRV, [53, 54, 55, 56], scan="udp", transport=FakeTransport(clock, host), src=CLI, clock=clock,
                    retries=0)
    assert [(r.state, r.reason) for r in rep.results] == [
        (PortState.OPEN, Reason.UDP_RESPONSE), (PortState.OPEN_FILTERED, Reason.NO_RESPONSE),
        (PortState.FILTERED, Reason.ADMIN_PROHIBITED), (PortState.CLOSED, Reason.PORT_UNREACH)]
    clock = ManualClock()
    host = FakeHost(SRV, tcp={80: "reset", 81: "drop"})
    rep = run_probe(SRV, [80, 81], scan="ack", transport=FakeTransport(clock, host), src=CLI, clock=clock, retries=0)
    assert [r.state for r in rep.results] == [PortState.UNFILTERED, PortState.FILTERED]


def test_parse_ports() -> None:
    assert parse_ports("22,80,8000-8003, 80") == [22, 80, 8000, 8001, 8002, 8003]
    assert len(parse_ports("-")) == 65535
    for bad in ("0", "70000", "9-3", "http", ""):
        with pytest.raises(UsageError):
            parse_ports(bad)


def test_ping_statistics() -> None:
    clock = ManualClock()
    delays = iter([1_000_000, 3_000_000, 2_000_000])

    def host(p):  # answers every echo request with the next delay, except seq 4
        from rawnet.testing import echo_reply

        if p.icmp is None or p.icmp.sequence == 4:
            return []
        return [(next(delays), echo_reply(p, ttl=62))]

    rep = run_ping(SRV, count=4, interval_s=0.5, transport=FakeTransport(clock, host), src=CLI, clock=clock, ident=77,
                   timeout_s=1.0)
    assert (rep.transmitted, rep.received, rep.loss_pct, rep.verdict) == (4, 3, 25.0, PingVerdict.PARTIAL)
    assert rep.rtt_stats_ns() == (1_000_000, 2_000_000, 3_000_000, 816_497)
    assert rep.replies[0].line() == "64 bytes from 198.18.0.2: icmp_seq=1 ttl=62 time=1.000 ms"
    assert rep.summary().splitlines()[1:] == ["4 packets transmitted, 3 received, 25% packet loss, time 2500ms",
                                              "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms"]


def test_ping_unreachable_and_no_reply() -> None:
    clock = ManualClock()
    host = FakeRouter(["198.18.1.1"], FakeHost(SRV))  # ttl 1 expires at the router
    rep = run_ping(SRV, count=2, ttl=1, interval_s=0.1, transport=FakeTransport(clock, host), src=CLI, clock=clock)
    assert rep.verdict == PingVerdict.UNREACHABLE
    assert rep.replies[0].line() == "From 198.18.1.1 icmp_seq=1 Time to live exceeded"
    clock = ManualClock()
    rep = run_ping(SRV, count=2, interval_s=0.1, transport=FakeTransport(clock, lambda p: []), src=CLI, clock=clock)
    assert (rep.verdict, rep.received, rep.loss_pct, rep.rtt_stats_ns()) == (PingVerdict.NO_REPLY, 0, 100.0, None)


@pytest.mark.parametrize("method", ["icmp", "udp", "tcp"])
def test_traceroute_hops_and_stop(method: str) -> None:
    clock = ManualClock()
    path = FakeRouter(["198.18.1.1", None, "198.18.3.1"], FakeHost("198.18.2.2", tcp={443: "open"}))
    rep = run_traceroute("198.18.2.2", method=method, port=443, transport=FakeTransport(clock, path),
                         src="198.18.1.2", clock=clock, queries=2)
    assert rep.verdict == TraceVerdict.REACHED
    assert [h.ttl for h in rep.hops] == [1, 2, 3, 4]
    assert [p.addr for h in rep.hops for p in h.probes] == ["198.18.1.1"] * 2 + [None] * 2 + ["198.18.3.1"] * 2 + [
        "198.18.2.2"] * 2
    assert rep.hops[0].line() == " 1  198.18.1.1  0.500 ms  0.500 ms"
    assert rep.hops[1].line() == " 2  *  *"
    last = {"icmp": "echo-reply", "udp": "port-unreachable", "tcp": "syn-ack"}[method]
    assert rep.hops[3].probes[0].note == last


def test_traceroute_unreachable_marks() -> None:
    clock = ManualClock()
    path = FakeRouter(["198.18.1.1"], FakeHost("198.18.2.2", tcp={80: "prohibit"}))
    rep = run_traceroute("198.18.2.2", method="tcp", transport=FakeTransport(clock, path), src="198.18.1.2",
                         clock=clock, queries=1)
    assert rep.verdict == TraceVerdict.REACHED  # the target itself answered (with an error)
    assert rep.hops[-1].line() == " 2  198.18.2.2  1.500 ms !X"
