"""Conversion to and from scapy packets, through bytes. The only module that imports scapy, lazily,
from its layer modules (never ``scapy.all``)."""

from __future__ import annotations

from typing import Any

from .link import LinkType, NullHeader
from .stack import Packet, decode, encode

__all__ = ["to_scapy", "from_scapy"]


def to_scapy(pkt: Packet) -> Any:
    """Return a scapy packet equal to ``encode(pkt)``, rooted at the layer matching its link type."""
    data = encode(pkt)
    lt = pkt.linktype
    # importing scapy's inet layers registers their bind_layers (Ether/SLL/Loopback -> IP/IPv6 -> TCP/UDP/ICMP);
    # with scapy.layers.l2 alone, everything above the link layer would dissect as Raw
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.inet6  # noqa: F401

    if lt == LinkType.ETHERNET:
        from scapy.layers.l2 import Ether

        return Ether(data)
    if lt == LinkType.LINUX_SLL:
        from scapy.layers.l2 import CookedLinux

        return CookedLinux(data)
    if lt == LinkType.LINUX_SLL2:
        from scapy.layers.l2 import CookedLinuxV2

        return CookedLinuxV2(data)
    if lt in (LinkType.NULL, LinkType.LOOP):
        from scapy.layers.l2 import Loopback, LoopbackOpenBSD

        # DLT_LOOP, and DLT_NULL written by a big-endian host, hold the family in network order
        big = lt == LinkType.LOOP or (isinstance(pkt.link, NullHeader) and pkt.link.byte_order == "big")
        return LoopbackOpenBSD(data) if big else Loopback(data)
    version = pkt.ip_version
    if version == 6:
        from scapy.layers.inet6 import IPv6

        return IPv6(data)
    from scapy.layers.inet import IP

    return IP(data)


def from_scapy(scapy_pkt: Any, *, strict: bool = True) -> Packet:
    """Return the rawnet Packet of ``bytes(scapy_pkt)``, the link type chosen from its first layer."""
    name = type(scapy_pkt).__name__
    linktype = {"Ether": 1, "CookedLinux": 113, "CookedLinuxV2": 276, "Loopback": 0, "LoopbackOpenBSD": 108,
                "IP": 228, "IPv6": 229}.get(name)
    if linktype is None:
        from ..errors import BuildError

        raise BuildError(f"from_scapy: a packet starting with {name} has no pcap link type rawnet decodes "
                         "(Ether, CookedLinux, CookedLinuxV2, Loopback, LoopbackOpenBSD, IP, IPv6)")
    return decode(bytes(scapy_pkt), linktype, strict=strict)
