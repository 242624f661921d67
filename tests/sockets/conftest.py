"""Live scenes for the socket-table tests: real sockets in every state, held by this process, in
the lab's client and server namespaces (direct topology: client 198.18.0.1 / fd00::1, server
198.18.0.2 / fd00::2)."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

MY_PID = os.getpid()
with open("/proc/self/comm", encoding="utf-8") as _f:
    MY_NAME = _f.read().strip()
MY_USER = "root" if os.geteuid() == 0 else str(os.geteuid())

SYN_SPORT = 40001  # source port of the crafted SYN (never completed)


def wait_for(pred: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``pred`` every 10 ms until true; fail after ``timeout_s``."""
    for _ in range(int(timeout_s / 0.01) + 1):
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def ss_states(lab: Any, host: str, port: int) -> set[str]:
    """Return ss's state names of TCP sockets with local or remote ``port`` in ``host``."""
    out = lab.run(host, ["ss", "-tanH", f"( sport = :{port} or dport = :{port} )"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def build_syn_v4(src: str, dst: str, sport: int, dport: int, seq: int = 1_000_000) -> bytes:
    """Return an IPv4 + TCP SYN datagram with correct checksums (for an IPPROTO_RAW socket)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    # TCP header, 20 bytes + MSS option 1460
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (6 << 4), 0x02, 64240, 0, 0) + b"\x02\x04\x05\xb4"
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x1234, 0x4000, 64, socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp


def nft_rule(lab: Any, host: str, hook: str, rule: str) -> None:
    """Add ``rule`` to chain ``hook`` of table ``inet rawnet`` in ``host`` (the chain is made on first use).

    Loads the chain with newlines: ``Lab._nft_chain``'s one-line ruleset is rejected by nftables 1.0.6.
    """
    lab.nft(host, f"table inet rawnet {{\n chain {hook} {{\n  type filter hook {hook} priority 0; policy accept;\n }}\n}}\n")
    lab.run(host, ["nft", "add", "rule", "inet", "rawnet", hook, *rule.split()])


@dataclass
class Scene:
    """Sockets planted in the lab, and the ports that name them."""

    lab: Any
    socks: list[socket.socket] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def keep(self, s: socket.socket) -> socket.socket:
        self.socks.append(s)
        return s


def _listener(scene: Scene, family: int, addr: str, port: int) -> socket.socket:
    s = scene.keep(socket.socket(family, socket.SOCK_STREAM))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def _pair(scene: Scene, lst: socket.socket, family: int, dst: str, port: int) -> tuple[socket.socket, socket.socket]:
    """Connect from the client namespace (caller must be inside it) and accept on ``lst``."""
    c = scene.keep(socket.socket(family, socket.SOCK_STREAM))
    c.settimeout(5)
    c.connect((dst, port))
    a, _ = lst.accept()
    scene.keep(a)
    return c, a


def tcp_state_of(lab: Any, host: str, lport: int, rport: int | None = None) -> str:
    """Return ss's state of the TCP socket with local port ``lport`` (and remote ``rport``) in ``host``."""
    flt = f"( sport = :{lport} )" if rport is None else f"( sport = :{lport} and dport = :{rport} )"
    out = lab.run(host, ["ss", "-tanH", flt]).stdout.split()
    return out[0] if out else ""


@pytest.fixture
def scene(lab: Any) -> Iterator[Scene]:
    """Plant one socket in each state (IPv4 and IPv6) and yield the scene; close everything after."""
    sc = Scene(lab)
    v4c, v4s, v6c, v6s = lab.addr("client", 4), lab.addr("server", 4), lab.addr("client", 6), lab.addr("server", 6)
    try:
        nft_rule(lab, "server", "input", "tcp dport 9 drop")
        with lab.inside("server"):
            l4 = _listener(sc, socket.AF_INET, v4s, 8080)
            l6 = _listener(sc, socket.AF_INET6, v6s, 8080)
            _listener(sc, socket.AF_INET, v4s, 7000)
            dual = sc.keep(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))  # dual stack: v4 peers as ::ffff:
            dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            dual.bind(("::", 8443))
            dual.listen(4)
            for fam, addr in ((socket.AF_INET, v4s), (socket.AF_INET6, v6s)):
                u = sc.keep(socket.socket(fam, socket.SOCK_DGRAM))
                u.bind((addr, 5353))
        with lab.inside("client"):
            for tag, fam, lst, dst in (("4", socket.AF_INET, l4, v4s), ("6", socket.AF_INET6, l6, v6s)):
                c, _a = _pair(sc, lst, fam, dst, 8080)  # stays ESTABLISHED
                sc.ports["est" + tag] = c.getsockname()[1]
                c, a = _pair(sc, lst, fam, dst, 8080)  # client FIN_WAIT_2, server CLOSE_WAIT
                sc.ports["half" + tag] = c.getsockname()[1]
                c.shutdown(socket.SHUT_WR)
                c2, a2 = _pair(sc, lst, fam, dst, 8080)  # server LAST_ACK, client TIME_WAIT
                sc.ports["lastack" + tag] = p = c2.getsockname()[1]
                c2.shutdown(socket.SHUT_WR)
                wait_for(lambda p=p: tcp_state_of(lab, "server", 8080, p) == "CLOSE-WAIT", what="CLOSE-WAIT")
                nft_rule(lab, "client", "output", f"tcp sport {p} drop")
                a2.shutdown(socket.SHUT_WR)
                c3, a3 = _pair(sc, lst, fam, dst, 8080)  # simultaneous close: client CLOSING, server FIN_WAIT_1
                sc.ports["closing" + tag] = p3 = c3.getsockname()[1]
                nft_rule(lab, "server", "input", f"tcp sport {p3} drop")  # the server never hears the client
                c3.shutdown(socket.SHUT_WR)  # client FIN_WAIT_1, its FIN lost
                wait_for(lambda p3=p3: tcp_state_of(lab, "client", p3) == "FIN-WAIT-1", what="FIN-WAIT-1")
                a3.shutdown(socket.SHUT_WR)  # the server's FIN does not ack the client's: client CLOSING
                s = sc.keep(socket.socket(fam, socket.SOCK_STREAM))  # SYN_SENT behind the drop rule
                s.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    s.connect((dst, 9))
                sc.ports["synsent" + tag] = s.getsockname()[1]
                u = sc.keep(socket.socket(fam, socket.SOCK_DGRAM))  # connected UDP
                u.connect((dst, 5353))
                sc.ports["udp" + tag] = u.getsockname()[1]
            c, _a = _pair(sc, dual, socket.AF_INET, v4s, 8443)
            sc.ports["mapped"] = c.getsockname()[1]
            # SYN_RECEIVED: a crafted SYN that is never completed; the client kernel's RST is dropped
            nft_rule(lab, "client", "output", f"tcp sport {SYN_SPORT} tcp flags & rst == rst drop")
            raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            try:
                raw.sendto(build_syn_v4(v4c, v4s, SYN_SPORT, 7000), (v4s, 0))
            finally:
                raw.close()
        for tag in ("4", "6"):
            wait_for(lambda t=tag: tcp_state_of(lab, "server", 8080, sc.ports["lastack" + t]) == "LAST-ACK", what="LAST-ACK")
            wait_for(lambda t=tag: tcp_state_of(lab, "client", sc.ports["lastack" + t]) == "TIME-WAIT", what="TIME-WAIT")
            wait_for(lambda t=tag: tcp_state_of(lab, "client", sc.ports["half" + t]) == "FIN-WAIT-2", what="FIN-WAIT-2")
            wait_for(lambda t=tag: tcp_state_of(lab, "client", sc.ports["closing" + t]) == "CLOSING", what="CLOSING")
            wait_for(lambda t=tag: tcp_state_of(lab, "server", 8080, sc.ports["closing" + t]) == "FIN-WAIT-1",
                     what="server FIN-WAIT-1")
        wait_for(lambda: tcp_state_of(lab, "server", 7000, SYN_SPORT) == "SYN-RECV", what="SYN-RECV")
        assert v6c == "fd00::1"
        yield sc
    finally:
        for s in sc.socks:
            s.close()
