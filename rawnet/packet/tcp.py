"""TCP (RFC 9293): header, all 9 flags (RFC 3168 ECE/CWR, AE of RFC 9768 / former NS), and options
kept byte for byte: EOL, NOP, MSS, window scale (RFC 7323), SACK-permitted and SACK (RFC 2018),
timestamps (RFC 7323), TCP Fast Open cookie (RFC 7413, kind 34 and the experimental 254/0xF989),
and any unknown kind as UnknownOption."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntFlag

from ..errors import BuildError, MalformedPacketError, TruncatedPacketError
from ._wire import fast_constructor
from .checksum import transport_checksum

__all__ = [
    "TCPFlags", "TCPHeader", "TCPOption", "EOLOption", "NOPOption", "MSSOption", "WindowScaleOption",
    "SACKPermittedOption", "SACKOption", "TimestampsOption", "FastOpenOption", "UnknownOption",
    "parse_tcp", "build_tcp", "parse_tcp_options", "build_tcp_options", "flag_names", "parse_flags",
]

_HDR = struct.Struct("!HHIIHHHH")


class TCPFlags(IntFlag):
    """The nine TCP flag bits, as in the 12-bit field after the data offset."""

    FIN = 0x001
    SYN = 0x002
    RST = 0x004
    PSH = 0x008
    ACK = 0x010
    URG = 0x020
    ECE = 0x040
    CWR = 0x080
    AE = 0x100  # Accurate ECN (RFC 9768); formerly NS (RFC 3540)


_FLAG_ORDER = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE")
_LETTERS = {"F": "FIN", "S": "SYN", "R": "RST", "P": "PSH", "A": "ACK", "U": "URG", "E": "ECE", "C": "CWR",
            "N": "AE", "X": "CWR"}


def flag_names(flags: int) -> list[str]:
    """Return the names of the set flags in bit order, e.g. ["SYN", "ACK"]."""
    return [name for i, name in enumerate(_FLAG_ORDER) if flags >> i & 1]


def parse_flags(text: str) -> int:
    """Return the flag bits for hping3/nping-style letters ("SA", "FPA"; N = AE) or names ("SYN,ACK")."""
    text = text.strip()
    bits = 0
    if "," in text or text.upper() in _FLAG_ORDER or text.upper() == "NS":
        for part in text.split(","):
            name = part.strip().upper()
            name = "AE" if name == "NS" else name
            if name not in _FLAG_ORDER:
                raise BuildError(f"TCP flags: unknown flag {part!r} (expected one of {', '.join(_FLAG_ORDER)})")
            bits |= TCPFlags[name]
        return bits
    for ch in text.upper():
        if ch not in _LETTERS:
            raise BuildError(f"TCP flags: unknown letter {ch!r} (use F S R P A U E C N)")
        bits |= TCPFlags[_LETTERS[ch]]
    return bits


@dataclass(frozen=True, slots=True)
class EOLOption:
    """End of option list (kind 0), with the bytes after it kept as ``padding``."""

    padding: bytes = b""
    """Bytes after the EOL up to the end of the header (normally zeros)."""
    kind: int = field(default=0, init=False)


@dataclass(frozen=True, slots=True)
class NOPOption:
    """No-operation (kind 1)."""

    kind: int = field(default=1, init=False)


@dataclass(frozen=True, slots=True)
class MSSOption:
    """Maximum segment size (kind 2)."""

    mss: int
    """Largest segment the sender accepts, in bytes."""
    kind: int = field(default=2, init=False)


@dataclass(frozen=True, slots=True)
class WindowScaleOption:
    """Window scale (kind 3, RFC 7323 §2)."""

    shift: int
    """Shift count; values above 14 are treated as 14 by receivers (RFC 7323 §2.3)."""
    kind: int = field(default=3, init=False)


@dataclass(frozen=True, slots=True)
class SACKPermittedOption:
    """SACK permitted (kind 4, RFC 2018)."""

    kind: int = field(default=4, init=False)


@dataclass(frozen=True, slots=True)
class SACKOption:
    """Selective acknowledgment blocks (kind 5, RFC 2018)."""

    blocks: tuple[tuple[int, int], ...]
    """(left edge, right edge) pairs."""
    kind: int = field(default=5, init=False)


@dataclass(frozen=True, slots=True)
class TimestampsOption:
    """Timestamps (kind 8, RFC 7323 §3)."""

    tsval: int
    """Timestamp value."""
    tsecr: int
    """Timestamp echo reply."""
    kind: int = field(default=8, init=False)


@dataclass(frozen=True, slots=True)
class FastOpenOption:
    """TCP Fast Open cookie (kind 34, RFC 7413; or experimental kind 254 with magic 0xF989)."""

    cookie: bytes
    """The cookie; empty in a cookie request."""
    experimental: bool = False
    """True for the kind 254 / ExID 0xF989 encoding."""

    @property
    def kind(self) -> int:
        """Return the option kind on the wire."""
        return 254 if self.experimental else 34


@dataclass(frozen=True, slots=True)
class UnknownOption:
    """Any other option, kept byte for byte."""

    kind: int
    """Option kind."""
    data: bytes
    """Option data after the kind and length bytes."""


TCPOption = (EOLOption | NOPOption | MSSOption | WindowScaleOption | SACKPermittedOption | SACKOption
             | TimestampsOption | FastOpenOption | UnknownOption)


@dataclass(frozen=True, slots=True)
class TCPHeader:
    """A TCP header. ``None`` in ``data_offset`` or ``checksum`` means "compute when built"."""

    src_port: int
    """Source port."""
    dst_port: int
    """Destination port."""
    seq: int = 0
    """Sequence number."""
    ack: int = 0
    """Acknowledgment number."""
    flags: int = 0
    """The nine flag bits (see TCPFlags)."""
    window: int = 65535
    """Window field, unscaled."""
    urgent_pointer: int = 0
    """Urgent pointer."""
    options: tuple[TCPOption, ...] = ()
    """Options in wire order."""
    reserved: int = 0
    """The 3 reserved bits between data offset and AE."""
    data_offset: int | None = None
    """Header length in 32-bit words."""
    checksum: int | None = None
    """Checksum."""

    @property
    def header_length(self) -> int:
        """Return the header length in bytes."""
        if self.data_offset is not None:
            return self.data_offset * 4
        return 20 + _padded_len(self.options)

    @property
    def flag_names(self) -> list[str]:
        """Return the set flags' names in bit order."""
        return flag_names(self.flags)

    def option(self, cls: type) -> TCPOption | None:
        """Return the first option of class ``cls``, or None."""
        for opt in self.options:
            if isinstance(opt, cls):
                return opt
        return None


def _padded_len(options: tuple[TCPOption, ...]) -> int:
    n = len(build_tcp_options(options, pad=False))
    return (n + 3) & ~3


_new_tcp = fast_constructor(TCPHeader)
_new_mss = fast_constructor(MSSOption)
_new_wscale = fast_constructor(WindowScaleOption)
_new_ts = fast_constructor(TimestampsOption)
_new_unknown = fast_constructor(UnknownOption)
_NOP = NOPOption()
_SACK_OK = SACKPermittedOption()
_U16 = struct.Struct("!H")
_TS = struct.Struct("!II")
_SYN_LAYOUT = struct.Struct("!BBHHBBIIBBBB")  # MSS, SACK_PERM, TS, NOP, WS
_new_sack = fast_constructor(SACKOption)
_SACK_FORMATS = {2 + 8 * k: f"!{2 * k}I" for k in range(5)}


def parse_tcp_options(data: bytes | memoryview, offset: int, end: int) -> tuple[TCPOption, ...]:
    """Return the options between ``offset`` and ``end``; raise MalformedPacketError on a bad length."""
    # the two layouts Linux sends on nearly every segment: NOP NOP TS (established) and
    # MSS SACK_PERM TS NOP WS (SYN); anything else takes the general loop below
    n = end - offset
    if n >= 12 and data[offset:offset + 4] == b"\x01\x01\x08\x0a":
        tsval, tsecr = _TS.unpack_from(data, offset + 4)
        head = (_NOP, _NOP, _new_ts(tsval, tsecr, 8))
        if n == 12:
            return head
        if n == 24 and data[offset + 12:offset + 16] == b"\x01\x01\x05\x0a":  # NOP NOP SACK, one block
            return (*head, _NOP, _NOP, _new_sack((_TS.unpack_from(data, offset + 16),), 5))
        return head + parse_tcp_options(data, offset + 12, end)
    if n == 4 and data[offset] == 2 and data[offset + 1] == 4:
        return (_new_mss(_U16.unpack_from(data, offset + 2)[0], 2),)
    if n == 20:
        k1, l1, mss, k2, k3, l3, tsval, tsecr, k4, k5, l5, shift = _SYN_LAYOUT.unpack_from(data, offset)
        if (k1, l1, k2, k3, l3, k4, k5, l5) == (2, 4, 0x0402, 8, 10, 1, 3, 3):
            return (_new_mss(mss, 2), _SACK_OK, _new_ts(tsval, tsecr, 8), _NOP, _new_wscale(shift, 3))
    opts: list[TCPOption] = []
    pos = offset
    while pos < end:
        kind = data[pos]
        if kind == 1:
            opts.append(_NOP)
            pos += 1
            continue
        if kind == 0:
            opts.append(EOLOption(bytes(data[pos + 1:end])))
            break
        if pos + 1 >= end:
            raise MalformedPacketError("TCP", pos, f"option kind {kind} has no length byte")
        olen = data[pos + 1]
        if olen < 2 or pos + olen > end:
            raise MalformedPacketError("TCP", pos, f"option kind {kind} has length {olen} "
                                       f"({end - pos} bytes left in the header; minimum 2)")
        opt: TCPOption
        if kind == 8 and olen == 10:
            tsval, tsecr = _TS.unpack_from(data, pos + 2)
            opt = _new_ts(tsval, tsecr, 8)
        elif kind == 2 and olen == 4:
            opt = _new_mss(_U16.unpack_from(data, pos + 2)[0], 2)
        elif kind == 3 and olen == 3:
            opt = _new_wscale(data[pos + 2], 3)
        elif kind == 4 and olen == 2:
            opt = _SACK_OK
        elif kind == 5 and (olen - 2) % 8 == 0:
            vals = struct.unpack_from(_SACK_FORMATS[olen] if olen < 35 else f"!{(olen - 2) // 4}I", data, pos + 2)
            opt = _new_sack(tuple(zip(vals[0::2], vals[1::2])), 5)
        else:
            body = bytes(data[pos + 2:pos + olen])
            if kind == 34:
                opt = FastOpenOption(body)
            elif kind == 254 and olen >= 4 and body[:2] == b"\xf9\x89":
                opt = FastOpenOption(body[2:], experimental=True)
            else:
                opt = _new_unknown(kind, body)
        opts.append(opt)
        pos += olen
    return tuple(opts)


def build_tcp_options(options: tuple[TCPOption, ...], *, pad: bool = True) -> bytes:
    """Return the wire bytes of ``options``, NUL-padded to a multiple of 4 when ``pad``."""
    out = bytearray()
    for opt in options:
        if isinstance(opt, EOLOption):
            out += b"\x00" + opt.padding
        elif isinstance(opt, NOPOption):
            out += b"\x01"
        elif isinstance(opt, MSSOption):
            out += struct.pack("!BBH", 2, 4, opt.mss)
        elif isinstance(opt, WindowScaleOption):
            if not 0 <= opt.shift <= 255:
                raise BuildError(f"TCP option WindowScale: shift {opt.shift} does not fit in a byte")
            out += bytes((3, 3, opt.shift))
        elif isinstance(opt, SACKPermittedOption):
            out += b"\x04\x02"
        elif isinstance(opt, SACKOption):
            if len(opt.blocks) > 4:
                raise BuildError(f"TCP option SACK: {len(opt.blocks)} blocks (at most 4 fit, RFC 2018 §3)")
            out += bytes((5, 2 + 8 * len(opt.blocks)))
            for left, right in opt.blocks:
                out += struct.pack("!II", left, right)
        elif isinstance(opt, TimestampsOption):
            out += struct.pack("!BBII", 8, 10, opt.tsval, opt.tsecr)
        elif isinstance(opt, FastOpenOption):
            if opt.experimental:
                out += bytes((254, 4 + len(opt.cookie))) + b"\xf9\x89" + opt.cookie
            else:
                out += bytes((34, 2 + len(opt.cookie))) + opt.cookie
        elif isinstance(opt, UnknownOption):
            if len(opt.data) > 253:
                raise BuildError(f"TCP option kind {opt.kind}: {len(opt.data)} data bytes (at most 253)")
            out += bytes((opt.kind, 2 + len(opt.data))) + opt.data
        else:
            raise BuildError(f"TCP: {opt!r} is not a TCP option")
    if pad and len(out) % 4:
        out += b"\x00" * (4 - len(out) % 4)
    return bytes(out)


def parse_tcp(data: bytes | memoryview, offset: int = 0, end: int | None = None) -> TCPHeader:
    """Return the TCP header at ``offset`` with its options (the segment ends at ``end``, default: the data's end).

    Raises:
        TruncatedPacketError: the header (or its options) is cut short.
        MalformedPacketError: data offset below 5 words, or an option with a bad length.
    """
    if end is None or end > len(data):
        end = len(data)
    if end - offset < 20:
        raise TruncatedPacketError("TCP", offset, 20, max(end - offset, 0))
    sport, dport, seq, ack, off_flags, window, csum, urg = _HDR.unpack_from(data, offset)
    doff = off_flags >> 12
    if doff < 5:
        raise MalformedPacketError("TCP", offset, f"data offset is {doff} words (minimum 5)")
    hlen = doff * 4
    if end - offset < hlen:
        raise TruncatedPacketError("TCP", offset, hlen, end - offset, "header with options")
    options = parse_tcp_options(data, offset + 20, offset + hlen) if hlen > 20 else ()
    return _new_tcp(sport, dport, seq, ack, off_flags & 0x1FF, window, urg, options, (off_flags >> 9) & 7, doff,
                    csum)


def build_tcp(h: TCPHeader, payload: bytes = b"", *, src: bytes | None = None, dst: bytes | None = None,
              checksum: str | None = None) -> bytes:
    """Return the TCP segment bytes; fills data_offset and the checksum (which needs ``src``/``dst``).

    ``checksum="recompute"`` ignores a checksum already set in ``h``.
    """
    opts = build_tcp_options(h.options)
    doff = h.data_offset if h.data_offset is not None else 5 + len(opts) // 4
    if len(opts) > 40 or not 5 <= doff <= 15:
        raise BuildError(f"TCP: options take {len(opts)} bytes (at most 40)")
    for name, value, bits in (("src_port", h.src_port, 16), ("dst_port", h.dst_port, 16), ("seq", h.seq, 32),
                              ("ack", h.ack, 32), ("flags", h.flags, 9), ("window", h.window, 16),
                              ("urgent_pointer", h.urgent_pointer, 16), ("reserved", h.reserved, 3)):
        if not 0 <= value < (1 << bits):
            raise BuildError(f"TCP: {name} {value} does not fit in {bits} bits")
    seg = bytearray(_HDR.pack(h.src_port, h.dst_port, h.seq, h.ack, (doff << 12) | (h.reserved << 9) | h.flags,
                              h.window, 0, h.urgent_pointer))
    seg += opts
    seg += payload
    if h.checksum is not None and checksum != "recompute":
        csum = h.checksum
    else:
        if src is None or dst is None:
            raise BuildError("TCP: the checksum needs the IP source and destination (pass src= and dst=)")
        csum = transport_checksum(src, dst, 6, seg)
    struct.pack_into("!H", seg, 16, csum)
    return bytes(seg)
