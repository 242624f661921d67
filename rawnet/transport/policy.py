"""Which targets may be probed, and the hard bounds every send loop obeys (pure).

Unspecified (0.0.0.0, ::), limited broadcast (255.255.255.255), a subnet's broadcast address (when
the route says so) and multicast targets are refused unless the caller asks for them: a probe to
them reaches many hosts at once. Every send loop has a count, a time and a rate bound; the default
rate can be lifted only explicitly (``Bounds(rate_pps=None)``), as the benchmark does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import TargetNotAllowedError, UsageError

__all__ = ["check_target", "Bounds", "DEFAULT_RATE_PPS", "MAX_PACKETS", "MAX_DURATION_S"]

DEFAULT_RATE_PPS = 1000
MAX_PACKETS = 1_000_000
MAX_DURATION_S = 600.0


def check_target(addr: str, *, allow_broadcast: bool = False, route_type: str | None = None,
                 option: str = "--allow-broadcast") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return the parsed address; raise TargetNotAllowedError for unspecified/broadcast/multicast targets.

    Args:
        addr: the target address as text.
        allow_broadcast: the caller asked for broadcast and multicast targets.
        route_type: the kernel's route type for it ("broadcast", "multicast", "unicast", "local"), if known.

    Raises:
        UsageError: ``addr`` is not an IP address.
        TargetNotAllowedError: unspecified always; broadcast and multicast unless ``allow_broadcast``.
    """
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError as err:
        raise UsageError(f"{addr!r} is not an IPv4 or IPv6 address") from err
    if ip.is_unspecified:
        raise TargetNotAllowedError(str(ip), "unspecified")
    if allow_broadcast:
        return ip
    if ip.is_multicast:
        raise TargetNotAllowedError(str(ip), "multicast", option)
    if ip.version == 4 and (int(ip) == 0xFFFFFFFF or route_type in ("broadcast",)):
        raise TargetNotAllowedError(str(ip), "broadcast", option)
    if route_type == "multicast":
        raise TargetNotAllowedError(str(ip), "multicast", option)
    return ip


@dataclass(frozen=True, slots=True)
class Bounds:
    """Hard limits of one send loop: packets, seconds and packets per second (None lifts the rate limit)."""

    max_packets: int = 10_000
    """Most packets the loop may send."""
    max_duration_s: float = 60.0
    """Longest the loop may run, replies included."""
    rate_pps: float | None = DEFAULT_RATE_PPS
    """Send rate limit; None means unlimited (benchmarks only, and only when asked for)."""

    def __post_init__(self) -> None:
        if not 0 < self.max_packets <= MAX_PACKETS:
            raise UsageError(f"packet bound {self.max_packets} must be between 1 and {MAX_PACKETS}")
        if not 0 < self.max_duration_s <= MAX_DURATION_S:
            raise UsageError(f"time bound {self.max_duration_s} s must be between 0 and {MAX_DURATION_S}")
        if self.rate_pps is not None and self.rate_pps <= 0:
            raise UsageError(f"rate {self.rate_pps} must be positive")

    @property
    def interval_ns(self) -> int:
        """Return the minimum gap between two sends in nanoseconds (0 when unlimited)."""
        return 0 if self.rate_pps is None else int(1e9 / self.rate_pps)
