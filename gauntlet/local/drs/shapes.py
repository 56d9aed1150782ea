"""botocore's DRS model: the reference for every request the simulator accepts.

botocore validates parameters client-side, but anything can POST to the endpoint, so requests
are checked here the way the service does (required members, types, lengths, patterns, enums)
and rejected with a ``ValidationException`` that names the field.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, List

from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

from .exceptions import ValidationException

Problems = list[tuple[str, str]]  # (field path, message)


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    return ServiceModel(Loader().load_service_model("drs", "service-2"), service_name="drs")


def success_status(operation: str) -> int:
    """The HTTP status the model gives a successful call (202 for StartRecovery)."""
    return service_model().operation_model(operation).http.get("responseCode", 200)


def validate_input(operation: str, params: Any) -> None:
    """Raise a ValidationException listing every problem in ``params``, if any."""
    shape = service_model().operation_model(operation).input_shape
    problems: Problems = []
    _check(shape, params, "", problems)
    if problems:
        error = ValidationException(
            f"{len(problems)} validation error(s) detected: " + "; ".join(m for _, m in problems))
        error.fields["fieldList"] = [{"name": name, "message": message} for name, message in problems]
        raise error


_PYTHON_TYPES = {"structure": dict, "map": dict, "list": list, "string": str, "boolean": bool,
                 "integer": int, "long": int}


def _wrong_type(kind: str, value: Any) -> bool:
    """Not the Python type botocore uses for ``kind`` (a bool is no integer)."""
    expected = _PYTHON_TYPES.get(kind)
    return bool(expected) and (not isinstance(value, expected)
                               or (expected is int and isinstance(value, bool)))


def _check(shape: Shape, value: Any, path: str, problems: Problems) -> None:
    where = path or "request"
    meta = shape.metadata
    kind = shape.type_name

    def problem(constraint: str, at: str = where) -> None:
        problems.append((at, f"Value at '{at}' failed to satisfy constraint: {constraint}"))

    if _wrong_type(kind, value):
        problem(f"Member must be of type {kind}")
        return
    if kind == "structure":
        for name in shape.required_members:
            if value.get(name) is None:
                problem("Member must not be null", _join(path, name))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), problems)
    elif kind == "list":
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problem(f"Member must have length between {meta.get('min', 0)} and {meta.get('max')}")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}.{index + 1}.member", problems)
    elif kind == "map":
        for key, item in value.items():
            _check(shape.key, key, f"{where}.key", problems)
            _check(shape.value, item, f"{where}.{key}", problems)
    elif kind == "string":
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problem(f"Member must have length between {meta.get('min', 0)} and {meta.get('max')}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problem(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            problem(f"Member must satisfy enum value set: {shape.enum}")
    elif kind in ("integer", "long") and not meta.get("min", value) <= value <= meta.get("max", value):
        problem(f"Member must be between {meta.get('min')} and {meta.get('max')}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- answers checked against the API model (the simulator's tests and the @drs fixture) ----

def shape_problems(client, operation: str, response: dict) -> List[str]:
    """What in ``response`` disagrees with botocore's output shape of ``operation`` (empty: none).

    Checks required members, unknown members, types, enums, patterns and lengths.
    """
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    problems: List[str] = []
    if shape is not None:
        _walk(shape, body, operation, problems)
    return problems


def _walk(shape, value, path: str, problems: List[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if _wrong_type(kind, value):
        problems.append(f"{path}: expected {kind}, got {type(value).__name__} {value!r}")
        return
    if kind == "structure":
        problems.extend(f"{path}: missing required member {name}"
                        for name in shape.required_members if name not in value)
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{path}: unknown member {name}")
            else:
                _walk(shape.members[name], item, f"{path}.{name}", problems)
    elif kind == "list":
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{index}]", problems)
    elif kind == "map":
        for key, item in value.items():
            _walk(shape.key, key, f"{path}<key>", problems)
            _walk(shape.value, item, f"{path}[{key}]", problems)
    elif kind == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in enum {shape.enum}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 30):
            problems.append(f"{path}: length {len(value)} outside [{meta.get('min')}, {meta.get('max')}]")
    elif kind in ("integer", "long") and value < meta.get("min", value):
        problems.append(f"{path}: {value} below minimum {meta['min']}")
