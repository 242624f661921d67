"""Pure tests of ``check`` (findings with evidence) and ``who_holds`` (one sentence per holder)."""

from __future__ import annotations

from rawnet.sockets import FindingKind, SocketState, SocketTable, check, who_holds

from .test_table import E

S = SocketState


def kernel(**kw: object) -> object:
    return E(pid=None, process=None, user=None, owner="kernel", **kw)  # type: ignore[arg-type]


def test_close_wait_leak_threshold() -> None:
    rows = [E(state=S.CLOSE_WAIT, rport=p, pid=7, process="leaky") for p in (1001, 1002, 1003)]
    rows.append(E(state=S.CLOSE_WAIT, rport=2000, pid=8, process="fine"))
    assert check(rows, close_wait_threshold=4) == []
    (f,) = check(rows, close_wait_threshold=3)
    assert (f.kind, f.pid, f.port) == (FindingKind.CLOSE_WAIT_LEAK, 7, None)
    assert f.message == ("leaky (pid 7) holds 3 CLOSE_WAIT sockets: the peers closed their side and the "
                         "application never called close() on its own")
    assert f.evidence == (
        "3 CLOSE_WAIT sockets (threshold 3)",
        "198.18.0.2:80 <- 198.18.0.1:1001 CLOSE_WAIT",
        "198.18.0.2:80 <- 198.18.0.1:1002 CLOSE_WAIT",
        "198.18.0.2:80 <- 198.18.0.1:1003 CLOSE_WAIT",
        "peers: 198.18.0.1:1001 x1, 198.18.0.1:1002 x1, 198.18.0.1:1003 x1",
    )
    assert f.as_dict()["kind"] == "close_wait_leak"


def test_time_wait_pressure_against_port_range() -> None:
    rows = [kernel(state=S.TIME_WAIT, laddr="198.18.0.1", lport=30000 + i, raddr="198.18.0.2", rport=80)
            for i in range(60)]
    rows += [kernel(state=S.TIME_WAIT, laddr="198.18.0.1", lport=31000 + i, raddr="198.18.0.3", rport=443)
             for i in range(5)]
    assert check(rows, port_range=(1000, 1199)) == []  # 60 of 200 ports: below half
    (f,) = check(rows, port_range=(1000, 1099))  # 60 of 100 ports
    assert (f.kind, f.port) == (FindingKind.TIME_WAIT_PRESSURE, 80)
    assert f.message == ("60 TIME_WAIT sockets to 198.18.0.2:80 use 60% of the ephemeral port range 1000-1099; "
                         "new connections to it will fail with EADDRNOTAVAIL when the range runs out "
                         "(each remnant lasts ~60 s)")
    assert f.evidence == ("65 TIME_WAIT sockets in all; ephemeral range 1000-1099 has 100 ports",
                          "60 of them (60% of the range) go to 198.18.0.2:80", "198.18.0.3:443: 5")


def test_listeners_loopback_all_and_shared() -> None:
    rows = [
        E(state=S.LISTEN, laddr="127.0.0.1", lport=5432, raddr=None, rport=None, pid=10, process="postgres"),
        E(state=S.LISTEN, fam=6, laddr="::1", lport=5432, raddr=None, rport=None, pid=10, process="postgres"),
        E(state=S.LISTEN, laddr="0.0.0.0", lport=80, raddr=None, rport=None, pid=20, process="nginx"),
        E(state=S.LISTEN, laddr="0.0.0.0", lport=80, raddr=None, rport=None, pid=21, process="nginx"),
        E(state=S.LISTEN, laddr="198.18.0.2", lport=22, raddr=None, rport=None, pid=30, process="sshd"),
        E(proto="udp", state=S.NONE, laddr="127.0.0.53", lport=53, raddr=None, rport=None, pid=40, process="resolved"),
    ]
    got = [(f.kind.value, f.pid, f.port) for f in check(rows)]
    assert got == [
        ("loopback_only_listener", 10, 5432), ("loopback_only_listener", 10, 5432),
        ("loopback_only_listener", 40, 53),
        ("all_addresses_listener", 20, 80), ("all_addresses_listener", 21, 80),
        ("shared_port", None, 80),
    ]
    fs = check(rows)
    assert fs[0].message == "postgres (pid 10) listens on TCP 127.0.0.1:5432 on loopback only: other hosts cannot reach it"
    assert fs[1].message == "postgres (pid 10) listens on TCP [::1]:5432 on loopback only: other hosts cannot reach it"
    assert fs[2].message == "resolved (pid 40) is bound to UDP 127.0.0.53:53 on loopback only: other hosts cannot reach it"
    assert fs[-1].message == "TCP port 80 is held by 2 processes: nginx (pid 20), nginx (pid 21)"
    assert fs[-1].evidence == ("tcp 0.0.0.0:80 LISTEN pid=20 process=nginx", "tcp 0.0.0.0:80 LISTEN pid=21 process=nginx")


def test_who_sentences() -> None:
    rows = [
        E(state=S.LISTEN, laddr="0.0.0.0", lport=8080, raddr=None, rport=None, pid=5, process="web", user="www"),
        E(state=S.LISTEN, fam=6, laddr="::", lport=8080, raddr=None, rport=None, pid=5, process="web", user="www"),
        E(state=S.ESTABLISHED, lport=8080, rport=41000, pid=5, process="web", user="www"),
        E(state=S.CLOSE_WAIT, lport=8080, rport=41001, pid=5, process="web", user="www"),
        kernel(state=S.TIME_WAIT, lport=8080, rport=41002),
        kernel(state=S.TIME_WAIT, lport=8080, rport=41003),
        kernel(state=S.SYN_RECEIVED, lport=8080, rport=41004),
        kernel(state=S.FIN_WAIT_1, lport=8080, rport=41005),
        E(proto="udp", state=S.NONE, lport=8080, raddr=None, rport=None, pid=None, process=None, user=None,
          owner="hidden"),
        E(state=S.ESTABLISHED, lport=9999, rport=8080),  # remote port 8080: not a holder of local 8080
    ]
    holders = who_holds(SocketTable(tuple(rows)), 8080)
    assert [(h.kind, h.pid, h.owner, len(h.entries)) for h in holders] == [
        ("listener", 5, "process", 2), ("bound", None, "hidden", 1), ("connected", 5, "process", 2),
        ("request", None, "kernel", 1), ("orphan", None, "kernel", 1), ("time_wait", None, "kernel", 2)]
    assert [h.sentence for h in holders] == [
        "web (pid 5, user www) listens for TCP connections on every IPv4 address, port 8080 and every IPv6 address, port 8080.",
        "A process you may not see (run as root to name it) has a UDP socket bound to 198.18.0.2:8080.",
        "web (pid 5, user www) has 1 ESTABLISHED TCP connection (198.18.0.2:8080 <-> 198.18.0.1:41000); "
        "1 CLOSE_WAIT TCP connection (198.18.0.2:8080 <-> 198.18.0.1:41001) on local port 8080.",
        "The kernel holds 1 half-open connection (SYN_RECEIVED, handshake not completed) on port 8080 from "
        "198.18.0.1:41004; they go when the handshake completes or times out.",
        "The kernel holds 1 orphaned connection on port 8080 (FIN_WAIT_1): their process closed them and the "
        "kernel is finishing the close.",
        "The kernel holds 2 TIME_WAIT remnants of closed TCP connections on port 8080 (peers 198.18.0.1:41002, "
        "198.18.0.1:41003); no process owns them and each expires within ~60 s of its close.",
    ]
    assert [h.kind for h in who_holds(rows, 8080, proto="udp")] == ["bound"]
    assert who_holds(rows, 1) == []
    assert holders[0].as_dict()["count"] == 2


def test_who_connected_udp() -> None:
    rows = [E(proto="udp", state=S.NONE, lport=5000, raddr="198.18.0.9", rport=53, pid=3, process="dig", user="me")]
    assert [h.sentence for h in who_holds(rows, 5000)] == [
        "dig (pid 3, user me) has 1 connected UDP socket (198.18.0.2:5000 <-> 198.18.0.9:53) on local port 5000."]
