"""Pairs replies with probes, and says for every packet it did not pair which rule failed (pure).

Theory of operation: every probe is indexed by the key its answer must carry, seen from the
answer's side: protocol, our address, the target's address, then our port and the target's port
(TCP/UDP) or the echo identifier and sequence (ICMP). A reply's key is read from its own headers,
an ICMP error's key from the header it quotes (RFC 792, RFC 4443 §2.4: the error carries as much
of the invoking packet as fits), so one dictionary lookup pairs everything. The rules after the
lookup are those of a TCP peer (RFC 9293 §3.10.7.3: a SYN/ACK or an RST|ACK must acknowledge our
SYN, ``ack == seq + 1``; a bare RST is accepted as scapy and nmap do; a SYN without ACK is a
simultaneous open, which nmap reports as open).

A packet that fails is not dropped silently: ``match()`` returns a ``Mismatch`` naming the rule
(``MismatchRule``) and a sentence, e.g. that the reply came from another address than the probe
went to (NAT, anycast), that its ports are not swapped, that its ack is off by N, or that it is our
own packet - typically the RST our kernel sends when the target's SYN/ACK reaches a port no local
socket owns (the kernel never saw our crafted SYN). Such an RST goes *to* the target, so it never
answers a probe; a capture that sees both directions gets it explained instead of mis-paired.

Time is an argument: ``add_probe(probe, sent_ns)``, ``match(packet, ts_ns)``, ``expire(now_ns)``.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from ..packet.icmp import ICMPMessage
from ..packet.ipv4 import IPv4Header
from ..packet.stack import Packet, QuotedTCP, decode
from ..packet.tcp import TCPHeader
from ..packet.udp import UDPHeader

__all__ = ["Probe", "ReplyKind", "Match", "Mismatch", "MismatchRule", "ReplyMatcher"]

_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}
SYN, RST, ACK = 0x02, 0x04, 0x10


@dataclass(frozen=True, slots=True)
class Probe:
    """One packet we sent, described by what an answer must echo back."""

    proto: str
    """"tcp", "udp" or "icmp" (ICMPv6 for IPv6 addresses)."""
    src: str
    """Our source address."""
    dst: str
    """Target address."""
    sport: int = 0
    """Our source port (TCP/UDP)."""
    dport: int = 0
    """Target port (TCP/UDP)."""
    seq: int = 0
    """TCP sequence number of the SYN."""
    icmp_id: int = 0
    """ICMP echo identifier."""
    icmp_seq: int = 0
    """ICMP echo sequence number."""
    ttl: int = 64
    """TTL / hop limit it was sent with."""
    tag: int = 0
    """Caller's label (port index, hop number, attempt...)."""

    @property
    def version(self) -> int:
        """Return 6 for an IPv6 probe, else 4."""
        return 6 if ":" in self.dst else 4

    def key(self) -> tuple[int, bytes, bytes, int, int]:
        """Return the lookup key an answer must produce: (proto, ours, theirs, our id, their id)."""
        p = _PROTO[self.proto]
        ours, theirs = _packed(self.src), _packed(self.dst)
        if p == 1:
            return (1, ours, theirs, self.icmp_id, self.icmp_seq)
        return (p, ours, theirs, self.sport, self.dport)

    def describe(self) -> str:
        """Return a short description such as ``tcp 198.18.0.1:40000 > 198.18.0.2:80 seq 1``."""
        if self.proto == "icmp":
            return f"icmp echo {self.src} > {self.dst} id {self.icmp_id} seq {self.icmp_seq}"
        return f"{self.proto} {self.src}:{self.sport} > {self.dst}:{self.dport}" + (
            f" seq {self.seq}" if self.proto == "tcp" else "")


class ReplyKind(StrEnum):
    """What kind of answer paired with a probe."""

    SYN_ACK = "syn-ack"
    RESET = "reset"
    SYN = "syn"
    ICMP_ERROR = "icmp-error"
    ECHO_REPLY = "echo-reply"
    UDP_REPLY = "udp-response"


class MismatchRule(StrEnum):
    """Which rule a packet failed when it did not pair with a probe."""

    NOT_IP = "not-ip"
    OWN_PACKET = "own-packet"
    ADDRESS = "address"
    PORTS_NOT_SWAPPED = "ports-not-swapped"
    PORTS = "ports"
    ACK = "ack"
    QUOTED_SEQ = "quoted-seq"
    ICMP_ID = "icmp-id"
    ICMP_SEQ = "icmp-seq"
    NOT_AN_ANSWER = "not-an-answer"
    DUPLICATE = "duplicate"
    LATE = "late"
    UNRELATED = "unrelated"


@dataclass(frozen=True, slots=True)
class Match:
    """A reply paired with its probe."""

    probe: Probe
    """The probe answered."""
    decoded: Packet | None
    """The reply decoded, or None when it came by the fast path (``packet`` decodes ``raw`` on demand)."""
    kind: ReplyKind
    """What kind of answer it is."""
    sent_ns: int
    """When the probe was (last) sent."""
    ts_ns: int
    """When the reply arrived."""
    raw: bytes = b""
    """The reply's bytes from the IP header on (fast path), else empty."""

    @property
    def packet(self) -> Packet:
        """Return the reply as a Packet (decoded lazily on the fast path)."""
        if self.decoded is not None:
            return self.decoded
        return decode(self.raw, 101, strict=False)

    @property
    def rtt_ns(self) -> int:
        """Return the round-trip time in nanoseconds."""
        return self.ts_ns - self.sent_ns

    @property
    def reply_ttl(self) -> int | None:
        """Return the reply's TTL / hop limit."""
        if self.decoded is None:
            return self.raw[8] if self.raw[0] >> 4 == 4 else self.raw[7]
        net = self.decoded.network
        if net is None:
            return None
        return net.ttl if isinstance(net, IPv4Header) else net.hop_limit

    @property
    def sender(self) -> str | None:
        """Return the reply's source address (for an ICMP error, the router or host that sent it)."""
        if self.decoded is None:
            return _ip(self.raw[12:16] if self.raw[0] >> 4 == 4 else self.raw[8:24])
        net = self.decoded.network
        return None if net is None else _ip(net.src)

    @property
    def icmp(self) -> ICMPMessage | None:
        """Return the ICMP message of an ICMP answer, else None."""
        return self.packet.icmp


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A packet that did not pair, the rule it failed and why, in one sentence."""

    packet: Packet
    """The packet."""
    rule: MismatchRule
    """The rule that failed."""
    explanation: str
    """Why, in plain language."""
    probe: Probe | None = None
    """The nearest probe, when there is one."""


@dataclass
class _Entry:
    probe: Probe
    sent_ns: int


@dataclass
class ReplyMatcher:
    """Pairs replies with outstanding probes; ``timeout_ns`` after its last send a probe expires."""

    timeout_ns: int = 1_000_000_000
    """How long a probe waits for its answer."""
    outstanding: dict[tuple[int, bytes, bytes, int, int], _Entry] = field(default_factory=dict)
    answered: dict[tuple[int, bytes, bytes, int, int], _Entry] = field(default_factory=dict)
    expired: dict[tuple[int, bytes, bytes, int, int], _Entry] = field(default_factory=dict)
    _pairs: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    _ours: set[bytes] = field(default_factory=set)
    _theirs: set[bytes] = field(default_factory=set)

    def add_probe(self, probe: Probe, sent_ns: int, key: tuple[int, bytes, bytes, int, int] | None = None) -> None:
        """Record that ``probe`` was sent (again) at ``sent_ns`` (``key``: its precomputed ``probe.key()``)."""
        if key is None:
            key = probe.key()
        if self.expired:
            self.expired.pop(key, None)
        self.outstanding[key] = _Entry(probe, sent_ns)
        pair = (key[1], key[2])
        if pair not in self._pairs:
            self._pairs[pair] = 1
            self._ours.add(key[1])
            self._theirs.add(key[2])

    def next_deadline(self) -> int | None:
        """Return when the next outstanding probe expires, or None when none is outstanding."""
        if not self.outstanding:
            return None
        return min(e.sent_ns for e in self.outstanding.values()) + self.timeout_ns

    def expire(self, now_ns: int) -> list[Probe]:
        """Return (and stop waiting for) the probes whose timeout passed by ``now_ns``."""
        gone = [k for k, e in self.outstanding.items() if e.sent_ns + self.timeout_ns <= now_ns]
        out = []
        for k in gone:
            e = self.outstanding.pop(k)
            self.expired[k] = e
            out.append(e.probe)
        return out

    # ------------------------------------------------------------------------------------- matching

    def match(self, packet: Packet, ts_ns: int) -> Match | Mismatch:
        """Return the Match for ``packet`` arriving at ``ts_ns``, or a Mismatch saying which rule failed."""
        net = packet.network
        if net is None:
            return Mismatch(packet, MismatchRule.NOT_IP, "not an IP packet")
        src, dst = net.src, net.dst
        t = packet.transport
        if isinstance(t, ICMPMessage) and t.is_error:
            return self._match_error(packet, t, ts_ns)
        if isinstance(t, TCPHeader):
            return self._match_tcp(packet, t, src, dst, ts_ns)
        if isinstance(t, UDPHeader):
            key = (17, dst, src, t.dst_port, t.src_port)
            return (self._pair(packet, key, ReplyKind.UDP_REPLY, ts_ns) or self._own(packet, src, dst)
                    or self._explain_ports(packet, 17, src, dst, t.src_port, t.dst_port))
        if isinstance(t, ICMPMessage):
            return self._match_echo(packet, t, src, dst, ts_ns)
        return Mismatch(packet, MismatchRule.UNRELATED, f"protocol {packet.protocol} is never an answer to a probe")

    def match_raw(self, data: bytes, ts_ns: int) -> Match | Mismatch:
        """Return ``match(decode(data, LINKTYPE_RAW), ts_ns)``, parsing a plain TCP answer without the full codec.

        The fast path covers an IPv4 header without options or an IPv6 header without extension
        headers, carrying a TCP SYN/ACK or RST that answers an outstanding probe; its Match holds a
        Packet with the IP and TCP headers only (no options, no payload). Everything else goes
        through ``decode`` and ``match``.
        """
        n = len(data)
        if n >= 40 and data[0] == 0x45 and data[9] == 6 and not (data[6] & 0x3F or data[7]):
            src, dst, sp, dp, _seq, ack, _off, flags = _V4.unpack_from(data, 12)
        elif n >= 60 and data[0] >> 4 == 6 and data[6] == 6:
            src, dst, sp, dp, _seq, ack, _off, flags = _V6.unpack_from(data, 8)
        else:
            return self.match(decode(data, 101, strict=False), ts_ns)
        key = (6, dst, src, dp, sp)
        e = self.outstanding.get(key)
        if e is None or not flags & (RST | SYN) or (flags & ACK and ack != (e.probe.seq + 1) & 0xFFFFFFFF):
            return self.match(decode(data, 101, strict=False), ts_ns)
        kind = ReplyKind.RESET if flags & RST else ReplyKind.SYN_ACK if flags & ACK else ReplyKind.SYN
        del self.outstanding[key]
        self.answered[key] = e
        return Match(e.probe, None, kind, e.sent_ns, ts_ns, bytes(data))

    def _own(self, packet: Packet, src: bytes, dst: bytes) -> Mismatch | None:
        if not (src in self._ours and dst in self._theirs and (src, dst) in self._pairs):
            return None
        t = packet.transport
        what = "packet"
        if isinstance(t, TCPHeader) and t.flags & RST:
            what = ("RST (our kernel answering the target's SYN/ACK: no local socket owns the probe's "
                    "source port, because rawnet, not the kernel, sent the SYN)")
        elif isinstance(t, TCPHeader) and t.flags & SYN:
            what = "SYN (a probe)"
        elif isinstance(t, ICMPMessage) and t.is_echo:
            what = "echo request"
        return Mismatch(packet, MismatchRule.OWN_PACKET, f"sent by us, not a reply: our own {what}")

    def _pair(self, packet: Packet, key: tuple[int, bytes, bytes, int, int], kind: ReplyKind,
              ts_ns: int) -> Match | Mismatch | None:
        e = self.outstanding.pop(key, None)
        if e is not None:
            self.answered[key] = e
            return Match(e.probe, packet, kind, e.sent_ns, ts_ns)
        e = self.answered.get(key)
        if e is not None:
            return Mismatch(packet, MismatchRule.DUPLICATE, f"{e.probe.describe()} was already answered; "
                            "this is a second answer (retransmission or duplicate)", e.probe)
        e = self.expired.get(key)
        if e is not None:
            late = (ts_ns - e.sent_ns) / 1e6
            return Mismatch(packet, MismatchRule.LATE, f"answers {e.probe.describe()} but arrived {late:.1f} ms "
                            f"after it, past the {self.timeout_ns / 1e6:.0f} ms timeout", e.probe)
        return None

    def _lookup(self, key: tuple[int, bytes, bytes, int, int]) -> _Entry | None:
        return self.outstanding.get(key) or self.answered.get(key) or self.expired.get(key)

    def _match_tcp(self, packet: Packet, t: TCPHeader, src: bytes, dst: bytes, ts_ns: int) -> Match | Mismatch:
        key = (6, dst, src, t.dst_port, t.src_port)
        e = self.outstanding.get(key)
        if e is None:
            r = self._pair(packet, key, ReplyKind.SYN_ACK, ts_ns)
            if r is not None:
                return r
            return self._own(packet, src, dst) or self._explain_ports(packet, 6, src, dst, t.src_port, t.dst_port)
        want = (e.probe.seq + 1) & 0xFFFFFFFF
        flags = t.flags
        if flags & RST:
            if flags & ACK and t.ack != want:
                return Mismatch(packet, MismatchRule.ACK, f"RST acknowledges {t.ack}, but our SYN had seq "
                                f"{e.probe.seq} so it must acknowledge {want} (off by {(t.ack - want) & 0xFFFFFFFF})",
                                e.probe)
            kind = ReplyKind.RESET
        elif flags & SYN and flags & ACK:
            if t.ack != want:
                return Mismatch(packet, MismatchRule.ACK, f"SYN/ACK acknowledges {t.ack}, but our SYN had seq "
                                f"{e.probe.seq} so it must acknowledge {want} (off by {(t.ack - want) & 0xFFFFFFFF})",
                                e.probe)
            kind = ReplyKind.SYN_ACK
        elif flags & SYN:
            kind = ReplyKind.SYN  # simultaneous open / split handshake: nmap calls the port open
        else:
            return Mismatch(packet, MismatchRule.NOT_AN_ANSWER, f"flags {'|'.join(t.flag_names) or 'none'} never "
                            "answer a SYN (expected SYN/ACK, RST or SYN)", e.probe)
        r = self._pair(packet, key, kind, ts_ns)
        assert r is not None
        return r

    def _explain_ports(self, packet: Packet, proto: int, src: bytes, dst: bytes, sport: int,
                       dport: int) -> Mismatch:
        name = {6: "tcp", 17: "udp"}[proto]
        srct, dstt = _ip(src), _ip(dst)
        if (dst, src) not in self._pairs:
            same_ports = self._lookup_by_ports(proto, dport, sport)
            if same_ports is not None:
                return Mismatch(packet, MismatchRule.ADDRESS, f"ports {sport}>{dport} answer "
                                f"{same_ports.describe()}, but the reply comes from {srct}, not {same_ports.dst} "
                                "(NAT, anycast or a load balancer answering for it?)", same_ports)
            return Mismatch(packet, MismatchRule.UNRELATED, f"no probe went from {dstt} to {srct}")
        unswapped = self._lookup((proto, dst, src, sport, dport))
        if unswapped is not None:
            return Mismatch(packet, MismatchRule.PORTS_NOT_SWAPPED, f"ports {sport}>{dport} are the probe's own, "
                            f"not swapped (an answer to {unswapped.probe.describe()} must go "
                            f"{unswapped.probe.dport}>{unswapped.probe.sport})", unswapped.probe)
        near = self._lookup_by_ports(proto, dport, None)
        if near is not None:
            return Mismatch(packet, MismatchRule.PORTS, f"{name} reply from port {sport} matches no probed port "
                            f"(probes from port {dport} went to other ports)", near)
        return Mismatch(packet, MismatchRule.PORTS, f"{name} {srct}:{sport} > {dstt}:{dport}: no probe used "
                        f"source port {dport}")

    def _lookup_by_ports(self, proto: int, ours: int, theirs: int | None) -> Probe | None:
        for table in (self.outstanding, self.answered, self.expired):
            for k, e in table.items():
                if k[0] == proto and k[3] == ours and (theirs is None or k[4] == theirs):
                    return e.probe
        return None

    def _match_echo(self, packet: Packet, t: ICMPMessage, src: bytes, dst: bytes, ts_ns: int) -> Match | Mismatch:
        reply_type = 129 if t.version == 6 else 0
        if t.type != reply_type:
            own = self._own(packet, src, dst)
            if own is not None:
                return own
            if t.version == 6 and 133 <= t.type <= 137:
                return Mismatch(packet, MismatchRule.UNRELATED, f"ICMPv6 {t.type_name} is neighbour discovery "
                                "(RFC 4861), never an answer to a probe")
            return Mismatch(packet, MismatchRule.NOT_AN_ANSWER, f"ICMP {t.type_name} is not an echo reply or an "
                            "error quoting a probe")
        key = (1, dst, src, t.identifier, t.sequence)
        r = self._pair(packet, key, ReplyKind.ECHO_REPLY, ts_ns)
        if r is not None:
            return r
        same_id = [e.probe for table in (self.outstanding, self.answered, self.expired) for k, e in table.items()
                   if k[0] == 1 and k[3] == t.identifier]
        if not same_id:
            ids = sorted({k[3] for k in self.outstanding if k[0] == 1})
            return Mismatch(packet, MismatchRule.ICMP_ID, f"echo reply id {t.identifier} is not ours "
                            f"(our probes use id {', '.join(map(str, ids)) or 'none outstanding'}; another ping?)")
        with_seq = [p for p in same_id if p.icmp_seq == t.sequence]
        if not with_seq:
            return Mismatch(packet, MismatchRule.ICMP_SEQ, f"echo reply seq {t.sequence} was never sent with id "
                            f"{t.identifier}", same_id[0])
        p = with_seq[0]
        return Mismatch(packet, MismatchRule.ADDRESS, f"echo reply id {t.identifier} seq {t.sequence} comes from "
                        f"{_ip(src)}, but the probe went to {p.dst}", p)

    def _match_error(self, packet: Packet, t: ICMPMessage, ts_ns: int) -> Match | Mismatch:
        q = packet.quoted
        sender = _ip(packet.network.src) if packet.network is not None else "?"
        what = f"ICMP {t.type_name}" + (f" {t.code_name}" if t.code_name else "") + f" from {sender}"
        if q is None or q.network is None:
            return Mismatch(packet, MismatchRule.UNRELATED, f"{what} quotes no IP header")
        qs, qd = q.network.src, q.network.dst
        qt = q.transport
        key: tuple[int, bytes, bytes, int, int]
        if isinstance(qt, (TCPHeader, QuotedTCP)):
            key = (6, qs, qd, qt.src_port, qt.dst_port)
        elif isinstance(qt, UDPHeader):
            key = (17, qs, qd, qt.src_port, qt.dst_port)
        elif isinstance(qt, ICMPMessage) and qt.is_echo:
            key = (1, qs, qd, qt.identifier, qt.sequence)
        else:
            return Mismatch(packet, MismatchRule.UNRELATED, f"{what} quotes protocol {q.protocol}, never probed")
        e = self.outstanding.get(key)
        if e is not None and isinstance(qt, (TCPHeader, QuotedTCP)) and qt.seq != e.probe.seq:
            return Mismatch(packet, MismatchRule.QUOTED_SEQ, f"{what} quotes our ports but seq {qt.seq}, not the "
                            f"probe's {e.probe.seq}", e.probe)
        r = self._pair(packet, key, ReplyKind.ICMP_ERROR, ts_ns)
        if r is not None:
            return r
        if (qs, qd) not in self._pairs:
            return Mismatch(packet, MismatchRule.UNRELATED, f"{what} quotes a packet {_ip(qs)} > {_ip(qd)} that we "
                            "did not send")
        return Mismatch(packet, MismatchRule.PORTS, f"{what} quotes ports/ids {key[3]}>{key[4]} of no probe")


@lru_cache(maxsize=1024)
def _packed(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


_V4 = struct.Struct("!4s4sHHIIBB")   # from byte 12: addresses, then the TCP header (20-byte IPv4 header)
_V6 = struct.Struct("!16s16sHHIIBB")  # from byte 8: addresses, then the TCP header (no extension headers)


@lru_cache(maxsize=4096)
def _ip(b: bytes) -> str:
    return str(ipaddress.ip_address(b))
