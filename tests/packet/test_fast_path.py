"""decode()'s hot path for Ethernet / IPv4 / TCP must build exactly the Packet the general walk
builds: compared on every corpus frame and on hypothesis-made packets, with the hot path switched off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawnet.errors import DecodeError
from rawnet.packet import IPv4Header, Packet, decode, encode, stack
from rawnet.packet.link import EthernetHeader

from strategies import ethernet_headers, ipv4_headers, tcp_headers

from ._corpus import CORPUS, iter_records


@contextmanager
def _general_walk_only() -> Iterator[None]:
    saved = stack._decode_ethernet_ipv4_tcp
    stack._decode_ethernet_ipv4_tcp = lambda data: None  # type: ignore[assignment]
    try:
        yield
    finally:
        stack._decode_ethernet_ipv4_tcp = saved


def _comparable(p: Packet | None) -> object:
    """Return ``p`` with its errors (which compare by identity) replaced by (class, message)."""
    if p is None:
        return None
    from dataclasses import replace

    err = p.error
    return (replace(p, error=None, quoted=None), (type(err), str(err)) if err else None, _comparable(p.quoted))


def _both(data: bytes, linktype: int, strict: bool) -> tuple[object, object]:
    def run() -> object:
        try:
            return _comparable(decode(data, linktype, strict=strict))
        except DecodeError as err:
            return (type(err), str(err))

    fast = run()
    with _general_walk_only():
        general = run()
    return fast, general


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"tcpdump corpus not found at {CORPUS}")
def test_corpus_frames_agree() -> None:
    used = 0
    for path in sorted(CORPUS.glob("*.pcap*")):
        try:
            records = list(iter_records(path))
        except Exception:  # noqa: BLE001 - a cut file; test_corpus covers it
            continue
        for data, linktype in records:
            if linktype != 1:
                continue
            for strict in (True, False):
                fast, general = _both(data, linktype, strict)
                assert fast == general, (path.name, strict)
            used += stack._decode_ethernet_ipv4_tcp(data) is not None
    assert used > 400  # the hot path really ran (423 corpus frames take it)


@settings(max_examples=400)
@given(ethernet_headers, ipv4_headers, tcp_headers, st.binary(max_size=40), st.binary(max_size=6), st.data())
def test_made_packets_agree(eth: EthernetHeader, ip: IPv4Header, tcp: object, payload: bytes, trailer: bytes,
                            data: st.DataObject) -> None:
    from dataclasses import replace

    p = Packet(replace(eth, ethertype=0x0800), replace(ip, protocol=6), tcp, payload, trailer, 1)  # type: ignore[arg-type]
    wire = bytearray(encode(p))
    if data.draw(st.booleans()):  # damage a byte of the IP or TCP header now and then
        i = data.draw(st.integers(14, min(len(wire) - 1, 80)))
        wire[i] = data.draw(st.integers(0, 255))
    for strict in (True, False):
        fast, general = _both(bytes(wire), 1, strict)
        assert fast == general


def test_hot_path_objects_are_ordinary_frozen_instances() -> None:
    import dataclasses

    from rawnet.packet import TCPHeader

    from .test_tcp import ACCECN_ACK

    p = decode(ACCECN_ACK)
    assert stack._decode_ethernet_ipv4_tcp(ACCECN_ACK) == p
    assert (type(p), type(p.network), type(p.tcp), type(p.link)) == (Packet, IPv4Header, TCPHeader, EthernetHeader)
    for obj, field in ((p, "payload"), (p.network, "ttl"), (p.tcp, "seq"), (p.link, "src")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, 1)
    rebuilt = TCPHeader(**{f.name: getattr(p.tcp, f.name) for f in dataclasses.fields(TCPHeader)})
    assert (rebuilt == p.tcp, hash(rebuilt) == hash(p.tcp), repr(rebuilt) == repr(p.tcp)) == (True, True, True)
