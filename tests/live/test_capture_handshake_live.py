"""Live capture of known traffic, and the handshake ladder, in the lab (root only)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from live.diag_lab import listen
from rawnet.capture.files import iter_frames
from rawnet.capture.live import open_live
from rawnet.diag.handshake import EndpointState, HandshakeVerdict, run_handshake
from rawnet.packet import decode

pytestmark = pytest.mark.privileged


@pytest.fixture(scope="module")
def echo_lab() -> Iterator[object]:
    from conftest import is_root, skip_or_fail

    if not is_root():
        skip_or_fail("the network lab needs root; run as root")
    from rawnet.lab import lab_up

    lab = lab_up()
    try:
        listen(lab, "server", "7")
        yield lab
    finally:
        lab.down()


def test_capture_of_known_pings_has_right_packets_and_no_drops(echo_lab) -> None:
    frames = []
    with echo_lab.inside("client"):
        cap = open_live("eth0", "icmp")
    try:
        t = threading.Thread(target=lambda: frames.extend(cap.frames(count=10, duration_s=5)))
        t.start()
        time.sleep(0.2)
        echo_lab.run("client", ["ping", "-c", "5", "-i", "0.01", "-n", echo_lab.addr("server", 4)])
        t.join(10)
        st = cap.statistics()
    finally:
        cap.close()
    pkts = [decode(f.data, f.linktype) for f in frames]
    assert [f.linktype for f in frames] == [1] * 10
    assert [(p.icmp.type, p.icmp.sequence) for p in pkts] == [(t, s) for s in range(1, 6) for t in (8, 0)]
    assert [p.src for p in pkts[:2]] == ["198.18.0.1", "198.18.0.2"]
    assert (st.received, st.dropped) == (10, 0)
    assert all(b.ts_ns >= a.ts_ns for a, b in zip(frames, frames[1:]))


def test_cli_capture_writes_pcap_tshark_reads_it(echo_lab, tmp_path) -> None:
    path = tmp_path / "c.pcap"
    proc = subprocess.Popen(["ip", "netns", "exec", echo_lab.ns("client"), sys.executable, "-m", "rawnet", "capture", "-i", "any", "-f",
                             "icmp6[icmp6type] == icmp6-echo or icmp6[icmp6type] == icmp6-echoreply", "-c", "4", "--duration", "10", "-w", str(path)], stderr=subprocess.PIPE,
                            text=True)
    for _ in range(200):
        if path.exists() and path.stat().st_size >= 24:
            break
        time.sleep(0.05)
    echo_lab.run("client", ["ping", "-6", "-c", "2", "-i", "0.05", "-n", echo_lab.addr("server", 6)])
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "4 packets captured" in err and "0 packets dropped by kernel" in err
    frames = list(iter_frames(str(path)))
    assert [f.linktype for f in frames] == [113] * 4
    assert [decode(f.data, 113).icmp.type for f in frames] == [128, 129, 128, 129]
    import shutil

    if shutil.which("tshark"):
        out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "icmpv6.type"], capture_output=True,
                             text=True, timeout=30).stdout.split()
        assert out == ["128", "129", "128", "129"]


def test_capture_interrupt_leaves_valid_file(echo_lab, tmp_path) -> None:
    import signal

    path = tmp_path / "i.pcap"
    proc = subprocess.Popen(["ip", "netns", "exec", echo_lab.ns("client"), sys.executable, "-m", "rawnet", "capture", "-i", "eth0",
                             "--duration", "20", "-w", str(path)], stderr=subprocess.PIPE, text=True)
    for _ in range(200):  # the pcap header is written once the socket and the SIGINT handler are in place
        if path.exists() and path.stat().st_size >= 24:
            break
        time.sleep(0.05)
    echo_lab.run("client", ["ping", "-c", "3", "-i", "0.05", "-n", echo_lab.addr("server", 4)])
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    frames = list(iter_frames(str(path)))
    assert len(frames) >= 6 and "packets dropped by kernel" in err


@pytest.mark.parametrize("family", [4, 6])
def test_handshake_ladder_states_and_timings(echo_lab, family: int) -> None:
    srv = echo_lab.addr("server", family)
    target = f"[{srv}]:7" if family == 6 else f"{srv}:7"
    with echo_lab.inside("client"):
        rep = run_handshake(target, send=b"hello\n")
    assert rep.verdict == HandshakeVerdict.COMPLETED
    labels = [r.label.split()[0] for r in rep.rows]
    assert labels[:3] == ["SYN", "SYN/ACK", "ACK"]
    assert [(r.client, r.server) for r in rep.rows[:3]] == [
        (EndpointState.SYN_SENT, EndpointState.LISTEN), (EndpointState.ESTABLISHED, EndpointState.SYN_RECEIVED),
        (EndpointState.ESTABLISHED, EndpointState.ESTABLISHED)]
    assert rep.rows[3].label == "PSH/ACK seq=1 ack=1 len=6"
    assert "FIN" in " ".join(labels)
    finals = {rep.rows[-1].client, rep.rows[-1].server}
    assert finals <= {EndpointState.CLOSED, EndpointState.TIME_WAIT}
    tm = rep.timings
    assert 0 < tm.syn_to_synack_ns < 50_000_000 and tm.synack_to_ack_ns >= 0
    assert tm.request_to_response_ns is not None and tm.close_ns is not None
    assert "SYN-SENT" in rep.ladder().splitlines()[1]
    if rep.tracker is not None:  # the package tracker (rawnet.tcp) agrees on the same packets
        last = rep.rows[-1]
        assert rep.tracker["conn_state"] == "SF"
        assert (rep.tracker["client_state"], rep.tracker["server_state"]) == (
            str(last.client).replace("-", "_"), str(last.server).replace("-", "_"))
        assert rep.tracker["syn_to_synack_ns"] == tm.syn_to_synack_ns


def test_crafted_handshake_shows_the_kernel_rst(echo_lab) -> None:
    with echo_lab.inside("client"):
        rep = run_handshake(f"{echo_lab.addr('server', 4)}:7", crafted=True)
    assert [r.label.split()[0] for r in rep.rows[:3]] == ["SYN", "SYN/ACK", "RST"]
    assert rep.verdict == HandshakeVerdict.RESET
    assert any("the local kernel did not send the SYN" in n for n in rep.notes)


@pytest.mark.parametrize("family", [4, 6])
def test_crafted_handshake_with_opt_in_rst_suppression(echo_lab, family: int) -> None:
    srv = echo_lab.addr("server", family)
    with echo_lab.inside("client"):
        rep = run_handshake(f"[{srv}]:7" if family == 6 else f"{srv}:7", crafted=True, suppress_kernel_rst=True,
                            send=b"hi")
    assert [r.label.split()[0] for r in rep.rows[:4]] == ["SYN", "SYN/ACK", "ACK", "PSH/ACK"]
    assert rep.rows[2].server == EndpointState.ESTABLISHED
    assert any(r.label.endswith("len=7") and not r.from_client for r in rep.rows)  # "echo:hi"
    tables = echo_lab.run("client", ["nft", "list", "tables"]).stdout
    assert "rawnet_hs" not in tables  # the temporary rule is gone


def test_cli_capture_flows_table_with_owner(echo_lab) -> None:
    proc = subprocess.Popen(["ip", "netns", "exec", echo_lab.ns("server"), sys.executable, "-m", "rawnet", "capture",
                             "-i", "eth0", "--duration", "3", "--flows"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    talk = ("import socket\ns = socket.create_connection(('198.18.0.2', 7))\ns.sendall(b'hi')\ns.recv(10)\n"
            "s.close()")
    echo_lab.run("client", [sys.executable, "-c", talk])
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    rows = [ln.split() for ln in out.splitlines()[1:]]
    tcp = [r for r in rows if r[0] == "tcp" and r[2] == "198.18.0.2:7"]
    assert len(tcp) == 1, out
    assert tcp[0][5] == "SF" and tcp[0][-1].endswith("/python3")


def test_cli_handshake_output(echo_lab) -> None:
    p = subprocess.run(["ip", "netns", "exec", echo_lab.ns("client"), sys.executable, "-m", "rawnet", "handshake",
                        f"{echo_lab.addr('server', 4)}:7", "--send", "GET\\r\\n"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "SYN-SENT" in lines[1] and "LISTEN" in lines[1]
    assert any("PSH/ACK seq=1 ack=1 len=5" in ln for ln in lines)  # "GET\r\n": the escapes were applied
    assert "verdict: completed" in lines
    assert any(ln.startswith("  SYN -> SYN/ACK") and ln.endswith(" ms") for ln in lines)
