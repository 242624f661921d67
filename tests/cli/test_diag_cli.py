"""The live diagnostic commands' argument handling, rendering and exit codes, without a network:
library calls are replaced by fakes, privileges by a fake report."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rawnet.cli import cli, main
from rawnet.diag import doctor as doctor_mod
from rawnet.diag import ping as ping_mod
from rawnet.diag import probe as probe_mod
from rawnet.diag.doctor import DoctorReport, DoctorVerdict
from rawnet.testing import FakeHost, FakeTransport, ManualClock

COMMANDS = ["probe", "ping", "traceroute", "doctor", "handshake", "capture"]


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ei:
        main(args)
    out, err = capsys.readouterr()
    return int(ei.value.code or 0), out, err


@pytest.mark.parametrize("name", COMMANDS)
def test_help(name: str) -> None:
    r = CliRunner().invoke(cli, [name, "--help"])
    assert r.exit_code == 0
    assert r.output.startswith(f"Usage: cli {name} [OPTIONS]") or r.output.startswith(f"Usage: rawnet {name}")


@pytest.fixture
def no_raw(monkeypatch: pytest.MonkeyPatch) -> None:
    from rawnet.transport import privileges

    monkeypatch.setattr(privileges, "check_privileges", lambda status_path="": privileges.PrivilegeReport(1000, 0))


@pytest.mark.parametrize("args", [["probe", "198.18.0.2", "-p", "80"], ["ping", "198.18.0.2", "-c", "1"],
                                  ["traceroute", "198.18.0.2"], ["doctor", "198.18.0.2:80"],
                                  ["handshake", "198.18.0.2:80"], ["capture", "-c", "1"]])
def test_without_cap_net_raw_exit_77(args: list[str], no_raw: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(args, capsys)
    assert code == 77
    assert err.startswith("rawnet: error: ")
    assert "needs CAP_NET_RAW; run as root, or: sudo setcap cap_net_raw+ep /" in err


@pytest.mark.parametrize(("args", "code", "text"), [
    (["probe", "198.18.0.2", "-p", "0-5"], 64, "outside 1-65535"),
    (["probe", "255.255.255.255", "-p", "80"], 64, "broadcast address; pass --allow-broadcast"),
    (["ping", "224.0.0.1"], 64, "multicast address"),
    (["doctor", "nocolon"], 64, "expected HOST:PORT"),
    (["handshake", "198.18.0.2:80", "--suppress-kernel-rst"], 2, "only applies to --crafted"),
    (["probe", "198.18.0.2", "-p", "80", "--udp", "--ack"], 2, "exclude each other"),
])
def test_usage_errors(args: list[str], code: int, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    got, out, err = run_main(args, capsys)
    assert got == code
    assert text in err


def test_probe_renders_table_and_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = probe_mod.run_probe

    def fake(host, ports, **kw):
        clock = ManualClock()
        tr = FakeTransport(clock, FakeHost("198.18.0.2", tcp={22: "open", 81: "drop"}))
        kw = {k: v for k, v in kw.items() if k in ("scan", "retries", "timeout_s", "ttl")}
        return real(host, ports, transport=tr, src="198.18.0.1", clock=clock, **kw)

    monkeypatch.setattr(probe_mod, "run_probe", fake)
    code, out, _ = run_main(["probe", "198.18.0.2", "-p", "22,80,81"], capsys)
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "rawnet probe 198.18.0.2 from 198.18.0.1: 3 tcp ports, syn scan"
    assert lines[2].split()[:3] == ["22/tcp", "open", "syn-ack"]
    assert lines[3].split()[:3] == ["80/tcp", "closed", "reset"]
    assert lines[4].split()[:3] == ["81/tcp", "filtered", "no-response"]
    assert "this host's kernel answered every SYN/ACK with an RST" in out
    code, out, _ = run_main(["probe", "198.18.0.2", "-p", "80", "--json"], capsys)
    assert code == 1  # nothing open
    assert json.loads(out) == {"port": 80, "proto": "tcp", "state": "closed", "reason": "reset", "rtt_ns": 1000000,
                               "reply_ttl": 64, "sender": "198.18.0.2", "attempts": 1}


def test_ping_renders_summary(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = ping_mod.run_ping

    def fake(host, **kw):
        clock = ManualClock()
        tr = FakeTransport(clock, FakeHost("198.18.0.2"))
        keep = {k: v for k, v in kw.items() if k in ("count", "interval_s", "size", "on_event")}
        return real(host, transport=tr, src="198.18.0.1", clock=clock, ident=5, **keep)

    monkeypatch.setattr(ping_mod, "run_ping", fake)
    code, out, _ = run_main(["ping", "198.18.0.2", "-c", "2"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "PING 198.18.0.2 (198.18.0.2): 56 data bytes",
        "64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=1.000 ms",
        "64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=1.000 ms",
        "",
        "--- 198.18.0.2 ping statistics ---",
        "2 packets transmitted, 2 received, 0% packet loss, time 1001ms",
        "rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms"]


@pytest.mark.parametrize(("verdict", "code"), [(DoctorVerdict.OPEN, 0), (DoctorVerdict.REJECTED, 1)])
def test_doctor_exit_codes_and_json(verdict: DoctorVerdict, code: int, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rep = DoctorReport(verdict, "because", ["+0.000 ms -> IP 198.18.0.1.1 > 198.18.0.2.80: Flags [S]"])
    monkeypatch.setattr(doctor_mod, "run_doctor", lambda *a, **k: rep)
    got, out, _ = run_main(["doctor", "198.18.0.2:80", "--json"], capsys)
    assert got == code
    rec = json.loads(out)
    assert (rec["verdict"], rec["explanation"], rec["evidence"]) == (str(verdict), "because", rep.evidence)
    got, out, _ = run_main(["doctor", "198.18.0.2:80"], capsys)
    assert out.splitlines()[:2] == [f"198.18.0.2:80: {verdict}", "  because"]
