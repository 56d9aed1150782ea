"""Runner steps: drive bin/end-to-end-test on the fixture plan, with and without a terminal."""

from __future__ import annotations

import shlex

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    equal_to,
    greater_than,
    has_entries,
    is_not,
    starts_with,
)

from gauntlet.adapters.runner import RunnerCli


def runner(context) -> RunnerCli:
    if "runner" not in context:
        context.runner = RunnerCli(context.gauntlet.run.path("nested-runs", "x").parent
                                   / context.scenario.name.lower().replace(" ", "-"))
        context.add_cleanup(context.runner.clean_up)
    return context.runner


def run_dir(context):
    path = runner(context).latest_run()
    assert_that(path, is_not(None), "the runner created no run")
    return path


def results(context):
    return runner(context).results(run_dir(context))


@given('the runner ran the fixture plan without a terminal with "{args}"')
@when('the runner runs the fixture plan without a terminal with "{args}"')
@when("the runner runs the fixture plan without a terminal")
def step_run(context, args=""):
    context.result = runner(context).run(*shlex.split(args))
    context.first_pass = {n: e["ts"] for n, e in results(context).items()}


@when('the runner runs the fixture plan on a terminal with "{args}"')
@when("the runner runs the fixture plan on a terminal")
def step_spawn(context, args=""):
    context.child = runner(context).spawn(*shlex.split(args))


@when('the runner resumes that run with "{args}"')
def step_resume(context, args):
    context.endpoint_before = runner(context).events(run_dir(context), "resource")[0]["id"]
    context.result = runner(context).run("--run-id", run_dir(context).name, *shlex.split(args))


@when("the runner lists the fixture plan's steps with \"{args}\"")
@when("the runner lists the fixture plan's steps")
def step_list(context, args=""):
    context.result = runner(context).run("-l", *shlex.split(args))


@when("I press Enter")
@when("I answer \"{answer}\"")
def step_answer(context, answer=""):
    context.child.sendline(answer)


@when('I answer "s" to open a shell and run "{command}" there')
def step_shell(context, command):
    context.child.sendline("s")
    context.child.expect("gauntlet shell: rebuild")
    context.child.sendline(f"{command}; echo shell-command-exit=$?")


@when('I leave the shell and answer "{answer}"')
def step_leave_shell(context, answer):
    context.child.sendline("exit")
    context.child.expect("What next")
    context.child.sendline(answer)


@when('that run is torn down with "--teardown-only"')
def step_teardown_only(context):
    context.result = runner(context).teardown_only(run_dir(context).name)
    assert_that(context.result.exit_code, equal_to(0), context.result.output)


# -- outcomes -------------------------------------------------------------------------------

@then("step {failed:d} failed and steps {a:d}, {b:d} and {c:d} passed")
def step_failed_and_passed(context, failed, a, b, c):
    found = results(context)
    assert_that(found[failed]["status"], equal_to("failed"))
    for number in (a, b, c):
        assert_that(found[number]["status"], equal_to("passed"), f"step {number}")


def bundle(context, step):
    events = runner(context).events(run_dir(context), "diagnostics")
    return next(e["bundle"] for e in events if e["step"] == step)


@then("the diagnostics of step {step:d} have its exit code {code:d} and its output")
def step_bundle_exit(context, step, code):
    found = bundle(context, step)
    assert_that(found["exit_code"], equal_to(code))
    assert_that(found["output_tail"], contains_string("compiling"))
    assert_that(found["collected_in"], is_not(greater_than(5)))


@then("the diagnostics of step {step:d} have the disk usage and the aws commands to re-run")
def step_bundle_collectors(context, step):
    found = bundle(context, step)
    assert_that(found["collectors"]["disk usage (this machine)"],
                has_entries(status="ok", output=contains_string("Filesystem")))
    assert_that(found["commands"][1], starts_with("aws ec2 describe-instances"))


@then("the full failure log is printed at the end")
def step_failure_log_printed(context):
    context.child.expect("================ failure log ================")
    context.child.expect("=== step 2: A command fails")


@then("it asks before tearing down, with the environment still up")
def step_asks(context):
    context.child.expect("What next")
    assert_that(runner(context).endpoint_running(run_dir(context)), equal_to(True))


def child_exit(context) -> int:
    import pexpect

    context.child.expect(pexpect.EOF, timeout=60)
    context.child.close()
    return context.child.exitstatus


def assert_nothing_left(context):
    run = run_dir(context)
    teardown = runner(context).events(run, "teardown_finished")[-1]
    assert_that(teardown, has_entries(failed=[], leftovers=[]))
    assert_that(runner(context).endpoint_running(run), equal_to(False))


@then("the runner exits {code:d} and nothing of the run is left")
def step_exit_clean(context, code):
    exit_code = child_exit(context) if "child" in context else context.result.exit_code
    assert_that(exit_code, equal_to(code))
    assert_nothing_left(context)


@then("nothing of the run is left")
def step_nothing_left(context):
    assert_nothing_left(context)


@then("the runner exits 1 and the environment is still up")
def step_exit_kept(context):
    assert_that(child_exit(context), equal_to(1))
    assert_that(runner(context).endpoint_running(run_dir(context)), equal_to(True))


@then('step {step:d} was skipped with a reason naming "{flag}"')
def step_skipped_reason(context, step, flag):
    assert_that(results(context)[step], has_entries(status="skipped",
                                                    reason=contains_string(flag)))


@then('step {step:d} "{name}" would run')
def step_would_run(context, step, name):
    assert_that(context.result.output, contains_string(f"{step:>4}  spark      yes    {name}"))


@then("it pauses before step {step:d} with only steps 1 and 2 started")
def step_paused(context, step):
    context.child.expect(f"breakpoint before step {step}")
    started = {e["step"] for e in runner(context).events(run_dir(context), "step_started")}
    assert_that(started, equal_to({1, 2}))


@then("step {step:d} runs")
def step_runs(context, step):
    context.child.expect(rf"\[\s*{step}\] .* \.\.\. passed")


@then("steps 1 and 2 kept their earlier results and steps 3 and 6 ran in the resumed pass")
def step_resumed(context):
    found = results(context)
    for number in (1, 2):
        assert_that(found[number]["ts"], equal_to(context.first_pass[number]), f"step {number}")
    for number in (3, 6):
        assert_that(found[number]["status"], equal_to("passed"), f"step {number}")
        assert_that(number in context.first_pass, equal_to(False), f"step {number} ran before")


@then("the resumed pass used the environment of the first one")
def step_same_endpoint(context):
    endpoints = [e for e in runner(context).events(run_dir(context), "resource")
                 if e["kind"] == "process"]
    assert_that(len(endpoints), equal_to(1), "a second endpoint was started")
    assert_that(endpoints[0]["id"], equal_to(context.endpoint_before))


@then("it waits for confirmation before teardown, with the environment still up")
def step_waits(context):
    context.child.expect("press Enter to tear down")
    assert_that(runner(context).endpoint_running(run_dir(context)), equal_to(True))


@then("step 1 runs again in the same environment")
def step_rerun(context):
    context.child.expect(r"\[  1\] Create a bucket ... passed")
    context.child.expect("shell-command-exit=0")
    runs = [e["step"] for e in runner(context).events(run_dir(context), "step_finished")]
    assert_that(runs.count(1), equal_to(2))


@then("step 2 runs again")
def step_retry(context):
    context.child.expect(r"\[  2\] A command fails ... FAILED")
    context.child.expect("What next")


@then("all {count:d} steps are printed with their numbers and names")
def step_listed(context, count):
    lines = [line for line in context.result.output.splitlines() if line[:4].strip().isdigit()]
    assert_that([int(line[:4]) for line in lines], equal_to(list(range(1, count + 1))))
    assert_that(lines[0], contains_string("Create a bucket"))


@then("nothing was run")
def step_nothing_run(context):
    assert_that(runner(context).runs(), equal_to([]))
