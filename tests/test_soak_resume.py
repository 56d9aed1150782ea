"""gauntlet.soak without a cluster: resume logic, the metrics writer, roles, config checks, the
CLI's bad-input path, and the orchestrator on the dry-run backend (cut at every byte, resumed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gauntlet.analysis.metrics import load_run
from gauntlet.clock import VirtualClock
from gauntlet.soak import cli
from gauntlet.soak.config import ConfigError, RunConfig, check, check_target
from gauntlet.soak.dry_run import DryRunSwitchover
from gauntlet.soak.ids import cycle_id
from gauntlet.soak.metrics import MetricsWriter, read_records
from gauntlet.soak.orchestrator import Interrupted, Orchestrator
from gauntlet.soak.phases import PHASES
from gauntlet.soak.state import CycleOutcome, CycleState, ResumeError, RunProgress, read_progress

REPO = Path(__file__).resolve().parents[1]
RUN_ID = "soak-test-0001"


def records_of(run_dir: Path, kind: str) -> list:
    return read_records(run_dir / "metrics.jsonl", kind)


def dry_run(run_dir: Path, cycles: int = 5, **config) -> Orchestrator:
    options = dict(cycles=cycles, cooldown_seconds=0, dry_run=True)
    options.update(config)
    return Orchestrator(RunConfig(**options), DryRunSwitchover(), run_dir, RUN_ID,
                        clock=VirtualClock(), out=open("/dev/null", "w"))


def write_lines(path: Path, records: list, tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def cycle_record(cycle: int, status: str = "passed", primary: str = "a", secondary: str = "b") -> dict:
    return {"record": "cycle", "run_id": RUN_ID, "cycle_id": cycle_id(RUN_ID, cycle), "cycle": cycle,
            "status": status, "duration": 1.5, "primary": primary, "secondary": secondary,
            "injected": None, "error": None}


def phase_record(cycle: int, phase: str = "preflight") -> dict:
    return {"record": "phase", "run_id": RUN_ID, "cycle_id": cycle_id(RUN_ID, cycle), "cycle": cycle,
            "phase": phase, "status": "passed", "started": "2026-01-01T00:00:00.000Z",
            "duration": 0.1, "error": None}


# -- resume: what counts ---------------------------------------------------------------------------

def test_a_missing_metrics_file_starts_at_cycle_one(tmp_path):
    progress = read_progress(tmp_path / "metrics.jsonl")
    assert (progress.next_cycle, progress.passed, progress.failed) == (1, 0, 0)


def test_only_cycle_records_count_and_the_interrupted_cycle_runs_again(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [phase_record(1), cycle_record(1), phase_record(2), cycle_record(2, "failed"),
                       phase_record(3), phase_record(3, "activation")])
    progress = read_progress(path, RUN_ID)
    assert progress.next_cycle == 3
    assert (progress.passed, progress.failed) == (1, 1)
    assert progress.interrupted == [3]
    assert progress.spent_seconds == 3.0


def test_a_torn_cycle_record_does_not_count(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [cycle_record(1), phase_record(2)], tail=json.dumps(cycle_record(2))[:40])
    assert read_progress(path).next_cycle == 2


def test_a_complete_record_without_its_newline_counts(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, [cycle_record(1)], tail=json.dumps(cycle_record(2)))
    assert read_progress(path).next_cycle == 3


@pytest.mark.parametrize("records, problem", [
    ([cycle_record(1), cycle_record(1)], "already recorded"),
    ([cycle_record(1), cycle_record(3)], "missing cycle 2"),
    ([dict(cycle_record(1), run_id="someone-else")], "holds records of run"),
])
def test_inconsistent_records_refuse_to_resume(tmp_path, records, problem):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, records)
    with pytest.raises(ResumeError, match=problem):
        read_progress(path, RUN_ID)


def test_a_cycle_cannot_be_added_twice():
    progress = RunProgress()
    progress.add(CycleOutcome(1, "passed"))
    with pytest.raises(ResumeError):
        progress.add(CycleOutcome(1, "failed"))


# -- roles -------------------------------------------------------------------------------------------

def test_roles_swap_after_a_passed_cycle_and_stay_after_a_failed_one():
    progress = RunProgress()
    assert progress.next_roles(("n11", "n12")) == ("n11", "n12")
    progress.add(CycleOutcome(1, "passed", "n11", "n12"))
    assert progress.next_roles(("n11", "n12")) == ("n12", "n11")
    progress.add(CycleOutcome(2, "failed", "n12", "n11"))
    assert progress.next_roles(("n11", "n12")) == ("n12", "n11")  # rolled back: try again


# -- the writer and the cycle state ------------------------------------------------------------------

def test_every_record_is_on_disk_as_soon_as_it_is_written(tmp_path):
    writer = MetricsWriter(tmp_path / "metrics.jsonl", RUN_ID)
    writer.write("phase", cycle=1, phase="preflight")
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == \
        {"record": "phase", "run_id": RUN_ID, "cycle": 1, "phase": "preflight"}
    writer.close()


def test_the_writer_starts_a_fresh_line_after_a_torn_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(cycle_record(1)) + "\n" + '{"record": "cyc')
    with MetricsWriter(path, RUN_ID) as writer:
        writer.write("cycle", **{k: v for k, v in cycle_record(2).items() if k not in ("record", "run_id")})
    lines = path.read_text().splitlines()
    assert lines[1] == '{"record": "cyc'
    assert json.loads(lines[2])["cycle"] == 2
    assert read_progress(path).recorded == 2


def test_each_cycle_state_starts_empty_and_is_saved_at_every_change(tmp_path):
    first = CycleState(tmp_path / "c1" / "state.json", cycle=1)
    first.set(marker="x")
    second = CycleState(tmp_path / "c2" / "state.json", cycle=2)
    assert "marker" not in second
    assert json.loads((tmp_path / "c1" / "state.json").read_text()) == {"cycle": 1, "marker": "x"}


# -- config and CLI: bad input is one line, exit 2, before anything starts ---------------------------

@pytest.mark.parametrize("config, option", [
    (RunConfig(cycles=0), "--cycles"),
    (RunConfig(run_hours=-1.0), "--run-hours"),
    (RunConfig(max_failures=0), "--max-failures"),
    (RunConfig(cooldown_seconds=-5), "--cooldown"),
    (RunConfig(inject_at_phase="lunch"), "--inject-at-phase"),
    (RunConfig(tags="@lab"), "--tags"),
    (RunConfig(primary_context="n11", secondary_context="n11"), "--secondary-context"),
    (RunConfig(dry_run=True, inject_failure="kill-member"), "--inject-failure"),
])
def test_bad_config_names_the_option(config, option):
    with pytest.raises(ConfigError) as raised:
        check(config)
    assert raised.value.option == option


def test_hub_faults_need_a_hub_target():
    with pytest.raises(ConfigError, match="--inject-failure: pause-backup acts on a Kubernetes hub"):
        check_target(RunConfig(inject_failure="pause-backup"), offline=True, has_k8s=False)


@pytest.mark.parametrize("argv, option", [
    (["--cycles", "many"], "--cycles"),
    (["--cycles", "0"], "--cycles"),
    (["--cooldown", "-1"], "--cooldown"),
    (["--inject-failure", "meteor"], "--inject-failure"),
    (["--inject-failure", "delay-restore"], "--inject-failure"),
    (["--tags", "@drs"], "--tags"),
    (["--target", "nowhere"], "--target"),
    (["--resume", "/nonexistent/run"], "--resume"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, option):
    assert cli.main(argv + ["--reports", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and option in err
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_cli_help_exits_0():
    done = subprocess.run([sys.executable, "-m", "gauntlet.soak.cli", "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0 and "--inject-at-phase" in done.stdout


# -- the orchestrator on the dry-run backend ---------------------------------------------------------

def test_a_dry_run_records_every_phase_of_every_cycle_and_swaps_roles(tmp_path):
    summary = dry_run(tmp_path).run()
    assert (summary.passed, summary.failed, summary.next_cycle) == (5, 0, 6)
    phases = records_of(tmp_path, "phase")
    assert [(r["cycle"], r["phase"]) for r in phases] == [(c, p) for c in range(1, 6) for p in PHASES]
    cycles = records_of(tmp_path, "cycle")
    assert [(c["primary"], c["secondary"]) for c in cycles[:2]] == \
        [("primary-hub", "secondary-hub"), ("secondary-hub", "primary-hub")]
    assert all(r["cycle_id"] == cycle_id(RUN_ID, r["cycle"]) for r in phases + cycles)
    for cycle in range(1, 6):
        folder = tmp_path / "cycles" / cycle_id(RUN_ID, cycle)
        assert sorted(p.name for p in folder.iterdir()) == \
            ["environment.json", "log.txt", "metrics.json", "state.json"]


def test_soak_controls_stop_the_run(tmp_path):
    class FailingActivation(DryRunSwitchover):
        def activation(self, ctx):
            raise RuntimeError("restore stuck")

    def run(folder, **config):
        options = dict(cycles=5, cooldown_seconds=0, dry_run=True)
        options.update(config)
        return Orchestrator(RunConfig(**options), FailingActivation(), tmp_path / folder, RUN_ID,
                            clock=VirtualClock(), out=open("/dev/null", "w")).run()

    assert run("stop", stop_on_failure=True).failed == 1
    summary = run("max", max_failures=2)
    assert summary.failed == 2 and "--max-failures 2" in summary.stop_reason
    assert run("keep").failed == 5


def test_run_hours_stops_starting_cycles_when_time_is_up(tmp_path):
    """A 600 s cooldown on a virtual clock: cycles start at 0, 600 ... 3000 s; at 3600 s the
    hour is up."""
    summary = dry_run(tmp_path, cycles=20, cooldown_seconds=600, run_hours=1.0).run()
    assert summary.passed == 6 and "--run-hours 1" in summary.stop_reason


def test_run_hours_counts_the_cycles_of_earlier_attempts(tmp_path):
    orchestrator = dry_run(tmp_path, run_hours=1.0)
    earlier = RunProgress()
    earlier.add(CycleOutcome(1, "passed", duration=1800.0))
    assert orchestrator._deadline(earlier) == orchestrator.clock.now() + 1800.0


def test_an_interruption_leaves_the_cycle_to_resume(tmp_path):
    class Interrupting(DryRunSwitchover):
        def post_activation_verification(self, ctx):
            if ctx.cycle == 3:
                raise Interrupted(15)

    with pytest.raises(Interrupted):
        Orchestrator(RunConfig(cycles=5, cooldown_seconds=0, dry_run=True), Interrupting(), tmp_path,
                     RUN_ID, clock=VirtualClock(), out=open("/dev/null", "w")).run()
    progress = read_progress(tmp_path / "metrics.jsonl")
    assert progress.next_cycle == 3 and progress.interrupted == [3]
    summary = dry_run(tmp_path).run()
    assert (summary.passed, summary.ran) == (5, 3)
    run = load_run(tmp_path)
    assert [c.cycle for c in run.cycles] == [1, 2, 3, 4, 5]
    assert run.resumed_cycles == [3]


@pytest.fixture(scope="module")
def reference_bytes():
    """A complete 4-cycle dry run's metrics.jsonl."""
    with tempfile.TemporaryDirectory() as folder:
        dry_run(Path(folder), cycles=4).run()
        return (Path(folder) / "metrics.jsonl").read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_killed_at_any_byte_and_resumed_no_cycle_is_lost_or_counted_twice(reference_bytes, cut):
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        (run_dir / "metrics.jsonl").write_bytes(reference_bytes[:int(len(reference_bytes) * cut)])
        dry_run(run_dir, cycles=4).run()
        raw = [r["cycle"] for r in records_of(run_dir, "cycle")]
        assert raw == [1, 2, 3, 4]
        assert [c.cycle for c in load_run(run_dir).cycles] == [1, 2, 3, 4]


def test_a_run_that_is_still_running_cannot_be_resumed_twice(tmp_path, capsys):
    assert cli.main(["--dry-run", "--cycles", "2", "--cooldown", "0", "--reports", str(tmp_path)]) == 0
    run_dir = (tmp_path / "latest").resolve()
    held = cli.lock_run(run_dir)  # as the process running it would
    try:
        assert cli.main(["--resume", str(run_dir), "--cycles", "3"]) == 2
        assert "being run by another process" in capsys.readouterr().err
    finally:
        os.close(held)
    assert cli.main(["--resume", str(run_dir), "--cycles", "3"]) == 0
    assert [r["cycle"] for r in records_of(run_dir, "cycle")] == [1, 2, 3]
    assert "soak: 3 passed, 0 failed" in capsys.readouterr().out
