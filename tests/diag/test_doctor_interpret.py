"""interpret_doctor is pure: facts in, verdict and explanation out."""

from __future__ import annotations

import socket

import pytest

from rawnet.diag.connect import Captured, ConnectObservation
from rawnet.diag.doctor import DoctorFacts, DoctorVerdict, Listener, interpret_doctor, plan_doctor, run_doctor
from rawnet.errors import UsageError
from rawnet.packet import decode, encode
from rawnet.packet.craft import CraftSpec, craft
from rawnet.testing import icmp_error, rst
from rawnet.transport.route import Route

US, THEM = "198.18.1.2", "198.18.2.2"
ROUTE = Route(THEM, US, "eth0", "198.18.1.1")


def syn_packet():
    return decode(encode(craft(CraftSpec("tcp", US, THEM, 40000, 80, "S", 5))), 101)


def facts(*answers, connected=False, err=None, listeners=None, packets_out=1) -> DoctorFacts:
    o = ConnectObservation(THEM, 80, connected=connected, errno=err, error=None if err is None else "x", start_ns=0)
    s = syn_packet()
    for i in range(packets_out):
        o.packets.append(Captured(i * 1_000_000_000, s, True))
    for i, a in enumerate(answers):
        o.packets.append(Captured(100_000 + i, decode(a, 101), False))
    return DoctorFacts("srv", 80, THEM, None, ROUTE, listeners, o)


def test_dns_and_route_verdicts() -> None:
    rep = interpret_doctor(DoctorFacts("nope.example", 80, None, "Name or service not known"))
    assert (rep.verdict, rep.record()["evidence"]) == (DoctorVerdict.DNS_FAILURE,
                                                       ["resolver: Name or service not known"])
    bad = Route(THEM, None, None, type="unreachable", error="Network is unreachable")
    rep = interpret_doctor(DoctorFacts("x", 80, THEM, None, bad))
    assert rep.verdict == DoctorVerdict.NO_ROUTE and "Network is unreachable" in rep.explanation


def test_packet_verdicts() -> None:
    s = syn_packet()
    assert interpret_doctor(facts(rst(s), err=111)).verdict == DoctorVerdict.REFUSED
    rej = interpret_doctor(facts(icmp_error(s, (3, 3), sender="198.18.1.1"), err=111))
    assert rej.verdict == DoctorVerdict.REJECTED
    assert rej.explanation.startswith("198.18.1.1 (a router or firewall on the way) answered our SYN with ICMP "
                                      "port-unreachable")
    assert interpret_doctor(facts(icmp_error(s, (3, 13)), err=113)).verdict == DoctorVerdict.REJECTED
    assert interpret_doctor(facts(icmp_error(s, (3, 0), sender="198.18.1.1"), err=101)).verdict == \
        DoctorVerdict.NET_UNREACHABLE
    assert interpret_doctor(facts(icmp_error(s, (3, 1), sender="198.18.1.1"), err=113)).verdict == \
        DoctorVerdict.HOST_UNREACHABLE
    filt = interpret_doctor(facts(err=110, packets_out=3))
    assert filt.verdict == DoctorVerdict.FILTERED
    assert "3 SYNs (retransmissions at +1.0 s, +2.0 s)" in filt.explanation
    assert interpret_doctor(facts(err=113, packets_out=0)).verdict == DoctorVerdict.HOST_UNREACHABLE
    assert interpret_doctor(facts(connected=True)).verdict == DoctorVerdict.OPEN


def test_local_listener_verdicts() -> None:
    s = syn_packet()
    rep = interpret_doctor(facts(rst(s), err=111, listeners=[Listener("127.0.0.1", 80, 42, "web")]))
    assert rep.verdict == DoctorVerdict.LOOPBACK_ONLY and "127.0.0.1:80 (pid 42 web)" in rep.explanation
    assert interpret_doctor(facts(rst(s), err=111, listeners=[])).verdict == DoctorVerdict.NOT_LISTENING
    assert interpret_doctor(facts(rst(s), err=111, listeners=[Listener("0.0.0.0", 80)])).verdict == \
        DoctorVerdict.REFUSED


def test_plan_and_dns_failure_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    assert plan_doctor("[fd00::2]:443") == ("fd00::2", 443)
    assert plan_doctor("example.test:22") == ("example.test", 22)
    for bad in ("host", "host:0", "host:99999", ":80"):
        with pytest.raises(UsageError):
            plan_doctor(bad)

    def fail(*a, **k):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    monkeypatch.setattr("rawnet.transport.privileges.check_privileges",
                        lambda: type("R", (), {"has_net_raw": True})())
    rep = run_doctor("no-such-host.test:80", timeout_s=1)
    assert rep.verdict == DoctorVerdict.DNS_FAILURE
    assert rep.explanation == ("no-such-host.test does not resolve to an address (Name or service not known); "
                               "no packet was sent.")
