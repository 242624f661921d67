"""Connection reports, ladder diagrams (text and SVG) and the `pcap tcp` / `pcap ladder` commands."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rawnet.cli import tcp_cmds
from rawnet.render.ladder import ladder_svg, ladder_text
from rawnet.tcp.report import connection_report, format_report, ladder_data

from .dialog import Dialog, handshake

CAPTURES = Path(__file__).resolve().parent.parent.parent / "captures"


class _Item:
    def __init__(self, n: int, ts: int, pkt: object, analysis: list[str]) -> None:
        self.n, self.ts_ns, self.packet, self.analysis = n, ts, pkt, analysis


def _refused() -> Dialog:
    d = Dialog()
    d.c("S", 1000)
    d.s("RA", 0, 1001)
    return d


def test_report_of_refused_connection() -> None:
    d = _refused()
    d.tr.finish()
    rec = connection_report(d.flow, d.tr, 0)
    assert (rec["client"], rec["client_port"], rec["server"], rec["server_port"]) == ("198.18.0.1", 40000,
                                                                                     "198.18.0.2", 8080)
    assert [(t["endpoint"], t["state"], t["packet"], t["seen"]) for t in rec["timeline"]] == [
        ("client", "SYN_SENT", 1, True), ("server", "CLOSED", 2, True), ("client", "CLOSED", 2, False)]
    text = format_report(rec)
    assert text.splitlines()[0] == "conn 0: 198.18.0.1:40000 -> 198.18.0.2:8080   conn_state REJ  history Sr"
    assert "refused: the server answered the SYN with RST/ACK" in text
    json.dumps(rec)


def _ladder(d: Dialog) -> object:
    d.tr.finish()
    items = [_Item(i, ts, p, d.analysis[i]) for i, (ts, p) in enumerate(d.frames, 1)]
    return ladder_data(items, d.flow, d.tr, 0)


def test_ladder_rows_and_text() -> None:
    d = Dialog()
    handshake(d)
    d.c("PA", 1001, 5001, b"x" * 10)
    d.c("PA", 1001, 5001, b"x" * 10, dt_us=300_000)
    d.s("RA", 5001, 1011)
    lad = _ladder(d)
    rows = [(r.n, r.to_server, r.flags, r.seq, r.ack, r.length, r.analysis, r.client_state, r.server_state)
            for r in lad.rows]
    assert rows == [(1, True, "SYN", 0, None, 0, [], "SYN_SENT", "LISTEN"),
                    (2, False, "SYN,ACK", 0, 1, 0, [], "ESTABLISHED", "SYN_RECEIVED"),
                    (3, True, "ACK", 1, 1, 0, [], "ESTABLISHED", "ESTABLISHED"),
                    (4, True, "PSH,ACK", 1, 1, 10, [], "ESTABLISHED", "ESTABLISHED"),
                    (5, True, "PSH,ACK", 1, 1, 10, ["retransmission"], "ESTABLISHED", "ESTABLISHED"),
                    (6, False, "RST,ACK", 1, 11, 0, [], "CLOSED", "CLOSED")]
    text = ladder_text(lad)
    lines = text.splitlines()
    assert lines[0] == "conn 0: conn_state RSTR, history ShADTr, reset by the server"
    row5 = next(ln for ln in lines if ln.strip().startswith("5 "))
    assert row5.endswith("[retransmission]") and "PSH,ACK seq=1 ack=1 len=10" in row5 and ">|" in row5
    row6 = next(ln for ln in lines if ln.strip().startswith("6 "))
    assert "|<" in row6 and "CLOSED*" in row6 and " 300.400 " in row6


def test_ladder_svg_is_well_formed() -> None:
    lad = _ladder(_refused())
    svg = ladder_svg(lad)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "RST,ACK seq=1 ack=1 len=0" in texts and "CLOSED" in texts
    assert len(list(root.iter("{http://www.w3.org/2000/svg}line"))) == 2 + 2


@pytest.fixture
def runner_group() -> click.Group:
    @click.group()
    def g() -> None:
        pass

    tcp_cmds.register(g)
    return g


def _need(name: str) -> Path:
    p = CAPTURES / name
    if not p.exists():
        pytest.fail(f"{name} missing from captures/")
    return p


def test_cli_tcp_json(runner_group: click.Group) -> None:
    r = CliRunner().invoke(runner_group, ["tcp", str(_need("tcp-refused.pcap")), "--json"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in r.output.splitlines()]
    assert len(recs) == 1
    rec = recs[0]
    assert (rec["conn_state"], rec["history"], rec["refused"], rec["close"], rec["closed_by"]) == (
        "REJ", "Sr", True, "rst", "server")
    assert [(t["endpoint"], t["state"], t["packet"], t["seen"]) for t in rec["timeline"]] == [
        ("client", "SYN_SENT", 1, True), ("server", "CLOSED", 2, True), ("client", "CLOSED", 2, False)]


def test_cli_tcp_text_and_filters(runner_group: click.Group) -> None:
    f = str(_need("tcp-reject-icmp.pcap"))
    r = CliRunner().invoke(runner_group, ["tcp", f])
    assert r.exit_code == 0, r.output
    assert r.output.count("conn_state S0") == 2 and "failed: ICMP port-unreachable (type 3 code 3) from 198.18.0.2" in r.output
    r = CliRunner().invoke(runner_group, ["tcp", f, "--conn", "1", "--json"])
    assert [json.loads(x)["conn"] for x in r.output.splitlines()] == [1]
    r = CliRunner().invoke(runner_group, ["tcp", f, "--port", "9"])
    assert (r.exit_code, r.output) == (0, "")
    r = CliRunner().invoke(runner_group, ["tcp", f, "--conn", "5"])
    assert r.exit_code != 0
    r = CliRunner().invoke(runner_group, ["tcp", f, "--conn", "0", "--port", "8080"])
    assert r.exit_code != 0


def test_cli_ladder(runner_group: click.Group, tmp_path: Path) -> None:
    svg = tmp_path / "l.svg"
    r = CliRunner().invoke(runner_group, ["ladder", str(_need("tcp-clean-fin.pcap")), "--conn", "0", "--svg",
                                          str(svg)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "conn 0: conn_state SF, history ShADadfF, closed with FIN, server first"
    assert sum(1 for ln in lines if "|" in ln and ("->|" in ln or "|<-" in ln)) == 10
    ET.parse(svg)
    r = CliRunner().invoke(runner_group, ["ladder", str(_need("tcp-clean-fin.pcap")), "--conn", "3"])
    assert r.exit_code != 0


def test_real_command_pcap_tcp_and_ladder(tmp_path: Path) -> None:
    import subprocess
    import sys

    f = str(_need("tcp-rst-server.pcap"))
    p = subprocess.run([sys.executable, "-m", "rawnet", "pcap", "tcp", f, "--json"], capture_output=True, text=True, check=False,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    rec = json.loads(p.stdout.splitlines()[0])
    assert (rec["conn_state"], rec["close"], rec["closed_by"], rec["client_state"], rec["server_state"]) == (
        "RSTR", "rst", "server", "CLOSED", "CLOSED")
    svg = tmp_path / "x.svg"
    p = subprocess.run([sys.executable, "-m", "rawnet", "pcap", "ladder", f, "--conn", "0", "--svg", str(svg)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "conn 0: conn_state RSTR, history ShADadr, reset by the server"
    assert svg.read_text().startswith("<svg")
