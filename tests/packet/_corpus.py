"""Reading single records of the tcpdump corpus (``../shared/corpus/tcpdump``) for the codec tests.

The unit tests freeze each packet as hex (so they run without the corpus); ``corpus_record`` lets a
test check that the frozen hex is the real record it names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "tcpdump"


def iter_records(path: Path) -> Iterator[tuple[bytes, int]]:
    """Yield (frame bytes, linktype) of every record of a pcap or pcapng file, read with scapy."""
    from scapy.utils import RawPcapReader

    reader = RawPcapReader(str(path))
    try:
        default = getattr(reader, "linktype", 1)
        for data, meta in reader:
            lt = getattr(meta, "linktype", None)
            yield data, (lt if lt is not None else default) & 0xFFFF
    finally:
        reader.close()


def corpus_record(name: str, index: int) -> tuple[bytes, int]:
    """Return (frame bytes, linktype) of record ``index`` (0-based) of corpus file ``name``."""
    for i, rec in enumerate(iter_records(CORPUS / name)):
        if i == index:
            return rec
    raise LookupError(f"{name} has no record {index}")
