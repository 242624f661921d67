"""The one exception tree of rawnet.

Every error rawnet raises on purpose is a :class:`RawnetError`. Each class carries the facts as
attributes, composes its message from them in ``__str__`` and has an ``exit_code`` the CLI uses.
``DecodeError`` means "the bytes said it"; ``BuildError`` means "you asked for it".
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "RawnetError",
    "DecodeError",
    "MalformedPacketError",
    "TruncatedPacketError",
    "CaptureFormatError",
    "TruncatedCaptureError",
    "BuildError",
    "PrivilegeError",
    "TargetNotAllowedError",
    "TargetError",
    "SocketTableError",
    "UsageError",
]


class RawnetError(Exception):
    """Base of every error rawnet raises on purpose; ``exit_code`` is the CLI's exit status."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self._message = message

    def __str__(self) -> str:
        return self._message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[RawnetError], state: dict[str, Any]) -> RawnetError:
    """Return an error of ``cls`` with ``state`` restored (used by pickle)."""
    obj = cls.__new__(cls)
    Exception.__init__(obj, state.get("_message", ""))
    obj.__dict__.update(state)
    return obj


class DecodeError(RawnetError, ValueError):
    """The input bytes are wrong."""

    exit_code: ClassVar[int] = 65


class MalformedPacketError(DecodeError):
    """A packet layer could not be decoded: ``layer``, byte ``offset`` in the frame and ``reason``."""

    def __init__(self, layer: str, offset: int, reason: str) -> None:
        self.layer = layer
        self.offset = offset
        self.reason = reason
        super().__init__(f"{layer} at offset {offset}: {reason}")


class TruncatedPacketError(MalformedPacketError):
    """A layer needed ``needed`` bytes at ``offset`` but only ``available`` were there."""

    def __init__(self, layer: str, offset: int, needed: int, available: int, what: str = "header") -> None:
        self.needed = needed
        self.available = available
        super().__init__(layer, offset, f"{what} needs {needed} bytes, {available} available")


class CaptureFormatError(DecodeError):
    """A capture file is corrupt: ``path``, byte ``offset`` and ``reason``."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path}: at byte {offset}: {reason}")


class TruncatedCaptureError(CaptureFormatError):
    """The capture ends inside a record; raised only after every good record was yielded."""

    def __init__(self, path: str, offset: int, reason: str, records_read: int) -> None:
        self.records_read = records_read
        CaptureFormatError.__init__(self, path, offset, reason)
        self._message = f"{path}: {reason} at byte {offset}; {records_read} records read"


class BuildError(RawnetError, ValueError):
    """The caller asked for a packet that cannot be built."""

    exit_code: ClassVar[int] = 64


class UsageError(RawnetError, ValueError):
    """A command or function was called with arguments that make no sense."""

    exit_code: ClassVar[int] = 64


class PrivilegeError(RawnetError, PermissionError):
    """An operation needs a capability the process lacks: ``capability``, ``operation``, ``hint``."""

    exit_code: ClassVar[int] = 77

    def __init__(self, capability: str, operation: str, hint: str = "") -> None:
        self.capability = capability
        self.operation = operation
        self.hint = hint
        msg = f"{operation} needs {capability}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class TargetNotAllowedError(RawnetError, ValueError):
    """The target is unspecified, broadcast or multicast and the caller did not ask for that."""

    exit_code: ClassVar[int] = 64

    def __init__(self, target: str, kind: str, option: str = "") -> None:
        self.target = target
        self.kind = kind
        self.option = option
        msg = f"target {target} is a {kind} address"
        if option:
            msg += f"; pass {option} if you mean it"
        super().__init__(msg)


class TargetError(RawnetError):
    """A target could not be resolved or reached for a reason that is not a verdict (e.g. bad name)."""

    exit_code: ClassVar[int] = 68


class SocketTableError(RawnetError):
    """Reading the local socket table failed for a reason other than privilege."""

    exit_code: ClassVar[int] = 1
