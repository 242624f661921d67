"""Every packet of every tcpdump-corpus file (``../shared/corpus/tcpdump``): decoding never fails with
anything but a DecodeError, and ``encode(decode(b)) == b`` byte for byte, strict (for the packets
that decode) and lenient (for all of them). The records are read with scapy, independently of
rawnet.capture; a file cut short inside a record contributes the records before the cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from rawnet.errors import DecodeError
from rawnet.packet import decode, encode

from ._corpus import CORPUS, iter_records

FILES = sorted(p for p in CORPUS.glob("*") if p.suffix in (".pcap", ".pcapng")) if CORPUS.is_dir() else []


def _records(path: Path) -> list[tuple[bytes, int]]:
    out: list[tuple[bytes, int]] = []
    try:
        for rec in iter_records(path):
            out.append(rec)
    except Exception:  # noqa: BLE001 - scapy's reader on a deliberately cut file; keep what it read
        pass
    return out


@pytest.mark.skipif(not FILES, reason=f"tcpdump corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_round_trip(path: Path) -> None:
    for i, (data, linktype) in enumerate(_records(path)):
        try:
            p = decode(data, linktype)
        except DecodeError as err:
            assert err.exit_code == 65
        else:
            assert encode(p) == data, f"record {i} (strict)"
        q = decode(data, linktype, strict=False)
        assert encode(q) == data, f"record {i} (lenient, error {q.error})"
        if q.error is None:
            assert q == decode(data, linktype), f"record {i}: strict and lenient disagree"


@pytest.mark.skipif(not FILES, reason=f"tcpdump corpus not found at {CORPUS}")
def test_corpus_totals() -> None:
    """Freeze what the codec makes of the corpus, so a change in coverage shows up in review."""
    total = strict_ok = lenient_errors = transport = 0
    for path in FILES:
        for data, linktype in _records(path):
            total += 1
            q = decode(data, linktype, strict=False)
            strict_ok += q.error is None
            lenient_errors += q.error is not None and q.error.layer != "link"
            transport += q.transport is not None
    # update these when the codec learns (or drops) a protocol; they are the whole corpus's verdict
    assert (total, strict_ok, lenient_errors, transport) == (6166, 5723, 27, 1382)
