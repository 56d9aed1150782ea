"""gauntlet.harness.diagnostics (parallel collectors, timeouts, redaction, render/save) and
gauntlet.harness.reports (step results, summary, JUnit, Allure categories)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from gauntlet.harness import diagnostics, reports
from gauntlet.harness.diagnostics import Collector, CollectorContext, Failure, collect_bundle
from gauntlet.harness.journal import Journal
from gauntlet.harness.redaction import MASK, redactor


@pytest.fixture
def context() -> CollectorContext:
    return CollectorContext(run_id="run-7", target=object(), state={"nodes": 3},
                            step_name="Nodes answer")


@pytest.fixture
def failure() -> Failure:
    return Failure(step=7, name="Nodes answer / after a crash", location="features/lab/x.feature:12",
                   error="ASSERT FAILED: Expected: <3> but: was <2>", exit_code=2,
                   command="kubectl get nodes", output_tail="node n2 NotReady\n",
                   traceback="Traceback ...\nAssertionError\n")


@pytest.fixture
def release():
    """An event that hung collectors wait on; set at teardown so no thread is left hanging."""
    event = threading.Event()
    yield event
    event.set()


def always(ctx):
    return True


def collector(name, output="ok", applies=always, commands=None, action=None):
    def collect(ctx):
        if action:
            action(ctx)
        return output
    return Collector(name, applies, collect, commands or (lambda ctx: []))


# --- collect_bundle -----------------------------------------------------------------------------

def test_bundle_carries_the_failure_and_collector_outputs(failure, context):
    seen = []
    bundle = collect_bundle(failure, context, [
        collector("df", "Filesystem  Size\n/dev/sda1  10G\n", action=seen.append,
                  commands=lambda ctx: ["df -h"]),
        collector("pods", "all Running"),
    ], timeout=5)
    assert bundle["step"] == 7
    assert bundle["name"] == "Nodes answer / after a crash"
    assert bundle["location"] == "features/lab/x.feature:12"
    assert bundle["error"] == "ASSERT FAILED: Expected: <3> but: was <2>"
    assert bundle["exit_code"] == 2
    assert bundle["command"] == "kubectl get nodes"
    assert bundle["output_tail"] == "node n2 NotReady\n"
    assert bundle["traceback"].startswith("Traceback")
    assert bundle["collectors"]["df"]["status"] == "ok"
    assert bundle["collectors"]["df"]["output"].startswith("Filesystem")
    assert bundle["collectors"]["df"]["duration"] >= 0
    assert bundle["collectors"]["pods"] == {**bundle["collectors"]["pods"], "status": "ok",
                                            "output": "all Running"}
    assert bundle["commands"] == ["df -h"]
    assert bundle["collected_in"] >= 0
    assert seen == [context]  # the collector was given the context
    json.dumps(bundle)  # serialisable as is


def test_collectors_run_concurrently(failure, context):
    """Two collectors that each need the other to be running at the same time."""
    barrier = threading.Barrier(2, timeout=3)
    bundle = collect_bundle(failure, context, [
        collector("a", "a-done", action=lambda ctx: barrier.wait()),
        collector("b", "b-done", action=lambda ctx: barrier.wait()),
    ], timeout=5)
    assert bundle["collectors"]["a"]["status"] == "ok"
    assert bundle["collectors"]["b"]["status"] == "ok"


def test_two_slow_collectors_take_the_time_of_one(failure, context):
    def slow(ctx):
        threading.Event().wait(0.8)

    began = time.monotonic()
    bundle = collect_bundle(failure, context, [collector("slow-1", action=slow),
                                               collector("slow-2", action=slow)], timeout=5)
    took = time.monotonic() - began
    assert 0.75 <= took < 1.45, took  # sequential would be >= 1.6 s
    assert all(r["status"] == "ok" for r in bundle["collectors"].values())
    assert bundle["collectors"]["slow-1"]["duration"] >= 0.75


def test_hung_collector_is_reported_as_timeout_and_bundle_returns_in_time(failure, context,
                                                                           release):
    began = time.monotonic()
    bundle = collect_bundle(failure, context, [
        collector("hangs", action=lambda ctx: release.wait(30)),
        collector("quick", "fine"),
    ], timeout=0.3)
    took = time.monotonic() - began
    assert took < 1.0, took
    assert bundle["collectors"]["hangs"] == {"status": "timeout", "output": "",
                                             "error": "no answer within 0.3s"}
    assert bundle["collectors"]["quick"]["status"] == "ok"
    assert bundle["error"] == failure.error  # the step's failure is intact


def test_raising_collector_is_recorded_and_does_not_mask_the_failure(failure, context):
    def boom(ctx):
        raise ValueError("ssh: connection refused")

    bundle = collect_bundle(failure, context, [collector("ssh-df", action=boom),
                                               collector("local-df", "10G free")], timeout=5)
    result = bundle["collectors"]["ssh-df"]
    assert result["status"] == "error"
    assert result["output"] == ""
    assert result["error"] == "ValueError: ssh: connection refused"
    assert bundle["collectors"]["local-df"]["output"] == "10G free"
    assert bundle["error"] == failure.error
    assert bundle["exit_code"] == 2


def test_collectors_that_do_not_apply_are_not_run(failure, context):
    ran = []

    def applies_raises(ctx):
        raise RuntimeError("no target info")

    bundle = collect_bundle(failure, context, [
        collector("k8s", applies=lambda ctx: False, action=lambda ctx: ran.append("k8s"),
                  commands=lambda ctx: ["kubectl get pods -A"]),
        collector("aws", applies=applies_raises, action=lambda ctx: ran.append("aws")),
        collector("local", applies=lambda ctx: ctx.run_id == "run-7",
                  action=lambda ctx: ran.append("local"), commands=lambda ctx: ["df -h"]),
    ], timeout=5)
    assert ran == ["local"]
    assert list(bundle["collectors"]) == ["local"]
    assert bundle["commands"] == ["df -h"]  # commands only from collectors that apply


def test_no_collectors_gives_an_empty_bundle_quickly(failure, context):
    began = time.monotonic()
    bundle = collect_bundle(failure, context, [], timeout=5)
    assert time.monotonic() - began < 0.5
    assert bundle["collectors"] == {} and bundle["commands"] == []


def test_commands_are_gathered_in_collector_order_and_errors_noted(failure, context):
    def bad_commands(ctx):
        raise KeyError("instance_ids")

    bundle = collect_bundle(failure, context, [
        collector("pods", commands=lambda ctx: ["kubectl get pods -A", "kubectl get events -A"]),
        collector("ec2", commands=bad_commands),
        collector("df", commands=lambda ctx: ["df -h"]),
    ], timeout=5)
    assert bundle["commands"] == [
        "kubectl get pods -A",
        "kubectl get events -A",
        "# ec2: could not build commands: 'instance_ids'",
        "df -h",
    ]
    assert bundle["collectors"]["ec2"]["status"] == "ok"


def test_secrets_are_redacted_in_the_bundle(context):
    redactor.register("diag-registered-secret-31")
    failure = Failure(step=2, name="s", location="f:1",
                      error="auth failed for key AKIAIOSFODNN7EXAMPLE",
                      command="mysql --password=hunter22xyz",
                      output_tail="token: diag-registered-secret-31\n")

    def leaks(ctx):
        raise RuntimeError("login with diag-registered-secret-31 refused")

    bundle = collect_bundle(failure, context, [
        collector("env", "AWS_SECRET_ACCESS_KEY=diag-registered-secret-31",
                  commands=lambda ctx: ["curl -H 'Authorization: Bearer abcdefgh12345678'"]),
        collector("leaky", action=leaks),
    ], timeout=5)
    text = json.dumps(bundle)
    for secret in ("diag-registered-secret-31", "AKIAIOSFODNN7EXAMPLE", "hunter22xyz",
                   "abcdefgh12345678"):
        assert secret not in text
    assert bundle["collectors"]["env"]["output"] == f"AWS_SECRET_ACCESS_KEY={MASK}"
    assert bundle["error"] == f"auth failed for key {MASK}"
    assert MASK in bundle["collectors"]["leaky"]["error"]
    assert diagnostics.render(bundle).count(MASK) >= 5


# --- render and save ----------------------------------------------------------------------------

def _sample_bundle(failure, context):
    collectors = [collector("df", "/dev/sda1 10G\n", commands=lambda ctx: ["df -h"]),
                  collector("broken", action=lambda ctx: 1 / 0)]
    return collect_bundle(failure, context, collectors, timeout=5)


def test_render_is_readable_text(failure, context):
    text = diagnostics.render(_sample_bundle(failure, context))
    lines = text.splitlines()
    assert lines[0] == ("=== step 7: Nodes answer / after a crash "
                        "(features/lab/x.feature:12) FAILED ===")
    assert lines[1] == "error: ASSERT FAILED: Expected: <3> but: was <2>"
    assert "exit code: 2  (command: kubectl get nodes)" in lines
    assert "--- output (tail) ---" in lines and "node n2 NotReady" in lines
    assert "--- traceback ---" in lines
    assert "--- df [ok] ---" in lines and "/dev/sda1 10G" in lines
    assert "--- broken [error] ---" in lines
    assert "(collector error: ZeroDivisionError: division by zero)" in lines
    assert lines.index("--- commands to re-run these diagnostics ---") < lines.index("df -h")
    assert lines[-1].startswith("(diagnostics collected in ") and lines[-1].endswith("s)")
    assert text.endswith("\n")


def test_render_minimal_bundle_omits_empty_parts(context):
    failure = Failure(step=1, name="x", location="f:1", error="boom")
    text = diagnostics.render(collect_bundle(failure, context, [], timeout=1))
    assert "exit code" not in text
    assert "output (tail)" not in text
    assert "traceback" not in text
    assert "commands to re-run" not in text


def test_render_exit_code_without_command(context):
    failure = Failure(step=1, name="x", location="f:1", error="boom", exit_code=0)
    text = diagnostics.render(collect_bundle(failure, context, [], timeout=1))
    assert "exit code: 0\n" in text


def test_save_writes_txt_and_json(tmp_path, failure, context):
    bundle = _sample_bundle(failure, context)
    path = diagnostics.save(bundle, tmp_path / "diagnostics")
    assert path == tmp_path / "diagnostics" / "step-007-nodes-answer-after-a-crash.txt"
    assert path.read_text() == diagnostics.render(bundle)
    assert json.loads(path.with_suffix(".json").read_text()) == bundle


def test_save_slug_is_limited_and_safe(tmp_path, context):
    failure = Failure(step=123, name="Ünïcode & spaces / " + "x" * 100, location="f:1", error="e")
    path = diagnostics.save(collect_bundle(failure, context, [], timeout=1), tmp_path)
    assert path.parent == tmp_path
    assert path.name.startswith("step-123-n-code-spaces-")
    assert len(path.stem) <= len("step-123-") + 60
    assert path.with_suffix(".json").exists()


# --- reports ------------------------------------------------------------------------------------

def finished(journal, step, status, reason=None, duration=1.0, name=None):
    journal.write("step_finished", step=step, name=name or f"Step {step}",
                  location=f"features/lab/s.feature:{step * 10}", tags=["lab"], status=status,
                  reason=reason, duration=duration)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    directory = tmp_path / "run-1"
    journal = Journal(directory / "journal.jsonl", "run-1")
    journal.write("run_started")
    journal.write("step_started", step=1)
    finished(journal, 1, "failed", "ASSERT FAILED: first try", duration=2.0)
    finished(journal, 3, "skipped", "optional domain 'spark' not enabled: pass --spark (or --all)",
             duration=0)
    finished(journal, 2, "passed", duration=1.5)
    finished(journal, 4, "skipped", "needs k8s: target 'offline' does not provide it", duration=0)
    finished(journal, 5, "skipped", "optional domain 'spark' not enabled: pass --spark (or --all)",
             duration=0)
    finished(journal, 6, "error", "Infrastructure: moto endpoint down\nsecond line", duration=0.25)
    finished(journal, 7, "skipped", None, duration=None)
    journal.write("step_not_run", step=2, name="Step 2", status="skipped")  # ignored
    finished(journal, 1, "passed", duration=3.0)  # retried: the latest result wins
    finished(journal, 8, "failed", "ASSERT FAILED: Expected <1>\n but: was <0>", duration=1.0,
             name="Eight & <more>")
    journal.close()
    return directory


def test_step_results_keep_the_latest_result_per_step_sorted(run_dir):
    results = reports.step_results(run_dir / "journal.jsonl")
    assert list(results) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert results[1]["status"] == "passed"
    assert results[1]["duration"] == 3.0
    assert results[2]["status"] == "passed"  # step_not_run does not override


def test_failed_steps(run_dir):
    assert [r["step"] for r in reports.failed_steps(run_dir / "journal.jsonl")] == [6, 8]


def test_summary_counts_and_skips_by_reason(run_dir):
    data = reports.summary(run_dir / "journal.jsonl")
    assert (data["passed"], data["failed"], data["skipped"], data["total"]) == (2, 2, 4, 8)
    assert data["skipped_by_reason"] == {
        "optional domain 'spark' not enabled: pass --spark (or --all)": 2,
        "needs k8s: target 'offline' does not provide it": 1,
        "no reason given": 1,
    }
    assert data["duration"] == pytest.approx(3.0 + 1.5 + 0.25 + 1.0)
    assert data["failed_steps"] == [
        {"step": 6, "name": "Step 6", "error": "Infrastructure: moto endpoint down\nsecond line"},
        {"step": 8, "name": "Eight & <more>",
         "error": "ASSERT FAILED: Expected <1>\n but: was <0>"},
    ]
    assert reports.summary_line(data) == "2 passed, 2 failed, 4 skipped"


def test_summary_of_an_empty_or_missing_journal(tmp_path):
    data = reports.summary(tmp_path / "none.jsonl")
    assert (data["passed"], data["failed"], data["skipped"], data["total"]) == (0, 0, 0, 0)
    assert data["skipped_by_reason"] == {} and data["failed_steps"] == []


def test_summary_of_a_killed_run_with_a_torn_line(run_dir):
    with open(run_dir / "journal.jsonl", "a") as handle:
        handle.write('{"event": "step_finished", "step": 9, "status": "pa')
    assert reports.summary(run_dir / "journal.jsonl")["total"] == 8


def test_write_junit_produces_valid_xml_with_failures_and_skips(run_dir, tmp_path):
    path = tmp_path / "out" / "results.xml"
    reports.write_junit(run_dir / "journal.jsonl", path)
    assert path.read_bytes().startswith(b"<?xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = list(root)
    assert suite.tag == "testsuite" and suite.get("name") == "gauntlet"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("8", "1", "1", "4")
    assert float(suite.get("time")) == pytest.approx(5.75)
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == [f"{n:03d} Step {n}" for n in range(1, 8)] + ["008 Eight & <more>"]
    assert cases["001 Step 1"].get("classname") == "features/lab/s.feature"
    assert list(cases["001 Step 1"]) == []  # passed on retry
    assert cases["001 Step 1"].get("time") == "3.000"
    skipped = cases["003 Step 3"].find("skipped")
    assert skipped.get("message") == "optional domain 'spark' not enabled: pass --spark (or --all)"
    assert cases["007 Step 7"].find("skipped").get("message") == ""
    failure = cases["008 Eight & <more>"].find("failure")
    assert failure.get("message") == "ASSERT FAILED: Expected <1>"
    assert failure.text == "ASSERT FAILED: Expected <1>\n but: was <0>"
    error = cases["006 Step 6"].find("error")
    assert error.get("message") == "Infrastructure: moto endpoint down"
    assert cases["006 Step 6"].find("failure") is None


def test_write_junit_stays_valid_with_control_characters(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl", "r")
    finished(journal, 1, "failed", "\x1b[31mExpected <1> but was <0>\x1b[0m")
    journal.close()
    reports.write_junit(tmp_path / "journal.jsonl", tmp_path / "results.xml")
    ET.parse(tmp_path / "results.xml")


def test_write_all_writes_summary_junit_and_allure_categories(run_dir):
    data = reports.write_all(run_dir)
    assert json.loads((run_dir / "summary.json").read_text()) == data
    assert data["total"] == 8
    assert ET.parse(run_dir / "junit" / "results.xml").getroot().tag == "testsuites"
    categories = json.loads((run_dir / "allure-results" / "categories.json").read_text())
    assert categories == reports.ALLURE_CATEGORIES
    statuses = [c["matchedStatuses"] for c in categories]
    assert ["failed"] in statuses and ["broken"] in statuses and ["skipped"] in statuses
    # rewriting from the same journal gives the same result
    assert reports.write_all(run_dir) == data
