"""Writing pcap and pcapng files.

``PcapWriter`` writes a classic pcap header and one record per frame (micro- or nanosecond
timestamps; microseconds round down). ``PcapngWriter`` writes one Section Header Block, one
Interface Description Block per distinct ``(frame.interface, frame.linktype)`` pair on first use
(with ``if_tsresol`` = 9, so timestamps stay exact to the nanosecond), and one Enhanced Packet
Block per frame, with ``opt_comment`` when the frame has a comment. ``open_pcap_for_append``
reopens an existing pcap file after checking its header and that it ends on a record boundary.
Frames longer than the writer's snaplen are cut to it (``wirelen`` is kept).
"""

from __future__ import annotations

import os
import struct
from types import TracebackType
from typing import IO, Any, Final

from ..errors import BuildError, CaptureFormatError, TruncatedCaptureError, UsageError
from .frame import Frame
from .pcap import PCAP_HEADER_LEN, PCAP_MAGIC_NS, PCAP_MAGIC_US, parse_pcap_header
from .pcapng import BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC

__all__ = ["PcapWriter", "PcapngWriter", "append_packet", "open_pcap_for_append"]

_NS_PER_S: Final = 1_000_000_000
_MAX_U32: Final = 0xFFFFFFFF


def _prefix(byte_order: str) -> str:
    if byte_order not in ("little", "big"):
        raise UsageError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
    return "<" if byte_order == "little" else ">"


def _check_ts(frame: Frame) -> None:
    if frame.ts_ns < 0:
        raise BuildError(f"frame timestamp {frame.ts_ns} ns is before 1970 (pcap cannot store it)")


class PcapWriter:
    """Writes frames of one linktype to a binary file object as a classic pcap file."""

    def __init__(self, fileobj: IO[bytes], linktype: int, nanosecond: bool = False, snaplen: int = 262144, *,
                 byte_order: str = "little", write_header: bool = True) -> None:
        if not 0 < snaplen <= _MAX_U32:
            raise UsageError(f"snaplen must be between 1 and {_MAX_U32}, not {snaplen}")
        self.fileobj = fileobj
        self.linktype = linktype
        self.nanosecond = nanosecond
        self.snaplen = snaplen
        self.byte_order = byte_order
        self.records_written = 0
        prefix = _prefix(byte_order)
        self._rec = struct.Struct(prefix + "IIII")
        if write_header:
            magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
            fileobj.write(struct.pack(prefix + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, frame: Frame) -> None:
        """Append one frame as a pcap record; returns nothing.

        Raises:
            BuildError: the frame's linktype differs from the file's, or its timestamp does not fit.
        """
        if frame.linktype != self.linktype:
            raise BuildError(f"frame linktype {frame.linktype} differs from the pcap file's linktype {self.linktype}")
        _check_ts(frame)
        sec, ns = divmod(frame.ts_ns, _NS_PER_S)
        if sec > _MAX_U32:
            raise BuildError(f"frame timestamp {frame.ts_ns} ns is after 2106 (pcap cannot store it)")
        frac = ns if self.nanosecond else ns // 1000
        data = frame.data if len(frame.data) <= self.snaplen else frame.data[:self.snaplen]
        wirelen = min(frame.wirelen, _MAX_U32)
        self.fileobj.write(self._rec.pack(sec, frac, len(data), wirelen))
        self.fileobj.write(data)
        self.records_written += 1

    def flush(self) -> None:
        """Flush the underlying file object; returns nothing."""
        self.fileobj.flush()

    def close(self) -> None:
        """Flush and close the underlying file object; returns nothing."""
        self.fileobj.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _option(prefix: str, code: int, value: bytes) -> bytes:
    pad = (-len(value)) % 4
    return struct.pack(prefix + "HH", code, len(value)) + value + b"\0" * pad


def _block(prefix: str, btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(prefix + "II", btype, length) + body + struct.pack(prefix + "I", length)


class PcapngWriter:
    """Writes frames (any linktypes, several interfaces) to a binary file object as pcapng."""

    def __init__(self, fileobj: IO[bytes], *, snaplen: int = 262144, byte_order: str = "little",
                 comment: str | None = None, application: str | None = "rawnet",
                 interface_names: dict[int, str] | None = None) -> None:
        if not 0 <= snaplen <= _MAX_U32:
            raise UsageError(f"snaplen must be between 0 and {_MAX_U32}, not {snaplen}")
        self.fileobj = fileobj
        self.snaplen = snaplen
        self.byte_order = byte_order
        self.records_written = 0
        self._p = _prefix(byte_order)
        self._names = dict(interface_names or {})
        self._ifaces: dict[tuple[int, int], int] = {}
        self._epb = struct.Struct(self._p + "IIIIIII")
        opts = b""
        if comment:
            opts += _option(self._p, 1, comment.encode())
        if application:
            opts += _option(self._p, 4, application.encode())  # shb_userappl
        if opts:
            opts += b"\0\0\0\0"
        body = struct.pack(self._p + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts
        fileobj.write(_block(self._p, BLOCK_SHB, body))

    def interface_id(self, interface: int, linktype: int) -> int:
        """Return the IDB index for ``(interface, linktype)``, writing the IDB on first use."""
        key = (interface, linktype)
        idx = self._ifaces.get(key)
        if idx is None:
            if not 0 <= linktype <= 0xFFFF:
                raise BuildError(f"linktype {linktype} does not fit in a pcapng interface block (16 bits)")
            idx = len(self._ifaces)
            opts = b""
            name = self._names.get(interface)
            if name:
                opts += _option(self._p, 2, name.encode())  # if_name
            opts += _option(self._p, 9, b"\x09")  # if_tsresol: 10^-9
            opts += b"\0\0\0\0"
            body = struct.pack(self._p + "HHI", linktype, 0, self.snaplen) + opts
            self.fileobj.write(_block(self._p, BLOCK_IDB, body))
            self._ifaces[key] = idx
        return idx

    def write(self, frame: Frame) -> None:
        """Append one frame as an Enhanced Packet Block (with its comment); returns nothing.

        Raises:
            BuildError: negative timestamp or a linktype that does not fit in 16 bits.
        """
        _check_ts(frame)
        ifid = self.interface_id(frame.interface, frame.linktype)
        data = frame.data
        if self.snaplen and len(data) > self.snaplen:
            data = data[:self.snaplen]
        pad = (-len(data)) % 4
        opts = b""
        if frame.comment is not None:
            opts = _option(self._p, 1, frame.comment.encode()) + b"\0\0\0\0"
        length = 32 + len(data) + pad + len(opts)
        ts = frame.ts_ns
        head = self._epb.pack(BLOCK_EPB, length, ifid, ts >> 32, ts & 0xFFFFFFFF, len(data),
                              min(frame.wirelen, _MAX_U32))
        self.fileobj.write(head + data + b"\0" * pad + opts + struct.pack(self._p + "I", length))
        self.records_written += 1

    def flush(self) -> None:
        """Flush the underlying file object; returns nothing."""
        self.fileobj.flush()

    def close(self) -> None:
        """Flush and close the underlying file object; returns nothing."""
        self.fileobj.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_pcap_for_append(path: str | os.PathLike[str], linktype: int, *, nanosecond: bool = False,
                         snaplen: int = 262144) -> PcapWriter:
    """Return a :class:`PcapWriter` appending to ``path`` (created with a header when missing or empty).

    The existing header decides the byte order, timestamp unit and snaplen.

    Raises:
        CaptureFormatError: the file is not a classic pcap file.
        TruncatedCaptureError: the file ends inside a record (appending would corrupt it).
        UsageError: the file's linktype is not ``linktype``.
    """
    label = os.fspath(path)
    if not os.path.exists(label) or os.path.getsize(label) == 0:
        return PcapWriter(open(label, "wb"), linktype, nanosecond, snaplen)
    f = open(label, "r+b")
    try:
        head = f.read(PCAP_HEADER_LEN)
        if len(head) < PCAP_HEADER_LEN:
            raise TruncatedCaptureError(label, 0, f"pcap file header is cut short ({len(head)} of 24 bytes)", 0)
        hdr = parse_pcap_header(head, label)
        if hdr.modified:
            raise CaptureFormatError(label, 0, "appending to a modified (Kuznetzov) pcap file is not supported")
        if hdr.linktype != linktype:
            raise UsageError(f"{label}: the file has linktype {hdr.linktype}, not {linktype}; "
                             "append only frames of the file's linktype")
        # walk the record headers so that we never append after a cut record
        rec = struct.Struct(("<" if hdr.byte_order == "little" else ">") + "IIII")
        size = os.fstat(f.fileno()).st_size
        pos, count = PCAP_HEADER_LEN, 0
        while pos < size:
            f.seek(pos)
            raw = f.read(16)
            if len(raw) < 16:
                raise TruncatedCaptureError(label, pos, f"record {count + 1} header is cut short", count)
            caplen = rec.unpack(raw)[2]
            if pos + 16 + caplen > size:
                raise TruncatedCaptureError(label, pos, f"record {count + 1} is cut short (caplen {caplen})", count)
            pos += 16 + caplen
            count += 1
        f.seek(0, os.SEEK_END)
        writer = PcapWriter(f, linktype, hdr.nanosecond, hdr.snaplen or snaplen, byte_order=hdr.byte_order,
                            write_header=False)
        return writer
    except BaseException:
        f.close()
        raise


def append_packet(path: str | os.PathLike[str], packet: Any, *, ts_ns: int = 0, nanosecond: bool = True) -> None:
    """Append one codec ``Packet`` (bytes from ``rawnet.packet.stack.encode``) to a pcap file; returns nothing.

    The file is created (nanosecond pcap, the packet's linktype) when missing or empty. The writer
    reads no clock: pass ``ts_ns`` (default 0, i.e. 1970-01-01) to stamp the record.

    Raises:
        UsageError: the existing file has another linktype.
        CaptureFormatError / TruncatedCaptureError: the existing file is not a clean pcap file.
    """
    from ..packet.stack import encode  # the codec is imported only when a Packet is written

    data = encode(packet)
    linktype = int(packet.linktype)
    with open_pcap_for_append(path, linktype, nanosecond=nanosecond) as writer:
        writer.write(Frame(ts_ns, linktype, data, len(data)))
