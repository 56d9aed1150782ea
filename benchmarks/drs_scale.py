"""Figures for the DRS execution engine at scale, offline: the engine against the DRS simulator and
moto on an in-thread loopback endpoint, one virtual clock for both (the world of ``@fixture.drs``).

    .venv/bin/python benchmarks/drs_scale.py            (from the repo root)
    .venv/bin/python benchmarks/drs_scale.py 6 20       (only those sizes)

For 6, 20, 100 and 500 servers (the six seeded ones plus servers added to the simulator), each
recovered by one plan of PARALLEL waves that depend on each other, it prints: wall time, simulated
time, DRS calls (counted by the simulator, retries included) and EC2 calls (counted on the
engine's own EC2 client) per recovered server, and DynamoDB calls for reference. Then the
15-minute-RTO scenario (the six-server parallel plan) and history queries among 1000 records.

Targets reported against: API calls per recovered server at 100 servers <= 3, history query
< 200 ms, wall time of the 15-minute RTO scenario < 2 s. Nothing leaves 127.0.0.0/8: the network
guard is installed first. Wall time is measured with ``gauntlet.clock.real_clock``.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gauntlet.local import network_guard  # noqa: E402

network_guard.install()
for key, value in {"AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                   "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
    os.environ[key] = value
for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(key, None)

from gauntlet.clock import real_clock  # noqa: E402
from gauntlet.local.drs.fixture import TEST_SOURCE_SERVERS, DrsWorld, scale_plan  # noqa: E402
from gauntlet.sut.drs_engine.plan import load_json  # noqa: E402

PLANS = REPO / "fixtures" / "drs" / "plans"
SIZES = (6, 20, 100, 500)
WAVES = {6: 3, 20: 5, 100: 5, 500: 5}
TARGET_CALLS_PER_SERVER = 3
TARGET_QUERY_MS = 200
TARGET_RTO_WALL_SECONDS = 2


def run(world: DrsWorld, plan: dict, groups: dict) -> dict:
    """Execute a plan with a fresh engine; the figures of that run."""
    engine = world.engine()
    world.control.reset_calls()
    marks = {service: len(world.calls.of(service)) for service in ("ec2", "dynamodb")}
    wall, began = real_clock.now(), world.clock.now()
    record = engine.execute(plan, groups)
    figures = {
        "status": record["Status"], "wall_s": real_clock.now() - wall, "clock_s": world.clock.now() - began,
        "servers": sum(1 for w in record["Waves"] for s in w["Servers"] if s["Status"] == "COMPLETED"),
        "drs_calls": world.control.calls()["total"],
        "ec2_calls": len(world.calls.of("ec2")) - marks["ec2"],
        "dynamodb_calls": len(world.calls.of("dynamodb")) - marks["dynamodb"],
    }
    return figures


def scale(world: DrsWorld, size: int) -> dict:
    world.begin_scenario()
    servers = list(TEST_SOURCE_SERVERS)
    if size > len(servers):
        servers += world.add_source_servers(size - len(servers), {"ProtectionGroup": "Scale"})
    plan, groups = scale_plan(servers[:size], WAVES[size], plan_id=f"plan-bench-{size}")
    return run(world, plan, groups)


def history_query(world: DrsWorld, records: int = 1000) -> dict:
    """1000 copies of a real execution record (the single-wave plan), then timed queries of one
    plan's history through the PlanId index: one plan with 10 records, one with 50."""
    world.begin_scenario()
    engine = world.engine()
    first = engine.execute(load_json(PLANS / "single_wave.json"), load_json(PLANS / "protection_groups.json"))
    original = world.raw_record(first["ExecutionId"])
    dynamodb = world.client("dynamodb")
    items = []
    for n in range(records):
        plan_id = "plan-query-50" if n < 50 else f"plan-query-{n % 95:03d}"
        item = dict(original)
        item.update(ExecutionId={"S": str(uuid.uuid4())}, PlanId={"S": plan_id},
                    StartTime={"S": f"2026-01-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00.000Z"})
        items.append(item)
    wall = real_clock.now()
    for start in range(0, len(items), 25):
        request = {world.table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    dynamodb.delete_item(TableName=world.table, Key={"ExecutionId": {"S": first["ExecutionId"]}})
    seeded = real_clock.now() - wall
    figures = {"records": world.count_items(), "seed_s": seeded}
    for plan_id, label in (("plan-query-007", "query_10_ms"), ("plan-query-50", "query_50_ms")):
        timings = []
        for _ in range(5):
            wall = real_clock.now()
            found = engine.history(plan_id)
            timings.append((real_clock.now() - wall) * 1000)
        figures[label] = sorted(timings)[len(timings) // 2]
        figures[label.replace("_ms", "_returned")] = len(found)
    return figures


def main(argv) -> int:
    sizes = [int(a) for a in argv] or list(SIZES)
    world = DrsWorld(offline=True, region="us-east-1").start()
    try:
        print("DRS engine at scale (offline: DRS simulator + moto, virtual clock)\n")
        header = (f"{'servers':>7} {'waves':>5} {'status':>9} {'wall s':>7} {'clock s':>8} "
                  f"{'DRS/srv':>8} {'EC2/srv':>8} {'API/srv':>8} {'DynamoDB/srv':>12}")
        print(header)
        print("-" * len(header))
        results = {}
        for size in sizes:
            f = scale(world, size)
            results[size] = f
            per = f["servers"] or 1
            print(f"{size:>7} {WAVES.get(size, '?'):>5} {f['status']:>9} {f['wall_s']:>7.2f} {f['clock_s']:>8.0f} "
                  f"{f['drs_calls'] / per:>8.2f} {f['ec2_calls'] / per:>8.2f} "
                  f"{(f['drs_calls'] + f['ec2_calls']) / per:>8.2f} {f['dynamodb_calls'] / per:>12.2f}")
        print("\n(DRS calls: every request the simulator received, retries included; EC2 calls: API calls\n"
              " of the engine's EC2 client; API/srv = DRS + EC2 per recovered server)")

        world.begin_scenario()
        rto = run(world, load_json(PLANS / "parallel.json"), load_json(PLANS / "protection_groups.json"))
        query = history_query(world)
        print(f"\n15-minute RTO scenario (6 servers, one PARALLEL wave, realistic DRS timing): "
              f"{rto['status']}, {rto['clock_s']:.0f} s on the clock, {rto['wall_s']:.2f} s wall")
        print(f"history: {query['records']} records seeded in {query['seed_s']:.2f} s; query by PlanId "
              f"(index, newest first): {query['query_10_ms']:.0f} ms for {query['query_10_returned']} records, "
              f"{query['query_50_ms']:.0f} ms for {query['query_50_returned']} records (median of 5)")

        print("\ntargets:")
        if 100 in results:
            f = results[100]
            calls = (f["drs_calls"] + f["ec2_calls"]) / max(f["servers"], 1)
            print(f"  API calls per recovered server at 100 servers <= {TARGET_CALLS_PER_SERVER}: "
                  f"{calls:.2f}  {'MET' if calls <= TARGET_CALLS_PER_SERVER else 'MISSED'}")
        print(f"  history query < {TARGET_QUERY_MS} ms: {query['query_10_ms']:.0f} ms (10 records) "
              f"{'MET' if query['query_10_ms'] < TARGET_QUERY_MS else 'MISSED'}; {query['query_50_ms']:.0f} ms "
              f"(50 records) {'MET' if query['query_50_ms'] < TARGET_QUERY_MS else 'MISSED'}")
        print(f"  15-minute RTO scenario wall time < {TARGET_RTO_WALL_SECONDS} s: {rto['wall_s']:.2f} s  "
              f"{'MET' if rto['wall_s'] < TARGET_RTO_WALL_SECONDS else 'MISSED'}")
        blocked = network_guard.blocked_attempts()
        print(f"\nnetwork guard: {len(blocked)} blocked connection attempts {blocked or ''}")
    finally:
        world.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
