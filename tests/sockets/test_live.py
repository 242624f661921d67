"""Live: every state planted in the lab shows up exactly as the kernel holds it, with pid, process
and owner; the sock_diag reader equals the psutil reference; ss agrees on the states."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from rawnet.sockets import SocketEntry, SocketFilter, SocketState, snapshot

from .conftest import MY_NAME, MY_PID, MY_USER, SYN_SPORT, Scene

S = SocketState
pytestmark = pytest.mark.privileged

SS_NAMES = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECEIVED", "FIN-WAIT-1": "FIN_WAIT_1",
            "FIN-WAIT-2": "FIN_WAIT_2", "TIME-WAIT": "TIME_WAIT", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
            "LISTEN": "LISTEN", "CLOSING": "CLOSING", "UNCONN": "NONE"}


def mine(proto: str, fam: int, laddr: str, lport: int, raddr: str | None, rport: int | None,
         state: SocketState) -> SocketEntry:
    return SocketEntry(proto, fam, laddr, lport, raddr, rport, state, MY_PID, MY_NAME, MY_USER, "process")


def kernels(proto: str, fam: int, laddr: str, lport: int, raddr: str | None, rport: int | None,
            state: SocketState) -> SocketEntry:
    return SocketEntry(proto, fam, laddr, lport, raddr, rport, state, None, None, None, "kernel")


def expected_server(sc: Scene) -> Counter[SocketEntry]:
    p = sc.ports
    rows = []
    for fam, srv, cli in ((4, "198.18.0.2", "198.18.0.1"), (6, "fd00::2", "fd00::1")):
        t = str(fam)
        rows += [
            mine("tcp", fam, srv, 8080, None, None, S.LISTEN),
            mine("tcp", fam, srv, 8080, cli, p["est" + t], S.ESTABLISHED),
            mine("tcp", fam, srv, 8080, cli, p["half" + t], S.CLOSE_WAIT),
            mine("tcp", fam, srv, 8080, cli, p["lastack" + t], S.LAST_ACK),
            mine("tcp", fam, srv, 8080, cli, p["closing" + t], S.FIN_WAIT_1),
            mine("udp", fam, srv, 5353, None, None, S.NONE),
        ]
    rows += [mine("tcp", 6, "::", 8443, None, None, S.LISTEN),
             mine("tcp", 6, "::ffff:198.18.0.2", 8443, "::ffff:198.18.0.1", p["mapped"], S.ESTABLISHED)]
    rows += [mine("tcp", 4, "198.18.0.2", 7000, None, None, S.LISTEN),
             kernels("tcp", 4, "198.18.0.2", 7000, "198.18.0.1", SYN_SPORT, S.SYN_RECEIVED)]
    return Counter(rows)


def expected_client(sc: Scene) -> Counter[SocketEntry]:
    p = sc.ports
    rows = []
    for fam, srv, cli in ((4, "198.18.0.2", "198.18.0.1"), (6, "fd00::2", "fd00::1")):
        t = str(fam)
        rows += [
            mine("tcp", fam, cli, p["est" + t], srv, 8080, S.ESTABLISHED),
            mine("tcp", fam, cli, p["half" + t], srv, 8080, S.FIN_WAIT_2),
            kernels("tcp", fam, cli, p["lastack" + t], srv, 8080, S.TIME_WAIT),
            mine("tcp", fam, cli, p["closing" + t], srv, 8080, S.CLOSING),
            mine("tcp", fam, cli, p["synsent" + t], srv, 9, S.SYN_SENT),
            mine("udp", fam, cli, p["udp" + t], srv, 5353, S.NONE),
        ]
    rows.append(mine("tcp", 4, "198.18.0.1", p["mapped"], "198.18.0.2", 8443, S.ESTABLISHED))
    return Counter(rows)


@pytest.mark.parametrize("reader", ["diag", "psutil"])
def test_every_state_exactly(scene: Scene, reader: str) -> None:
    lab = scene.lab
    with lab.inside("server"):
        server = snapshot(reader=reader)  # type: ignore[arg-type]
    with lab.inside("client"):
        client = snapshot(reader=reader)  # type: ignore[arg-type]
    assert server.reader == reader
    assert Counter(server.entries) == expected_server(scene)
    assert Counter(client.entries) == expected_client(scene)


def test_diag_equals_psutil_reference(scene: Scene) -> None:
    for host in ("server", "client"):
        with scene.lab.inside(host):
            fast = snapshot(reader="diag")
            ref = snapshot(reader="psutil")
        assert Counter(fast.entries) == Counter(ref.entries), host
        assert len(fast) == (16 if host == "server" else 13)


def test_ss_agrees_on_states(scene: Scene) -> None:
    lab: Any = scene.lab
    for host in ("server", "client"):
        with lab.inside(host):
            tcp = snapshot(flt=SocketFilter(protos=frozenset({"tcp"})))
        ours = Counter((str(e.state), e.lport, e.rport or 0) for e in tcp.entries)
        theirs: Counter[tuple[str, int, int]] = Counter()
        for line in lab.run(host, ["ss", "-tanH"]).stdout.splitlines():
            st, _rq, _sq, local, peer = line.split()[:5]
            rport = peer.rsplit(":", 1)[1]
            theirs[(SS_NAMES[st], int(local.rsplit(":", 1)[1]), 0 if rport == "*" else int(rport))] += 1
        assert ours == theirs, host


def test_no_processes_keeps_owner_kind(scene: Scene) -> None:
    with scene.lab.inside("client"):
        t = snapshot(processes=False)
    by_state = {(e.family, e.state): (e.pid, e.process, e.user, e.owner) for e in t.entries if e.proto == "tcp"}
    assert by_state[(4, S.TIME_WAIT)] == (None, None, None, "kernel")
    assert by_state[(6, S.ESTABLISHED)] == (None, None, None, "process")
    assert by_state[(4, S.SYN_SENT)] == (None, None, None, "process")
    assert by_state[(6, S.CLOSING)] == (None, None, None, "process")


def test_filters_on_live_table(scene: Scene) -> None:
    with scene.lab.inside("server"):
        listen6 = snapshot(flt=SocketFilter(families=frozenset({6}), listening=True))
        bucket = snapshot(flt=SocketFilter(states=frozenset({S.SYN_RECEIVED, S.TIME_WAIT})))
        v4peer = snapshot(flt=SocketFilter(host="198.18.0.1", dport=SYN_SPORT))
        mapped = snapshot(flt=SocketFilter(host="198.18.0.1", sport=8443))
    assert sorted((e.proto, e.laddr, e.lport, str(e.state)) for e in listen6.entries) == [
        ("tcp", "::", 8443, "LISTEN"), ("tcp", "fd00::2", 8080, "LISTEN"), ("udp", "fd00::2", 5353, "NONE")]
    assert [(e.lport, e.rport, str(e.state), e.owner) for e in bucket.entries] == [
        (7000, SYN_SPORT, "SYN_RECEIVED", "kernel")]
    assert [(e.laddr, e.raddr, e.rport) for e in v4peer.entries] == [("198.18.0.2", "198.18.0.1", SYN_SPORT)]
    assert [(e.family, e.raddr) for e in mapped.entries] == [(6, "::ffff:198.18.0.1")]  # IPv4 host finds mapped peers


def test_unprivileged_reader_sees_hidden_owners(scene: Scene) -> None:
    """Run as nobody: rows stay, pids of root's sockets become owner "hidden"; minisockets stay "kernel"."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    # the unprivileged user cannot enter /root, where this interpreter may live: use the system one
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if shutil.which("setpriv") is None or python is None:
        pytest.skip("needs setpriv (util-linux) and a python3 outside /root")
    root = Path(__file__).resolve().parents[2]
    code = "import json; from rawnet.sockets import snapshot; print(json.dumps([e.as_dict() for e in snapshot().entries]))"
    argv = scene.lab.exec_args("client", ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                                          "env", f"PYTHONPATH={root}", python, "-c", code])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")
    assert (r.returncode, r.stderr) == (0, "")
    got = Counter((d["state"], d["pid"], d["owner"]) for d in json.loads(r.stdout))
    assert got == Counter({("ESTABLISHED", None, "hidden"): 3, ("FIN_WAIT_2", None, "hidden"): 2,
                           ("CLOSING", None, "hidden"): 2, ("SYN_SENT", None, "hidden"): 2,
                           ("NONE", None, "hidden"): 2, ("TIME_WAIT", None, "kernel"): 2})
