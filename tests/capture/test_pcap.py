"""PcapDecoder: every magic and byte order, exact nanoseconds, three ways of feeding, errors."""

from __future__ import annotations

import pytest
from _capbuild import (PCAP_MOD, PCAP_NS, PCAP_US, error_every_split, pcap_file, pcap_header, pcap_record,
                       three_ways)

from rawnet.capture import CaptureInfo, Frame, PcapDecoder
from rawnet.errors import CaptureFormatError, DecodeError, TruncatedCaptureError

P1 = bytes(range(60))
P2 = b"\xff" * 14 + b"\x45" + bytes(45)
P3 = b"abc"
RECORDS = [(1700000000, 123456, P1), (1700000001, 999999, P2), (4294967295, 1, P3)]


def dec(label: str = "t.pcap", **kw: bool) -> PcapDecoder:
    return PcapDecoder(label, **kw)


@pytest.mark.parametrize("order", ["<", ">"])
def test_microsecond_both_byte_orders(order: str) -> None:
    frames = three_ways(dec, pcap_file(order, PCAP_US, RECORDS))
    assert frames == [
        Frame(1700000000_123456000, 1, P1, 60),
        Frame(1700000001_999999000, 1, P2, 60),
        Frame(4294967295_000001000, 1, P3, 3),
    ]
    assert [f.caplen for f in frames] == [60, 60, 3]


@pytest.mark.parametrize("order", ["<", ">"])
def test_nanosecond_both_byte_orders_exact(order: str) -> None:
    recs = [(1700000000, 123456789, P1), (1700000000, 999999999, P2), (0, 1, P3)]
    frames = three_ways(dec, pcap_file(order, PCAP_NS, recs, linktype=101))
    assert [(f.ts_ns, f.linktype, f.wirelen) for f in frames] == [
        (1700000000123456789, 101, 60), (1700000000999999999, 101, 60), (1, 101, 3)]
    assert all(type(f.ts_ns) is int for f in frames)


@pytest.mark.parametrize("order", ["<", ">"])
def test_modified_pcap_skips_extra_record_header(order: str) -> None:
    frames = three_ways(dec, pcap_file(order, PCAP_MOD, RECORDS[:2]))
    assert [(f.ts_ns, f.data) for f in frames] == [(1700000000_123456000, P1), (1700000001_999999000, P2)]


def test_header_info_and_linktype_passthrough() -> None:
    info = CaptureInfo()
    d = PcapDecoder("x.pcap", info)
    frames = d.feed(pcap_file(">", PCAP_NS, RECORDS[:1], linktype=0x10000000 | 228, snaplen=1500))
    assert [f.linktype for f in frames] == [228]  # FCS bits above bit 28 are masked off
    assert (info.format, info.byte_order, info.version, info.snaplen, info.ts_units_per_s, info.linktypes,
            info.records) == ("pcap", "big", (2, 4), 1500, 1_000_000_000, [228], 1)
    assert d.header is not None and d.header.fcs_bits == 1


def test_wirelen_larger_than_caplen_is_kept() -> None:
    data = pcap_header("<") + pcap_record("<", 5, 6, P3, wirelen=1514)
    (f,) = three_ways(dec, data)
    assert (f.ts_ns, f.caplen, f.wirelen) == (5_000_006_000, 3, 1514)


def test_empty_capture_has_no_frames() -> None:
    assert three_ways(dec, pcap_header("<")) == []


def test_trailing_partial_record_is_truncation_after_good_frames() -> None:
    data = pcap_file("<", PCAP_US, RECORDS)
    frames, err = error_every_split(dec, data + pcap_record("<", 7, 8, bytes(100))[:46])
    assert len(frames) == 3
    assert isinstance(err, TruncatedCaptureError)
    assert (err.offset, err.records_read) == (len(data), 3)
    assert str(err) == (f"t.pcap: record 4 is cut short (caplen 100, needs 116 bytes, 46 present, 70 missing) "
                        f"at byte {len(data)}; 3 records read")


def test_cut_inside_record_header() -> None:
    data = pcap_file("<", PCAP_US, RECORDS[:1])
    frames, err = error_every_split(dec, data + b"\x01\x02\x03\x04\x05")
    assert len(frames) == 1
    assert isinstance(err, TruncatedCaptureError)
    assert (err.offset, err.records_read) == (24 + 16 + 60, 1)
    assert "record 2 header is cut short (needs 16 bytes, 5 present, 11 missing)" in str(err)


def test_cut_inside_file_header() -> None:
    frames, err = error_every_split(dec, pcap_header("<")[:10])
    assert frames == []
    assert isinstance(err, TruncatedCaptureError)
    assert (err.offset, err.records_read) == (0, 0)
    assert str(err) == ("t.pcap: pcap file header is cut short (needs 24 bytes, 10 present, 14 missing) "
                        "at byte 0; 0 records read")


def test_absurd_caplen_is_format_error_after_good_frames() -> None:
    good = pcap_file("<", PCAP_US, RECORDS[:2])
    bad = good + pcap_record("<", 1, 2, b"", caplen=0x7FFFFFFF) + bytes(50)
    frames, err = error_every_split(dec, bad)
    assert [f.data for f in frames] == [P1, P2]
    assert type(err) is CaptureFormatError
    assert isinstance(err, DecodeError) and isinstance(err, ValueError)
    assert (err.path, err.offset) == ("t.pcap", len(good))
    assert err.reason == "record 3 has caplen 2147483647, larger than the maximum of 262144 for linktype 1"


def test_deferred_error_raised_by_next_call() -> None:
    good = pcap_file("<", PCAP_US, RECORDS[:1])
    d = dec()
    frames = d.feed(good + pcap_record("<", 1, 2, b"", caplen=300000))
    assert [f.data for f in frames] == [P1]
    with pytest.raises(CaptureFormatError) as exc:
        d.feed(b"more")
    assert exc.value.offset == len(good)
    with pytest.raises(CaptureFormatError):
        d.feed(b"")


def test_caplen_over_snaplen_accepted_by_default_rejected_when_strict() -> None:
    data = pcap_file("<", PCAP_US, [(1, 0, P1)], snaplen=40)
    (f,) = three_ways(dec, data)
    assert f.caplen == 60
    frames, err = error_every_split(lambda: dec(strict=True), data)
    assert frames == []
    assert type(err) is CaptureFormatError
    assert (err.offset, err.reason) == (24, "record 1 has caplen 60, larger than the file's snaplen of 40")


def test_bad_magic() -> None:
    with pytest.raises(CaptureFormatError) as exc:
        dec().feed(b"GIF89a" + bytes(30))
    assert (exc.value.offset, exc.value.reason) == (0, "not a pcap file (magic 0x47494638)")


def test_feed_after_eof_is_an_error() -> None:
    d = dec()
    assert d.feed(pcap_header("<")) == []
    assert d.feed(b"") == []
    with pytest.raises(CaptureFormatError) as exc:
        d.feed(b"x")
    assert exc.value.reason == "data fed after end of input"


def test_feed_accepts_bytearray_and_memoryview() -> None:
    data = pcap_file("<", PCAP_NS, RECORDS)
    d = dec()
    frames = d.feed(bytearray(data[:50])) + d.feed(memoryview(data)[50:]) + d.feed(b"")
    assert [f.data for f in frames] == [P1, P2, P3]
    assert all(type(f.data) is bytes for f in frames)


def test_feed_raw_offsets_point_into_the_buffer() -> None:
    data = pcap_file(">", PCAP_NS, RECORDS, linktype=113)
    d = dec()
    raws = d.feed_raw(data[:30]) + d.feed_raw(data[30:]) + d.feed_raw(b"")
    assert [(ts, lt, cap, wire) for ts, lt, cap, wire, _b, _o in raws] == [
        (1700000000_000123456, 113, 60, 60), (1700000001_000999999, 113, 60, 60), (4294967295_000000001, 113, 3, 3)]
    assert [bytes(b[o:o + c]) for _t, _l, c, _w, b, o in raws] == [P1, P2, P3]
    assert d.records_read == 3


def test_memory_holds_one_partial_record() -> None:
    data = pcap_file("<", PCAP_US, RECORDS * 50)
    d = dec()
    for i in range(0, len(data), 7):
        d.feed(data[i:i + 7])
        assert len(d._pending) <= 16 + 60
    assert d.records_read == 150
