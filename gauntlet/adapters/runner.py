"""The runner CLI (``bin/end-to-end-test``) as a system under test: run it, or drive it on a
pseudo-terminal, in its own reports folder, and read what it recorded."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from gauntlet.harness.journal import read_events
from gauntlet.local.supervisor import pid_alive
from gauntlet.targets import REPO_ROOT

RUNNER = REPO_ROOT / "bin" / "end-to-end-test"
FIXTURE_PLAN = "tests/fixtures/plans/basic/features"


@dataclass
class RunnerResult:
    exit_code: int
    output: str


class RunnerCli:
    def __init__(self, reports_dir: Path, plan: str = FIXTURE_PLAN) -> None:
        self.reports_dir = Path(reports_dir)
        self.plan = plan

    def environment(self) -> Dict[str, str]:
        """A clean environment: none of the calling run's GAUNTLET_* or endpoint settings."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GAUNTLET_", "AWS_", "MOTO_"))}
        env.update(GAUNTLET_REPORTS_DIR=str(self.reports_dir), PYTHONPATH=str(REPO_ROOT))
        return env

    def run(self, *args: str, timeout: float = 120) -> RunnerResult:
        """Run without a terminal (standard input closed)."""
        done = subprocess.run([str(RUNNER), *args, self.plan], cwd=REPO_ROOT, env=self.environment(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
        return RunnerResult(done.returncode, done.stdout + done.stderr)

    def teardown_only(self, run_id: str) -> RunnerResult:
        done = subprocess.run([str(RUNNER), "--teardown-only", "--run-id", run_id], cwd=REPO_ROOT,
                              env=self.environment(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)
        return RunnerResult(done.returncode, done.stdout + done.stderr)

    def spawn(self, *args: str, timeout: float = 60):
        """Start on a pseudo-terminal; returns a ``pexpect.spawn`` to converse with."""
        import pexpect

        return pexpect.spawn(str(RUNNER), [*args, self.plan], cwd=str(REPO_ROOT),
                             env=self.environment(), encoding="utf-8", timeout=timeout,
                             dimensions=(50, 200))

    # -- what a run recorded ---------------------------------------------------------------
    def latest_run(self) -> Optional[Path]:
        latest = self.reports_dir / "latest"
        return latest.resolve() if latest.exists() else None

    def runs(self) -> List[Path]:
        if not self.reports_dir.exists():
            return []
        return [p for p in self.reports_dir.iterdir() if p.is_dir() and not p.is_symlink()]

    @staticmethod
    def results(run_dir: Path) -> Dict[int, dict]:
        return {e["step"]: e for e in read_events(run_dir / "journal.jsonl", "step_finished")}

    @staticmethod
    def events(run_dir: Path, event: str) -> List[dict]:
        return read_events(run_dir / "journal.jsonl", event)

    @staticmethod
    def endpoint_running(run_dir: Path) -> bool:
        state = json.loads((run_dir / "state.json").read_text())
        return pid_alive(int(state["endpoint"]["pid"]))

    def clean_up(self) -> None:
        """Tear down any run of this folder whose environment is still up."""
        for run_dir in self.runs():
            if (run_dir / "state.json").exists() and self.endpoint_running(run_dir):
                self.teardown_only(run_dir.name)
