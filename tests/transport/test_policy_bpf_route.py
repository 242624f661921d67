"""Pure parts of the transport: target policy, bounds, capability parsing, route JSON, BPF programs."""

from __future__ import annotations

import shutil

import pytest

from rawnet.errors import PrivilegeError, TargetNotAllowedError, UsageError
from rawnet.packet import encode
from rawnet.packet.craft import CraftSpec, craft
from rawnet.transport import privileges
from rawnet.transport.bpf import parse_dd, reply_filter, run_filter
from rawnet.transport.policy import Bounds, check_target
from rawnet.transport.route import Route, parse_route_get


@pytest.mark.parametrize(("addr", "kind"), [("0.0.0.0", "unspecified"), ("::", "unspecified"),
                                            ("255.255.255.255", "broadcast"), ("224.0.0.1", "multicast"),
                                            ("ff02::1", "multicast")])
def test_refused_targets(addr: str, kind: str) -> None:
    with pytest.raises(TargetNotAllowedError) as ei:
        check_target(addr)
    assert ei.value.kind == kind
    assert ei.value.exit_code == 64


def test_subnet_broadcast_by_route_type_and_allow() -> None:
    with pytest.raises(TargetNotAllowedError, match="198.18.1.255 is a broadcast address; pass --allow-broadcast"):
        check_target("198.18.1.255", route_type="broadcast")
    assert str(check_target("224.0.0.1", allow_broadcast=True)) == "224.0.0.1"
    with pytest.raises(TargetNotAllowedError):
        check_target("0.0.0.0", allow_broadcast=True)  # unspecified is never allowed
    with pytest.raises(UsageError):
        check_target("nope")


def test_bounds() -> None:
    assert Bounds(rate_pps=1000).interval_ns == 1_000_000
    assert Bounds(rate_pps=None).interval_ns == 0
    with pytest.raises(UsageError):
        Bounds(max_packets=0)
    with pytest.raises(UsageError):
        Bounds(max_duration_s=10_000)


def test_cap_eff_parsing_and_error_message(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert privileges.parse_cap_eff("Name:\tx\nCapEff:\t0000000000002000\n") == 1 << 13
    status = tmp_path / "status"
    status.write_text("CapEff:\t0000000000000000\n")
    rep = privileges.check_privileges(str(status))
    assert (rep.has_net_raw, rep.has_net_admin) == (False, False)
    monkeypatch.setattr(privileges, "check_privileges", lambda: rep)
    with pytest.raises(PrivilegeError) as ei:
        privileges.require_cap_net_raw("sending raw probes")
    msg = str(ei.value)
    assert msg.startswith("sending raw probes needs CAP_NET_RAW; run as root, or: sudo setcap cap_net_raw+ep /")
    assert ei.value.exit_code == 77


def test_parse_route_get() -> None:
    r = parse_route_get("198.18.2.2", '[{"dst":"198.18.2.2","gateway":"198.18.1.1","dev":"eth0",'
                                      '"prefsrc":"198.18.1.2","flags":[],"uid":0,"cache":[]}]')
    assert r == Route("198.18.2.2", "198.18.1.2", "eth0", "198.18.1.1", "unicast", None, None)
    assert r.describe() == "198.18.2.2 via 198.18.1.1 dev eth0 src 198.18.1.2"
    local = parse_route_get("127.0.0.1", '[{"type":"local","dst":"127.0.0.1","dev":"lo","prefsrc":"127.0.0.1"}]')
    assert (local.is_local, local.ok, local.describe()) == (True, True, "local 127.0.0.1 dev lo src 127.0.0.1")
    assert Route("198.18.9.9", None, None, type="unreachable", error="Network is unreachable").ok is False


def _ip(src: str, dst: str, proto: str = "tcp") -> bytes:
    return encode(craft(CraftSpec(proto, src, dst, 80, 40000, "SA")))


def test_reply_filter_v4() -> None:
    prog = reply_filter("198.18.0.2")
    assert run_filter(prog, _ip("198.18.0.2", "198.18.0.1")) > 0
    assert run_filter(prog, _ip("198.18.0.3", "198.18.0.1")) == 0
    assert run_filter(prog, _ip("198.18.0.9", "198.18.0.1", "icmp")) > 0  # errors come from routers
    assert run_filter(prog, _ip("fd00::2", "fd00::1")) == 0


def test_reply_filter_v6_and_ethernet_offsets() -> None:
    prog = reply_filter("fd00::2")
    assert run_filter(prog, _ip("fd00::2", "fd00::1")) > 0
    assert run_filter(prog, _ip("fd00::3", "fd00::1")) == 0
    assert run_filter(prog, _ip("fd00:9::1", "fd00::1", "icmp")) > 0
    eth = b"\x02" * 12 + b"\x08\x00"
    prog4 = reply_filter("198.18.0.2", link_offset=14, ethertype_offset=12)
    assert run_filter(prog4, eth + _ip("198.18.0.2", "198.18.0.1")) > 0
    assert run_filter(prog4, b"\x02" * 12 + b"\x86\xdd" + _ip("198.18.0.2", "198.18.0.1")) == 0


def test_parse_dd() -> None:
    assert parse_dd("{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 0, 0x00040000 },\n") == [(0x28, 0, 0, 12),
                                                                                     (6, 0, 0, 0x40000)]
    with pytest.raises(UsageError):
        parse_dd("tcpdump: syntax error")


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump to compile filters")
def test_tcpdump_compiled_filter_agrees_with_hand_built() -> None:
    from rawnet.transport.raw import compile_filter

    prog = compile_filter("src host 198.18.0.2 or icmp")
    for pkt in (_ip("198.18.0.2", "198.18.0.1"), _ip("198.18.0.3", "198.18.0.1"),
                _ip("198.18.0.9", "198.18.0.1", "icmp")):
        assert (run_filter(prog, pkt) > 0) == (run_filter(reply_filter("198.18.0.2"), pkt) > 0)
    with pytest.raises(UsageError, match="BPF filter 'port nonsense'"):
        compile_filter("port nonsense")
