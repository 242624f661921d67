"""Live diagnostics in the network lab, the kernel as the peer, IPv4 and IPv6 (root only)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from live.diag_lab import nft_clear, nft_rule, plant_mixed
from rawnet.diag.ping import PingVerdict, run_ping
from rawnet.diag.probe import run_probe
from rawnet.diag.traceroute import TraceVerdict, run_traceroute

pytestmark = pytest.mark.privileged

EXPECTED = {22: ("open", "syn-ack"), 80: ("closed", "reset"), 81: ("filtered", "no-response"),
            82: ("filtered", "port-unreach"), 83: ("filtered", "admin-prohibited"), 84: ("closed", "reset")}
PORTS = sorted(EXPECTED)


@pytest.fixture(scope="module")
def mixed_lab() -> Iterator[object]:
    """A direct lab whose server has a listener on 22 and the mixed nft rules of MIXED."""
    from conftest import is_root, skip_or_fail

    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    lab = lab_up()
    try:
        plant_mixed(lab)
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def routed() -> Iterator[object]:
    from conftest import is_root, skip_or_fail

    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    lab = lab_up(routed=True)
    try:
        yield lab
    finally:
        lab.down()


@pytest.mark.parametrize("family", [4, 6])
def test_probe_classifies_every_planted_rule(mixed_lab, family: int) -> None:
    srv = mixed_lab.addr("server", family)
    with mixed_lab.inside("client"):
        rep = run_probe(srv, PORTS, timeout_s=0.4, retries=1, rate_pps=500)
    got = {r.port: (str(r.state), str(r.reason)) for r in rep.results}
    assert got == EXPECTED
    open22 = rep.results[0]
    assert (open22.sender, open22.reply_ttl, open22.attempts) == (srv, 64, 1)
    assert 0 < open22.rtt_ns < 100_000_000
    assert rep.results[2].attempts == 2  # dropped port: probe + 1 retry


WIDE = sorted(set(range(1, 201)) | set(PORTS))  # 200 plain ports (closed) plus the planted ones


def _nmap_states(lab, host_addr: str, family: int) -> dict[int, tuple[str, str]]:
    args = ["nmap", "-sS", "-p", ",".join(map(str, WIDE)), "-n", "--reason", "-Pn", "--max-retries", "1",
            "-oX", "-", host_addr] + (["-6"] if family == 6 else [])
    out = lab.run("client", args).stdout
    listed = {int(p): (s, r) for p, s, r in re.findall(r'portid="(\d+)"><state state="([^"]+)" reason="([^"]+)"',
                                                        out)}
    extra = re.findall(r'<extraports state="([^"]+)" count="(\d+)"', out)
    for p in WIDE:  # ports nmap folds into <extraports> share its state
        if p not in listed and extra:
            listed[p] = (extra[0][0], "reset" if extra[0][0] == "closed" else "no-response")
    return listed


NMAP_REASON = {"syn-ack": "syn-ack", "reset": "reset", "no-response": "no-response", "port-unreach": "port-unreach",
               "admin-prohibited": "admin-prohibited", "host-prohibited": "admin-prohibited"}


@pytest.mark.skipif(shutil.which("nmap") is None, reason="needs nmap as the oracle")
@pytest.mark.parametrize("family", [4, 6])
def test_probe_agrees_with_nmap(mixed_lab, family: int) -> None:
    srv = mixed_lab.addr("server", family)
    nmap = _nmap_states(mixed_lab, srv, family)
    with mixed_lab.inside("client"):
        rep = run_probe(srv, WIDE, timeout_s=0.4, retries=1)
    ours = {r.port: str(r.state) for r in rep.results}
    assert set(nmap) == set(WIDE)
    assert ours == {p: s for p, (s, _) in nmap.items()}
    for r in rep.results:
        assert NMAP_REASON.get(nmap[r.port][1], nmap[r.port][1]) == str(r.reason), (r.port, nmap[r.port])


@pytest.mark.parametrize("family", [4, 6])
def test_traceroute_shows_router_then_server(routed, family: int) -> None:
    srv = routed.addr("server", family)
    router = routed.addr("router", family)
    for method in ("icmp", "udp", "tcp"):
        with routed.inside("client"):
            rep = run_traceroute(srv, method=method, port=80, queries=2, timeout_s=0.5, max_ttl=5)
        assert rep.verdict == TraceVerdict.REACHED, method
        assert [[p.addr for p in h.probes] for h in rep.hops] == [[router, router], [srv, srv]], method
        assert rep.hops[0].probes[0].note == "time-exceeded"


def test_ping_statistics_and_loss(routed) -> None:
    srv = routed.addr("server", 4)
    with routed.inside("client"):
        rep = run_ping(srv, count=5, interval_s=0.02, timeout_s=0.5)
    assert (rep.transmitted, rep.received, rep.loss_pct, rep.verdict) == (5, 5, 0.0, PingVerdict.ALIVE)
    mn, avg, mx, mdev = rep.rtt_stats_ns()
    assert 0 < mn <= avg <= mx < 50_000_000 and mdev >= 0
    assert {r.ttl for r in rep.replies} == {63}  # one router on the way
    nft_rule(routed, "server", "input", "icmp type echo-request drop")
    try:
        with routed.inside("client"):
            rep = run_ping(srv, count=2, interval_s=0.02, timeout_s=0.3)
    finally:
        nft_clear(routed, "server")
    assert (rep.received, rep.loss_pct, rep.verdict) == (0, 100.0, PingVerdict.NO_REPLY)
    with routed.inside("client"):
        rep6 = run_ping(routed.addr("server", 6), count=3, interval_s=0.02, timeout_s=0.5, ttl=1)
    assert rep6.verdict == PingVerdict.UNREACHABLE  # hop limit 1 dies at the router
    assert {r.sender for r in rep6.replies} == {routed.addr("router", 6)}


def _rawnet(lab, host: str, *args: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", lab.ns(host)] + (wrap or []) + [sys.executable, "-m", "rawnet", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_cli_probe_json_lines(mixed_lab) -> None:
    p = _rawnet(mixed_lab, "client", "probe", mixed_lab.addr("server", 6), "--ports", "22,80-84", "--json",
                "--timeout", "0.4")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in p.stdout.splitlines()]
    assert [set(r) for r in rows] == [{"port", "proto", "state", "reason", "rtt_ns", "reply_ttl", "sender",
                                       "attempts"}] * 6
    assert {r["port"]: (r["state"], r["reason"]) for r in rows} == EXPECTED


def test_cli_text_outputs(routed) -> None:
    srv = routed.addr("server", 4)
    p = _rawnet(routed, "client", "traceroute", srv, "-q", "1", "-w", "0.5")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[1].split()[:2] == ["1", "198.18.1.1"] and lines[2].split()[:2] == ["2", srv]
    p = _rawnet(routed, "client", "ping", "-c", "2", "-i", "0.05", srv)
    assert p.returncode == 0, p.stderr
    assert "2 packets transmitted, 2 received, 0% packet loss" in p.stdout


@pytest.mark.parametrize("wrap", [["capsh", "--drop=cap_net_raw", "--", "-c", "exec \"$0\" \"$@\""],
                                  ["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw"]])
@pytest.mark.parametrize("cmd", [["ping", "-c", "1"], ["probe", "--ports", "80"], ["traceroute"]])
def test_unprivileged_gets_exit_77_and_the_hint(routed, wrap: list[str], cmd: list[str]) -> None:
    tool = wrap[0]
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool}")
    argv = cmd[:1] + [routed.addr("server", 4)] + cmd[1:]
    p = _rawnet(routed, "client", *argv, wrap=wrap)
    assert p.returncode == 77, (p.stdout, p.stderr)
    assert re.search(r"rawnet: error: .* needs CAP_NET_RAW; run as root, or: sudo setcap cap_net_raw\+ep /\S+python",
                     p.stderr), p.stderr


def test_policy_routing_is_honoured(routed) -> None:
    """An `ip rule` sending traffic to the server through table 100 with another source address: route_to
    reports that table and source, and a probe from it gets its answers (the kernel, not a copy, decides)."""
    from rawnet.transport.route import route_to

    routed.run("client", ["ip", "addr", "add", "198.18.1.3/24", "dev", "eth0"])
    routed.run("client", ["ip", "route", "add", "198.18.2.0/24", "via", "198.18.1.1", "src", "198.18.1.3",
                          "table", "100"])
    routed.run("client", ["ip", "rule", "add", "to", "198.18.2.2", "lookup", "100", "priority", "100"])
    try:
        with routed.inside("client"):
            r = route_to("198.18.2.2")
            other = route_to("198.18.2.1")
            rep = run_probe("198.18.2.2", [80], timeout_s=0.5, retries=0)
        assert (r.src, r.gateway, r.iface, r.table) == ("198.18.1.3", "198.18.1.1", "eth0", "100")
        assert other.src == "198.18.1.2"
        assert (rep.src, rep.results[0].state, rep.results[0].reason) == ("198.18.1.3", "closed", "reset")
    finally:
        routed.run("client", ["ip", "rule", "del", "priority", "100"], check=False)
        routed.run("client", ["ip", "route", "flush", "table", "100"], check=False)


@pytest.mark.parametrize("family", [4, 6])
def test_udp_probe_states(mixed_lab, family: int) -> None:
    srv = mixed_lab.addr("server", family)
    udp = ("import socket, select, sys, time\nfam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
           "s = socket.socket(fam, socket.SOCK_DGRAM)\ns.bind((sys.argv[1], 5353))\nend = time.monotonic() + 20\n"
           "while time.monotonic() < end:\n    r, _, _ = select.select([s], [], [], 0.2)\n    if r:\n"
           "        d, a = s.recvfrom(100)\n        s.sendto(b'ok', a)\n")
    mixed_lab.popen("server", [sys.executable, "-c", udp, srv])
    nft_rule(mixed_lab, "server", "input", "udp dport 5354 drop")
    nft_rule(mixed_lab, "server", "input", "udp dport 5355 reject with icmpx admin-prohibited")
    import time

    time.sleep(0.3)
    with mixed_lab.inside("client"):
        rep = run_probe(srv, [5353, 5354, 5355, 5356], scan="udp", timeout_s=0.4, retries=0, rate_pps=100)
    assert [(r.port, str(r.state), str(r.reason)) for r in rep.results] == [
        (5353, "open", "udp-response"), (5354, "open|filtered", "no-response"),
        (5355, "filtered", "admin-prohibited"), (5356, "closed", "port-unreach")]


NOBODY_CODE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from rawnet.errors import PrivilegeError
from rawnet.transport.raw import L3Sender, PacketReceiver
from rawnet.diag.ping import run_ping
for make in (lambda: L3Sender(4), lambda: PacketReceiver("eth0", None), lambda: run_ping(sys.argv[2], count=1)):
    try:
        make()
    except PrivilegeError as err:
        print(err.exit_code, err)
    else:
        print("no error")
"""


@pytest.mark.skipif(not Path("/usr/bin/python3").exists() or shutil.which("setpriv") is None,
                    reason="needs /usr/bin/python3 and setpriv")
def test_nobody_gets_privilege_errors_from_the_real_socket_calls(routed) -> None:
    """As uid 65534 with no capabilities (the interpreter under /root is out of reach for that user, so the
    system python runs the library from the checkout): the kernel's EPERM of socket() itself is translated."""
    from conftest import ROOT

    argv = ["ip", "netns", "exec", routed.ns("client"), "setpriv", "--reuid=65534", "--regid=65534",
            "--clear-groups", "--inh-caps=-all", "/usr/bin/python3", "-c", NOBODY_CODE, str(ROOT),
            routed.addr("server", 4)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("77 opening a raw IPv4 socket needs CAP_NET_RAW; run as root, or: sudo setcap")
    assert lines[1].startswith("77 opening an AF_PACKET socket needs CAP_NET_RAW; run as root, or: sudo setcap")
    assert lines[2].startswith("77 sending ICMP echo requests needs CAP_NET_RAW")
