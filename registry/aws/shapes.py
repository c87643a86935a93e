"""Checking a request against its input shape in the botocore model: types, required members,
lengths, ranges, patterns and enums, answered the way ECR answers them.

Operations whose model lists ValidationException report model violations with it, in AWS's
"1 validation error detected" wording; the others (the older operations) report them as
InvalidParameterException "Invalid parameter at '<member>' failed to satisfy constraint",
which is what ECR sends for those. Members the model does not know are ignored, as AWS does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from .errors import AwsError, Common

_NUMBERS = ("integer", "long", "float", "double")


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


class _Violation(Exception):
    def __init__(self, path: str, value: Any, constraint: str) -> None:
        super().__init__(constraint)
        self.path, self.value, self.constraint = path, value, constraint


def _serialization(path: str, expected: str) -> AwsError:
    return AwsError(Common.SERIALIZATION, f"expected {expected} at '{path}'")


def _check_type(shape: Shape, value: Any, path: str) -> Any:
    """The value as the shape wants it (blobs decoded); SerializationException when it is not."""
    kind = shape.type_name
    if kind == "structure" and not isinstance(value, dict):
        raise _serialization(path, "an object")
    if kind == "list" and not isinstance(value, list):
        raise _serialization(path, "a list")
    if kind == "map" and not isinstance(value, dict):
        raise _serialization(path, "an object")
    if kind == "string" and not isinstance(value, str):
        raise _serialization(path, "a string")
    if kind == "boolean" and not isinstance(value, bool):
        raise _serialization(path, "a boolean")
    if kind in _NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _serialization(path, "a number")
    if kind == "blob":
        if not isinstance(value, str):
            raise _serialization(path, "base64 data")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _serialization(path, "base64 data") from None
    return value


def _check_limits(shape: Shape, value: Any, path: str) -> None:
    meta = shape.metadata
    if shape.type_name in _NUMBERS:
        if "min" in meta and value < meta["min"]:
            raise _Violation(path, value, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise _Violation(path, value, f"Member must have value less than or equal to {meta['max']}")
        return
    if isinstance(value, str | bytes | list | dict):
        if "min" in meta and len(value) < meta["min"]:
            raise _Violation(path, value, f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            raise _Violation(path, value, f"Member must have length less than or equal to {meta['max']}")
    if isinstance(value, str):
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            raise _Violation(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            raise _Violation(path, value, f"Member must satisfy regular expression pattern: {meta['pattern']}")


def _walk(shape: Shape, value: Any, path: str) -> Any:
    value = _check_type(shape, value, path)
    _check_limits(shape, value, path)
    # By type name rather than class: botocore is imported only when the first ECR call arrives.
    if shape.type_name == "structure":
        return _walk_structure(cast("StructureShape", shape), value, path)
    if shape.type_name == "list":
        member = cast("ListShape", shape).member
        return [_walk(member, item, f"{path}.{i + 1}.member") for i, item in enumerate(value)]
    if shape.type_name == "map":
        mapping = cast("MapShape", shape)
        return {_walk(mapping.key, k, f"{path}.key"): _walk(mapping.value, v, f"{path}.{k}") for k, v in value.items()}
    return value


def _walk_structure(shape: StructureShape, value: dict[str, Any], path: str) -> dict[str, Any]:
    prefix = f"{path}." if path else ""
    for name in shape.required_members:
        if value.get(name) is None:
            raise _Violation(prefix + name, None, "Member must not be null")
    return {
        name: _walk(shape.members[name], item, prefix + name)
        for name, item in value.items()
        if name in shape.members and item is not None
    }


def validate(operation: OperationModel, params: Any) -> dict[str, Any]:
    """The request's members, checked against the operation's input shape (blobs decoded)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    try:
        checked: dict[str, Any] = _walk(shape, params, "")
        return checked
    except _Violation as violation:
        raise _violation_error(operation, violation) from None


def _violation_error(operation: OperationModel, violation: _Violation) -> AwsError:
    if any(error.name == "ValidationException" for error in operation.error_shapes):
        shown = "null" if violation.value is None else str(violation.value)[:256]
        message = (
            f"1 validation error detected: Value '{shown}' at '{violation.path}' failed to satisfy constraint: "
            f"{violation.constraint}"
        )
        return AwsError(Common.VALIDATION, message)
    return invalid_parameter(violation.path, violation.constraint)


def invalid_parameter(member: str, constraint: str) -> AwsError:
    """AWS's wording for a member it cannot accept."""
    return AwsError(
        Common.INVALID_PARAMETER, f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"
    )
