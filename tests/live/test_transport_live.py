"""The transport's edges in the lab: the BPF filter really runs in the kernel, raw sends leave with the
kernel's routing, and PACKET_STATISTICS counts only what the filter accepted (root only)."""

from __future__ import annotations

import socket
import time

import pytest

from rawnet.packet import decode, encode
from rawnet.packet.craft import CraftSpec, craft
from rawnet.transport.bpf import reply_filter
from rawnet.transport.raw import L3Sender, PacketReceiver, open_transport

pytestmark = pytest.mark.privileged


def _knock(host_port: tuple[str, int]) -> None:
    fam = socket.AF_INET6 if ":" in host_port[0] else socket.AF_INET
    with socket.socket(fam) as s:
        s.settimeout(0.5)
        s.connect_ex(host_port)


@pytest.mark.parametrize("family", [4, 6])
def test_kernel_filter_drops_other_hosts(routed_lab, family: int) -> None:
    srv, rtr = routed_lab.addr("server", family), routed_lab.addr("router", family)
    with routed_lab.inside("client"):
        rx = PacketReceiver("eth0", reply_filter(srv))
        try:
            _knock((rtr, 80))  # RST from the router: not for us
            _knock((srv, 80))  # RST from the server: accepted
            time.sleep(0.05)
            got = [decode(d, 101) for _, d, _ in rx.recv_batch(200_000_000)]
            packets, drops = rx.statistics()
        finally:
            rx.close()
    assert [(p.src, p.tcp.flags & 0x04 != 0) for p in got if p.tcp is not None] == [(srv, True)]
    assert all(p.src == srv or p.icmp is not None for p in got)
    assert (packets, drops) == (len(got), 0)


def test_l3_sender_and_default_transport_pair_a_syn(routed_lab) -> None:
    srv = routed_lab.addr("server", 4)
    with routed_lab.inside("client"):
        tr = open_transport(srv, "eth0")
        try:
            syn = encode(craft(CraftSpec("tcp", "198.18.1.2", srv, 41000, 80, "S", 77)))
            tr.send(syn, srv)
            replies = [decode(d, 101) for _, d in tr.recv(500_000_000)]
        finally:
            tr.close()
    rst = [p for p in replies if p.tcp is not None]
    assert [(p.src, p.tcp.src_port, p.tcp.dst_port, p.tcp.ack) for p in rst] == [(srv, 80, 41000, 78)]
    assert rst[0].network.ttl == 63  # one router on the way: the kernel routed our crafted packet


def test_sender_counts_and_closes(routed_lab) -> None:
    with routed_lab.inside("client"):
        tx = L3Sender(6)
        tx.close()
    assert tx.sock.fileno() == -1
