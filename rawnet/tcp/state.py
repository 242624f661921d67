"""RFC 9293 connection states of each endpoint, as a passive observer infers them from packets.

Theory of operation
-------------------
Rule 1 (after h11's ``_state.py``): every transition rule lives in this file. ``TRANSITIONS`` maps
``(state, event)`` to the next state; ``EndpointMachine.fire`` is the only place a state changes, and
``observe_segment`` is the only code that turns a packet into events. A pair the table does not list
changes nothing (an observer records facts; a peer breaking the RFC is an anomaly, not an error).

Each endpoint starts in ``UNKNOWN``: a capture that begins mid-connection says nothing about it until
evidence arrives. Events come in two kinds:

* **sent** (``SND_*``): the endpoint transmitted the packet, so the transition is *seen*: a bare SYN
  means SYN-SENT, a SYN/ACK means SYN-RECEIVED (with LISTEN inferred before it, at the SYN it answered),
  a FIN means FIN-WAIT-1 or LAST-ACK, a RST means CLOSED, data or an ACK from an endpoint whose state
  is unknown means it is synchronized (ESTABLISHED, the only state that sends data freely).
* **received** (``RCV_*``): the endpoint is the destination of the packet, so the transition is
  *inferred* and stamped with that packet's number and time: an acceptable SYN/ACK establishes a
  SYN-SENT client, the ACK of a SYN establishes a SYN-RECEIVED server, the ACK of a FIN moves
  FIN-WAIT-1 to FIN-WAIT-2, CLOSING to TIME-WAIT and LAST-ACK to CLOSED (RFC 9293 §3.3.2 Fig. 5).

Receiving a FIN is the one event applied late: whether the peer processed it before sending its own
FIN decides between CLOSE-WAIT/LAST-ACK (ordinary close) and CLOSING (simultaneous close, §3.6
Fig. 13). So the FIN is held as *pending* until the receiver's next packet: if that packet's ACK
covers the FIN (or the capture ends, or the packet is not a FIN), the FIN is applied at the FIN's own
packet number and time; if the receiver instead sends its own FIN without acknowledging ours, both
FINs crossed and both ends go through CLOSING.

Receipt is inferred at the capture point, so a segment lost between the tap and its receiver can
make the observer run ahead. The one case with clear evidence is corrected: a client inferred
ESTABLISHED from a captured SYN/ACK that repeats the same SYN before sending anything else never got
that SYN/ACK, so it goes back to SYN-SENT (``SND_SYN_AGAIN``, anomaly ``synack_lost_after_tap``).

Resets are checked for acceptability (§3.5.3, §3.10.7.4): in SYN-SENT a RST is acceptable only if it
acknowledges our SYN; in other states its sequence number must fall inside the receiver's window
(RCV.NXT as the receiver's last ACK, RCV.WND as its last advertised window, scaled). An unacceptable
RST changes nothing on either side and is reported as an anomaly. TIME-WAIT ends by timer only, so it
is the final state an observer can report for an active closer.
"""

from __future__ import annotations

from array import array
from enum import IntEnum, StrEnum
from typing import Any

__all__ = ["SYNCHRONIZED", "TRANSITIONS", "EndpointMachine", "Event", "TCPState", "Transition"]


class TCPState(StrEnum):
    """The RFC 9293 §3.3.2 states, plus UNKNOWN for "no evidence yet"."""

    UNKNOWN = "UNKNOWN"
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"


class Event(IntEnum):
    """What the observer saw happen to one endpoint."""

    SND_SYN = 1
    SND_SYNACK = 2
    SND_FIN = 3
    SND_RST = 4
    SND_DATA = 5
    SND_ACK = 6
    RCV_SYN = 7
    RCV_SYNACK = 8
    RCV_ACK_OF_SYN = 9
    RCV_ACK_OF_FIN = 10
    RCV_FIN = 11
    RCV_FIN_ACK_OF_FIN = 12
    RCV_RST = 13
    RCV_ICMP_UNREACH = 14
    PASSIVE_OPEN = 15
    SND_SYN_AGAIN = 16
    """The same SYN again from an endpoint believed ESTABLISHED only because a SYN/ACK went to it:
    that SYN/ACK was lost after the capture point, so the endpoint is still in SYN-SENT."""


S = TCPState
E = Event

SYNCHRONIZED = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK,
                          S.TIME_WAIT})
"""States in which both sequence numbers are known (RFC 9293 §3.5.2)."""

TRANSITIONS: dict[tuple[TCPState, Event], TCPState] = {
    # opening (Fig. 5, §3.5 Figs. 6-7)
    (S.UNKNOWN, E.SND_SYN): S.SYN_SENT,
    (S.CLOSED, E.SND_SYN): S.SYN_SENT,
    (S.LISTEN, E.SND_SYN): S.SYN_SENT,
    (S.TIME_WAIT, E.SND_SYN): S.SYN_SENT,
    (S.UNKNOWN, E.PASSIVE_OPEN): S.LISTEN,
    (S.CLOSED, E.PASSIVE_OPEN): S.LISTEN,
    (S.LISTEN, E.SND_SYNACK): S.SYN_RECEIVED,
    (S.SYN_SENT, E.RCV_SYN): S.SYN_RECEIVED,  # simultaneous open
    (S.SYN_SENT, E.SND_SYNACK): S.SYN_RECEIVED,  # simultaneous open, seen first from this side
    (S.SYN_SENT, E.RCV_SYNACK): S.ESTABLISHED,
    (S.UNKNOWN, E.RCV_SYNACK): S.ESTABLISHED,  # its SYN was not captured
    (S.ESTABLISHED, E.SND_SYN_AGAIN): S.SYN_SENT,  # correction: the SYN/ACK never reached it
    (S.SYN_SENT, E.SND_ACK): S.ESTABLISHED,  # the SYN/ACK was not captured
    (S.SYN_SENT, E.SND_DATA): S.ESTABLISHED,
    (S.SYN_RECEIVED, E.RCV_ACK_OF_SYN): S.ESTABLISHED,
    (S.SYN_RECEIVED, E.RCV_SYNACK): S.ESTABLISHED,  # simultaneous open
    (S.SYN_RECEIVED, E.SND_DATA): S.ESTABLISHED,  # the ACK of our SYN was not captured
    (S.UNKNOWN, E.SND_DATA): S.ESTABLISHED,  # mid-stream: sending data means synchronized
    (S.UNKNOWN, E.SND_ACK): S.ESTABLISHED,
    # closing (Fig. 5, §3.6 Figs. 12-13)
    (S.SYN_RECEIVED, E.SND_FIN): S.FIN_WAIT_1,
    (S.ESTABLISHED, E.SND_FIN): S.FIN_WAIT_1,
    (S.UNKNOWN, E.SND_FIN): S.FIN_WAIT_1,
    (S.CLOSE_WAIT, E.SND_FIN): S.LAST_ACK,
    (S.ESTABLISHED, E.RCV_FIN): S.CLOSE_WAIT,
    (S.UNKNOWN, E.RCV_FIN): S.CLOSE_WAIT,
    (S.SYN_RECEIVED, E.RCV_FIN): S.CLOSE_WAIT,
    (S.FIN_WAIT_1, E.RCV_ACK_OF_FIN): S.FIN_WAIT_2,
    (S.FIN_WAIT_1, E.RCV_FIN): S.CLOSING,  # simultaneous close
    (S.FIN_WAIT_1, E.RCV_FIN_ACK_OF_FIN): S.TIME_WAIT,
    (S.FIN_WAIT_2, E.RCV_FIN): S.TIME_WAIT,
    (S.FIN_WAIT_2, E.RCV_FIN_ACK_OF_FIN): S.TIME_WAIT,
    (S.CLOSING, E.RCV_ACK_OF_FIN): S.TIME_WAIT,
    (S.LAST_ACK, E.RCV_ACK_OF_FIN): S.CLOSED,
    # ICMP hard errors abort an opening connection (Linux tcp_v4_err: SYN-SENT/SYN-RECV -> tcp_done)
    (S.SYN_SENT, E.RCV_ICMP_UNREACH): S.CLOSED,
    (S.SYN_RECEIVED, E.RCV_ICMP_UNREACH): S.CLOSED,
}

# resets: sending one aborts the sender; an acceptable one closes the receiver (§3.5.2-3.5.3)
for _st in (S.UNKNOWN, S.SYN_SENT, S.SYN_RECEIVED, *SYNCHRONIZED):
    TRANSITIONS[(_st, E.SND_RST)] = S.CLOSED
for _st in (S.SYN_SENT, *SYNCHRONIZED):
    TRANSITIONS[(_st, E.RCV_RST)] = S.CLOSED
TRANSITIONS[(S.UNKNOWN, E.RCV_RST)] = S.CLOSED
# SYN-RECEIVED reached from LISTEN returns to LISTEN on a valid RST; handled in EndpointMachine.fire
TRANSITIONS[(S.SYN_RECEIVED, E.RCV_RST)] = S.CLOSED
del _st

Transition = tuple[TCPState, int, int, bool]
"""(new state, ts_ns, packet number, seen)."""

_STATES = list(TCPState)
_INDEX = {st: i for i, st in enumerate(_STATES)}
_BY_STATE: dict[TCPState, dict[Event, TCPState]] = {st: {} for st in TCPState}
"""TRANSITIONS indexed by state then event (filled once the table is complete, below)."""


class EndpointMachine:
    """One endpoint's inferred state, its timeline, and the sequence facts the rules need."""

    __slots__ = (
        "ack_valid",
        "addr",
        "fin_received",
        "fin_sent",
        "fin_seq",
        "first_syn_rcv_n",
        "first_syn_rcv_ts",
        "from_listen",
        "iss",
        "last_ack",
        "last_window",
        "owner",
        "pending_fin",
        "port",
        "retrans_bytes",
        "retrans_unneeded",
        "sack_blocks",
        "sink",
        "snd_nxt",
        "state",
        "syn_count",
        "syn_seen",
        "synack_count",
        "timeline",
        "unconfirmed",
        "wscale",
    )

    def __init__(self, addr: bytes, port: int, sink: Any = None, owner: Any = None) -> None:
        """Start in UNKNOWN; ``sink`` (a list or deque) receives (owner, machine, old, new, ts, n, seen)."""
        self.addr = addr
        self.port = port
        self.state = TCPState.UNKNOWN
        self.timeline = array("q")  # flat (state index * 2 + seen, ts_ns, packet) triples: 24 B each
        self.iss = 0
        self.syn_seen = False
        self.fin_seq = 0
        self.fin_sent = False
        self.snd_nxt = 0
        self.last_ack = 0
        self.ack_valid = False
        self.last_window = -1
        self.wscale = 0
        self.from_listen = False
        self.first_syn_rcv_n = 0
        self.first_syn_rcv_ts = 0
        self.pending_fin: tuple[int, int, int, bool] | None = None  # (fin_seq, ts, n, acks_our_fin)
        self.fin_received = False
        self.sink = sink
        self.owner = owner
        # per-endpoint figures kept here for the tracker's reports (not used by the rules)
        self.syn_count = 0
        self.synack_count = 0
        self.retrans_bytes = 0
        self.retrans_unneeded = 0
        self.sack_blocks: tuple[tuple[int, int], ...] = ()
        self.unconfirmed = False  # ESTABLISHED only inferred from a SYN/ACK sent to it, nothing sent since

    def transitions(self) -> list[Transition]:
        """Return the timeline as (state, ts_ns, packet number, seen) tuples, oldest first."""
        tl = self.timeline
        return [(_STATES[tl[i] >> 1], tl[i + 1], tl[i + 2], bool(tl[i] & 1)) for i in range(0, len(tl), 3)]

    def fire(self, event: Event, ts_ns: int, n: int, seen: bool) -> TCPState | None:
        """Apply ``event``; return the new state, or None when the table has no such transition."""
        old = self.state
        new = _BY_STATE[old].get(event)
        if new is None:
            return None
        if event is Event.RCV_RST and old is TCPState.SYN_RECEIVED and self.from_listen:
            new = TCPState.LISTEN
        if new is TCPState.LISTEN or event is Event.PASSIVE_OPEN:
            self.from_listen = True
        self.state = new
        self.timeline.extend((_INDEX[new] * 2 + (1 if seen else 0), ts_ns, n))
        if self.sink is not None:
            self.sink.append((self.owner, self, old, new, ts_ns, n, seen))
        return new

for (_src, _ev), _dst in TRANSITIONS.items():
    _BY_STATE[_src][_ev] = _dst
del _src, _ev, _dst

M32 = 0xFFFFFFFF
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10

NOTE_REFUSED = 0x1
"""A RST answered this endpoint's SYN (connection refused)."""
NOTE_RST_ACCEPTED = 0x2
"""A RST was acceptable to its receiver."""
NOTE_RST_OUT_OF_WINDOW = 0x4
"""A RST fell outside the receiver's window: nothing changed."""
NOTE_DATA_AFTER_FIN = 0x8
"""The sender sent new data beyond its own FIN."""
NOTE_SYN_AFTER_CLOSE = 0x10
"""A bare SYN from an endpoint that had closed or was synchronized."""
NOTE_SIMULTANEOUS_OPEN = 0x20
"""Both endpoints sent a bare SYN."""
NOTE_SIMULTANEOUS_CLOSE = 0x40
"""Both FINs crossed."""
NOTE_SYNACK_LOST = 0x80
"""The client repeated its SYN after a SYN/ACK was captured: that SYN/ACK was lost beyond the tap."""

_CLOSED_LIKE = frozenset({S.CLOSED, S.TIME_WAIT, *SYNCHRONIZED})


def _ge(a: int, b: int) -> bool:
    """Return a >= b in 32-bit sequence space."""
    return ((a - b) & M32) < 0x80000000


def _apply_pending_fin(m: EndpointMachine, ts: int | None = None, n: int | None = None) -> None:
    pf = m.pending_fin
    if pf is None:
        return
    m.pending_fin = None
    m.fin_received = True
    ev = Event.RCV_FIN_ACK_OF_FIN if pf[3] else Event.RCV_FIN
    m.fire(ev, pf[1] if ts is None else ts, pf[2] if n is None else n, False)


def finish_endpoint(m: EndpointMachine) -> None:
    """Apply what is still pending at the end of input (a FIN whose receipt was never contradicted)."""
    _apply_pending_fin(m)


def rst_acceptable(r: EndpointMachine, seq: int, ack: int, flags: int) -> bool:
    """Return whether receiver ``r`` would accept a RST (RFC 9293 §3.10.7.3-3.10.7.4)."""
    st = r.state
    if st is S.SYN_SENT:
        return bool(flags & _ACK) and ack == ((r.iss + 1) & M32)
    if not r.ack_valid:
        return True
    rcv_nxt = r.last_ack
    wnd = r.last_window
    if wnd <= 0:
        return seq == rcv_nxt
    return ((seq - rcv_nxt) & M32) < wnd


def observe_segment(e: EndpointMachine, r: EndpointMachine, flags: int, seq: int, ack: int, seglen: int,
                    window: int, ts: int, n: int) -> int:
    """Turn one segment from ``e`` to ``r`` into state events; return NOTE_* bits.

    Args:
        e: the sender's machine; r: the receiver's.
        flags, seq, ack: header fields; window: the advertised window, already scaled.
        seglen: payload length; ts, n: capture timestamp and packet number.
    """
    notes = 0
    syn = flags & _SYN
    ackf = flags & _ACK
    fin = flags & _FIN
    # a FIN the sender had received earlier: did it process it before sending this?
    simultaneous_close = False
    if e.pending_fin is not None:
        fin_end = (e.pending_fin[0] + 1) & M32
        covers = bool(ackf) and _ge(ack, fin_end)
        if fin and not covers and e.state in (S.ESTABLISHED, S.UNKNOWN, S.SYN_RECEIVED) and not flags & _RST:
            simultaneous_close = True
        else:
            _apply_pending_fin(e)
    if flags & _RST:
        if rst_acceptable(r, seq, ack, flags):
            if r.state is S.SYN_SENT:
                notes |= NOTE_REFUSED
            notes |= NOTE_RST_ACCEPTED
            if r.pending_fin is not None:
                _apply_pending_fin(r)
            e.fire(Event.SND_RST, ts, n, True)
            r.fire(Event.RCV_RST, ts, n, False)
        else:
            notes |= NOTE_RST_OUT_OF_WINDOW
        return notes
    if ackf:
        e.last_ack = ack
        e.ack_valid = True
    e.last_window = window
    if syn:
        if not ackf:
            if e.syn_seen and seq == e.iss and e.unconfirmed and e.state is S.ESTABLISHED:
                notes |= NOTE_SYNACK_LOST
                e.unconfirmed = False
                e.fire(Event.SND_SYN_AGAIN, ts, n, True)
                return notes
            if e.syn_seen and e.state in _CLOSED_LIKE:
                notes |= NOTE_SYN_AFTER_CLOSE
            e.iss = seq
            e.syn_seen = True
            e.fire(Event.SND_SYN, ts, n, True)
            if r.state is S.SYN_SENT and e.state is S.SYN_SENT:
                # crossing SYNs: each side receives the other's SYN in SYN-SENT (RFC 9293 §3.5 Fig. 7)
                notes |= NOTE_SIMULTANEOUS_OPEN
                e.fire(Event.RCV_SYN, ts, n, False)
                r.fire(Event.RCV_SYN, ts, n, False)
            elif not r.first_syn_rcv_n:
                r.first_syn_rcv_n = n
                r.first_syn_rcv_ts = ts
        else:
            e.iss = seq
            e.syn_seen = True
            if e.state is S.UNKNOWN or e.state is S.CLOSED:
                if e.first_syn_rcv_n:
                    e.fire(Event.PASSIVE_OPEN, e.first_syn_rcv_ts, e.first_syn_rcv_n, False)
                else:
                    e.fire(Event.PASSIVE_OPEN, ts, n, False)
            e.fire(Event.SND_SYNACK, ts, n, True)
            if not r.syn_seen or ack == ((r.iss + 1) & M32):
                if r.fire(Event.RCV_SYNACK, ts, n, False) is S.ESTABLISHED:
                    r.unconfirmed = True
        if seglen and not ackf:
            return notes  # TFO data rides on the SYN
        if not fin:
            return notes
    if not syn:
        e.unconfirmed = False
    if ackf and not syn:
        if r.state is S.SYN_RECEIVED and r.syn_seen and _ge(ack, (r.iss + 1) & M32):
            r.fire(Event.RCV_ACK_OF_SYN, ts, n, False)
        if r.fin_sent and _ge(ack, (r.fin_seq + 1) & M32):
            if not (fin and r.state is S.FIN_WAIT_1 and not r.fin_received):
                r.fire(Event.RCV_ACK_OF_FIN, ts, n, False)
    if seglen:
        e.fire(Event.SND_DATA, ts, n, True)
        if e.fin_sent and not _ge(e.fin_seq, (seq + seglen) & M32):
            notes |= NOTE_DATA_AFTER_FIN
    elif ackf and not syn and (not fin or e.state is S.SYN_SENT):
        # an ACK from SYN-SENT means the SYN/ACK arrived (even if not captured): ESTABLISHED, then the FIN
        e.fire(Event.SND_ACK, ts, n, True)
    if fin:
        fin_seq = (seq + seglen) & M32
        if not e.fin_sent:
            e.fin_sent = True
            e.fin_seq = fin_seq
            e.fire(Event.SND_FIN, ts, n, True)
            if simultaneous_close:
                notes |= NOTE_SIMULTANEOUS_CLOSE
                _apply_pending_fin(e, ts, n)
        if not r.fin_received and r.pending_fin is None:
            acks_r_fin = bool(ackf) and r.fin_sent and _ge(ack, (r.fin_seq + 1) & M32)
            r.pending_fin = (fin_seq, ts, n, acks_r_fin)
    return notes


def apply_icmp_unreachable(m: EndpointMachine, ts: int, n: int) -> TCPState | None:
    """An ICMP destination-unreachable quoting ``m``'s segment arrived at ``m``; return its new state."""
    return m.fire(Event.RCV_ICMP_UNREACH, ts, n, False)
