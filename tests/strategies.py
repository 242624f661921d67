"""hypothesis strategies for rawnet's header objects (``st.builds`` over every field).

Each strategy draws headers that survive ``parse(build(h))`` unchanged once the computed fields
(lengths, checksums, data offset) are filled in: TCP options never hold an EOL before the end, and
the padding up to a multiple of 4 is drawn as an explicit EOLOption; IPv6 extension headers carry
the next-header and length bytes their position in the chain implies.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from rawnet.packet import (EthernetHeader, FastOpenOption, ICMPMessage, IPv4Header, IPv6Extension, IPv6Header,
                           MSSOption, NOPOption, NullHeader, SACKOption, SACKPermittedOption, SLL2Header, SLLHeader,
                           TCPHeader, TimestampsOption, UDPHeader, UnknownOption, VLANTag, WindowScaleOption)
from rawnet.packet.tcp import EOLOption, TCPOption, build_tcp_options

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
mac = st.binary(min_size=6, max_size=6)
ipv4_addr = st.binary(min_size=4, max_size=4)
ipv6_addr = st.binary(min_size=16, max_size=16)

# kinds that parse as something other than UnknownOption for some lengths
_KNOWN_KINDS = frozenset((0, 1, 2, 3, 4, 5, 8, 34, 254))
unknown_kind = st.integers(6, 253).filter(lambda k: k not in _KNOWN_KINDS)

tcp_option: st.SearchStrategy[TCPOption] = st.one_of(
    st.builds(NOPOption),
    st.builds(MSSOption, u16),
    st.builds(WindowScaleOption, u8),
    st.builds(SACKPermittedOption),
    st.builds(SACKOption, st.lists(st.tuples(u32, u32), min_size=0, max_size=4).map(tuple)),
    st.builds(TimestampsOption, u32, u32),
    st.builds(FastOpenOption, st.binary(max_size=16), st.just(False)),
    st.builds(FastOpenOption, st.binary(max_size=16), st.just(True)),
    st.builds(UnknownOption, unknown_kind, st.binary(max_size=12)),
)


@st.composite
def tcp_options(draw: st.DrawFn) -> tuple[TCPOption, ...]:
    """Return options that fit in 40 bytes, padded with an explicit trailing EOL when needed."""
    opts: list[TCPOption] = []
    for opt in draw(st.lists(tcp_option, max_size=8)):
        if len(build_tcp_options((*opts, opt), pad=False)) <= 40:
            opts.append(opt)
    n = len(build_tcp_options(tuple(opts), pad=False))
    want_eol = draw(st.booleans())
    if n % 4 or (want_eol and n < 40):
        pad = (4 - (n + 1) % 4) % 4 if not n % 4 else 4 - n % 4 - 1
        opts.append(EOLOption(b"\x00" * pad))
    return tuple(opts)


tcp_headers = st.builds(
    TCPHeader, src_port=u16, dst_port=u16, seq=u32, ack=u32, flags=st.integers(0, 0x1FF), window=u16,
    urgent_pointer=u16, options=tcp_options(), reserved=st.integers(0, 7),
)

udp_headers = st.builds(UDPHeader, src_port=u16, dst_port=u16)

ipv4_options = st.integers(0, 10).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))

ipv4_headers = st.builds(
    IPv4Header, src=ipv4_addr, dst=ipv4_addr, protocol=u8, ttl=u8, identification=u16, flags=st.integers(0, 7),
    fragment_offset=st.integers(0, 0x1FFF), dscp=st.integers(0, 63), ecn=st.integers(0, 3), options=ipv4_options,
)


@st.composite
def ipv6_extension_chain(draw: st.DrawFn, upper: int) -> tuple[int, tuple[IPv6Extension, ...]]:
    """Return (first next-header, extensions) ending in ``upper``; a fragment header has offset 0."""
    kinds = draw(st.lists(st.sampled_from((0, 43, 44, 60)), max_size=4))
    if 0 in kinds:  # hop-by-hop must come first to be meaningful; keep at most one, at the front
        kinds = [0] + [k for k in kinds if k != 0]
    exts: list[IPv6Extension] = []
    for i, kind in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else upper
        if kind == 44:
            frag = draw(st.integers(0, 1))  # offset 0 so the chain continues; M flag either way
            data = struct.pack("!BBHI", nxt, 0, frag, draw(u32))
        else:
            units = draw(st.integers(0, 3))
            body = draw(st.binary(min_size=6 + 8 * units, max_size=6 + 8 * units))
            data = bytes((nxt, units)) + body
        exts.append(IPv6Extension(kind, nxt, data))
    return (kinds[0] if kinds else upper), tuple(exts)


@st.composite
def ipv6_headers(draw: st.DrawFn, upper: st.SearchStrategy[int] = u8) -> IPv6Header:
    """Return an IPv6 header with a consistent extension chain."""
    up = draw(upper.filter(lambda n: n not in (0, 43, 44, 60, 51, 135, 139, 140)))
    first, exts = draw(ipv6_extension_chain(up))
    return IPv6Header(draw(ipv6_addr), draw(ipv6_addr), first, draw(u8), draw(u8), draw(st.integers(0, 0xFFFFF)),
                      exts)


icmp_messages = st.builds(ICMPMessage, type=u8, code=u8, rest=st.binary(min_size=4, max_size=4),
                          body=st.binary(max_size=64), version=st.just(4))
icmpv6_messages = st.builds(ICMPMessage, type=u8, code=u8, rest=st.binary(min_size=4, max_size=4),
                            body=st.binary(max_size=64), version=st.just(6))

vlan_tags = st.builds(VLANTag, st.sampled_from((0x8100, 0x88A8, 0x9100)), st.integers(0, 7), st.integers(0, 1),
                      st.integers(0, 4095))
ethernet_headers = st.builds(EthernetHeader, mac, mac, st.sampled_from((0x0800, 0x86DD, 0x0806, 0x88CC)),
                             st.lists(vlan_tags, max_size=3).map(tuple))
sll_headers = st.builds(SLLHeader, u16, u16, u16, st.binary(min_size=8, max_size=8), u16)
sll2_headers = st.builds(SLL2Header, u16, u16, u32, u16, u8, u8, st.binary(min_size=8, max_size=8))
null_headers = st.one_of(
    st.builds(NullHeader, st.sampled_from((2, 10, 24, 28, 30)), st.sampled_from(("little", "big"))),
)
