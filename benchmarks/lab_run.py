"""Figures for the foundation: offline lab run wall time, harness overhead per step, time to a
complete diagnostics bundle.

    python benchmarks/lab_run.py            (from the repo root, after make setup)

Harness overhead is measured as a slope, so fixed costs (starting behave, the endpoint) cancel:
the same generated no-op scenarios run with bare behave (no hooks) and with the harness, at two
plan sizes; overhead per step = (harness slope - bare slope).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
HOOKS = (REPO / "environment.py").read_text()


def run(argv, env, cwd=REPO) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def make_plan(folder: Path, scenarios: int, with_harness: bool) -> Path:
    (folder / "features").mkdir(parents=True)
    (folder / "steps").mkdir()
    body = "\n".join(f"  Scenario: no-op {n}\n    Given nothing happens\n" for n in range(scenarios))
    (folder / "features" / "plan.feature").write_text(f"@lab\nFeature: overhead\n\n{body}")
    (folder / "steps" / "noop.py").write_text(
        "from behave import given\n\n@given('nothing happens')\ndef step(context):\n    pass\n")
    (folder / "environment.py").write_text(HOOKS if with_harness else "")
    return folder / "features"


def behave_time(scenarios: int, with_harness: bool, env: dict, repeats: int = 3) -> float:
    with tempfile.TemporaryDirectory(prefix="gauntlet-bench-") as tmp:
        features = make_plan(Path(tmp), scenarios, with_harness)
        argv = [PYTHON, "-m", "behave", "-f", "null", "--no-summary", str(features)]
        return min(run(argv, env) for _ in range(repeats))


def main() -> int:
    reports = tempfile.mkdtemp(prefix="gauntlet-bench-reports-")
    env = dict(os.environ, PYTHONPATH=str(REPO), GAUNTLET_REPORTS_DIR=reports)

    lab_wall = run([str(REPO / "bin" / "end-to-end-test")], env)
    latest = Path(reports) / "latest"
    summary = json.loads((latest / "summary.json").read_text())
    print(f"offline lab run (bin/end-to-end-test): {lab_wall:.2f} s wall, "
          f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped "
          f"(target: < 20 s)")

    small, large = 50, 250
    bare = (behave_time(large, False, env) - behave_time(small, False, env)) / (large - small)
    harness = (behave_time(large, True, env) - behave_time(small, True, env)) / (large - small)
    print(f"per step: bare behave {bare * 1000:.2f} ms, with harness {harness * 1000:.2f} ms, "
          f"harness overhead {(harness - bare) * 1000:.2f} ms per passing step (target: < 5 ms)")

    fixture = REPO / "tests" / "fixtures" / "plans" / "basic" / "features"
    run([str(REPO / "bin" / "end-to-end-test"), "--end-step", "3", str(fixture)], env)
    journal = [json.loads(line) for line in (latest / "journal.jsonl").read_text().splitlines()]
    bundle = next(e for e in journal if e["event"] == "diagnostics")["bundle"]
    failed_at = next(e for e in journal if e["event"] == "step_started" and e["step"] == 2)
    print(f"failure to complete diagnostics bundle: {bundle['collected_in']:.2f} s collecting "
          f"({len(bundle['collectors'])} collectors in parallel; step 2 started {failed_at['ts']}) "
          f"(target: < 5 s)")
    subprocess.run(["rm", "-rf", reports], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
