"""The TCP tracker: one pass over decoded packets gives, per connection, the Wireshark analysis flags,
the Zeek conn_state/history, each endpoint's RFC 9293 state timeline, handshake and close facts,
Karn-filtered RTT and SACK-aware retransmitted bytes.

Theory of operation: the conversation table (rawnet.flow) decides what a connection is (5-tuple,
originator, reused ports: a new Flow object on the same 5-tuple is a new connection); the tracker keeps
its per-connection state in the Flow's ``tcp`` slot as a ``TCPConn``. Because the table may swap a
flow's originator after packets were seen (the first bare SYN names the client), per-endpoint state
is keyed by the endpoint's (address, port): ``e0`` is whoever sent the first packet the tracker saw,
and "client"/"server" are resolved from ``flow.a_addr``/``flow.a_port`` only when reporting.

Per packet ``process`` does, in order: the Wireshark sequence analysis (``wireshark.analyze``; a new
Wireshark conversation starts inside the same Flow when tshark would start one: a bare SYN whose
sequence number differs from the first one seen in that direction), the handshake bookkeeping tshark
does after it (most recent SYN, iRTT at the first non-SYN ACK, window scale), the RFC 9293 inference
(``state.observe_segment``), the Zeek replay (``zeek.ZeekConn``), and the RFC figures (retransmitted
bytes, SACK-aware; Karn RTT samples come from the Wireshark unacked-segment list). Everything is
plain attribute arithmetic on slotted objects; events are queued as tuples and built on ``events()``.
Time is only ever the capture timestamp passed in.

Memory: about 2.9 kB per live connection; a connection closed on both sides and quiet for
``closed_linger_ns`` is compacted to about 1.8 kB (Zeek's result frozen, Wireshark state dropped).
Cost: the objects are slotted but still tracked by Python's cyclic GC, which is a quarter of the
tracker's time on captures with 100k+ connections; a caller doing one long pass can run it with
``gc.disable()`` (nothing here creates garbage cycles that must be collected during the pass).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import Any

from ..flow.table import Flow
from ..packet.ipv4 import IPv4Header
from ..packet.tcp import FastOpenOption, SACKOption, WindowScaleOption
from .events import (
    AnomalyObserved,
    HandshakeCompleted,
    ICMPErrorObserved,
    ResetObserved,
    SegmentRetransmitted,
    StateChanged,
    TrackerEvent,
)
from .state import (
    NOTE_DATA_AFTER_FIN,
    NOTE_REFUSED,
    NOTE_RST_ACCEPTED,
    NOTE_RST_OUT_OF_WINDOW,
    NOTE_SIMULTANEOUS_CLOSE,
    NOTE_SIMULTANEOUS_OPEN,
    NOTE_SYN_AFTER_CLOSE,
    NOTE_SYNACK_LOST,
    EndpointMachine,
    TCPState,
    apply_icmp_unreachable,
    finish_endpoint,
    observe_segment,
)
from .wireshark import (
    ANY_RETRANSMISSION,
    FAST_RETRANSMISSION,
    M32,
    SPURIOUS_RETRANSMISSION,
    WSConv,
    WSDir,
    analyze,
    flag_names,
)
from .zeek import ZeekConn

__all__ = ["TCPConn", "TCPTracker"]

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_EST = TCPState.ESTABLISHED
_DONE = frozenset({TCPState.CLOSED, TCPState.TIME_WAIT})
_NOTE_NAMES = ((NOTE_DATA_AFTER_FIN, "data_after_fin"), (NOTE_RST_OUT_OF_WINDOW, "rst_out_of_window"),
               (NOTE_SYN_AFTER_CLOSE, "syn_after_close"), (NOTE_SIMULTANEOUS_OPEN, "simultaneous_open"),
               (NOTE_SIMULTANEOUS_CLOSE, "simultaneous_close"), (NOTE_SYNACK_LOST, "synack_lost_after_tap"))


_ICMP4_UNREACH = {0: "net-unreachable", 1: "host-unreachable", 2: "protocol-unreachable", 3: "port-unreachable",
                  4: "fragmentation-needed", 5: "source-route-failed", 6: "net-unknown", 7: "host-unknown",
                  9: "net-prohibited", 10: "host-prohibited", 11: "net-unreachable-tos",
                  12: "host-unreachable-tos", 13: "admin-prohibited"}
_ICMP6_UNREACH = {0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "address-unreachable",
                  4: "port-unreachable", 5: "source-policy-failed", 6: "reject-route"}


def _icmp_name(version: int, icmp_type: int, code: int) -> str:
    if version == 4:
        if icmp_type == 3:
            return _ICMP4_UNREACH.get(code, f"unreachable-code-{code}")
        return {11: "time-exceeded", 12: "parameter-problem", 5: "redirect", 4: "source-quench"}.get(
            icmp_type, f"type-{icmp_type}")
    if icmp_type == 1:
        return _ICMP6_UNREACH.get(code, f"unreachable-code-{code}")
    return {2: "packet-too-big", 3: "time-exceeded", 4: "parameter-problem"}.get(icmp_type, f"type-{icmp_type}")


def _addr(a: bytes) -> str:
    return str(ipaddress.ip_address(a))


class TCPConn:
    """Per-connection tracker state (lives in ``Flow.tcp``)."""

    __slots__ = (
        "anomalies",
        "close",
        "close_n",
        "close_ts",
        "closed_by_addr",
        "e0",
        "e1",
        "first_syn_n",
        "first_syn_ts",
        "flow_id",
        "icmp_error",
        "irtt_n",
        "irtt_ns",
        "last_syn_ts",
        "last_synack_ts",
        "last_ts",
        "packets",
        "queued",
        "refused",
        "reset_by_addr",
        "retrans_packets",
        "rtt_max",
        "rtt_min",
        "rtt_n",
        "rtt_sum",
        "syn_to_synack_ns",
        "synack_to_ack_ns",
        "synack_ts",
        "tfo_bytes",
        "tfo_cookie",
        "ws",
        "ws_conversations",
        "zk",
        "zk_frozen",
    )

    def __init__(self, flow_id: int, src: bytes, sport: int, dst: bytes, dport: int, sink: Any = None,
                 flow: Any = None) -> None:
        self.flow_id = flow_id
        self.e0 = EndpointMachine(src, sport, sink, flow)
        self.e1 = EndpointMachine(dst, dport, sink, flow)
        self.ws = WSConv()
        self.zk = ZeekConn()
        self.first_syn_ts: int | None = None
        self.first_syn_n = 0
        self.last_syn_ts: int | None = None
        self.synack_ts: int | None = None
        self.last_synack_ts: int | None = None
        self.syn_to_synack_ns: int | None = None
        self.synack_to_ack_ns: int | None = None
        self.irtt_ns: int | None = None
        self.irtt_n = 0
        self.refused = False
        self.icmp_error: dict[str, Any] | None = None
        self.close: str | None = None
        self.closed_by_addr: tuple[bytes, int] | None = None
        self.close_n = 0
        self.close_ts = 0
        self.tfo_bytes = 0
        self.reset_by_addr: tuple[bytes, int] | None = None
        self.tfo_cookie = False
        self.retrans_packets = 0
        self.anomalies: list[tuple[str, int]] | None = None
        self.last_ts = 0
        self.ws_conversations = 1
        self.packets = 0
        self.rtt_n = 0
        self.rtt_sum = 0
        self.rtt_min = 0
        self.rtt_max = 0
        self.zk_frozen: tuple[str, str] | None = None
        self.queued = False

    def fold_rtt(self) -> None:
        """Move the current Wireshark conversation's RTT samples into the connection's totals."""
        ws = self.ws
        if ws is None:
            return
        for d in (ws.d0, ws.d1):
            if d.rtt_n:
                if self.rtt_n == 0 or d.rtt_min < self.rtt_min:
                    self.rtt_min = d.rtt_min
                if d.rtt_max > self.rtt_max:
                    self.rtt_max = d.rtt_max
                self.rtt_n += d.rtt_n
                self.rtt_sum += d.rtt_sum
                d.rtt_n = d.rtt_sum = d.rtt_min = d.rtt_max = 0

    def side(self, addr: bytes, port: int | None) -> int:
        """Return 0 or 1: which machine is the endpoint (addr, port)."""
        return 0 if (addr == self.e0.addr and port == self.e0.port) else 1


def _covered(lo: int, hi: int, ack: int, blocks: tuple[tuple[int, int], ...]) -> int:
    """Return how many bytes of [lo, hi) the receiver had acknowledged, cumulatively or by SACK blocks."""
    size = (hi - lo) & M32
    if size == 0:
        return 0
    spans = []
    a = (ack - lo) & M32
    if 0 < a < 0x80000000:
        spans.append((0, min(a, size)))
    for left, right in blocks:
        e = (right - lo) & M32
        if e == 0 or e >= 0x80000000:
            continue  # the block ends before this segment starts
        b = (left - lo) & M32
        if b >= 0x80000000:
            b = 0
        if b < size:
            spans.append((b, min(e, size)))
    total = 0
    end = 0
    for b, e in sorted(spans):
        b = max(b, end)
        if e > b:
            total += e - b
            end = e
    return total


class TCPTracker:
    """Sans-IO TCP tracker; see the module docstring. One instance per capture pass."""

    def __init__(self, idle_timeout_ns: int = 300 * 10**9, *, events: bool = True,
                 max_events: int = 1 << 16, closed_linger_ns: int = 10 * 10**9) -> None:
        """Create a tracker.

        Args:
            idle_timeout_ns: a connection without packets for this long is finalized (pending
                inferences applied, unacknowledged-segment lists freed).
            events: queue TrackerEvent objects for ``events()`` (bounded by ``max_events``).
            closed_linger_ns: once both endpoints are CLOSED/TIME_WAIT and the connection has been
                quiet this long, its per-packet analysis state is compacted (Zeek's result frozen,
                the Wireshark state dropped); a later packet starts a fresh Wireshark analysis and no
                longer changes conn_state/history. Keeps memory flat on captures with many short
                connections.
        """
        self.idle_timeout_ns = idle_timeout_ns
        self.closed_linger_ns = closed_linger_ns
        self._closing: deque[tuple[int, Any]] = deque()
        self._events_on = events
        self._queue: deque[tuple[Any, ...]] = deque(maxlen=max_events)
        self._live: dict[int, Any] = {}
        self._count = 0
        self._next_expire_ns = 0

    # ------------------------------------------------------------------------------------------ packets
    def process(self, pkt: Any, n: int, ts_ns: int, flow: Any, forward: bool) -> list[str]:
        """Return tshark's ``tcp.analysis`` flag names for packet ``n`` and update the connection.

        Args:
            pkt: the decoded Packet (``pkt.tcp`` is not None).
            n: its 1-based number in the capture; ts_ns: its timestamp.
            flow: its Flow from the conversation table; forward: direction in that flow (unused: the
                tracker keys endpoints by address and port, since the flow may swap).
        """
        t = pkt.transport
        net = pkt.network
        src = net.src
        sport = t.src_port
        c = flow.tcp
        if c is None:
            c = flow.tcp = TCPConn(flow.id, src, sport, net.dst, t.dst_port,
                                   self._queue if self._events_on else None, flow)
            self._live[id(flow)] = flow
        c.packets += 1
        c.last_ts = ts_ns
        e = c.e0
        if src == e.addr and sport == e.port:
            s = 0
            r = c.e1
        else:
            s = 1
            e, r = c.e1, e
        flags = t.flags
        seq = t.seq
        ack = t.ack
        window = t.window
        ipl = pkt.ip_payload_length
        do = t.data_offset
        hl = do * 4 if do is not None else t.header_length
        ta = 0
        if type(net) is IPv4Header:
            frag = net.flags & 1 or net.fragment_offset
        else:
            frag = net.is_fragment
        if ipl is not None and ipl >= hl and not frag:
            seglen = ipl - hl
            ws = c.ws
            if ws is None:  # compacted after both ends closed: a late packet starts a fresh analysis
                ws = c.ws = WSConv()
                c.ws_conversations += 1
                self._live[id(flow)] = flow
            if s == 0:
                wf, wr = ws.d0, ws.d1
            else:
                wf, wr = ws.d1, ws.d0
            if flags & 0x12 == SYN:
                if wf.base_set and seq != wf.base_seq:
                    # tshark starts a new conversation ("reused ports")
                    c.fold_rtt()
                    ws = c.ws = WSConv()
                    c.ws_conversations += 1
                    wf, wr = (ws.d0, ws.d1) if s == 0 else (ws.d1, ws.d0)
            if not wf.base_set:
                wf.base_seq = seq if flags & SYN else (seq - 1) & M32
                wf.base_set = True
            if not wr.base_set and flags & ACK:
                wr.base_seq = (ack - 1) & M32
                wr.base_set = True
            ta = analyze(ws, wf, wr, seq, ack, seglen, flags, window, ts_ns)
            opts = t.options
            if flags & SYN:
                if not flags & ACK:
                    ws.ts_mru_syn = ts_ns
                    ws.has_syn = True
                wf.is_first_ack = True
                for o in opts:
                    if isinstance(o, WindowScaleOption):
                        wf.win_scale = o.shift if o.shift <= 14 else 14
                        break
                if wf.win_scale == -1:
                    wf.win_scale = -2
                    wr.win_scale = -2
                elif flags & ACK and wr.win_scale == -2:
                    wf.win_scale = -2
            elif flags & ACK:
                if ws.has_syn and not ws.has_rtt:
                    d = ts_ns - ws.ts_mru_syn
                    if d:
                        ws.ts_first_rtt = d
                        ws.has_rtt = True
                wf.is_first_ack = False
            if ws.has_rtt and not ws.irtt_shown and (ta or seglen or ws.acked):
                # tshark shows tcp.analysis.initial_rtt only on frames that carry SEQ/ACK analysis
                # (flags, an acknowledged frame, or bytes in flight): the first such frame reveals it
                ws.irtt_shown = True
                if c.irtt_ns is None:
                    c.irtt_ns = ws.ts_first_rtt
                    c.irtt_n = n
                    if self._events_on:
                        self._queue.append((HandshakeCompleted, c.flow_id, ts_ns, n, ws.ts_first_rtt))
            ws.acked = False
            if opts and flags & ACK:
                blocks: tuple[tuple[int, int], ...] = ()
                for o in opts:
                    if type(o) is SACKOption:
                        blocks = o.blocks
                        break
                e.sack_blocks = blocks
            if ta & ANY_RETRANSMISSION:
                c.retrans_packets += 1
                self._retransmitted(c, e, r, s, wf, seq, seglen, ta, ts_ns, n)
        else:
            seglen = 0 if ipl is None else max(ipl - hl, 0)
        if flags & SYN:
            self._syn(c, e, flags, seglen, ts_ns, n, t)
            scaled = window
        else:
            if flags & ACK and c.synack_to_ack_ns is None and c.synack_ts is not None \
                    and not e.synack_count:
                c.synack_to_ack_ns = ts_ns - (c.last_synack_ts or c.synack_ts)
            scaled = window << e.wscale
        # RFC 9293 inference; the common case (both ESTABLISHED, no SYN/FIN/RST, nothing pending) changes
        # no state and is done inline (same effect as observe_segment)
        if (not flags & 0x07 and e.state is _EST and r.state is _EST and e.pending_fin is None
                and not r.fin_sent):
            if flags & ACK:
                e.last_ack = ack
                e.ack_valid = True
            e.last_window = scaled
        else:
            notes = observe_segment(e, r, flags, seq, ack, seglen, scaled, ts_ns, n)
            if notes:
                self._notes(c, notes, flags, src, sport, ts_ns, n)
            if notes & NOTE_RST_ACCEPTED and c.reset_by_addr is None:
                c.reset_by_addr = (src, sport)
            if flags & (FIN | RST) and c.close is None and (flags & FIN or notes & NOTE_RST_ACCEPTED):
                c.close = "rst" if flags & RST else "fin"
                c.closed_by_addr = (src, sport)
                c.close_n = n
                c.close_ts = ts_ns
        # Zeek
        zk = c.zk
        if zk is not None:
            zk.packet(src, sport, net.dst, t.dst_port, flags, seq, ack, seglen, window)
        if not c.queued and e.state in _DONE and r.state in _DONE:
            c.queued = True
            self._closing.append((ts_ns, flow))
        self._count += 1
        if not self._count & 0xFFF:
            if self._closing:
                self._compact(ts_ns)
            if ts_ns >= self._next_expire_ns:
                if self._next_expire_ns:
                    self.expire(ts_ns)
                self._next_expire_ns = ts_ns + self.idle_timeout_ns // 4
        if ta:
            return list(flag_names(ta))
        return []

    def _syn(self, c: TCPConn, e: EndpointMachine, flags: int, seglen: int, ts: int, n: int, t: Any) -> None:
        if flags & ACK:
            e.synack_count += 1
            if c.synack_ts is None:
                c.synack_ts = ts
                if c.last_syn_ts is not None:
                    c.syn_to_synack_ns = ts - c.last_syn_ts
            c.last_synack_ts = ts
        else:
            e.syn_count += 1
            if c.first_syn_ts is None:
                c.first_syn_ts = ts
                c.first_syn_n = n
            if c.synack_ts is None:
                c.last_syn_ts = ts
            if seglen:
                c.tfo_bytes += seglen
            for o in t.options:
                if type(o) is FastOpenOption:
                    c.tfo_cookie = True
        # window scale for the RFC machines (RFC 7323 §2.2: both SYNs must carry the option)
        for o in t.options:
            if type(o) is WindowScaleOption:
                e.wscale = min(o.shift, 14)
                break
        else:
            c.e0.wscale = c.e1.wscale = 0

    def _retransmitted(self, c: TCPConn, e: EndpointMachine, r: EndpointMachine, s: int, wf: WSDir, seq: int,
                       seglen: int, ta: int, ts: int, n: int) -> None:
        if seglen:
            e.retrans_bytes += seglen
            end = (seq + seglen) & M32
            e.retrans_unneeded += _covered(seq, end, r.last_ack if r.ack_valid else seq, r.sack_blocks)
            # Karn: RTT samples for these bytes are now ambiguous. The list is oldest first, which is
            # sequence order for all but reordered sends: stop at the first segment past the range
            segs = wf.segments
            for i in range(0, len(segs), 4):
                if ((segs[i] - end) & M32) < 0x80000000:
                    break
                if ((segs[i + 1] - seq) & M32) - 1 < 0x7FFFFFFF:
                    segs[i + 3] = 1
        if self._events_on:
            kind = ("fast_retransmission" if ta & FAST_RETRANSMISSION else
                    "spurious_retransmission" if ta & SPURIOUS_RETRANSMISSION else "retransmission")
            self._queue.append((SegmentRetransmitted, c.flow_id, ts, n, e, kind))

    def _notes(self, c: TCPConn, notes: int, flags: int, src: bytes, sport: int, ts: int, n: int) -> None:
        if notes & NOTE_REFUSED:
            c.refused = True
        if flags & RST and self._events_on:
            sender = c.e0 if c.side(src, sport) == 0 else c.e1
            self._queue.append((ResetObserved, c.flow_id, ts, n, sender, bool(notes & NOTE_RST_ACCEPTED),
                                bool(notes & NOTE_REFUSED)))
        for bit, name in _NOTE_NAMES:
            if notes & bit:
                if c.anomalies is None:
                    c.anomalies = []
                c.anomalies.append((name, n))
                if self._events_on:
                    self._queue.append((AnomalyObserved, c.flow_id, ts, n, name))

    def process_icmp(self, pkt: Any, n: int, ts_ns: int, flow: Any) -> None:
        """Attach an ICMP/ICMPv6 error quoting a segment of ``flow`` to it (sender address, type, code)."""
        q = pkt.quoted
        icmp = pkt.icmp
        if q is None or icmp is None or q.network is None or q.transport is None:
            return
        qt = q.transport
        qsrc = q.network.src
        c = flow.tcp
        if c is None:
            c = flow.tcp = TCPConn(flow.id, qsrc, qt.src_port, q.network.dst, qt.dst_port,
                                   self._queue if self._events_on else None, flow)
            self._live[id(flow)] = flow
        m = c.e0 if c.side(qsrc, qt.src_port) == 0 else c.e1
        sender = _addr(pkt.network.src)
        if c.icmp_error is None:
            c.icmp_error = {"type": icmp.type, "code": icmp.code,
                            "name": _icmp_name(icmp.version, icmp.type, icmp.code), "sender": sender, "packet": n,
                            "ts_ns": ts_ns,
                            "quoted_seq": getattr(qt, "seq", None), "version": icmp.version}
        unreach = (icmp.version == 4 and icmp.type == 3 and icmp.code != 4) or (icmp.version == 6 and icmp.type == 1)
        if unreach:
            apply_icmp_unreachable(m, ts_ns, n)
        if self._events_on:
            self._queue.append((ICMPErrorObserved, c.flow_id, ts_ns, n, icmp.type, icmp.code, sender))

    # ------------------------------------------------------------------------------------ lifecycle
    def _compact(self, now_ns: int) -> None:
        """Compact connections closed on both sides and quiet for ``closed_linger_ns``."""
        q = self._closing
        limit = now_ns - self.closed_linger_ns
        while q and q[0][0] < limit:
            _, flow = q.popleft()
            c = flow.tcp
            if c is None or c.ws is None:
                continue
            if c.last_ts >= limit:
                q.append((c.last_ts, flow))
                continue
            self._finalize(c)
            c.fold_rtt()
            c.ws = None
            if c.zk is not None:
                c.zk_frozen = (c.zk.conn_state(), c.zk.history_str())
                c.zk = None
            self._live.pop(id(flow), None)

    def expire(self, now_ns: int) -> int:
        """Finalize connections idle for longer than the idle timeout; return how many were."""
        old = [k for k, f in self._live.items() if now_ns - f.tcp.last_ts > self.idle_timeout_ns]
        for k in old:
            f = self._live.pop(k)
            self._finalize(f.tcp)
        return len(old)

    @staticmethod
    def _finalize(c: TCPConn) -> None:
        finish_endpoint(c.e0)
        finish_endpoint(c.e1)
        if c.ws is not None:
            del c.ws.d0.segments[:]
            del c.ws.d1.segments[:]

    def finish(self) -> None:
        """End of input: apply pending inferences (FINs received) and release per-packet state."""
        for f in self._live.values():
            self._finalize(f.tcp)
        self._live.clear()

    def events(self) -> list[TrackerEvent]:
        """Return and clear the queued events, oldest first."""
        out: list[TrackerEvent] = []
        q = self._queue
        while q:
            item = q.popleft()
            cls = item[0]
            if isinstance(cls, Flow):
                flow, m, old, new, ts, n, seen = item
                who = "client" if (m.addr == flow.a_addr and m.port == flow.a_port) else "server"
                out.append(StateChanged(flow.id, ts, n, who, old, new, seen))
            elif cls is SegmentRetransmitted or cls is ResetObserved:
                out.append(cls(item[1], item[2], item[3], self._who(item[4]), *item[5:]))
            else:
                out.append(cls(*item[1:]))
        return out

    @staticmethod
    def _who(m: EndpointMachine) -> str:
        flow = m.owner
        return "client" if (m.addr == flow.a_addr and m.port == flow.a_port) else "server"

    # ------------------------------------------------------------------------------------ reports
    @staticmethod
    def _client_server(flow: Any) -> tuple[EndpointMachine, EndpointMachine, int]:
        c: TCPConn = flow.tcp
        if c.e0.addr == flow.a_addr and c.e0.port == flow.a_port:
            return c.e0, c.e1, 0
        return c.e1, c.e0, 1

    def flow_keys(self, flow: Any) -> dict[str, Any]:
        """Return the TCP keys of ``rawnet pcap flows`` for one flow (see the module docstring)."""
        c: TCPConn | None = flow.tcp
        if c is None:
            return {"conn_state": "OTH", "history": "", "irtt_ns": None, "retransmissions": 0,
                    "client_state": "UNKNOWN", "server_state": "UNKNOWN", "close": None, "closed_by": None}
        finish_endpoint(c.e0)
        finish_endpoint(c.e1)
        cl, sv, _ = self._client_server(flow)
        closed_by = reset_by = None
        if c.closed_by_addr is not None:
            closed_by = "client" if c.closed_by_addr == (cl.addr, cl.port) else "server"
        if c.reset_by_addr is not None:
            reset_by = "client" if c.reset_by_addr == (cl.addr, cl.port) else "server"
        rtt = self._rtt(c)
        return {
            "conn_state": c.zk.conn_state() if c.zk is not None else c.zk_frozen[0],
            "history": c.zk.history_str() if c.zk is not None else c.zk_frozen[1],
            # the handshake RTT; tshark also shows an "initial RTT" on the RST/ACK that refuses a SYN
            # (its first non-SYN ACK), which is no handshake: that value is kept as tshark_irtt_ns
            "irtt_ns": c.irtt_ns if c.synack_ts is not None else None,
            "tshark_irtt_ns": c.irtt_ns,
            "retransmissions": c.retrans_packets,
            "client_state": str(cl.state),
            "server_state": str(sv.state),
            "close": c.close,
            "closed_by": closed_by,
            "syn_retransmissions": max(cl.syn_count - 1, 0),
            "synack_retransmissions": max(sv.synack_count - 1, 0),
            "syn_to_synack_ns": c.syn_to_synack_ns,
            "synack_to_ack_ns": c.synack_to_ack_ns,
            "refused": c.refused,
            "icmp_error": c.icmp_error,
            "reset_by": reset_by,
            "tfo_data_bytes": c.tfo_bytes,
            "tfo_cookie": c.tfo_cookie,
            "retransmitted_bytes_client": cl.retrans_bytes,
            "retransmitted_bytes_server": sv.retrans_bytes,
            "retransmitted_bytes_unneeded": cl.retrans_unneeded + sv.retrans_unneeded,
            "rtt_samples": rtt[0],
            "rtt_min_ns": rtt[1],
            "rtt_avg_ns": rtt[2],
            "rtt_max_ns": rtt[3],
            "anomalies": [name for name, _ in c.anomalies or ()],
        }

    @staticmethod
    def _rtt(c: TCPConn) -> tuple[int, int | None, int | None, int | None]:
        n, total, lo, hi = c.rtt_n, c.rtt_sum, c.rtt_min, c.rtt_max
        if c.ws is not None:
            for d in (c.ws.d0, c.ws.d1):
                if d.rtt_n:
                    if n == 0 or d.rtt_min < lo:
                        lo = d.rtt_min
                    hi = max(hi, d.rtt_max)
                    n += d.rtt_n
                    total += d.rtt_sum
        if not n:
            return 0, None, None, None
        return n, lo, total // n, hi

    def timeline(self, flow: Any) -> list[dict[str, Any]]:
        """Return both endpoints' state transitions in packet order (ties: the order they were inferred)."""
        c: TCPConn | None = flow.tcp
        if c is None:
            return []
        finish_endpoint(c.e0)
        finish_endpoint(c.e1)
        cl, sv, _ = self._client_server(flow)
        items: list[tuple[int, int, int, dict[str, Any]]] = []
        k = 0
        for m, who in ((cl, "client"), (sv, "server")):
            for st, ts, n, seen in m.transitions():
                items.append((n, ts, k, {"endpoint": who, "state": str(st), "ts_ns": ts, "packet": n,
                                         "seen": seen}))
                k += 1
        # a packet's own transitions: sender (seen) before receiver (inferred), else insertion order
        items.sort(key=lambda x: (x[0], not x[3]["seen"], x[2]))
        return [x[3] for x in items]
