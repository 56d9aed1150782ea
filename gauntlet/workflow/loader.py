"""Read workflow files: JSON (errors with line and column, repeated keys caught), then the schema.

``load_workflow_file`` is the one entry point; it raises :class:`WorkflowError` (one line) for
anything wrong with the file, before anything runs.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, List, Optional, Set, Tuple, Union

from gauntlet.workflow.schema import (
    POWER_OPERATIONS,
    STEP_TYPES,
    Capabilities,
    CheckCatalog,
    StepTypes,
    WorkflowError,
    WorkflowFile,
    parse_document,
)

CAPABILITIES_FUNCTION = "gauntlet.adapters.power.matrix:capabilities"


class MissingComponent(RuntimeError):
    """A part of Gauntlet the workflow engine needs is not installed or not written yet."""


class _JsonObject(dict):
    """A JSON object that remembers keys it saw twice (json keeps only the last silently)."""

    duplicate_keys: List[str]


def _object_pairs(pairs: List[Tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    obj.duplicate_keys = []
    for key, value in pairs:
        if key in obj and key not in obj.duplicate_keys:
            obj.duplicate_keys.append(key)
        obj[key] = value
    return obj


def parse_json(text: str, file: str) -> Any:
    """``json.loads`` with a one-line, located error."""
    try:
        return json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as error:
        reason = error.msg[:-3] if error.msg.endswith(" at") else error.msg
        raise WorkflowError(f"invalid JSON at line {error.lineno}, column {error.colno}: "
                            f"{reason}", file) from None


def read_text(path: Path, file: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise WorkflowError(f"not UTF-8 text (byte {error.start})", file) from None
    except OSError as error:
        raise WorkflowError(f"cannot read: {error.strerror or error}", file) from None


def load_workflow_file(path: Union[str, Path], checks: Optional[CheckCatalog] = None,
                       capabilities: Optional[Capabilities] = None,
                       step_types: StepTypes = STEP_TYPES) -> WorkflowFile:
    """Read and validate a workflow file.

    ``checks`` defaults to the process-wide ``validation_registry`` and ``capabilities`` to the
    power capability matrix. Raises WorkflowError for the file, MissingComponent when the
    matrix is not available.
    """
    file = str(path)
    if checks is None:
        from gauntlet.checks.registry import validation_registry

        checks = validation_registry
    capabilities = capabilities or default_capabilities()
    data = parse_json(read_text(Path(path), file), file)
    return parse_document(data, file, checks, capabilities, step_types,
                          source=Path(path).resolve())


def default_capabilities() -> Capabilities:
    """The capability matrix's ``capabilities(provider) -> set[str]``, imported lazily.

    Until the matrix has a row for the ``local`` provider, ``local`` answers every operation:
    ``gauntlet.adapters.power.local.LocalPower`` implements all of them on the local nodes.
    A matrix row for ``local`` takes precedence.
    """
    module_name, _, attribute = CAPABILITIES_FUNCTION.partition(":")
    try:
        matrix_capabilities = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise MissingComponent(f"cannot check provider operations: {CAPABILITIES_FUNCTION} "
                               f"is not available ({error})") from None

    def capabilities(provider: str) -> Set[str]:
        try:
            return set(matrix_capabilities(provider))
        except KeyError:
            if provider == "local":
                return set(POWER_OPERATIONS)
            raise

    return capabilities
