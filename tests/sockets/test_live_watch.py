"""Live: ``run_watch`` reports the exact life of a connection driven from another thread, and
``who_holds`` / ``check`` find problems planted in the lab."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rawnet.sockets import FindingKind, SocketFilter, check, snapshot, who_holds
from rawnet.sockets.watch import run_watch

from .conftest import MY_NAME, MY_PID, tcp_state_of, wait_for

pytestmark = pytest.mark.privileged


class Stepper:
    """A ``sleep`` for run_watch that hands each interval to a driver thread and waits for its step."""

    def __init__(self, steps: list[Callable[[], None]]) -> None:
        self.steps = steps
        self.go = [threading.Event() for _ in steps]
        self.done = [threading.Event() for _ in steps]
        self.n = 0
        self.error: BaseException | None = None

    def sleep(self, _interval_s: float) -> None:
        i = self.n
        self.n += 1
        self.go[i].set()
        assert self.done[i].wait(10), f"driver step {i} did not finish"

    def drive(self) -> None:
        try:
            for i, step in enumerate(self.steps):
                assert self.go[i].wait(10)
                step()
                self.done[i].set()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            self.error = err
            for ev in self.done:
                ev.set()


@pytest.fixture
def listener(lab: Any) -> Iterator[socket.socket]:
    with lab.inside("server"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("198.18.0.2", 8080))
    s.listen(8)
    yield s
    s.close()


def _connection_steps(lab: Any, lst: socket.socket, held: list[socket.socket],
                      ports: list[int]) -> list[Callable[[], None]]:
    state: dict[str, socket.socket] = {}

    def open_() -> None:
        with lab.inside("client"):  # this runs in the driver thread
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect(("198.18.0.2", 8080))
        a, _ = lst.accept()
        state["c"], state["a"] = c, a
        held.extend([c, a])
        ports.append(c.getsockname()[1])

    def client_shuts() -> None:
        state["c"].shutdown(socket.SHUT_WR)
        port = state["c"].getsockname()[1]
        wait_for(lambda: tcp_state_of(lab, "client", port) == "FIN-WAIT-2", what="FIN-WAIT-2")

    def server_closes() -> None:
        state["a"].close()
        port = state["c"].getsockname()[1]
        wait_for(lambda: tcp_state_of(lab, "client", port) == "TIME-WAIT", what="TIME-WAIT")

    return [open_, client_shuts, server_closes]


@pytest.mark.parametrize("reader", ["diag", "psutil"])
@pytest.mark.parametrize("side", ["client", "server"])
def test_watch_reports_exact_transitions(lab: Any, listener: socket.socket, side: str, reader: str) -> None:
    held: list[socket.socket] = []
    ports: list[int] = []
    stepper = Stepper(_connection_steps(lab, listener, held, ports))
    driver = threading.Thread(target=stepper.drive, daemon=True)
    driver.start()
    ticks = iter(range(1_000_000_000, 10_000_000_000, 500_000_000))
    try:
        with lab.inside(side):  # the watch loop runs in the main thread, inside the namespace
            events = list(run_watch(SocketFilter(port=8080, states=frozenset()), interval_s=0.5, count=3,
                                    reader=reader, sleep=stepper.sleep, clock=lambda: next(ticks)))  # type: ignore[arg-type]
    finally:
        driver.join(10)
        for s in held:
            s.close()
    assert stepper.error is None
    cport = ports[0]
    got = [(e.ts_ns, e.event, e.entry.lport, e.entry.rport, None if e.old_state is None else str(e.old_state),
            None if e.new_state is None else str(e.new_state), e.entry.pid, e.entry.process) for e in events]
    if side == "client":
        assert got == [
            (1_500_000_000, "opened", cport, 8080, None, "ESTABLISHED", MY_PID, MY_NAME),
            (2_000_000_000, "changed", cport, 8080, "ESTABLISHED", "FIN_WAIT_2", MY_PID, MY_NAME),
            (2_500_000_000, "changed", cport, 8080, "FIN_WAIT_2", "TIME_WAIT", None, None),
        ]
    else:
        assert got == [
            (1_500_000_000, "opened", 8080, cport, None, "ESTABLISHED", MY_PID, MY_NAME),
            (2_000_000_000, "changed", 8080, cport, "ESTABLISHED", "CLOSE_WAIT", MY_PID, MY_NAME),
            (2_500_000_000, "closed", 8080, cport, "CLOSE_WAIT", None, MY_PID, MY_NAME),
        ]


@pytest.fixture
def planted(lab: Any) -> Iterator[dict[str, int]]:
    """A CLOSE_WAIT leak of 3 sockets on 8080, a loopback-only listener on 6000, a TIME_WAIT on the server."""
    socks: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        with lab.inside("server"):
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lo = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        socks += [lst, lo]
        lst.bind(("198.18.0.2", 8080))
        lst.listen(16)
        lo.bind(("127.0.0.1", 6000))
        lo.listen(1)
        ports["leak"] = 0
        with lab.inside("client"):
            for i in range(4):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(c)
                c.settimeout(5)
                c.connect(("198.18.0.2", 8080))
                a, _ = lst.accept()
                socks.append(a)
                if i < 3:  # the peer closes, the server never does: CLOSE_WAIT leak
                    c.shutdown(socket.SHUT_WR)
                    p = c.getsockname()[1]
                    wait_for(lambda p=p: tcp_state_of(lab, "server", 8080, p) == "CLOSE-WAIT", what="CLOSE-WAIT")
                    ports[f"cw{i}"] = p
                else:  # the server closes first and completes: TIME_WAIT on the server
                    ports["tw"] = p = c.getsockname()[1]
                    a.close()
                    wait_for(lambda p=p: tcp_state_of(lab, "client", p) == "CLOSE-WAIT", what="client CLOSE-WAIT")
                    c.close()
                    wait_for(lambda p=p: tcp_state_of(lab, "server", 8080, p) == "TIME-WAIT", what="TIME-WAIT")
        yield ports
    finally:
        for s in socks:
            s.close()


def test_who_holds_port_8080(lab: Any, planted: dict[str, int]) -> None:
    with lab.inside("server"):
        holders = who_holds(snapshot(), 8080)
    cw = sorted(planted[f"cw{i}"] for i in range(3))
    assert [(h.kind, h.pid, h.owner, len(h.entries)) for h in holders] == [
        ("listener", MY_PID, "process", 1), ("connected", MY_PID, "process", 3), ("time_wait", None, "kernel", 1)]
    assert holders[0].sentence == f"{MY_NAME} (pid {MY_PID}, user root) listens for TCP connections on 198.18.0.2:8080."
    assert holders[1].sentence == (
        f"{MY_NAME} (pid {MY_PID}, user root) has 3 CLOSE_WAIT TCP connections ("
        + ", ".join(f"198.18.0.2:8080 <-> 198.18.0.1:{p}" for p in cw)
        + ") on local port 8080.")
    assert holders[2].sentence == (
        f"The kernel holds 1 TIME_WAIT remnant of closed TCP connections on port 8080 (peers 198.18.0.1:{planted['tw']}); "
        "no process owns them and each expires within ~60 s of its close.")


def test_who_nobody(lab: Any) -> None:
    with lab.inside("server"):
        assert who_holds(snapshot(), 8080) == []


def test_check_finds_leak_and_loopback_listener(lab: Any, planted: dict[str, int]) -> None:
    with lab.inside("server"):
        findings = check(snapshot(), close_wait_threshold=3)
    kinds = [(f.kind, f.pid, f.port) for f in findings]
    assert kinds == [
        (FindingKind.CLOSE_WAIT_LEAK, MY_PID, None),
        (FindingKind.LOOPBACK_ONLY_LISTENER, MY_PID, 6000),
    ]
    leak = findings[0]
    assert leak.message == (f"{MY_NAME} (pid {MY_PID}) holds 3 CLOSE_WAIT sockets: the peers closed their side "
                            "and the application never called close() on its own")
    assert leak.evidence[0] == "3 CLOSE_WAIT sockets (threshold 3)"
    assert sorted(leak.evidence[1:4]) == sorted(f"198.18.0.2:8080 <- 198.18.0.1:{planted[f'cw{i}']} CLOSE_WAIT"
                                                for i in range(3))
    assert findings[1].message == (f"{MY_NAME} (pid {MY_PID}) listens on TCP 127.0.0.1:6000 on loopback only: "
                                   "other hosts cannot reach it")
    with lab.inside("server"):
        assert [f.kind for f in check(snapshot(), close_wait_threshold=4)] == [FindingKind.LOOPBACK_ONLY_LISTENER]
