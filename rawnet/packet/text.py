"""One-line and layered text views of a Packet (tcpdump -nn style)."""

from __future__ import annotations

from .icmp import ICMPMessage
from .ipv4 import IPv4Header
from .link import EthernetHeader, NullHeader, SLL2Header, SLLHeader
from .stack import Packet, QuotedTCP
from .tcp import (EOLOption, FastOpenOption, MSSOption, NOPOption, SACKOption, SACKPermittedOption, TCPHeader,
                  TCPOption, TimestampsOption, UnknownOption, WindowScaleOption)
from .udp import UDPHeader

__all__ = ["summarize", "layered", "format_mac", "option_text"]

_TCPDUMP_FLAGS = (("SYN", "S"), ("FIN", "F"), ("PSH", "P"), ("RST", "R"), ("URG", "U"), ("ECE", "E"),
                  ("CWR", "W"), ("AE", "N"))


def format_mac(mac: bytes) -> str:
    """Return a MAC address as aa:bb:cc:dd:ee:ff."""
    return ":".join(f"{b:02x}" for b in mac)


def _addr(ip: str | None, port: int | None, v6: bool) -> str:
    if port is None:
        return ip or "?"
    return f"{ip}.{port}"


def option_text(opt: TCPOption) -> str:
    """Return a tcpdump-like rendering of one TCP option."""
    if isinstance(opt, MSSOption):
        return f"mss {opt.mss}"
    if isinstance(opt, WindowScaleOption):
        return f"wscale {opt.shift}"
    if isinstance(opt, SACKPermittedOption):
        return "sackOK"
    if isinstance(opt, SACKOption):
        return "sack " + " ".join(f"{{{a}:{b}}}" for a, b in opt.blocks)
    if isinstance(opt, TimestampsOption):
        return f"TS val {opt.tsval} ecr {opt.tsecr}"
    if isinstance(opt, NOPOption):
        return "nop"
    if isinstance(opt, EOLOption):
        return "eol"
    if isinstance(opt, FastOpenOption):
        return f"tfo cookie {opt.cookie.hex()}" if opt.cookie else "tfo cookiereq"
    if isinstance(opt, UnknownOption):
        return f"opt-{opt.kind}:{opt.data.hex()}"
    return repr(opt)


def summarize(p: Packet) -> str:
    """Return one line describing ``p`` like ``tcpdump -nn``."""
    net = p.network
    if net is None:
        base = f"link type {p.linktype}, {len(p.payload)} bytes undecoded"
        if isinstance(p.link, EthernetHeader):
            base = f"ethertype 0x{p.link.ethertype:04x}, {len(p.payload)} bytes"
        return base + (f" [{p.error}]" if p.error else "")
    v6 = net.version == 6
    ipname = "IP6" if v6 else "IP"
    t = p.transport
    sport = getattr(t, "src_port", None)
    dport = getattr(t, "dst_port", None)
    head = f"{ipname} {_addr(p.src, sport, v6)} > {_addr(p.dst, dport, v6)}:"
    if isinstance(t, TCPHeader):
        letters = "".join(ch for name, ch in _TCPDUMP_FLAGS if name in t.flag_names)
        if t.flags & 0x10:
            letters += "."
        parts = [f"Flags [{letters or 'none'}]", f"seq {t.seq}"]
        if t.flags & 0x10:
            parts.append(f"ack {t.ack}")
        parts.append(f"win {t.window}")
        opts = [option_text(o) for o in t.options if not isinstance(o, EOLOption)]
        if opts:
            parts.append("options [" + ",".join(opts) + "]")
        parts.append(f"length {p.payload_len}")
        line = f"{head} " + ", ".join(parts)
    elif isinstance(t, UDPHeader):
        line = f"{head} UDP, length {p.payload_len}"
    elif isinstance(t, ICMPMessage):
        line = f"{head} {'ICMP6' if v6 else 'ICMP'} {t.type_name}"
        if t.is_echo:
            line += f", id {t.identifier}, seq {t.sequence}, length {len(t.body) + 8}"
        elif t.code_name:
            line += f" {t.code_name}"
        elif t.is_error:
            line += f" code {t.code}"
        if p.quoted is not None and p.quoted.network is not None:
            q = p.quoted
            qt = q.transport
            qproto = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(q.protocol or -1, str(q.protocol))
            line += (f" (quoting {qproto} {_addr(q.src, getattr(qt, 'src_port', None), v6)} > "
                     f"{_addr(q.dst, getattr(qt, 'dst_port', None), v6)})")
    else:
        proto = p.protocol
        line = f"{head} proto {proto}, length {p.ip_payload_length}"
        if p.is_fragment:
            off = net.fragment_offset * 8 if isinstance(net, IPv4Header) else (net.fragment.fragment_offset * 8
                                                                               if net.fragment else 0)
            line = f"{head} fragment (offset {off}), proto {proto}, length {p.ip_payload_length}"
    if p.checksum_ok is False or p.ip_checksum_ok is False:
        line += " [bad checksum]"
    if p.error is not None:
        line += f" [{p.error}]"
    return line


def layered(p: Packet) -> str:
    """Return a multi-line, one-layer-per-line view of ``p``."""
    lines: list[str] = []
    link = p.link
    if isinstance(link, EthernetHeader):
        s = f"Ethernet  {format_mac(link.src)} > {format_mac(link.dst)} type 0x{link.ethertype:04x}"
        for tag in link.vlans:
            s += f"  vlan {tag.vid} pcp {tag.pcp} (tpid 0x{tag.tpid:04x})"
        lines.append(s)
    elif isinstance(link, (SLLHeader, SLL2Header)):
        name = "SLL" if isinstance(link, SLLHeader) else "SLL2"
        lines.append(f"{name:<9} packet type {link.packet_type} arphrd {link.arphrd_type} "
                     f"addr {format_mac(link.address[:link.address_length])} proto 0x{link.protocol:04x}")
    elif isinstance(link, NullHeader):
        lines.append(f"Null      family {link.family} ({link.byte_order}-endian)")
    net = p.network
    ok = {True: "ok", False: "BAD", None: "unchecked"}
    if isinstance(net, IPv4Header):
        flags = "".join(n for n, b in (("DF", 2), ("MF", 1), ("RB", 4)) if net.flags & b) or "none"
        lines.append(f"IPv4      {p.src} > {p.dst} ttl {net.ttl} id {net.identification} flags {flags} "
                     f"frag {net.fragment_offset * 8} proto {net.protocol} len {net.total_length} "
                     f"dscp {net.dscp} ecn {net.ecn} checksum 0x{net.checksum or 0:04x} ({ok[p.ip_checksum_ok]})"
                     + (f" options {net.options.hex()}" if net.options else ""))
    elif net is not None:
        exts = ",".join(str(e.kind) for e in net.extensions)
        lines.append(f"IPv6      {p.src} > {p.dst} hlim {net.hop_limit} next {net.next_header} "
                     f"plen {net.payload_length} tc {net.traffic_class} flow 0x{net.flow_label:05x}"
                     + (f" ext [{exts}]" if exts else "") + (f" jumbo {net.jumbo_length}" if net.jumbo_length else ""))
    t = p.transport
    if isinstance(t, TCPHeader):
        lines.append(f"TCP       {t.src_port} > {t.dst_port} [{','.join(t.flag_names) or 'none'}] seq {t.seq} "
                     f"ack {t.ack} win {t.window} urg {t.urgent_pointer} hlen {t.header_length} "
                     f"checksum 0x{t.checksum or 0:04x} ({ok[p.checksum_ok]}) len {p.payload_len}")
        if t.options:
            lines.append("  options " + ", ".join(option_text(o) for o in t.options))
    elif isinstance(t, UDPHeader):
        lines.append(f"UDP       {t.src_port} > {t.dst_port} len {t.length} checksum 0x{t.checksum or 0:04x} "
                     f"({ok[p.checksum_ok]})")
    elif isinstance(t, ICMPMessage):
        name = "ICMPv6" if t.version == 6 else "ICMP"
        extra = f" id {t.identifier} seq {t.sequence}" if t.is_echo else ""
        if t.code_name:
            extra += f" ({t.code_name})"
        lines.append(f"{name:<9} type {t.type} ({t.type_name}) code {t.code}{extra} "
                     f"checksum 0x{t.checksum or 0:04x} ({ok[p.checksum_ok]})")
        if p.quoted is not None:
            for sub in layered(p.quoted).splitlines():
                lines.append("  quoted " + sub)
    elif isinstance(t, QuotedTCP):
        lines.append(f"TCP       {t.src_port} > {t.dst_port} seq {t.seq} (first 8 bytes)")
    if p.payload:
        lines.append(f"Payload   {len(p.payload)} bytes: {p.payload[:32].hex()}{'...' if len(p.payload) > 32 else ''}")
    if p.trailer:
        lines.append(f"Trailer   {len(p.trailer)} bytes")
    if p.error is not None:
        lines.append(f"Error     {p.error}")
    return "\n".join(lines)
