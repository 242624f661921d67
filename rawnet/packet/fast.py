"""Fast paths inside the codec: the fields a conversation table needs, without building a Packet.

Theory of operation: ``flow_fields`` handles only the common, well-formed case (Ethernet with up
to two VLAN tags, SLL, SLL2, null/loop, raw IP; IPv4 without a length problem; IPv6 without
extension headers) and returns ``None`` for everything else, so the caller falls back to the full
``decode(strict=False)``. Both paths must give the same flow; tests compare them on every capture.
"""

from __future__ import annotations

import struct

__all__ = ["flow_fields", "FlowFields"]

_u16 = struct.Struct("!H").unpack_from
_ports = struct.Struct("!HH").unpack_from
_tcp_seq = struct.Struct("!I").unpack_from

# (proto, src, sport, dst, dport, echo, syn_seq, frag_key, first_fragment)
FlowFields = tuple[int, bytes, "int | None", bytes, "int | None", bool, "int | None", "tuple[bytes, bytes, int, int] | None", bool]


def flow_fields(buf: bytes, off: int, caplen: int, linktype: int) -> FlowFields | None:
    """Return the flow fields of the frame ``buf[off:off+caplen]``, or None when the full decoder must decide."""
    end = off + caplen
    if linktype == 1:
        if caplen < 34:
            return None
        et = (buf[off + 12] << 8) | buf[off + 13]
        p = off + 14
        if et == 0x8100 or et == 0x88A8:
            et = (buf[p + 2] << 8) | buf[p + 3]
            p += 4
            if et == 0x8100:
                et = (buf[p + 2] << 8) | buf[p + 3]
                p += 4
    elif linktype == 113:
        if caplen < 36:
            return None
        et = (buf[off + 14] << 8) | buf[off + 15]
        p = off + 16
    elif linktype == 276:
        if caplen < 40:
            return None
        et = (buf[off] << 8) | buf[off + 1]
        p = off + 20
    elif linktype == 101 or linktype == 228 or linktype == 229:
        if caplen < 20:
            return None
        v = buf[off] >> 4
        et = 0x0800 if v == 4 else 0x86DD if v == 6 else 0
        if (linktype == 228 and v != 4) or (linktype == 229 and v != 6):
            return None  # the link type names the version: let the full decoder report the mismatch
        p = off
    else:
        return None
    if et == 0x0800:
        if p + 20 > end:
            return None
        vihl = buf[p]
        if vihl >> 4 != 4 or vihl & 15 < 5:
            return None
        hl = (vihl & 15) * 4
        total = (buf[p + 2] << 8) | buf[p + 3]
        if total < hl:
            return None
        proto = buf[p + 9]
        src = buf[p + 12:p + 16]
        dst = buf[p + 16:p + 20]
        frag = (buf[p + 6] << 8) | buf[p + 7]
        fkey = None
        first = True
        if frag & 0x3FFF:
            fkey = (src, dst, (buf[p + 4] << 8) | buf[p + 5], proto)
            if frag & 0x1FFF:
                return (proto, src, None, dst, None, False, None, fkey, False)
        l4 = p + hl
        l4end = min(p + total, end)
    elif et == 0x86DD:
        if p + 40 > end:
            return None
        if buf[p] >> 4 != 6:
            return None
        proto = buf[p + 6]
        if proto not in (6, 17, 58):
            return None  # extension headers and others: full decoder
        plen = (buf[p + 4] << 8) | buf[p + 5]
        if plen == 0:
            return None
        src = buf[p + 8:p + 24]
        dst = buf[p + 24:p + 40]
        fkey = None
        first = True
        l4 = p + 40
        l4end = min(l4 + plen, end)
    else:
        return None
    if proto == 6:
        if l4 + 20 > l4end:
            return None
        sport, dport = _ports(buf, l4)
        if buf[l4 + 12] >> 4 < 5:
            return None
        syn = None
        if buf[l4 + 13] & 0x12 == 0x02:
            syn = _tcp_seq(buf, l4 + 4)[0]
        return (6, src, sport, dst, dport, False, syn, fkey, first)
    if proto == 17:
        if l4 + 8 > l4end:
            return None
        sport, dport = _ports(buf, l4)
        return (17, src, sport, dst, dport, False, None, fkey, first)
    if proto == 1 or proto == 58:
        if l4 + 8 > l4end:
            return None
        t = buf[l4]
        if (proto == 1 and (t == 0 or t == 8)) or (proto == 58 and (t == 128 or t == 129)):
            ident = _u16(buf, l4 + 4)[0]
            return (proto, src, ident, dst, ident, True, None, fkey, first)
        return (proto, src, None, dst, None, False, None, fkey, first)
    return (proto, src, None, dst, None, False, None, fkey, first)
