"""Recovery plans and protection groups in the DynamoDB PascalCase schema, validated up front.

Validation runs before any AWS call, so a bad plan costs nothing and every problem is reported
at once, each with the field path it concerns (``Waves[2].DependsOn: ...``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from gauntlet.sut.drs_engine.waves import find_cycles

SOURCE_SERVER_ID = re.compile(r"^s-[0-9a-f]{17}$")
SNAPSHOT_ID = re.compile(r"^pit-[0-9a-zA-Z]{17}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
EXECUTION_TYPES = ("PARALLEL", "SEQUENTIAL")
DEFAULT_EXECUTION_TIMEOUT = 3600


class PlanValidationError(ValueError):
    """The plan cannot run. ``problems`` lists each one as ``"<field path>: <what is wrong>"``."""

    def __init__(self, plan_id: str, problems: List[str]) -> None:
        self.plan_id = plan_id
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"recovery plan {plan_id or '<no PlanId>'} is invalid "
                         f"({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{listing}")


@dataclass(frozen=True)
class ProtectionGroup:
    protection_group_id: str
    name: str
    source_server_ids: Tuple[str, ...]


@dataclass(frozen=True)
class HealthCheck:
    enabled: bool = True
    timeout_seconds: int = 300
    interval_seconds: int = 30


@dataclass(frozen=True)
class Server:
    source_server_id: str
    execution_order: int
    recovery_snapshot_id: str = ""


@dataclass(frozen=True)
class Wave:
    wave_number: int
    wave_name: str
    protection_group_id: str
    execution_type: str
    depends_on: Tuple[int, ...]
    wait_time_seconds: int
    health_check: HealthCheck
    servers: Tuple[Server, ...]

    def servers_in_order(self) -> List[Server]:
        return sorted(self.servers, key=lambda s: (s.execution_order, s.source_server_id))


@dataclass(frozen=True)
class RecoveryPlan:
    plan_id: str
    plan_name: str
    waves: Tuple[Wave, ...]
    is_drill: bool = True
    target_account_id: str = ""
    cross_account_role_arn: str = ""
    sns_topic_arn: str = ""
    execution_timeout_seconds: int = DEFAULT_EXECUTION_TIMEOUT
    source: Mapping = field(default_factory=dict, compare=False, repr=False)

    @property
    def server_count(self) -> int:
        return sum(len(wave.servers) for wave in self.waves)

    def wave(self, number: int) -> Wave:
        return next(wave for wave in self.waves if wave.wave_number == number)


def load_json(path) -> object:
    return json.loads(Path(path).read_text())


def parse_protection_groups(data: Iterable[Mapping]) -> Dict[str, ProtectionGroup]:
    """``[{ProtectionGroupId, Name, SourceServerIds}]`` (or ``{"ProtectionGroups": [...]}``)."""
    if isinstance(data, Mapping):
        data = data.get("ProtectionGroups", [])
    groups = {}
    for item in data:
        group = ProtectionGroup(str(item["ProtectionGroupId"]), str(item.get("Name", "")),
                                tuple(item.get("SourceServerIds", [])))
        groups[group.protection_group_id] = group
    return groups


def validate_plan(data: Mapping, protection_groups) -> RecoveryPlan:
    """Check a PascalCase plan against the protection groups; return the typed plan.

    ``protection_groups`` is a mapping id -> :class:`ProtectionGroup` or the raw list.
    Raises :class:`PlanValidationError` listing every problem found.
    """
    groups = protection_groups
    if not isinstance(groups, Mapping) or any(not isinstance(g, ProtectionGroup) for g in groups.values()):
        groups = parse_protection_groups(protection_groups)
    problems: List[str] = []
    if not isinstance(data, Mapping):
        raise PlanValidationError("", ["<plan>: must be a JSON object"])
    plan_id = _text(data, "PlanId", "PlanId", problems, required=True)
    plan_name = _text(data, "PlanName", "PlanName", problems) or plan_id
    waves_data = data.get("Waves")
    if not isinstance(waves_data, list) or not waves_data:
        problems.append("Waves: at least one wave is required")
        waves_data = []
    waves = [_wave(item, f"Waves[{i}]", groups, problems) for i, item in enumerate(waves_data)]
    waves = [wave for wave in waves if wave is not None]
    _check_wave_graph(waves, waves_data, problems)
    target = str(data.get("TargetAccountId") or "")
    role = str(data.get("CrossAccountRoleArn") or "")
    if target and not ACCOUNT_ID.match(target):
        problems.append(f"TargetAccountId: {target!r} is not a 12-digit account id")
    if role and not ROLE_ARN.match(role):
        problems.append(f"CrossAccountRoleArn: {role!r} is not an IAM role ARN")
    if target and not role:
        problems.append("CrossAccountRoleArn: required when TargetAccountId is set")
    timeout = _number(data, "ExecutionTimeoutSeconds", "ExecutionTimeoutSeconds", problems,
                      default=DEFAULT_EXECUTION_TIMEOUT, minimum=1)
    if problems:
        raise PlanValidationError(plan_id, problems)
    return RecoveryPlan(plan_id=plan_id, plan_name=plan_name, waves=tuple(waves),
                        is_drill=bool(data.get("IsDrill", True)), target_account_id=target,
                        cross_account_role_arn=role, sns_topic_arn=str(data.get("SnsTopicArn") or ""),
                        execution_timeout_seconds=timeout, source=dict(data))


def _wave(item, path: str, groups, problems: List[str]) -> Optional[Wave]:
    if not isinstance(item, Mapping):
        problems.append(f"{path}: must be an object")
        return None
    number = _number(item, "WaveNumber", f"{path}.WaveNumber", problems, default=None, minimum=0)
    execution_type = str(item.get("ExecutionType", "PARALLEL"))
    if execution_type not in EXECUTION_TYPES:
        problems.append(f"{path}.ExecutionType: {execution_type!r} is not one of PARALLEL, SEQUENTIAL")
    group_id = str(item.get("ProtectionGroupId") or "")
    group = groups.get(group_id)
    if not group_id:
        problems.append(f"{path}.ProtectionGroupId: required")
    elif group is None:
        problems.append(f"{path}.ProtectionGroupId: protection group {group_id!r} does not exist")
    depends_on = item.get("DependsOn") or []
    if not isinstance(depends_on, list) or any(_whole(d) is None for d in depends_on):
        problems.append(f"{path}.DependsOn: must be a list of wave numbers")
        depends_on = []
    depends_on = [_whole(d) for d in depends_on]
    health_data = item.get("HealthCheck") or {}
    health = HealthCheck(
        enabled=bool(health_data.get("Enabled", True)),
        timeout_seconds=_number(health_data, "TimeoutSeconds", f"{path}.HealthCheck.TimeoutSeconds",
                                problems, default=300, minimum=0),
        interval_seconds=_number(health_data, "IntervalSeconds", f"{path}.HealthCheck.IntervalSeconds",
                                 problems, default=30, minimum=1),
    )
    known = {sid for g in groups.values() for sid in g.source_server_ids}
    servers = _servers(item, path, group, known, problems)
    return Wave(
        wave_number=number if number is not None else -1,
        wave_name=str(item.get("WaveName") or f"Wave {number}"),
        protection_group_id=group_id,
        execution_type=execution_type,
        depends_on=tuple(depends_on),
        wait_time_seconds=_number(item, "WaitTimeSeconds", f"{path}.WaitTimeSeconds", problems,
                                  default=0, minimum=0),
        health_check=health,
        servers=tuple(servers),
    )


def _servers(item, path: str, group: Optional[ProtectionGroup], known_servers: set,
             problems: List[str]) -> List[Server]:
    """The wave's servers; a wave without ``Servers`` recovers its whole protection group.

    Listed servers may come from any protection group (one wave can recover several tiers at
    once), but must belong to one: an id in no group is almost certainly a typo.
    """
    data = item.get("Servers")
    if data is None:
        ids = group.source_server_ids if group else ()
        data = [{"SourceServerId": sid, "ExecutionOrder": i + 1} for i, sid in enumerate(ids)]
        if group is not None and not ids:
            problems.append(f"{path}.Servers: protection group {group.protection_group_id!r} has no servers")
    elif not isinstance(data, list) or not data:
        problems.append(f"{path}.Servers: at least one server is required")
        data = []
    servers, seen = [], set()
    for j, server in enumerate(data):
        spath = f"{path}.Servers[{j}]"
        sid = str(server.get("SourceServerId", "")) if isinstance(server, Mapping) else ""
        if not SOURCE_SERVER_ID.match(sid):
            problems.append(f"{spath}.SourceServerId: {sid!r} is not a source server id "
                            "('s-' followed by 17 lowercase hex digits)")
            continue
        if sid in seen:
            problems.append(f"{spath}.SourceServerId: {sid} is listed twice")
        seen.add(sid)
        if known_servers and sid not in known_servers:
            problems.append(f"{spath}.SourceServerId: {sid} is not in any protection group")
        snapshot = str(server.get("RecoverySnapshotId") or "")
        if snapshot and not SNAPSHOT_ID.match(snapshot):
            problems.append(f"{spath}.RecoverySnapshotId: {snapshot!r} is not a snapshot id "
                            "('pit-' followed by 17 characters)")
        order = _number(server, "ExecutionOrder", f"{spath}.ExecutionOrder", problems, default=j + 1,
                        minimum=0)
        servers.append(Server(sid, order, snapshot))
    return servers


def _check_wave_graph(waves: List[Wave], waves_data: list, problems: List[str]) -> None:
    index_of: Dict[int, int] = {}
    for i, wave in enumerate(waves):
        if wave.wave_number < 0:
            continue
        if wave.wave_number in index_of:
            problems.append(f"Waves[{i}].WaveNumber: {wave.wave_number} duplicates "
                            f"Waves[{index_of[wave.wave_number]}]")
        else:
            index_of[wave.wave_number] = i
    for i, wave in enumerate(waves):
        for dep in wave.depends_on:
            if dep == wave.wave_number:
                problems.append(f"Waves[{i}].DependsOn: wave {dep} depends on itself")
            elif dep not in index_of:
                problems.append(f"Waves[{i}].DependsOn: wave {dep} does not exist")
    graph = {w.wave_number: [d for d in w.depends_on if d in index_of and d != w.wave_number]
             for w in waves if w.wave_number >= 0}
    for cycle in find_cycles(graph):
        problems.append(f"Waves[{index_of[cycle[-2]]}].DependsOn: circular dependency "
                        + " -> ".join(str(n) for n in cycle))


def _text(data: Mapping, key: str, path: str, problems: List[str], required: bool = False) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            problems.append(f"{path}: required")
        return ""
    if not isinstance(value, str):
        problems.append(f"{path}: must be a string")
        return str(value)
    return value


def _number(data: Mapping, key: str, path: str, problems: List[str], default, minimum: int):
    value = data.get(key, default)
    if value is None and default is None:
        problems.append(f"{path}: required")
        return None
    number = _whole(value)
    if number is None:
        problems.append(f"{path}: {value!r} is not a whole number")
        return default
    if number < minimum:
        problems.append(f"{path}: {number} is below the minimum {minimum}")
        return default
    return number


def _whole(value) -> Optional[int]:
    """An integer from JSON or DynamoDB (``Decimal``) input; None if it is not a whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    try:
        return int(value) if value == int(value) else None
    except (OverflowError, ValueError, ArithmeticError):
        return None
