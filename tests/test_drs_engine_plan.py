"""Recovery plan validation and wave ordering (no AWS): examples and properties."""

import copy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gauntlet.sut.drs_engine.plan import PlanValidationError, load_json, validate_plan
from gauntlet.sut.drs_engine.waves import dependents, find_cycles, next_ready, wave_order

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "drs" / "plans"
GROUPS = load_json(PLANS / "protection_groups.json")
SOURCE_IDS = [sid for group in GROUPS["ProtectionGroups"] for sid in group["SourceServerIds"]]


def plan(name):
    return load_json(PLANS / f"{name}.json")


def problems_of(data):
    with pytest.raises(PlanValidationError) as caught:
        validate_plan(data, GROUPS)
    return caught.value.problems


# -- fixtures -------------------------------------------------------------------------------

def test_three_protection_groups_of_two_well_formed_servers():
    groups = GROUPS["ProtectionGroups"]
    assert [g["Name"] for g in groups] == ["Database", "Application", "Web"]
    assert all(len(g["SourceServerIds"]) == 2 for g in groups)
    assert len(set(SOURCE_IDS)) == 6
    assert {"s-3d75cdc0d9a28a725", "s-3afa164776f93ce4f"} <= set(SOURCE_IDS)


@pytest.mark.parametrize("name", ["single_wave", "multi_wave_dependencies", "parallel", "sequential",
                                  "cross_account"])
def test_valid_fixture_plans_validate(name):
    typed = validate_plan(plan(name), GROUPS)
    assert typed.plan_id == plan(name)["PlanId"]


def test_fixture_plans_use_the_pascal_case_schema():
    for path in PLANS.glob("*.json"):
        data = load_json(path)
        keys = set(data) | {k for w in data.get("Waves", []) for k in w}
        assert all(k[0].isupper() for k in keys), path.name


def test_invalid_server_ids_are_each_reported_with_their_path():
    problems = problems_of(plan("invalid_server_ids"))
    assert len(problems) == 3
    assert problems[0].startswith("Waves[0].Servers[0].SourceServerId: 's-123' is not a source server id")
    assert any("server-3d75cdc0d9a28a725" in p for p in problems)
    assert any("s-3D75CDC0D9A28A72Z" in p for p in problems)  # upper case / non-hex


def test_missing_protection_group_is_reported():
    assert problems_of(plan("missing_protection_group")) == [
        "Waves[1].ProtectionGroupId: protection group 'pg-cache' does not exist"]


def test_circular_dependency_is_reported_with_the_cycle():
    assert problems_of(plan("circular_dependencies")) == [
        "Waves[2].DependsOn: circular dependency 1 -> 3 -> 1"]


def test_every_problem_is_reported_at_once():
    data = plan("multi_wave_dependencies")
    data["Waves"][0]["ExecutionType"] = "ALL_AT_ONCE"
    data["Waves"][1]["DependsOn"] = [9]
    data["Waves"][2]["WaveNumber"] = 1
    data["Waves"][2]["Servers"][0]["SourceServerId"] = "s-00000000000000000"
    problems = problems_of(data)
    assert "Waves[0].ExecutionType: 'ALL_AT_ONCE' is not one of PARALLEL, SEQUENTIAL" in problems
    assert "Waves[1].DependsOn: wave 9 does not exist" in problems
    assert "Waves[2].WaveNumber: 1 duplicates Waves[0]" in problems
    assert ("Waves[2].Servers[0].SourceServerId: s-00000000000000000 is not in any protection group"
            in problems)
    assert "problems" in str(PlanValidationError("p", problems))


def test_other_field_checks():
    data = plan("single_wave")
    data["Waves"][0]["DependsOn"] = [1]
    data["Waves"][0]["HealthCheck"]["IntervalSeconds"] = 0
    data["Waves"][0]["Servers"][1]["RecoverySnapshotId"] = "snap-1"
    data["TargetAccountId"] = "2222"
    del data["PlanId"]
    problems = problems_of(data)
    assert "PlanId: required" in problems
    assert "Waves[0].DependsOn: wave 1 depends on itself" in problems
    assert "Waves[0].HealthCheck.IntervalSeconds: 0 is below the minimum 1" in problems
    assert any(p.startswith("Waves[0].Servers[1].RecoverySnapshotId:") for p in problems)
    assert "TargetAccountId: '2222' is not a 12-digit account id" in problems
    assert "CrossAccountRoleArn: required when TargetAccountId is set" in problems


def test_defaults_and_servers_from_the_protection_group():
    data = {"PlanId": "p", "Waves": [{"WaveNumber": 1, "ProtectionGroupId": "pg-web"}]}
    typed = validate_plan(data, GROUPS)
    wave = typed.waves[0]
    assert (wave.execution_type, wave.depends_on, wave.wait_time_seconds) == ("PARALLEL", (), 0)
    assert (wave.health_check.enabled, wave.health_check.timeout_seconds,
            wave.health_check.interval_seconds) == (True, 300, 30)
    web = GROUPS["ProtectionGroups"][2]["SourceServerIds"]
    assert [s.source_server_id for s in wave.servers_in_order()] == web
    assert typed.is_drill is True and typed.execution_timeout_seconds == 3600


def test_sequential_servers_run_in_execution_order():
    data = plan("sequential")
    data["Waves"][0]["Servers"][0]["ExecutionOrder"] = 5
    wave = validate_plan(data, GROUPS).waves[0]
    assert [s.execution_order for s in wave.servers_in_order()] == [2, 5]


# -- wave graphs: examples ---------------------------------------------------------------------

def test_wave_order_is_topological_with_ties_by_number():
    assert wave_order({3: [], 1: [], 2: [3]}) == [1, 3, 2]
    assert wave_order({1: [], 2: [1], 3: [2]}) == [1, 2, 3]


def test_cycles_found_and_refused():
    assert find_cycles({1: [2], 2: [3], 3: [1], 4: []}) == [[1, 2, 3, 1]]
    with pytest.raises(ValueError, match="circular dependency 1 -> 2 -> 1"):
        wave_order({1: [2], 2: [1]})


def test_failure_skips_transitive_dependents_only():
    graph = {1: [], 2: [1], 3: [2], 4: []}
    assert dependents(graph, 1) == {2, 3}
    assert next_ready(graph, {1: "FAILED", 2: "SKIPPED", 3: "SKIPPED", 4: "PENDING"}) == 4


# -- wave graphs: properties -------------------------------------------------------------------

@st.composite
def graphs(draw, acyclic=None):
    size = draw(st.integers(min_value=1, max_value=9))
    numbers = draw(st.lists(st.integers(0, 30), min_size=size, max_size=size, unique=True))
    graph = {}
    for position, node in enumerate(numbers):
        pool = numbers[:position] if acyclic else numbers
        deps = draw(st.lists(st.sampled_from(pool), unique=True, max_size=3)) if pool else []
        graph[node] = [d for d in deps if d != node]
    return graph


def has_cycle(graph):
    """Reference check: repeatedly remove nodes without unmet dependencies."""
    remaining = {n: set(d) for n, d in graph.items()}
    while True:
        free = [n for n, d in remaining.items() if not d]
        if not free:
            return bool(remaining)
        for n in free:
            del remaining[n]
        for d in remaining.values():
            d.difference_update(free)


def to_plan(graph):
    return {"PlanId": "generated", "Waves": [
        {"WaveNumber": n, "ProtectionGroupId": "pg-database", "DependsOn": deps}
        for n, deps in graph.items()]}


@settings(max_examples=80, deadline=None)
@given(graphs())
def test_cycles_are_always_rejected(graph):
    if has_cycle(graph):
        assert find_cycles(graph)
        problems = problems_of(to_plan(graph))
        assert any("circular dependency" in p for p in problems)
        for cycle in find_cycles(graph):
            assert cycle[0] == cycle[-1] == min(cycle)
            assert all(b in graph[a] for a, b in zip(cycle, cycle[1:], strict=False))
    else:
        assert find_cycles(graph) == []
        validate_plan(to_plan(graph), GROUPS)


@settings(max_examples=80, deadline=None)
@given(graphs(acyclic=True))
def test_order_is_a_valid_topological_order(graph):
    order = wave_order(graph)
    assert sorted(order) == sorted(graph)
    position = {n: i for i, n in enumerate(order)}
    assert all(position[d] < position[n] for n, deps in graph.items() for d in deps)


@settings(max_examples=80, deadline=None)
@given(graphs(acyclic=True), st.data())
def test_a_wave_never_starts_before_its_dependencies_completed(graph, data):
    """Simulate the engine's choice of the next wave with random wave failures."""
    statuses = {n: "PENDING" for n in graph}
    started = []
    while True:
        wave = next_ready(graph, statuses)
        if wave is None:
            break
        assert all(statuses[d] == "COMPLETED" for d in graph[wave])
        started.append(wave)
        if data.draw(st.booleans()):
            statuses[wave] = "COMPLETED"
        else:
            statuses[wave] = "FAILED"
            for other in dependents(graph, wave):
                assert statuses[other] in ("PENDING", "SKIPPED")
                statuses[other] = "SKIPPED"
    assert all(s != "PENDING" for s in statuses.values())
    if all(s == "COMPLETED" for s in statuses.values()):
        assert started == wave_order(graph)


def test_plans_are_not_mutated_by_validation():
    data = plan("multi_wave_dependencies")
    before = copy.deepcopy(data)
    validate_plan(data, GROUPS)
    assert data == before
