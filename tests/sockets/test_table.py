"""Pure tests of the socket table: state names, filters, diff, summary (hand-made entries)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawnet.errors import UsageError
from rawnet.sockets import (
    STATE_GROUPS,
    SocketEntry,
    SocketEvent,
    SocketFilter,
    SocketState,
    SocketTable,
    diff,
    parse_states,
    summarize,
)

S = SocketState


def E(proto: str = "tcp", fam: int = 4, laddr: str = "198.18.0.2", lport: int = 80, raddr: str | None = "198.18.0.1",
      rport: int | None = 40000, state: SocketState = S.ESTABLISHED, pid: int | None = 100,
      process: str | None = "srv", user: str | None = "root", owner: str = "process") -> SocketEntry:
    return SocketEntry(proto, fam, laddr, lport, raddr, rport, state, pid, process, user, owner)  # type: ignore[arg-type]


# ------------------------------------------------------------------ state names


def test_rfc_names_any_case() -> None:
    assert parse_states(["ESTABLISHED", "syn_received", "Fin_Wait_1", "time-wait"]) == {
        S.ESTABLISHED, S.SYN_RECEIVED, S.FIN_WAIT_1, S.TIME_WAIT}


@pytest.mark.parametrize(("name", "state"), [
    ("established", S.ESTABLISHED), ("syn-sent", S.SYN_SENT), ("syn-recv", S.SYN_RECEIVED),
    ("fin-wait-1", S.FIN_WAIT_1), ("fin-wait-2", S.FIN_WAIT_2), ("time-wait", S.TIME_WAIT), ("closed", S.CLOSED),
    ("close-wait", S.CLOSE_WAIT), ("last-ack", S.LAST_ACK), ("listening", S.LISTEN), ("closing", S.CLOSING),
    ("ESTAB", S.ESTABLISHED), ("UNCONN", S.CLOSED), ("none", S.NONE),
])
def test_ss_names(name: str, state: SocketState) -> None:
    assert parse_states([name]) == {state}


def test_ss_groups() -> None:
    tcp = set(SocketState) - {S.NONE}
    assert parse_states(["connected"]) == tcp - {S.LISTEN, S.CLOSED}
    assert parse_states(["synchronized"]) == tcp - {S.LISTEN, S.CLOSED, S.SYN_SENT}
    assert parse_states(["bucket"]) == {S.SYN_RECEIVED, S.TIME_WAIT}
    assert parse_states(["big"]) == tcp - {S.SYN_RECEIVED, S.TIME_WAIT}
    assert parse_states(["all"]) == set(SocketState)
    assert parse_states(["bucket", "listening"]) == {S.SYN_RECEIVED, S.TIME_WAIT, S.LISTEN}
    assert set(STATE_GROUPS) == {"all", "connected", "synchronized", "bucket", "big"}


def test_unknown_state_is_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        parse_states(["new-syn-recv"])
    assert str(info.value).startswith("--state new-syn-recv: unknown state (one of the RFC 9293 names or ")
    assert info.value.exit_code == 64


# ------------------------------------------------------------------ filters

ROWS = [
    E(),                                                                     # 0 tcp4 estab
    E(state=S.LISTEN, raddr=None, rport=None, laddr="0.0.0.0"),              # 1 tcp4 listen
    E(fam=6, laddr="fd00::2", raddr="fd00::1", state=S.CLOSE_WAIT, pid=200, process="app"),  # 2
    E(proto="udp", laddr="198.18.0.2", lport=53, raddr=None, rport=None, state=S.NONE, pid=300, process="dns"),  # 3
    E(proto="udp", lport=5000, raddr="198.18.0.9", rport=53, state=S.NONE, pid=300, process="dns"),  # 4
    E(state=S.TIME_WAIT, lport=80, rport=40001, pid=None, process=None, user=None, owner="kernel"),  # 5
    E(fam=6, laddr="::ffff:198.18.0.2", raddr="::ffff:10.1.2.3", lport=443, rport=50000),  # 6 v4-mapped
]


def pick(flt: SocketFilter) -> list[int]:
    return [i for i, e in enumerate(ROWS) if flt.matches(e)]


@pytest.mark.parametrize(("flt", "want"), [
    (SocketFilter(), [0, 1, 2, 3, 4, 5, 6]),
    (SocketFilter(protos=frozenset({"udp"})), [3, 4]),
    (SocketFilter(families=frozenset({6})), [2, 6]),
    (SocketFilter(listening=True), [1, 3]),
    (SocketFilter(states=frozenset({S.TIME_WAIT, S.CLOSE_WAIT})), [2, 5]),
    (SocketFilter(states=parse_states(["connected"])), [0, 2, 5, 6]),
    (SocketFilter(port=53), [3, 4]),
    (SocketFilter(sport=53), [3]),
    (SocketFilter(dport=53), [4]),
    (SocketFilter(port=80, states=frozenset({S.ESTABLISHED})), [0]),
    (SocketFilter(pid=300), [3, 4]),
    (SocketFilter(process="app"), [2]),
    (SocketFilter(host="198.18.0.9"), [4]),
    (SocketFilter(host="fd00::/64"), [2]),
    (SocketFilter(host="10.0.0.0/8"), [6]),
    (SocketFilter(host="198.18.0.1", protos=frozenset({"tcp"}), families=frozenset({4})), [0, 5]),
])
def test_filter(flt: SocketFilter, want: list[int]) -> None:
    assert pick(flt) == want


def test_bad_filters() -> None:
    with pytest.raises(UsageError, match=r"^--host example.org: not an IP address or network"):
        SocketFilter(host="example.org")
    with pytest.raises(UsageError, match=r"^--sport 70000: not a port number \(0 to 65535\)$"):
        SocketFilter(sport=70000)
    with pytest.raises(UsageError, match=r"^protocol 'sctp' is not supported \(tcp or udp\)$"):
        SocketFilter(protos=frozenset({"sctp"}))


def test_table_select_and_sorted() -> None:
    t = SocketTable(tuple(ROWS), ts_ns=5, reader="diag")
    sel = t.select(SocketFilter(protos=frozenset({"udp"})))
    assert (sel.ts_ns, sel.reader, len(sel)) == (5, "diag", 2)
    assert [(e.proto, e.family, e.lport) for e in t.sorted().entries] == [
        ("tcp", 4, 80), ("tcp", 4, 80), ("tcp", 4, 80), ("tcp", 6, 80), ("tcp", 6, 443), ("udp", 4, 53), ("udp", 4, 5000)]


def test_entry_as_dict_keys_and_values() -> None:
    assert ROWS[5].as_dict() == {
        "proto": "tcp", "family": 4, "laddr": "198.18.0.2", "lport": 80, "raddr": "198.18.0.1", "rport": 40001,
        "state": "TIME_WAIT", "pid": None, "process": None, "user": None, "owner": "kernel"}
    assert ROWS[1].is_listening and ROWS[3].is_listening and not ROWS[4].is_listening


# ------------------------------------------------------------------ diff


def T(*rows: SocketEntry, ts: int = 0) -> SocketTable:
    return SocketTable(tuple(rows), ts, "test")


def kinds(events: list[SocketEvent]) -> list[tuple[str, int, str | None, str | None, int | None]]:
    return [(e.event, e.entry.rport or 0, e.old_state, e.new_state, e.ts_ns) for e in events]


def test_diff_life_of_a_connection() -> None:
    lst = E(state=S.LISTEN, raddr=None, rport=None)
    a = E(state=S.SYN_SENT, rport=1)
    snaps = [
        T(lst, ts=0),
        T(lst, a, ts=1),
        T(lst, E(state=S.ESTABLISHED, rport=1), ts=2),
        T(lst, E(state=S.FIN_WAIT_1, rport=1), ts=3),
        T(lst, E(state=S.TIME_WAIT, rport=1, pid=None, process=None, user=None, owner="kernel"), ts=4),
        T(lst, ts=5),
    ]
    got = [kinds(diff(x, y)) for x, y in zip(snaps, snaps[1:])]
    assert got == [
        [("opened", 1, None, "SYN_SENT", 1)],
        [("changed", 1, "SYN_SENT", "ESTABLISHED", 2)],
        [("changed", 1, "ESTABLISHED", "FIN_WAIT_1", 3)],
        [("changed", 1, "FIN_WAIT_1", "TIME_WAIT", 4)],
        [("closed", 1, "TIME_WAIT", None, 5)],
    ]
    closed = diff(snaps[4], snaps[5])[0]
    assert closed.as_dict() == {"ts_ns": 5, "event": "closed", "proto": "tcp", "laddr": "198.18.0.2", "lport": 80,
                                "raddr": "198.18.0.1", "rport": 1, "old_state": "TIME_WAIT", "new_state": None,
                                "pid": None, "process": None}


def test_diff_unchanged_and_owner_only_change() -> None:
    a = E(state=S.FIN_WAIT_1)
    orphan = E(state=S.FIN_WAIT_1, pid=None, process=None, user=None, owner="kernel")
    assert diff(T(a), T(a)) == []
    assert diff(T(a), T(orphan)) == []  # the process exited; the socket did not change state


def test_diff_shared_identity_pairs_by_state() -> None:
    l1 = E(state=S.LISTEN, raddr=None, rport=None, pid=1)
    l2 = E(state=S.LISTEN, raddr=None, rport=None, pid=2)  # SO_REUSEPORT: same identity, two sockets
    assert kinds(diff(T(l1), T(l1, l2, ts=9))) == [("opened", 0, None, "LISTEN", 9)]
    ev = diff(T(l1, l2), T(l2, ts=9))
    assert [(e.event, e.entry.pid) for e in ev] == [("closed", 1)]


def test_diff_order_is_stable() -> None:
    rows = [E(lport=p, rport=p) for p in (30, 10, 20)]
    ev = diff(T(), T(*rows))
    assert [e.entry.lport for e in ev] == [10, 20, 30]


entries_st = st.builds(
    E,
    proto=st.sampled_from(["tcp", "udp"]),
    lport=st.integers(1, 4),
    rport=st.sampled_from([None, 1, 2]),
    state=st.sampled_from(list(SocketState)),
    pid=st.sampled_from([None, 1, 2]),
)


@given(st.lists(entries_st, max_size=8), st.lists(entries_st, max_size=8))
def test_diff_properties(old: list[SocketEntry], new: list[SocketEntry]) -> None:
    ev = diff(T(*old), T(*new, ts=7))
    n_open = sum(e.event == "opened" for e in ev)
    n_close = sum(e.event == "closed" for e in ev)
    assert n_open - n_close == len(new) - len(old)
    assert all(e.ts_ns == 7 for e in ev)
    assert all(e.old_state != e.new_state for e in ev)
    assert diff(T(*new), T(*new)) == []


# ------------------------------------------------------------------ summary


def test_summarize() -> None:
    rows = ROWS + [E(state=S.LAST_ACK, pid=None, process=None, user=None, owner="kernel"),
                   E(state=S.SYN_RECEIVED, pid=None, process=None, user=None, owner="kernel"),
                   E(state=S.LISTEN, raddr=None, rport=None, pid=None, owner="hidden")]
    s = summarize(T(*rows))
    assert s.total == 10
    assert s.by_proto_state == {
        "tcp": {"LISTEN": 2, "SYN_RECEIVED": 1, "ESTABLISHED": 2, "CLOSE_WAIT": 1, "LAST_ACK": 1, "TIME_WAIT": 1},
        "udp": {"NONE": 2}}
    assert s.by_proto_family == {"tcp": {4: 6, 6: 2}, "udp": {4: 2}}
    assert s.by_owner == {"hidden": 1, "kernel": 3, "process": 6}
    assert s.orphaned == 1
    assert s.as_dict()["protocols"] == {
        "tcp": {"total": 8, "states": s.by_proto_state["tcp"], "families": {"4": 6, "6": 2}},
        "udp": {"total": 2, "states": {"NONE": 2}, "families": {"4": 2}}}


def test_import_is_light() -> None:
    code = ("import sys, rawnet.sockets, rawnet.sockets.check, rawnet.sockets.who, rawnet.sockets._psutil; "
            "print(sorted(m for m in ('psutil', 'click', 'rich', 'subprocess') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
