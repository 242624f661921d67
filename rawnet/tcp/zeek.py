"""Zeek-compatible ``conn_state`` and ``history`` for TCP and UDP connections.

Theory of operation: Zeek keeps a 7-value state per endpoint (INACTIVE, SYN_SENT, SYN_ACK_SENT,
PARTIAL, ESTABLISHED, CLOSED, RESET) and moves it in ``TCPSessionAdapter::UpdateStateMachine``; the
history string grows in ``update_history`` (one letter per kind of packet, upper case for the
originator) and in the scaled entries for retransmissions, zero windows and content gaps (added at
the 1st, 10th, 100th ... occurrence). ``conn_state`` is then a function of the two final endpoint
states, the history and the payload sizes (``base/protocols/conn/main.zeek``). This module replays
that logic per packet (``ZeekConn.packet``) with three documented simplifications: checksums are
ignored (as ``zeek -C`` does; lab captures carry offloaded checksums), sequence numbers do not track
32-bit wraps, and a content gap is an ACK beyond the highest sequence number seen from the peer.
The originator is the sender of the first packet unless Zeek's ``WantConnection`` heuristic flips it
(a first packet that is not a bare SYN sent from a likely server port), which adds ``^``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LIKELY_SERVER_PORTS", "ZeekConn", "ZeekEndpoint", "conn_state", "udp_flow_keys"]

M32 = 0xFFFFFFFF
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET")

HIST_SYN, HIST_FIN, HIST_RST, HIST_FIN_RST, HIST_DATA, HIST_ACK, HIST_MULTI = 1, 2, 4, 8, 16, 32, 64

LIKELY_SERVER_PORTS = frozenset({21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 179, 389, 443, 445, 465,
                                 514, 587, 636, 993, 995, 1080, 1433, 1723, 2049, 3128, 3306, 3389, 5060,
                                 5432, 5900, 6379, 6667, 8000, 8080, 8443, 8888, 9200, 27017})
"""Stand-in for Zeek's ``likely_server_ports`` (ports of the analyzers a default install loads)."""

_RSTOS0 = re.compile(r"^\^?S[^HAFGIQ]*R.*")


def _delta(a: int, b: int) -> int:
    d = (a - b) & M32
    return d - 0x100000000 if d & 0x80000000 else d


class ZeekEndpoint:
    """One side of a Zeek TCP connection."""

    __slots__ = (
        "ack_seq",
        "did_close",
        "fin_cnt",
        "gap_cnt",
        "gap_thresh",
        "hist_last_fin",
        "hist_last_rst",
        "hist_last_syn",
        "initialized",
        "is_orig",
        "last_seq",
        "prev_state",
        "rxmt_cnt",
        "rxmt_thresh",
        "start_seq",
        "state",
        "zw_cnt",
        "zw_thresh",
    )

    def __init__(self, is_orig: bool) -> None:
        self.is_orig = is_orig
        self.state = INACTIVE
        self.prev_state = INACTIVE
        self.start_seq = 0
        self.last_seq = 0
        self.ack_seq = 0
        self.initialized = False
        self.hist_last_syn = -1
        self.hist_last_fin = -1
        self.hist_last_rst = -1
        self.fin_cnt = 0
        self.rxmt_cnt = 0
        self.rxmt_thresh = 1
        self.zw_cnt = 0
        self.zw_thresh = 1
        self.gap_cnt = 0
        self.gap_thresh = 1
        self.did_close = False

    def set_state(self, s: int) -> None:
        """Move to state ``s``, remembering the previous one."""
        if s != self.state:
            self.prev_state = self.state
            self.state = s

    def size(self) -> int:
        """Return the payload bytes sent, from sequence numbers (Zeek ``TCP_Endpoint::Size``)."""
        if not self.initialized:
            return 0
        top = self.last_seq if _delta(self.last_seq, self.ack_seq) > 0 else self.ack_seq
        size = (top - self.start_seq) & M32
        if size > 0:
            size -= 1
        if self.fin_cnt > 0 and size > 0:
            size -= 1
        return size


class ZeekConn:
    """Zeek's view of one TCP connection: endpoint states, history, and the final conn_state."""

    __slots__ = ("hist_seen", "history", "orig", "orig_addr", "orig_port", "resp", "started")

    def __init__(self) -> None:
        self.orig = ZeekEndpoint(True)
        self.resp = ZeekEndpoint(False)
        self.orig_addr = b""
        self.orig_port = 0
        self.history = ""
        self.hist_seen = 0
        self.started = False

    # -- history helpers ---------------------------------------------------------------------------
    def _check(self, ep: ZeekEndpoint, mask: int, code: str) -> bool:
        if not ep.is_orig:
            mask <<= 16
            code = code.lower()
        if not self.hist_seen & mask:
            self.hist_seen |= mask
            self.history += code
            return False
        return True

    def _add(self, ep: ZeekEndpoint, code: str) -> None:
        self.history += code if ep.is_orig else code.lower()

    def _scaled(self, ep: ZeekEndpoint, code: str, which: str) -> None:
        cnt = getattr(ep, which + "_cnt") + 1
        setattr(ep, which + "_cnt", cnt)
        thr = getattr(ep, which + "_thresh")
        if cnt == thr:
            self._add(ep, code)
            setattr(ep, which + "_thresh", thr * 10)

    def _flip(self) -> None:
        self.orig, self.resp = self.resp, self.orig
        self.orig.is_orig = True
        self.resp.is_orig = False
        self.hist_seen = ((self.hist_seen >> 16) & 0xFFFF) | ((self.hist_seen & 0xFFFF) << 16)
        self.history += "^"

    # -- per packet ----------------------------------------------------------------------------------
    def packet(self, src: bytes, sport: int, dst: bytes, dport: int, flags: int, seq: int, ack: int,
               length: int, window: int) -> None:
        """Feed one TCP packet (``length`` = payload bytes from the IP header)."""
        if not self.started:
            self.started = True
            self.orig_addr, self.orig_port = src, sport
            if (not flags & SYN or flags & ACK) and sport in LIKELY_SERVER_PORTS:
                if dport in LIKELY_SERVER_PORTS:
                    flip = not flags & SYN and sport < dport
                else:
                    flip = True
                if flip:
                    self.history += "^"
                    self.orig_addr, self.orig_port = dst, dport
        is_orig = src == self.orig_addr and sport == self.orig_port
        if is_orig:
            ep, peer = self.orig, self.resp
        else:
            ep, peer = self.resp, self.orig
        st = ep.state
        if not flags & 0x07 and st != INACTIVE:
            # fast path: no SYN/FIN/RST from an endpoint already seen; no state can change
            if length:
                mask = HIST_DATA if is_orig else HIST_DATA << 16
                if not self.hist_seen & mask:
                    self.hist_seen |= mask
                    self.history += "D" if is_orig else "d"
            elif flags & ACK:
                mask = HIST_ACK if is_orig else HIST_ACK << 16
                if not self.hist_seen & mask:
                    self.hist_seen |= mask
                    self.history += "A" if is_orig else "a"
            ps = peer.state
            if window == 0 and ps != CLOSED and st != RESET:
                self._scaled(ep, "W", "zw")
            if flags & ACK:
                if ps == INACTIVE:
                    if not peer.initialized:
                        peer.start_seq = peer.ack_seq = peer.last_seq = (ack - 1) & M32
                        peer.initialized = True
                elif 0 < ((ack - peer.ack_seq) & M32) < 0x80000000:
                    peer.ack_seq = ack
            last = (seq + length) & M32
            if st != RESET:
                d = (last - ep.last_seq) & M32
                if 0 < d < 0x80000000:
                    ep.last_seq = last
                elif length > 0:
                    self._scaled(ep, "T", "rxmt")
            if flags & ACK and peer.initialized and ps != INACTIVE and ps != RESET:
                if 0 < ((ack - peer.last_seq) & M32) < 0x80000000:
                    self._scaled(peer, "G", "gap")
                    peer.last_seq = ack
            return
        if self._process(ep, peer, is_orig, flags, seq, ack, length, window):
            self.orig_addr, self.orig_port = src, sport

    def _process(self, ep: ZeekEndpoint, peer: ZeekEndpoint, is_orig: bool, flags: int, seq: int, ack: int,
                 length: int, window: int) -> bool:
        syn, fin, rst = flags & SYN, flags & FIN, flags & RST
        seg_len = length + (1 if syn else 0) + (1 if fin else 0)
        if rst:
            seg_len -= length
        last = (seq + seg_len) & M32
        # init_endpoint
        st = ep.state
        if st == INACTIVE:
            if syn:
                ep.start_seq = ep.ack_seq = seq
                ep.last_seq = last
            else:
                ep.start_seq = ep.ack_seq = (seq - 1) & M32
                ep.last_seq = seq
            ep.initialized = True
        elif st in (SYN_SENT, SYN_ACK_SENT):
            if syn and seq != ep.start_seq:
                ep.start_seq = ep.ack_seq = seq
                ep.last_seq = last
        elif st in (ESTABLISHED, PARTIAL):
            if syn:
                ep.start_seq = ep.ack_seq = seq
                ep.last_seq = last
        elif st == RESET and syn and ep.prev_state == INACTIVE:
            ep.start_seq = ep.ack_seq = seq
            ep.last_seq = last
        rel_seq = (seq - ep.start_seq) & M32
        # update_history
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                self._check(ep, HIST_FIN_RST, "I")
            else:
                self._check(ep, HIST_MULTI, "Q")
        elif bits == 1:
            if syn:
                code = "H" if flags & ACK else "S"
                if self._check(ep, HIST_SYN, code) and rel_seq != ep.hist_last_syn:
                    self._add(ep, code)
                ep.hist_last_syn = rel_seq
            if fin:
                end = (rel_seq + length) & M32
                if self._check(ep, HIST_FIN, "F") and end != ep.hist_last_fin:
                    self._add(ep, "F")
                ep.hist_last_fin = end
            if rst:
                if self._check(ep, HIST_RST, "R") and rel_seq != ep.hist_last_rst:
                    self._add(ep, "R")
                ep.hist_last_rst = rel_seq
        else:
            if length:
                self._check(ep, HIST_DATA, "D")
            elif flags & ACK:
                self._check(ep, HIST_ACK, "A")
        # update_window: zero windows
        if window == 0 and not rst and peer.state != CLOSED and ep.state != RESET:
            self._scaled(ep, "W", "zw")
        if fin:
            ep.fin_cnt += 1
        # ACK bookkeeping
        if flags & ACK:
            if peer.state == INACTIVE:
                if not peer.initialized:
                    peer.start_seq = peer.ack_seq = peer.last_seq = (ack - 1) & M32
                    peer.initialized = True
            elif not rst and _delta(ack, peer.ack_seq) > 0:
                peer.ack_seq = ack
        # update_last_seq
        delta_last = _delta(last, ep.last_seq)
        if (syn or rst) and (delta_last > 1048576 or delta_last < -1048576):
            pass
        elif fin and ep.last_seq == ((ep.start_seq + 1) & M32):
            ep.last_seq = last
        elif ep.state == RESET:
            pass
        elif delta_last > 0:
            ep.last_seq = last
        elif delta_last <= 0 and length > 0:
            self._scaled(ep, "T", "rxmt")
        flipped = self._state_machine(ep, peer, is_orig, flags, seq, ack, length, delta_last)
        # content gap: the peer's data acknowledged beyond what was seen
        if flags & ACK and not rst and not fin and peer.initialized and peer.state not in (INACTIVE,):
            if _delta(ack, peer.last_seq) > 0 and peer.state != RESET:
                self._scaled(peer, "G", "gap")
                peer.last_seq = ack
        return flipped

    def _state_machine(self, ep: ZeekEndpoint, peer: ZeekEndpoint, is_orig: bool, flags: int, seq: int,
                       ack: int, length: int, delta_last: int) -> bool:
        syn, fin, rst, has_ack = flags & SYN, flags & FIN, flags & RST, flags & ACK
        st = ep.state
        if st == INACTIVE:
            if syn:
                if is_orig:
                    ep.set_state(SYN_ACK_SENT if has_ack else SYN_SENT)
                else:
                    if not has_ack and peer.state == SYN_ACK_SENT and seq == ep.start_seq:
                        # SYN/SYN-ACK reversal: flip the roles and establish
                        self._flip()
                        peer.set_state(ESTABLISHED)
                        ep.set_state(ESTABLISHED)
                        return True
                    if peer.state == SYN_SENT:
                        peer.set_state(ESTABLISHED)
                    ep.set_state(ESTABLISHED)
            if fin:
                ep.set_state(CLOSED)
            if rst:
                ep.set_state(RESET)
            if ep.state == INACTIVE:
                if not is_orig and length == 0 and self.orig.state == SYN_SENT:
                    pass
                elif has_ack and peer.state == ESTABLISHED:
                    ep.set_state(ESTABLISHED)
                else:
                    ep.set_state(PARTIAL)
        elif st in (SYN_SENT, SYN_ACK_SENT):
            if fin:
                ep.set_state(CLOSED)
            if rst:
                ep.set_state(RESET)
        elif st in (ESTABLISHED, PARTIAL):
            if syn and st == PARTIAL and peer.state == INACTIVE and not has_ack:
                ep.set_state(SYN_SENT)
            if fin and not rst:
                ep.set_state(CLOSED)
                if peer.state == RESET and peer.prev_state == CLOSED:
                    peer.set_state(CLOSED)
            if rst:
                ep.set_state(RESET)
        elif st == CLOSED:
            if rst and peer.state != CLOSED:
                ep.set_state(RESET)
        return False

    # -- results ---------------------------------------------------------------------------------------
    def history_str(self) -> str:
        """Return the history string."""
        return self.history

    def conn_state(self) -> str:
        """Return the conn_state per base/protocols/conn/main.zeek."""
        return conn_state(self.orig.state, self.resp.state, self.history_str(), self.orig.size(),
                          self.resp.size())


def conn_state(os_: int, rs: int, history: str, orig_size: int, resp_size: int) -> str:
    """Return Zeek's conn_state from the two endpoint states, the history and payload sizes."""
    o_inactive = os_ in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and orig_size == 0 and resp_size == 0):
            return "REJ"
        if o_inactive:
            return "RSTRH"
        return "RSTR"
    if os_ == RESET:
        if r_inactive:
            return "RSTOS0" if _RSTOS0.match(history) else "OTH"
        return "RSTO"
    if os_ == CLOSED and rs == CLOSED:
        return "SF"
    if os_ == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"


def udp_flow_keys(flow: Any) -> dict[str, Any]:
    """Return ``{"conn_state", "history"}`` of a UDP flow by Zeek's UDP rules, from its counters."""
    orig = flow.packets_fwd > 0
    resp = flow.packets_rev > 0
    history = ("D" if orig else "") + ("d" if resp else "")
    if orig and resp:
        state = "SF"
    elif orig:
        state = "S0"
    elif resp:
        state = "SHR"
    else:
        state = "OTH"
    return {"conn_state": state, "history": history}
