"""Readers without a lab: psutil's status mapping, the sock_diag message parser fed crafted netlink
bytes, run_watch's bounds with fake snapshots, and both readers on this namespace."""

from __future__ import annotations

import enum
import os
import socket
import struct
from collections import Counter

import pytest

from rawnet.errors import SocketTableError, UsageError
from rawnet.sockets import SocketFilter, SocketState, SocketTable, ephemeral_port_range, snapshot
from rawnet.sockets import _diag
from rawnet.sockets._psutil import PSUTIL_STATES, map_status
from rawnet.sockets.watch import run_watch

from .test_table import E

S = SocketState


@pytest.mark.parametrize(("psutil_name", "rfc"), [
    ("ESTABLISHED", "ESTABLISHED"), ("SYN_SENT", "SYN_SENT"), ("SYN_RECV", "SYN_RECEIVED"),
    ("FIN_WAIT1", "FIN_WAIT_1"), ("FIN_WAIT2", "FIN_WAIT_2"), ("TIME_WAIT", "TIME_WAIT"), ("CLOSE", "CLOSED"),
    ("CLOSE_WAIT", "CLOSE_WAIT"), ("LAST_ACK", "LAST_ACK"), ("LISTEN", "LISTEN"), ("CLOSING", "CLOSING"),
    ("NONE", "NONE"),
])
def test_psutil_mapping(psutil_name: str, rfc: str) -> None:
    assert map_status(psutil_name) == rfc


def test_psutil_mapping_by_string_value_of_enums() -> None:
    class ConnectionStatus(enum.StrEnum):  # what psutil 8 returns
        CONN_SYN_RECV = "SYN_RECV"

    assert map_status(ConnectionStatus.CONN_SYN_RECV) is S.SYN_RECEIVED
    assert len(PSUTIL_STATES) == 12
    with pytest.raises(SocketTableError, match=r"^psutil: socket status 'BOUND' is unknown \(expected one of "):
        map_status("BOUND")


def test_kernel_state_numbers() -> None:
    assert [str(_diag.KERNEL_STATES[i]) for i in range(1, 13)] == [
        "ESTABLISHED", "SYN_SENT", "SYN_RECEIVED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED", "CLOSE_WAIT",
        "LAST_ACK", "LISTEN", "CLOSING", "SYN_RECEIVED"]
    assert 13 not in _diag.KERNEL_STATES


# ------------------------------------------------------------------ sock_diag parser on crafted bytes


def diag_msg(seq: int, state: int, sport: int, dport: int, src: str, dst: str, inode: int, extra: bytes = b"") -> bytes:
    body = struct.pack("=BBBB", socket.AF_INET, state, 0, 0) + struct.pack("!HH", sport, dport)
    body += socket.inet_aton(src) + bytes(12) + socket.inet_aton(dst) + bytes(12)
    body += struct.pack("=I8sIIIII", 0, b"\0" * 8, 0, 0, 0, 0, inode) + extra
    return struct.pack("=IHHII", 16 + len(body), 20, 2, seq, 0) + body


def done(seq: int) -> bytes:
    return struct.pack("=IHHIIi", 20, 3, 2, seq, 0, 0)


class FakeNetlink:
    """Hands out pre-made datagrams, one per recv_into (as the kernel does per dump round)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)

    def recv_into(self, view: memoryview) -> int:
        chunk = self.chunks.pop(0)
        view[: len(chunk)] = chunk
        return len(chunk)


def test_dump_parses_messages_across_reads() -> None:
    attr = struct.pack("=HHB3x", 5, 8, 0)  # an INET_DIAG_SHUTDOWN attribute: messages vary in length
    chunks = [diag_msg(1, 10, 8080, 0, "198.18.0.2", "0.0.0.0", 77, attr)
              + diag_msg(1, 6, 8080, 40001, "198.18.0.2", "198.18.0.1", 0),
              diag_msg(9, 1, 1, 1, "1.1.1.1", "2.2.2.2", 5)  # another sequence: ignored
              + diag_msg(1, 1, 8080, 40002, "198.18.0.2", "198.18.0.1", 78), done(1)]
    fake = FakeNetlink(chunks)
    rows = _diag._dump(fake, socket.IPPROTO_TCP, socket.AF_INET, 1)  # type: ignore[arg-type]
    assert [(st, int.from_bytes(sp, "big"), int.from_bytes(dp, "big"), socket.inet_ntoa(src), ino)
            for st, sp, dp, src, _dst, ino in rows] == [
        (10, 8080, 0, "198.18.0.2", 77), (6, 8080, 40001, "198.18.0.2", 0), (1, 8080, 40002, "198.18.0.2", 78)]
    req = fake.sent[0]
    assert len(req) == 72
    assert struct.unpack_from("=IHHII BBBxI", req) == (72, 20, 0x301, 1, 0, socket.AF_INET, 6, 0, 0x1FFE)


def test_dump_error_and_bad_length() -> None:
    err = struct.pack("=IHHIIi", 20, 2, 0, 1, 0, -22)
    with pytest.raises(OSError) as info:
        _diag._dump(FakeNetlink([err]), socket.IPPROTO_TCP, socket.AF_INET, 1)  # type: ignore[arg-type]
    assert info.value.errno == 22
    bad = struct.pack("=IHHII", 8, 20, 0, 1, 0)
    with pytest.raises(SocketTableError, match=r"^sock_diag: message at byte 0 has length 8 \(minimum 16\)$"):
        _diag._dump(FakeNetlink([bad]), socket.IPPROTO_TCP, socket.AF_INET, 1)  # type: ignore[arg-type]


# ------------------------------------------------------------------ run_watch bounds (fake snapshots)


def test_watch_count_and_events_from_fake_snapshots() -> None:
    a = E(state=S.SYN_SENT)
    tables = iter([SocketTable((), 0), SocketTable((a,), 10), SocketTable((E(),), 20), SocketTable((), 30)])
    slept: list[float] = []
    ev = list(run_watch(count=3, interval_s=0.25, take=lambda: next(tables), sleep=slept.append))
    assert [(e.event, e.old_state, e.new_state, e.ts_ns) for e in ev] == [
        ("opened", None, "SYN_SENT", 10), ("changed", "SYN_SENT", "ESTABLISHED", 20), ("closed", "ESTABLISHED", None, 30)]
    assert slept == [0.25, 0.25, 0.25]


def test_watch_duration_bounds_the_loop() -> None:
    ts = iter(range(0, 10**12, 100_000_000))
    slept: list[float] = []
    ev = list(run_watch(interval_s=0.1, duration_s=0.35, take=lambda: SocketTable((), next(ts)), sleep=slept.append))
    assert (ev, slept) == ([], [0.1, 0.1, 0.1])


def test_watch_needs_a_bound() -> None:
    with pytest.raises(UsageError, match=r"^watch: give --count N or --duration S \(the watch must end\)$"):
        list(run_watch())
    with pytest.raises(UsageError):
        list(run_watch(count=1, interval_s=0))


# ------------------------------------------------------------------ this namespace


def test_readers_agree_here_on_rows() -> None:
    """In whatever namespace the tests run, both readers list the same sockets (pids may race)."""
    for _ in range(3):  # sockets of other programs come and go: retry a moment of calm
        fast = snapshot(processes=False)
        ref = snapshot(reader="psutil", processes=False)
        a = Counter((e.proto, e.family, e.laddr, e.lport, e.raddr, e.rport, e.state) for e in fast.entries)
        b = Counter((e.proto, e.family, e.laddr, e.lport, e.raddr, e.rport, e.state) for e in ref.entries)
        if a == b:
            break
    assert a == b
    assert (fast.reader, ref.reader) == ("diag", "psutil")


def test_snapshot_filter_and_unknown_reader() -> None:
    t = snapshot(flt=SocketFilter(protos=frozenset({"udp"}), families=frozenset({6})), processes=False)
    assert {(e.proto, e.family) for e in t.entries} <= {("udp", 6)}
    with pytest.raises(UsageError, match=r"^--pid and --process need process resolution; drop --no-processes$"):
        snapshot(flt=SocketFilter(pid=1), processes=False)
    with pytest.raises(UsageError, match=r"^reader 'ss' is unknown \(diag or psutil\)$"):
        snapshot(reader="ss")  # type: ignore[arg-type]


def test_ephemeral_port_range(tmp_path: object) -> None:
    lo, hi = ephemeral_port_range()
    with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
        assert (lo, hi) == tuple(int(x) for x in f.read().split())
    bad = os.path.join(str(tmp_path), "range")
    with open(bad, "w", encoding="ascii") as f:
        f.write("nonsense\n")
    with pytest.raises(SocketTableError, match=r"range: holds 'nonsense' \(expected two port numbers\)$"):
        ephemeral_port_range(bad)


def test_psutil_owner_rule_without_pid() -> None:
    from rawnet.sockets._psutil import _owner_without_pid

    got = {(str(s), root): _owner_without_pid(s, root) for s in SocketState for root in (True, False)}
    kernel_always = {"TIME_WAIT", "SYN_RECEIVED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "LAST_ACK"}
    for (state, root), owner in got.items():
        if state in kernel_always:
            assert owner == "kernel", state
        elif state in {"LISTEN", "SYN_SENT", "NONE"}:
            assert owner == "hidden", state
        else:  # ESTABLISHED, CLOSE_WAIT, CLOSED: unaccepted children have no file
            assert owner == ("kernel" if root else "hidden"), state


def test_process_info_matches_psutil_for_long_names(tmp_path: object) -> None:
    """comm is cut at 15 characters; both readers widen it from cmdline the same way."""
    import subprocess
    import sys

    import psutil

    link = os.path.join(str(tmp_path), "a-very-long-process-name-for-rawnet")
    os.symlink(sys.executable, link)
    child = subprocess.Popen([link, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"up\n"  # exec'd: comm and cmdline are the child's own
        name, user = _diag.process_info(child.pid)
        p = psutil.Process(child.pid)
        assert (name, user) == (p.name(), p.username())
        assert name == "a-very-long-process-name-for-rawnet"
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
        child.stdout.close()
    assert _diag.process_info(child.pid) == (None, None)  # gone: no error


def test_inode_walk_survives_vanishing_and_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    """pid 10 holds two sockets, 11 vanishes mid-walk, 12 refuses (EACCES), 13 shares 10's socket."""
    import errno as _errno

    fds = {"/proc": ["10", "11", "12", "13", "self", "net"], "/proc/10/fd/": ["0", "1", "2"],
           "/proc/11/fd/": ["3"], "/proc/13/fd/": ["4"]}
    links = {"/proc/10/fd/0": "/dev/null", "/proc/10/fd/1": "socket:[111]", "/proc/10/fd/2": "socket:[222]",
             "/proc/13/fd/4": "socket:[111]"}

    def listdir(path: str) -> list[str]:
        if path == "/proc/12/fd/":
            raise PermissionError(_errno.EACCES, "Permission denied")
        return fds[path]

    def readlink(path: str) -> str:
        if path.startswith("/proc/11/"):
            raise FileNotFoundError(_errno.ENOENT, "gone")
        return links[path]

    monkeypatch.setattr(_diag.os, "listdir", listdir)
    monkeypatch.setattr(_diag.os, "readlink", readlink)
    assert _diag.inode_owners() == ({111: 10, 222: 10}, False)
    assert _diag.inode_owners({111}) == ({111: 10}, True)  # found early: the walk stops at pid 10
    assert _diag.inode_owners({333}) == ({}, False)
