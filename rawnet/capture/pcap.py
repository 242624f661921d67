"""Sans-IO streaming decoder for classic pcap files (libpcap format).

Theory of operation
-------------------
A pcap file is a 24-byte header (magic, version, thiszone, sigfigs, snaplen, linktype) followed by
records, each a 16-byte header (ts_sec, ts_frac, caplen, wirelen) and ``caplen`` bytes. The magic
says both the byte order (read as little- or big-endian) and the timestamp unit (0xa1b2c3d4:
microseconds, 0xa1b23c4d: nanoseconds). 0xa1b2cd34 is the "modified" (Kuznetzov) variant whose
record headers carry 8 more bytes; they are skipped.

``PcapDecoder.feed(chunk)`` takes any slice of the file and returns the frames completed by it;
``feed(b"")`` means end of input. The decoder keeps at most one incomplete record between calls
(``_pending``) and knows how many bytes that record needs (``_need``), so feeding one byte at a time
costs O(1) per byte and memory never grows with the file. A full chunk is parsed in place with
``struct.Struct.unpack_from``: the only per-record copy is the ``bytes`` slice of the frame data,
and ``feed_raw`` avoids even that (it returns offsets into the chunk).

Errors: a record whose caplen is larger than the maximum the linktype allows (libpcap's and
Wireshark's limit, 262144 for most linktypes) is corrupt (:class:`CaptureFormatError`). A caplen
larger than the header's snaplen is accepted by default, as libpcap and Wireshark accept it (the
tcpdump corpus has 12 such files); ``strict=True`` makes it an error too. A record
cut by the end of input raises :class:`TruncatedCaptureError` at EOF. Frames completed earlier in
the same chunk are returned first; the error is then raised by the next call.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, TypeAlias

from ..errors import CaptureFormatError, TruncatedCaptureError
from ._stream import StreamBuffer
from .frame import CaptureInfo, Frame, InterfaceInfo, frame_setters

__all__ = [
    "PcapDecoder",
    "RawRecord",
    "PCAP_MAGIC_US",
    "PCAP_MAGIC_NS",
    "PCAP_MAGIC_MODIFIED",
    "PCAP_HEADER_LEN",
    "MAX_CAPLEN",
    "max_caplen_for",
    "parse_pcap_header",
    "PcapHeader",
]

PCAP_MAGIC_US: Final = 0xA1B2C3D4
PCAP_MAGIC_NS: Final = 0xA1B23C4D
PCAP_MAGIC_MODIFIED: Final = 0xA1B2CD34
PCAP_HEADER_LEN: Final = 24
MAX_CAPLEN: Final = 262144
"""Largest caplen accepted for most linktypes (libpcap MAXIMUM_SNAPLEN for the default, Wireshark's standard)."""
_MAX_CAPLEN_BY_LINKTYPE: Final = {231: 128 * 1024 * 1024, 249: 1024 * 1024, 279: 8 * 1024 * 1024}

RawRecord: TypeAlias = tuple[int, int, int, int, bytes, int]
"""``(ts_ns, linktype, caplen, wirelen, buf, offset)``: the frame data is ``buf[offset:offset + caplen]``."""

_NS_PER_S: Final = 1_000_000_000
_SETTERS: Final = frame_setters()


def max_caplen_for(linktype: int) -> int:
    """Return the largest caplen rawnet accepts for ``linktype`` (as libpcap and Wireshark do)."""
    return _MAX_CAPLEN_BY_LINKTYPE.get(linktype, MAX_CAPLEN)


@dataclass(frozen=True, slots=True)
class PcapHeader:
    """The decoded 24-byte pcap file header."""

    byte_order: str
    """``"little"`` or ``"big"``, from the magic."""
    nanosecond: bool
    """True for the 0xa1b23c4d magic (nanosecond timestamps), False for microseconds."""
    modified: bool
    """True for the "modified" (Kuznetzov) variant with 24-byte record headers."""
    version: tuple[int, int]
    """Major and minor version (2, 4 in practice)."""
    thiszone: int
    """GMT offset in seconds (always 0 in practice; not applied)."""
    snaplen: int
    """Snapshot length of the capture."""
    linktype: int
    """LINKTYPE_* number (the lower 26 bits of the header's link-type field)."""
    fcs_bits: int
    """The top 4 bits of the link-type field (libpcap LT_FCS_LENGTH_PRESENT and length)."""


def parse_pcap_header(data: bytes, path: str = "<pcap>") -> PcapHeader:
    """Return the decoded pcap file header at the start of ``data`` (24 bytes or more).

    Raises:
        CaptureFormatError: not a pcap magic, or fewer than 24 bytes.
    """
    if len(data) < PCAP_HEADER_LEN:
        raise CaptureFormatError(path, 0, f"pcap file header needs {PCAP_HEADER_LEN} bytes, {len(data)} available")
    for order, prefix in (("little", "<"), ("big", ">")):
        (magic,) = struct.unpack_from(prefix + "I", data, 0)
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED):
            break
    else:
        raise CaptureFormatError(path, 0, f"not a pcap file (magic 0x{data[:4].hex()})")
    _, major, minor, thiszone, _sigfigs, snaplen, network = struct.unpack_from(prefix + "IHHiIII", data, 0)
    # The upper bits of the linktype field carry the FCS length (libpcap LT_FCS_LENGTH).
    return PcapHeader(order, magic == PCAP_MAGIC_NS, magic == PCAP_MAGIC_MODIFIED, (major, minor),
                      thiszone, snaplen, network & 0x03FFFFFF, network >> 28)


class PcapDecoder(StreamBuffer):
    """Streaming pcap decoder: ``feed(chunk)`` returns the frames completed; ``feed(b"")`` is EOF."""

    def __init__(self, path_label: str = "<pcap>", info: CaptureInfo | None = None, *, strict: bool = False,
                 base_offset: int = 0) -> None:
        self.path = path_label
        self.strict = strict
        self.info = info if info is not None else CaptureInfo()
        self.header: PcapHeader | None = None
        self.records_read = 0
        self._pending = bytearray()
        self._need = PCAP_HEADER_LEN
        self._base = base_offset  # absolute file offset of the first byte not yet consumed
        self._error: CaptureFormatError | None = None
        self._eof = False
        self._rec: struct.Struct | None = None
        self._rec_len = 16
        self._mult = 1000
        self._max = MAX_CAPLEN
        self._linktype = 0
        self._limit_what = ""

    @property
    def offset(self) -> int:
        """Return the absolute byte offset of the first byte not yet consumed."""
        return self._base

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Return the frames completed by ``data``; ``b""`` signals end of input.

        Raises:
            CaptureFormatError: bad header or corrupt record (after earlier frames were returned).
            TruncatedCaptureError: at EOF, when the input ends inside the header or a record.
        """
        buf = self._take(data)
        if buf is None:
            return []
        out: list[Frame] = []
        self._parse(buf, out, None)
        return out

    def feed_raw(self, data: bytes | bytearray | memoryview) -> list[RawRecord]:
        """Return ``(ts_ns, linktype, caplen, wirelen, buf, offset)`` tuples completed by ``data``.

        The fast path: no :class:`Frame` and no copy of the packet bytes; the frame data is
        ``buf[offset:offset + caplen]``. Same errors as :meth:`feed`.
        """
        buf = self._take(data)
        if buf is None:
            return []
        out: list[RawRecord] = []
        self._parse(buf, None, out)
        return out

    # -- internals -------------------------------------------------------------------------------

    def _at_eof(self) -> None:
        have = len(self._pending)
        if self.header is None:
            err: CaptureFormatError = TruncatedCaptureError(
                self.path, self._base,
                f"pcap file header is cut short (needs {PCAP_HEADER_LEN} bytes, {have} present, "
                f"{PCAP_HEADER_LEN - have} missing)", 0)
        elif have:
            n = self.records_read + 1
            if have < self._rec_len:
                what = f"record {n} header is cut short (needs {self._rec_len} bytes, {have} present, {self._rec_len - have} missing)"
            else:
                caplen = self._need - self._rec_len
                what = (f"record {n} is cut short (caplen {caplen}, needs {self._need} bytes, {have} present, "
                        f"{self._need - have} missing)")
            err = TruncatedCaptureError(self.path, self._base, what, self.records_read)
        else:
            return
        self._error = err
        raise err

    def _header(self, buf: bytes) -> None:
        try:
            h = parse_pcap_header(buf, self.path)
        except CaptureFormatError as err:
            err.offset = self._base
            self._error = err
            raise
        self.header = h
        prefix = "<" if h.byte_order == "little" else ">"
        self._rec = struct.Struct(prefix + "IIII")
        self._rec_len = 24 if h.modified else 16
        self._mult = 1 if h.nanosecond else 1000
        self._linktype = h.linktype
        self._max = max_caplen_for(h.linktype)
        self._limit_what = f"the maximum of {self._max} for linktype {h.linktype}"
        if self.strict and 0 < h.snaplen < self._max:
            self._max = h.snaplen
            self._limit_what = f"the file's snaplen of {h.snaplen}"
        info = self.info
        info.format = "pcap"
        info.byte_order = h.byte_order
        info.version = h.version
        info.sections = 1
        info.add_interface(InterfaceInfo(h.linktype, h.snaplen, _NS_PER_S if h.nanosecond else 1_000_000))

    def _parse(self, buf: bytes, frames: list[Frame] | None, raws: list[RawRecord] | None) -> None:
        n = len(buf)
        pos = 0
        if self.header is None:
            if n < PCAP_HEADER_LEN:
                self._pending = bytearray(buf)
                self._need = PCAP_HEADER_LEN
                return
            self._header(buf)
            pos = PCAP_HEADER_LEN
        assert self._rec is not None
        unpack = self._rec.unpack_from
        rec_len = self._rec_len
        mult = self._mult
        lt = self._linktype
        limit = self._max
        count = 0
        err: CaptureFormatError | None = None
        need = rec_len
        if frames is not None:
            append_f = frames.append
            new = object.__new__
            set_ts, set_lt, set_data, set_wl, set_if, set_cm = _SETTERS
            while pos + rec_len <= n:
                sec, frac, caplen, wirelen = unpack(buf, pos)
                if caplen > limit:
                    err = self._corrupt(pos, caplen, count)
                    break
                start = pos + rec_len
                end = start + caplen
                if end > n:
                    need = rec_len + caplen
                    break
                # Frame(sec * _NS_PER_S + frac * mult, lt, buf[start:end], wirelen), built field by field
                f = new(Frame)
                set_ts(f, sec * _NS_PER_S + frac * mult)
                set_lt(f, lt)
                set_data(f, buf[start:end])
                set_wl(f, wirelen)
                set_if(f, 0)
                set_cm(f, None)
                append_f(f)
                pos = end
                count += 1
        else:
            assert raws is not None
            append_r = raws.append
            while pos + rec_len <= n:
                sec, frac, caplen, wirelen = unpack(buf, pos)
                if caplen > limit:
                    err = self._corrupt(pos, caplen, count)
                    break
                start = pos + rec_len
                end = start + caplen
                if end > n:
                    need = rec_len + caplen
                    break
                append_r((sec * _NS_PER_S + frac * mult, lt, caplen, wirelen, buf, start))
                pos = end
                count += 1
        self._settle(buf, pos, count, need, err)

    def _corrupt(self, pos: int, caplen: int, count: int) -> CaptureFormatError:
        n = self.records_read + count + 1
        return CaptureFormatError(
            self.path, self._base + pos,
            f"record {n} has caplen {caplen}, larger than {self._limit_what}")
