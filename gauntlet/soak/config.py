"""RunConfig: everything a soak run is asked to do.

It is written to the manifest as ``inputs`` and read back by ``--resume``, so a resumed run
does what the interrupted one was asked to do. :func:`check` refuses bad values with one line
that names the option, before anything starts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

from gauntlet.soak.phases import PHASES
from gauntlet.targets import REPO_ROOT

DEFAULT_REPORTS = REPO_ROOT / "reports" / "soak"
OFFLINE_INJECTIONS = ("pause-member", "delay-activation", "kill-member")
HUB_INJECTIONS = ("pause-backup", "delay-restore", "kill-observability-pod")
INJECTIONS = OFFLINE_INJECTIONS + HUB_INJECTIONS + ("random",)
HUB_METHODS = ("passive", "full")
OLD_HUB_ACTIONS = ("secondary", "decommission", "none")


class ConfigError(ValueError):
    """A bad input. ``option`` names it; ``str(error)`` is the one-line message."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")
        self.option = option


@dataclass
class RunConfig:
    """What to run. Defaults follow the requirement (5 cycles, 30 s cooldown, passive method)."""

    cycles: int = 5
    run_hours: Optional[float] = None
    max_failures: Optional[int] = None
    cooldown_seconds: float = 30.0
    stop_on_failure: bool = False
    inject_failure: Optional[str] = None
    inject_at_phase: str = "activation"
    target: str = "offline"
    tags: str = "@switchover"
    primary_context: Optional[str] = None  # offline: an etcd member (n11); real: a kube context
    secondary_context: Optional[str] = None
    method: str = "passive"  # hub switchover method (real targets)
    old_hub_action: str = "secondary"  # what the old hub becomes (real targets)
    dry_run: bool = False
    output_dir: str = str(DEFAULT_REPORTS)
    phase_timeout: float = 30.0  # how long a phase waits for the cluster (seconds)
    delay_seconds: float = 2.0  # how long delay-activation / delay-restore hold things up
    monitor_interval: float = 1.0  # seconds between monitoring samples
    seed: int = 0  # random injection choices: the same seed picks the same faults on resume

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """The config a manifest recorded (unknown keys from other versions are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def reports_dir(self) -> Path:
        return Path(self.output_dir)


def _positive(option: str, value, integer: bool = False, zero: bool = False) -> None:
    if value is None:
        return
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or \
            (isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(option, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise ConfigError(option, f"expected a number {'>= 0' if zero else '> 0'}, got {value!r}")


def check(config: RunConfig) -> RunConfig:
    """Raise :class:`ConfigError` for the first bad value; return the config unchanged."""
    _positive("--cycles", config.cycles, integer=True)
    _positive("--run-hours", config.run_hours)
    _positive("--max-failures", config.max_failures, integer=True)
    _positive("--cooldown", config.cooldown_seconds, zero=True)
    _positive("--phase-timeout", config.phase_timeout)
    _positive("--delay", config.delay_seconds, zero=True)
    _positive("--monitor-interval", config.monitor_interval)
    if config.inject_failure is not None and config.inject_failure not in INJECTIONS:
        raise ConfigError("--inject-failure", f"unknown scenario {config.inject_failure!r} "
                                              f"(choose from {', '.join(INJECTIONS)})")
    if config.inject_at_phase not in PHASES:
        raise ConfigError("--inject-at-phase", f"unknown phase {config.inject_at_phase!r} "
                                               f"(choose from {', '.join(PHASES)})")
    if config.method not in HUB_METHODS:
        raise ConfigError("--method", f"expected one of {', '.join(HUB_METHODS)}, got {config.method!r}")
    if config.old_hub_action not in OLD_HUB_ACTIONS:
        raise ConfigError("--old-hub-action", f"expected one of {', '.join(OLD_HUB_ACTIONS)}, "
                                              f"got {config.old_hub_action!r}")
    if config.primary_context and config.primary_context == config.secondary_context:
        raise ConfigError("--secondary-context", "must differ from --primary-context "
                                                 f"({config.primary_context!r})")
    if config.dry_run and config.inject_failure:
        raise ConfigError("--inject-failure", "not with --dry-run: a dry run has nothing to break")
    check_tags(config.tags)
    return config


def check_tags(expression: str) -> None:
    """``--tags`` must select the @switchover scenario set (the only one a soak runs)."""
    from behave.tag_expression import make_tag_expression

    try:
        selected = make_tag_expression(expression).check(["switchover"])
    except Exception as error:  # noqa: BLE001 - behave's parser raises several types
        raise ConfigError("--tags", f"not a tag expression: {expression!r} ({error})") from None
    if not selected:
        raise ConfigError("--tags", f"{expression!r} does not select @switchover, the only "
                                    "scenario set a soak runs")


def check_target(config: RunConfig, offline: bool, has_k8s: bool) -> None:
    """The target must be able to do what was asked: hub faults need a Kubernetes hub."""
    scenario = config.inject_failure
    if config.dry_run:
        return
    if offline and scenario in HUB_INJECTIONS:
        raise ConfigError("--inject-failure", f"{scenario} acts on a Kubernetes hub; the offline "
                                              f"target offers {', '.join(OFFLINE_INJECTIONS)} or random")
    if not offline and not has_k8s:
        raise ConfigError("--target", f"{config.target!r} has no [k8s] section: a real switchover "
                                      "needs kubeconfig and the two hub contexts")
    if not offline and scenario in OFFLINE_INJECTIONS:
        raise ConfigError("--inject-failure", f"{scenario} acts on the local cluster; a hub target "
                                              f"offers {', '.join(HUB_INJECTIONS)} or random")
