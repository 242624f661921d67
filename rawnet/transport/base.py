"""The transport interface diag functions talk to (pure; implemented by raw.LiveTransport and testing.FakeTransport)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Transport"]


class Transport(Protocol):
    """Sends whole IP packets and returns received IP packets with monotonic timestamps."""

    def send(self, data: bytes, dst: str) -> None:
        """Send one IP packet (header included) to ``dst``; returns nothing."""

    def recv(self, timeout_ns: int) -> list[tuple[int, bytes]]:
        """Return the (ts_ns, ip_packet) pairs that arrive within ``timeout_ns`` (may return early, maybe empty)."""
        ...

    def close(self) -> None:
        """Release the sockets; returns nothing."""
