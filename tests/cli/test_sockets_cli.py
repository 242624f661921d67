"""CLI tests of ``rawnet sockets`` (table, --json, --summary, who, check) and ``rawnet watch``: in-process
with click's CliRunner on a fixed snapshot, and through the installed command in a lab namespace."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rawnet.cli import cli, main
from rawnet.cli import sockets_cmds
from rawnet.sockets import SocketEntry, SocketFilter, SocketState, SocketTable

ROOT = Path(__file__).resolve().parents[2]
S = SocketState

ROWS = (
    SocketEntry("tcp", 4, "0.0.0.0", 8080, None, None, S.LISTEN, 5, "web", "www", "process"),
    SocketEntry("tcp", 4, "198.18.0.2", 8080, "198.18.0.1", 41000, S.ESTABLISHED, 5, "web", "www", "process"),
    SocketEntry("tcp", 4, "198.18.0.2", 8080, "198.18.0.1", 41001, S.TIME_WAIT, None, None, None, "kernel"),
    SocketEntry("tcp", 6, "::1", 6000, None, None, S.LISTEN, 6, 'we"ird', "root", "process"),
    SocketEntry("udp", 6, "fd00::2", 5353, None, None, S.NONE, None, None, None, "hidden"),
)


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Make every command see ROWS; record the arguments snapshot() was called with."""
    calls: list[dict[str, Any]] = []

    def fake_snapshot(*, reader: str = "diag", processes: bool = True, flt: SocketFilter | None = None,
                      clock: Any = None) -> SocketTable:
        calls.append({"reader": reader, "processes": processes, "flt": flt})
        t = SocketTable(ROWS, 1_700_000_000_123_000_000, reader)
        return t.select(flt) if flt is not None else t

    monkeypatch.setattr(sockets_cmds, "snapshot", fake_snapshot)
    return calls


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_lines(fixed: list[dict[str, Any]]) -> None:
    r = run("sockets", "--json")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert [json.loads(line) for line in lines] == [e.as_dict() for e in ROWS]
    assert lines[2] == ('{"proto": "tcp", "family": 4, "laddr": "198.18.0.2", "lport": 8080, "raddr": "198.18.0.1", '
                        '"rport": 41001, "state": "TIME_WAIT", "pid": null, "process": null, "user": null, '
                        '"owner": "kernel"}')
    assert json.loads(lines[3])["process"] == 'we"ird'
    assert fixed == [{"reader": "diag", "processes": True, "flt": SocketFilter()}]


def test_filters_are_parsed(fixed: list[dict[str, Any]]) -> None:
    r = run("sockets", "--json", "--tcp", "-4", "--state", "time-wait", "--state", "LISTEN", "--port", "8080",
            "--no-processes", "--reader", "psutil")
    assert r.exit_code == 0
    assert [json.loads(x)["state"] for x in r.output.splitlines()] == ["LISTEN", "TIME_WAIT"]
    assert fixed[0]["reader"] == "psutil" and fixed[0]["processes"] is False
    assert fixed[0]["flt"] == SocketFilter(protos=frozenset({"tcp"}), families=frozenset({4}),
                                           states=frozenset({S.TIME_WAIT, S.LISTEN}), port=8080)
    r = run("sockets", "--json", "-6", "--listening")
    assert [(json.loads(x)["proto"], json.loads(x)["lport"]) for x in r.output.splitlines()] == [("tcp", 6000), ("udp", 5353)]
    r = run("sockets", "--json", "--host", "198.18.0.0/24", "--state", "bucket", "--pid", "5")
    assert r.output == ""


def test_table_text(fixed: list[dict[str, Any]]) -> None:
    r = run("sockets")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].split() == ["Proto", "State", "Local", "Peer", "Process", "User"]
    assert lines[1].split() == ["tcp", "LISTEN", "0.0.0.0:8080", "*", "web", "(5)", "www"]
    assert lines[3].split() == ["tcp", "TIME_WAIT", "198.18.0.2:8080", "198.18.0.1:41001", "[kernel]"]
    assert lines[5].split() == ["udp6", "[fd00::2]:5353", "*", "[hidden]"]
    assert lines[-1] == "5 sockets"


def test_summary(fixed: list[dict[str, Any]]) -> None:
    r = run("sockets", "--summary", "--json")
    assert json.loads(r.output) == {
        "total": 5,
        "protocols": {"tcp": {"total": 4, "states": {"LISTEN": 2, "ESTABLISHED": 1, "TIME_WAIT": 1},
                              "families": {"4": 3, "6": 1}},
                      "udp": {"total": 1, "states": {"NONE": 1}, "families": {"6": 1}}},
        "owners": {"hidden": 1, "kernel": 1, "process": 3}, "orphaned": 0}
    text = run("sockets", "--summary").output.splitlines()
    assert text[:2] == ["Total: 5 (owned by processes 3, kernel 1, hidden 1)",
                        "TCP:   4 (estab 1, closed 0, orphaned 0, timewait 1)"]
    assert "TCP             4      3      1" in text


def test_who(fixed: list[dict[str, Any]]) -> None:
    r = run("sockets", "who", "8080")
    assert r.exit_code == 0
    assert r.output.splitlines() == [
        "web (pid 5, user www) listens for TCP connections on every IPv4 address, port 8080.",
        "web (pid 5, user www) has 1 ESTABLISHED TCP connection (198.18.0.2:8080 <-> 198.18.0.1:41000) on local port 8080.",
        "The kernel holds 1 TIME_WAIT remnant of closed TCP connections on port 8080 (peers 198.18.0.1:41001); "
        "no process owns them and each expires within ~60 s of its close.",
    ]
    r = run("sockets", "who", "9")
    assert (r.exit_code, r.output) == (1, "Nothing holds local port 9.\n")
    r = run("sockets", "who", "--json", "--udp", "5353")
    assert [(d["kind"], d["owner"], d["count"]) for d in map(json.loads, r.output.splitlines())] == [("bound", "hidden", 1)]


def test_check(fixed: list[dict[str, Any]]) -> None:
    r = run("sockets", "check", "--json")
    assert r.exit_code == 1
    got = [json.loads(x) for x in r.output.splitlines()]
    assert [(f["kind"], f["pid"], f["port"]) for f in got] == [
        ("loopback_only_listener", 6, 6000), ("all_addresses_listener", 5, 8080)]
    text = run("sockets", "check").output.splitlines()
    assert text[0] == '[loopback_only_listener] we"ird (pid 6) listens on TCP [::1]:6000 on loopback only: other hosts cannot reach it'
    assert text[1] == '    tcp [::1]:6000 LISTEN pid=6 process=we"ird'


def test_watch_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from rawnet.sockets import watch

    tables = iter([SocketTable(ROWS[:1], 0), SocketTable(ROWS[:2], 1_000), SocketTable(ROWS[:1], 2_000)])
    monkeypatch.setattr(watch, "snapshot", lambda **kw: next(tables))
    r = run("watch", "--count", "2", "--interval", "0.01", "--json", "--port", "8080")
    assert r.exit_code == 0
    assert [json.loads(x) for x in r.output.splitlines()] == [
        {"ts_ns": 1000, "event": "opened", "proto": "tcp", "laddr": "198.18.0.2", "lport": 8080, "raddr": "198.18.0.1",
         "rport": 41000, "old_state": None, "new_state": "ESTABLISHED", "pid": 5, "process": "web"},
        {"ts_ns": 2000, "event": "closed", "proto": "tcp", "laddr": "198.18.0.2", "lport": 8080, "raddr": "198.18.0.1",
         "rport": 41000, "old_state": "ESTABLISHED", "new_state": None, "pid": 5, "process": "web"}]
    tables = iter([SocketTable(ROWS[:1], 0), SocketTable(ROWS[:2], 1_000)])
    r = run("watch", "--count", "1", "--interval", "0.01")
    assert r.output == "00:00:00.000 opened  tcp 198.18.0.2:8080 198.18.0.1:41000 -> ESTABLISHED  pid 5 web\n"


def test_usage_errors_exit_64(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sockets", "--state", "new-syn-recv"])
    assert info.value.code == 64
    err = capsys.readouterr().err
    assert err.startswith("rawnet: error: --state new-syn-recv: unknown state (one of the RFC 9293 names or ")
    with pytest.raises(SystemExit) as info:
        main(["sockets", "--host", "nowhere"])
    assert info.value.code == 64
    assert capsys.readouterr().err == ("rawnet: error: --host nowhere: not an IP address or network "
                                       "(expected e.g. 198.18.0.2 or fd00::/8)\n")


# ------------------------------------------------------------------ the real command in a lab namespace


def rawnet_argv() -> list[str]:
    """The installed console script when it runs this checkout, else python3 -m rawnet."""
    exe = shutil.which("rawnet")
    if exe:
        probe = subprocess.run([exe, "sockets", "--help"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [exe]
    return [sys.executable, "-m", "rawnet"]


@pytest.fixture
def planted(lab: Any) -> Iterator[dict[str, int]]:
    socks: list[socket.socket] = []
    try:
        with lab.inside("server"):
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lo = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks += [lst, lo, udp]
        lst.bind(("198.18.0.2", 8080))
        lst.listen(4)
        lo.bind(("::1", 6000))
        lo.listen(1)
        udp.bind(("198.18.0.2", 5353))
        with lab.inside("client"):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks.append(c)
        c.settimeout(5)
        c.connect(("198.18.0.2", 8080))
        a, _ = lst.accept()
        socks.append(a)
        yield {"client_port": c.getsockname()[1]}
    finally:
        for s in socks:
            s.close()


@pytest.mark.privileged
def test_installed_command_in_lab(lab: Any, planted: dict[str, int]) -> None:
    me = os.getpid()
    with open("/proc/self/comm", encoding="utf-8") as f:
        name = f.read().strip()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = lab.exec_args("server", rawnet_argv())

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=60)

    r = call("sockets", "--json")
    assert (r.returncode, r.stderr) == (0, "")
    got = sorted((json.loads(x) for x in r.stdout.splitlines()), key=lambda d: (d["proto"], d["lport"], d["rport"] or 0))
    mine = {"pid": me, "process": name, "user": "root", "owner": "process"}
    assert got == [
        {"proto": "tcp", "family": 6, "laddr": "::1", "lport": 6000, "raddr": None, "rport": None, "state": "LISTEN", **mine},
        {"proto": "tcp", "family": 4, "laddr": "198.18.0.2", "lport": 8080, "raddr": None, "rport": None,
         "state": "LISTEN", **mine},
        {"proto": "tcp", "family": 4, "laddr": "198.18.0.2", "lport": 8080, "raddr": "198.18.0.1",
         "rport": planted["client_port"], "state": "ESTABLISHED", **mine},
        {"proto": "udp", "family": 4, "laddr": "198.18.0.2", "lport": 5353, "raddr": None, "rport": None,
         "state": "NONE", **mine},
    ]
    r_ref = call("sockets", "--json", "--reader", "psutil")
    assert sorted(r_ref.stdout.splitlines()) == sorted(r.stdout.splitlines())

    r = call("sockets", "who", "8080")
    assert (r.returncode, r.stdout.splitlines()) == (0, [
        f"{name} (pid {me}, user root) listens for TCP connections on 198.18.0.2:8080.",
        f"{name} (pid {me}, user root) has 1 ESTABLISHED TCP connection (198.18.0.2:8080 <-> "
        f"198.18.0.1:{planted['client_port']}) on local port 8080."])

    r = call("sockets", "check", "--json")
    assert r.returncode == 1
    assert [(d["kind"], d["pid"], d["port"]) for d in map(json.loads, r.stdout.splitlines())] == [
        ("loopback_only_listener", me, 6000)]

    r = call("sockets", "--summary", "--json")
    assert json.loads(r.stdout)["protocols"]["tcp"]["states"] == {"LISTEN": 2, "ESTABLISHED": 1}

    r = call("watch", "--count", "1", "--interval", "0.05", "--json")
    assert (r.returncode, r.stdout) == (0, "")
