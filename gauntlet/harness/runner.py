"""The lab runner behind ``bin/end-to-end-test``: one run over one or more behave passes.

The runner owns the run: it starts the target, runs behave (a child process that records every
step in the journal), then applies the teardown policy: all passed -> tear down, exit 0;
failures -> print the failure log, then the recovery menu on a terminal or ``--on-failure``
without one, exit 1. SIGINT/SIGTERM -> tear down per policy, exit 130/143.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from gauntlet.harness import console, reports
from gauntlet.harness.plan import PlanStep, flag_skip_reason, load_plan, window_skip_reason
from gauntlet.harness.run import Run, RunNotFound
from gauntlet.harness.teardown import teardown
from gauntlet.local import supervisor
from gauntlet.targets import REPO_ROOT, Target, TargetError, load_target
from gauntlet.targets import activation

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad input: reported as one line, exit status 2, before anything is provisioned."""


@dataclass
class RunnerArgs:
    features: List[Path]
    target: str = "offline"
    enable: List[str] = field(default_factory=list)
    breaks: List[int] = field(default_factory=list)
    start_step: int = 1
    end_step: Optional[int] = None
    wait: bool = False
    stop_on_failure: bool = False
    on_failure: str = "teardown"
    teardown_only: bool = False
    run_id: Optional[str] = None
    list_steps: bool = False


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


def check(args: RunnerArgs, plan: List[PlanStep], terminal: bool) -> None:
    """Every check that can fail on input, before anything starts."""
    if not plan and not args.teardown_only:
        raise UsageError(f"no scenarios found in {', '.join(map(str, args.features))}")
    last = len(plan)
    for number in args.breaks:
        if not 1 <= number <= last:
            raise UsageError(f"--break {number}: no such step (steps are 1..{last}; see -l)")
    if not 1 <= args.start_step <= max(last, 1):
        raise UsageError(f"--start-step {args.start_step}: no such step (steps are 1..{last})")
    if args.end_step is not None and not args.start_step <= args.end_step <= last:
        raise UsageError(f"--end-step {args.end_step}: must be between --start-step "
                         f"{args.start_step} and {last}")
    if args.breaks and not terminal and not args.list_steps:
        raise UsageError("--break needs a terminal to pause at (standard input is not a TTY)")
    if args.wait and not terminal and not args.list_steps:
        raise UsageError("--wait needs a terminal to confirm teardown (standard input is not a TTY)")
    if args.teardown_only and not args.run_id:
        raise UsageError("--teardown-only needs --run-id ID (see reports/ for run ids)")


def list_steps(plan: List[PlanStep], args: RunnerArgs, target: Target) -> str:
    from gauntlet.harness.plan import enabled_domains

    enabled = enabled_domains(args.enable)
    lines = [f"{'step':>4}  {'domain':<10} {'runs?':<6} name"]
    for step in plan:
        reason = window_skip_reason(step, args.start_step, args.end_step) \
            or flag_skip_reason(step, enabled) \
            or next((target.missing_hint(n) for n in step.needs if not target.can(n)), None)
        domain = step.optional_domain or step.domain
        lines.append(f"{step.number:>4}  {domain:<10} {'no' if reason else 'yes':<6} {step.name}"
                     + (f"\n{'':18}({reason})" if reason else ""))
    return "\n".join(lines)


class Runner:
    def __init__(self, args: RunnerArgs) -> None:
        self.args = args
        self.child: Optional[subprocess.Popen] = None
        self.signum: Optional[int] = None
        self.nested = os.environ.get("GAUNTLET_PARENT_RUNNER") == "1"

    # -- entry ---------------------------------------------------------------------------
    def main(self) -> int:
        args = self.args
        terminal = console.interactive()
        try:
            target = load_target(args.target)
            plan = load_plan(args.features, REPO_ROOT)
            check(args, plan, terminal)
        except (TargetError, UsageError) as error:
            print(f"end-to-end-test: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        if args.list_steps:
            console.say(list_steps(plan, args, target))
            return EXIT_OK
        if args.teardown_only:
            return self.teardown_only(args.run_id)
        resuming = bool(args.run_id or args.start_step > 1)
        try:
            run = Run.open(args.run_id or "latest") if resuming else Run.create()
            if resuming:
                activation.attach(target, run)
        except (RunNotFound, RuntimeError) as error:
            print(f"end-to-end-test: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        return self.drive(run, target, terminal, start_target=not resuming)

    def teardown_only(self, run_id: str) -> int:
        try:
            run = Run.open(run_id)
        except RunNotFound as error:
            print(f"end-to-end-test: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        try:  # the run's own target, whatever --target says now
            target = load_target((run.state.get("target") or {}).get("name") or self.args.target)
        except TargetError as error:
            print(f"end-to-end-test: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        console.say(f"tearing down run {run.run_id} (target {target.name}) from its resource ledger")
        activation.prepare_teardown(target, run)
        report = teardown(run, progress=console.say)
        reports.write_all(run.dir)
        console.say(report.line())
        for failure in report.failed:
            console.say(f"  {failure}")
        return EXIT_OK if report.ok else EXIT_FAILED

    # -- the run -------------------------------------------------------------------------
    def drive(self, run: Run, target: Target, terminal: bool, start_target: bool) -> int:
        self._install_signal_handlers()
        args = self.args
        start = args.start_step
        try:
            if start_target:
                activation.activate(target, run)
            while True:
                behave_status = self.behave_pass(run, start, args.end_step)
                data = reports.write_all(run.dir)
                if self.signum:
                    raise Interrupted(self.signum)
                if self.nested:  # `rerun N` in the recovery shell: its own steps decide; the
                    return EXIT_FAILED if behave_status else EXIT_OK  # parent owns teardown
                if not data["failed"]:
                    console.say(f"\nall steps passed: {reports.summary_line(data)}")
                    if args.wait:
                        console.ask("--wait: every step ran; press Enter to tear down")
                    return self.finish(run, keep=False, code=EXIT_OK)
                self.print_failure_log(run, data)
                if not terminal:
                    return self.finish(run, keep=args.on_failure == "keep", code=EXIT_FAILED)
                choice = self.recovery_menu(run, target)
                if choice == "retry":
                    start = reports.failed_steps(run.journal.path)[0]["step"]
                    continue
                return self.finish(run, keep=choice == "keep", code=EXIT_FAILED)
        except supervisor.ServiceError as error:
            console.say(f"end-to-end-test: the target did not start: {error}")
            return self.finish(run, keep=False, code=EXIT_FAILED)
        except Interrupted as interrupt:
            console.say(f"\ninterrupted by {signal.Signals(interrupt.signum).name}")
            return self.finish(run, keep=args.on_failure == "keep", code=128 + interrupt.signum)

    def behave_pass(self, run: Run, start: int, end: Optional[int]) -> int:
        args = self.args
        env = dict(os.environ,
                   GAUNTLET_RUN_ID=run.run_id, GAUNTLET_MANAGED="1", GAUNTLET_TARGET=args.target,
                   GAUNTLET_ENABLE=",".join(args.enable), GAUNTLET_START_STEP=str(start),
                   GAUNTLET_END_STEP=str(end or ""),
                   GAUNTLET_BREAK=",".join(str(b) for b in args.breaks if b >= start),
                   GAUNTLET_STOP_ON_FAILURE="1" if args.stop_on_failure else "")
        argv = [sys.executable, "-m", "behave", "-f", "null", "--no-summary", "--no-snippets",
                *map(str, args.features)]
        self.child = subprocess.Popen(argv, cwd=REPO_ROOT, env=env)
        try:
            return self.child.wait()
        finally:
            self.child = None

    def print_failure_log(self, run: Run, data: dict) -> None:
        log = run.dir / "failures.log"
        console.say("\n================ failure log ================")
        console.say(log.read_text(encoding="utf-8").rstrip() if log.exists() else "(empty)")
        console.say("=============================================")
        console.say(reports.summary_line(data) + f"  (reports/{run.run_id}/)")

    def recovery_menu(self, run: Run, target: Target) -> str:
        while True:
            failed = reports.failed_steps(run.journal.path)
            if not failed:
                return "teardown"
            first = failed[0]
            answer = console.ask(
                f"\n{len(failed)} step(s) failed. What next?\n"
                f"  r) retry from the failed step ({first['step']}: {first['name']})\n"
                f"  s) open a shell in the environment (helpers: rebuild, rerun N)\n"
                f"  t) tear down the environment and exit\n"
                f"  e) exit and keep the environment").lower()[:1]
            if answer == "r":
                return "retry"
            if answer == "s":
                self.shell(run, target)
            elif answer == "t":
                return "teardown"
            elif answer == "e":
                return "keep"
            else:
                console.say("please answer r, s, t or e")

    def shell(self, run: Run, target: Target) -> int:
        """An interactive bash with the run's environment and working helpers."""
        runner = shlex.quote(str(REPO_ROOT / "bin" / "end-to-end-test"))
        common = f"--run-id {run.run_id} --target {shlex.quote(self.args.target)} " + " ".join(
            f"--{flag}" for flag in self.args.enable) + " " + " ".join(
            shlex.quote(str(path)) for path in self.args.features)
        build = " ".join(map(shlex.quote, target.section("lab").get("build_command", ["true"])))
        rc = (f"PS1='(gauntlet {run.run_id}) \\w\\$ '\n"
              f"rebuild() {{ (cd {shlex.quote(str(REPO_ROOT))} && {build}); }}\n"
              f"rerun() {{ [ -n \"$1\" ] || {{ echo 'usage: rerun N [M]' >&2; return 2; }}; "
              f"{runner} {common} --start-step \"$1\" --end-step \"${{2:-$1}}\"; }}\n"
              "echo 'gauntlet shell: rebuild (run the build), rerun N [M] (run steps N..M "
              "again), exit (back to the menu)'\n")
        rc_file = run.path("shell.rc")  # in the run's folder: nothing to leak in /tmp
        rc_file.write_text(rc)
        env = dict(os.environ, GAUNTLET_PARENT_RUNNER="1")
        return subprocess.call(["bash", "--rcfile", str(rc_file), "-i"], env=env, cwd=REPO_ROOT)

    def finish(self, run: Run, keep: bool, code: int) -> int:
        if keep:
            for service in supervisor.running_services():
                service.keep = True
            run.journal.write("environment_kept", exit_code=code)
            console.say(f"environment kept: resume with bin/end-to-end-test --run-id {run.run_id} "
                        f"--start-step N, or tear it down with bin/end-to-end-test --teardown-only "
                        f"--run-id {run.run_id}")
        else:
            report = teardown(run, progress=console.say)
            console.say(report.line())
            for failure in report.failed:
                console.say(f"  {failure}")
            if not report.ok and code == EXIT_OK:
                code = EXIT_FAILED  # a run that leaks is not a passing run
        data = reports.write_all(run.dir)
        run.journal.write("run_finished", exit_code=code, kept=keep)
        console.say(f"gauntlet: {reports.summary_line(data)}")
        return code

    # -- signals -------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame) -> None:
        self.signum = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)  # the child records and stops cleanly
            return
        raise Interrupted(signum)
