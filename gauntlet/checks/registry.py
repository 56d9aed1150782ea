"""The validation registry: check names -> check functions, built-ins included.

A check is ``fn(context) -> bool``; raising counts as a failed attempt. Register your own with
the original signature::

    from gauntlet.checks.registry import validation_registry

    def my_custom_check(context) -> bool:
        return (context["deploy_dir"] / "marker").exists()

    validation_registry.register("my_custom_check", "Marker file exists", my_custom_check,
                                 allow_failure=False)

``allow_failure=True`` makes the check's failure never fail a validate step (it is still
recorded, ``passed: false, allowed: true``), like listing it in the step's ``allow_failures``.

``node_status:<node>[:<state>]`` is parsed, not registered: <state> is running (the default),
stopped or paused.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from gauntlet.checks import builtin
from gauntlet.checks.context import CheckContext
from gauntlet.checks.polling import retry
from gauntlet.clock import Clock

CheckFn = Callable[[CheckContext], bool]
NODE_STATUS_STATES = ("running", "stopped", "paused")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    fn: CheckFn
    allow_failure: bool = False


@dataclass(frozen=True)
class CheckOutcome:
    """One check of a validate step: the entry of ``validation_results``."""

    check: str
    passed: bool
    attempts: int
    allowed: bool = False  # failed, but the failure does not fail the step
    error: Optional[str] = None

    def to_json(self) -> dict:
        entry: dict = {"check": self.check, "passed": self.passed, "attempts": self.attempts}
        if self.allowed:
            entry["allowed"] = True
        if self.error:
            entry["error"] = self.error
        return entry


def parse_node_status(name: str) -> Tuple[str, str]:
    """``node_status:n12`` -> ("n12", "running"); ``node_status:n12:stopped`` -> ("n12", "stopped").

    Raises ValueError with a one-line reason for anything else.
    """
    parts = name.split(":")
    if parts[0] != builtin.NODE_STATUS or len(parts) not in (2, 3):
        raise ValueError(f"malformed check {name!r} (expected node_status:<node>[:<state>])")
    node = parts[1]
    state = parts[2] if len(parts) == 3 else "running"
    if not node:
        raise ValueError(f"check {name!r} names no node (expected node_status:<node>[:<state>])")
    if state not in NODE_STATUS_STATES:
        raise ValueError(f"check {name!r}: unknown state {state!r} "
                         f"(states: {', '.join(NODE_STATUS_STATES)})")
    return node, state


class ValidationRegistry:
    """Check names to :class:`Check`; starts with the built-ins unless ``builtins=False``."""

    def __init__(self, builtins: bool = True) -> None:
        self._checks: Dict[str, Check] = {}
        if builtins:
            for name, description, fn in builtin.BUILTIN_CHECKS:
                self.register(name, description, fn)

    def register(self, name: str, description: str, fn: CheckFn,
                 allow_failure: bool = False) -> Check:
        """Add a check. Raises ValueError for a bad or already registered name."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"check name {name!r} must be letters, digits, '_', '.', '-' "
                             f"(':' is reserved for node_status:<node>[:<state>])")
        if name in self._checks or name == builtin.NODE_STATUS:
            raise ValueError(f"check {name!r} is already registered")
        if not callable(fn):
            raise ValueError(f"check {name!r}: fn must be callable, got {fn!r}")
        check = Check(name, description, fn, bool(allow_failure))
        self._checks[name] = check
        return check

    def names(self) -> List[str]:
        return list(self._checks)

    def checks(self) -> List[Check]:
        return list(self._checks.values())

    def copy(self) -> "ValidationRegistry":
        clone = ValidationRegistry(builtins=False)
        clone._checks = dict(self._checks)
        return clone

    # --- names -> checks ---------------------------------------------------------------------

    def problem(self, name: str, nodes: Optional[Sequence[str]] = None) -> Optional[str]:
        """Why ``name`` is not a usable check (None when it is). ``nodes``: the suite's nodes."""
        if name.split(":")[0] == builtin.NODE_STATUS:
            try:
                node, _ = parse_node_status(name)
            except ValueError as error:
                return str(error)
            if nodes is not None and node not in nodes:
                return f"check {name!r}: unknown node {node!r} (nodes: {', '.join(nodes)})"
            return None
        if name in self._checks:
            return None
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"checks: {', '.join(self.names())}"
        return f"unknown check {name!r} ({hint})"

    def resolve(self, name: str) -> Check:
        """The :class:`Check` for ``name``; KeyError with the reason when there is none."""
        problem = self.problem(name)
        if problem:
            raise KeyError(problem)
        if name in self._checks:
            return self._checks[name]
        node, state = parse_node_status(name)
        return Check(name, f"Node {node} is {state}", builtin.node_status(node, state))

    # --- running -----------------------------------------------------------------------------

    def evaluate(self, name: str, context: CheckContext, max_attempts: int = 1,
                 delay_seconds: float = 0.0, clock: Optional[Clock] = None,
                 allow_failure: bool = False) -> CheckOutcome:
        """Run one check with retries through ``clock``; every attempt is counted.

        A failure is ``allowed`` when ``allow_failure`` is set (the step's allow_failures) or
        the check was registered with ``allow_failure=True``.
        """
        check = self.resolve(name)
        result = retry(lambda: check.fn(context), max_attempts, delay_seconds, clock)
        allowed = not result.passed and (allow_failure or check.allow_failure)
        return CheckOutcome(name, result.passed, result.attempts, allowed,
                            None if result.passed else result.error)


validation_registry = ValidationRegistry()
"""The process-wide registry the CLI validates and runs with; register custom checks here."""
