"""The inferred RFC 9293 states against the kernel's own view (ss in each namespace), live in the lab.

A client and a server in two namespaces go through connect, half-close and close; after each step the
capture so far (tcpdump -U on the client's eth0) is run through the tracker, and each endpoint's
inferred state must equal what `ss` shows for its socket (no socket = CLOSED).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rawnet.capture.files import iter_frames
from rawnet.errors import TruncatedCaptureError
from rawnet.flow.table import ConversationTable
from rawnet.packet.stack import decode
from rawnet.tcp import TCPTracker

SS_NAMES = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECEIVED", "FIN-WAIT-1": "FIN_WAIT_1",
            "FIN-WAIT-2": "FIN_WAIT_2", "TIME-WAIT": "TIME_WAIT", "CLOSE-WAIT": "CLOSE_WAIT",
            "LAST-ACK": "LAST_ACK", "CLOSING": "CLOSING"}
CPORT = 40001
PORT = 8080


def _kernel_state(lab: Any, host: str) -> str:
    out = lab.run(host, ["ss", "-Htan", "state", "all", f"( sport = :{CPORT} or dport = :{CPORT} )"]).stdout
    states = [SS_NAMES.get(line.split()[0], line.split()[0]) for line in out.splitlines() if line.strip()]
    assert len(states) <= 1, out
    return states[0] if states else "CLOSED"


def _tracker_states(path: Path) -> tuple[str, str]:
    table = ConversationTable()
    tr = TCPTracker()
    with contextlib.suppress(TruncatedCaptureError):
        for n, fr in enumerate(iter_frames(str(path)), 1):
            pkt = decode(fr.data, fr.linktype, strict=False)
            r = table.add(pkt, n, fr.ts_ns, fr.wirelen)
            if r is not None and pkt.tcp is not None:
                tr.process(pkt, n, fr.ts_ns, *r)
    flows = [f for f in table.flows() if f.proto == 6]
    assert len(flows) == 1
    k = tr.flow_keys(flows[0])
    return k["client_state"], k["server_state"]


@contextlib.contextmanager
def _tcpdump(lab: Any, path: Path) -> Iterator[None]:
    proc = lab.popen("client", ["tcpdump", "-i", "eth0", "-w", str(path), "-U", "--immediate-mode", "-n",
                                "-Z", "root", f"tcp port {PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        buf = b""
        deadline = time.monotonic() + 10
        while b"listening on" not in buf and time.monotonic() < deadline:
            buf += proc.stderr.read1(256)  # type: ignore[union-attr]
        time.sleep(0.2)
        yield
    finally:
        proc.send_signal(2)
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def _run(lab: Any, tmp_path: Path, script: str) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
    """Run one scripted exchange; return (step, kernel states, inferred states) after each step."""
    path = tmp_path / "live.pcap"
    server_ip = lab.addr("server")
    with lab.inside("server"):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((server_ip, PORT))
        ls.listen(1)
    accepted: list[socket.socket] = []
    t = threading.Thread(target=lambda: accepted.append(ls.accept()[0]), daemon=True)
    t.start()
    steps: list[tuple[str, tuple[str, str], tuple[str, str]]] = []

    def check(name: str) -> None:
        time.sleep(0.4)
        kernel = (_kernel_state(lab, "client"), _kernel_state(lab, "server"))
        steps.append((name, kernel, _tracker_states(path)))

    with _tcpdump(lab, path):
        with lab.inside("client"):
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            c.bind((lab.addr("client"), CPORT))
        c.connect((server_ip, PORT))
        t.join(5)
        conn = accepted[0]
        c.sendall(b"hello")
        conn.recv(100)
        check("established")
        if script == "client-closes":
            c.shutdown(socket.SHUT_WR)
            check("client half-closed")
            conn.close()
            check("server closed")
            c.close()
        elif script == "server-closes":
            conn.close()
            check("server closed")
            c.close()
            check("client closed")
        else:  # abort: SO_LINGER {1, 0} makes close() send a RST
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            check("client aborted")
            conn.close()
        ls.close()
    return steps


@pytest.mark.privileged
def test_inferred_states_equal_kernel_states_client_closes(lab: Any, tmp_path: Path) -> None:
    steps = _run(lab, tmp_path, "client-closes")
    for name, kernel, inferred in steps:
        assert inferred == kernel, f"{name}: kernel {kernel}, inferred {inferred}"
    assert [s[1] for s in steps] == [("ESTABLISHED", "ESTABLISHED"), ("FIN_WAIT_2", "CLOSE_WAIT"),
                                     ("TIME_WAIT", "CLOSED")]


@pytest.mark.privileged
def test_inferred_states_equal_kernel_states_server_closes(lab: Any, tmp_path: Path) -> None:
    steps = _run(lab, tmp_path, "server-closes")
    for name, kernel, inferred in steps:
        assert inferred == kernel, f"{name}: kernel {kernel}, inferred {inferred}"
    assert [s[1] for s in steps] == [("ESTABLISHED", "ESTABLISHED"), ("CLOSE_WAIT", "FIN_WAIT_2"),
                                     ("CLOSED", "TIME_WAIT")]


@pytest.mark.privileged
def test_inferred_states_equal_kernel_states_abort(lab: Any, tmp_path: Path) -> None:
    steps = _run(lab, tmp_path, "abort")
    for name, kernel, inferred in steps:
        assert inferred == kernel, f"{name}: kernel {kernel}, inferred {inferred}"
    assert [s[1] for s in steps] == [("ESTABLISHED", "ESTABLISHED"), ("CLOSED", "CLOSED")]
