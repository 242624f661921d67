#!/usr/bin/env python3
"""Benchmark `rawnet pcap flows --json` against scapy, dpkt, tshark and tcptrace on the same capture.

    scripts/bench_pcap.py CAPTURE [--scapy-limit 50000] [--repeat 1] [--skip tcptrace,...]
    scripts/bench_pcap.py --make bench/large.pcap     # make the reference capture first (root; lab)

Every tool runs as its own process, one after another, in this one run; wall time gives packets/s and
os.wait4 gives each process's own peak RSS. scapy is too slow for the whole file: it reads the first
--scapy-limit packets and its rate is extrapolated (said in the table). Ratios are rawnet's packets/s
over each peer's. Nothing is sent anywhere; --make runs ../shared/tools/gen_capture.py in namespaces.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = HERE.parent.parent / "shared" / "tools" / "gen_capture.py"

SCAPY_FLOWS = r"""
import sys
from scapy.utils import PcapReader
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
limit = int(sys.argv[2]); flows = {}; n = 0
for pkt in PcapReader(sys.argv[1]):
    n += 1
    if n > limit: break
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None: continue
    l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
    sp, dp = (l4.sport, l4.dport) if l4 is not None else (None, None)
    k = (ip.src, sp, ip.dst, dp); r = (ip.dst, dp, ip.src, sp)
    c = flows.get(k) or flows.get(r)
    if c is None: c = flows[k] = [0, 0, 0, 0]
    fwd = k in flows
    i = 0 if fwd else 2
    c[i] += 1; c[i + 1] += len(pkt)
print(min(n, limit), len(flows))
"""

DPKT_FLOWS = r"""
import sys, dpkt
flows = {}; n = 0
with open(sys.argv[1], 'rb') as f:
    for ts, buf in dpkt.pcap.UniversalReader(f):
        n += 1
        try:
            eth = dpkt.ethernet.Ethernet(buf)
        except Exception:
            continue
        ip = eth.data
        if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)): continue
        l4 = ip.data
        sp = getattr(l4, 'sport', None); dp = getattr(l4, 'dport', None)
        k = (ip.src, sp, ip.dst, dp); r = (ip.dst, dp, ip.src, sp)
        c = flows.get(k) or flows.get(r)
        if c is None: c = flows[k] = [0, 0, 0, 0]
        i = 0 if k in flows else 2
        c[i] += 1; c[i + 1] += len(buf)
print(n, len(flows))
"""


def run(argv: list[str], *, stdout: int | None = subprocess.DEVNULL) -> tuple[float, int, int]:
    """Return (wall seconds, peak RSS bytes, exit code) of one process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def count_packets(path: str) -> int:
    """Return the number of frames in ``path`` (rawnet's own reader)."""
    from rawnet.capture.files import iter_records

    return sum(1 for _ in iter_records(path))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--make", metavar="OUT", help="make the reference capture (large preset) at OUT first")
    ap.add_argument("--preset", default="large", help="gen_capture preset for --make")
    ap.add_argument("--scapy-limit", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the median is shown")
    ap.add_argument("--skip", default="", help="comma-separated tools to skip (scapy,dpkt,tshark,tcptrace,rawnet-full)")
    args = ap.parse_args(argv)
    if args.make:
        if os.geteuid() != 0:
            print("bench_pcap: --make needs root (it builds a network lab)", file=sys.stderr)
            return 77
        subprocess.run([sys.executable, str(GEN), "run", "--preset", args.preset, "--out", args.make], check=True)
        args.capture = args.capture or args.make
    if not args.capture:
        ap.error("give a CAPTURE (or --make OUT)")
    cap = args.capture
    skip = set(filter(None, args.skip.split(",")))
    n = count_packets(cap)
    rawnet = [sys.executable, "-m", "rawnet"]
    tools: list[tuple[str, list[str], int]] = [
        ("rawnet pcap flows --fast --json", rawnet + ["pcap", "flows", cap, "--fast", "--json"], n),
        ("rawnet pcap flows --json (TCP tracked)", rawnet + ["pcap", "flows", cap, "--json"], n),
    ]
    if "rawnet-full" in skip:
        tools.pop()
    with tempfile.TemporaryDirectory() as tmp:
        sp = Path(tmp, "scapy_flows.py")
        sp.write_text(SCAPY_FLOWS)
        dp = Path(tmp, "dpkt_flows.py")
        dp.write_text(DPKT_FLOWS)
        if "scapy" not in skip:
            tools.append((f"scapy PcapReader + flows (first {min(n, args.scapy_limit):,}, extrapolated)",
                          [sys.executable, str(sp), cap, str(args.scapy_limit)], min(n, args.scapy_limit)))
        if "dpkt" not in skip:
            tools.append(("dpkt + flows", [sys.executable, str(dp), cap], n))
        if "tshark" not in skip and shutil.which("tshark"):
            tools.append(("tshark -q -z conv,tcp -z conv,udp", ["tshark", "-r", cap, "-q", "-n", "-z", "conv,tcp",
                                                                  "-z", "conv,udp"], n))
        if "tcptrace" not in skip and shutil.which("tcptrace"):
            tools.append(("tcptrace -n", ["tcptrace", "-n", cap], n))
        results = []
        for name, argv_, pkts in tools:
            runs = [run(argv_) for _ in range(args.repeat)]
            runs.sort()
            wall, rss, code = runs[len(runs) // 2]
            results.append((name, pkts / wall if wall else 0.0, rss, wall, code))
            print(f"  ran {name}: {wall:.2f} s", file=sys.stderr)
    base = results[0][1]
    print(f"capture: {cap} ({n:,} packets, {os.path.getsize(cap) / 1e6:.0f} MB)")
    print(f"{'tool':<58} {'packets/s':>12} {'peak RSS':>10} {'wall s':>8} {'rawnet --fast is':>18}")
    for name, pps, rss, wall, code in results:
        ratio = f"{base / pps:.2f}x" if pps else "-"
        flag = "" if code == 0 else f"  (exit {code})"
        print(f"{name:<58} {pps:>12,.0f} {rss / 1e6:>8.0f} MB {wall:>8.2f} {ratio:>18}{flag}")
    full = [r for r in results if r[0].startswith("rawnet pcap flows --json")]
    tsh = [r for r in results if r[0].startswith("tshark")]
    if full and tsh:
        print(f"rawnet (TCP tracked) vs tshark: {full[0][1] / tsh[0][1]:.2f}x packets/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
