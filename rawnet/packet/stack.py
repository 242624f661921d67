"""The whole stack: ``decode(frame, linktype)`` -> Packet, and ``encode(packet)`` -> bytes.

Theory of operation: decode walks link -> network -> transport with literal dispatch tables
(no registry filled at import). Each layer records the header object; the bytes the walk did not
turn into headers stay in ``payload`` (the transport payload, or everything from the layer that
failed), and bytes after the IP datagram (Ethernet padding, FCS) stay in ``trailer``, so
``encode(decode(b)) == b`` for every packet, well formed or not. Strict mode raises the first
MalformedPacketError; lenient mode stores it in ``error`` and returns what decoded.
Checksums are verified, never "fixed": ``checksum_ok`` is True/False, or None when it cannot be
checked (payload cut by the snap length, a fragment, UDP over IPv4 with checksum 0).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from ..errors import BuildError, MalformedPacketError, TruncatedPacketError
from ._wire import fast_constructor, slot_twin
from .checksum import checksum_ok, transport_checksum_ok
from .icmp import ICMPMessage, build_icmp, parse_icmp
from .ipv4 import IPv4Header, build_ipv4, parse_ipv4
from .ipv6 import IPv6Header, build_ipv6, parse_ipv6
from .link import (ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetHeader, LinkType, NullHeader, SLL2Header, SLLHeader,
                   build_ethernet, build_null, build_sll, build_sll2, parse_ethernet, parse_null, parse_sll,
                   parse_sll2)
from .tcp import _NOP, _TS, TCPHeader, _new_ts, build_tcp, flag_names, parse_tcp, parse_tcp_options
from .udp import UDPHeader, build_udp, parse_udp

__all__ = ["Packet", "QuotedTCP", "decode", "encode", "PROTO_NAMES", "LinkHeader", "NetworkHeader",
           "TransportHeader"]

PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}

LinkHeader = EthernetHeader | SLLHeader | SLL2Header | NullHeader


@dataclass(frozen=True, slots=True)
class QuotedTCP:
    """The first 8 bytes of a TCP header quoted in an ICMP error (ports and sequence number only)."""

    src_port: int
    """Source port of the invoking segment."""
    dst_port: int
    """Destination port of the invoking segment."""
    seq: int
    """Sequence number of the invoking segment."""

    header_length = 8


NetworkHeader = IPv4Header | IPv6Header
TransportHeader = TCPHeader | UDPHeader | ICMPMessage | QuotedTCP


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet: the headers that decoded, what is left, and what went wrong."""

    link: LinkHeader | None = None
    """Link-layer header (None for raw IP)."""
    network: NetworkHeader | None = None
    """IPv4 or IPv6 header."""
    transport: TransportHeader | None = None
    """TCP, UDP or ICMP/ICMPv6 header (QuotedTCP inside an ICMP error's quote)."""
    payload: bytes = b""
    """Transport payload as captured, or the undecoded bytes from the layer that failed."""
    trailer: bytes = b""
    """Bytes after the IP datagram (Ethernet padding, FCS)."""
    linktype: int = 1
    """pcap link type the frame was decoded as."""
    error: MalformedPacketError | None = None
    """The decode error in lenient mode, else None."""
    checksum_ok: bool | None = None
    """Transport (TCP/UDP/ICMP) checksum verdict; None when not checkable."""
    ip_checksum_ok: bool | None = None
    """IPv4 header checksum verdict; None for IPv6 or when not decoded."""
    ip_payload_length: int | None = None
    """Length of the IP payload after extension headers, as the IP header states it."""
    quoted: Packet | None = None
    """The invoking packet quoted by an ICMP error, decoded leniently."""

    @property
    def ip_version(self) -> int | None:
        """Return 4, 6 or None."""
        return self.network.version if self.network is not None else None

    @property
    def protocol(self) -> int | None:
        """Return the IP protocol of the payload (after IPv6 extension headers), or None."""
        if isinstance(self.network, IPv4Header):
            return self.network.protocol
        if isinstance(self.network, IPv6Header):
            return self.network.upper_protocol
        return None

    @property
    def src(self) -> str | None:
        """Return the source IP address as text, or None."""
        return str(ipaddress.ip_address(self.network.src)) if self.network is not None else None

    @property
    def dst(self) -> str | None:
        """Return the destination IP address as text, or None."""
        return str(ipaddress.ip_address(self.network.dst)) if self.network is not None else None

    @property
    def tcp(self) -> TCPHeader | None:
        """Return the TCP header or None."""
        t = self.transport
        return t if type(t) is TCPHeader else None

    @property
    def udp(self) -> UDPHeader | None:
        """Return the UDP header or None."""
        return self.transport if isinstance(self.transport, UDPHeader) else None

    @property
    def icmp(self) -> ICMPMessage | None:
        """Return the ICMP/ICMPv6 message or None."""
        return self.transport if isinstance(self.transport, ICMPMessage) else None

    @property
    def payload_len(self) -> int | None:
        """Return the transport payload length from the headers' lengths (not the captured bytes)."""
        t = self.transport
        if t is None or self.ip_payload_length is None or isinstance(t, QuotedTCP):
            return None
        if isinstance(t, TCPHeader):
            return max(self.ip_payload_length - t.header_length, 0)
        return max(self.ip_payload_length - 8, 0)

    @property
    def is_fragment(self) -> bool:
        """Return True when the IP layer says this is a fragment."""
        return self.network is not None and self.network.is_fragment

    def summary(self) -> str:
        """Return a one-line, tcpdump -nn style description."""
        from .text import summarize

        return summarize(self)


# ----------------------------------------------------------------------------------------------- decode


def _link(data: bytes | memoryview, linktype: int) -> tuple[LinkHeader | None, int, int]:
    if linktype == 1:
        return parse_ethernet(data, 0)
    if linktype in (101, 12, 14):
        if not data:
            raise TruncatedPacketError("IP", 0, 1, 0)
        v = data[0] >> 4
        return None, 0, ETHERTYPE_IPV4 if v == 4 else ETHERTYPE_IPV6 if v == 6 else 0
    if linktype == 228:
        return None, 0, ETHERTYPE_IPV4
    if linktype == 229:
        return None, 0, ETHERTYPE_IPV6
    if linktype == 113:
        return parse_sll(data, 0)
    if linktype == 276:
        return parse_sll2(data, 0)
    if linktype in (0, 108):
        return parse_null(data, 0, loop=linktype == 108)
    raise MalformedPacketError("link", 0, f"link type {linktype} is not decoded by rawnet")


_new_packet = fast_constructor(Packet)
_new_ethernet = fast_constructor(EthernetHeader)
# Ethernet, IPv4 without options and the fixed TCP header, in one unpack
_ETH_IPV4_TCP = struct.Struct("!6s6sHBBHHHBBH4s4sHHIIHHHH")
_ETHERNET_SEEN: dict[bytes, EthernetHeader] = {}  # MAC pair -> untagged IPv4 EthernetHeader (bounded)
_new = object.__new__
_TCP_TWIN = slot_twin(TCPHeader)
_IPV4_TWIN = slot_twin(IPv4Header)
_PACKET_TWIN = slot_twin(Packet)
_FAST_PATH = None not in (_TCP_TWIN, _IPV4_TWIN, _PACKET_TWIN)


def _word_sum(b: bytes) -> int:
    """Return an integer congruent modulo 0xFFFF to the sum of the 16-bit words of ``b`` (zero-padded).

    A long payload is summed in four even-length pieces: the big integer that is then reduced
    modulo 0xFFFF is a quarter as long, and the reduction (one division per 30-bit digit) is the
    costliest step of verifying a full-size segment.
    """
    n = len(b)
    if n <= 512:
        v = int.from_bytes(b, "big")
        return v << 8 if n & 1 else v
    q = (n >> 3) << 1  # an even quarter
    last = int.from_bytes(b[3 * q:], "big")  # odd exactly when n is
    return (int.from_bytes(b[:q], "big") + int.from_bytes(b[q:2 * q], "big") + int.from_bytes(b[2 * q:3 * q], "big")
            + (last << 8 if n & 1 else last))


def _decode_ethernet_ipv4_tcp(data: bytes) -> Packet | None:
    """Return the Packet of an Ethernet / IPv4 (no options, not a fragment) / TCP frame, or None.

    The hot path of ``decode``: the same Packet the general walk builds, without its calls and
    checks, for frames that cannot fail. None (take the general walk) for anything else: another
    EtherType or IP header length, a frame shorter than the IP length says, total length 0 (TSO),
    fragments, or a TCP header that does not fit or has a malformed option.
    """
    n = len(data)
    if n < 54:
        return None
    (mac_dst, mac_src, etype, vihl, tos, total, ident, frag, ttl, proto, csum, src, dst,
     sport, dport, seq, ack, off_flags, window, tcsum, urg) = _ETH_IPV4_TCP.unpack_from(data)
    end = 14 + total
    if etype != 0x0800 or vihl != 0x45 or proto != 6 or frag & 0x3FFF or total < 40 or end > n:
        return None
    doff = off_flags >> 12
    hlen = doff * 4
    if doff < 5 or hlen > total - 20:
        return None
    if hlen == 32 and data[54:58] == b"\x01\x01\x08\x0a":  # NOP NOP TS: most segments of a Linux flow
        tsval, tsecr = _TS.unpack_from(data, 58)
        options = (_NOP, _NOP, _new_ts(tsval, tsecr, 8))
    elif hlen > 20:
        try:
            options = parse_tcp_options(data, 54, 34 + hlen)
        except MalformedPacketError:
            return None
    else:
        options = ()
    # checksums as in checksum.checksum_ok / transport_checksum_ok: the IPv4 source and destination
    # (bytes 26-33) sit right before the TCP header, so one integer covers the pseudo-header addresses
    # and the header, and the payload (the bytes the Packet keeps anyway) adds its own; 2**16 is 1
    # modulo 0xFFFF, so the sum modulo 0xFFFF is the one's complement sum
    payload = data[34 + hlen:end]
    if total > 532:
        psum = _word_sum(payload)
    else:
        psum = int.from_bytes(payload, "big")
        if total & 1:  # an odd segment is padded with a zero byte
            psum <<= 8
    tsum = int.from_bytes(data[26:34 + hlen], "big") + psum + 6 + total - 20
    # the header objects are filled through their slot twins (see _wire.slot_twin), inline: this
    # function runs once per packet of a capture
    tcp = _new(_TCP_TWIN)
    tcp.src_port = sport
    tcp.dst_port = dport
    tcp.seq = seq
    tcp.ack = ack
    tcp.flags = off_flags & 0x1FF
    tcp.window = window
    tcp.urgent_pointer = urg
    tcp.options = options
    tcp.reserved = (off_flags >> 9) & 7
    tcp.data_offset = doff
    tcp.checksum = tcsum
    tcp.__class__ = TCPHeader
    net = _new(_IPV4_TWIN)
    net.src = src
    net.dst = dst
    net.protocol = 6
    net.ttl = ttl
    net.identification = ident
    net.flags = frag >> 13
    net.fragment_offset = 0
    net.dscp = tos >> 2
    net.ecn = tos & 3
    net.options = b""
    net.version = 4
    net.ihl = 5
    net.total_length = total
    net.checksum = csum
    net.__class__ = IPv4Header
    link = _ETHERNET_SEEN.get(data[:12])
    if link is None:  # frames of a capture share a few MAC pairs: keep one (immutable) header per pair
        if len(_ETHERNET_SEEN) >= 4096:
            _ETHERNET_SEEN.clear()
        link = _ETHERNET_SEEN[data[:12]] = _new_ethernet(mac_dst, mac_src, 0x0800, ())
    p = _new(_PACKET_TWIN)
    p.link = link
    p.network = net
    p.transport = tcp
    p.payload = payload
    p.trailer = data[end:]
    p.linktype = 1
    p.error = None
    p.checksum_ok = tsum % 0xFFFF == 0
    p.ip_checksum_ok = int.from_bytes(data[14:34], "big") % 0xFFFF == 0
    p.ip_payload_length = total - 20
    p.quoted = None
    p.__class__ = Packet
    return p  # type: ignore[no-any-return]


def decode(data: bytes | bytearray | memoryview, linktype: int = LinkType.ETHERNET, *, strict: bool = True,
           _quoted: bool = False) -> Packet:
    """Return the decoded Packet of one frame of ``linktype``.

    Args:
        data: the frame bytes as captured.
        linktype: pcap link type (1 Ethernet, 101 raw IP, 113 SLL, 276 SLL2, 0/108 null, 228/229 raw v4/v6).
        strict: raise on the first malformed layer (True) or return what decoded with ``error`` set (False).

    Raises:
        MalformedPacketError: in strict mode, naming the layer and byte offset.
    """
    if type(data) is not bytes:
        data = bytes(data)
    if linktype == 1 and len(data) >= 54 and data[14] == 0x45 and _FAST_PATH and not _quoted:
        fast = _decode_ethernet_ipv4_tcp(data)
        if fast is not None:
            return fast
    link: LinkHeader | None = None
    network: NetworkHeader | None = None
    transport: TransportHeader | None = None
    pos = 0
    end = len(data)
    ip_ok: bool | None = None
    plen: int | None = None
    try:
        if _quoted:
            v = data[0] >> 4 if data else 0
            etype = ETHERTYPE_IPV4 if v == 4 else ETHERTYPE_IPV6 if v == 6 else 0
        elif linktype == 1:
            link, pos, etype = parse_ethernet(data, 0)
        else:
            link, pos, etype = _link(data, linktype)
        if etype == ETHERTYPE_IPV4:
            net4 = parse_ipv4(data, pos)
            network = net4
            hlen = net4.ihl * 4  # type: ignore[operator]  # always set by parse_ipv4
            npos, pos = pos, pos + hlen  # from here on, the undecoded bytes start after the IP header
            total = net4.total_length or 0
            if total == 0 and not _quoted:
                total = len(data) - npos  # TSO / BIG TCP: length 0 means "see the frame" (as Wireshark)
            if total < hlen:
                raise MalformedPacketError("IPv4", npos, f"total length {total} is below the header length {hlen}")
            ip_ok = checksum_ok(data[npos:pos])
            end = min(npos + total, len(data))
            plen = total - hlen
            proto = net4.protocol
            first = net4.fragment_offset == 0
            whole = first and not net4.mf
        elif etype == ETHERTYPE_IPV6:
            net6 = parse_ipv6(data, pos)
            network = net6
            hlen = net6.header_length
            npos, pos = pos, pos + hlen  # from here on, the undecoded bytes start after the extension headers
            ext_len = hlen - 40
            if net6.payload_length == 0 and net6.jumbo_length is not None:
                total_payload = net6.jumbo_length
            else:
                total_payload = net6.payload_length or 0
            if total_payload < ext_len and not _quoted:
                raise MalformedPacketError("IPv6", npos, f"payload length {total_payload} is below the "
                                           f"extension headers' {ext_len} bytes")
            end = min(npos + 40 + total_payload, len(data))
            plen = total_payload - ext_len
            proto = net6.upper_protocol
            frag = net6.fragment
            first = frag is None or frag.fragment_offset == 0
            whole = frag is None or (frag.fragment_offset == 0 and not frag.more_fragments)
        else:
            return _new_packet(link, None, None, data[pos:], b"", linktype, None, None, None, None, None)
        if not first:
            return _new_packet(link, network, None, data[pos:end], data[end:], linktype, None, None, ip_ok, plen,
                               None)
        # an IPv4 pseudo-header holds a 16-bit length: a TSO super-packet (total length 0) is not checkable
        v4 = network.version == 4
        complete = whole and pos + plen <= len(data) and not _quoted and (plen <= 0xFFFF or not v4)
        src, dst = network.src, (network.dst if v4 else network.final_dst)  # type: ignore[union-attr]
        if proto == 6:
            if _quoted and end - pos < 20:
                import struct

                if end - pos < 8:
                    raise TruncatedPacketError("TCP", pos, 8, end - pos, "quoted header")
                sp, dp, sq = struct.unpack_from("!HHI", data, pos)
                return _new_packet(link, network, QuotedTCP(sp, dp, sq), data[pos + 8:end], data[end:], linktype,
                                   None, None, ip_ok, plen, None)
            tcp = parse_tcp(data, pos, end)
            transport = tcp
            ck = transport_checksum_ok(src, dst, 6, data[pos:pos + plen]) if complete else None
            return _new_packet(link, network, tcp, data[pos + tcp.data_offset * 4:end],  # type: ignore[operator]
                               data[end:], linktype, None, ck, ip_ok, plen, None)
        if proto == 17:
            udp = parse_udp(data, pos, end)
            transport = udp
            ck = None
            if complete and not (udp.checksum == 0 and v4):
                ck = transport_checksum_ok(src, dst, 17, data[pos:pos + plen])
            return _new_packet(link, network, udp, data[pos + 8:end], data[end:], linktype, None, ck, ip_ok, plen,
                               None)
        if proto in (1, 58):
            ver = 6 if proto == 58 else 4
            if (proto == 1) != (network.version == 4):
                return Packet(link, network, None, data[pos:end], data[end:], linktype, None, None, ip_ok, plen)
            msg = parse_icmp(data, pos, end, version=ver)
            transport = msg
            ck = None
            if complete:
                seg = data[pos:pos + plen]
                ck = transport_checksum_ok(src, dst, 58, seg) if ver == 6 else checksum_ok(seg)
            quoted = None
            if msg.is_error and msg.body:
                quoted = decode(msg.body, strict=False, _quoted=True)
            return Packet(link, network, msg, b"", data[end:], linktype, None, ck, ip_ok, plen, quoted)
        return Packet(link, network, None, data[pos:end], data[end:], linktype, None, None, ip_ok, plen)
    except MalformedPacketError as err:
        if strict:
            raise
        return Packet(link, network, transport, data[pos:], b"", linktype, err, None, ip_ok, plen)


# ----------------------------------------------------------------------------------------------- encode

def encode(p: Packet, *, checksums: str | None = None) -> bytes:
    """Return the frame bytes of ``p``; fields left as None are computed, set fields are kept.

    ``checksums="recompute"`` recomputes every checksum and length field instead of keeping them.
    The packet is never modified.
    """
    net = p.network
    t = p.transport
    body: bytes
    if t is None:
        body = p.payload
    else:
        src = net.src if net is not None else None
        dst = net.final_dst if isinstance(net, IPv6Header) else net.dst if net is not None else None
        if isinstance(t, TCPHeader):
            body = build_tcp(t, p.payload, src=src, dst=dst, checksum=checksums)
        elif isinstance(t, UDPHeader):
            if checksums == "recompute":
                from dataclasses import replace

                t = replace(t, length=None)
            body = build_udp(t, p.payload, src=src, dst=dst, checksum=checksums)
        elif isinstance(t, ICMPMessage):
            body = build_icmp(t, src=src, dst=dst, checksum=checksums) + p.payload
        elif isinstance(t, QuotedTCP):
            import struct

            body = struct.pack("!HHI", t.src_port, t.dst_port, t.seq) + p.payload
        else:
            raise BuildError(f"encode: {type(t).__name__} is not a transport header")
    if isinstance(net, IPv4Header):
        if checksums == "recompute":
            from dataclasses import replace

            net = replace(net, total_length=None, checksum=None, ihl=None)
        body = build_ipv4(net, body)
    elif isinstance(net, IPv6Header):
        if checksums == "recompute" and net.jumbo_length is None:
            from dataclasses import replace

            net = replace(net, payload_length=None)
        body = build_ipv6(net, body)
    link = p.link
    if link is None:
        head = b""
    elif isinstance(link, EthernetHeader):
        head = build_ethernet(link)
    elif isinstance(link, SLLHeader):
        head = build_sll(link)
    elif isinstance(link, SLL2Header):
        head = build_sll2(link)
    elif isinstance(link, NullHeader):
        head = build_null(link)
    else:
        raise BuildError(f"encode: {type(link).__name__} is not a link header")
    return head + body + p.trailer


def tcp_flag_names(p: Packet) -> list[str] | None:
    """Return the TCP flag names of ``p`` in bit order, or None when it is not TCP."""
    return flag_names(p.transport.flags) if isinstance(p.transport, TCPHeader) else None
