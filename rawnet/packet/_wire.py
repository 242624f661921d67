"""Helpers shared by the layer parsers: bounds checks (a short read raises TruncatedPacketError, never
IndexError) and fast constructors for the frozen header dataclasses on the decode hot path."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import TruncatedPacketError

T = TypeVar("T")


def need(data: bytes | memoryview, offset: int, n: int, layer: str, what: str = "header") -> None:
    """Return None when ``n`` bytes are available at ``offset``; raise TruncatedPacketError otherwise."""
    available = len(data) - offset
    if available < n:
        raise TruncatedPacketError(layer, offset, n, max(available, 0), what)


def slot_twin(cls: type) -> type | None:
    """Return a mutable class whose instances can become ``cls`` instances by ``obj.__class__ = cls``, or None.

    The twin declares the same ``__slots__`` as the slotted dataclass ``cls``; an object filled
    through it with plain attribute stores and then re-classed is an ordinary ``cls`` instance.
    None when ``cls`` has no matching slots or CPython refuses the layout.
    """
    names = tuple(f.name for f in dataclasses.fields(cls))
    if tuple(getattr(cls, "__slots__", ())) != names:
        return None
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": names})
    probe = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """Return a function that makes a ``cls`` from all its field values, positionally, in field order.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which is the
    largest cost of decoding a packet. The function returned here fills a mutable twin class with
    the same ``__slots__`` (plain attribute stores) and then gives the object its real class; the
    result is an ordinary ``cls`` instance (equal, hashable, frozen). When the twin's layout is not
    compatible, it sets the slots through their descriptors instead. Callers pass values that are
    already valid, including fields declared with ``init=False``.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    args = ", ".join(f"a{i}" for i in range(len(names)))
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    twin = slot_twin(cls)
    if twin is not None:
        ns["_Twin"] = twin
        body = "".join(f"    o.{name} = a{i}\n" for i, name in enumerate(names))
        exec(f"def make({args}):\n    o = _new(_Twin)\n{body}    o.__class__ = _cls\n    return o\n", ns)  # noqa: S102
    if "make" not in ns:
        for i, name in enumerate(names):
            ns[f"_s{i}"] = getattr(cls, name).__set__
        body = "".join(f"    _s{i}(o, a{i})\n" for i in range(len(names)))
        exec(f"def make({args}):\n    o = _new(_cls)\n{body}    return o\n", ns)  # noqa: S102 - fixed template
    make: Callable[..., T] = ns["make"]
    make.__doc__ = f"Return a {cls.__name__} from its field values in order ({', '.join(names)})."
    return make
