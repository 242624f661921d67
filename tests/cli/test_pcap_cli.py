"""`rawnet pcap summary|flows|packets` on the shipped captures: exact values (frozen from tshark),
stdin, filters, sorting, CSV, and cut or corrupt input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rawnet.cli import cli

ROOT = Path(__file__).resolve().parent.parent.parent
CAP = ROOT / "captures"
CLEAN = CAP / "tcp-clean-fin.pcap"


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args), input=input)
    return r.exit_code, r.stdout, r.stderr


def test_flows_json_clean_exchange_exact() -> None:
    code, out, err = run("pcap", "flows", str(CLEAN), "--fast", "--json")
    assert (code, err) == (0, "")
    (rec,) = [json.loads(x) for x in out.splitlines()]
    assert rec == {"proto": "tcp", "src": "198.18.0.1", "sport": 40000, "dst": "198.18.0.2", "dport": 8080,
                   "packets_fwd": 5, "bytes_fwd": 418, "packets_rev": 5, "bytes_rev": 1405,
                   "first_ts_ns": 1795242961412386000, "last_ts_ns": 1795242961412734000}


def test_flows_udp_and_icmp_keys() -> None:
    _, out, _ = run("pcap", "flows", str(CAP / "udp-request-response.pcap"), "--fast", "--json")
    u = json.loads(out)
    assert (u["proto"], u["sport"], u["dport"], u["packets_fwd"], u["bytes_fwd"], u["packets_rev"], u["bytes_rev"]) == (
        "udp", 40000, 5300, 3, 156, 3, 186)
    _, out, _ = run("pcap", "flows", str(CAP / "icmp-echo.pcap"), "--fast", "--json")
    i = json.loads(out)
    assert (i["proto"], i["sport"], i["dport"], i["icmp_id"], i["packets_fwd"], i["packets_rev"], i["bytes_rev"]) == (
        "icmp", None, None, 2126, 3, 3, 294)


def test_flows_csv_header_and_row() -> None:
    code, out, _ = run("pcap", "flows", str(CLEAN), "--fast", "--csv")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "proto,src,sport,dst,dport,packets_fwd,bytes_fwd,packets_rev,bytes_rev,first_ts_ns,last_ts_ns"
    assert lines[1] == "tcp,198.18.0.1,40000,198.18.0.2,8080,5,418,5,1405,1795242961412386000,1795242961412734000"


def test_flows_filters_sort_and_top_on_two_interface_pcapng() -> None:
    path = str(CAP / "mixed-two-interfaces.pcapng")
    _, out, _ = run("pcap", "flows", path, "--fast", "--json", "--sort", "packets")
    recs = [json.loads(x) for x in out.splitlines()]
    assert [(r["proto"], r["packets_fwd"] + r["packets_rev"]) for r in recs] == [("tcp", 20), ("icmp", 8)]
    _, out, _ = run("pcap", "flows", path, "--fast", "--json", "--proto", "icmp")
    assert [json.loads(x)["proto"] for x in out.splitlines()] == ["icmp"]
    _, out, _ = run("pcap", "flows", path, "--fast", "--json", "--port", "8080", "--top", "1")
    assert [json.loads(x)["dport"] for x in out.splitlines()] == [8080]
    _, out, _ = run("pcap", "flows", path, "--fast", "--json", "--host", "198.18.9.9")
    assert out == ""
    code, _, err = run("pcap", "flows", path, "--host", "not-an-ip")
    assert code == 64 and "rawnet: error: --host 'not-an-ip' is not an IP address" in err


def test_packets_json_first_two_packets_exact() -> None:
    code, out, _ = run("pcap", "packets", str(CLEAN), "--json", "-c", "2")
    assert code == 0
    a, b = (json.loads(x) for x in out.splitlines())
    assert a == {"n": 1, "ts_ns": 1795242961412386000, "wirelen": 74, "caplen": 74, "ip_version": 4,
                 "src": "198.18.0.1", "dst": "198.18.0.2", "ttl": 64, "ip_id": 25527, "proto": "tcp", "sport": 40000,
                 "dport": 8080, "tcp_flags": ["SYN"], "seq": 1319236274, "ack": 0, "window": 64240,
                 "payload_len": 0, "checksum_ok": True, "error": None}
    assert (b["tcp_flags"], b["seq"], b["ack"], b["window"], b["ip_id"]) == (["SYN", "ACK"], 2006029613, 1319236275,
                                                                              65160, 0)


def test_packets_text_is_tcpdump_like() -> None:
    _, out, _ = run("pcap", "packets", str(CLEAN), "-c", "1")
    assert out.startswith("     1 ")
    assert "IP 198.18.0.1.40000 > 198.18.0.2.8080: Flags [S], seq 1319236274, win 64240, options [mss 1460" in out


def test_summary_json_two_interfaces() -> None:
    code, out, _ = run("pcap", "summary", str(CAP / "mixed-two-interfaces.pcapng"), "--json")
    s = json.loads(out)
    assert code == 0
    assert (s["format"], s["packets"], s["bytes"], s["flows"], s["undecoded"], s["linktypes"]) == (
        "pcapng", 28, 4430, 2, 0, {"ETHERNET": 28})
    assert s["protocols"] == {"tcp": {"packets": 20, "bytes": 3646}, "icmp": {"packets": 8, "bytes": 784}}
    assert s["duration_ns"] == s["last_ts_ns"] - s["first_ts_ns"] == 213500209


def test_summary_counts_undecodable_packets_with_reason(corpus_dir: Path) -> None:
    _, out, _ = run("pcap", "summary", str(corpus_dir / "LINKTYPE_IPV6_invalid.pcap"), "--json")
    s = json.loads(out)
    assert s["undecoded"] == s["packets"] == 1
    assert s["undecoded_reasons"] == [{"reason": "IPv6: version is 4 (expected 6)", "packets": 1, "first_packet": 1}]


def test_stdin_dash_reads_a_pipe() -> None:
    data = CLEAN.read_bytes()
    code, out, _ = run("pcap", "summary", "-", "--json", input=data)
    assert code == 0 and json.loads(out)["packets"] == 10
    code, out, _ = run("pcap", "flows", "-", "--fast", "--json", input=data)
    assert json.loads(out)["bytes_rev"] == 1405


def test_cut_capture_keeps_every_packet_and_warns(tmp_path: Path) -> None:
    data = CLEAN.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-30])  # the last record (the final ACK, 66 bytes) is cut short
    for fast in (["--fast"], []):
        code, out, err = run("pcap", "flows", str(cut), "--json", *fast)
        rec = json.loads(out)
        assert code == 0
        assert rec["packets_fwd"] + rec["packets_rev"] == 9
        assert err.startswith("rawnet: warning: ") and "cut short" in err and "9 records read" in err


def test_corrupt_capture_is_an_error_with_offset(tmp_path: Path) -> None:
    data = bytearray(CLEAN.read_bytes())
    data[24 + 8:24 + 12] = (0x7FFFFFFF).to_bytes(4, "little")  # first record's caplen absurd
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes(data))
    code, _, err = run("pcap", "flows", str(bad), "--json", "--fast")
    assert code == 65
    assert err.startswith(f"rawnet: error: {bad}: at byte 24: ")
    code, _, err = run("pcap", "summary", str(ROOT / "pyproject.toml"))
    assert code == 65 and "not a pcap or pcapng file" in err
    code, _, err = run("pcap", "summary", str(tmp_path / "missing.pcap"))
    assert (code, err) == (66, f"rawnet: error: cannot open {tmp_path / 'missing.pcap'}: No such file or directory\n")


def test_installed_command_runs_in_a_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "rawnet", "pcap", "flows", str(CLEAN), "--fast", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["bytes_fwd"] == 418


@pytest.mark.privileged
def test_tcpdump_pipe_into_summary(lab: object) -> None:
    """`tcpdump -w - | rawnet pcap summary -` on live lab traffic."""
    import socket
    import threading
    import time

    from rawnet.lab import Lab

    assert isinstance(lab, Lab)
    tcpdump = subprocess.Popen(lab.exec_args("client", ["tcpdump", "-i", "eth0", "-U", "-w", "-", "-c", "6",
                                                       "udp port 5300"]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rawnet = subprocess.Popen([sys.executable, "-m", "rawnet", "pcap", "summary", "-", "--json"],
                              stdin=tcpdump.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert tcpdump.stdout is not None
    tcpdump.stdout.close()
    try:
        time.sleep(1.0)  # tcpdump needs a moment before it captures
        with lab.inside("server"):
            srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            srv.bind((lab.addr("server"), 5300))
        with lab.inside("client"):
            cli_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def serve() -> None:
            for _ in range(3):
                data, peer = srv.recvfrom(100)
                srv.sendto(data * 2, peer)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        for i in range(3):
            cli_sock.sendto(b"x" * (i + 1), (lab.addr("server"), 5300))
            cli_sock.recvfrom(100)
        out, err = rawnet.communicate(timeout=20)
        s = json.loads(out)
        assert rawnet.returncode == 0, err
        assert (s["packets"], s["flows"], s["protocols"]["udp"]["packets"]) == (6, 1, 6)
    finally:
        for proc in (tcpdump, rawnet):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for stream in (tcpdump.stderr, rawnet.stdout, rawnet.stderr):
            if stream is not None:
                stream.close()
        srv.close()
        cli_sock.close()


ANALYSIS = ["retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
            "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe", "zero_window_probe_ack",
            "window_full", "window_update", "keep_alive", "keep_alive_ack"]


@pytest.mark.needs_tshark
@pytest.mark.parametrize("name", ["tcp-lossy.pcap", "tcp-zero-window.pcap", "tcp-syn-unanswered.pcap"])
def test_packets_analysis_equals_tshark_per_packet(name: str, tshark: str) -> None:
    path = CAP / name
    out = subprocess.run([tshark, "-r", str(path), "-n", "-T", "fields", "-E", "separator=|", "-e", "frame.number",
                          *[a for f in ANALYSIS for a in ("-e", f"tcp.analysis.{f}")]],
                         capture_output=True, text=True, timeout=60).stdout
    theirs = {}
    for line in out.splitlines():
        cols = line.split("|")
        theirs[int(cols[0])] = [name for name, v in zip(ANALYSIS, cols[1:]) if v]
    code, text, _ = run("pcap", "packets", str(path), "--analysis", "--json")
    ours = {r["n"]: r["analysis"] for r in map(json.loads, text.splitlines()) if r["proto"] == "tcp"}
    assert code == 0 and len(ours) == len(theirs) > 0
    assert ours == theirs
    flagged = sum(1 for v in ours.values() if v)
    assert flagged > 0
