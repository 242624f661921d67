"""`rawnet pcap packets` fields against tshark, packet by packet, on every shipped capture and every
tcpdump-corpus file: ip.src ip.dst ip.ttl tcp.srcport tcp.dstport tcp.seq_raw tcp.ack_raw
tcp.window_size_value tcp.len udp.srcport udp.dstport (and the IPv6 equivalents)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import CAPTURES, CORPUS  # noqa: E402
from oracle import prefetch, tshark_table  # noqa: E402

from rawnet.capture.files import iter_frames  # noqa: E402
from rawnet.errors import DecodeError  # noqa: E402
from rawnet.packet import decode  # noqa: E402
from rawnet.render.records import packet_record  # noqa: E402

# Where tshark's first TCP/UDP layer is not the packet's own, with the reason (tunnels and
# encapsulations rawnet does not decode, link types it passes through).
KNOWN_DIFFERENT = {
    "geneve.pcap", "geneve-gcp.pcap", "vxlan.pcap", "gso-ipv4-geneve-ipv6.pcap", "gso-ipv6-vxlan-ipv6.pcap",
    "mpls-over-udp.pcap", "pim-packet-assortment.pcap", "sflow-print-v6.pcap", "LINKTYPE_PKTAP.pcap",
    "LINKTYPE_USER2_PKTAP.pcap", "bgp-aigp.pcap", "ipoib.pcap", "wb-oobr.pcap", "macsec-short-valid.pcap",
    "macsec-short-shorter.pcap", "tok2str-oobr-2.pcap", "LINKTYPE_IPV4_invalid.pcap",
}
# Deliberately malformed packets where rawnet and tshark report differently, with the reason; the
# mismatch must be exactly this one packet of the file.
KNOWN_MALFORMED = {
    "heapoverflow-tcp_print.pcap #1": "TCP data offset says 60 bytes, 30 captured: tshark shows the fixed fields "
                                      "of the cut header, rawnet reports TruncatedPacketError and keeps the bytes",
    "tcp_header_heapoverflow.pcap #1": "TCP header cut at 12 bytes: tshark shows the ports, rawnet reports the cut",
    "ipv4_invalid_total_length_2.pcap #1": "IPv4 total length 19 < header 20: tshark drops the addresses, rawnet "
                                           "shows them with the error",
}
# tshark layers that carry IP/TCP/UDP inside another protocol (tunnels, quoted headers, GRE, ...)
_INNER = ("icmp", "gre", "geneve", "vxlan", "mpls", "pim", "sflow", "ipip", "teredo", "erspan", "ip:ip", "ip:ipv6",
          "ipv6:ip", "ipv6:ipv6", "6in4", "l2tp", "nsh", "cflow", "pktap", "juniper", "macsec", "ppp", "eth:ethertype:ip:udp:eth")


def _tshark(path: Path) -> dict[int, dict[str, str]]:
    return tshark_table(path)


def _ours(rec: dict[str, Any]) -> dict[str, str]:
    def s(v: Any) -> str:
        return "" if v is None else str(v)

    tcp, udp = rec["proto"] == "tcp", rec["proto"] == "udp"
    return {"src": s(rec["src"]), "dst": s(rec["dst"]), "ttl": s(rec["ttl"]),
            "tcp.srcport": s(rec["sport"]) if tcp else "", "tcp.dstport": s(rec["dport"]) if tcp else "",
            "tcp.seq_raw": s(rec["seq"]), "tcp.ack_raw": s(rec["ack"]), "tcp.window_size_value": s(rec["window"]),
            "tcp.len": s(rec["payload_len"]) if tcp else "",
            "udp.srcport": s(rec["sport"]) if udp else "", "udp.dstport": s(rec["dport"]) if udp else ""}


def _theirs(row: dict[str, str]) -> dict[str, str]:
    return {"src": row["ip.src"] or row["ipv6.src"], "dst": row["ip.dst"] or row["ipv6.dst"],
            "ttl": row["ip.ttl"] or row["ipv6.hlim"],
            **{k: row[k] for k in ("tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw",
                                   "tcp.window_size_value", "tcp.len", "udp.srcport", "udp.dstport")}}


def compare_file(path: Path, rows: dict[int, dict[str, str]]) -> tuple[int, list[str]]:
    """Return (TCP/UDP packets compared, mismatch descriptions) for one capture."""
    compared = 0
    bad: list[str] = []
    try:
        for n, frame in enumerate(iter_frames(path), 1):
            row = rows.get(n)
            if row is None:
                continue
            protos = row["frame.protocols"]
            if any(x in protos for x in _INNER) or row["icmp.type"] or row["icmpv6.type"]:
                continue
            pkt = decode(frame.data, frame.linktype, strict=False)
            rec = packet_record(pkt)
            if rec["proto"] not in ("tcp", "udp") and not (row["tcp.srcport"] or row["udp.srcport"]):
                continue
            if pkt.is_fragment:
                continue  # tshark reassembles: the flows oracle checks fragments through ip.fragment
            compared += 1
            ours, theirs = _ours(rec), _theirs(row)
            if ours != theirs:
                diff = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
                bad.append(f"{path.name} #{n}: {diff}")
    except DecodeError:
        pass  # cut or corrupt capture: the packets before the damage were compared
    return compared, bad


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in (".pcap", ".pcapng")) if folder.is_dir() else []


@pytest.mark.needs_tshark
@pytest.mark.parametrize("path", _files(CAPTURES), ids=lambda p: p.name)
def test_shipped_capture_packet_fields_equal_tshark(path: Path) -> None:
    compared, bad = compare_file(path, _tshark(path))
    assert bad == []
    if "tcp" in path.name or "udp" in path.name:
        assert compared > 0  # (ipv4-fragments.pcap: every packet is a fragment; the flows oracle covers it)


@pytest.mark.needs_tshark
def test_corpus_packet_fields_equal_tshark(corpus_dir: Path) -> None:
    files = [p for p in _files(corpus_dir) if p.name not in KNOWN_DIFFERENT]
    prefetch(files)
    tables = {p: _tshark(p) for p in files}
    total = 0
    mismatches: list[str] = []
    for path in files:
        compared, bad = compare_file(path, tables[path])
        total += compared
        mismatches += bad
    assert sorted(m.split(":")[0] for m in mismatches) == sorted(KNOWN_MALFORMED)
    assert total > 1000
