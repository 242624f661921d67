"""Turning what the user typed into a checked target: name resolution, policy, route (edge)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from ..errors import TargetError, UsageError
from ..transport.policy import check_target
from ..transport.route import Route, route_to

__all__ = ["Target", "resolve", "prepare", "split_host_port"]


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved, allowed target and the kernel's route to it."""

    host: str
    """What the user typed."""
    addr: str
    """The address probed."""
    route: Route
    """How the kernel routes to it."""

    @property
    def version(self) -> int:
        """Return 4 or 6."""
        return 6 if ":" in self.addr else 4


def resolve(host: str, family: int | None = None) -> str:
    """Return the first address ``host`` resolves to (``family`` 4 or 6 restricts it).

    Raises:
        TargetError: the name does not resolve.
    """
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        if family is not None and ip.version != family:
            raise UsageError(f"{host} is an IPv{ip.version} address but -{family} was given")
        return str(ip)
    except ValueError:
        pass
    fam = {4: socket.AF_INET, 6: socket.AF_INET6}.get(family or 0, socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(host, None, fam, socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise TargetError(f"{host}: name does not resolve ({err.strerror})") from err
    return str(infos[0][4][0])


def split_host_port(text: str) -> tuple[str, int]:
    """Return (host, port) from ``HOST:PORT`` or ``[V6]:PORT``; raise UsageError otherwise."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{text!r}: expected HOST:PORT (IPv6 as [ADDR]:PORT) with a port 1-65535")
    return host, int(port)


def prepare(host: str, *, family: int | None = None, allow_broadcast: bool = False) -> Target:
    """Return the checked Target for ``host``: resolved, allowed by policy, with the kernel's route.

    Raises:
        TargetError: the name does not resolve, or there is no route.
        TargetNotAllowedError: unspecified, broadcast or multicast target without ``allow_broadcast``.
    """
    addr = resolve(host, family)
    check_target(addr, allow_broadcast=allow_broadcast)
    route = route_to(addr)
    check_target(addr, allow_broadcast=allow_broadcast, route_type=route.type)
    if not route.ok:
        raise TargetError(f"{host}: no route to {addr} ({route.error or route.type})")
    return Target(host, addr, route)


def open_for(host: str, *, family: int | None, allow_broadcast: bool, src: str | None, transport: Any,
             clock: Any, operation: str, caller: str) -> tuple[Any, str, str, bool]:
    """Return ``(transport, target address, source address, owned)`` for a diagnostic run.

    With no ``transport`` given, checks CAP_NET_RAW for ``operation``, resolves and vets the target,
    asks the kernel for the route and opens a raw transport on its interface (``owned`` is True: the
    caller closes it). With one given (tests, FakeTransport), only resolves; ``src`` is then required.

    Raises:
        PrivilegeError: no CAP_NET_RAW (exit 77).
        UsageError: a transport without ``src``.
    """
    if transport is None:
        from ..transport.privileges import require_cap_net_raw
        from ..transport.raw import open_transport

        require_cap_net_raw(operation)
        tgt = prepare(host, family=family, allow_broadcast=allow_broadcast)
        addr, src = tgt.addr, src or tgt.route.src
        return open_transport(addr, tgt.route.iface, clock=clock), addr, src, True
    addr = resolve(host, family)
    if src is None:
        raise UsageError(f"{caller}: pass src= with a transport")
    return transport, addr, src, False
