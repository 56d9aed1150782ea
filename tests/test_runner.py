"""The runner CLI end to end, on a small fixture plan against the real offline endpoint.

The fixture plan (tests/fixtures/plans/basic) has six steps: 1 creates a tagged bucket, 2 runs a
command that exits 3 and fails, 3 creates another bucket, 4 is @spark, 5 needs k8s, 6 waits for
a file named by GAUNTLET_TEST_WAIT_FILE (so a test can interrupt the run while it is busy).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from gauntlet.clock import wait_until
from gauntlet.harness.journal import read_events
from gauntlet.local.supervisor import pid_alive

REPO = Path(__file__).resolve().parents[1]
RUNNER = str(REPO / "bin" / "end-to-end-test")
PLAN = "tests/fixtures/plans/basic/features"
PLANTED = ["AKIAPLANTEDSECRET012", "hunter2planted"]
FAKE_KEY_ID = "AKIATESTRUNNERKEY000"
FAKE_SECRET = "runner-test-secret-value-0123456789abcdef"


@pytest.fixture
def env(tmp_path):
    values = dict(os.environ, GAUNTLET_REPORTS_DIR=str(tmp_path / "reports"),
                  GAUNTLET_OFFLINE_CREDENTIALS="1", AWS_ACCESS_KEY_ID=FAKE_KEY_ID,
                  AWS_SECRET_ACCESS_KEY=FAKE_SECRET, PYTHONPATH=str(REPO))
    for name in ("GAUNTLET_RUN_ID", "GAUNTLET_PARENT_RUNNER", "AWS_ENDPOINT_URL"):
        values.pop(name, None)
    yield values
    # a failed test must not leak its environment into the next one
    reports = tmp_path / "reports"
    for run_dir in reports.iterdir() if reports.exists() else []:
        state = run_dir / "state.json"
        if not run_dir.is_symlink() and state.exists() and pid_alive(endpoint_pid(run_dir)):
            run_cli(values, "--teardown-only", "--run-id", run_dir.name)


def run_cli(env, *args, timeout=120):
    done = subprocess.run([RUNNER, *args], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def only_run_dir(env) -> Path:
    runs = [p for p in Path(env["GAUNTLET_REPORTS_DIR"]).iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


def finished(run_dir: Path) -> dict:
    return {e["step"]: e for e in read_events(run_dir / "journal.jsonl", "step_finished")}


def endpoint_pid(run_dir: Path) -> int:
    return json.loads((run_dir / "state.json").read_text())["endpoint"]["pid"]


def assert_torn_down(run_dir: Path):
    teardown = read_events(run_dir / "journal.jsonl", "teardown_finished")[-1]
    assert teardown["failed"] == [] and teardown["leftovers"] == []
    assert not pid_alive(endpoint_pid(run_dir))
    assert teardown["removed"], "nothing was removed"


def test_list_steps_prints_numbers_and_runs_nothing(env):
    code, out = run_cli(env, "-l", PLAN)
    assert code == 0
    assert "   1  lab        yes    Create a bucket" in out
    assert "   4  spark      no     Spark is optional" in out
    assert "pass --spark (or --all)" in out
    assert "needs k8s" in out
    assert not Path(env["GAUNTLET_REPORTS_DIR"]).exists()

    code, out = run_cli(env, "-l", "--all", PLAN)
    assert "   4  spark      yes    Spark is optional" in out


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--break", "x"], "--break: expected step numbers"),
    (["--break", "99"], "--break 99: no such step"),
    (["--start-step", "0"], "--start-step 0: no such step"),
    (["--start-step", "7"], "--start-step 7: no such step"),
    (["--end-step", "9"], "--end-step 9"),
    (["--break", "2"], "--break needs a terminal"),
    (["--wait"], "--wait needs a terminal"),
    (["--teardown-only"], "--teardown-only needs --run-id"),
    (["--target", "nosuch"], "targets/nosuch.toml: no such target file"),
    (["--on-failure", "explode"], "argument --on-failure: invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2_before_provisioning(env, args, message):
    code, out = run_cli(env, *args, PLAN)
    assert code == 2
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], out
    assert not Path(env["GAUNTLET_REPORTS_DIR"]).exists(), "something was provisioned"


def test_failing_step_does_not_stop_later_steps_and_gets_a_bundle(env):
    code, out = run_cli(env, PLAN)
    assert code == 1
    run_dir = only_run_dir(env)
    results = finished(run_dir)
    assert [results[n]["status"] for n in range(1, 7)] == [
        "passed", "failed", "passed", "skipped", "skipped", "passed"]
    assert "pass --spark" in results[4]["reason"] and "needs k8s" in results[5]["reason"]

    bundle = read_events(run_dir / "journal.jsonl", "diagnostics")[0]["bundle"]
    assert bundle["step"] == 2 and bundle["exit_code"] == 3
    assert "compiling" in bundle["output_tail"]
    assert bundle["collectors"]["disk usage (this machine)"]["status"] == "ok"
    assert "Filesystem" in bundle["collectors"]["disk usage (this machine)"]["output"]
    assert bundle["collectors"]["aws instances of this run"]["status"] == "ok"
    assert any(c.startswith("aws ec2 describe-instances") for c in bundle["commands"])
    assert bundle["collected_in"] < 5

    log = (run_dir / "failures.log").read_text()
    assert "step 2: A command fails" in log and "exit code: 3" in log
    assert "================ failure log" in out  # printed at the end
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["passed"], summary["failed"], summary["skipped"]) == (3, 1, 2)
    assert summary["skipped_by_reason"]
    junit = (run_dir / "junit" / "results.xml").read_text()
    assert "<failure" in junit and "<skipped" in junit
    allure = [json.loads(p.read_text()) for p in (run_dir / "allure-results").glob("*-result.json")]
    failed = next(r for r in allure if r["name"] == "A command fails")
    assert failed["status"] == "failed"
    assert [a["name"] for a in failed["attachments"]] == ["diagnostics"]
    skipped = next(r for r in allure if r["name"] == "Spark is optional")
    assert skipped["status"] == "skipped"
    assert [a["name"] for a in skipped["attachments"]] == ["skip reason"]
    assert_torn_down(run_dir)  # default policy without a terminal: tear down
    assert out.rstrip().splitlines()[-1] == "gauntlet: 3 passed, 1 failed, 2 skipped"


def test_planted_secrets_never_reach_any_report_or_the_console(env):
    code, out = run_cli(env, PLAN)
    run_dir = only_run_dir(env)
    secrets = PLANTED + [FAKE_KEY_ID, FAKE_SECRET]
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in secrets:
                assert secret not in text, f"{secret} leaked into {path}"
    for secret in secrets:
        assert secret not in out
    assert "***REDACTED***" in (run_dir / "failures.log").read_text()


def test_all_passed_tears_down_and_exits_0(env):
    code, out = run_cli(env, "--end-step", "1", PLAN)
    assert code == 0, out
    run_dir = only_run_dir(env)
    assert finished(run_dir)[1]["status"] == "passed"
    assert_torn_down(run_dir)


def test_stop_on_failure_skips_the_rest_with_a_reason(env):
    code, _ = run_cli(env, "--stop-on-failure", PLAN)
    assert code == 1
    results = finished(only_run_dir(env))
    assert results[3]["status"] == "skipped"
    assert results[3]["reason"] == "--stop-on-failure: step 2 failed"


def test_keep_then_start_step_reuses_state_then_teardown_only(env):
    code, out = run_cli(env, "--on-failure", "keep", "--end-step", "2", PLAN)
    assert code == 1 and "environment kept" in out
    run_dir = only_run_dir(env)
    pid = endpoint_pid(run_dir)
    assert pid_alive(pid), "keep must leave the environment running"

    # resume at step 3 of the same run: attaches to the kept endpoint, earlier results stand
    code, out = run_cli(env, "--run-id", run_dir.name, "--start-step", "3", "--on-failure", "keep",
                        PLAN)
    assert code == 1  # step 2 is still failed in this run
    results = finished(run_dir)
    assert results[1]["status"] == "passed" and results[3]["status"] == "passed"
    assert endpoint_pid(run_dir) == pid and pid_alive(pid)

    code, out = run_cli(env, "--teardown-only", "--run-id", run_dir.name)
    assert code == 0, out
    assert "removed s3:bucket/fixture-alpha" in out and "removed s3:bucket/fixture-beta" in out
    assert_torn_down(run_dir)


def test_start_step_of_a_torn_down_run_is_a_clear_error(env):
    run_cli(env, "--end-step", "1", PLAN)
    run_dir = only_run_dir(env)
    code, out = run_cli(env, "--run-id", run_dir.name, "--start-step", "3", PLAN)
    assert code == 2 and "offline endpoint" in out and "is gone" in out


def _start_busy_run(env, tmp_path, *args):
    wait_file = tmp_path / "go"
    env = dict(env, GAUNTLET_TEST_WAIT_FILE=str(wait_file))
    process = subprocess.Popen([RUNNER, *args, PLAN], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    wait_until(lambda: Path(str(wait_file) + ".waiting").exists(), 60, 0.05, "step 6 to start")
    return process


def test_sigterm_mid_run_tears_down_and_exits_143(env, tmp_path):
    process = _start_busy_run(env, tmp_path)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 143, out
    run_dir = only_run_dir(env)
    assert "interrupted by SIGTERM" in out
    assert_torn_down(run_dir)
    assert read_events(run_dir / "journal.jsonl", "run_finished")[-1]["exit_code"] == 143


def test_sigkill_leaves_a_ledger_that_teardown_only_reaps(env, tmp_path):
    process = _start_busy_run(env, tmp_path)
    os.killpg(process.pid, signal.SIGKILL)  # the runner and its behave child, no cleanup at all
    process.communicate(timeout=30)
    run_dir = only_run_dir(env)
    pid = endpoint_pid(run_dir)
    assert pid_alive(pid), "the endpoint runs in its own session and outlives the runner"

    code, out = run_cli(env, "--teardown-only", "--run-id", run_dir.name)
    assert code == 0, out
    assert "removed s3:bucket/fixture-alpha" in out
    assert_torn_down(run_dir)

    code, out = run_cli(env, "--teardown-only", "--run-id", run_dir.name)
    assert code == 0 and "0 removed" in out  # idempotent


def spawn(env, *args) -> pexpect.spawn:
    return pexpect.spawn(RUNNER, [*args, PLAN], cwd=str(REPO), env=env, encoding="utf-8",
                         timeout=60, dimensions=(50, 200))


def test_breakpoint_pauses_before_the_step_on_a_terminal(env):
    child = spawn(env, "--break", "3")
    child.expect("breakpoint before step 3: Create another bucket")
    run_dir = only_run_dir(env)
    started = {e["step"] for e in read_events(run_dir / "journal.jsonl", "step_started")}
    assert started == {1, 2}, "nothing after the breakpoint may have started"
    child.sendline("")
    child.expect(r"\[  3\] Create another bucket ... passed")
    child.expect("What next")
    child.sendline("t")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert_torn_down(run_dir)


def test_recovery_menu_shell_helpers_retry_and_keep(env):
    child = spawn(env, "--end-step", "3")
    child.expect("What next")
    child.sendline("s")
    child.expect(r"gauntlet shell: rebuild")
    child.sendline("rerun 1; echo rerun-exit=$?")
    child.expect(r"\[  1\] Create a bucket ... passed")
    child.expect("rerun-exit=0")
    child.sendline("rebuild; echo rebuild-exit=$?")
    child.expect("rebuild-exit=0")
    child.sendline("exit")
    child.expect("What next")
    child.sendline("r")  # retry from the failed step: step 2 fails again, step 3 passes
    child.expect(r"\[  2\] A command fails ... FAILED")
    child.expect(r"\[  3\] Create another bucket ... passed")
    child.expect("What next")
    child.sendline("e")
    child.expect("environment kept")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    run_dir = only_run_dir(env)
    runs = [e["step"] for e in read_events(run_dir / "journal.jsonl", "step_finished")]
    assert runs.count(2) == 2 and runs.count(1) == 2  # retry and rerun really ran
    assert pid_alive(endpoint_pid(run_dir))
    code, out = run_cli(env, "--teardown-only", "--run-id", run_dir.name)
    assert code == 0
    assert_torn_down(run_dir)


def test_wait_asks_before_teardown(env):
    child = spawn(env, "--wait", "--end-step", "1")
    child.expect("press Enter to tear down")
    run_dir = only_run_dir(env)
    assert pid_alive(endpoint_pid(run_dir)), "--wait keeps the environment until confirmed"
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert_torn_down(run_dir)


def test_plain_behave_runs_standalone_and_tears_down(env):
    done = subprocess.run([sys.executable, "-m", "behave", "-f", "null", PLAN], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1  # step 2 fails
    run_dir = only_run_dir(env)
    assert finished(run_dir)[3]["status"] == "passed"
    assert_torn_down(run_dir)


def test_ctrl_c_on_a_terminal_tears_down_and_exits_130(env, tmp_path):
    wait_file = tmp_path / "go"
    child = spawn(dict(env, GAUNTLET_TEST_WAIT_FILE=str(wait_file)))
    wait_until(lambda: Path(str(wait_file) + ".waiting").exists(), 60, 0.05, "step 6 to start")
    child.sendintr()  # Ctrl-C reaches the runner and its behave child (one process group)
    child.expect("interrupted by SIGINT")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    run_dir = only_run_dir(env)
    assert_torn_down(run_dir)
    assert finished(run_dir)[3]["status"] == "passed"  # steps before the interrupt were recorded
