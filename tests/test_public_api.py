"""The public API: every name in ``rawnet.__all__`` and ``rawnet.packet.__all__`` exists, is listed
once, and each object is exported by exactly one of the two (trio's test_exports.py), except the
few the top-level package re-exports from the codec on purpose."""

from __future__ import annotations

import inspect
from collections import Counter

import pytest

import rawnet
import rawnet.errors
import rawnet.packet

MODULES = [rawnet, rawnet.packet]
# re-exported by rawnet from rawnet.packet on purpose: the one decoded type and the stack functions
SHARED = {"Packet", "decode", "encode"}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_all_names_exist_once(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert [n for n, c in Counter(names).items() if c > 1] == []
    assert [n for n in names if not hasattr(module, n)] == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_public_names_are_in_all(module: object) -> None:
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"}
    assert sorted(public - set(module.__all__)) == []  # type: ignore[attr-defined]


def test_each_object_is_exported_by_one_public_module() -> None:
    owners: dict[int, list[str]] = {}
    for module in MODULES:
        for name in module.__all__:  # type: ignore[attr-defined]
            obj = getattr(module, name)
            if isinstance(obj, (str, int)):
                continue
            owners.setdefault(id(obj), []).append(f"{module.__name__}.{name}")
    twice = sorted(v for v in owners.values() if len(v) > 1)
    assert twice == sorted([f"rawnet.{n}", f"rawnet.packet.{n}"] for n in SHARED)


def test_errors_are_reexported_from_rawnet() -> None:
    assert sorted(rawnet.errors.__all__) == sorted(n for n in rawnet.__all__ if n.endswith("Error"))
    for name in rawnet.errors.__all__:
        assert getattr(rawnet, name) is getattr(rawnet.errors, name)


def test_codec_entry_points_are_typed_and_documented() -> None:
    for name in rawnet.packet.__all__:
        obj = getattr(rawnet.packet, name)
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            assert sig.return_annotation is not inspect.Signature.empty, name
            assert (obj.__doc__ or "").strip(), name
        elif inspect.isclass(obj):
            assert (obj.__doc__ or "").strip(), name


def test_version() -> None:
    assert isinstance(rawnet.__version__, str) and rawnet.__version__.count(".") == 2
