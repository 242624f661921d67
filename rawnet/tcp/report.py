"""Per-connection TCP reports: what happened to a connection and whose fault it was, as data.

``connection_report`` joins the tracker's flow keys, the endpoints and the state timeline into one
JSON-ready dict (the ``rawnet pcap tcp --json`` record); ``format_report`` renders it as text;
``ladder_data`` turns a connection's packets into rows for the ladder diagram (rawnet.render.ladder).
Pure: takes flows, the tracker and decoded packets, returns dicts, dataclasses and strings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..packet.tcp import flag_names

__all__ = ["Ladder", "LadderRow", "connection_report", "format_report", "ladder_data"]


def _addr(a: bytes) -> str:
    return str(ipaddress.ip_address(a))


def _ep(addr: bytes, port: int | None) -> str:
    a = _addr(addr)
    return f"[{a}]:{port}" if ":" in a else f"{a}:{port}"


def connection_report(flow: Any, tracker: Any, index: int | None = None) -> dict[str, Any]:
    """Return the JSON-ready report of one TCP flow: endpoints, flow keys and ``timeline``."""
    rec: dict[str, Any] = {
        "conn": index,
        "client": _addr(flow.a_addr), "client_port": flow.a_port,
        "server": _addr(flow.b_addr), "server_port": flow.b_port,
        "first_ts_ns": flow.first_ts_ns, "last_ts_ns": flow.last_ts_ns,
        "packets_client": flow.packets_fwd, "packets_server": flow.packets_rev,
        "bytes_client": flow.bytes_fwd, "bytes_server": flow.bytes_rev,
    }
    rec.update(tracker.flow_keys(flow))
    rec["timeline"] = tracker.timeline(flow)
    return rec


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.3f} ms"


def _ending(rec: dict[str, Any]) -> str:
    if rec.get("refused"):
        return "refused: the server answered the SYN with RST/ACK"
    icmp = rec.get("icmp_error")
    if icmp and rec.get("client_state") == "CLOSED" and rec.get("close") is None:
        return (f"failed: ICMP{'v6' if icmp.get('version') == 6 else ''} {icmp.get('name', 'error')} "
                f"(type {icmp['type']} code {icmp['code']}) from {icmp['sender']} (packet {icmp['packet']})")
    if rec.get("close") == "fin":
        return f"closed with FIN, {rec['closed_by']} first"
    if rec.get("close") == "rst":
        return f"reset by the {rec['closed_by']}"
    if rec.get("conn_state") == "S0":
        return "no answer to the SYN"
    return "still open at the end of the capture"


def format_report(rec: dict[str, Any]) -> str:
    """Return the text report of one connection (the ``rawnet pcap tcp`` block)."""
    c = _ep(ipaddress.ip_address(rec["client"]).packed, rec["client_port"])
    s = _ep(ipaddress.ip_address(rec["server"]).packed, rec["server_port"])
    lines = [f"conn {rec['conn']}: {c} -> {s}   conn_state {rec['conn_state']}  history {rec['history'] or '-'}"]
    lines.append(f"  packets  client {rec['packets_client']} ({rec['bytes_client']} B), "
                 f"server {rec['packets_server']} ({rec['bytes_server']} B)")
    hs = [f"iRTT {_ms(rec['irtt_ns'])}"]
    if rec.get("syn_to_synack_ns") is not None:
        hs.append(f"SYN->SYN/ACK {_ms(rec['syn_to_synack_ns'])}")
    if rec.get("synack_to_ack_ns") is not None:
        hs.append(f"SYN/ACK->ACK {_ms(rec['synack_to_ack_ns'])}")
    hs.append(f"SYN retransmissions {rec['syn_retransmissions']}, SYN/ACK {rec['synack_retransmissions']}")
    if rec.get("tfo_data_bytes"):
        hs.append(f"TFO data {rec['tfo_data_bytes']} B")
    lines.append("  handshake  " + ", ".join(hs))
    lines.append(f"  ended  {_ending(rec)}; final states: client {rec['client_state']}, "
                 f"server {rec['server_state']}")
    lines.append(f"  retransmissions {rec['retransmissions']} packets "
                 f"(client {rec['retransmitted_bytes_client']} B, server {rec['retransmitted_bytes_server']} B, "
                 f"{rec['retransmitted_bytes_unneeded']} B already acknowledged or SACKed)")
    if rec.get("rtt_samples"):
        lines.append(f"  RTT (Karn)  {rec['rtt_samples']} samples, min {_ms(rec['rtt_min_ns'])}, "
                     f"avg {_ms(rec['rtt_avg_ns'])}, max {_ms(rec['rtt_max_ns'])}")
    if rec.get("anomalies"):
        lines.append("  anomalies  " + ", ".join(rec["anomalies"]))
    if rec.get("icmp_error") and not rec.get("refused"):
        i = rec["icmp_error"]
        lines.append(f"  ICMP error  {i.get('name', '')} (type {i['type']} code {i['code']}) from {i['sender']} "
                     f"at packet {i['packet']}")
    t0 = rec["first_ts_ns"]
    lines.append("  timeline")
    for t in rec["timeline"]:
        how = "sent" if t["seen"] else "inferred"
        lines.append(f"    #{t['packet']:<6} {(t['ts_ns'] - t0) / 1e6:>10.3f} ms  {t['endpoint']:<6} "
                     f"{t['state']:<13} ({how})")
    return "\n".join(lines)


@dataclass(slots=True)
class LadderRow:
    """One arrow of a ladder diagram."""

    n: int
    """Packet number."""
    ts_ns: int
    """Timestamp."""
    to_server: bool
    """Direction: client -> server when True."""
    flags: str
    """Flag names joined with commas ("SYN,ACK")."""
    seq: int
    """Sequence number relative to the sender's first one."""
    ack: int | None
    """Acknowledgment number relative to the receiver's first sequence number (None without ACK)."""
    length: int
    """Payload length."""
    analysis: list[str]
    """tshark analysis names."""
    client_state: str
    """Client's state after this packet."""
    server_state: str
    """Server's state after this packet."""
    client_changed: bool = False
    """The client's state changed at this packet."""
    server_changed: bool = False
    """The server's state changed at this packet."""


@dataclass(slots=True)
class Ladder:
    """Everything a ladder diagram shows."""

    client: str
    """Client endpoint text."""
    server: str
    """Server endpoint text."""
    title: str
    """Header line (conn number, conn_state, how it ended)."""
    rows: list[LadderRow] = field(default_factory=list)
    """One per packet, in capture order."""
    notes: list[str] = field(default_factory=list)
    """Packets of the connection that are not TCP segments (ICMP errors)."""


def ladder_data(items: list[Any], flow: Any, tracker: Any, index: int | None = None) -> Ladder:
    """Return the Ladder of one connection from its PacketItems (n, ts_ns, packet, analysis)."""
    rec = tracker.flow_keys(flow)
    tl = tracker.timeline(flow)
    by_packet: dict[int, list[dict[str, Any]]] = {}
    for t in tl:
        by_packet.setdefault(t["packet"], []).append(t)
    lad = Ladder(_ep(flow.a_addr, flow.a_port), _ep(flow.b_addr, flow.b_port),
                 f"conn {index}: conn_state {rec['conn_state']}, history {rec['history'] or '-'}, "
                 f"{_ending(rec)}")
    base: dict[bool, int | None] = {True: None, False: None}
    cs, ss = "UNKNOWN", "UNKNOWN"
    applied: set[int] = set()
    for it in items:
        p = it.packet
        t = p.tcp
        if t is None:
            icmp = p.icmp
            if icmp is not None:
                lad.notes.append(f"#{it.n}: ICMP type {icmp.type} code {icmp.code} from {p.src}")
            continue
        to_server = p.network.src == flow.a_addr and t.src_port == flow.a_port
        if base[to_server] is None:
            base[to_server] = t.seq if t.flags & 0x02 else (t.seq - 1) & 0xFFFFFFFF
        other = base[not to_server]
        if other is None and t.flags & 0x10:
            other = base[not to_server] = (t.ack - 1) & 0xFFFFFFFF
        seq = (t.seq - (base[to_server] or 0)) & 0xFFFFFFFF
        ack = (t.ack - other) & 0xFFFFFFFF if (t.flags & 0x10 and other is not None) else None
        cc = sc = False
        for n in sorted(k for k in by_packet if k <= it.n and k not in applied):
            applied.add(n)
            for tr in by_packet[n]:
                if tr["endpoint"] == "client":
                    cs, cc = tr["state"], True
                else:
                    ss, sc = tr["state"], True
        ln = p.payload_len or 0
        lad.rows.append(LadderRow(it.n, it.ts_ns, to_server, ",".join(flag_names(t.flags)), seq, ack, ln,
                                  list(it.analysis or []), cs, ss, cc, sc))
    return lad
