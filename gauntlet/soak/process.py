"""``gauntlet soak`` as a child process, the way an operator or CI runs it: start it, wait for it,
signal it, SIGKILL it once its metrics file holds k records, resume it. Used by the @switchover
features and the kill tests, so both drive the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from gauntlet.clock import real_clock, wait_until
from gauntlet.soak.metrics import METRICS_FILE
from gauntlet.targets import REPO_ROOT


@dataclass
class Finished:
    returncode: int
    output: str  # stdout and stderr, interleaved


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


class SoakProcess:
    """Runs ``python -m gauntlet.soak.cli`` with ``--reports reports``; one run at a time."""

    def __init__(self, reports: Path) -> None:
        self.reports = Path(reports)
        self.reports.mkdir(parents=True, exist_ok=True)
        self.process: Optional[subprocess.Popen] = None
        self.run_dir: Optional[Path] = None
        self.runs_before = set(self.reports.iterdir())

    def start(self, *args: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                       os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gauntlet.soak.cli", *args, "--reports", str(self.reports)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return self.process

    def resume(self, *args: str) -> subprocess.Popen:
        return self.start("--resume", str(self.wait_for_run_dir()), *args)

    def wait(self, timeout: float = 300.0) -> Finished:
        output, _ = self.process.communicate(timeout=timeout)
        return Finished(self.process.returncode, output)

    def run(self, *args: str, timeout: float = 300.0) -> Finished:
        self.start(*args)
        return self.wait(timeout)

    def wait_for_run_dir(self, timeout: float = 60.0) -> Path:
        """The run dir this process created (it appears with its manifest in it)."""
        if self.run_dir is None:
            def created():
                fresh = [p for p in self.reports.iterdir()
                         if p.name.startswith("soak-") and p not in self.runs_before]
                return fresh[0] if fresh else None
            self.run_dir = wait_until(created, timeout, interval=0.005, description="the soak run dir",
                                      clock=real_clock).value
        return self.run_dir

    @property
    def metrics(self) -> Path:
        return self.wait_for_run_dir() / METRICS_FILE

    def wait_for_records(self, records: int, timeout: float = 120.0) -> bool:
        """Wait until the metrics file has ``records`` lines; False if the process ended first."""
        self.wait_for_run_dir(timeout)
        wait_until(lambda: line_count(self.metrics) >= records or self.process.poll() is not None,
                   timeout, interval=0.005, description=f"{records} metrics records", clock=real_clock)
        return self.process.poll() is None

    def kill_after(self, records: int) -> bool:
        """SIGKILL the process once the metrics file has ``records`` lines (0: as soon as the run
        dir exists). Returns whether the kill landed before the run finished."""
        if not self.wait_for_records(records):
            self.wait()
            return False
        self.process.kill()
        self.wait()
        return True

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        """Kill the process if it still runs (clean-up after a failed check)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)

    def leftovers(self) -> List[int]:
        """Processes of the run's local cluster still alive."""
        from gauntlet.soak.substrate import leftovers

        return leftovers(self.run_dir) if self.run_dir else []


_WITHOUT_MATPLOTLIB = ("import sys; sys.modules['matplotlib'] = None; "
                       "from gauntlet.analysis.cli import main; sys.exit(main(sys.argv[1:]))")


def analyze(*args: str, matplotlib: bool = True, timeout: float = 120.0) -> Finished:
    """``gauntlet analyze ARGS`` as a process; ``matplotlib=False`` runs it as if matplotlib
    were not installed (its import fails), to see the fallback."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    program = ["-m", "gauntlet.analysis.cli"] if matplotlib else ["-c", _WITHOUT_MATPLOTLIB]
    done = subprocess.run([sys.executable, *program, *args], cwd=REPO_ROOT, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return Finished(done.returncode, done.stdout)
