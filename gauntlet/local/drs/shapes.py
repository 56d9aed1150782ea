"""botocore's DRS model: the reference for every request the simulator accepts.

botocore validates parameters client-side, but anything can POST to the endpoint, so requests
are checked here the way the service does (required members, types, lengths, patterns, enums)
and rejected with a ``ValidationException`` that names the field.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

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


def _check(shape: Shape, value: Any, path: str, problems: Problems) -> None:
    where = path or "request"
    meta = shape.metadata
    kind = shape.type_name

    def problem(constraint: str, at: str = where) -> None:
        problems.append((at, f"Value at '{at}' failed to satisfy constraint: {constraint}"))

    python_type = {"structure": dict, "map": dict, "list": list, "string": str, "boolean": bool,
                   "integer": int, "long": int}.get(kind)
    if python_type and (not isinstance(value, python_type)
                        or (python_type is int and isinstance(value, bool))):
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
