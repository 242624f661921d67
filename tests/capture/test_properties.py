"""Property tests: any bytes give frames or a rawnet DecodeError, never struct.error/IndexError;
chunking never changes the result; writers and readers round-trip."""

from __future__ import annotations

import io

from _capbuild import PCAP_NS, PCAP_US, epb, idb, pcap_file, shb
from hypothesis import given
from hypothesis import strategies as st

from rawnet.capture import Frame, PcapDecoder, PcapngDecoder, PcapngWriter, PcapWriter, iter_frames
from rawnet.errors import DecodeError

VALID_PCAP = pcap_file("<", PCAP_US, [(1, 2, bytes(range(40))), (3, 4, b"x" * 7), (5, 6, b"")])
VALID_PCAPNG = shb() + idb(tsresol=9) + epb("<", 0, 77, b"abcdef", comment="c") + epb("<", 0, 78, b"")


def decode_all(decoder: PcapDecoder | PcapngDecoder, chunks: list[bytes]) -> tuple[list[Frame], str | None]:
    frames: list[Frame] = []
    try:
        for c in chunks:
            if c:
                frames += decoder.feed(c)
        frames += decoder.feed(b"")
    except DecodeError as err:
        return frames, f"{type(err).__name__}: {err}"
    return frames, None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@given(st.binary(max_size=300))
def test_any_bytes_after_a_pcap_header(tail: bytes) -> None:
    for magic in (PCAP_US, PCAP_NS):
        data = pcap_file(">", magic) + tail
        frames, err = decode_all(PcapDecoder("h"), [data])
        assert all(type(f.ts_ns) is int for f in frames)
        assert (frames, err) == decode_all(PcapDecoder("h"), [data[i:i + 1] for i in range(len(data))])


@given(st.binary(max_size=300))
def test_any_bytes_after_a_pcapng_header(tail: bytes) -> None:
    data = shb() + idb() + tail
    frames, err = decode_all(PcapngDecoder("h"), [data])
    assert (frames, err) == decode_all(PcapngDecoder("h"), [data[i:i + 1] for i in range(len(data))])


@given(st.binary(max_size=200))
def test_any_bytes_at_all(data: bytes) -> None:
    decode_all(PcapDecoder("h"), [data])
    decode_all(PcapngDecoder("h"), [data])
    try:
        list(iter_frames(io.BytesIO(data)))
    except DecodeError:
        pass


@given(st.sampled_from(["pcap", "pcapng"]), st.integers(0, 10_000), st.integers(0, 255), st.lists(st.integers(0, 10_000)))
def test_one_corrupted_byte_anywhere(fmt: str, pos: int, value: int, cuts: list[int]) -> None:
    base = VALID_PCAP if fmt == "pcap" else VALID_PCAPNG
    make = PcapDecoder if fmt == "pcap" else PcapngDecoder
    data = bytearray(base)
    data[pos % len(data)] = value
    whole = decode_all(make("h"), [bytes(data)])
    assert decode_all(make("h"), split(bytes(data), cuts)) == whole


frames_st = st.lists(st.builds(
    Frame,
    ts_ns=st.integers(0, 2**32 * 10**9 - 1),
    linktype=st.just(1),
    data=st.binary(max_size=100),
    wirelen=st.integers(0, 2000),
), max_size=8)


@given(frames_st, st.booleans())
def test_pcap_writer_round_trip(frames: list[Frame], nanosecond: bool) -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, 1, nanosecond)
    for f in frames:
        w.write(f)
    unit = 1 if nanosecond else 1000
    assert list(iter_frames(io.BytesIO(buf.getvalue()))) == [
        Frame(f.ts_ns // unit * unit, 1, f.data, f.wirelen) for f in frames]


@given(st.lists(st.builds(
    Frame,
    ts_ns=st.integers(0, 2**64 - 1),
    linktype=st.sampled_from([1, 101, 113, 276]),
    data=st.binary(max_size=100),
    wirelen=st.integers(0, 2**32 - 1),
    interface=st.integers(0, 3),
    comment=st.none() | st.text(max_size=20),
), max_size=8), st.sampled_from(["little", "big"]))
def test_pcapng_writer_round_trip(frames: list[Frame], order: str) -> None:
    buf = io.BytesIO()
    w = PcapngWriter(buf, byte_order=order)
    ids = [w.interface_id(f.interface, f.linktype) for f in frames]
    for f in frames:
        w.write(f)
    got = list(iter_frames(io.BytesIO(buf.getvalue()), chunk_size=13))
    assert got == [Frame(f.ts_ns, f.linktype, f.data, f.wirelen, i, f.comment) for f, i in zip(frames, ids, strict=True)]
