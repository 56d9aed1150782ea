"""The world of the @drs features (gauntlet/local/drs/fixture.py): its clock, recorder, shape
checks, generated plans, and a feature's life offline (endpoint up, environment, clean-up)."""

import os

import pytest

from gauntlet.local import network_guard
from gauntlet.local.drs.fixture import DrsWorld, ScenarioClock, scale_plan
from gauntlet.local.drs.shapes import shape_problems
from gauntlet.sut.drs_engine.plan import load_json, validate_plan
from gauntlet.targets import REPO_ROOT

PLANS = REPO_ROOT / "fixtures" / "drs" / "plans"


def test_scheduled_actions_run_in_time_order_before_the_sleeper_wakes():
    clock = ScenarioClock(start=1_000_000.0)
    seen = []
    clock.after(45, lambda: seen.append(("cancel", clock.now())))
    clock.after(10, lambda: seen.append(("early", clock.now())))
    clock.sleep(30)
    assert seen == [("early", 10)] and clock.now() == 30
    clock.sleep(15)
    assert seen[-1] == ("cancel", 45) and clock.now() == 45 and clock.wall() == 1_000_045.0
    clock.after(5, lambda: seen.append(("dropped", 0)))
    clock.clear()
    clock.sleep(60)
    assert len(seen) == 2


def test_generated_plan_is_valid_and_sized_as_asked():
    servers = [f"s-{n:017x}" for n in range(20)]
    plan, groups = scale_plan(servers, 5)
    typed = validate_plan(plan, groups)
    assert [len(w.servers) for w in typed.waves] == [4] * 5
    assert [w.depends_on for w in typed.waves] == [(), (1,), (2,), (3,), (4,)]


@pytest.fixture(scope="module")
def world():
    guard_was_on = network_guard.installed()
    network_guard.install()
    blocked = len(network_guard.blocked_attempts())
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                            "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    drs = DrsWorld(offline=True, region="us-east-1").start()
    try:
        yield drs
    finally:
        drs.close()
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"  # restored
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not guard_was_on:
            network_guard.uninstall()
    assert network_guard.blocked_attempts()[blocked:] == []


def test_an_execution_is_recorded_and_cleaned_up_without_orphans(world):
    world.begin_scenario()
    assert os.environ["AWS_ENDPOINT_URL"] == world.url
    engine = world.engine()
    record = engine.execute(load_json(PLANS / "single_wave.json"), load_json(PLANS / "protection_groups.json"))
    assert record["Status"] == "COMPLETED"
    starts = world.calls.of("drs", "StartRecovery")
    assert len(starts) == 1 and not shape_problems(world.client("drs"), "StartRecovery", starts[0].response)
    assert world.simulator.control.calls()["operations"]["StartRecovery"] == 1
    report = world.clean_up(thorough=True)
    assert (report.records_deleted, report.records_left, report.table_dropped) == (1, 0, True)
    assert len(report.instances_terminated) == 2
    assert set(world.instance_states(report.instances_terminated).values()) == {"terminated"}
    assert world.table not in world.tables()


def test_shape_check_names_what_disagrees_with_the_model(world):
    drs = world.client("drs")
    problems = shape_problems(drs, "DescribeJobs", {"items": [{"jobID": "not-a-job", "status": "WEIRD"}]})
    assert any("jobID" in p and "does not match" in p for p in problems)
    assert any("not in enum" in p for p in problems)
