"""Every answer of the ECS API checked against botocore's model: types, required members,
enums (boto3 parses answers leniently and would not notice a wrong shape)."""

from __future__ import annotations

import datetime
from typing import Any

from botocore.model import Shape, StructureShape


class ShapeMismatch(AssertionError):
    pass


def conforms(shape: Shape, value: Any, path: str = "") -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            raise ShapeMismatch(f"{path}: expected an object, got {value!r}")
        for name in shape.required_members:
            if name not in value:
                raise ShapeMismatch(f"{path}.{name}: required")
        for name, item in value.items():
            if name == "ResponseMetadata" and not path:
                continue
            if name not in shape.members:
                raise ShapeMismatch(f"{path}.{name}: not in the model")
            conforms(shape.members[name], item, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            raise ShapeMismatch(f"{path}: expected a list, got {value!r}")
        for index, item in enumerate(value):
            conforms(shape.member, item, f"{path}[{index}]")  # type: ignore[attr-defined]
    elif kind == "map":
        if not isinstance(value, dict):
            raise ShapeMismatch(f"{path}: expected a map")
    elif kind == "string":
        if not isinstance(value, str):
            raise ShapeMismatch(f"{path}: expected a string, got {value!r}")
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            raise ShapeMismatch(f"{path}: {value!r} is not one of {enum}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ShapeMismatch(f"{path}: expected a boolean, got {value!r}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ShapeMismatch(f"{path}: expected an integer, got {value!r}")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ShapeMismatch(f"{path}: expected a number, got {value!r}")
    elif kind == "timestamp" and not isinstance(value, datetime.datetime):
        raise ShapeMismatch(f"{path}: expected a timestamp, got {value!r}")


def check_responses(client: Any) -> None:
    """Fail any call whose parsed answer does not fit the operation's output shape."""

    def check(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code < 300 and model.output_shape is not None:
            conforms(model.output_shape, parsed)

    client.meta.events.register(f"after-call.{client.meta.service_model.service_id.hyphenize()}", check)
