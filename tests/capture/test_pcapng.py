"""PcapngDecoder: every block type, both byte orders, resolutions, sections, three ways, errors."""

from __future__ import annotations

import struct

import pytest
from _capbuild import (block, custom, epb, error_every_split, idb, isb, nrb, option, pb, shb, spb, three_ways,
                       unknown)

from rawnet.capture import CaptureInfo, Frame, PcapngDecoder
from rawnet.capture.pcapng import ts_to_ns
from rawnet.errors import CaptureFormatError, TruncatedCaptureError

P1 = bytes(range(60))
P2 = b"\x45" + bytes(39)
P3 = b"xyz"


def dec(label: str = "t.pcapng") -> PcapngDecoder:
    return PcapngDecoder(label)


@pytest.mark.parametrize("order", ["<", ">"])
def test_every_block_type_both_orders(order: str) -> None:
    data = (shb(order, options=option(order, 4, b"test") + struct.pack(order + "HH", 0, 0))
            + idb(order, linktype=1, snaplen=262144)
            + nrb(order)
            + epb(order, 0, 1700000000_123456, P1, wirelen=1514, comment="first packet")
            + custom(order)
            + spb(order, P2)
            + unknown(order)
            + pb(order, 0, 1700000002_000001, P3)
            + isb(order))
    frames = three_ways(dec, data)
    assert frames == [
        Frame(1700000000_123456000, 1, P1, 1514, 0, "first packet"),
        Frame(0, 1, P2, 40, 0, None),
        Frame(1700000002_000001000, 1, P3, 3, 0, None),
    ]


def test_info_is_filled_while_reading() -> None:
    info = CaptureInfo()
    d = PcapngDecoder("x", info)
    d.feed(shb(">") + idb(">", linktype=101, snaplen=9000, tsresol=9, name="eth0")
           + idb(">", linktype=113, tsresol=0x80 | 20, tsoffset=-5))
    assert (info.format, info.byte_order, info.version, info.sections, info.snaplen, info.ts_units_per_s,
            info.linktypes) == ("pcapng", "big", (1, 0), 1, 9000, 1_000_000_000, [101, 113])
    assert [(i.name, i.ts_units_per_s, i.ts_offset_s) for i in info.interfaces] == [
        ("eth0", 1_000_000_000, 0), (None, 1 << 20, -5)]


@pytest.mark.parametrize(("tsresol", "units", "expected_ns"), [
    (None, 1700000000_123456, 1700000000_123456000),      # default 10^-6
    (9, 1700000000_123456789, 1700000000_123456789),      # ns, exact
    (3, 1700000000_123, 1700000000_123000000),            # ms
    (0, 1700000000, 1700000000_000000000),                # s
    (12, 1000_123456789999, 1000_123456789),  # ps, rounded down
    (0x80 | 10, (5 << 10) | 512, 5_500000000),            # 2^-10: 5.5 s
    (0x80 | 30, (7 << 30) | (1 << 29), 7_500000000),      # 2^-30: 7.5 s
    (0x80 | 32, (3 << 32) | 1, 3_000000000),              # 2^-32: 3 s + 0.23 ns, rounded down
])
def test_timestamp_resolutions(tsresol: int | None, units: int, expected_ns: int) -> None:
    (f,) = three_ways(dec, shb() + idb(tsresol=tsresol) + epb("<", 0, units, P3))
    assert f.ts_ns == expected_ns
    assert type(f.ts_ns) is int


def test_tsoffset_is_added_in_seconds() -> None:
    (f,) = three_ways(dec, shb() + idb(tsresol=9, tsoffset=1000) + epb("<", 0, 5, P3))
    assert f.ts_ns == 1000_000000005


def test_ts_to_ns() -> None:
    assert [ts_to_ns(1, 6), ts_to_ns(1, 9), ts_to_ns(1999, 12), ts_to_ns(1 << 20, 0x94), ts_to_ns(3, 0x81)] == [
        1000, 1, 1, 1_000_000_000, 1_500_000_000]


def test_two_interfaces_with_different_linktypes_and_resolutions() -> None:
    data = (shb() + idb(linktype=1, tsresol=6) + idb(linktype=101, tsresol=9)
            + epb("<", 1, 1700000000_000000001, P2) + epb("<", 0, 1700000000_000001, P1))
    frames = three_ways(dec, data)
    assert [(f.ts_ns, f.linktype, f.interface) for f in frames] == [
        (1700000000_000000001, 101, 1), (1700000000_000001000, 1, 0)]


def test_several_sections_reset_interfaces_and_byte_order() -> None:
    data = (shb("<") + idb("<", linktype=1) + epb("<", 0, 1, P1)
            + shb(">") + idb(">", linktype=113, tsresol=9) + idb(">", linktype=101) + epb(">", 1, 2, P2)
            + epb(">", 0, 3, P3))
    info = CaptureInfo()
    frames = three_ways(lambda: PcapngDecoder("t", info), data)
    assert [(f.ts_ns, f.linktype, f.interface, f.data) for f in frames] == [
        (1000, 1, 0, P1), (2000, 101, 1, P2), (3, 113, 0, P3)]
    assert [i.section for i in info.interfaces[:3]] == [0, 1, 1]


def test_interface_of_a_previous_section_is_not_valid() -> None:
    data = shb() + idb() + idb() + epb("<", 1, 1, P1) + shb() + idb()
    bad_at = len(data)
    frames, err = error_every_split(dec, data + epb("<", 1, 1, P2))
    assert [f.data for f in frames] == [P1]
    assert type(err) is CaptureFormatError
    assert (err.offset, err.reason) == (bad_at, "packet on interface 1, but the section declares 1 interfaces")


def test_spb_caplen_is_min_of_wirelen_and_snaplen_of_idb0() -> None:
    data = shb() + idb(snaplen=10) + idb(snaplen=0) + spb("<", P1[:10], wirelen=60) + spb("<", P3)
    frames = three_ways(dec, data)
    assert [(f.data, f.wirelen, f.ts_ns) for f in frames] == [(P1[:10], 60, 0), (P3, 3, 0)]


def test_epb_options_after_padding_and_utf8_comment() -> None:
    (f,) = three_ways(dec, shb() + idb() + epb("<", 0, 1, b"12345", comment="café ☕"))
    assert (f.data, f.comment) == (b"12345", "café ☕")


def test_empty_file_with_only_shb() -> None:
    info = CaptureInfo()
    assert three_ways(lambda: PcapngDecoder("t", info), shb()) == []


@pytest.mark.parametrize("order", ["<", ">"])
def test_truncated_block_yields_good_frames_first(order: str) -> None:
    good = shb(order) + idb(order) + epb(order, 0, 1, P1) + epb(order, 0, 2, P2)
    cut = epb(order, 0, 3, P1)[:50]
    frames, err = error_every_split(dec, good + cut)
    assert [f.data for f in frames] == [P1, P2]
    assert isinstance(err, TruncatedCaptureError)
    assert (err.offset, err.records_read) == (len(good), 2)
    assert str(err) == (f"t.pcapng: enhanced packet block is cut short (block length 92, 50 bytes present, "
                        f"42 missing) at byte {len(good)}; 2 records read")


def test_truncated_block_header() -> None:
    good = shb() + idb() + epb("<", 0, 1, P1)
    frames, err = error_every_split(dec, good + b"\x06\x00\x00")
    assert [f.data for f in frames] == [P1]
    assert isinstance(err, TruncatedCaptureError)
    assert (err.offset, err.records_read) == (len(good), 1)
    assert "block header is cut short (needs 12 bytes, 3 present, 9 missing)" in str(err)


@pytest.mark.parametrize(("length", "trailer", "reason"), [
    (14, None, "enhanced packet block has an impossible length 14 (a multiple of 4 between 12 and 67108864)"),
    (8, None, "enhanced packet block has an impossible length 8 (a multiple of 4 between 12 and 67108864)"),
    (0x7FFFFFFC, None,
     "enhanced packet block has an impossible length 2147483644 (a multiple of 4 between 12 and 67108864)"),
    (None, 96, "enhanced packet block length 36 does not match its trailing length 96"),
])
def test_corrupt_block_length(length: int | None, trailer: int | None, reason: str) -> None:
    good = shb() + idb() + epb("<", 0, 1, P1)
    body = struct.pack("<IIIII", 0, 0, 2, 4, 4) + b"abcd"
    frames, err = error_every_split(dec, good + block("<", 6, body, length, trailer) + bytes(64))
    assert [f.data for f in frames] == [P1]
    assert type(err) is CaptureFormatError
    assert (err.path, err.offset, err.reason) == ("t.pcapng", len(good), reason)


def test_caplen_larger_than_block() -> None:
    good = shb() + idb()
    frames, err = error_every_split(dec, good + epb("<", 0, 1, P3, caplen=500))
    assert frames == []
    assert type(err) is CaptureFormatError
    assert (err.offset, err.reason) == (len(good), "packet caplen 500 does not fit in its 36-byte block")


def test_bad_byte_order_magic() -> None:
    frames, err = error_every_split(dec, shb(bom=0x11223344) + idb())
    assert type(err) is CaptureFormatError
    assert (err.offset, err.reason) == (0, "not a pcapng file (bad byte-order magic 0x44332211)")
    frames, err = error_every_split(dec, shb() + idb() + shb(bom=0x11223344))
    assert (type(err), err.offset) == (CaptureFormatError, 28 + 20)  # type: ignore[attr-defined]
    assert "section header has a bad byte-order magic" in str(err)


def test_unsupported_major_version() -> None:
    frames, err = error_every_split(dec, shb(major=2))
    assert type(err) is CaptureFormatError
    assert str(err) == "t.pcapng: at byte 0: section header has unsupported version 2.0 (expected 1.x)"


def test_first_block_must_be_section_header() -> None:
    frames, err = error_every_split(dec, idb() + shb())
    assert type(err) is CaptureFormatError
    assert err.reason == "not a pcapng file (first block type 0x01000000)"  # type: ignore[attr-defined]


def test_bad_option_list_ends_options_but_keeps_packet() -> None:
    body = struct.pack("<IIIII", 0, 0, 9, 3, 3) + b"xyz\0" + struct.pack("<HH", 1, 200) + b"ab\0\0"
    (f,) = three_ways(dec, shb() + idb() + block("<", 6, body))
    assert (f.data, f.comment, f.ts_ns) == (b"xyz", None, 9000)


def test_truncated_section_header() -> None:
    data = shb(">", options=option(">", 1, b"a long section comment") + struct.pack(">HH", 0, 0))
    frames, err = error_every_split(dec, data[:40])
    assert isinstance(err, TruncatedCaptureError)
    assert (err.offset, err.records_read) == (0, 0)
    assert "section header block is cut short (block length 60, 40 bytes present, 20 missing)" in str(err)
    frames, err = error_every_split(dec, data[:5])
    assert "block header is cut short (needs 12 bytes, 5 present, 7 missing)" in str(err)
