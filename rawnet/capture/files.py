"""Reading capture files and streams (the I/O edge over the sans-IO decoders).

Theory of operation
-------------------
``open_capture(source)`` opens a path, ``"-"`` (standard input, so ``tcpdump -w - | rawnet pcap
flows -`` works) or an already open binary file object, reads the first chunk and sniffs its magic:
pcap (either byte order, micro- or nanosecond, the "modified" variant), pcapng, or gzip. A gzip
stream (a ``.pcap.gz`` file or a compressed pipe) is decompressed incrementally with ``zlib`` in
bounded pieces, and the decompressed bytes are sniffed again. The chosen decoder is fed fixed-size
chunks, so memory stays constant whatever the file size. For gzip input the byte offsets in error
messages count decompressed bytes.

Two ways to read:

* ``iter(reader)`` / :func:`iter_frames` yields :class:`~rawnet.capture.frame.Frame` objects.
* :meth:`CaptureReader.records` / :func:`iter_records` is the hot path for benchmarks: it yields
  ``(ts_ns, linktype, caplen, wirelen, buf, offset)`` tuples where the packet bytes are
  ``buf[offset:offset + caplen]`` inside the current 1 MiB read buffer (valid as long as you
  keep ``buf``). For pcap no object is created per record except that tuple; for pcapng the tuple
  wraps the decoded frame data (offset 0).

Both raise the decoders' errors: :class:`~rawnet.errors.CaptureFormatError` for a corrupt file and
:class:`~rawnet.errors.TruncatedCaptureError` after every good frame was yielded when the input
ends inside a record. ``reader.info`` (:class:`~rawnet.capture.frame.CaptureInfo`) is filled from
the header at open time and grows while reading (pcapng interfaces, linktypes, record count).
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Final

from ..errors import CaptureFormatError, TruncatedCaptureError
from .frame import CaptureInfo, Frame
from .pcap import PCAP_HEADER_LEN, PcapDecoder, RawRecord
from .pcapng import PcapngDecoder

__all__ = ["CaptureReader", "open_capture", "iter_frames", "iter_records", "sniff_format", "DEFAULT_CHUNK_SIZE"]

DEFAULT_CHUNK_SIZE: Final = 1 << 20

_PCAP_MAGICS: Final = {
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",  # microseconds, little / big endian
    b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",  # nanoseconds
    b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34",  # modified (Kuznetzov) pcap
}
_PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC: Final = b"\x1f\x8b"

Source = str | os.PathLike[str] | IO[bytes]


def sniff_format(head: bytes) -> str | None:
    """Return ``"pcap"``, ``"pcapng"``, ``"gzip"`` or ``None`` for the first bytes of a file."""
    if head[:2] == _GZIP_MAGIC:
        return "gzip"
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == _PCAPNG_MAGIC:
        return "pcapng"
    return None


class _Gunzip:
    """Incremental gzip decompression of a chunk iterator, in pieces of at most ``limit`` bytes."""

    def __init__(self, chunks: Iterator[bytes], label: str, limit: int) -> None:
        self.chunks = chunks
        self.label = label
        self.limit = limit
        self.consumed = 0
        self.truncated = False

    def __iter__(self) -> Iterator[bytes]:
        d = zlib.decompressobj(31)
        in_member = False
        for chunk in self.chunks:
            data = chunk
            while data:
                in_member = True
                try:
                    out = d.decompress(data, self.limit)
                except zlib.error as err:
                    raise CaptureFormatError(self.label, self.consumed, f"gzip stream is corrupt ({err})") from err
                self.consumed += len(data) - len(d.unconsumed_tail) - len(d.unused_data)
                if out:
                    yield out
                if d.eof:
                    rest = d.unused_data
                    in_member = False
                    d = zlib.decompressobj(31)
                    if rest and rest.strip(b"\0") and rest[:1] != b"\x1f":
                        raise CaptureFormatError(self.label, self.consumed, "trailing data after the gzip stream")
                    data = rest if rest.strip(b"\0") else b""
                    self.consumed += len(rest) - len(data)
                else:
                    data = d.unconsumed_tail
        if in_member:
            tail = d.flush()
            if tail:
                yield tail
            self.truncated = True


class CaptureReader:
    """An open capture: iterate it for :class:`Frame` objects, or call :meth:`records` for raw tuples."""

    def __init__(self, fileobj: IO[bytes], label: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 close: bool = True, strict: bool = False) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        self.path = label
        self.info = CaptureInfo()
        self._file = fileobj
        self._close = close
        self._chunk_size = chunk_size
        self._used = False
        self._gunzip: _Gunzip | None = None
        try:
            self._chunks = self._open(strict)
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------------

    def _read_chunks(self) -> Iterator[bytes]:
        read = getattr(self._file, "read1", None) or self._file.read
        size = self._chunk_size
        while True:
            chunk = read(size)
            if not chunk:
                return
            yield chunk

    def _open(self, strict: bool) -> Iterator[bytes]:
        chunks: Iterator[bytes] = self._read_chunks()
        head, chunks = _peek(chunks, 4)
        fmt = sniff_format(head)
        if fmt == "gzip":
            self.info.compressed = "gzip"
            self._gunzip = _Gunzip(_prepend(head, chunks), self.path, self._chunk_size)
            head, chunks = _peek(iter(self._gunzip), 4)
            fmt = sniff_format(head)
            if fmt == "gzip":
                raise CaptureFormatError(self.path, 0, "gzip inside gzip is not supported")
        if fmt is None:
            if not head:
                raise CaptureFormatError(self.path, 0, "empty file (not a pcap or pcapng file)")
            raise CaptureFormatError(self.path, 0, f"not a pcap or pcapng file (magic 0x{head[:4].hex()})")
        self.format = fmt
        self._decoder: PcapDecoder | PcapngDecoder
        if fmt == "pcap":
            self._decoder = PcapDecoder(self.path, self.info, strict=strict)
            head, chunks = _peek(chunks, PCAP_HEADER_LEN, head)
            # parse the header now, so that reader.info is filled at open
            self._decoder.feed(head[:PCAP_HEADER_LEN])
            if len(head) < PCAP_HEADER_LEN:
                self._decoder.feed(b"")  # raises TruncatedCaptureError
            head = head[PCAP_HEADER_LEN:]
        else:
            self._decoder = PcapngDecoder(self.path, self.info)
            self.info.format = "pcapng"
        return _prepend(head, chunks) if head else chunks

    # -- reading ---------------------------------------------------------------------------------

    def _start(self) -> Iterator[bytes]:
        if self._used:
            raise ValueError(f"{self.path}: a capture can be iterated only once")
        self._used = True
        return self._chunks

    def _finish(self) -> None:
        dec = self._decoder
        dec.feed(b"")
        if self._gunzip is not None and self._gunzip.truncated:
            raise TruncatedCaptureError(self.path, dec.offset,
                                        f"gzip stream is cut short (after {self._gunzip.consumed} compressed bytes)",
                                        dec.records_read)

    def __iter__(self) -> Iterator[Frame]:
        """Return an iterator over the frames (once per reader)."""
        chunks = self._start()
        feed = self._decoder.feed
        for chunk in chunks:
            yield from feed(chunk)
        self._finish()

    def records(self) -> Iterator[RawRecord]:
        """Return an iterator of ``(ts_ns, linktype, caplen, wirelen, buf, offset)`` tuples (the fast path)."""
        chunks = self._start()
        feed_raw = self._decoder.feed_raw
        for chunk in chunks:
            yield from feed_raw(chunk)
        self._finish()

    @property
    def records_read(self) -> int:
        """Return the number of frames decoded so far."""
        return self._decoder.records_read

    def close(self) -> None:
        """Close the underlying file if this reader opened it; returns nothing."""
        if self._close:
            self._file.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _peek(chunks: Iterator[bytes], n: int, prefix: bytes = b"") -> tuple[bytes, Iterator[bytes]]:
    """Return ``prefix`` plus enough chunks for ``n`` bytes (fewer at EOF), and the iterator over the rest."""
    parts: list[bytes] = [prefix]
    have = len(prefix)
    if have >= n:
        return prefix, chunks
    for chunk in chunks:
        parts.append(chunk)
        have += len(chunk)
        if have >= n:
            break
    return b"".join(parts), chunks


def _prepend(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Return an iterator yielding ``first`` (when not empty) and then ``chunks``."""
    if first:
        yield first
    yield from chunks


def open_capture(source: Source, *, chunk_size: int = DEFAULT_CHUNK_SIZE, strict: bool = False) -> CaptureReader:
    """Return a :class:`CaptureReader` for a path, ``"-"`` (stdin) or a binary file object.

    The header is read at once, so ``reader.info`` is available before the first frame.

    Raises:
        CaptureFormatError: not a pcap/pcapng/gzip file, or a corrupt header.
        TruncatedCaptureError: the header itself is cut short.
        OSError: the file cannot be opened.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            return CaptureReader(sys.stdin.buffer, "<stdin>", chunk_size=chunk_size, close=False, strict=strict)
        return CaptureReader(open(path, "rb"), path, chunk_size=chunk_size, close=True, strict=strict)
    label = str(getattr(source, "name", "<stream>"))
    return CaptureReader(source, label, chunk_size=chunk_size, close=False, strict=strict)


def iter_frames(source: Source, chunk_size: int = DEFAULT_CHUNK_SIZE, *, strict: bool = False) -> Iterator[Frame]:
    """Return an iterator over the frames of a capture path, ``"-"`` (stdin) or binary file object.

    Raises (while iterating):
        CaptureFormatError: bad magic or corrupt record.
        TruncatedCaptureError: after every good frame, when the input ends inside a record.
    """
    with open_capture(source, chunk_size=chunk_size, strict=strict) as reader:
        yield from reader


def iter_records(source: Source, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[RawRecord]:
    """Return an iterator of ``(ts_ns, linktype, caplen, wirelen, buf, offset)`` tuples (fast path).

    The packet bytes are ``buf[offset:offset + caplen]``; no :class:`Frame` is built.
    """
    with open_capture(source, chunk_size=chunk_size) as reader:
        yield from reader.records()
