"""The buffering shared by the streaming decoders (h11 style: ``feed(chunk)``, ``feed(b"")`` = EOF)."""

from __future__ import annotations

from ..errors import CaptureFormatError


class StreamBuffer:
    """Mixin: hold one partial record until ``_need`` bytes are there; subclasses set the attributes."""

    path: str
    _error: CaptureFormatError | None
    _eof: bool
    _base: int
    _pending: bytearray
    _need: int

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
