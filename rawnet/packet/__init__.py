"""The sans-IO packet codec: bytes <-> header objects, strict and lenient, with checksums.

Never imports socket, time, scapy or psutil.
"""

from __future__ import annotations

from .checksum import internet_checksum as internet_checksum
from .checksum import transport_checksum as transport_checksum
from .icmp import ICMPMessage as ICMPMessage
from .icmp import ICMPType as ICMPType
from .icmp import ICMPv6Type as ICMPv6Type
from .icmp import build_icmp as build_icmp
from .icmp import parse_icmp as parse_icmp
from .ipv4 import IPv4Header as IPv4Header
from .ipv4 import build_ipv4 as build_ipv4
from .ipv4 import parse_ipv4 as parse_ipv4
from .ipv6 import IPv6Extension as IPv6Extension
from .ipv6 import IPv6Header as IPv6Header
from .ipv6 import build_ipv6 as build_ipv6
from .ipv6 import parse_ipv6 as parse_ipv6
from .link import EthernetHeader as EthernetHeader
from .link import LinkType as LinkType
from .link import NullHeader as NullHeader
from .link import SLL2Header as SLL2Header
from .link import SLLHeader as SLLHeader
from .link import VLANTag as VLANTag
from .stack import Packet as Packet
from .stack import QuotedTCP as QuotedTCP
from .stack import decode as decode
from .stack import encode as encode
from .tcp import EOLOption as EOLOption
from .tcp import FastOpenOption as FastOpenOption
from .tcp import MSSOption as MSSOption
from .tcp import NOPOption as NOPOption
from .tcp import SACKOption as SACKOption
from .tcp import SACKPermittedOption as SACKPermittedOption
from .tcp import TCPFlags as TCPFlags
from .tcp import TCPHeader as TCPHeader
from .tcp import TimestampsOption as TimestampsOption
from .tcp import UnknownOption as UnknownOption
from .tcp import WindowScaleOption as WindowScaleOption
from .tcp import build_tcp as build_tcp
from .tcp import parse_tcp as parse_tcp
from .udp import UDPHeader as UDPHeader
from .udp import build_udp as build_udp
from .udp import parse_udp as parse_udp

__all__ = [
    "internet_checksum", "transport_checksum", "ICMPMessage", "ICMPType", "ICMPv6Type", "build_icmp", "parse_icmp",
    "IPv4Header", "build_ipv4", "parse_ipv4", "IPv6Extension", "IPv6Header", "build_ipv6", "parse_ipv6",
    "EthernetHeader", "LinkType", "NullHeader", "SLL2Header", "SLLHeader", "VLANTag", "Packet", "QuotedTCP",
    "decode", "encode", "EOLOption", "FastOpenOption", "MSSOption", "NOPOption", "SACKOption",
    "SACKPermittedOption", "TCPFlags", "TCPHeader", "TimestampsOption", "UnknownOption", "WindowScaleOption",
    "build_tcp", "parse_tcp", "UDPHeader", "build_udp", "parse_udp",
]
