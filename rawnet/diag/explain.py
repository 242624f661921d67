"""Explain a list of captured packets in plain language, one sentence per conversation (pure).

Used by ``scripts/capture-explain``. TCP conversations are keyed by their canonical 4-tuple; the
client is whoever sent the first SYN. ICMP errors are attached to the conversation they quote
(RFC 792 / RFC 4443 quote the invoking header), so a firewall's REJECT is named as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..packet.stack import Packet

__all__ = ["Conversation", "explain_packets"]


@dataclass
class Conversation:
    """What one TCP, UDP or ICMP-echo conversation showed."""

    proto: str
    a: tuple[str, int]
    b: tuple[str, int]
    client: tuple[str, int] | None = None
    first_ns: int = 0
    last_ns: int = 0
    packets: int = 0
    syns: int = 0
    synacks: int = 0
    established: bool = False
    resets_from: set[str] = field(default_factory=set)
    fins: int = 0
    data_bytes: dict[str, int] = field(default_factory=dict)
    icmp_errors: list[str] = field(default_factory=list)
    echo_requests: int = 0
    echo_replies: int = 0

    def sentence(self) -> str:
        """Return what happened, in one sentence."""
        def hp(x: tuple[str, int]) -> str:
            return f"[{x[0]}]:{x[1]}" if ":" in x[0] else f"{x[0]}:{x[1]}"

        c = self.client or self.a
        s = self.b if c == self.a else self.a
        dur = (self.last_ns - self.first_ns) / 1e6
        head = f"{self.proto} {hp(c)} -> {hp(s)} ({self.packets} packets, {dur:.1f} ms): "
        if self.proto == "icmp":
            return (f"ping {self.a[0]} -> {self.b[0]}: {self.echo_requests} requests, {self.echo_replies} replies"
                    + (f"; errors: {', '.join(self.icmp_errors)}" if self.icmp_errors else ""))
        if self.icmp_errors:
            return head + f"rejected: {'; '.join(self.icmp_errors)}"
        if self.proto == "udp":
            return head + "datagrams " + ", ".join(f"{k}: {v} bytes" for k, v in self.data_bytes.items())
        if self.syns and not self.synacks:
            if self.resets_from:
                return head + f"refused: SYN answered by RST from {', '.join(sorted(self.resets_from))}"
            return head + (f"no answer to {self.syns} SYN{'s' if self.syns > 1 else ''} (dropped by a firewall, "
                           "or the host is down)")
        if not self.syns:
            return head + "already open when the capture started"
        data = ", ".join(f"{k} sent {v} bytes" for k, v in self.data_bytes.items()) or "no data"
        end = "closed with FIN" if self.fins else "still open"
        if self.resets_from:
            end = f"reset by {', '.join(sorted(self.resets_from))}"
        return head + f"connected ({data}); {end}"


def _key(p: Packet, proto: str, sport: int, dport: int) -> tuple[str, tuple[str, int], tuple[str, int]]:
    a, b = (p.src or "?", sport), (p.dst or "?", dport)
    return (proto, a, b) if a <= b else (proto, b, a)


def explain_packets(packets: list[tuple[int, Packet]]) -> list[Conversation]:
    """Return the conversations in ``packets`` ((ts_ns, Packet) in capture order), in order of first packet."""
    convs: dict[tuple[str, tuple[str, int], tuple[str, int]], Conversation] = {}

    def get(k: tuple[str, tuple[str, int], tuple[str, int]], ts: int) -> Conversation:
        c = convs.get(k)
        if c is None:
            c = convs[k] = Conversation(k[0], k[1], k[2], first_ns=ts)
        c.packets += 1
        c.last_ns = ts
        return c

    for ts, p in packets:
        t = p.transport
        if p.tcp is not None:
            tcp = p.tcp
            c = get(_key(p, "tcp", tcp.src_port, tcp.dst_port), ts)
            f = tcp.flags
            if f & 0x12 == 0x02:
                c.syns += 1
                c.client = c.client or (p.src or "?", tcp.src_port)
            elif f & 0x12 == 0x12:
                c.synacks += 1
            if f & 0x04:
                c.resets_from.add(p.src or "?")
            if f & 0x01:
                c.fins += 1
            n = p.payload_len or 0
            if n:
                c.data_bytes[p.src or "?"] = c.data_bytes.get(p.src or "?", 0) + n
        elif p.udp is not None:
            c = get(_key(p, "udp", p.udp.src_port, p.udp.dst_port), ts)
            c.client = c.client or (p.src or "?", p.udp.src_port)
            n = p.payload_len or 0
            c.data_bytes[p.src or "?"] = c.data_bytes.get(p.src or "?", 0) + n
        elif p.icmp is not None and p.icmp.is_echo:
            m = p.icmp
            c = get(_key(p, "icmp", m.identifier, m.identifier), ts)
            if m.type in (8, 128):
                c.echo_requests += 1
            else:
                c.echo_replies += 1
        elif p.icmp is not None and p.icmp.is_error and p.quoted is not None and p.quoted.network is not None:
            q = p.quoted
            qt = q.transport
            proto = {6: "tcp", 17: "udp"}.get(q.protocol or -1)
            text = f"ICMP {p.icmp.code_name or p.icmp.type_name} from {p.src}"
            if proto is not None and hasattr(qt, "src_port"):
                c = get(_key(q, proto, qt.src_port, qt.dst_port), ts)  # type: ignore[union-attr]
                c.client = c.client or (q.src or "?", qt.src_port)  # type: ignore[union-attr]
            elif isinstance(qt, type(p.icmp)) and qt.is_echo:
                c = get(_key(q, "icmp", qt.identifier, qt.identifier), ts)
            else:
                continue
            if text not in c.icmp_errors:
                c.icmp_errors.append(text)
        del t
    return sorted(convs.values(), key=lambda c: c.first_ns)
