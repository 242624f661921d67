"""`rawnet doctor` in the lab: each planted fault gets the right verdict and the packets that prove it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from live.diag_lab import nft_rule, plant_mixed
from rawnet.diag.doctor import DoctorVerdict, run_doctor

pytestmark = pytest.mark.privileged


@pytest.fixture(scope="module")
def faulty() -> Iterator[object]:
    """Routed lab: server with the mixed rules, the router rejecting port 85 (admin-prohibited) and
    a server process listening on 127.0.0.1:90 only."""
    from conftest import is_root, skip_or_fail

    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    lab = lab_up(routed=True)
    try:
        plant_mixed(lab)
        nft_rule(lab, "router", "forward", "tcp dport 85 reject with icmpx admin-prohibited")
        nft_rule(lab, "router", "forward", "tcp dport 86 reject")
        lab.popen("server", ["python3", "-c", "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',90))\n"
                             "s.listen()\ntime.sleep(120)"])
        time.sleep(0.3)
        yield lab
    finally:
        lab.down()


def _target(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


CASES = [(22, DoctorVerdict.OPEN, "target", "S."), (80, DoctorVerdict.REFUSED, "target", "R."),
         (81, DoctorVerdict.FILTERED, None, None), (82, DoctorVerdict.REJECTED, "target", "port-unreachable"),
         (83, DoctorVerdict.REJECTED, "target", "admin-prohibited"), (84, DoctorVerdict.REFUSED, "target", "R."),
         (85, DoctorVerdict.REJECTED, "router", "admin-prohibited"),
         (86, DoctorVerdict.REJECTED, "router", "port-unreachable")]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize(("port", "verdict", "sender", "marker"), CASES)
def test_doctor_names_the_planted_fault(faulty, family: int, port: int, verdict: DoctorVerdict, sender: str | None,
                                       marker: str | None) -> None:
    srv = faulty.addr("server", family)
    with faulty.inside("client"):
        rep = run_doctor(_target(srv, port), timeout_s=1.3)
    assert rep.verdict == verdict, rep.explanation
    packets = [e for e in rep.evidence if " ms " in e]
    assert packets and "Flags [S]" in packets[0]  # our SYN is always the first piece of evidence
    if sender is not None:
        who = srv if sender == "target" else faulty.addr("router", family)
        answer = next(e for e in packets if "<-" in e)
        assert f" {who}" in answer and marker in answer, answer
        if verdict == DoctorVerdict.REJECTED:
            assert who in rep.explanation
    if verdict == DoctorVerdict.FILTERED:
        assert sum("Flags [S]" in e for e in packets) == 2  # the kernel's retransmission at +1 s
        assert "retransmissions at +1.0 s" in rep.explanation


def test_doctor_local_listener_cases(faulty) -> None:
    with faulty.inside("server"):
        loop = run_doctor("198.18.2.2:90", timeout_s=1)
        none = run_doctor("198.18.2.2:91", timeout_s=1)
        ok = run_doctor("127.0.0.1:90", timeout_s=1)
    assert loop.verdict == DoctorVerdict.LOOPBACK_ONLY
    assert "127.0.0.1:90 (pid" in loop.explanation
    assert none.verdict == DoctorVerdict.NOT_LISTENING
    assert "listeners on port 91: none" in none.evidence
    assert ok.verdict == DoctorVerdict.OPEN


def test_doctor_routing_verdicts(faulty, lab) -> None:
    with faulty.inside("client"):
        net = run_doctor("198.19.5.5:80", timeout_s=1)  # router has no route: ICMP net-unreachable
    assert net.verdict == DoctorVerdict.NET_UNREACHABLE
    assert "198.18.1.1" in net.explanation
    with lab.inside("client"):  # direct lab, no default route at all
        none = run_doctor("198.19.5.5:80", timeout_s=1)
        host = run_doctor("198.18.0.77:80", timeout_s=3.5)  # on-link, nobody answers ARP
    assert none.verdict == DoctorVerdict.NO_ROUTE
    assert "Network is unreachable" in none.explanation
    assert host.verdict == DoctorVerdict.HOST_UNREACHABLE


def test_doctor_cli_json_and_exit(faulty) -> None:
    base = ["ip", "netns", "exec", faulty.ns("client"), sys.executable, "-m", "rawnet", "doctor", "--json", "--timeout", "1"]
    p = subprocess.run(base + ["198.18.2.2:22"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rec = json.loads(p.stdout)
    assert set(rec) >= {"verdict", "explanation", "evidence"} and rec["verdict"] == "open"
    p = subprocess.run(base + ["198.18.2.2:82"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and json.loads(p.stdout)["verdict"] == "rejected"
