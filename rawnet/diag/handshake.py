"""A TCP connection traced from its SYN to its close: the ladder, each endpoint's state, the timings.

plan_handshake() (pure) -> run_handshake() (edge: kernel connect() while capturing, or ``crafted``:
the SYN, ACK and request sent from a raw socket) -> interpret_handshake() (pure) -> HandshakeReport.

The per-endpoint states are inferred from the packets with the RFC 9293 §3.3.2 rules an observer
can apply (Fig. 5; the active opener is the "client"): SYN -> SYN-SENT / SYN-RECEIVED, the
SYN/ACK moves the client to ESTABLISHED, the third ACK the server; FIN -> FIN-WAIT-1 or LAST-ACK,
its ACK -> FIN-WAIT-2 / CLOSED, a FIN received -> CLOSE-WAIT, CLOSING or TIME-WAIT; RST -> CLOSED.
(The package's full tracker, rawnet.tcp, was not committed when this was written; this module
keeps its own small machine for the handshake ladder.)

About ``crafted``: the kernel did not send our SYN, so it answers the SYN/ACK with an RST and the
server drops the half-open connection. That RST is shown and explained; with
``suppress_kernel_rst=True`` (opt-in, needs CAP_NET_ADMIN) a temporary nft table drops RSTs from our
source port for the duration of the handshake and is removed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ..packet.stack import Packet
from .connect import Captured, ConnectObservation

__all__ = ["HandshakeVerdict", "LadderRow", "HandshakeTimings", "HandshakeReport", "plan_handshake",
           "run_handshake", "interpret_handshake", "EndpointState"]

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
_MARK = 0x726E  # SO_MARK of our crafted packets, so the opt-in nft rule drops only the kernel's RSTs


class EndpointState(StrEnum):
    """RFC 9293 connection states (as an observer infers them)."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


class HandshakeVerdict(StrEnum):
    """How the connection went."""

    COMPLETED = "completed"
    ESTABLISHED = "established"
    REFUSED = "refused"
    RESET = "reset"
    NO_ANSWER = "no-answer"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One packet of the ladder and both endpoints' states after it."""

    t_ns: int
    """Time since the first SYN."""
    from_client: bool
    """Direction."""
    label: str
    """Flags and relative seq/ack/length, e.g. ``SYN/ACK seq=0 ack=1``."""
    client: EndpointState
    """Client state after the packet."""
    server: EndpointState
    """Server state after the packet."""


@dataclass(frozen=True, slots=True)
class HandshakeTimings:
    """Intervals in ns (None when that step was not seen)."""

    syn_to_synack_ns: int | None = None
    synack_to_ack_ns: int | None = None
    syn_to_first_data_ns: int | None = None
    request_to_response_ns: int | None = None
    close_ns: int | None = None
    """From the first FIN to the last packet of the close."""


@dataclass
class HandshakeReport:
    """The whole trace."""

    client: str
    """Client address:port."""
    server: str
    """Server address:port."""
    verdict: HandshakeVerdict
    """How it went."""
    rows: list[LadderRow] = field(default_factory=list)
    """The ladder."""
    timings: HandshakeTimings = field(default_factory=HandshakeTimings)
    """Intervals."""
    notes: list[str] = field(default_factory=list)
    """Remarks (kernel RST of a crafted handshake, retransmissions...)."""
    tracker: dict[str, object] | None = None
    """The package TCP tracker's view of the same packets (rawnet.tcp), for comparison, when available."""

    def ladder(self) -> str:
        """Return the ladder diagram as text."""
        w = 44
        out = [f"{'time':>12}  {'client ' + self.client:<26}{'':{w}}  server {self.server}"]
        for r in self.rows:
            body = f" {r.label} "
            arrow = ("-" + body).ljust(w - 1, "-") + ">" if r.from_client else "<" + body.rjust(w - 2, "-") + "-"
            out.append(f"{r.t_ns / 1e6:+10.3f} ms  {r.client:<26}{arrow}  {r.server}")
        return "\n".join(out)

    def record(self) -> dict[str, object]:
        """Return the JSON record."""
        return {"client": self.client, "server": self.server, "verdict": str(self.verdict),
                "timings": {k: getattr(self.timings, k) for k in HandshakeTimings.__slots__},
                "rows": [{"t_ns": r.t_ns, "dir": "c>s" if r.from_client else "s>c", "packet": r.label,
                          "client": str(r.client), "server": str(r.server)} for r in self.rows],
                "notes": self.notes, "tracker": self.tracker}


@dataclass
class _End:
    state: EndpointState
    iss: int | None = None
    fin_end: int | None = None


def _label(p: Packet, c_iss: int | None, s_iss: int | None, from_client: bool) -> str:
    t = p.tcp
    if t is None:
        icmp = p.icmp
        return f"ICMP {icmp.code_name or icmp.type_name}" if icmp is not None else "?"
    names = [n for n, b in (("SYN", SYN), ("FIN", FIN), ("RST", RST), ("PSH", PSH)) if t.flags & b]
    if t.flags & ACK:
        names.append("ACK")
    own, peer = (c_iss, s_iss) if from_client else (s_iss, c_iss)
    seq = (t.seq - own) & 0xFFFFFFFF if own is not None else t.seq
    parts = ["/".join(names) or "none", f"seq={seq}"]
    if t.flags & ACK:
        parts.append(f"ack={(t.ack - peer) & 0xFFFFFFFF if peer is not None else t.ack}")
    n = p.payload_len or 0
    if n:
        parts.append(f"len={n}")
    return " ".join(parts)


def interpret_handshake(packets: list[Captured], *, client: tuple[str, int] | None,
                        server: tuple[str, int]) -> HandshakeReport:
    """Return the HandshakeReport of the captured ``packets`` of one connection (client = active opener)."""
    c = _End(EndpointState.CLOSED)
    s = _End(EndpointState.LISTEN)
    rows: list[LadderRow] = []
    t0: int | None = None
    t_syn = t_synack = t_ack = t_data = t_req = t_resp = t_fin = t_last = None
    verdict: HandshakeVerdict | None = None
    notes: list[str] = []
    syns = 0
    cli = client
    for cap in packets:
        p = cap.packet
        t = p.tcp
        if p.icmp is not None and p.icmp.is_error:
            if t0 is not None:
                rows.append(LadderRow(cap.ts_ns - t0, False, _label(p, c.iss, s.iss, False), c.state, s.state))
            verdict = HandshakeVerdict.REJECTED
            continue
        if t is None:
            continue
        from_client = p.dst == server[0] and t.dst_port == server[1]
        if cli is None and from_client:
            cli = (p.src or "?", t.src_port)
        if t0 is None:
            if not (from_client and t.flags & SYN):
                continue
            t0 = cap.ts_ns
        snd, rcv = (c, s) if from_client else (s, c)
        f = t.flags
        n = p.payload_len or 0
        end = (t.seq + n + (1 if f & SYN else 0) + (1 if f & FIN else 0)) & 0xFFFFFFFF
        if f & RST:
            snd.state = EndpointState.CLOSED
            rcv.state = EndpointState.CLOSED
            if verdict is None and not (from_client and t_ack is not None):
                verdict = HandshakeVerdict.REFUSED if t_synack is None and not from_client else HandshakeVerdict.RESET
            if from_client and t_synack is not None and t_ack is None and not notes:
                notes.append("the client side sent RST in answer to the SYN/ACK: the local kernel did not send "
                             "the SYN, so no socket owns the port (the crafted-handshake problem)")
        elif f & SYN and not f & ACK:
            syns += 1
            if from_client:
                c.iss = t.seq
                c.state = EndpointState.SYN_SENT
                t_syn = t_syn or cap.ts_ns
        elif f & SYN and f & ACK:
            s.iss = t.seq
            s.state = EndpointState.SYN_RECEIVED
            t_synack = t_synack or cap.ts_ns
            if c.state == EndpointState.SYN_SENT:
                c.state = EndpointState.ESTABLISHED
        else:
            if f & ACK:
                ackd = t.ack
                if rcv.state == EndpointState.SYN_RECEIVED and rcv.iss is not None and ackd == (rcv.iss + 1) & 0xFFFFFFFF:
                    rcv.state = EndpointState.ESTABLISHED
                    t_ack = t_ack or cap.ts_ns
                elif rcv.fin_end is not None and ackd == rcv.fin_end:
                    rcv.state = {EndpointState.FIN_WAIT_1: EndpointState.FIN_WAIT_2,
                                 EndpointState.CLOSING: EndpointState.TIME_WAIT,
                                 EndpointState.LAST_ACK: EndpointState.CLOSED}.get(rcv.state, rcv.state)
            if n:
                t_data = t_data or cap.ts_ns
                if from_client:
                    t_req = t_req or cap.ts_ns
                elif t_req is not None:
                    t_resp = t_resp or cap.ts_ns
            if f & FIN:
                t_fin = t_fin or cap.ts_ns
                snd.fin_end = end
                snd.state = {EndpointState.ESTABLISHED: EndpointState.FIN_WAIT_1,
                             EndpointState.SYN_RECEIVED: EndpointState.FIN_WAIT_1,
                             EndpointState.CLOSE_WAIT: EndpointState.LAST_ACK}.get(snd.state, snd.state)
                # the receiver of a FIN
                if rcv.state == EndpointState.ESTABLISHED:
                    rcv.state = EndpointState.CLOSE_WAIT
                elif rcv.state == EndpointState.FIN_WAIT_2:
                    rcv.state = EndpointState.TIME_WAIT
                elif rcv.state == EndpointState.FIN_WAIT_1:
                    acks_ours = f & ACK and rcv.fin_end is not None and t.ack == rcv.fin_end
                    rcv.state = EndpointState.TIME_WAIT if acks_ours else EndpointState.CLOSING
            if t_fin is not None:
                t_last = cap.ts_ns
        rows.append(LadderRow(cap.ts_ns - t0, from_client, _label(p, c.iss, s.iss, from_client), c.state, s.state))
    if t0 is None:
        return HandshakeReport(_hp(cli), _hp(server), HandshakeVerdict.NO_ANSWER, rows, notes=["no SYN captured"])
    if syns > 1:
        notes.append(f"the SYN was sent {syns} times (retransmissions)")
    if verdict is None:
        if t_synack is None:
            verdict = HandshakeVerdict.NO_ANSWER
        elif c.state in (EndpointState.TIME_WAIT, EndpointState.CLOSED) or s.state == EndpointState.CLOSED:
            verdict = HandshakeVerdict.COMPLETED
        else:
            verdict = HandshakeVerdict.ESTABLISHED

    def d(a: int | None, b: int | None) -> int | None:
        return b - a if a is not None and b is not None else None

    timings = HandshakeTimings(d(t_syn, t_synack), d(t_synack, t_ack), d(t_syn, t_data), d(t_req, t_resp),
                               d(t_fin, t_last))
    return HandshakeReport(_hp(cli), _hp(server), verdict, rows, timings, notes)


def _hp(hp: tuple[str, int] | None) -> str:
    if hp is None:
        return "?"
    return f"[{hp[0]}]:{hp[1]}" if ":" in hp[0] else f"{hp[0]}:{hp[1]}"


def plan_handshake(target: str) -> tuple[str, int]:
    """Return (host, port) of ``HOST:PORT``."""
    from .target import split_host_port

    return split_host_port(target)


def run_handshake(target: str, *, send: bytes | None = None, timeout_s: float = 3.0, crafted: bool = False,
                  suppress_kernel_rst: bool = False, family: int | None = None,
                  clock: Callable[[], int] = time.monotonic_ns) -> HandshakeReport:
    """Return the HandshakeReport of connecting to ``target`` (HOST:PORT) while capturing (needs CAP_NET_RAW).

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        TargetError: unresolvable or unroutable target.
    """
    from ..transport.privileges import require_cap_net_raw
    from .connect import connect_and_capture
    from .target import prepare

    host, port = plan_handshake(target)
    require_cap_net_raw("capturing the handshake")
    tgt = prepare(host, family=family)
    if crafted:
        obs = _crafted(tgt.addr, port, tgt.route.src or "", tgt.route.iface, send=send, timeout_s=timeout_s,
                       suppress=suppress_kernel_rst, clock=clock)
    else:
        obs = connect_and_capture(tgt.addr, port, tgt.route, timeout_s=timeout_s, send=send, clock=clock,
                                  linger_s=0.3)
    rep = interpret_handshake(obs.packets, client=obs.local, server=(tgt.addr, port))
    rep.tracker = tracker_view(obs.packets)
    if crafted and obs.connected:
        rep.notes.append("rawnet ended the crafted connection with an RST: it keeps no TCP state to close gracefully")
    if obs.error:
        rep.notes.append(f"connect() said: {obs.error}")
    return rep


def _crafted(addr: str, port: int, src: str, iface: str | None, *, send: bytes | None, timeout_s: float,
             suppress: bool, clock: Callable[[], int]) -> ConnectObservation:
    import random
    import subprocess

    from ..errors import UsageError
    from ..packet import encode
    from ..packet.craft import CraftSpec, craft
    from ..packet.stack import decode
    from ..transport.raw import L3Sender, PacketReceiver, compile_filter
    from ..transport.bpf import reply_filter

    rng = random.Random()
    sport = rng.randrange(40000, 60000)
    iss = rng.randrange(1, 1 << 32)
    obs = ConnectObservation(addr, port, local=(src, sport))
    table = f"rawnet_hs_{sport}"
    if suppress:
        subprocess.run(["nft", "add", "table", "inet", table], check=True, capture_output=True)
        subprocess.run(["nft", "add", "chain", "inet", table, "out",
                        "{ type filter hook output priority 0 ; policy accept ; }"], check=True, capture_output=True)
        subprocess.run(["nft", "add", "rule", "inet", table, "out", "tcp", "sport", str(sport), "tcp", "flags",
                        "rst", "meta", "mark", "!=", str(_MARK), "drop"], check=True, capture_output=True)
    try:
        try:
            prog = compile_filter(f"tcp and host {addr} and port {sport}")
        except UsageError:  # no tcpdump: the hand-built filter
            prog = reply_filter(addr)
        rx = PacketReceiver(iface, prog, ignore_outgoing=False)
        tx = L3Sender(6 if ":" in addr else 4, mark=_MARK if suppress else None)
        try:
            def syn_spec(flags: str, seq: int, ack: int, payload: bytes = b"") -> bytes:
                return encode(craft(CraftSpec("tcp", src, addr, sport, port, flags, seq, ack, window=64240,
                                              mss=1460 if flags == "S" else None, payload=payload)))

            obs.start_ns = clock()
            tx.send(syn_spec("S", iss, 0), addr)
            deadline = obs.start_ns + int(timeout_s * 1e9)
            peer_seq = None
            seen: list[tuple[int, bytes, tuple[object, ...]]] = []
            while clock() < deadline and peer_seq is None:
                for item in rx.recv_batch(deadline - clock(), clock):
                    seen.append(item)
                    p = decode(item[1], 101, strict=False)
                    if p.tcp is not None and p.src == addr and p.tcp.flags & 0x12 == 0x12:
                        peer_seq = p.tcp.seq
                    elif p.tcp is not None and p.src == addr and p.tcp.flags & RST:
                        deadline = 0
            if peer_seq is not None:
                nxt = (iss + 1) & 0xFFFFFFFF
                tx.send(syn_spec("A", nxt, (peer_seq + 1) & 0xFFFFFFFF), addr)
                obs.connected, obs.connected_ns = True, clock()
                if send:
                    tx.send(syn_spec("PA", nxt, (peer_seq + 1) & 0xFFFFFFFF, send), addr)
                    nxt = (nxt + len(send)) & 0xFFFFFFFF
                end = clock() + 300_000_000
                while clock() < end:
                    seen += rx.recv_batch(end - clock(), clock)
                tx.send(syn_spec("R", nxt, 0), addr)  # we hold no state to close gracefully: reset
            end = clock() + 100_000_000
            while clock() < end:
                seen += rx.recv_batch(end - clock(), clock)
        finally:
            rx.close()
            tx.close()
    finally:
        if suppress:
            subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
    lo = iface == "lo"
    for ts, data, sll in seen:
        out = len(sll) > 2 and sll[2] == 4
        if lo and out:
            continue
        p = decode(data, 101, strict=False)
        if p.tcp is None:
            continue
        obs.packets.append(Captured(ts, p, p.src == src and p.tcp.src_port == sport))
    return obs


def tracker_view(packets: list[Captured]) -> dict[str, object] | None:
    """Return the package TCP tracker's view of the first TCP connection in ``packets`` (``rawnet.tcp``:
    per-endpoint states, Zeek conn_state and history, handshake times), or None when there is none."""
    try:
        from ..flow import ConversationTable
        from ..tcp import TCPTracker
    except ImportError:  # the tracker is optional here: the ladder above does not need it
        return None
    table = ConversationTable()
    tracker = TCPTracker(events=False)
    first = None
    for n, cap in enumerate(packets, 1):
        p = cap.packet
        if p.tcp is None:
            continue
        res = table.add(p, n, cap.ts_ns, p.ip_payload_length or 0)
        if res is None:
            continue
        flow, forward = res
        first = first or flow
        if flow is first:
            tracker.process(p, n, cap.ts_ns, flow, forward)
    if first is None:
        return None
    keys = tracker.flow_keys(first)
    return {k: keys.get(k) for k in ("client_state", "server_state", "conn_state", "history", "syn_to_synack_ns",
                                     "synack_to_ack_ns", "closed_by")}
