"""Sans-IO streaming decoder for pcapng files (draft-ietf-opsawg-pcapng).

Theory of operation
-------------------
A pcapng file is a sequence of blocks ``type(4) total_length(4) body total_length(4)``; a Section
Header Block (SHB, type 0x0A0D0D0A, the same in both byte orders) opens each section and its
byte-order magic 0x1A2B3C4D fixes the byte order of every block up to the next SHB. Interface
Description Blocks (IDB) are numbered from 0 within a section and give each interface a linktype, a
snaplen and a timestamp resolution (``if_tsresol``: 10^-n, or 2^-n when the top bit is set;
default microseconds) and offset (``if_tsoffset``, seconds). Packets come in Enhanced Packet
Blocks (EPB: interface, 64-bit timestamp, caplen, wirelen, data, options such as ``opt_comment``),
Simple Packet Blocks (SPB: no timestamp, interface 0, caplen = min(wirelen, snaplen of IDB 0)) and
obsolete Packet Blocks (PB). Name resolution, interface statistics, decryption secrets, custom and
unknown blocks are skipped.

``PcapngDecoder.feed(chunk)`` works like :class:`rawnet.capture.pcap.PcapDecoder`: it keeps at most
one incomplete block and how many bytes it needs, returns the frames completed by each chunk, and
treats ``b""`` as end of input. A block whose length is impossible (less than 12, not a multiple of
4, above 64 MiB, or not equal to its trailing copy), a bad byte-order magic, a packet whose caplen
does not fit in its block, or a packet on an undeclared interface raises
:class:`CaptureFormatError`; a block cut by the end of input raises :class:`TruncatedCaptureError`.
Frames completed earlier in the same chunk are returned first and the error is raised by the next
call. Timestamps are converted to integer nanoseconds exactly (resolutions finer than 1 ns are
rounded down).
"""

from __future__ import annotations

import struct
from typing import Final

from ..errors import CaptureFormatError, TruncatedCaptureError
from ._stream import StreamBuffer
from .frame import CaptureInfo, Frame, InterfaceInfo, frame_setters
from .pcap import RawRecord

__all__ = [
    "PcapngDecoder",
    "BLOCK_SHB",
    "BLOCK_IDB",
    "BLOCK_PB",
    "BLOCK_SPB",
    "BLOCK_NRB",
    "BLOCK_ISB",
    "BLOCK_EPB",
    "BYTE_ORDER_MAGIC",
    "MAX_BLOCK_LEN",
    "ts_to_ns",
]

BLOCK_SHB: Final = 0x0A0D0D0A
BLOCK_IDB: Final = 0x00000001
BLOCK_PB: Final = 0x00000002
BLOCK_SPB: Final = 0x00000003
BLOCK_NRB: Final = 0x00000004
BLOCK_ISB: Final = 0x00000005
BLOCK_EPB: Final = 0x00000006
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
MAX_BLOCK_LEN: Final = 64 * 1024 * 1024
"""Blocks longer than this are treated as corrupt, so a bad length cannot make the decoder buffer gigabytes."""

_OPT_ENDOFOPT: Final = 0
_OPT_COMMENT: Final = 1
_IF_NAME: Final = 2
_IF_TSRESOL: Final = 9
_IF_TSOFFSET: Final = 14
_NS_PER_S: Final = 1_000_000_000
_SETTERS: Final = frame_setters()
_BLOCK_NAMES: Final = {BLOCK_SHB: "section header", BLOCK_IDB: "interface description", BLOCK_PB: "packet",
                       BLOCK_SPB: "simple packet", BLOCK_NRB: "name resolution", BLOCK_ISB: "interface statistics",
                       BLOCK_EPB: "enhanced packet"}


def ts_to_ns(units: int, tsresol: int) -> int:
    """Return ``units`` of an ``if_tsresol`` byte's resolution as integer nanoseconds (rounded down)."""
    if tsresol & 0x80:
        return (units * _NS_PER_S) >> (tsresol & 0x7F)
    if tsresol <= 9:
        return units * 10 ** (9 - tsresol)
    return units // 10 ** (tsresol - 9)


class _Iface:
    """Per-interface conversion state of the current section."""

    __slots__ = ("linktype", "snaplen", "tsresol", "offset_ns", "mult")

    def __init__(self, linktype: int, snaplen: int, tsresol: int, offset_ns: int) -> None:
        self.linktype = linktype
        self.snaplen = snaplen
        self.tsresol = tsresol
        self.offset_ns = offset_ns
        # common case: a decimal resolution of at most ns -> one multiplication
        self.mult = 10 ** (9 - tsresol) if tsresol <= 9 else 0


def _units_per_s(tsresol: int) -> int:
    return 1 << (tsresol & 0x7F) if tsresol & 0x80 else 10 ** tsresol


class PcapngDecoder(StreamBuffer):
    """Streaming pcapng decoder: ``feed(chunk)`` returns the frames completed; ``feed(b"")`` is EOF."""

    def __init__(self, path_label: str = "<pcapng>", info: CaptureInfo | None = None, *, base_offset: int = 0) -> None:
        self.path = path_label
        self.info = info if info is not None else CaptureInfo()
        self.records_read = 0
        self.blocks_read = 0
        self._pending = bytearray()
        self._need = 12
        self._base = base_offset
        self._error: CaptureFormatError | None = None
        self._eof = False
        self._prefix = ""  # "<" or ">" once a section header was read
        self._hdr: struct.Struct | None = None
        self._u32 = struct.Struct("<I")
        self._epb_struct = struct.Struct("<IIIII")
        self._ifaces: list[_Iface] = []
        self._section = -1

    @property
    def offset(self) -> int:
        """Return the absolute byte offset of the first byte not yet consumed."""
        return self._base

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Return the frames completed by ``data``; ``b""`` signals end of input.

        Raises:
            CaptureFormatError: corrupt block (after earlier frames were returned).
            TruncatedCaptureError: at EOF, when the input ends inside a block.
        """
        buf = self._take(data)
        if buf is None:
            return []
        out: list[Frame] = []
        self._parse(buf, out)
        return out

    def feed_raw(self, data: bytes | bytearray | memoryview) -> list[RawRecord]:
        """Return ``(ts_ns, linktype, caplen, wirelen, buf, offset)`` tuples completed by ``data``."""
        return [(f.ts_ns, f.linktype, len(f.data), f.wirelen, f.data, 0) for f in self.feed(data)]

    # -- internals -------------------------------------------------------------------------------

    def _at_eof(self) -> None:
        have = len(self._pending)
        if not have and self._section >= 0:
            return
        pend = self._pending
        prefix = self._prefix
        if have >= 12 and pend[:4] == b"\x0a\x0d\x0d\x0a":
            prefix = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(bytes(pend[8:12]), "")
        if have >= 12 and prefix:
            btype, blen = struct.unpack_from(prefix + "II", pend, 0)
            what = (f"{_BLOCK_NAMES.get(btype, f'type 0x{btype:08x}')} block is cut short "
                    f"(block length {blen}, {have} bytes present, {blen - have} missing)")
        else:
            what = f"block header is cut short (needs {self._need} bytes, {have} present, {self._need - have} missing)"
        err = TruncatedCaptureError(self.path, self._base, what, self.records_read)
        self._error = err
        raise err

    def _fail(self, pos: int, reason: str) -> CaptureFormatError:
        return CaptureFormatError(self.path, self._base + pos, reason)

    def _parse(self, buf: bytes, out: list[Frame]) -> None:
        n = len(buf)
        pos = 0
        need = 12
        err: CaptureFormatError | None = None
        start_count = len(out)
        new = object.__new__
        set_ts, set_lt, set_data, set_wl, set_if, set_cm = _SETTERS
        append = out.append
        try:
            hdr, u32, epb, ifaces = self._hdr, self._u32, self._epb_struct, self._ifaces
            while pos + 12 <= n:
                if hdr is not None:
                    # Fast path: an EPB without options on a known interface (almost every block).
                    btype, blen = hdr.unpack_from(buf, pos)
                    if btype == BLOCK_EPB and 32 <= blen <= MAX_BLOCK_LEN:
                        end = pos + blen
                        if end > n:
                            need = blen
                            break
                        ifid, hi, lo, caplen, wirelen = epb.unpack_from(buf, pos + 8)
                        if (ifid < len(ifaces) and 32 + ((caplen + 3) & ~3) == blen
                                and u32.unpack_from(buf, end - 4)[0] == blen):
                            iface = ifaces[ifid]
                            units = (hi << 32) | lo
                            f = new(Frame)
                            set_ts(f, (units * iface.mult if iface.mult else ts_to_ns(units, iface.tsresol))
                                   + iface.offset_ns)
                            set_lt(f, iface.linktype)
                            set_data(f, buf[pos + 28:pos + 28 + caplen])
                            set_wl(f, wirelen)
                            set_if(f, ifid)
                            set_cm(f, None)
                            append(f)
                            self.blocks_read += 1
                            pos = end
                            continue
                if buf[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
                    bom = buf[pos + 8:pos + 12]
                    if bom == b"\x4d\x3c\x2b\x1a":
                        prefix = "<"
                    elif bom == b"\x1a\x2b\x3c\x4d":
                        prefix = ">"
                    else:
                        if self._section < 0:
                            raise self._fail(pos, f"not a pcapng file (bad byte-order magic 0x{bom.hex()})")
                        raise self._fail(pos, f"section header has a bad byte-order magic 0x{bom.hex()}")
                    (blen,) = struct.unpack_from(prefix + "I", buf, pos + 4)
                    btype = BLOCK_SHB
                else:
                    if not self._prefix:
                        raise self._fail(pos, f"not a pcapng file (first block type 0x{buf[pos:pos + 4].hex()})")
                    prefix = self._prefix
                    btype, blen = struct.unpack_from(prefix + "II", buf, pos)
                if blen < 12 or blen % 4 or blen > MAX_BLOCK_LEN:
                    name = _BLOCK_NAMES.get(btype, f"type 0x{btype:08x}")
                    raise self._fail(pos, f"{name} block has an impossible length {blen} "
                                          f"(a multiple of 4 between 12 and {MAX_BLOCK_LEN})")
                end = pos + blen
                if end > n:
                    need = blen
                    break
                (trailer,) = struct.unpack_from(prefix + "I", buf, end - 4)
                if trailer != blen:
                    name = _BLOCK_NAMES.get(btype, f"type 0x{btype:08x}")
                    raise self._fail(pos, f"{name} block length {blen} does not match its trailing length {trailer}")
                if btype == BLOCK_EPB:
                    self._epb(buf, pos, end, out)
                elif btype == BLOCK_SPB:
                    self._spb(buf, pos, end, out)
                elif btype == BLOCK_IDB:
                    self._idb(buf, pos, end)
                elif btype == BLOCK_SHB:
                    self._shb(buf, pos, end, prefix)
                elif btype == BLOCK_PB:
                    self._pb(buf, pos, end, out)
                # NRB, ISB, DSB, custom and unknown blocks: skipped
                self.blocks_read += 1
                pos = end
                hdr, u32, epb, ifaces = self._hdr, self._u32, self._epb_struct, self._ifaces
        except CaptureFormatError as e:
            err = e
        count = len(out) - start_count
        self._settle(buf, pos, count, need, err)

    def _options(self, buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
        """Return ``(code, value_start, value_len)`` of the options in ``buf[start:end]``.

        A malformed option list ends the list (the block's fixed fields are still good), as
        Wireshark does for most blocks.
        """
        opts: list[tuple[int, int, int]] = []
        unpack = struct.Struct(self._prefix + "HH").unpack_from
        while start + 4 <= end:
            code, length = unpack(buf, start)
            if code == _OPT_ENDOFOPT:
                break
            vstart = start + 4
            if vstart + length > end:
                break
            opts.append((code, vstart, length))
            start = vstart + ((length + 3) & ~3)
        return opts

    def _shb(self, buf: bytes, pos: int, end: int, prefix: str) -> None:
        if end - pos < 28:
            raise self._fail(pos, f"section header block is {end - pos} bytes long (minimum 28)")
        major, minor = struct.unpack_from(prefix + "HH", buf, pos + 12)
        if major != 1:
            raise self._fail(pos, f"section header has unsupported version {major}.{minor} (expected 1.x)")
        self._prefix = prefix
        self._hdr = struct.Struct(prefix + "II")
        self._u32 = struct.Struct(prefix + "I")
        self._epb_struct = struct.Struct(prefix + "IIIII")
        self._ifaces = []
        self._section += 1
        info = self.info
        if info.sections == 0:
            info.format = "pcapng"
            info.byte_order = "little" if prefix == "<" else "big"
            info.version = (major, minor)
        info.sections += 1

    def _idb(self, buf: bytes, pos: int, end: int) -> None:
        if end - pos < 20:
            raise self._fail(pos, f"interface description block is {end - pos} bytes long (minimum 20)")
        linktype, _reserved, snaplen = struct.unpack_from(self._prefix + "HHI", buf, pos + 8)
        tsresol = 6
        offset_s = 0
        name: str | None = None
        for code, vstart, length in self._options(buf, pos + 16, end - 4):
            if code == _IF_TSRESOL and length >= 1:
                tsresol = buf[vstart]
            elif code == _IF_TSOFFSET and length >= 8:
                (offset_s,) = struct.unpack_from(self._prefix + "q", buf, vstart)
            elif code == _IF_NAME:
                name = buf[vstart:vstart + length].decode("utf-8", "replace").rstrip("\0")
        if not tsresol & 0x80 and tsresol > 30:
            raise self._fail(pos, f"interface {len(self._ifaces)} has an impossible if_tsresol 10^-{tsresol}")
        self._ifaces.append(_Iface(linktype, snaplen, tsresol, offset_s * _NS_PER_S))
        self.info.add_interface(InterfaceInfo(linktype, snaplen, _units_per_s(tsresol), offset_s, name, self._section))

    def _iface(self, buf: bytes, pos: int, ifid: int) -> _Iface:
        if ifid >= len(self._ifaces):
            raise self._fail(pos, f"packet on interface {ifid}, but the section declares {len(self._ifaces)} interfaces")
        return self._ifaces[ifid]

    def _packet(self, buf: bytes, pos: int, end: int, ifid: int, units: int, caplen: int, wirelen: int,
                data_start: int, out: list[Frame]) -> None:
        iface = self._iface(buf, pos, ifid)
        data_end = data_start + caplen
        if data_end > end - 4:
            raise self._fail(pos, f"packet caplen {caplen} does not fit in its {end - pos}-byte block")
        comment: str | None = None
        opt_start = data_start + ((caplen + 3) & ~3)
        if opt_start + 4 <= end - 4:
            for code, vstart, length in self._options(buf, opt_start, end - 4):
                if code == _OPT_COMMENT:
                    comment = buf[vstart:vstart + length].decode("utf-8", "replace")
                    break
        ts_ns = units * iface.mult if iface.mult else ts_to_ns(units, iface.tsresol)
        out.append(Frame(ts_ns + iface.offset_ns, iface.linktype, buf[data_start:data_end], wirelen, ifid, comment))

    def _epb(self, buf: bytes, pos: int, end: int, out: list[Frame]) -> None:
        if end - pos < 32:
            raise self._fail(pos, f"enhanced packet block is {end - pos} bytes long (minimum 32)")
        ifid, hi, lo, caplen, wirelen = struct.unpack_from(self._prefix + "IIIII", buf, pos + 8)
        self._packet(buf, pos, end, ifid, (hi << 32) | lo, caplen, wirelen, pos + 28, out)

    def _pb(self, buf: bytes, pos: int, end: int, out: list[Frame]) -> None:
        if end - pos < 32:
            raise self._fail(pos, f"packet block is {end - pos} bytes long (minimum 32)")
        ifid, _drops, hi, lo, caplen, wirelen = struct.unpack_from(self._prefix + "HHIIII", buf, pos + 8)
        self._packet(buf, pos, end, ifid, (hi << 32) | lo, caplen, wirelen, pos + 28, out)

    def _spb(self, buf: bytes, pos: int, end: int, out: list[Frame]) -> None:
        if end - pos < 16:
            raise self._fail(pos, f"simple packet block is {end - pos} bytes long (minimum 16)")
        iface = self._iface(buf, pos, 0)
        (wirelen,) = struct.unpack_from(self._prefix + "I", buf, pos + 8)
        caplen = min(wirelen, end - pos - 16)
        if iface.snaplen:
            caplen = min(caplen, iface.snaplen)
        out.append(Frame(0, iface.linktype, buf[pos + 12:pos + 12 + caplen], wirelen, 0, None))
