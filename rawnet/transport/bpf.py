"""Classic BPF programs for the receive path (pure).

Theory of operation: the kernel runs a classic BPF program on every packet before it reaches a
packet socket (SO_ATTACH_FILTER), so a probe sees only the replies that can concern it instead of
every packet on the interface. Programs normally come from libpcap's compiler (``tcpdump -dd``,
run by ``rawnet.transport.raw.compile_filter``; ``parse_dd`` reads its output). When tcpdump is
not installed, ``reply_filter`` hand-builds the one filter probes need: IP packets from the target,
plus every ICMP/ICMPv6 message (errors come from routers, not from the target). Offsets are for
packets that start at the IP header (cooked AF_PACKET SOCK_DGRAM sockets, pcap LINKTYPE_RAW) unless
``link_offset`` says how many bytes of link header come first.
"""

from __future__ import annotations

import ipaddress
import re
import struct

from ..errors import UsageError

__all__ = ["Insn", "parse_dd", "reply_filter", "accept_all", "pack_program", "run_filter"]

Insn = tuple[int, int, int, int]

LD_W_ABS, LD_H_ABS, LD_B_ABS = 0x20, 0x28, 0x30
ALU_AND_K = 0x54
JEQ_K = 0x15
RET_K = 0x06
SNAP = 0x40000
_DD = re.compile(r"\{\s*(0x[0-9a-fA-F]+),\s*(\d+),\s*(\d+),\s*(0x[0-9a-fA-F]+)\s*\}")


def parse_dd(text: str) -> list[Insn]:
    """Return the instructions of ``tcpdump -dd`` output; raise UsageError when there are none."""
    insns = [(int(a, 16), int(b), int(c), int(d, 16)) for a, b, c, d in _DD.findall(text)]
    if not insns:
        raise UsageError(f"BPF: the compiler printed no program ({text.strip()[:200]!r})")
    return insns


def accept_all() -> list[Insn]:
    """Return a program that accepts every packet."""
    return [(RET_K, 0, 0, SNAP)]


def reply_filter(target: str, *, link_offset: int = 0, ethertype_offset: int | None = None) -> list[Insn]:
    """Return a program accepting packets from ``target`` and all ICMP (v4 target) or ICMPv6 (v6 target).

    Args:
        target: the probed address; its version decides the program.
        link_offset: bytes before the IP header (0 cooked/raw, 14 Ethernet).
        ethertype_offset: where to check the ethertype (12 for Ethernet), or None for cooked sockets.
    """
    ip = ipaddress.ip_address(target)
    b = link_offset
    prog: list[Insn] = []
    # jump offsets below are relative to the next instruction; ACCEPT and DROP are the last two
    if ip.version == 4:
        body: list[tuple[int, int, int, int | str]] = []
        if ethertype_offset is not None:
            body.append((LD_H_ABS, 0, 0, ethertype_offset))
            body.append((JEQ_K, 0, "D", 0x0800))
        body += [(LD_B_ABS, 0, 0, b), (ALU_AND_K, 0, 0, 0xF0), (JEQ_K, 0, "D", 0x40),
                 (LD_B_ABS, 0, 0, b + 9), (JEQ_K, "A", 0, 1),
                 (LD_W_ABS, 0, 0, b + 12), (JEQ_K, "A", "D", int(ip))]
    else:
        words = struct.unpack("!IIII", ip.packed)
        body = []
        if ethertype_offset is not None:
            body.append((LD_H_ABS, 0, 0, ethertype_offset))
            body.append((JEQ_K, 0, "D", 0x86DD))
        body += [(LD_B_ABS, 0, 0, b), (ALU_AND_K, 0, 0, 0xF0), (JEQ_K, 0, "D", 0x60),
                 (LD_B_ABS, 0, 0, b + 6), (JEQ_K, "A", 0, 58)]
        for i, w in enumerate(words):
            body.append((LD_W_ABS, 0, 0, b + 8 + 4 * i))
            body.append((JEQ_K, "A" if i == 3 else 0, "D", w))
    n = len(body)
    accept, drop = n, n + 1
    for i, (code, jt, jf, k) in enumerate(body):
        def rel(x: int | str) -> int:
            if x == "A":
                return accept - i - 1
            if x == "D":
                return drop - i - 1
            return int(x)
        prog.append((code, rel(jt), rel(jf), int(k)))
    prog += [(RET_K, 0, 0, SNAP), (RET_K, 0, 0, 0)]
    return prog


def pack_program(insns: list[Insn]) -> bytes:
    """Return the instructions packed as an array of ``struct sock_filter`` (8 bytes each, native order)."""
    return b"".join(struct.pack("=HBBI", c, jt, jf, k & 0xFFFFFFFF) for c, jt, jf, k in insns)


def run_filter(insns: list[Insn], packet: bytes) -> int:
    """Return what the program returns for ``packet`` (a tiny interpreter for the opcodes used here; tests)."""
    a = 0
    pc = 0
    while pc < len(insns):
        code, jt, jf, k = insns[pc]
        pc += 1
        if code in (LD_W_ABS, LD_H_ABS, LD_B_ABS):
            size = {LD_W_ABS: 4, LD_H_ABS: 2, LD_B_ABS: 1}[code]
            if k + size > len(packet):
                return 0
            a = int.from_bytes(packet[k:k + size], "big")
        elif code == ALU_AND_K:
            a &= k
        elif code == JEQ_K:
            pc += jt if a == k else jf
        elif code == RET_K:
            return k
        else:
            raise UsageError(f"BPF: opcode 0x{code:02x} is not interpreted by run_filter")
    return 0
