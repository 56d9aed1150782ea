"""`gauntlet soak` as a process, killed: SIGKILL at seeded random points then --resume, and
SIGTERM (exit 143 after recording, cluster stopped). Real local etcd cluster, cooldown 0.

A kill point is "after k records in metrics.jsonl" (k = 0: as soon as the run dir exists,
while the cluster is still starting). After the last resume: cycles 1..N, exactly one cycle
record each (in the file and in the analyzer's view), and no process of the run is left.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
from pathlib import Path

import pytest

from gauntlet.analysis.metrics import load_run
from gauntlet.soak.metrics import read_records
from gauntlet.soak.process import SoakProcess

pytestmark = pytest.mark.skipif(
    not (shutil.which("etcd") and os.path.exists("/usr/sbin/sshd")),
    reason="needs Debian packages etcd-server and openssh-server")

CYCLES = 6


def test_sigkill_at_random_points_then_resume_loses_no_cycle_and_counts_none_twice(tmp_path):
    rng = random.Random(20260103)
    points = [0] + sorted(rng.sample(range(2, CYCLES * 7), 3))  # 4 kills: startup + 3 in cycles
    soak = SoakProcess(tmp_path)
    soak.start("--cycles", str(CYCLES), "--cooldown", "0", "--tags", "@switchover", "--monitor-interval", "0.2")
    kills = 0
    try:
        for point in points:
            kills += soak.kill_after(point)
            soak.resume()
        finished = soak.wait(120)
    finally:
        soak.stop()
    run_dir = soak.run_dir
    assert finished.returncode == 0, finished.output
    assert f"soak: {CYCLES} passed, 0 failed" in finished.output and f"run dir: {run_dir}" in finished.output
    assert kills >= 3, f"only {kills} kills landed before the run finished"

    raw = [r["cycle"] for r in read_records(soak.metrics, "cycle")]
    assert raw == list(range(1, CYCLES + 1)), raw
    analysed = load_run(run_dir)
    assert [c.cycle for c in analysed.cycles] == list(range(1, CYCLES + 1))
    assert all(c.passed for c in analysed.cycles) and analysed.incomplete_cycles() == []
    resumes = [r for r in read_records(soak.metrics, "run") if r["event"] == "resumed"]
    assert len(resumes) >= kills - 1  # a kill during startup may come before the first record
    assert soak.leftovers() == []
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, str(run_dir))]


def _cmdline_has(pid: str, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_after_recording_and_stops_the_cluster(tmp_path, signum, code):
    soak = SoakProcess(tmp_path)
    soak.start("--cycles", "50", "--cooldown", "0")
    try:
        soak.wait_for_records(9)
        soak.signal(signum)
        finished = soak.wait(60)
    finally:
        soak.stop()
    assert finished.returncode == code, finished.output
    assert "interrupted by signal" in finished.output and f"run dir: {soak.run_dir}" in finished.output
    assert [r for r in read_records(soak.metrics, "run") if r["event"] == "interrupted"]
    assert soak.leftovers() == []
