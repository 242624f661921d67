#!/usr/bin/env python3
"""Benchmark rawnet's raw-socket probing against scapy and nmap, in a private network lab (needs root).

    scripts/bench_probe.py [--send-count 200000] [--scapy-count 5000] [--sr-ports 2000] [--quick]

Two measurements, one run, printed as a table with ratios:
1. Send rate of crafted TCP SYNs from the lab client to the lab server over a veth pair:
   rawnet L2 (AF_PACKET, prebuilt frames, sendmmsg batches, qdisc bypass), rawnet L3 (IPPROTO_RAW
   sendto per packet), and scapy ``send()`` on a smaller count (extrapolated rate, said so). The
   server's nft netdev ingress hook drops the bench port, so the server's kernel does not answer. The
   default rate limit of rawnet is lifted explicitly here (``rate_pps=None``) and nowhere else.
2. A SYN scan of all 65535 ports of the lab server (a few ports listen, the rest answer RST):
   ``rawnet.diag.probe.run_probe`` wall time vs ``nmap -sS -p- -n`` vs scapy ``sr()`` on a subset
   of ports (extrapolated to 65535, said so).

Every packet goes to 198.18.0.2 inside the lab's namespaces; the lab is removed at the end.
Example output (2 cores, this machine):
    see the note of issue 6
"""

from __future__ import annotations

import argparse
import json
import sys
import time

SCAPY_SEND = r"""
import sys, time
from scapy.config import conf
from scapy.layers.inet import IP, TCP
from scapy.supersocket import L3RawSocket
from scapy.sendrecv import send
conf.L3socket = L3RawSocket
n = int(sys.argv[1])
pkt = IP(dst="198.18.0.2") / TCP(sport=45000, dport=9, flags="S")
t = time.perf_counter()
send(pkt, count=n, verbose=0)
print(time.perf_counter() - t)
"""

SCAPY_SR = r"""
import sys, time
from scapy.config import conf
from scapy.layers.inet import IP, TCP
from scapy.supersocket import L3RawSocket
from scapy.sendrecv import sr
conf.L3socket = L3RawSocket
n = int(sys.argv[1])
t = time.perf_counter()
ans, unans = sr(IP(dst="198.18.0.2") / TCP(sport=45001, dport=(1, n), flags="S"), timeout=1, verbose=0)
print(time.perf_counter() - t, len(ans), len(unans))
"""


def _mac(lab: object, host: str) -> bytes:
    out = lab.run(host, ["ip", "-j", "link", "show", "eth0"]).stdout  # type: ignore[attr-defined]
    return bytes.fromhex(json.loads(out)[0]["address"].replace(":", ""))


def bench_send(lab: object, count: int, scapy_count: int) -> list[tuple[str, int, float]]:
    """Return (label, packets, seconds) rows for the send-rate measurement."""
    from rawnet.packet import encode
    from rawnet.packet.craft import CraftSpec, craft
    from rawnet.transport.raw import L2Sender, L3Sender

    frames = []
    l3 = []
    eth = _mac(lab, "server") + _mac(lab, "client") + b"\x08\x00"
    for i in range(1024):
        ip = encode(craft(CraftSpec("tcp", "198.18.0.1", "198.18.0.2", 40000 + i, 9, "S", 1000 + i, window=1024)))
        l3.append(ip)
        frames.append(eth + ip)
    rows = []
    with lab.inside("client"):  # type: ignore[attr-defined]
        l2s = L2Sender("eth0")
        try:
            batch = l2s.prepare(frames * 16)  # 16384 distinct-port frames, laid out once
            sent = 0
            t = time.perf_counter()
            while sent < count:
                sent += l2s.send_prepared(batch, count - sent)
            rows.append(("rawnet L2 sendmmsg", sent, time.perf_counter() - t))
        finally:
            l2s.close()
        l3s = L3Sender(4)
        try:
            n = count // 4
            t = time.perf_counter()
            for i in range(n):
                l3s.send(l3[i & 1023], "198.18.0.2")
            rows.append(("rawnet L3 sendto", n, time.perf_counter() - t))
        finally:
            l3s.close()
    out = lab.run("client", [sys.executable, "-c", SCAPY_SEND, str(scapy_count)]).stdout  # type: ignore[attr-defined]
    rows.append(("scapy send() (L3RawSocket)", scapy_count, float(out.split()[0])))
    return rows


def bench_scan(lab: object, sr_ports: int, repeat: int) -> list[tuple[str, float, str]]:
    """Return (label, best seconds of ``repeat`` runs for 65535 ports, note) rows for the full-port scan."""
    import re

    from rawnet.diag.probe import run_probe

    rows = []
    walls = []
    note = ""
    for _ in range(repeat):
        with lab.inside("client"):  # type: ignore[attr-defined]
            t = time.perf_counter()
            rep = run_probe("198.18.0.2", range(1, 65536), rate_pps=None, retries=0, timeout_s=0.3,
                            max_duration_s=60)
            walls.append(time.perf_counter() - t)
        note = ", ".join(f"{n} {s}" for s, n in sorted(rep.counts().items()))
    rows.append(("rawnet probe (run_probe, rate limit lifted)", min(walls), note))
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = lab.run("client", ["nmap", "-sS", "-p-", "-n", "-Pn", "198.18.0.2"]).stdout  # type: ignore[attr-defined]
        walls.append(time.perf_counter() - t)
    open_n = len(re.findall(r"^\d+/tcp\s+open\s", out, re.M))
    rows.append(("nmap -sS -p- -n -Pn (process wall time)", min(walls), f"{open_n} open"))
    out = lab.run("client", [sys.executable, "-c", SCAPY_SR, str(sr_ports)]).stdout  # type: ignore[attr-defined]
    secs, ans, unans = out.split()
    rows.append((f"scapy sr() on {sr_ports} ports, extrapolated", float(secs) * 65535 / sr_ports,
                 f"measured {float(secs):.2f} s for {sr_ports} ports ({ans} answered, {unans} unanswered)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench_probe.py", description=__doc__.splitlines()[0])
    ap.add_argument("--send-count", type=int, default=200_000, help="SYNs for the rawnet send rate (max 1000000)")
    ap.add_argument("--scapy-count", type=int, default=5000, help="SYNs for scapy send() (max 100000)")
    ap.add_argument("--sr-ports", type=int, default=2000, help="ports for scapy sr() (max 65535)")
    ap.add_argument("--repeat", type=int, default=3, help="full scans per tool; the best time is shown (1-10)")
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke test, not a measurement)")
    args = ap.parse_args(argv)
    if args.quick:
        args.send_count, args.scapy_count, args.sr_ports, args.repeat = 5000, 200, 100, 1
    if not (0 < args.send_count <= 1_000_000 and 0 < args.scapy_count <= 100_000 and 0 < args.sr_ports <= 65535
            and 1 <= args.repeat <= 10):
        ap.error("counts out of range")
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "tests"))
    from rawnet.lab import lab_up

    lab = lab_up()
    try:
        # drop the send-rate bench's SYNs at the server's ingress hook, before the IP stack sees them
        lab.run("server", ["nft", "add", "table", "netdev", "rnbench"])
        lab.run("server", ["nft", "add", "chain", "netdev", "rnbench", "in",
                           "{ type filter hook ingress device eth0 priority 0 ; policy accept ; }"])
        lab.run("server", ["nft", "add", "rule", "netdev", "rnbench", "in", "tcp", "dport", "9", "drop"])
        listeners = ("import socket,time\nss=[]\nfor p in (22,80,443,8080):\n s=socket.socket();s.bind(('0.0.0.0',p));"
                     "s.listen(1024);ss.append(s)\ntime.sleep(600)")
        lab.popen("server", [sys.executable, "-c", listeners])
        time.sleep(0.3)
        send_rows = bench_send(lab, args.send_count, args.scapy_count)
        scan_rows = bench_scan(lab, args.sr_ports, args.repeat)
    finally:
        lab.down()
    print("1. crafted TCP SYN send rate over a veth (client -> server namespace)")
    print(f"   {'sender':<36} {'packets':>9} {'seconds':>8} {'pkt/s':>11} {'vs scapy':>9}")
    scapy_rate = send_rows[-1][1] / send_rows[-1][2]
    for label, n, secs in send_rows:
        rate = n / secs
        print(f"   {label:<36} {n:>9} {secs:>8.3f} {rate:>11,.0f} {rate / scapy_rate:>8.1f}x")
    print(f"2. SYN scan of all 65535 ports of the lab server (4 listen, 1 dropped, the rest answer RST); "
          f"best of {args.repeat}")
    print(f"   {'scanner':<46} {'wall s':>7} {'vs nmap':>8}  result")
    nmap_s = scan_rows[1][1]
    for label, secs, note in scan_rows:
        print(f"   {label:<46} {secs:>7.2f} {secs / nmap_s:>7.2f}x  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
