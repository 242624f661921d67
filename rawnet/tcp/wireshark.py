"""Wireshark-compatible TCP sequence analysis: the ``tcp.analysis.*`` flags of one packet.

Theory of operation: this is a transcription, by behaviour, of ``tcp_analyze_sequence_number`` in
Wireshark's ``epan/dissectors/packet-tcp.c`` as shipped in the installed tshark (4.0), checked packet
for packet against ``tshark -T fields -e tcp.analysis.*`` (tests/corpus/test_tcp_oracle.py). Each
direction of a conversation keeps the same few numbers Wireshark keeps (``WSDir``): the highest
next-sequence seen (``nextseq``, 0 meaning "unknown", as in Wireshark) and when, the highest
contiguous sequence that may be acknowledged (``maxseqtobeacked``), the last ACK and window sent, the
duplicate-ACK counter, the flags given to the previous segment, and the list of segments sent but not
yet acknowledged. Checks run in Wireshark's order and with its quirks:

* all arithmetic is on unsigned 32-bit sequence numbers, compared in sequence space (``_gt``);
* the window is the raw 16-bit field; window scale comes from the SYN options (-1 unknown, -2 none);
* a zero-window probe skips the other checks of its direction, so do Keep-Alive ACK,
  ZeroWindowProbeAck and Dup ACK;
* Spurious, Fast Retransmission, Out-Of-Order and Retransmission are tried only for segments that
  carry data, SYN or FIN and are not Keep-Alives; fast retransmission wins over out-of-order
  (``tcp_fastrt_precedence`` default); a Fast or Spurious retransmission is also reported as a
  retransmission, since tshark adds the ``tcp.analysis.retransmission`` expert item to both;
* the out-of-order window is the conversation's iRTT when known, else 3 ms, and the fast
  retransmission window is 20 ms after the peer's last ACK.

Behaviour of the installed tshark (4.0.17) that the reference table (TOOLS.md 1.3, written from the
3.6 source) does not state, each found by a packet where the two disagreed and now pinned by a test:

* the iRTT is taken at the first non-SYN segment with ACK set (data, FIN and RST/ACK included, so a
  refused connection has one), but ``tcp.analysis.initial_rtt`` is only *shown* on frames that carry
  SEQ/ACK analysis (a flag, an acknowledged frame, or data): a conversation where no later frame
  qualifies shows none (tracker: ``irtt_shown``);
* time deltas are unsigned: a frame stamped earlier than the reference (two-interface captures) is
  never "within 20 ms" nor "within the out-of-order window", so it is a plain retransmission;
* no "already seen segment" shortcut and no "OOO closing a series after a pure ACK" rule (both are in
  later versions): a copy of a queued segment inside the OOO window is Out-Of-Order;
* after "ACKed unseen segment" the other direction's max-seq-to-be-acked moves to that direction's
  next sequence number (not to the ACK), so the flag can repeat after a zero-window probe;
* a SYN/ACK with a new ISN stays in the same conversation (only a bare SYN with a new ISN starts a
  new one, "reused ports"), and window full uses shift 0 until that side's first non-SYN ACK.

Only the analysis flags are computed; bytes in flight, PDU tracking and reassembly are not.
"""

from __future__ import annotations

from array import array

__all__ = ["FLAG_NAMES", "WSConv", "WSDir", "analyze", "flag_names"]

M32 = 0xFFFFFFFF
HALF = 0x80000000

RETRANSMISSION = 0x1
FAST_RETRANSMISSION = 0x2
SPURIOUS_RETRANSMISSION = 0x4
OUT_OF_ORDER = 0x8
LOST_SEGMENT = 0x10
ACK_LOST_SEGMENT = 0x20
DUPLICATE_ACK = 0x40
ZERO_WINDOW = 0x80
ZERO_WINDOW_PROBE = 0x100
ZERO_WINDOW_PROBE_ACK = 0x200
WINDOW_FULL = 0x400
WINDOW_UPDATE = 0x800
KEEP_ALIVE = 0x1000
KEEP_ALIVE_ACK = 0x2000
REUSED_PORTS = 0x4000

ANY_RETRANSMISSION = RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION

FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (RETRANSMISSION, "retransmission"),
    (FAST_RETRANSMISSION, "fast_retransmission"),
    (SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
    (OUT_OF_ORDER, "out_of_order"),
    (LOST_SEGMENT, "lost_segment"),
    (ACK_LOST_SEGMENT, "ack_lost_segment"),
    (DUPLICATE_ACK, "duplicate_ack"),
    (ZERO_WINDOW, "zero_window"),
    (ZERO_WINDOW_PROBE, "zero_window_probe"),
    (ZERO_WINDOW_PROBE_ACK, "zero_window_probe_ack"),
    (WINDOW_FULL, "window_full"),
    (WINDOW_UPDATE, "window_update"),
    (KEEP_ALIVE, "keep_alive"),
    (KEEP_ALIVE_ACK, "keep_alive_ack"),
)
"""Flag bits and tshark's field names without the ``tcp.analysis.`` prefix, in report order."""

_NAME_CACHE: dict[int, tuple[str, ...]] = {}

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
FAST_RT_WINDOW_NS = 20_000_000
DEFAULT_OOO_NS = 3_000_000
MAX_UNACKED = 1000


def flag_names(mask: int) -> tuple[str, ...]:
    """Return the tshark names of the analysis bits in ``mask``, in report order (cached)."""
    names = _NAME_CACHE.get(mask)
    if names is None:
        if mask & (FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION):
            mask_r = mask | RETRANSMISSION
        else:
            mask_r = mask
        names = tuple(n for bit, n in FLAG_NAMES if mask_r & bit)
        _NAME_CACHE[mask] = names
    return names


def _gt(a: int, b: int) -> bool:
    """Return a > b in 32-bit sequence space (Wireshark's GT_SEQ)."""
    d = (a - b) & M32
    return 0 < d <= HALF


class WSDir:
    """Wireshark's per-direction analysis state (``tcp_flow_t`` + ``tcp_analyze_seq_flow_info_t``)."""

    __slots__ = (
        "base_seq",
        "base_set",
        "dupacknum",
        "is_first_ack",
        "lastack",
        "lastacktime",
        "lastsegmentflags",
        "maxseqtobeacked",
        "nextseq",
        "nextseqtime",
        "rtt_max",
        "rtt_min",
        "rtt_n",
        "rtt_sum",
        "segments",
        "win_scale",
        "window",
    )

    def __init__(self) -> None:
        self.nextseq = 0
        self.nextseqtime = 0
        self.maxseqtobeacked = 0
        self.lastack = 0
        self.lastacktime = 0
        self.window = M32  # G_MAXUINT32: nothing seen yet
        self.win_scale = -1
        self.is_first_ack = True
        self.dupacknum = 0
        self.lastsegmentflags = 0
        # unacknowledged segments, oldest first, as flat (seq, nextseq, ts_ns, karn) quadruples in an
        # int64 array: no per-segment objects for the allocator or the garbage collector
        self.segments = array("q")
        self.base_seq = 0
        self.base_set = False
        self.rtt_n = 0
        self.rtt_sum = 0
        self.rtt_min = 0
        self.rtt_max = 0


class WSConv:
    """One Wireshark TCP conversation: two directions plus the handshake timestamps."""

    __slots__ = ("acked", "d0", "d1", "has_rtt", "has_syn", "irtt_shown", "ts_first_rtt", "ts_mru_syn")

    def __init__(self) -> None:
        self.d0 = WSDir()
        self.d1 = WSDir()
        self.ts_mru_syn = 0
        self.has_syn = False
        self.ts_first_rtt = 0
        self.has_rtt = False
        self.irtt_shown = False
        self.acked = False


def analyze(c: WSConv, fwd: WSDir, rev: WSDir, seq: int, ack: int, seglen: int, flags: int, window: int,
            ts: int) -> int:
    """Return the analysis bits of one segment and update both directions' state.

    Args:
        c: the conversation (for the iRTT used as the out-of-order window).
        fwd: state of the sending direction; rev: of the other one.
        seq, ack, flags, window: raw header fields (window unscaled).
        seglen: TCP payload length from the IP header.
        ts: capture timestamp in ns.
    """
    ta = 0
    fnext = fwd.nextseq
    ctl = flags & (SYN | FIN | RST)

    # ZERO WINDOW PROBE (skips the other checks of this direction)
    if seglen == 1 and seq == fnext and rev.window == 0:
        ta = ZERO_WINDOW_PROBE
    else:
        # LOST SEGMENT (previous segment not captured), not for RST
        if seq != fnext and fnext and not flags & RST and 0 < ((seq - fnext) & M32) <= HALF:
            ta = LOST_SEGMENT
        if not ctl:
            if window == 0:
                ta |= ZERO_WINDOW
            if seglen == 0:
                if seq == fnext:
                    if ack == fwd.lastack:
                        if window:
                            if window != fwd.window:
                                ta |= WINDOW_UPDATE
                            elif rev.lastsegmentflags & KEEP_ALIVE:
                                ta |= KEEP_ALIVE_ACK
                            else:
                                # DUPLICATE ACK
                                fwd.dupacknum += 1
                                ta |= DUPLICATE_ACK
                        elif fwd.window == 0 and rev.lastsegmentflags & ZERO_WINDOW_PROBE:
                            ta |= ZERO_WINDOW_PROBE_ACK
                elif seq == ((fnext - 1) & M32):
                    ta |= KEEP_ALIVE
            else:
                if seglen == 1 and seq == ((fnext - 1) & M32):
                    ta |= KEEP_ALIVE
                # WINDOW FULL
                ws = rev.win_scale
                if ws != -1:
                    shift = 0 if (ws == -2 or rev.is_first_ack) else ws
                    if ((seq + seglen) & M32) == ((rev.lastack + ((rev.window << shift) & M32)) & M32):
                        ta |= WINDOW_FULL

    # finished_fwd: a new ACK value resets the duplicate-ACK counter
    if ack != fwd.lastack:
        fwd.dupacknum = 0

    # ACKED LOST SEGMENT (ACKed unseen segment)
    if flags & ACK and rev.maxseqtobeacked and 0 < ((ack - rev.maxseqtobeacked) & M32) <= HALF:
        # tshark 4.0: "update 'max seq to be acked' in the other direction so we don't get this
        # indication again" -- to the other direction's next sequence number, not to this ACK
        rev.maxseqtobeacked = rev.nextseq
        ta |= ACK_LOST_SEGMENT

    # RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER / SPURIOUS
    if (seglen > 0 or flags & (SYN | FIN)) and not ta & KEEP_ALIVE:
        seq_not_advanced = fnext != 0 and 0 < ((fnext - seq) & M32) <= HALF
        if seglen > 1 and ((fnext - 1) & M32) == seq:
            seq_not_advanced = False
        rlast = rev.lastack
        if seglen > 0 and rlast and not (0 < (((seq + seglen) & M32) - rlast) & M32 <= HALF):
            ta |= SPURIOUS_RETRANSMISSION
        elif seq_not_advanced:
            # tshark 4.0 computes these deltas in an unsigned 64-bit integer: a negative one
            # (timestamps going backwards) is huge, never "recent"
            t = ts - rev.lastacktime
            if 0 <= t < FAST_RT_WINDOW_NS and rev.dupacknum >= 2 and rlast == seq:
                ta |= FAST_RETRANSMISSION
            else:
                ooo = c.ts_first_rtt if c.has_rtt else DEFAULT_OOO_NS
                ooo_flag = (0 <= ts - fwd.nextseqtime < ooo
                            and fnext != ((seq + seglen + (1 if flags & (SYN | FIN) else 0)) & M32))
                ta |= OUT_OF_ORDER if ooo_flag else RETRANSMISSION

    # remember the segment until it is acknowledged
    nextseq = (seq + seglen) & M32
    if seglen or flags & (SYN | FIN):
        if flags & (SYN | FIN):
            nextseq = (nextseq + 1) & M32
        if len(fwd.segments) < MAX_UNACKED * 4:
            fwd.segments.extend((seq, nextseq, ts, 1 if ta & ANY_RETRANSMISSION else 0))
    if not fnext or 0 < ((nextseq - fnext) & M32) <= HALF:
        if not ta & ZERO_WINDOW_PROBE:
            fwd.nextseq = nextseq
            fwd.nextseqtime = ts
    if seq == fwd.maxseqtobeacked or not fwd.maxseqtobeacked:
        if not ta & ZERO_WINDOW_PROBE:
            fwd.maxseqtobeacked = fwd.nextseq

    fwd.window = window
    fwd.lastack = ack
    fwd.lastacktime = ts
    fwd.lastsegmentflags = ta

    # forget the other direction's segments this ACK covers (oldest first)
    segs = rev.segments
    if segs:
        k = 0
        end = len(segs)
        while k < end:
            nxt = segs[k + 1]
            if ack == nxt:
                c.acked = True
                if not segs[k + 3] and flags & ACK:
                    # Karn's rule: only segments sent once give an RTT sample (RFC 6298 §3)
                    d = ts - segs[k + 2]
                    if rev.rtt_n == 0 or d < rev.rtt_min:
                        rev.rtt_min = d
                    if d > rev.rtt_max:
                        rev.rtt_max = d
                    rev.rtt_n += 1
                    rev.rtt_sum += d
            elif not (0 < ((ack - nxt) & M32) <= HALF):
                if 0 < ((ack - segs[k]) & M32) <= HALF:
                    segs[k] = ack
                    c.acked = True
                break
            k += 4
        if k:
            del segs[:k]
    return ta
