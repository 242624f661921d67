"""Live diagnostics composed of the codec, the transport and the matcher: ping, SYN probe and scan,
traceroute, the handshake trace and the connection doctor.

Each diagnostic is ``plan_*()`` (pure: the packets to send) -> ``run_*()`` (edge: sends through a
Transport, ``clock=time.monotonic_ns``) -> ``interpret_*()`` (pure: observations to a result) -> a
result dataclass whose verdict is a StrEnum. Modules are imported individually (``rawnet.diag.probe``).
"""

from __future__ import annotations

__all__: list[str] = []
