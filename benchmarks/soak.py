"""Figures for the soak orchestrator: offline cycles per hour, the orchestrator's memory growth
over 200 cycles, and the cost of one metrics record.

    python benchmarks/soak.py [--cycles 200] [--records 10000]      (from the repo root)

- Cycles per hour: a soak on the real local 3-node etcd cluster, cooldown 0, monitoring on
  (1 s); wall time of the cycle loop only (cluster start-up excluded, reported apart).
- Memory growth: the orchestrator's own RSS, as its monitor records it in every sample of that
  run (VmRSS after the first cycle vs after the last; slope over the second half). And the Python
  heap growth of the orchestration itself (tracemalloc) over the same number of dry-run cycles,
  which leaves out the HTTP client's pools.
- One metrics record: MetricsWriter.write (json.dumps + append + flush) of a phase record,
  averaged over --records writes; with fsync=True for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gauntlet.clock import VirtualClock  # noqa: E402
from gauntlet.local.nodes.cluster import LocalCluster  # noqa: E402
from gauntlet.soak.config import RunConfig  # noqa: E402
from gauntlet.soak.dry_run import DryRunSwitchover  # noqa: E402
from gauntlet.soak.etcd_switchover import EtcdSwitchover  # noqa: E402
from gauntlet.soak.metrics import MetricsWriter, read_records  # noqa: E402
from gauntlet.soak.orchestrator import Orchestrator  # noqa: E402

PHASE = {"cycle_id": "soak-bench-c001", "cycle": 1, "phase": "activation", "status": "passed",
         "started": "2026-01-03T10:00:00.000Z", "duration": 0.1234, "error": None}


def offline_soak(folder: Path, cycles: int) -> dict:
    cluster = LocalCluster(folder / "cluster")
    began = time.perf_counter()
    cluster.start()
    startup = time.perf_counter() - began
    try:
        run_dir = folder / "soak-bench-offline"
        orchestrator = Orchestrator(RunConfig(cycles=cycles, cooldown_seconds=0, monitor_interval=1.0),
                                    EtcdSwitchover(cluster), run_dir, run_dir.name, out=open(os.devnull, "w"))
        began = time.perf_counter()
        summary = orchestrator.run()
        elapsed = time.perf_counter() - began
    finally:
        cluster.stop()
    ends = {s["cycle"]: s["orchestrator_rss_kb"]
            for s in read_records(run_dir / "metrics.jsonl", "sample") if s.get("cycle")}
    rss = [ends[c] for c in sorted(ends)]
    half = len(rss) // 2
    slope = statistics.linear_regression(range(half, len(rss)), rss[half:]).slope if len(rss) > 4 else 0.0
    durations = [c["duration"] for c in read_records(run_dir / "metrics.jsonl", "cycle")]
    return {"cycles": cycles, "passed": summary.passed, "elapsed": elapsed, "startup": startup,
            "per_hour": cycles / elapsed * 3600, "mean_cycle": statistics.mean(durations),
            "p95_cycle": sorted(durations)[int(0.95 * (len(durations) - 1))],
            "rss_first": rss[0], "rss_last": rss[-1], "rss_slope": slope}


class HeapWatch(DryRunSwitchover):
    """The dry-run backend, noting the traced heap size at every finalization."""

    def __init__(self) -> None:
        super().__init__()
        self.heap = {}

    def finalization(self, ctx) -> None:
        super().finalization(ctx)
        self.heap[ctx.cycle] = tracemalloc.get_traced_memory()[0]


def dry_run_heap(folder: Path, cycles: int, warmup: int = 10) -> dict:
    backend = HeapWatch()
    run_dir = folder / "soak-bench-dry"
    orchestrator = Orchestrator(RunConfig(cycles=cycles + warmup, cooldown_seconds=0, dry_run=True), backend,
                                run_dir, run_dir.name, clock=VirtualClock(), out=open(os.devnull, "w"))
    tracemalloc.start()
    orchestrator.run()
    tracemalloc.stop()
    growth = backend.heap[cycles + warmup] - backend.heap[warmup]
    return {"cycles": cycles, "heap_growth": growth}


def record_cost(folder: Path, records: int) -> dict:
    result = {}
    for fsync, count in ((False, records), (True, max(records // 10, 100))):
        with MetricsWriter(folder / f"metrics-{fsync}.jsonl", "soak-bench", fsync=fsync) as writer:
            began = time.perf_counter()
            for _ in range(count):
                writer.write("phase", **PHASE)
            result[fsync] = (time.perf_counter() - began) / count
    return {"flush": result[False], "fsync": result[True], "records": records}


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--cycles", type=int, default=200)
    cli.add_argument("--records", type=int, default=10000)
    ns = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-bench-") as folder:
        folder = Path(folder)
        offline = offline_soak(folder, ns.cycles)
        heap = dry_run_heap(folder, ns.cycles)
        cost = record_cost(folder, ns.records)
    print(f"offline soak: {offline['passed']}/{offline['cycles']} cycles passed in {offline['elapsed']:.1f} s "
          f"(cluster start-up {offline['startup']:.2f} s, not counted)")
    print(f"  cycles per hour offline: {offline['per_hour']:,.0f}  "
          f"(mean cycle {offline['mean_cycle'] * 1000:.0f} ms, P95 {offline['p95_cycle'] * 1000:.0f} ms)")
    print(f"memory growth of the orchestrator over {offline['cycles']} cycles: RSS {offline['rss_first']} kB "
          f"-> {offline['rss_last']} kB ({offline['rss_last'] - offline['rss_first']:+d} kB; "
          f"slope over the second half {offline['rss_slope']:+.2f} kB/cycle)")
    print(f"  Python heap growth of the orchestration (tracemalloc, {heap['cycles']} dry-run cycles): "
          f"{heap['heap_growth'] / 1024:+.1f} KiB ({heap['heap_growth'] / heap['cycles']:+.0f} B/cycle)")
    print(f"one metrics record (json + append + flush, mean of {cost['records']}): "
          f"{cost['flush'] * 1e6:.1f} us; with fsync: {cost['fsync'] * 1e6:.0f} us")
    return 0 if offline["passed"] >= 0.95 * offline["cycles"] else 1


if __name__ == "__main__":
    sys.exit(main())
