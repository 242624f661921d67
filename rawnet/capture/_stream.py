"""The buffering shared by the streaming decoders (h11 style: ``feed(chunk)``, ``feed(b"")`` = EOF)."""

from __future__ import annotations

from typing import Any

from ..errors import CaptureFormatError


class StreamBuffer:
    """Mixin: hold one partial record until ``_need`` bytes are there; subclasses set the attributes."""

    path: str
    _error: CaptureFormatError | None
    _eof: bool
    _base: int
    _pending: bytearray
    _need: int
    records_read: int
    info: Any

    def _at_eof(self) -> None:
        raise NotImplementedError

    def _take(self, data: bytes | bytearray | memoryview) -> bytes | None:
        """Return the buffer to parse now, or None when more input is needed (or at EOF)."""
        if self._error is not None:
            raise self._error
        if self._eof:
            if data:
                raise CaptureFormatError(self.path, self._base, "data fed after end of input")
            return None
        if not data:
            self._eof = True
            self._at_eof()
            return None
        if self._pending:
            self._pending += data
            if len(self._pending) < self._need:
                return None
            buf = bytes(self._pending)
            self._pending = bytearray()
            return buf
        return data if type(data) is bytes else bytes(data)

    def _settle(self, buf: bytes, pos: int, count: int, need: int, err: CaptureFormatError | None) -> None:
        """Account for ``count`` records parsed up to ``pos`` of ``buf``; keep the rest, or remember ``err``.

        A corrupt record is raised at once when nothing before it was returned in this call, else on the
        next call, so every good record reaches the caller first.
        """
        self.records_read += count
        self.info.records += count
        self._base += pos
        if err is not None:
            self._error = err
            if count == 0:
                raise err
            return
        if pos < len(buf):
            self._pending = bytearray(memoryview(buf)[pos:])
        self._need = need
