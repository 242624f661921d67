"""The network lab: topology, addresses, offloads, nft rules, cleanup even on failure, scripts/netlab."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rawnet.lab import Lab, lab_up, list_labs, netns_exists

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.privileged
def test_lab_is_removed_even_when_the_body_fails() -> None:
    names: list[str] = []
    with pytest.raises(RuntimeError, match="boom"):
        with lab_up() as lab:
            names = list(lab.hosts.values())
            assert all(netns_exists(n) for n in names)
            lab.popen("server", ["sleep", "30"])
            raise RuntimeError("boom")
    assert names and not any(netns_exists(n) for n in names)


@pytest.mark.privileged
def test_direct_lab_addresses_offloads_and_a_real_tcp_exchange(lab: Lab) -> None:
    assert (lab.addr("client"), lab.addr("server"), lab.addr("client", 6), lab.addr("server", 6)) == (
        "198.18.0.1", "198.18.0.2", "fd00::1", "fd00::2")
    addrs = json.loads(lab.run("server", ["ip", "-j", "addr", "show", "eth0"]).stdout)[0]["addr_info"]
    assert {(a["local"], a["prefixlen"]) for a in addrs if a["scope"] == "global"} == {("198.18.0.2", 24),
                                                                                       ("fd00::2", 64)}
    feats = lab.run("client", ["ethtool", "-k", "eth0"]).stdout
    assert "tcp-segmentation-offload: off" in feats and "generic-receive-offload: off" in feats
    with lab.inside("server"):
        srv = socket.create_server((lab.addr("server"), 9000))
    with lab.inside("client"):
        c = socket.create_connection((lab.addr("server"), 9000), timeout=3)
    conn, peer = srv.accept()
    c.sendall(b"ping")
    assert (conn.recv(4), peer[0]) == (b"ping", "198.18.0.1")
    for s in (c, conn, srv):
        s.close()


@pytest.mark.privileged
def test_routed_lab_forwards_v4_and_v6_through_the_router(routed_lab: Lab) -> None:
    lab = routed_lab
    assert lab.run("router", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    for fam, host in ((4, lab.addr("server")), (6, lab.addr("server", 6))):
        out = lab.run("client", ["ping", f"-{fam}", "-c", "1", "-W", "2", host]).stdout
        assert " 0% packet loss" in out
        assert "ttl=63" in out or "hlim=63" in out  # one router hop


@pytest.mark.privileged
def test_nft_drop_and_reject_rules(lab: Lab) -> None:
    lab.nft_input_rule("server", "tcp dport 81 drop")
    lab.nft_input_rule("server", "tcp dport 82 reject with icmpx admin-prohibited")
    rules = lab.run("server", ["nft", "list", "table", "inet", "rawnet"]).stdout
    assert "tcp dport 81 drop" in rules and "tcp dport 82 reject with icmpx admin-prohibited" in rules
    with lab.inside("client"):
        s = socket.socket()
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.connect((lab.addr("server"), 81))
        s.close()
        s = socket.socket()
        s.settimeout(3)
        with pytest.raises(OSError) as info:
            s.connect((lab.addr("server"), 82))
        s.close()
    assert info.value.errno == 113  # EHOSTUNREACH: admin-prohibited, not a RST
    lab.nft_flush("server")
    assert "rawnet" not in lab.run("server", ["nft", "list", "tables"]).stdout


@pytest.mark.privileged
def test_netlab_script_up_status_down() -> None:
    prefix = "rnt" + str(abs(hash(sys.argv[0])) % 10000)
    up = subprocess.run([sys.executable, str(ROOT / "scripts" / "netlab"), "up", "--prefix", prefix, "--routed",
                         "--drop", "81", "--reject", "82:tcp reset"], capture_output=True, text=True, timeout=60)
    try:
        assert up.returncode == 0, up.stderr
        assert up.stdout.startswith(f"lab {prefix}: client {prefix}-client 198.18.1.2 fd00:1::2")
        assert prefix in list_labs()
        status = subprocess.run([sys.executable, str(ROOT / "scripts" / "netlab"), "status"], capture_output=True,
                                text=True, timeout=30)
        assert prefix in status.stdout.split()
        rules = subprocess.run(["ip", "netns", "exec", f"{prefix}-server", "nft", "list", "ruleset"],
                               capture_output=True, text=True, timeout=30).stdout
        assert "tcp dport 81 drop" in rules and "tcp dport 82 reject with tcp reset" in rules
    finally:
        down = subprocess.run([sys.executable, str(ROOT / "scripts" / "netlab"), "down", prefix],
                              capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and down.stdout.strip() == f"removed {prefix}"
    assert prefix not in list_labs()


def test_netlab_help_and_unprivileged_message() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "netlab"), "--help"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and "up" in out.stdout and "down" in out.stdout
