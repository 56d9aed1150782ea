"""gauntlet.checks: built-in checks against an in-memory cluster, retries through a virtual
clock, allowed failures, custom registration, and the polling helpers."""

from __future__ import annotations

import time

import pytest

from gauntlet.checks import builtin
from gauntlet.checks.context import CheckContext
from gauntlet.checks.polling import consistently, eventually, retry
from gauntlet.checks.registry import ValidationRegistry, parse_node_status
from gauntlet.clock import VirtualClock
from gauntlet.workflow.fakes import FakeCluster

STATE_CHECKS = ["cluster_status", "cluster_status_stopped", "cluster_degraded", "cluster_critical",
                "all_nodes_running", "ssh_connectivity", "vms_powered_off", "database_running",
                "database_degraded", "database_down", "admin_ui_accessible"]


@pytest.fixture
def clock():
    return VirtualClock(start=1_700_000_000)


@pytest.fixture
def cluster(clock):
    cluster = FakeCluster(clock=clock)
    cluster.deployment.deploy()
    return cluster


def passing(cluster, registry=None):
    """The state checks that hold for the cluster now."""
    registry = registry or ValidationRegistry()
    context = cluster.context()
    return {name for name in STATE_CHECKS if registry.evaluate(name, context).passed}


# --- built-ins against cluster states ---------------------------------------------------------

def test_a_healthy_cluster(cluster):
    assert passing(cluster) == {"cluster_status", "all_nodes_running", "ssh_connectivity",
                                "database_running", "admin_ui_accessible"}


def test_one_node_stopped_is_degraded_with_quorum(cluster):
    cluster.stop_node("n12")
    assert passing(cluster) == {"cluster_degraded", "database_running", "database_degraded",
                                "ssh_connectivity", "admin_ui_accessible"}


def test_two_of_three_crashed_is_critical_and_the_database_is_down(cluster):
    cluster.crash_node("n11", "destroy")
    cluster.crash_node("n12", "destroy")
    # the surviving node still serves its admin UI; the database has no quorum
    assert passing(cluster) == {"cluster_critical", "database_down", "ssh_connectivity",
                                "admin_ui_accessible"}


def test_a_stopped_cluster_is_stopped_not_critical(cluster):
    cluster.stop_cluster()
    assert passing(cluster) == {"cluster_status_stopped", "vms_powered_off", "database_down"}


def test_a_paused_node_is_neither_running_nor_powered_off(cluster):
    cluster.stop_cluster()
    cluster.pause_node("n12")
    assert "vms_powered_off" not in passing(cluster)


def test_ssh_connectivity_needs_every_running_node_to_answer(cluster):
    cluster.ssh_down.add("n13")
    assert "ssh_connectivity" not in passing(cluster)
    cluster.stop_node("n13")
    assert "ssh_connectivity" in passing(cluster)


def test_members_still_booting_are_not_healthy(clock):
    cluster = FakeCluster(clock=clock, boot_seconds=20)
    cluster.deployment.deploy()
    assert passing(cluster) == {"all_nodes_running", "ssh_connectivity", "cluster_critical",
                                "database_down"}
    clock.advance(20)
    assert "cluster_status" in passing(cluster)


@pytest.mark.parametrize("name,expected", [
    ("node_status:n11", True), ("node_status:n12", False), ("node_status:n12:stopped", True),
    ("node_status:n13:running", True), ("node_status:n13:paused", False),
])
def test_node_status(cluster, name, expected):
    cluster.stop_node("n12")
    assert ValidationRegistry().evaluate(name, cluster.context()).passed is expected


def test_node_status_paused(cluster):
    cluster.pause_node("n13")
    assert ValidationRegistry().evaluate("node_status:n13:paused", cluster.context()).passed


# --- data integrity ---------------------------------------------------------------------------

def test_data_integrity_plants_a_sentinel_once_and_verifies_it_survives(cluster):
    registry, context = ValidationRegistry(), cluster.context()
    assert registry.evaluate("data_integrity", context).passed
    sentinel = context.scratch["data_integrity"]
    assert cluster.data[sentinel.key] == sentinel.value
    cluster.stop_cluster()
    cluster.start_cluster()
    assert registry.evaluate("data_integrity", context).passed
    assert [call for call in cluster.calls if call.startswith("put")] == [f"put {sentinel.key}"]


def test_data_integrity_fails_when_the_sentinel_is_lost_or_changed(cluster):
    registry, context = ValidationRegistry(), cluster.context()
    builtin.plant_sentinel(context)
    key = context.scratch["data_integrity"].key
    cluster.data[key] = "something else"
    assert not registry.evaluate("data_integrity", context).passed
    del cluster.data[key]
    assert not registry.evaluate("data_integrity", context).passed


def test_data_integrity_fails_with_the_reason_when_the_database_is_unreachable(cluster):
    context = cluster.context()
    builtin.plant_sentinel(context)
    cluster.crash_node("n11")
    cluster.crash_node("n12")
    outcome = ValidationRegistry().evaluate("data_integrity", context)
    assert not outcome.passed and "quorum lost" in outcome.error


def test_database_checks_without_a_probe_fail_with_a_reason(cluster):
    context = CheckContext(power=cluster)
    outcome = ValidationRegistry().evaluate("database_running", context)
    assert (outcome.passed, outcome.error) == (False, "no database probe in the check context")


def test_ssh_connectivity_without_a_callable_fails_with_a_reason(cluster):
    outcome = ValidationRegistry().evaluate("ssh_connectivity", CheckContext(power=cluster))
    assert "no ssh_reachable" in outcome.error


# --- retries through the clock ----------------------------------------------------------------

def test_five_attempts_thirty_seconds_apart_run_instantly_and_are_counted(cluster, clock):
    cluster.stop_node("n12")
    started = time.monotonic()
    outcome = ValidationRegistry().evaluate("cluster_status", cluster.context(), max_attempts=5,
                                            delay_seconds=30, clock=clock)
    assert time.monotonic() - started < 1
    assert (outcome.passed, outcome.attempts) == (False, 5)
    assert clock.now() == 120  # four waits between five attempts
    assert outcome.to_json() == {"check": "cluster_status", "passed": False, "attempts": 5}


def test_a_check_that_recovers_stops_retrying(clock):
    cluster = FakeCluster(clock=clock, boot_seconds=45)
    cluster.deployment.deploy()
    outcome = ValidationRegistry().evaluate("cluster_status", cluster.context(), max_attempts=5,
                                            delay_seconds=30, clock=clock)
    assert (outcome.passed, outcome.attempts, clock.now()) == (True, 3, 60)
    assert outcome.to_json() == {"check": "cluster_status", "passed": True, "attempts": 3}


def test_an_exception_is_a_failed_attempt_and_its_message_is_kept(cluster, clock):
    registry = ValidationRegistry()
    calls = []

    def flaky(ctx):
        calls.append(clock.now())
        if len(calls) < 3:
            raise ConnectionError("connection refused")
        return True

    registry.register("flaky", "fails twice", flaky)
    outcome = registry.evaluate("flaky", cluster.context(), max_attempts=4, delay_seconds=10,
                                clock=clock)
    assert (outcome.passed, outcome.attempts, calls) == (True, 3, [0, 10, 20])
    assert outcome.error is None
    registry.register("broken", "always raises", lambda ctx: 1 / 0)
    assert registry.evaluate("broken", cluster.context(), 2, 1, clock).error == "division by zero"


# --- allowed failures and registration --------------------------------------------------------

def test_an_allowed_failure_is_recorded_as_passed_false_allowed_true(cluster):
    outcome = ValidationRegistry().evaluate("database_down", cluster.context(), allow_failure=True)
    assert outcome.to_json() == {"check": "database_down", "passed": False, "attempts": 1,
                                 "allowed": True}
    passed = ValidationRegistry().evaluate("cluster_status", cluster.context(), allow_failure=True)
    assert "allowed" not in passed.to_json()


def test_a_check_registered_with_allow_failure_never_fails_a_step(cluster):
    registry = ValidationRegistry()
    registry.register("optional_check", "nice to have", lambda ctx: False, allow_failure=True)
    outcome = registry.evaluate("optional_check", cluster.context())
    assert (outcome.passed, outcome.allowed) == (False, True)


def test_custom_checks_get_the_context_dict_style_too(cluster, tmp_path):
    registry = ValidationRegistry()
    seen = {}

    def custom_check(context) -> bool:
        seen["deploy_dir"] = context["deploy_dir"]
        seen["nodes"] = context["nodes"]
        return (context["deploy_dir"] / "marker").exists()

    check = registry.register("my_custom_check", "Description of check", custom_check,
                              allow_failure=False)
    assert (check.name, check.description, check.allow_failure) == (
        "my_custom_check", "Description of check", False)
    context = cluster.context(deploy_dir=tmp_path)
    assert not registry.evaluate("my_custom_check", context).passed
    (tmp_path / "marker").touch()
    assert registry.evaluate("my_custom_check", context).passed
    assert seen == {"deploy_dir": tmp_path, "nodes": ["n11", "n12", "n13"]}
    with pytest.raises(KeyError):
        context["nonsense"]


@pytest.mark.parametrize("name", ["cluster_status", "node_status", "", "a:b", "has space", 3])
def test_register_rejects_taken_or_malformed_names(name):
    with pytest.raises(ValueError):
        ValidationRegistry().register(name, "x", lambda ctx: True)


def test_register_rejects_a_non_callable():
    with pytest.raises(ValueError, match="callable"):
        ValidationRegistry().register("x", "x", "not a function")


def test_registries_are_independent_and_copyable():
    first = ValidationRegistry()
    first.register("mine", "x", lambda ctx: True)
    assert "mine" not in ValidationRegistry().names()
    clone = first.copy()
    clone.register("theirs", "x", lambda ctx: True)
    assert "theirs" not in first.names() and "mine" in clone.names()
    assert ValidationRegistry(builtins=False).names() == []


def test_every_documented_check_is_built_in():
    documented = {"cluster_status", "cluster_status_stopped", "cluster_degraded",
                  "cluster_critical", "all_nodes_running", "ssh_connectivity",
                  "vms_powered_off", "database_running", "database_degraded", "database_down",
                  "admin_ui_accessible", "data_integrity"}
    registry = ValidationRegistry()
    assert set(registry.names()) == documented
    assert all(check.description for check in registry.checks())


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,parsed", [
    ("node_status:n12", ("n12", "running")),
    ("node_status:n12:stopped", ("n12", "stopped")),
    ("node_status:n12:paused", ("n12", "paused")),
])
def test_parse_node_status(name, parsed):
    assert parse_node_status(name) == parsed


@pytest.mark.parametrize("name", ["node_status", "node_status:", "node_status:n12:unknown",
                                  "node_status:n12:running:x", "node_state:n12"])
def test_parse_node_status_rejects(name):
    with pytest.raises(ValueError):
        parse_node_status(name)


def test_problem_explains_unknown_names():
    registry = ValidationRegistry()
    assert registry.problem("cluster_status") is None
    assert registry.problem("node_status:n12:stopped", ["n11", "n12"]) is None
    assert "did you mean 'cluster_status'" in registry.problem("cluster_stauts")
    assert "unknown node 'n19'" in registry.problem("node_status:n19", ["n11", "n12"])
    with pytest.raises(KeyError):
        registry.resolve("nope")


# --- polling helpers --------------------------------------------------------------------------

def test_eventually_counts_attempts_until_the_condition_holds(clock):
    start = clock.now()
    result = eventually(lambda: clock.now() - start >= 25, timeout=60, interval=10, clock=clock)
    assert (result.passed, result.attempts, result.elapsed) == (True, 4, 30)


def test_eventually_gives_up_after_the_timeout_with_every_attempt_counted(clock):
    def refuse():
        raise ConnectionError("refused")

    result = eventually(refuse, timeout=30, interval=10, clock=clock)
    assert (result.passed, result.attempts, result.error) == (False, 4, "refused")
    assert not result
    with pytest.raises(ValueError):
        eventually(lambda: True, timeout=1, interval=0, clock=clock)


def test_consistently_holds_over_the_duration(clock):
    result = consistently(lambda: True, duration=60, interval=15, clock=clock)
    assert (result.passed, result.attempts, result.elapsed) == (True, 5, 60)


def test_consistently_stops_at_the_first_failure(clock):
    start = clock.now()
    result = consistently(lambda: clock.now() - start < 20, duration=60, interval=15, clock=clock)
    assert (result.passed, result.attempts, result.elapsed) == (False, 3, 30)


def test_retry_makes_exactly_max_attempts(clock):
    calls = []
    result = retry(lambda: calls.append(1), max_attempts=3, delay_seconds=5, clock=clock)
    assert (result.passed, result.attempts, len(calls), clock.now()) == (False, 3, 3, 10)
    with pytest.raises(ValueError):
        retry(lambda: True, max_attempts=0, delay_seconds=0, clock=clock)
