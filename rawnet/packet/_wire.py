"""Bounds checks shared by the layer parsers: a short read raises TruncatedPacketError, never IndexError."""

from __future__ import annotations

from ..errors import TruncatedPacketError


def need(data: bytes | memoryview, offset: int, n: int, layer: str, what: str = "header") -> None:
    """Return None when ``n`` bytes are available at ``offset``; raise TruncatedPacketError otherwise."""
    available = len(data) - offset
    if available < n:
        raise TruncatedPacketError(layer, offset, n, max(available, 0), what)
