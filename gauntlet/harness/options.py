"""Run options, read from behave ``-D name=value`` userdata or ``GAUNTLET_*`` variables.

The runner CLI passes its flags to behave as environment variables; a person running plain
``behave`` passes the same names with ``-D`` (``-D target=aws -D enable=spark,cassandra``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Set

from gauntlet.harness.plan import enabled_domains

ON_FAILURE = ("teardown", "keep")


class OptionError(ValueError):
    """A bad option value; the message names the option and the problem."""


@dataclass
class Options:
    target: str = "offline"
    run_id: Optional[str] = None  # set: attach to that run instead of starting a new one
    enabled: Set[str] = field(default_factory=set)
    start_step: int = 1
    end_step: Optional[int] = None
    breaks: List[int] = field(default_factory=list)
    stop_on_failure: bool = False
    on_failure: str = "teardown"
    managed: bool = False  # the runner CLI owns the target and the teardown

    @classmethod
    def read(cls, userdata: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> "Options":
        def get(name: str) -> Optional[str]:
            value = userdata.get(name)
            if value is None:
                value = environ.get(f"GAUNTLET_{name.upper()}")
            return value if value not in ("", None) else None

        try:
            return cls(
                target=get("target") or "offline",
                run_id=get("run_id"),
                enabled=_domains(get("enable")),
                start_step=_int("start_step", get("start_step") or "1"),
                end_step=_int("end_step", get("end_step")) if get("end_step") else None,
                breaks=[_int("break", v) for v in _split(get("break"))],
                stop_on_failure=_bool(get("stop_on_failure")),
                on_failure=_choice("on_failure", get("on_failure") or "teardown", ON_FAILURE),
                managed=_bool(get("managed")),
            )
        except ValueError as error:
            raise OptionError(str(error)) from None


def _split(value: Optional[str]) -> List[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _domains(value: Optional[str]) -> Set[str]:
    try:
        return enabled_domains(_split(value))
    except ValueError as error:
        raise OptionError(f"enable: {error}") from None


def _int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise OptionError(f"{name}: expected a step number, got {value!r}") from None
    if number < 1:
        raise OptionError(f"{name}: step numbers start at 1, got {number}")
    return number


def _bool(value: Optional[str]) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def _choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise OptionError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value
