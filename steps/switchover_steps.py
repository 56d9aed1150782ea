"""@switchover steps (requirement 003): soak cycles on the local etcd cluster (in this process,
on ``context.local_cluster``), ``gauntlet soak`` as a process, the analyzer, and hub runs."""

from __future__ import annotations

import json
import random
import shlex
import signal
import sys
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    ends_with,
    equal_to,
    greater_than,
    greater_than_or_equal_to,
    has_entries,
    has_item,
    has_key,
    has_length,
    matches_regexp,
    is_in,
    is_not,
    less_than,
    less_than_or_equal_to,
    only_contains,
    starts_with,
)

import gauntlet.soak.fixture  # noqa: F401 - registers @fixture.local-cluster
from gauntlet.analysis.metrics import load_run
from gauntlet.soak import manifest as manifest_file
from gauntlet.soak.artifacts import CYCLES_DIR
from gauntlet.soak.cli import parser, prepare
from gauntlet.soak.config import OFFLINE_INJECTIONS, RunConfig
from gauntlet.soak.etcd_switchover import EtcdSwitchover, marker_key, sentinel_key
from gauntlet.soak.ids import cycle_id
from gauntlet.soak.injection import Injector
from gauntlet.soak.metrics import read_records
from gauntlet.soak.orchestrator import Orchestrator
from gauntlet.soak.phases import PHASES
from gauntlet.soak.process import SoakProcess, analyze
from gauntlet.trace.catalogue import feature_scenarios

FEATURES = Path(__file__).resolve().parents[1] / "features"
# Offline scenario defaults: no cooldown, short waits (a paused member fails a phase in 2 s).
SCENARIO_DEFAULTS = {"cooldown_seconds": 0.0, "phase_timeout": 2.0, "delay_seconds": 0.8,
                     "monitor_interval": 0.2}
RENAMED = {"cooldown": "cooldown_seconds", "delay": "delay_seconds"}


# -- helpers -------------------------------------------------------------------------------------

FLOATS = {"run_hours", "cooldown_seconds", "phase_timeout", "delay_seconds", "monitor_interval"}
INTS = {"cycles", "max_failures", "seed"}
BOOLS = {"stop_on_failure", "dry_run"}


def _options(table) -> dict:
    """``| option | value |`` rows (command-line names) -> RunConfig fields."""
    options = {}
    for row in table or []:
        name = row["option"].lstrip("-").replace("-", "_")
        name = RENAMED.get(name, name)
        value = row["value"]
        options[name] = float(value) if name in FLOATS else int(value) if name in INTS else \
            (value == "true") if name in BOOLS else value
    return options


def _soak_dir(context) -> Path:
    return context.gauntlet.run.path("soak", ".keep").parent


def _orchestrate(context, backend, cycles: int, options: dict, name: str):
    config = RunConfig(**{**SCENARIO_DEFAULTS, "cycles": cycles, **options})
    cache = context.gauntlet.cache
    cache["soak-count"] = number = cache.get("soak-count", 0) + 1  # unique in the behave run
    run_id = f"soak-{context.gauntlet.run.run_id}-{name}-{number}"
    run_dir = _soak_dir(context) / run_id
    context.soak = SimpleNamespace(run_dir=run_dir, run_id=run_id, config=config, summary=None, error=None)
    context.soak.summary = Orchestrator(config, backend, run_dir, run_id, out=sys.stdout).run()
    return context.soak


def soak_run(context):
    """The soak this scenario ran: in this process, or the one `gauntlet soak` ran."""
    if not hasattr(context, "soak") and hasattr(context, "soak_process"):
        run_dir = context.soak_process.wait_for_run_dir()
        context.soak = SimpleNamespace(run_dir=run_dir, run_id=run_dir.name, summary=None, error=None)
    assert_that(hasattr(context, "soak"), equal_to(True), "no soak ran in this scenario")
    return context.soak


def records(context, kind: str = None) -> list:
    return read_records(soak_run(context).run_dir / "metrics.jsonl", kind)


def cycle_records(context) -> list:
    return records(context, "cycle")


def cycle_record(context, cycle: int) -> dict:
    found = [r for r in cycle_records(context) if r["cycle"] == cycle]
    assert_that(found, has_length(1), f"cycle {cycle} records")
    return found[0]


def phase_records(context, cycle: int) -> list:
    return [r for r in records(context, "phase") if r["cycle"] == cycle]


def cycle_dir(context, cycle: int) -> Path:
    run = soak_run(context)
    return run.run_dir / CYCLES_DIR / cycle_id(run.run_id, cycle)


def cycle_state(context, cycle: int) -> dict:
    return json.loads((cycle_dir(context, cycle) / "state.json").read_text())


def probe(context):
    return context.local_cluster.probe()


def process(context) -> SoakProcess:
    """The scenario's `gauntlet soak` process driver (its own reports folder)."""
    if not hasattr(context, "soak_process"):
        base = _soak_dir(context) / "processes"
        number = len(list(base.iterdir())) + 1 if base.exists() else 1
        context.soak_process = SoakProcess(base / f"{number:03d}")
        context.add_cleanup(context.soak_process.stop)
    return context.soak_process


# -- the local cluster ----------------------------------------------------------------------------

@given("the local cluster is healthy")
def step_cluster_healthy(context):
    """Every member powered on and healthy (a scenario before may have broken one)."""
    cluster, power = context.local_cluster, context.local_cluster.power()
    for node in cluster.node_names:
        state = power.node_state(node)
        if state == "paused":
            power.resume_node(node)
        elif state == "stopped":
            power.start_node(node)
    cluster.wait_healthy()
    assert_that(probe(context).leader(), is_not(None))


@given("member {node} is stopped")
def step_member_stopped(context, node):
    """A graceful power-off of one member; started again after the scenario."""
    power = context.local_cluster.power()
    power.stop_node(node)
    context.add_cleanup(lambda: power.start_node(node) if power.node_state(node) == "stopped" else None)
    assert_that(power.node_state(node), equal_to("stopped"))


@given("leadership was moved to {node}")
def step_move_leader(context, node):
    assert_that(probe(context).move_leader(node), equal_to(node))


# -- running soaks in this process ------------------------------------------------------------------

@when("a soak of {cycles:d} cycle runs")
@when("a soak of {cycles:d} cycles runs")
@when("a soak of {cycles:d} cycle runs with")
@when("a soak of {cycles:d} cycles runs with")
def step_soak(context, cycles):
    """The orchestrator on the feature's local cluster (run dir under this run's soak/)."""
    _orchestrate(context, EtcdSwitchover(context.local_cluster), cycles, _options(context.table), "etcd")


@when("a soak of {cycles:d} cycle is started with")
def step_soak_refused(context, cycles):
    try:
        step_soak(context, cycles)
    except Exception as error:  # noqa: BLE001 - the refusal is what the scenario checks
        context.soak.error = error


@then('it was refused before any cycle, naming "{text}"')
def step_refused(context, text):
    assert_that(str(soak_run(context).error), contains_string(text))
    assert_that(cycle_records(context), has_length(0))
    assert_that(records(context, "phase"), has_length(0))


@when('the soak command line "" is read')
@when('the soak command line "{args}" is read')
def step_read_command_line(context, args=""):
    """The command line as `gauntlet soak` checks it; nothing starts."""
    context.plan = prepare(parser().parse_args(shlex.split(args)))


@then("the run config is")
def step_run_config(context):
    config = context.plan.config
    for row in context.table:
        actual = str(getattr(config, row["field"]))
        if row["field"] == "output_dir":
            assert_that(actual, ends_with("/" + row["value"]))
        else:
            assert_that(actual, equal_to(row["value"]), row["field"])


# -- cycles and phases -----------------------------------------------------------------------------

@then("cycle {cycle:d} passed with every phase in order, each timed")
def step_cycle_passed(context, cycle):
    phases = phase_records(context, cycle)
    assert_that([p["phase"] for p in phases], equal_to(list(PHASES)))
    for phase in phases:
        assert_that(phase, has_entries(status="passed", error=None))
        assert_that(phase["duration"], greater_than_or_equal_to(0.0))
        assert_that(phase["started"], ends_with("Z"))
    assert_that(cycle_record(context, cycle), has_entries(status="passed", error=None))


@then("the secondary of cycle {cycle:d} leads the cluster")
def step_secondary_leads(context, cycle):
    assert_that(probe(context).leader(), equal_to(cycle_record(context, cycle)["secondary"]))


@then("{count:d} cycles were recorded, all {status}")
def step_cycles_recorded(context, count, status):
    cycles = cycle_records(context)
    assert_that([c["cycle"] for c in cycles], equal_to(list(range(1, count + 1))))
    assert_that([c["status"] for c in cycles], only_contains(status))


@then("fewer than {count:d} cycles were recorded, all {status}")
def step_fewer_cycles(context, count, status):
    cycles = cycle_records(context)
    assert_that(len(cycles), less_than(count))
    assert_that(len(cycles), greater_than(0))
    assert_that([c["status"] for c in cycles], only_contains(status))


@then("each cycle's primary is the previous cycle's secondary")
def step_roles_swap(context):
    cycles = cycle_records(context)
    assert_that(len(cycles), greater_than(1))
    for before, after in pairwise(cycles):
        assert_that(before["status"], equal_to("passed"))
        assert_that((after["primary"], after["secondary"]), equal_to((before["secondary"], before["primary"])))


@then("every cycle's state holds only what that cycle learnt")
def step_fresh_state(context):
    run = soak_run(context)
    for record in cycle_records(context):
        cycle = record["cycle"]
        state = cycle_state(context, cycle)
        assert_that(list(state)[:5], equal_to(["run_id", "cycle", "cycle_id", "primary", "secondary"]))
        assert_that(state, has_entries(cycle=cycle, cycle_id=cycle_id(run.run_id, cycle)))
        assert_that(state["marker"]["key"], equal_to(marker_key(run.run_id, cycle)))
        assert_that(state["leader_before"], equal_to(record["primary"]))  # not the last cycle's view
        assert_that(state["previous_marker"], equal_to(cycle - 1 if cycle > 1 else None))


@then('the run stopped after cycle {cycle:d} because of "{reason}"')
def step_stopped_after(context, cycle, reason):
    assert_that([c["cycle"] for c in cycle_records(context)], equal_to(list(range(1, cycle + 1))))
    assert_that(soak_run(context).summary.stop_reason, contains_string(reason))


@then("at least {pct:d}% of the {count:d} cycles passed")
def step_success_rate(context, pct, count):
    cycles = cycle_records(context)
    assert_that(cycles, has_length(count))
    passed = sum(1 for c in cycles if c["status"] == "passed")
    assert_that(100.0 * passed / count, greater_than_or_equal_to(pct),
                [c["error"] for c in cycles if c["error"]])


@then("the analyzer finds the run meets the 95% target")
def step_analyzer_target(context):
    from gauntlet.analysis.report import build_report

    report = build_report(load_run(soak_run(context).run_dir))
    assert_that(report["cycles"]["rate_pct"], greater_than_or_equal_to(report["cycles"]["target_pct"]))
    assert_that(report["cycles"]["total"], greater_than_or_equal_to(20))


@then("the cycles ran")
def step_cycles_ran(context):
    for row in context.table:
        assert_that(cycle_record(context, int(row["cycle"])),
                    has_entries(primary=row["primary"], secondary=row["secondary"], status="passed"))


@then("every record carries the run id, and every record of a cycle its cycle id")
def step_ids(context):
    run = soak_run(context)
    everything = records(context)
    assert_that([r["run_id"] for r in everything], only_contains(run.run_id))
    for record in everything:
        if record["record"] in ("phase", "cycle") or record.get("cycle"):
            assert_that(record["cycle_id"], equal_to(cycle_id(run.run_id, record["cycle"])))


@then("every cycle's folder and log lines are named by its cycle id")
def step_ids_in_files(context):
    run = soak_run(context)
    for record in cycle_records(context):
        folder = cycle_dir(context, record["cycle"])
        assert_that(folder.name, equal_to(record["cycle_id"]))
        lines = (folder / "log.txt").read_text().splitlines()
        assert_that(lines, only_contains(contains_string(f" {run.run_id} {record['cycle_id']} ")))
        metrics = json.loads((folder / "metrics.json").read_text())
        assert_that(metrics["cycle"], has_entries(run_id=run.run_id, cycle_id=record["cycle_id"]))


@then("the manifest holds the run id, the start time, the inputs, the git SHA, the tool versions and the host")
def step_manifest(context):
    run = soak_run(context)
    manifest = manifest_file.read(run.run_dir)
    assert_that(manifest, has_entries(run_id=run.run_id, inputs=has_entries(cycles=1, cooldown_seconds=0.0)))
    assert_that(manifest["started"], ends_with("Z"))
    assert_that(manifest["git_sha"], matches_regexp(r"^[0-9a-f]{40}(-dirty)?$"))
    assert_that(manifest["tool_versions"], has_entries(python=starts_with("3."), etcd=starts_with("3.")))
    assert_that(manifest["host"], has_key("hostname"))
    assert_that(load_run(run.run_dir).manifest["run_id"], equal_to(run.run_id))


@then('cycle {cycle:d} failed in {phase} with an error naming "{text}"')
def step_failed_in_phase_with(context, cycle, phase, text):
    step_failed_in_phase(context, cycle, phase)
    assert_that(cycle_record(context, cycle)["error"], contains_string(text))


@then("cycle {cycle:d} failed in {phase}")
def step_failed_in_phase(context, cycle, phase):
    record = cycle_record(context, cycle)
    assert_that(record["status"], equal_to("failed"))
    assert_that(record["error"], starts_with(f"{phase}: "))
    failed = [p["phase"] for p in phase_records(context, cycle) if p["status"] == "failed"]
    assert_that(failed, equal_to([phase]))


@then("no phase after {phase} ran in cycle {cycle:d}")
def step_no_phase_after(context, phase, cycle):
    ran = [p["phase"] for p in phase_records(context, cycle)]
    assert_that(ran, equal_to(list(PHASES[:PHASES.index(phase) + 1])))


@then('the log of cycle {cycle:d} says "{text}"')
def step_cycle_log(context, cycle, text):
    assert_that((cycle_dir(context, cycle) / "log.txt").read_text(), contains_string(text))


@then("the marker cycle {cycle:d} wrote through the primary reads back on the secondary")
def step_marker(context, cycle):
    record, state = cycle_record(context, cycle), cycle_state(context, cycle)
    marker = state["marker"]
    assert_that(marker["value"], equal_to(f"{record['cycle_id']} via {record['primary']}"))
    value = probe(context).get(marker["key"], node=record["secondary"], serializable=True)
    assert_that(value, equal_to(marker["value"]))


@then("the activation of cycle {cycle:d} passed and took the time of a leadership transfer")
def step_activation_timed(context, cycle):
    activation = next(p for p in phase_records(context, cycle) if p["phase"] == "activation")
    assert_that(activation["status"], equal_to("passed"))
    assert_that(activation["duration"], greater_than(0.01))  # a real transfer, not a no-op
    assert_that(activation["duration"], less_than(2.0))


@then("the activation of cycle {cycle:d} passed")
def step_activation_passed(context, cycle):
    activation = next(p for p in phase_records(context, cycle) if p["phase"] == "activation")
    assert_that(activation["status"], equal_to("passed"))


@then("the activation of cycle {cycle:d} took at least {seconds:g} s")
def step_activation_took(context, cycle, seconds):
    activation = next(p for p in phase_records(context, cycle) if p["phase"] == "activation")
    assert_that(activation["duration"], greater_than_or_equal_to(seconds))


@then("post-activation verification of cycle {cycle:d} saw every member agree on the secondary and a write through it")
def step_post_activation(context, cycle):
    state = cycle_state(context, cycle)
    assert_that(state["leader_agreed_by"], equal_to(context.local_cluster.node_names))
    assert_that(state["leader_after"], equal_to(cycle_record(context, cycle)["secondary"]))
    assert_that(state["write_after"], greater_than(state["marker"]["revision"]))


@then("finalization of cycle {cycle:d} named cycle {same:d}'s secondary the next primary")
def step_finalization(context, cycle, same):
    record, state = cycle_record(context, cycle), cycle_state(context, cycle)
    assert_that(state, has_entries(next_primary=record["secondary"], next_secondary=record["primary"]))
    assert_that(cycle_record(context, cycle + 1)["primary"], equal_to(record["secondary"]))


# -- metrics, artifacts, monitoring ------------------------------------------------------------------

@then("every line of metrics.jsonl is one JSON object with its record kind and the run id")
def step_jsonl(context):
    run = soak_run(context)
    lines = (run.run_dir / "metrics.jsonl").read_text().splitlines()
    assert_that(len(lines), greater_than(10))
    for line in lines:
        record = json.loads(line)
        assert_that(record, has_entries(record=is_in(("run", "phase", "cycle", "sample", "alert")),
                                        run_id=run.run_id))


@then("metrics.jsonl holds run, phase, cycle and sample records")
def step_jsonl_kinds(context):
    kinds = {r["record"] for r in records(context)}
    assert_that(kinds >= {"run", "phase", "cycle", "sample"}, equal_to(True), kinds)


@then("the run has its soak log, every cycle its log and metrics, every phase its record")
def step_statistics(context):
    run = soak_run(context)
    assert_that((run.run_dir / "soak.log").read_text(), contains_string("PASSED"))
    for record in cycle_records(context):
        folder = cycle_dir(context, record["cycle"])
        metrics = json.loads((folder / "metrics.json").read_text())
        assert_that([p["phase"] for p in metrics["phases"]], equal_to(list(PHASES)))
        assert_that((folder / "log.txt").read_text(), contains_string("finalization: passed"))


@then("the analysis of the run has P50, P90 and P95 of every phase")
def step_analysis_percentiles(context):
    from gauntlet.analysis.report import build_report

    report = build_report(load_run(soak_run(context).run_dir))
    assert_that([p["phase"] for p in report["phases"]], equal_to(list(PHASES)))
    for phase in report["phases"]:
        assert_that(phase, has_entries(p50=greater_than(0), p90=greater_than(0), p95=greater_than(0)))


@then("every cycle's folder holds log.txt, metrics.json, state.json and environment.json")
def step_cycle_folder(context):
    for record in cycle_records(context):
        names = sorted(p.name for p in cycle_dir(context, record["cycle"]).iterdir())
        assert_that(names, equal_to(["environment.json", "log.txt", "metrics.json", "state.json"]))


@then("every environment snapshot names the leader and every member")
def step_environment(context):
    for record in cycle_records(context):
        snapshot = json.loads((cycle_dir(context, record["cycle"]) / "environment.json").read_text())
        assert_that(snapshot["leader"], equal_to(record["secondary"]))
        assert_that(sorted(snapshot["members"]), equal_to(context.local_cluster.node_names))
        assert_that(snapshot["members"][record["secondary"]]["status"], has_key("dbSize"))


@then("every cycle has monitoring samples with each member's health, state, database size and RSS, and the leader")
def step_samples(context):
    samples = [s for s in records(context, "sample") if s.get("cycle")]
    for record in cycle_records(context):
        mine = [s for s in samples if s["cycle"] == record["cycle"]]
        assert_that(mine, is_not(has_length(0)), f"samples of cycle {record['cycle']}")
    for sample in samples:
        assert_that(sample["leader"], is_in(context.local_cluster.node_names))
        for member in sample["members"].values():
            assert_that(member, has_entries(healthy=True, state="running", db_size=greater_than(0),
                                            rss_kb=greater_than(1000)))


@then("every sample has the orchestrator's own RSS")
def step_own_rss(context):
    assert_that([s["orchestrator_rss_kb"] for s in records(context, "sample")], only_contains(greater_than(1000)))


@then('the monitor raised exactly one "{severity}" alert "{rule}" for the secondary of cycle {cycle:d}')
def step_alert(context, severity, rule, cycle):
    secondary = cycle_record(context, cycle)["secondary"]
    alerts = [a for a in records(context, "alert") if a["rule"] == f"{rule}:{secondary}"]
    assert_that(alerts, has_length(1))
    assert_that(alerts[0], has_entries(severity=severity, message=contains_string(secondary)))


@then("every alert has a time, a severity, a rule, a message and its cycle id")
def step_alert_fields(context):
    alerts = records(context, "alert")
    assert_that(alerts, is_not(has_length(0)))
    for alert in alerts:
        assert_that(alert, has_entries(ts=ends_with("Z"), severity=is_in(("info", "warning", "critical")),
                                       rule=is_not(None), message=is_not(None)))
        assert_that(alert, has_key("cycle_id"))


@then("the samples in metrics.jsonl are in time order and tagged with their cycles")
def step_time_series(context):
    samples = records(context, "sample")
    assert_that(len(samples), greater_than(3))
    stamps = [s["ts"] for s in samples]
    assert_that(stamps, equal_to(sorted(stamps)))
    run = soak_run(context)
    for sample in samples:
        if sample["cycle"]:
            assert_that(sample["cycle_id"], equal_to(cycle_id(run.run_id, sample["cycle"])))


@then("the analyzer counts every sample")
def step_analyzer_samples(context):
    assert_that(load_run(soak_run(context).run_dir).samples, equal_to(len(records(context, "sample"))))


# -- injection and recovery --------------------------------------------------------------------------

@then('cycle {cycle:d} was injected with "{scenario}" at {phase}')
def step_injected(context, cycle, scenario, phase):
    record = cycle_record(context, cycle)
    assert_that(record, has_entries(injected=scenario, injected_at=phase))
    assert_that(cycle_state(context, cycle)["injected"], has_entries(scenario=scenario, phase=phase))
    step_cycle_log(context, cycle, f"injected {scenario} at {phase}")


@then("recovery of cycle {cycle:d} was verified: rolled back, the primary leads")
def step_rolled_back(context, cycle):
    record = cycle_record(context, cycle)
    assert_that(record["recovery"], has_entries(status="verified", rollback=True, leader=record["primary"]))
    assert_that(probe(context).leader(), equal_to(record["primary"]))


@then("recovery of cycle {cycle:d} was verified: the secondary leads")
def step_rolled_forward(context, cycle):
    record = cycle_record(context, cycle)
    assert_that(record["recovery"], has_entries(status="verified", rollback=False, leader=record["secondary"]))
    assert_that(probe(context).leader(), equal_to(record["secondary"]))


@then("recovery of cycle {cycle:d} was verified")
def step_recovered(context, cycle):
    assert_that(cycle_record(context, cycle)["recovery"], has_entries(status="verified"))


@then("recovery of every cycle was verified")
def step_all_recovered(context):
    for record in cycle_records(context):
        assert_that(record["recovery"], has_entries(status="verified"), f"cycle {record['cycle']}")


@then("every member runs and is healthy again")
def step_all_running(context):
    cluster = context.local_cluster
    assert_that([cluster.node(n).state() for n in cluster.node_names], only_contains("running"))
    assert_that(list(probe(context).member_health().values()), only_contains(True))


@then("every cycle was injected with a fault the seed chose for it")
def step_random(context):
    run = soak_run(context)
    injector = Injector("random", run.config.inject_at_phase, SimpleNamespace(name="etcd"), run.config.seed)
    for record in cycle_records(context):
        assert_that(record["injected"], is_in(OFFLINE_INJECTIONS))
        assert_that(record["injected"], equal_to(injector.choose(record["cycle"])))


@then("every cycle failed in finalization and was rolled back: its primary leads again")
def step_all_rolled_back(context):
    for record in cycle_records(context):
        step_failed_in_phase(context, record["cycle"], "finalization")
        assert_that(record["recovery"], has_entries(status="verified", rollback=True, leader=record["primary"]))
        assert_that(record["recovery"]["checks"], has_item(contains_string("intact")))
    assert_that(probe(context).leader(), equal_to(cycle_records(context)[-1]["primary"]))


@then("the data of every cycle and the run's sentinel read back intact")
def step_data_intact(context):
    run = soak_run(context)
    assert_that(probe(context).get(sentinel_key(run.run_id)), equal_to(run.run_id))
    for record in cycle_records(context):
        assert_that(probe(context).get(marker_key(run.run_id, record["cycle"])),
                    equal_to(f"{record['cycle_id']} via {record['primary']}"))


# -- hubs (@needs.k8s) -------------------------------------------------------------------------------

def _hub_contexts(context):
    k8s = context.gauntlet.target.section("k8s")
    primary, secondary = k8s.get("primary_context"), k8s.get("secondary_context")
    assert_that(primary and secondary, is_not(None),
                "the target's [k8s] needs primary_context and secondary_context")
    return k8s["kubeconfig"], primary, secondary


@when("the hub clients are created for the target's two contexts")
def step_hub_clients(context):
    from gauntlet.soak.hub_switchover import HubSwitchover

    kubeconfig, primary, secondary = _hub_contexts(context)
    context.hub_versions = HubSwitchover(kubeconfig).validate_access(primary, secondary)


@then("both hubs answer with their Kubernetes version")
def step_hub_versions(context):
    assert_that(list(context.hub_versions.values()), only_contains(starts_with("v")))
    assert_that(context.hub_versions, has_length(2))


@when("a hub soak of {cycles:d} cycle runs on the target's hubs")
@when("a hub soak of {cycles:d} cycle runs on the target's hubs with")
def step_hub_soak(context, cycles):
    from gauntlet.soak.hub_switchover import HubSwitchover

    kubeconfig, primary, secondary = _hub_contexts(context)
    options = {"phase_timeout": 900.0, "delay_seconds": 30.0, "monitor_interval": 15.0,
               "primary_context": primary, "secondary_context": secondary, **_options(context.table)}
    _orchestrate(context, HubSwitchover(kubeconfig), cycles, options, "hub")


@then("every hub sample counts available ManagedClusters and has the Restore, BackupSchedule and observability state")
def step_hub_samples(context):
    samples = [s for s in records(context, "sample") if s.get("hubs")]
    assert_that(samples, is_not(has_length(0)))
    for hub in samples[-1]["hubs"].values():
        assert_that(hub, has_key("restore"))
        assert_that(hub, has_key("backupschedule"))
        assert_that(hub, has_key("observability_ready"))
        assert_that(hub["managedclusters"]["available"], less_than_or_equal_to(hub["managedclusters"]["total"]))


# -- gauntlet soak as a process --------------------------------------------------------------------

@when('gauntlet soak runs with "{args}"')
def step_cli(context, args):
    context.finished = process(context).run(*shlex.split(args))


@then("it exits {code:d}")
def step_exit(context, code):
    assert_that(context.finished.returncode, equal_to(code), context.finished.output)


@then('it exits {code:d} and printed "{text}"')
def step_exit_printed(context, code, text):
    step_exit(context, code)
    step_printed(context, text)


@then('it printed "{text}"')
def step_printed(context, text):
    assert_that(context.finished.output, contains_string(text))


@then('it exits {code:d} with one line naming "{option}"')
def step_one_line(context, code, option):
    step_exit(context, code)
    lines = context.finished.output.strip().splitlines()
    assert_that(lines, has_length(1))
    assert_that(lines[0], contains_string(option))


@then("no run dir was created")
def step_no_run_dir(context):
    reports = process(context).reports
    assert_that([p.name for p in reports.iterdir()], equal_to([]))


@then('the run stopped because of "{reason}"')
def step_stop_reason(context, reason):
    finished = [r for r in records(context, "run") if r["event"] == "finished"]
    assert_that(finished[-1]["stop_reason"], contains_string(reason))


@then("each cycle started at least {seconds:g} s after the previous one finished")
def step_cooldown(context, seconds):
    from datetime import datetime

    cycles = cycle_records(context)
    assert_that(cycles, has_length(greater_than(1)))
    for before, after in pairwise(cycles):
        first = next(p for p in phase_records(context, after["cycle"]) if p["phase"] == "preflight")
        gap = datetime.fromisoformat(first["started"]) - datetime.fromisoformat(before["finished"])
        assert_that(gap.total_seconds(), greater_than_or_equal_to(seconds * 0.98))


@when('gauntlet soak "{args}" is killed with SIGKILL at {count:d} seeded random points, resumed each time')
def step_kill_resume(context, args, count):
    """Kill points are record counts in metrics.jsonl (the first is 0: during start-up)."""
    soak = process(context)
    cycles = int(shlex.split(args)[shlex.split(args).index("--cycles") + 1])
    points = [0] + sorted(random.Random(20260103).sample(range(2, cycles * 7), count - 1))
    soak.start(*shlex.split(args))
    context.kills = 0
    for point in points:
        context.kills += soak.kill_after(point)
        soak.resume()
    context.finished = soak.wait(300)
    assert_that(context.kills, greater_than_or_equal_to(count - 1), "kills that landed before the end")


@when('gauntlet soak "{args}" gets SIGTERM after {count:d} records')
def step_sigterm(context, args, count):
    soak = process(context)
    soak.start(*shlex.split(args))
    assert_that(soak.wait_for_records(count), equal_to(True), "the run ended before the signal")
    soak.signal(signal.SIGTERM)
    context.finished = soak.wait(120)


@when("the run is resumed")
def step_resume(context):
    soak = process(context)
    soak.resume()
    context.finished = soak.wait(300)


@then("cycles 1 to {count:d} were recorded exactly once each, in metrics.jsonl and in the analyzer's view")
def step_exactly_once(context, count):
    assert_that([r["cycle"] for r in cycle_records(context)], equal_to(list(range(1, count + 1))))
    analysed = load_run(soak_run(context).run_dir)
    assert_that([c.cycle for c in analysed.cycles], equal_to(list(range(1, count + 1))))
    assert_that(analysed.incomplete_cycles(), equal_to([]))


@then("the interrupted cycles were run again from their first phase")
def step_rerun(context):
    reruns = [c for r in records(context, "run") if r["event"] == "resumed" for c in r["rerun"]]
    assert_that(reruns, is_not(has_length(0)))
    for cycle in reruns:
        phases = [p["phase"] for p in phase_records(context, cycle)]
        assert_that(phases.count("preflight"), greater_than(1), f"cycle {cycle} phases: {phases}")


@then("no process of the run is left")
def step_no_leftovers(context):
    assert_that(process(context).leftovers(), equal_to([]))


@then("no local cluster was started for the run")
def step_no_cluster(context):
    run_dir = process(context).wait_for_run_dir()
    assert_that((run_dir / "cluster").exists(), equal_to(False))
    assert_that(manifest_file.read(run_dir)["inputs"], has_entries(dry_run=True))


@then("every scenario under features/switchover carries the @switchover tag")
def step_all_tagged(context):
    scenarios = feature_scenarios(FEATURES / "switchover")
    assert_that(len(scenarios), greater_than(30))
    assert_that([list(s.tags) for s in scenarios], only_contains(has_item("switchover")))


# -- the analyzer ----------------------------------------------------------------------------------

@given('a finished soak run "{name}" of "{args}"')
def step_finished_run(context, name, args):
    """`gauntlet soak` run once per behave process and name (the runs are shared by scenarios)."""
    runs = context.gauntlet.cache.setdefault("soak-runs", {})
    if name not in runs:
        soak = SoakProcess(_soak_dir(context) / "analysed" / name)
        finished = soak.run(*shlex.split(args))
        assert_that(finished.returncode, is_in((0, 1)), finished.output)
        runs[name] = soak.wait_for_run_dir()
    context.soak_runs = runs


@when('gauntlet analyze runs on "{name}"')
@when('gauntlet analyze runs on "{name}" with "{args}"')
def step_analyze(context, name, args=""):
    """Names of finished runs in the arguments stand for their run dirs."""
    argv = [str(context.soak_runs[name])]
    argv += [str(context.soak_runs[part]) if part in context.soak_runs else part for part in shlex.split(args)]
    context.finished = analyze(*argv)
    context.analysed = context.soak_runs[name]


@when('gauntlet analyze runs on "{name}" without matplotlib')
def step_analyze_without_matplotlib(context, name):
    context.finished = analyze(str(context.soak_runs[name]), matplotlib=False)
    context.analysed = context.soak_runs[name]


@then("the analysis counts {count:d} cycles, all passed, and every phase {times:d} times")
def step_analysis_counts(context, count, times):
    report = json.loads(context.finished.output)
    assert_that(report["cycles"], has_entries(total=count, passed=count, failed=0))
    assert_that([(p["phase"], p["count"]) for p in report["phases"]], equal_to([(p, times) for p in PHASES]))


@then("every phase has P50 <= P90 <= P95, in seconds")
def step_percentile_order(context):
    for phase in json.loads(context.finished.output)["phases"]:
        assert_that(phase["p50"], less_than_or_equal_to(phase["p90"]))
        assert_that(phase["p90"], less_than_or_equal_to(phase["p95"]))
        assert_that(phase["p95"], less_than(60.0))


@then('the run dir has the plots "{first}" and "{second}"')
def step_plots(context, first, second):
    plots = context.analysed / "plots"
    for name in (first, second):
        assert_that((plots / name).stat().st_size, greater_than(1000))
