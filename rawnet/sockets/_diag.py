"""Edge: the fast socket-table reader, on netlink sock_diag plus one walk of ``/proc/*/fd``.

Theory of operation: one ``NETLINK_SOCK_DIAG`` dump per (protocol, family) returns every TCP or UDP
socket of the calling *thread's* network namespace as fixed ``inet_diag_msg`` records (family, state,
ports, addresses, uid, inode), the same source ``ss`` uses (iproute2 ``misc/ss.c``). Processes are
found as ``ss -p`` and psutil find them: ``readlink`` of every ``/proc/<pid>/fd/*`` gives
``socket:[inode]``. An inode of 0 means no file refers to the socket (TIME_WAIT and request
minisockets, orphans): the kernel owns it. The pid is the lowest one holding the inode, as in psutil.
Process names follow psutil's rule (``comm``, widened from ``cmdline`` when ``comm`` is cut at 15
characters) and users its rule (real uid, name from the password database, else the uid as text), so
this reader's entries equal those of the psutil reader (``_psutil.py``), which the tests check.
A process that exits during the walk, or whose fds may not be read, never aborts the snapshot.
Needs no privilege to list sockets; attributing other users' sockets needs root (CAP_SYS_PTRACE or
CAP_DAC_READ_SEARCH): without it those rows get ``owner="hidden"``.
"""

from __future__ import annotations

import errno
import os
import pwd
import socket
import struct
from collections.abc import Iterable
from typing import Final

from ..errors import PrivilegeError, SocketTableError
from .table import SocketEntry, SocketState

__all__ = ["read_entries", "inode_owners", "KERNEL_STATES"]

S = SocketState

#: Linux ``include/net/tcp_states.h`` numbers -> RFC 9293 names. inet_diag reports request sockets
#: (NEW_SYN_RECV, 12) as SYN_RECV already; 12 is mapped anyway so a kernel that did not would still
#: read right. BOUND_INACTIVE (13) comes only when asked for, and we do not ask.
KERNEL_STATES: Final[dict[int, SocketState]] = {
    1: S.ESTABLISHED, 2: S.SYN_SENT, 3: S.SYN_RECEIVED, 4: S.FIN_WAIT_1, 5: S.FIN_WAIT_2,
    6: S.TIME_WAIT, 7: S.CLOSED, 8: S.CLOSE_WAIT, 9: S.LAST_ACK, 10: S.LISTEN, 11: S.CLOSING,
    12: S.SYN_RECEIVED,
}

_NETLINK_SOCK_DIAG: Final = 4
_SOCK_DIAG_BY_FAMILY: Final = 20
_NLM_F_REQUEST: Final = 0x1
_NLM_F_DUMP: Final = 0x300
_NLMSG_ERROR: Final = 2
_NLMSG_DONE: Final = 3
# states 1..12 (12 = NEW_SYN_RECV, i.e. request sockets); not 13 (BOUND_INACTIVE), as /proc/net/tcp
_TCP_STATES_MASK: Final = 0x1FFE
_ALL_STATES: Final = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")
# inet_diag_msg (72 bytes): family state timer retrans | sport dport src[16] dst[16] if cookie[2]
# | expires rqueue wqueue uid | inode. Ports stay as big-endian bytes; addresses are cut per family.
_DIAG_V4 = struct.Struct("=xB2x2s2s4s12x4s12x4x8x16xI")
_DIAG_V6 = struct.Struct("=xB2x2s2s16s16s4x8x16xI")
_DIAG_LEN = 72
_REQ = struct.Struct("=IHHII" "BBBxI" "HH16s16sI8s")

RawRow = tuple[int, bytes, bytes, bytes, bytes, int]


def _request(proto: int, family: int, seq: int) -> bytes:
    states = _TCP_STATES_MASK if proto == socket.IPPROTO_TCP else _ALL_STATES
    return _REQ.pack(_REQ.size, _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0,
                     family, proto, 0, states, 0, 0, b"", b"", 0, b"\xff" * 8)


def _dump(sock: socket.socket, proto: int, family: int, seq: int) -> list[RawRow]:
    """Return (state, sport, dport, src, dst, inode) of every socket one sock_diag dump lists.

    Ports are 2 big-endian bytes and addresses 4 or 16 bytes, as the kernel sent them.
    """
    sock.send(_request(proto, family, seq))
    out: list[RawRow] = []
    append = out.append
    hdr_unpack = _NLMSGHDR.unpack_from
    msg_unpack = (_DIAG_V4 if family == socket.AF_INET else _DIAG_V6).unpack_from
    buf = bytearray(1 << 17)
    view = memoryview(buf)
    for _ in range(10_000_000):  # bounded: a dump ends with NLMSG_DONE long before this
        n = sock.recv_into(view)
        if n == 0:
            raise SocketTableError("sock_diag: the kernel closed the netlink socket mid-dump")
        off = 0
        while off + 16 <= n:
            length, mtype, _flags, mseq, _pid = hdr_unpack(buf, off)
            if length < 16:
                raise SocketTableError(f"sock_diag: message at byte {off} has length {length} (minimum 16)")
            if mseq == seq:
                if mtype == _SOCK_DIAG_BY_FAMILY and length >= 16 + _DIAG_LEN:
                    append(msg_unpack(buf, off + 16))
                elif mtype == _NLMSG_DONE:
                    return out
                elif mtype == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", buf, off + 16)[0]
                    if code != 0:
                        raise OSError(code, f"sock_diag dump failed: {os.strerror(code)}")
            off += (length + 3) & ~3
    raise SocketTableError("sock_diag: dump did not end")


def inode_owners(wanted: set[int] | None = None) -> tuple[dict[int, int], bool]:
    """Return ({socket inode: lowest pid holding it}, complete) from a walk of ``/proc/*/fd``.

    ``complete`` is False when some process's fds could not be read for lack of privilege (as
    opposed to the process having exited). When ``wanted`` is given, only those inodes are kept, and
    the walk stops once all of them are found (pids are walked in increasing order, so each inode
    still gets its lowest holder).
    """
    owners: dict[int, int] = {}
    complete = True
    try:
        names = os.listdir("/proc")
    except OSError as err:
        raise SocketTableError(f"/proc: cannot be listed ({err.strerror}); is procfs mounted?") from err
    pids = sorted(int(n) for n in names if n.isdigit())
    readlink = os.readlink
    left = len(wanted) if wanted is not None else -1
    for pid in pids:
        base = f"/proc/{pid}/fd/"
        try:
            fds = os.listdir(base)
        except PermissionError:
            complete = False
            continue
        except OSError:  # exited (ENOENT) or a zombie (ESRCH)
            continue
        for fd in fds:
            try:
                target = readlink(base + fd)
            except OSError as err:
                if err.errno in (errno.EACCES, errno.EPERM):
                    complete = False
                    break
                continue  # fd closed meanwhile, or the process exited
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode not in owners and (wanted is None or inode in wanted):
                    owners[inode] = pid
                    left -= 1
        if left == 0:  # pids go up, so every inode already has its lowest holder
            return owners, True
    return owners, complete


_users: dict[int, str] = {}


def _user_name(uid: int) -> str:
    name = _users.get(uid)
    if name is None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        _users[uid] = name
    return name


def process_info(pid: int) -> tuple[str | None, str | None]:
    """Return (name, user) of ``pid`` as psutil reports them, ``None`` for what cannot be read."""
    name: str | None
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            name = f.read().rstrip(b"\n").decode("utf-8", "surrogateescape")
        if len(name) >= 15:  # comm is cut at 15 characters: widen it from cmdline as psutil does
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                raw = f.read()
            sep = b"\0" if b"\0" in raw else b" "
            args = [a for a in raw.rstrip(b"\0").split(sep)] if raw else []
            if args and args[0]:
                full = os.path.basename(args[0].decode("utf-8", "surrogateescape"))
                if full.startswith(name):
                    name = full
    except OSError:
        name = None
    user: str | None
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    user = _user_name(int(line.split()[1]))
                    break
            else:
                user = None
    except (OSError, ValueError, IndexError):
        user = None
    return name, user


_PROTOS: Final = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
_FAMILIES: Final = {4: socket.AF_INET, 6: socket.AF_INET6}


def read_entries(*, protos: Iterable[str] = ("tcp", "udp"), families: Iterable[int] = (4, 6),
                 processes: bool = True) -> list[SocketEntry]:
    """Return every TCP/UDP socket of this thread's network namespace, with owners when ``processes``.

    Raises:
        PrivilegeError: the netlink socket may not be opened.
        SocketTableError: sock_diag is unavailable or answered something unreadable.
    """
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, _NETLINK_SOCK_DIAG)
    except PermissionError as err:
        raise PrivilegeError("permission to open a NETLINK_SOCK_DIAG socket", "reading the socket table",
                             "use --reader psutil") from err
    except OSError as err:
        raise SocketTableError(f"sock_diag: netlink socket unavailable ({err.strerror}); use --reader psutil") from err
    raw: list[tuple[str, int, int, list[RawRow]]] = []
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        seq = 0
        for proto in protos:
            for fam in families:
                seq += 1
                try:
                    rows = _dump(sock, _PROTOS[proto], _FAMILIES[fam], seq)
                except OSError as err:
                    if err.errno == errno.ENOENT and fam == 6:  # no IPv6 in this kernel
                        continue
                    raise SocketTableError(f"sock_diag: {proto}{'6' if fam == 6 else ''} dump failed "
                                           f"({os.strerror(err.errno or 0)}); use --reader psutil") from err
                raw.append((proto, fam, _FAMILIES[fam], rows))
    finally:
        sock.close()

    owners: dict[int, int] = {}
    complete = True
    if processes:
        wanted = {r[5] for _p, _f, _af, rows in raw for r in rows}
        wanted.discard(0)
        if wanted:
            owners, complete = inode_owners(wanted)
    infos: dict[int, tuple[str | None, str | None]] = {}
    addrs: dict[bytes, str] = {}
    ports: dict[bytes, int] = {}
    ntop = socket.inet_ntop
    none_state = S.NONE
    states = [KERNEL_STATES.get(i) for i in range(256)]
    out: list[SocketEntry] = []
    append = out.append
    entry = SocketEntry
    for proto, fam, af, rows in raw:
        is_tcp = proto == "tcp"
        for state, sp, dp, src, dst, inode in rows:
            laddr = addrs.get(src)
            if laddr is None:
                laddr = addrs[src] = ntop(af, src)
            lport = ports.get(sp)
            if lport is None:
                lport = ports[sp] = int.from_bytes(sp, "big")
            rport = ports.get(dp)
            if rport is None:
                rport = ports[dp] = int.from_bytes(dp, "big")
            raddr: str | None
            if rport:
                raddr = addrs.get(dst)
                if raddr is None:
                    raddr = addrs[dst] = ntop(af, dst)
            else:
                raddr = rport = None
            if is_tcp:
                st = states[state]
                if st is None:
                    raise SocketTableError(f"sock_diag: TCP socket {laddr} port {lport} has kernel state "
                                           f"{state} (expected 1 to 12)")
            else:
                st = none_state
            if inode == 0:
                append(entry(proto, fam, laddr, lport, raddr, rport, st, None, None, None, "kernel"))
            elif not processes:
                append(entry(proto, fam, laddr, lport, raddr, rport, st, None, None, None, "process"))
            else:
                pid = owners.get(inode)
                if pid is None:
                    append(entry(proto, fam, laddr, lport, raddr, rport, st, None, None, None,
                                 "kernel" if complete else "hidden"))
                else:
                    info = infos.get(pid)
                    if info is None:
                        info = infos[pid] = process_info(pid)
                    append(entry(proto, fam, laddr, lport, raddr, rport, st, pid, info[0], info[1], "process"))
    return out
