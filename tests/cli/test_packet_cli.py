"""`rawnet decode` and `rawnet build`: click's CliRunner for output and exit codes, the CLI's one
error handler (``rawnet: error: ...``, exit 65/64), one run of the installed command, and tshark as
the oracle for ``build --pcap``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rawnet.cli import cli, main
from rawnet.packet import EOLOption, MSSOption, NOPOption, SACKPermittedOption, TimestampsOption, WindowScaleOption
from rawnet.packet import decode as decode_packet

# accecn_handshake.pcap record 1 (Ethernet / IPv4 / TCP SYN-ACK with options), and a UDP DNS query as raw IPv4
SYNACK = ("000c29f7801218fd740745cd080045000048000040003606244342e42b0c1f8592f800504031b128b393741d4a2ed092fe8822a8"
          "0000020405b40402080aa5e4dec406af3c15fe0dacc0000001000000000000030307")
RAW4 = ("45000039000100004011a695c0a80164090909093039003500251976123401000001000000000000076578616d706c6503636f6d00"
        "00010001")
JSON_KEYS = ["n", "ts_ns", "wirelen", "caplen", "ip_version", "src", "dst", "ttl", "ip_id", "proto", "sport", "dport",
             "tcp_flags", "seq", "ack", "window", "payload_len", "checksum_ok", "error"]


def invoke(args: list[str], input: str | None = None) -> tuple[int, str, str]:
    """Run the group with CliRunner and return (exit code, stdout, stderr); a success path."""
    result = CliRunner().invoke(cli, args, input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_main(args: list[str], input: str | None = None) -> tuple[int, str, str]:
    """Run rawnet.cli.main (the real error handler) inside CliRunner's stream isolation."""
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
        return code, out.getvalue().decode(), err.getvalue().decode()


# ------------------------------------------------------------------------------------------- decode

def test_decode_text() -> None:
    code, out, err = invoke(["decode", SYNACK])
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0] == ("IP 66.228.43.12.80 > 31.133.146.248.16433: Flags [SW.], seq 2972234643, ack 1948076590, "
                        "win 65160, options [mss 1460,sackOK,TS val 2783239876 ecr 112147477,"
                        "opt-254:acc0000001000000000000,wscale 7], length 0")
    assert lines[1] == "Ethernet  18:fd:74:07:45:cd > 00:0c:29:f7:80:12 type 0x0800"
    assert lines[2].startswith("IPv4      66.228.43.12 > 31.133.146.248 ttl 54 id 0 flags DF frag 0 proto 6 len 72 ")
    assert lines[3].startswith("TCP       80 > 16433 [SYN,ACK,CWR] seq 2972234643 ack 1948076590 win 65160 ")
    assert len(lines) == 5


def test_decode_json_keys_and_values() -> None:
    code, out, _ = invoke(["decode", "--json", SYNACK])
    rec = json.loads(out)
    assert (code, list(rec)) == (0, JSON_KEYS)
    assert rec == {"n": 1, "ts_ns": None, "wirelen": 86, "caplen": 86, "ip_version": 4, "src": "66.228.43.12",
                   "dst": "31.133.146.248", "ttl": 54, "ip_id": 0, "proto": "tcp", "sport": 80, "dport": 16433,
                   "tcp_flags": ["SYN", "ACK", "CWR"], "seq": 2972234643, "ack": 1948076590, "window": 65160,
                   "payload_len": 0, "checksum_ok": True, "error": None}


def test_decode_json_udp_raw() -> None:
    code, out, _ = invoke(["decode", "--link", "raw", "--json", RAW4])
    rec = json.loads(out)
    assert (code, list(rec)) == (0, JSON_KEYS)
    assert (rec["proto"], rec["sport"], rec["dport"], rec["tcp_flags"], rec["seq"], rec["payload_len"],
            rec["ttl"], rec["ip_id"], rec["checksum_ok"]) == ("udp", 12345, 53, None, None, 29, 64, 1, True)


def test_decode_json_ipv6_and_icmp() -> None:
    frame = bytes.fromhex(
        "02000000000102000000000286dd6001234500103a40fd000000000000000000000000000001fd00000000000000000000000000"
        "00028000f3a0007700036162636465666768")
    code, out, _ = invoke(["decode", "--json", frame.hex()])
    rec = json.loads(out)
    assert list(rec)[:len(JSON_KEYS)] == JSON_KEYS
    assert (code, rec["ip_version"], rec["src"], rec["dst"], rec["ttl"], rec["ip_id"], rec["proto"]) == (
        0, 6, "fd00::1", "fd00::2", 64, None, "icmpv6")
    assert (rec["icmp_type"], rec["icmp_code"], rec["sport"], rec["payload_len"]) == (128, 0, None, 8)


def test_decode_stdin() -> None:
    spaced = " ".join(SYNACK[i:i + 2] for i in range(0, len(SYNACK), 2))
    code, out, _ = invoke(["decode", "--json", "-"], input=f"0x{spaced[:40]}\n{spaced[40:]}\n")
    assert (code, json.loads(out)["sport"]) == (0, 80)


@pytest.mark.parametrize(("link", "frame", "src"), [
    ("ethernet", SYNACK, "66.228.43.12"), ("eth", SYNACK, "66.228.43.12"), ("1", SYNACK, "66.228.43.12"),
    ("raw", RAW4, "192.168.1.100"), ("ip", RAW4, "192.168.1.100"), ("ipv4", RAW4, "192.168.1.100"),
    ("228", RAW4, "192.168.1.100"), ("null", "02000000" + RAW4, "192.168.1.100"),
    ("loop", "00000002" + RAW4, "192.168.1.100"), ("sll", "00000304000600000000000000000800" + RAW4, "192.168.1.100"),
    ("sll2", "0800000000000003000104060200000000020000" + RAW4, "192.168.1.100"),
    ("ipv6", "600000000025114020010db8000000000000000000000001262000fe0000000000000000000000093039003500"
             "2598b3123401000001000000000000076578616d706c6503636f6d0000010001", "2001:db8::1"),
])
def test_decode_link_variants(link: str, frame: str, src: str) -> None:
    code, out, _ = invoke(["decode", "--link", link, "--json", frame])
    assert (code, json.loads(out)["src"]) == (0, src)


def test_decode_unknown_link() -> None:
    code, out, err = run_main(["decode", "--link", "fddi", SYNACK])
    assert (code, out) == (64, "")
    assert err.splitlines() == ["rawnet: error: --link fddi: unknown link type (one of eth, ethernet, ip, ipv4, ipv6, "
                                "loop, null, raw, sll, sll2, or a pcap number 0, 1, 12, 14, 101, 108, 113, 228, 229, "
                                "276)"]


@pytest.mark.parametrize(("text", "message"), [
    ("zz", "input is not hex: character 'z' at position 0 of the cleaned input"),
    ("abc", "input is not hex: odd number of digits (3)"),
    ("0x", "input is empty (give hex bytes, or - to read them from stdin)"),
    ("4500g0", "input is not hex: character 'g' at position 4 of the cleaned input"),
])
def test_decode_bad_hex(text: str, message: str) -> None:
    code, out, err = run_main(["decode", text])
    assert (code, out, err) == (65, "", f"rawnet: error: {message}\n")


def test_decode_malformed_strict_and_lenient() -> None:
    cut = SYNACK[:2 * 40]
    code, out, err = run_main(["decode", cut])
    assert (code, out, err) == (65, "", "rawnet: error: TCP at offset 34: header needs 20 bytes, 6 available\n")
    code, out, _ = invoke(["decode", "--lenient", "--json", cut])
    rec = json.loads(out)
    assert (code, rec["error"], rec["proto"], rec["sport"], rec["checksum_ok"]) == (
        0, "TCP at offset 34: header needs 20 bytes, 6 available", "tcp", None, None)


def test_decode_bad_hex_with_cli_runner() -> None:
    # the group itself turns a RawnetError into the one error line and its exit code
    result = CliRunner().invoke(cli, ["decode", "zz"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        65, "", "rawnet: error: input is not hex: character 'z' at position 0 of the cleaned input\n")


def test_installed_command() -> None:
    exe = shutil.which("rawnet")
    if exe is None:
        pytest.skip("the rawnet console script is not installed (pip install -e .)")
    ok = subprocess.run([exe, "decode", "--json", SYNACK], capture_output=True, text=True, check=False)
    assert (ok.returncode, json.loads(ok.stdout)["seq"], ok.stderr) == (0, 2972234643, "")
    bad = subprocess.run([exe, "decode", "nothex"], capture_output=True, text=True, check=False)
    assert (bad.returncode, bad.stdout) == (65, "")
    assert bad.stderr.splitlines() == ["rawnet: error: input is not hex: character 'n' at position 0 of the cleaned "
                                       "input"]


# ------------------------------------------------------------------------------------------- build

def _built(args: list[str]) -> bytes:
    code, out, err = invoke(["build", *args, "--hex"])
    assert (code, err) == (0, "")
    return bytes.fromhex(out.strip())


def test_build_tcp_every_option() -> None:
    data = _built(["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--sport", "40000", "--dport", "443",
                   "--flags", "SA", "--seq", "0x11223344", "--ack", "287454021", "--win", "29200", "--ttl", "63",
                   "--id", "4660", "--df", "--mss", "1460", "--wscale", "7", "--sackok", "--ts", "100,200",
                   "--payload", "hello"])
    p = decode_packet(data, 228)
    net, tcp = p.network, p.tcp
    assert (net.ttl, net.identification, net.df, net.mf, p.src, p.dst, net.protocol) == (
        63, 4660, True, False, "198.18.0.1", "198.18.0.2", 6)
    assert (tcp.src_port, tcp.dst_port, tcp.flag_names, tcp.seq, tcp.ack, tcp.window) == (
        40000, 443, ["SYN", "ACK"], 0x11223344, 287454021, 29200)
    assert tcp.options == (MSSOption(1460), SACKPermittedOption(), TimestampsOption(100, 200), NOPOption(),
                           WindowScaleOption(7))
    assert (p.payload, p.checksum_ok, p.ip_checksum_ok) == (b"hello", True, True)


def test_build_tcp_defaults() -> None:
    p = decode_packet(_built(["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2"]), 228)
    assert (p.tcp.flag_names, p.tcp.seq, p.tcp.ack, p.tcp.window, p.tcp.options, p.network.ttl, p.network.df) == (
        ["SYN"], 0, 0, 65535, (), 64, False)


def test_build_timestamps_alone_get_nop_padding() -> None:
    p = decode_packet(_built(["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--ts", "1,2"]), 228)
    assert p.tcp.options == (NOPOption(), NOPOption(), TimestampsOption(1, 2))


def test_build_udp_v6_payload_hex() -> None:
    data = _built(["udp", "--src", "fd00::1", "--dst", "fd00::2", "--sport", "5353", "--dport", "53", "--ttl", "7",
                   "--payload-hex", "de:ad be ef"])
    p = decode_packet(data, 229)
    assert (p.ip_version, p.network.hop_limit, p.udp.src_port, p.udp.dst_port, p.udp.length, p.payload) == (
        6, 7, 5353, 53, 12, bytes.fromhex("deadbeef"))
    assert p.checksum_ok is True


@pytest.mark.parametrize(("src", "dst", "version", "type_"), [("198.18.0.1", "198.18.0.2", 4, 8),
                                                              ("fd00::1", "fd00::2", 6, 128)])
def test_build_icmp_echo(src: str, dst: str, version: int, type_: int) -> None:
    data = _built(["icmp", "--src", src, "--dst", dst, "--icmp-id", "77", "--icmp-seq", "3", "--payload", "ping"])
    p = decode_packet(data, 228 if version == 4 else 229)
    assert (p.ip_version, p.icmp.type, p.icmp.identifier, p.icmp.sequence, p.icmp.body, p.checksum_ok) == (
        version, type_, 77, 3, b"ping", True)


def test_build_tcp_v6() -> None:
    p = decode_packet(_built(["tcp", "--src", "fd00::1", "--dst", "fd00::2", "--dport", "22", "--flags", "FPAUECN"]),
                      229)
    assert (p.tcp.flag_names, p.tcp.dst_port, p.checksum_ok) == (
        ["FIN", "PSH", "ACK", "URG", "ECE", "CWR", "AE"], 22, True)


@pytest.mark.parametrize("proto", ["tcp", "udp", "icmp"])
@pytest.mark.parametrize(("src", "dst"), [("198.18.0.1", "198.18.0.2"), ("fd00::1", "fd00::2")])
def test_build_bad_checksum(proto: str, src: str, dst: str) -> None:
    data = _built([proto, "--src", src, "--dst", dst, "--bad-checksum", "--payload", "x"])
    p = decode_packet(data, 228 if ":" not in src else 229)
    assert (p.checksum_ok, p.ip_checksum_ok) == (False, True if ":" not in src else None)


def test_build_default_output_is_hex_and_a_summary() -> None:
    code, out, err = invoke(["build", "udp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--sport", "1",
                             "--dport", "2"])
    assert code == 0
    assert out == "4500001c000000004011eea9c6120001c612000200010002000873b3\n"
    p = decode_packet(bytes.fromhex(out.strip()), 228)
    assert (p.udp.src_port, p.udp.dst_port, p.checksum_ok) == (1, 2, True)
    assert err == "IP 198.18.0.1.1 > 198.18.0.2.2: UDP, length 0\n"


def test_build_output_file(tmp_path: Path) -> None:
    target = tmp_path / "syn.bin"
    code, out, err = invoke(["build", "tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--dport", "80", "-o",
                             str(target)])
    assert (code, out, err) == (0, "", "")
    p = decode_packet(target.read_bytes(), 228)
    assert (p.tcp.dst_port, p.checksum_ok) == (80, True)
    code, out, _ = invoke(["build", "tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--dport", "80",
                           "--output", str(target), "--hex"])
    assert bytes.fromhex(out.strip()) == target.read_bytes()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["tcp", "--src", "198.18.0.1", "--dst", "fd00::1"], 64,
     "source 198.18.0.1 and destination fd00::1 are of different IP versions"),
    (["tcp", "--src", "nonsense", "--dst", "198.18.0.2"], 64, "'nonsense' is not an IPv4 or IPv6 address"),
    (["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--flags", "SQ"], 64,
     "TCP flags: unknown letter 'Q' (use F S R P A U E C N)"),
    (["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--ts", "1"], 64, "--ts '1': expected VAL,ECR"),
    (["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--seq", "x1"], 64, "--seq 'x1': not a number"),
    (["tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--wscale", "15"], 64,
     "TCP option WindowScale: shift 15 exceeds the maximum of 14 (RFC 7323 §2.3)"),
    (["udp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--payload", "a", "--payload-hex", "00"], 64,
     "give --payload or --payload-hex, not both"),
    (["udp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--payload-hex", "0g"], 65,
     "input is not hex: character 'g' at position 1 of the cleaned input"),
])
def test_build_errors(args: list[str], code: int, message: str) -> None:
    assert run_main(["build", *args]) == (code, "", f"rawnet: error: {message}\n")


def test_build_usage_error_from_click() -> None:
    code, out, err = run_main(["build", "tcp", "--dst", "198.18.0.2"])
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == "Error: Missing option '--src'."


# ------------------------------------------------------------------------------------------- --pcap + tshark

def _tshark(path: Path, *fields: str) -> list[list[str]]:
    exe = shutil.which("tshark")
    assert exe is not None
    cmd = [exe, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [line.split("|") for line in out.stdout.splitlines()]


@pytest.mark.needs_tshark
def test_build_pcap_read_by_tshark(tmp_path: Path) -> None:
    pcap = tmp_path / "f.pcap"
    base = ["--src", "198.18.0.1", "--dst", "198.18.0.2"]
    runs = [
        ["tcp", *base, "--sport", "40000", "--dport", "443", "--flags", "S", "--seq", "1000", "--win", "64240",
         "--ttl", "61", "--id", "77", "--df", "--mss", "1460", "--wscale", "7", "--sackok", "--ts", "5,0"],
        ["udp", *base, "--sport", "5353", "--dport", "53", "--payload", "abc"],
        ["tcp", *base, "--sport", "1", "--dport", "2", "--flags", "RA", "--bad-checksum"],
        ["udp", *base, "--sport", "1", "--dport", "2", "--bad-checksum"],
    ]
    for args in runs:
        code, out, err = invoke(["build", *args, "--pcap", str(pcap)])
        assert (code, out, err) == (0, "", "")
    rows = _tshark(pcap, "ip.src", "ip.dst", "ip.ttl", "ip.id", "ip.flags.df", "ip.checksum.status", "tcp.srcport",
                   "tcp.dstport", "tcp.seq_raw", "tcp.flags", "tcp.window_size_value", "tcp.options.mss_val",
                   "tcp.options.wscale.shift", "tcp.options.timestamp.tsval", "tcp.checksum.status", "udp.srcport",
                   "udp.dstport", "udp.length", "udp.checksum.status")
    # checksum status: 1 Good, 0 Bad (tshark's proto_checksum_status)
    assert rows[0] == ["198.18.0.1", "198.18.0.2", "61", "0x004d", "1", "1", "40000", "443", "1000", "0x0002",
                       "64240", "1460", "7", "5", "1", "", "", "", ""]
    assert rows[1] == ["198.18.0.1", "198.18.0.2", "64", "0x0000", "0", "1", "", "", "", "", "", "", "", "", "", "5353",
                       "53", "11", "1"]
    assert (rows[2][14], rows[2][9], rows[3][18], rows[2][5], rows[3][5]) == ("0", "0x0014", "0", "1", "1")
    assert len(rows) == 4


@pytest.mark.needs_tshark
def test_build_pcap_ipv6_read_by_tshark(tmp_path: Path) -> None:
    pcap = tmp_path / "v6.pcap"
    for args in (["tcp", "--src", "fd00::1", "--dst", "fd00::2", "--dport", "80", "--mss", "1440"],
                 ["udp", "--src", "fd00::1", "--dst", "fd00::2", "--dport", "53", "--payload", "q"],
                 ["icmp", "--src", "fd00::1", "--dst", "fd00::2", "--icmp-id", "9", "--icmp-seq", "1"]):
        assert invoke(["build", *args, "--pcap", str(pcap)])[0] == 0
    rows = _tshark(pcap, "ipv6.src", "ipv6.dst", "tcp.dstport", "tcp.options.mss_val", "tcp.checksum.status",
                   "udp.dstport", "udp.checksum.status", "icmpv6.type", "icmpv6.echo.identifier",
                   "icmpv6.checksum.status")
    assert rows == [["fd00::1", "fd00::2", "80", "1440", "1", "", "", "", "", ""],
                    ["fd00::1", "fd00::2", "", "", "", "53", "1", "", "", ""],
                    ["fd00::1", "fd00::2", "", "", "", "", "", "128", "0x0009", "1"]]


@pytest.mark.needs_tshark
def test_build_pcap_verbose_shows_correct_checksums(tmp_path: Path) -> None:
    pcap = tmp_path / "v.pcap"
    invoke(["build", "tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--dport", "80", "--pcap", str(pcap)])
    invoke(["build", "tcp", "--src", "198.18.0.1", "--dst", "198.18.0.2", "--dport", "80", "--bad-checksum",
            "--pcap", str(pcap)])
    exe = shutil.which("tshark")
    assert exe is not None
    out = subprocess.run([exe, "-r", str(pcap), "-V", "-o", "tcp.check_checksum:TRUE", "-o",
                          "ip.check_checksum:TRUE"], capture_output=True, text=True, check=True).stdout
    frames = out.split("\nFrame ")
    assert len(frames) == 2
    assert ("[Checksum Status: Good]" in frames[0], "[Checksum Status: Bad]" in frames[0]) == (True, False)
    assert ("Header checksum status: Good" in frames[1] or "[Header checksum status: Good]" in frames[1],
            "[Checksum Status: Bad]" in frames[1]) == (True, True)
