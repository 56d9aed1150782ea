"""The offline switchover for real: the orchestrator on a real local 3-node etcd cluster.

One cluster for the module (only one local cluster can run on a machine at a time); every test
leaves it healthy, and the module's teardown checks that none of its processes is left.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from gauntlet.analysis.metrics import load_run
from gauntlet.local.nodes.cluster import LocalCluster
from gauntlet.soak.config import RunConfig
from gauntlet.soak.etcd_switchover import EtcdSwitchover, marker_key
from gauntlet.soak.injection import Injector
from gauntlet.soak.metrics import read_records
from gauntlet.soak.orchestrator import Orchestrator

pytestmark = pytest.mark.skipif(
    not (shutil.which("etcd") and os.path.exists("/usr/sbin/sshd")),
    reason="needs Debian packages etcd-server and openssh-server")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("soak-offline") / "cluster").start()
    yield cluster
    cluster.stop()
    assert cluster.leftover_processes() == []


@pytest.fixture
def soak(cluster, tmp_path):
    """soak(**config) -> (summary, run_dir): one run of the orchestrator on the cluster."""
    cluster.wait_healthy()
    counter = iter(range(1, 100))

    def run(**config):
        options = dict(cycles=1, cooldown_seconds=0, phase_timeout=2.0, delay_seconds=0.8,
                       monitor_interval=0.2)
        options.update(config)
        run_id = f"soak-offline-{tmp_path.name}-{next(counter)}"
        run_dir = tmp_path / run_id
        summary = Orchestrator(RunConfig(**options), EtcdSwitchover(cluster), run_dir, run_id,
                               out=open(os.devnull, "w")).run()
        return summary, run_dir
    yield run
    cluster.wait_healthy()


def cycles(run_dir: Path) -> list:
    return read_records(run_dir / "metrics.jsonl", "cycle")


def test_twenty_cycles_succeed_at_least_95_percent_of_the_time(soak, cluster):
    summary, run_dir = soak(cycles=20)
    assert summary.passed + summary.failed == 20
    assert summary.passed / 20 >= 0.95, [c["error"] for c in cycles(run_dir) if c["error"]]
    records = cycles(run_dir)
    for before, after in itertools.pairwise(records):
        if before["status"] == "passed":  # the secondary of one cycle is the primary of the next
            assert (after["primary"], after["secondary"]) == (before["secondary"], before["primary"])
    assert cluster.probe().leader() == records[-1]["secondary"]
    analysed = load_run(run_dir)
    assert [c.cycle for c in analysed.cycles] == list(range(1, 21)) and analysed.samples >= 20


def test_the_data_of_every_cycle_survives_the_switchovers(soak, cluster):
    summary, run_dir = soak(cycles=4)
    probe = cluster.probe()
    for cycle in range(1, 5):
        assert probe.get(marker_key(run_dir.name, cycle)).startswith(f"{run_dir.name}-c{cycle:03d} via ")


@pytest.mark.parametrize("scenario, phase, passes", [
    ("pause-member", "activation", False),       # the target hangs: activation fails, rolled back
    ("delay-activation", "activation", True),    # the target comes back in time: activation waits
    ("kill-member", "activation", False),        # the leader dies: failover; it is not back for finalization
    ("pause-member", "preflight", False),        # preflight sees the paused member and refuses
])
def test_an_injected_fault_is_cleared_and_recovery_verified(soak, cluster, scenario, phase, passes):
    summary, run_dir = soak(inject_failure=scenario, inject_at_phase=phase)
    record = cycles(run_dir)[0]
    assert record["injected"] == scenario and record["injected_at"] == phase
    assert (record["status"] == "passed") is passes, record["error"]
    recovery = record["recovery"]
    assert recovery["status"] == "verified", recovery
    expected_leader = record["secondary"] if passes else record["primary"]
    assert recovery["leader"] == expected_leader and recovery["rollback"] is (not passes)
    assert any("intact" in check for check in recovery["checks"]) or phase == "preflight"
    assert all(cluster.probe().member_health().values())
    assert cluster.probe().leader() == expected_leader
    states = {node: cluster.node(node).state() for node in cluster.node_names}
    assert set(states.values()) == {"running"}, states


def test_a_delayed_activation_takes_the_delay(soak):
    summary, run_dir = soak(inject_failure="delay-activation", delay_seconds=1.0)
    activation = [r for r in read_records(run_dir / "metrics.jsonl", "phase") if r["phase"] == "activation"]
    assert activation[0]["status"] == "passed" and activation[0]["duration"] >= 1.0


def test_random_injection_is_chosen_from_the_seed_and_the_cycle(soak):
    summary, run_dir = soak(cycles=2, inject_failure="random", seed=7)
    chosen = [c["injected"] for c in cycles(run_dir)]
    injector = Injector("random", "activation", SimpleNamespace(name="etcd"), seed=7)
    assert chosen == [injector.choose(1), injector.choose(2)]  # a resumed cycle gets the same fault
    assert set(chosen) <= {"pause-member", "delay-activation", "kill-member"}
    assert all(c["recovery"]["status"] == "verified" for c in cycles(run_dir))


def test_the_monitor_alerts_on_a_paused_member_and_samples_its_state(soak):
    summary, run_dir = soak(inject_failure="pause-member", monitor_interval=0.1)
    alerts = read_records(run_dir / "metrics.jsonl", "alert")
    secondary = cycles(run_dir)[0]["secondary"]
    assert any(a["rule"] == f"member-unhealthy:{secondary}" and a["severity"] == "warning" for a in alerts)
    samples = read_records(run_dir / "metrics.jsonl", "sample")
    assert any(s["members"][secondary]["state"] == "paused" for s in samples if s.get("members"))
    assert all(s["members"][n]["rss_kb"] for s in samples if s.get("members") for n in s["members"]
               if s["members"][n]["state"] == "running")
