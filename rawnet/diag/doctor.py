"""The connection doctor: why can (or can't) this host connect to HOST:PORT, with the packets that prove it.

plan_doctor() (pure) -> run_doctor() (edge: resolve, route, socket table, connect while capturing)
-> interpret_doctor() (pure: DoctorFacts -> DoctorReport with a DoctorVerdict).

Why packets: connect() folds different causes into one errno. A firewall REJECT sends ICMP port
unreachable, which Linux turns into ECONNREFUSED exactly like a RST from the target (TOOLS.md
§3.4, ``icmp_err_convert``); admin-prohibited becomes EHOSTUNREACH like a dead neighbour. The
capture tells them apart and names who sent the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ..packet.stack import Packet
from ..packet.text import summarize
from ..transport.route import Route
from .connect import Captured, ConnectObservation

__all__ = ["DoctorVerdict", "Listener", "DoctorFacts", "DoctorReport", "plan_doctor", "run_doctor",
           "interpret_doctor"]


class DoctorVerdict(StrEnum):
    """The one-word diagnosis."""

    OPEN = "open"
    REFUSED = "refused"
    REJECTED = "rejected"
    FILTERED = "filtered"
    NO_ROUTE = "no-route"
    NET_UNREACHABLE = "net-unreachable"
    HOST_UNREACHABLE = "host-unreachable"
    DNS_FAILURE = "dns-failure"
    LOOPBACK_ONLY = "loopback-only"
    NOT_LISTENING = "not-listening"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Listener:
    """A local listening socket on the probed port."""

    addr: str
    """Local address it is bound to."""
    port: int
    """Port."""
    pid: int | None = None
    """Owning process, when known."""
    process: str | None = None
    """Process name, when known."""

    def describe(self) -> str:
        """Return ``127.0.0.1:8080 (pid 42 python3)``."""
        a = f"[{self.addr}]" if ":" in self.addr else self.addr
        if self.pid is None:
            return f"{a}:{self.port}"
        return f"{a}:{self.port} (pid {self.pid}{' ' + self.process if self.process else ''})"


@dataclass
class DoctorFacts:
    """Everything the doctor gathered, before interpretation."""

    host: str
    """What the user typed."""
    port: int
    """Target port."""
    addr: str | None = None
    """Resolved address (None: DNS failed)."""
    dns_error: str | None = None
    """Why resolution failed."""
    route: Route | None = None
    """The kernel's route."""
    listeners: list[Listener] | None = None
    """Listening sockets on ``port`` here (only looked up for a local target)."""
    observation: ConnectObservation | None = None
    """What connect() and the capture showed."""


@dataclass
class DoctorReport:
    """Verdict, one plain-language explanation and the evidence."""

    verdict: DoctorVerdict
    """The diagnosis."""
    explanation: str
    """Why, in one or two sentences."""
    evidence: list[str] = field(default_factory=list)
    """Packet summaries (with times) and facts that support it."""
    facts: DoctorFacts | None = None
    """The raw facts."""

    def record(self) -> dict[str, object]:
        """Return the JSON record with keys verdict, explanation, evidence (and target, address, route)."""
        f = self.facts
        return {"verdict": str(self.verdict), "explanation": self.explanation, "evidence": self.evidence,
                "target": f"{f.host}:{f.port}" if f else None, "address": f.addr if f else None,
                "route": f.route.describe() if f and f.route else None}


def plan_doctor(target: str) -> tuple[str, int]:
    """Return (host, port) parsed from ``HOST:PORT``."""
    from .target import split_host_port

    return split_host_port(target)


def _rel(c: Captured, t0: int) -> str:
    arrow = "->" if c.outgoing else "<-"
    return f"+{(c.ts_ns - t0) / 1e6:8.3f} ms {arrow} {summarize(c.packet)}"


def _is_syn(p: Packet) -> bool:
    t = p.tcp
    return t is not None and t.flags & 0x12 == 0x02


_UNREACH4 = {0: "net", 1: "host", 2: "proto", 3: "port", 9: "prohibited", 10: "prohibited", 13: "prohibited",
             6: "net", 7: "host", 11: "net", 12: "host"}
_UNREACH6 = {0: "net", 1: "prohibited", 3: "host", 4: "port", 5: "prohibited", 6: "prohibited"}


def interpret_doctor(f: DoctorFacts) -> DoctorReport:
    """Return the DoctorReport for the gathered facts ``f``."""
    tgt = f"{f.host}:{f.port}"
    if f.addr is None:
        return DoctorReport(DoctorVerdict.DNS_FAILURE, f"{f.host} does not resolve to an address "
                            f"({f.dns_error}); no packet was sent.", [f"resolver: {f.dns_error}"], f)
    ev: list[str] = []
    r = f.route
    if r is not None:
        ev.append(f"route: {r.describe()}")
    if r is not None and not r.ok:
        return DoctorReport(DoctorVerdict.NO_ROUTE, f"This host has no route to {f.addr} ({r.error or r.type}): "
                            "the kernel refuses to send anything. Check `ip route` (and `ip rule`).", ev, f)
    if f.listeners is not None:
        ev.append("listeners on port {}: {}".format(f.port, ", ".join(x.describe() for x in f.listeners) or "none"))
    o = f.observation
    if o is None:
        return DoctorReport(DoctorVerdict.UNKNOWN, "no connection attempt was made", ev, f)
    t0 = o.start_ns
    ev += [_rel(c, t0) for c in o.packets]
    if o.capture_error:
        ev.append(o.capture_error)
    ours = [c for c in o.packets if c.outgoing and _is_syn(c.packet)]
    theirs = [c for c in o.packets if not c.outgoing]
    icmp = next((c for c in theirs if c.packet.icmp is not None and c.packet.icmp.is_error), None)
    rst = next((c for c in theirs if c.packet.tcp is not None and c.packet.tcp.flags & 0x04), None)
    synack = next((c for c in theirs if c.packet.tcp is not None and c.packet.tcp.flags & 0x12 == 0x12), None)
    errtext = f"connect() said: {o.error}" if o.error else ""
    if o.connected:
        rtt = f" in {(synack.ts_ns - t0) / 1e6:.3f} ms" if synack is not None else ""
        return DoctorReport(DoctorVerdict.OPEN, f"{tgt} accepts connections: our SYN was answered by SYN/ACK from "
                            f"{f.addr}{rtt} and the handshake completed.", ev, f)
    if icmp is not None:
        m = icmp.packet.icmp
        assert m is not None
        kind = (_UNREACH6 if m.version == 6 else _UNREACH4).get(m.code, "other") if m.type in (1, 3) else "other"
        if m.version == 4 and m.type != 3 or m.version == 6 and m.type != 1:
            kind = "other"
        sender = icmp.packet.src
        who = f"{sender} (the target itself)" if sender == f.addr else f"{sender} (a router or firewall on the way)"
        name = m.code_name or m.type_name
        if kind == "port":
            return DoctorReport(DoctorVerdict.REJECTED, f"{who} answered our SYN with ICMP {name}: a firewall "
                                f"REJECT rule (TCP never sends port-unreachable). connect() reports this exactly "
                                f"like a closed port ({o.error or 'Connection refused'}); only the packet shows it "
                                f"was rejected by {sender}.", ev, f)
        if kind == "prohibited":
            return DoctorReport(DoctorVerdict.REJECTED, f"{who} answered our SYN with ICMP {name}: a firewall "
                                f"rule forbids this connection. {errtext}".rstrip(), ev, f)
        if kind == "net":
            return DoctorReport(DoctorVerdict.NET_UNREACHABLE, f"{sender} says the network of {f.addr} is "
                                f"unreachable (ICMP {name}): a router has no route to it. {errtext}".rstrip(), ev, f)
        if kind == "host":
            return DoctorReport(DoctorVerdict.HOST_UNREACHABLE, f"{sender} cannot reach host {f.addr} "
                                f"(ICMP {name}): the host is down or does not answer address resolution. "
                                f"{errtext}".rstrip(), ev, f)
    if rst is not None:
        local = [x for x in (f.listeners or [])]
        loop_only = local and all(x.addr in ("127.0.0.1", "::1") or x.addr.startswith("127.") for x in local)
        if f.listeners is not None and loop_only and f.addr not in [x.addr for x in local]:
            return DoctorReport(DoctorVerdict.LOOPBACK_ONLY, f"Something listens on port {f.port}, but only on "
                                f"{', '.join(x.describe() for x in local)}; {f.addr} is another address of this "
                                "host, so the kernel answers RST. Bind the server to 0.0.0.0 / :: or to "
                                f"{f.addr}, or connect to the loopback address.", ev, f)
        if f.listeners is not None and not f.listeners:
            return DoctorReport(DoctorVerdict.NOT_LISTENING, f"{f.addr} is this host and no socket listens on "
                                f"TCP port {f.port} (socket table), so the kernel answers RST. Start the "
                                "server, or check its port.", ev, f)
        sender = rst.packet.src
        mid = "" if sender == f.addr else f" (the RST came from {sender}, not the target: a middlebox)"
        return DoctorReport(DoctorVerdict.REFUSED, f"{f.addr} answered our SYN with RST: nothing listens on port "
                            f"{f.port} there, or a firewall resets the connection{mid}. "
                            f"{errtext}".rstrip(), ev, f)
    if o.errno is not None and o.errno in (101, 113) and not theirs:
        v = DoctorVerdict.NET_UNREACHABLE if o.errno == 101 else DoctorVerdict.HOST_UNREACHABLE
        return DoctorReport(v, f"the kernel gave up locally ({o.error}) without any answer on the wire: the "
                            "next hop does not answer address resolution (ARP / neighbour discovery).", ev, f)
    if not theirs:
        n = len(ours)
        gaps = ", ".join(f"+{(c.ts_ns - t0) / 1e9:.1f} s" for c in ours[1:])
        retr = f" (retransmissions at {gaps})" if gaps else ""
        seen = f"{n} SYN{'s' if n != 1 else ''}{retr}" if n else "our SYNs"
        return DoctorReport(DoctorVerdict.FILTERED, f"No answer at all to {seen} within the time bound: a "
                            f"firewall drops the packets silently, or {f.addr} is down. {errtext}".rstrip(), ev, f)
    return DoctorReport(DoctorVerdict.UNKNOWN, f"connect() failed ({o.error}) and the packets do not explain it",
                        ev, f)


def _listeners(port: int) -> list[Listener]:
    """Return the TCP sockets listening on ``port`` in this thread's namespace (rawnet.sockets, else /proc)."""
    try:
        from ..sockets import snapshot

        table = snapshot(processes=True)
        out = []
        for e in table.entries:
            if e.proto == "tcp" and e.lport == port and str(e.state) == "LISTEN":
                out.append(Listener(e.laddr, e.lport, e.pid, e.process))
        return out
    except ImportError:
        return _proc_listeners(port)


def _proc_listeners(port: int) -> list[Listener]:
    import ipaddress
    import struct

    out = []
    for path, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(path, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            cols = ln.split()
            if len(cols) < 4 or cols[3] != "0A":
                continue
            hexaddr, hexport = cols[1].split(":")
            if int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(hexaddr)
            words = struct.unpack("<" + "I" * (len(raw) // 4), raw)
            packed = b"".join(struct.pack(">I", w) for w in words)
            out.append(Listener(str(ipaddress.ip_address(packed)), port))
    return out


def run_doctor(target: str, *, timeout_s: float = 3.0, family: int | None = None, send: bytes | None = None,
               clock: Callable[[], int] = time.monotonic_ns) -> DoctorReport:
    """Return the DoctorReport for ``HOST:PORT`` (needs CAP_NET_RAW for the capture).

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        UsageError: not HOST:PORT, or a timeout outside 0.1-60 s.
    """
    from ..errors import TargetError, UsageError
    from ..transport.policy import check_target
    from ..transport.privileges import require_cap_net_raw
    from ..transport.route import route_to
    from .connect import connect_and_capture
    from .target import resolve

    if not 0.1 <= timeout_s <= 60:
        raise UsageError(f"--timeout {timeout_s}: expected 0.1-60 s")
    host, port = plan_doctor(target)
    require_cap_net_raw("capturing the connection attempt")
    facts = DoctorFacts(host, port)
    try:
        facts.addr = resolve(host, family)
    except TargetError as err:
        facts.dns_error = str(err).split("(", 1)[-1].rstrip(")")
        return interpret_doctor(facts)
    check_target(facts.addr)
    facts.route = route_to(facts.addr)
    if not facts.route.ok:
        return interpret_doctor(facts)
    if facts.route.is_local:
        facts.listeners = _listeners(port)
    facts.observation = connect_and_capture(facts.addr, port, facts.route, timeout_s=timeout_s, send=send,
                                            clock=clock)
    return interpret_doctor(facts)
