"""Workflow suites as data: the dataclasses, the step-type table, and validation.

Everything a run could trip over is checked here, before the first step runs: structure,
unknown or missing fields, types, step types, check names, node names, and whether the provider
can do each power operation. A problem is one line naming file, suite, step and field::

    x.json: suite 'basic', step 3 (stop_node): field 'target_node': unknown node 'n19' (nodes: ...)

Rules worth knowing (see also gauntlet/workflow/README.md):

- Steps are numbered from 1, in file order.
- A suite's nodes are ``parameters.nodes`` when given, else n11, n12, ... one per
  ``parameters.cluster_size`` (default 3), i.e. node i (from 1) is ``n{10+i}``, the local-node
  naming. When both are given, their sizes must agree.
- Unmet ``requirements`` are not errors: the executor skips the suite with a reason.
- Check names in ``allow_failures`` must be known checks too; those not also in ``checks`` are run
  as optional checks whose failure is allowed (the crash-recovery example's ``database_down``).
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Set,
                    Tuple)

SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_CLUSTER_SIZE = 3
DEFAULT_COMMAND_TIMEOUT = 300.0
TEST_TYPE = "workflow"
POWER_OPERATIONS = frozenset({
    "stop_cluster", "start_cluster", "stop_node", "start_node",
    "restart_node:ssh", "restart_node:graceful", "crash_node:ssh", "crash_node:destroy"})
"""The operation names ``capabilities(provider)`` answers with (steps that need one, below)."""

Capabilities = Callable[[str], Set[str]]


class WorkflowError(ValueError):
    """A workflow file that cannot run. ``str()`` is the one-line report."""

    def __init__(self, message: str, file: str, suite: Optional[str] = None,
                 step: Optional[int] = None, step_type: Optional[str] = None,
                 field: Optional[str] = None) -> None:
        self.file, self.suite, self.step, self.step_type, self.field = (
            file, suite, step, step_type, field)
        self.reason = " ".join(message.split())
        super().__init__(self._line())

    def _line(self) -> str:
        places = []
        if self.suite is not None:
            places.append(f"suite '{self.suite}'")
        if self.step is not None:
            places.append(f"step {self.step}" + (f" ({self.step_type})" if self.step_type else ""))
        text = f"{self.file}: "
        if places:
            text += ", ".join(places) + ": "
        if self.field is not None:
            text += f"field '{self.field}': "
        return text + self.reason


@dataclass(frozen=True)
class Site:
    """Where in a file validation is: builds errors with the location filled in."""

    file: str
    suite: Optional[str] = None
    step: Optional[int] = None
    step_type: Optional[str] = None

    def error(self, field_name: Optional[str], message: str) -> WorkflowError:
        return WorkflowError(message, self.file, self.suite, self.step, self.step_type, field_name)


def show(value: Any) -> str:
    """A value as JSON, shortened, for error messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- parsed suites ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Retry:
    max_attempts: int = 1
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Requirements:
    libvirt_available: bool = False
    min_memory_gb: float = 0.0


@dataclass(frozen=True)
class Step:
    """One validated step. ``params`` holds every schema field (custom step types' too)."""

    index: int  # from 1
    step_type: str
    description: str
    target_node: Optional[str] = None
    method: Optional[str] = None
    checks: Tuple[str, ...] = ()
    allow_failures: Tuple[str, ...] = ()
    retry: Retry = Retry()
    custom_command: Tuple[str, ...] = ()
    timeout_seconds: Optional[float] = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def check_names(self) -> List[str]:
        """Checks a validate step runs: ``checks``, then allow_failures not already listed."""
        return list(self.checks) + [name for name in self.allow_failures
                                    if name not in self.checks]


@dataclass(frozen=True)
class Suite:
    name: str
    provider: str
    description: str
    parameters: Mapping[str, Any]
    requirements: Requirements
    nodes: Tuple[str, ...]
    workflow: Tuple[Step, ...]
    test_type: str = TEST_TYPE
    source: Optional[Path] = None  # the file it came from; custom commands run in its folder

    @property
    def directory(self) -> Path:
        return self.source.parent if self.source else Path.cwd()

    def uses_check(self, name: str) -> bool:
        return any(name in step.check_names() for step in self.workflow)


@dataclass(frozen=True)
class WorkflowFile:
    path: Path
    suites: Mapping[str, Suite]

    @property
    def step_count(self) -> int:
        return sum(len(suite.workflow) for suite in self.suites.values())


# --- step types -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One step field. Kinds: string, text, boolean, number, integer, choice, node, argv,
    checks, strings, retry, object. ``minimum`` bounds numbers (``exclusive``: strictly above)."""

    kind: str
    required: bool = False
    default: Any = None
    choices: Tuple[str, ...] = ()
    minimum: Optional[float] = None
    exclusive: bool = False


@dataclass(frozen=True)
class StepSchema:
    """A step type's fields, the power operation it needs, and its default description.

    ``operation`` and ``summary`` are templates over the step's values, e.g.
    ``"restart_node:{method}"`` and ``"Restart node {target_node} ({method})"``.
    """

    fields: Mapping[str, Field] = field(default_factory=dict)
    operation: Optional[str] = None
    summary: str = ""

    def operation_for(self, values: Mapping[str, Any]) -> Optional[str]:
        return self.operation.format(**values) if self.operation else None

    def operation_field(self) -> str:
        """The field an unsupported operation is blamed on: the template's, else 'step'."""
        match = re.search(r"{(\w+)}", self.operation or "")
        return match.group(1) if match else "step"

    def summarize(self, step_type: str, values: Mapping[str, Any]) -> str:
        if not self.summary:
            return step_type
        shown = dict(values)
        for key, spec in self.fields.items():
            if spec.kind == "argv" and values.get(key):
                shown[key] = shlex.join(values[key])
            elif isinstance(values.get(key), (list, tuple)):
                shown[key] = ", ".join(values[key])
        return self.summary.format(**shown)


@dataclass(frozen=True)
class StepType:
    name: str
    schema: StepSchema
    handler: Optional[Callable[..., Any]] = None  # None: a built-in the executor knows


_NODE = Field("node", required=True)
BUILTIN_STEP_TYPES = (
    StepType("init", StepSchema(operation=None, summary="Initialize deployment")),
    StepType("deploy", StepSchema(summary="Deploy cluster")),
    StepType("validate", StepSchema(
        fields={"checks": Field("checks", required=True),
                "allow_failures": Field("checks", default=()),
                "retry": Field("retry", default=Retry())},
        summary="Validate {checks}")),
    StepType("stop_cluster", StepSchema(operation="stop_cluster", summary="Stop cluster")),
    StepType("start_cluster", StepSchema(operation="start_cluster", summary="Start cluster")),
    StepType("stop_node", StepSchema(fields={"target_node": _NODE}, operation="stop_node",
                                     summary="Stop node {target_node}")),
    StepType("start_node", StepSchema(fields={"target_node": _NODE}, operation="start_node",
                                      summary="Start node {target_node}")),
    StepType("restart_node", StepSchema(
        fields={"target_node": _NODE,
                "method": Field("choice", default="ssh", choices=("ssh", "graceful"))},
        operation="restart_node:{method}", summary="Restart node {target_node} ({method})")),
    StepType("crash_node", StepSchema(
        fields={"target_node": _NODE,
                "method": Field("choice", default="ssh", choices=("ssh", "destroy"))},
        operation="crash_node:{method}", summary="Crash node {target_node} ({method})")),
    StepType("custom_command", StepSchema(
        fields={"custom_command": Field("argv", required=True),
                "timeout_seconds": Field("number", default=DEFAULT_COMMAND_TIMEOUT,
                                         minimum=0, exclusive=True)},
        summary="Run {custom_command}")),
)
BUILTIN_STEP_NAMES = tuple(step_type.name for step_type in BUILTIN_STEP_TYPES)


class StepTypes:
    """Step type names -> :class:`StepType`. Built-ins cannot be replaced."""

    def __init__(self, types: Iterable[StepType] = BUILTIN_STEP_TYPES) -> None:
        self._types: Dict[str, StepType] = {step_type.name: step_type for step_type in types}

    def define(self, name: str, schema: StepSchema,
               handler: Optional[Callable[..., Any]] = None) -> StepType:
        if not isinstance(name, str) or not SUITE_NAME.match(name):
            raise ValueError(f"step type name {name!r} must be letters, digits, '_', '.', '-'")
        if name in self._types:
            raise ValueError(f"step type {name!r} is already defined")
        reserved = {"step", "description"} & set(schema.fields)
        if reserved:
            raise ValueError(f"step type {name!r}: field names {sorted(reserved)} are reserved")
        step_type = StepType(name, schema, handler)
        self._types[name] = step_type
        return step_type

    def get(self, name: str) -> Optional[StepType]:
        return self._types.get(name)

    def names(self) -> List[str]:
        return list(self._types)

    def copy(self) -> "StepTypes":
        return StepTypes(self._types.values())


STEP_TYPES = StepTypes()
"""The process-wide step types; ``gauntlet.workflow.executor.register_step`` adds to it."""


# --- validation -------------------------------------------------------------------------------

class CheckCatalog(Protocol):
    """What validation needs from a check registry (``ValidationRegistry`` is one)."""

    def problem(self, name: str, nodes: Optional[Sequence[str]] = None) -> Optional[str]:
        """Why ``name`` is not a usable check for a suite with these nodes; None if it is."""


@dataclass(frozen=True)
class _Scope:
    """What a suite's steps are validated against."""

    provider: str
    nodes: Tuple[str, ...]
    operations: Set[str]
    checks: CheckCatalog
    step_types: StepTypes


def parse_document(data: Any, file: str, checks: CheckCatalog, capabilities: Capabilities,
                   step_types: StepTypes = STEP_TYPES,
                   source: Optional[Path] = None) -> WorkflowFile:
    """Validate a parsed JSON document; raise :class:`WorkflowError` at the first problem."""
    site = Site(file)
    top = _object(data, site, None, "the document")
    for key in top:
        if key != "test_suites":
            raise site.error(key, "unknown top-level field (the only one is 'test_suites')")
    if "test_suites" not in top:
        raise site.error("test_suites", "missing (the document is {\"test_suites\": {...}})")
    raw_suites = _object(top["test_suites"], site, "test_suites", "'test_suites'",
                         unique_keys=False)
    if not raw_suites:
        raise site.error("test_suites", "no suites defined")
    repeated = getattr(raw_suites, "duplicate_keys", ())
    if repeated:
        raise Site(file, repeated[0]).error(None, "defined more than once in 'test_suites' "
                                                  "(JSON would keep only the last)")
    suites: Dict[str, Suite] = {}
    for name, raw in raw_suites.items():
        suites[name] = _parse_suite(name, raw, Site(file, name), checks, capabilities,
                                    step_types, source)
    return WorkflowFile(source or Path(file), suites)


def _object(value: Any, site: Site, field_name: Optional[str], what: str,
            unique_keys: bool = True) -> dict:
    """``value`` as a JSON object; ``what`` names it when no field does ("a step")."""
    if not isinstance(value, dict):
        subject = "must" if field_name else f"{what} must"
        raise site.error(field_name, f"{subject} be a JSON object, got {show(value)}")
    if unique_keys:
        _unique_keys(value, site, field_name, what)
    return value


def _unique_keys(obj: dict, site: Site, field_name: Optional[str], what: str) -> None:
    """JSON allows a key twice and keeps the last; in a workflow that hides a mistake."""
    duplicates = getattr(obj, "duplicate_keys", ())
    if duplicates:
        name = duplicates[0]
        where = f"{field_name}.{name}" if field_name else name
        raise site.error(where, f"key {name!r} appears more than once in {what}")


_SUITE_FIELDS = {"provider": True, "test_type": True, "description": False,
                 "parameters": False, "requirements": False, "workflow": True}


def _parse_suite(name: str, raw: Any, site: Site, checks: CheckCatalog,
                 capabilities: Capabilities, step_types: StepTypes,
                 source: Optional[Path]) -> Suite:
    if not SUITE_NAME.match(name):
        raise site.error(None, "suite names are letters, digits, '_', '.', '-' "
                               "(they become part of the result file name)")
    suite = _object(raw, site, None, "a suite")
    _known_fields(suite, _SUITE_FIELDS, site, "a suite")
    provider = _string(suite["provider"], site, "provider")
    if suite["test_type"] != TEST_TYPE:
        raise site.error("test_type", f"must be \"{TEST_TYPE}\", got {show(suite['test_type'])}")
    description = _text(suite.get("description", ""), site, "description")
    parameters = _object(suite.get("parameters", {}), site, "parameters", "parameters")
    nodes = _suite_nodes(parameters, site)
    requirements = _requirements(suite.get("requirements", {}), site)
    workflow = suite["workflow"]
    if not isinstance(workflow, list) or not workflow:
        raise site.error("workflow", f"must be a non-empty list of steps, got {show(workflow)}")
    scope = _Scope(provider, nodes, _operations(provider, capabilities, site), checks,
                   step_types)
    steps = tuple(_parse_step(raw_step, index, site, scope)
                  for index, raw_step in enumerate(workflow, start=1))
    return Suite(name, provider, description, dict(parameters), requirements, nodes, steps,
                 TEST_TYPE, source)


def _known_fields(obj: dict, fields: Mapping[str, bool], site: Site, what: str) -> None:
    """Reject unknown fields, then missing required ones (in declaration order)."""
    for key in obj:
        if key not in fields:
            hint = _did_you_mean(key, fields)
            raise site.error(key, f"unknown field for {what}{hint} "
                                  f"(fields: {', '.join(fields)})")
    for key, required in fields.items():
        if required and key not in obj:
            raise site.error(key, f"missing (required for {what})")


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _suite_nodes(parameters: dict, site: Site) -> Tuple[str, ...]:
    size = parameters.get("cluster_size")
    if size is not None:
        size = _integer(size, site, "parameters.cluster_size", minimum=1)
    if "nodes" not in parameters:
        return tuple(f"n{10 + i}" for i in range(1, (size or DEFAULT_CLUSTER_SIZE) + 1))
    nodes = parameters["nodes"]
    if (not isinstance(nodes, list) or not nodes
            or not all(isinstance(node, str) and NODE_NAME.match(node) for node in nodes)):
        raise site.error("parameters.nodes", "must be a non-empty list of node names "
                                             f"(letters, digits, '_', '.', '-'), got {show(nodes)}")
    if len(set(nodes)) != len(nodes):
        repeated = next(node for node in nodes if nodes.count(node) > 1)
        raise site.error("parameters.nodes", f"node {repeated!r} is listed more than once")
    if size is not None and size != len(nodes):
        raise site.error("parameters.nodes", f"lists {len(nodes)} nodes but cluster_size is {size}")
    return tuple(nodes)


def _requirements(value: Any, site: Site) -> Requirements:
    raw = _object(value, site, "requirements", "requirements")
    for key in raw:
        if key not in ("libvirt_available", "min_memory_gb"):
            raise site.error(f"requirements.{key}", "unknown requirement "
                                                    "(requirements: libvirt_available, min_memory_gb)")
    libvirt = raw.get("libvirt_available", False)
    if not isinstance(libvirt, bool):
        raise site.error("requirements.libvirt_available", f"must be true or false, got {show(libvirt)}")
    memory = _number(raw.get("min_memory_gb", 0), site, "requirements.min_memory_gb", minimum=0)
    return Requirements(libvirt, memory)


def _operations(provider: str, capabilities: Capabilities, site: Site) -> Set[str]:
    try:
        return set(capabilities(provider))
    except (KeyError, ValueError, LookupError):
        raise site.error("provider", f"unknown provider {provider!r} "
                                     "(the power capability matrix does not list it)") from None


def _parse_step(raw: Any, index: int, suite_site: Site, scope: _Scope) -> Step:
    site = Site(suite_site.file, suite_site.suite, index)
    step = _object(raw, site, None, "a step", unique_keys=False)
    if "step" not in step:
        raise site.error("step", "missing (every step names its type, e.g. \"step\": \"init\")")
    step_type = step["step"]
    if not isinstance(step_type, str):
        raise site.error("step", f"must be a step type name, got {show(step_type)}")
    kind = scope.step_types.get(step_type)
    if kind is None:
        hint = _did_you_mean(step_type, scope.step_types.names())
        raise site.error("step", f"unknown step type {step_type!r}{hint} "
                                 f"(types: {', '.join(scope.step_types.names())})")
    site = Site(site.file, site.suite, index, step_type)
    _unique_keys(step, site, None, "a step")
    schema = kind.schema
    fields = {"step": True, "description": False,
              **{name: spec.required for name, spec in schema.fields.items()}}
    _known_fields(step, fields, site, step_type)
    values = {name: _field(step[name], spec, site, name, scope) if name in step else spec.default
              for name, spec in schema.fields.items()}
    operation = schema.operation_for(values)
    if operation and operation not in scope.operations:
        raise site.error(schema.operation_field(), _unsupported(scope, operation))
    description = (_text(step["description"], site, "description") if "description" in step
                   else schema.summarize(step_type, values))
    builtin_fields = {name: values[name] for name in
                      ("target_node", "method", "checks", "allow_failures", "retry",
                       "custom_command", "timeout_seconds") if name in values}
    return Step(index, step_type, description, params=dict(values), **builtin_fields)


def _unsupported(scope: _Scope, operation: str) -> str:
    alternative = operation.split(":")[0] + ":ssh"
    hint = ("; use method \"ssh\""
            if ":" in operation and alternative in scope.operations else "")
    can = ", ".join(sorted(scope.operations)) or "nothing"
    return f"provider {scope.provider!r} cannot {operation}{hint} (it can: {can})"


# --- field kinds ------------------------------------------------------------------------------

def _field(value: Any, spec: Field, site: Site, name: str, scope: _Scope) -> Any:
    kind = spec.kind
    if kind == "string":
        return _string(value, site, name)
    if kind == "text":
        return _text(value, site, name)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise site.error(name, f"must be true or false, got {show(value)}")
        return value
    if kind == "number":
        return _number(value, site, name, spec.minimum, spec.exclusive)
    if kind == "integer":
        return _integer(value, site, name, spec.minimum)
    if kind == "choice":
        if value not in spec.choices:
            raise site.error(name, f"must be one of {', '.join(spec.choices)}, got {show(value)}")
        return value
    if kind == "node":
        return _node(value, site, name, scope.nodes)
    if kind == "argv":
        return _argv(value, site, name)
    if kind == "checks":
        return _checks(value, site, name, scope, required=spec.required)
    if kind == "strings":
        return tuple(_strings(value, site, name))
    if kind == "retry":
        return _retry(value, site, name)
    if kind == "object":
        return dict(_object(value, site, name, name))
    raise ValueError(f"field {name!r}: unknown field kind {kind!r}")


def _string(value: Any, site: Site, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise site.error(name, f"must be a non-empty string, got {show(value)}")
    return value


def _text(value: Any, site: Site, name: str) -> str:
    if not isinstance(value, str):
        raise site.error(name, f"must be a string, got {show(value)}")
    return value


def _number(value: Any, site: Site, name: str, minimum: Optional[float] = None,
            exclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise site.error(name, f"must be a finite number, got {show(value)}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise site.error(name, f"must be {'>' if exclusive else '>='} {minimum:g}, got {show(value)}")
    return value


def _integer(value: Any, site: Site, name: str, minimum: Optional[float] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise site.error(name, f"must be a whole number, got {show(value)}")
    if minimum is not None and value < minimum:
        raise site.error(name, f"must be >= {minimum:g}, got {value}")
    return value


def _strings(value: Any, site: Site, name: str) -> List[str]:
    if not isinstance(value, list):
        raise site.error(name, f"must be a list of strings, got {show(value)}")
    for position, item in enumerate(value):
        if not isinstance(item, str):
            raise site.error(f"{name}[{position}]", f"must be a string, got {show(item)}")
    return value


def _node(value: Any, site: Site, name: str, nodes: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise site.error(name, f"must be a node name, got {show(value)}")
    if value not in nodes:
        raise site.error(name, f"unknown node {value!r} (nodes: {', '.join(nodes)})")
    return value


def _argv(value: Any, site: Site, name: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise site.error(name, "must be a non-empty list of strings (an argv, run without a "
                               f"shell), got {show(value)}")
    argv = _strings(value, site, name)
    if not argv[0].strip():
        raise site.error(f"{name}[0]", "the program to run is empty")
    for position, item in enumerate(argv):
        if "\0" in item:
            raise site.error(f"{name}[{position}]", "contains a NUL character")
    return tuple(argv)


def _checks(value: Any, site: Site, name: str, scope: _Scope, required: bool) -> Tuple[str, ...]:
    names = _strings(value, site, name)
    if required and not names:
        raise site.error(name, "must list at least one check")
    for position, check in enumerate(names):
        problem = scope.checks.problem(check, scope.nodes)
        if problem:
            raise site.error(f"{name}[{position}]", problem)
        if names.index(check) != position:
            raise site.error(f"{name}[{position}]", f"check {check!r} is listed twice")
    return tuple(names)


def _retry(value: Any, site: Site, name: str) -> Retry:
    raw = _object(value, site, name, name)
    for key in raw:
        if key not in ("max_attempts", "delay_seconds"):
            raise site.error(f"{name}.{key}", "unknown field (retry fields: max_attempts, "
                                              "delay_seconds)")
    if "max_attempts" not in raw:
        raise site.error(f"{name}.max_attempts", "missing (how many times to try each check)")
    attempts = _integer(raw["max_attempts"], site, f"{name}.max_attempts", minimum=1)
    delay = _number(raw.get("delay_seconds", 0), site, f"{name}.delay_seconds", minimum=0)
    return Retry(attempts, float(delay))
