"""``gauntlet soak``: switchover cycles, over and over, with soak controls, resume and faults.

    gauntlet soak --cycles 20 --tags @switchover --cooldown 0      # offline: the local etcd cluster
    gauntlet soak --run-hours 8 --max-failures 5 --target hubs --primary-context a --secondary-context b
    gauntlet soak --resume [RUN_DIR]                               # continue after any interruption

Offline (the default target) the run starts its own 3-node etcd cluster under its run dir and
stops it at the end, on SIGTERM/SIGINT too (exit 143/130 after recording). Exit status: 0 every
cycle passed, 1 a cycle failed (or the run could not start), 2 bad input (one line naming the
option, before anything starts), 130/143 interrupted. The last lines name the run dir, which
``gauntlet analyze RUN_DIR`` reads.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
from pathlib import Path
from typing import List, Optional

from gauntlet.soak import manifest
from gauntlet.soak.config import DEFAULT_REPORTS, INJECTIONS, ConfigError, RunConfig, check, check_target
from gauntlet.soak.ids import new_run_id
from gauntlet.soak.metrics import METRICS_FILE, iso
from gauntlet.soak.phases import PHASES, PhaseFailed
from gauntlet.soak.state import ResumeError, read_progress

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# Soak controls a --resume may change; everything else is the run's and stays as it was started.
RESUMABLE = ("cycles", "run_hours", "max_failures", "cooldown_seconds", "stop_on_failure",
             "phase_timeout", "monitor_interval")


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is a single line (and still exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind):
    def parse(value: str):
        try:
            return kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    return parse


def parser(prog: str = "gauntlet soak") -> argparse.ArgumentParser:
    cli = _OneLineParser(
        prog=prog,
        description="Run switchover cycles (preflight, primary preparation, activation, "
                    "post-activation verification, finalization), swapping primary and secondary "
                    "after each passed cycle. Offline: leadership moves between members of a local "
                    "3-node etcd cluster; with a Kubernetes target: the ACM hub switchover.",
        epilog="Exit status: 0 every cycle passed, 1 a cycle failed, 2 bad input, 130/143 "
               "interrupted (resume with --resume). Output: REPORTS/<run-id>/ (manifest.json, "
               "metrics.jsonl, cycles/<cycle-id>/, soak.log); analyse it with gauntlet analyze.")
    run = cli.add_argument_group("cycles and soak controls")
    run.add_argument("--cycles", type=_number(int), metavar="N", help="cycles to run (default 5)")
    run.add_argument("--tags", metavar="EXPR",
                     help="scenario set (default @switchover, the only one a soak runs; offline "
                          "that is the etcd switchover)")
    run.add_argument("--run-hours", type=_number(float), metavar="H",
                     help="stop starting cycles after H hours (cycles run before a resume count)")
    run.add_argument("--max-failures", type=_number(int), metavar="N", help="stop after N failed cycles")
    run.add_argument("--cooldown", dest="cooldown_seconds", type=_number(float), metavar="S",
                     help="seconds between cycles (default 30)")
    run.add_argument("--stop-on-failure", action="store_true", default=None,
                     help="stop after the first failed cycle (default: keep going)")
    run.add_argument("--resume", nargs="?", const="latest", metavar="RUN_DIR",
                     help="continue an interrupted run (default: the latest) from its last "
                          "recorded cycle; the cycle it was in runs again")
    run.add_argument("--phase-timeout", type=_number(float), metavar="S",
                     help="how long a phase waits for the cluster (default 30)")
    faults = cli.add_argument_group("failure injection")
    faults.add_argument("--inject-failure", choices=INJECTIONS, metavar="SCENARIO",
                        help=f"inject a fault into every cycle: {', '.join(INJECTIONS)}")
    faults.add_argument("--inject-at-phase", choices=PHASES, metavar="PHASE",
                        help="the phase it is injected at (default activation)")
    faults.add_argument("--delay", dest="delay_seconds", type=_number(float), metavar="S",
                        help="how long delay-activation / delay-restore hold things up (default 2)")
    faults.add_argument("--seed", type=_number(int), help="seed of --inject-failure random (default 0)")
    env = cli.add_argument_group("environment")
    env.add_argument("--target", metavar="NAME", help="targets/NAME.toml (default offline)")
    env.add_argument("--primary-context", metavar="NAME",
                     help="the first primary: an etcd member offline (default: the leader), a kube context otherwise")
    env.add_argument("--secondary-context", metavar="NAME", help="the first secondary")
    env.add_argument("--method", help="hub switchover method: passive (default) or full")
    env.add_argument("--old-hub-action", metavar="ACTION", help="what the old hub becomes: secondary (default), "
                                              "decommission or none")
    env.add_argument("--reports", dest="output_dir", metavar="DIR",
                     help=f"where run dirs go (default {DEFAULT_REPORTS})")
    env.add_argument("--monitor-interval", type=_number(float), metavar="S",
                     help="seconds between monitoring samples (default 1)")
    env.add_argument("--dry-run", action="store_true", default=None,
                     help="validate the orchestration without any cluster (CI)")
    env.add_argument("--teardown", metavar="RUN_DIR",
                     help="stop what a killed run left running (its local cluster), then exit")
    return cli


def _given(ns) -> dict:
    """The RunConfig fields given on the command line."""
    names = set(RunConfig.__dataclass_fields__)
    return {key: value for key, value in vars(ns).items() if key in names and value is not None}


def _run_dir(value: str, reports: Path) -> Path:
    """``latest``, a run id, or a path -> the run dir."""
    if value == "latest":
        latest = reports / "latest"
        return (reports / os.readlink(latest)) if latest.is_symlink() else latest
    path = Path(value)
    return path if path.is_dir() or os.sep in value else reports / value


class Plan:
    """A checked request: what to run, where, and whether it resumes."""

    def __init__(self, config: RunConfig, run_id: str, run_dir: Path, resumed: bool, target) -> None:
        self.config, self.run_id, self.run_dir, self.resumed, self.target = \
            config, run_id, run_dir, resumed, target


def prepare(ns) -> Plan:
    """Check every input; raise ConfigError (one line naming the option) before anything starts."""
    from gauntlet.targets import TargetError, load_target

    given = _given(ns)
    if ns.resume:
        reports = Path(given.get("output_dir") or DEFAULT_REPORTS)
        run_dir = _run_dir(ns.resume, reports)
        try:
            recorded = manifest.read(run_dir)
        except FileNotFoundError:
            raise ConfigError("--resume", f"{run_dir}: no manifest.json (not a soak run dir)") from None
        except ValueError as error:
            raise ConfigError("--resume", str(error)) from None
        config = RunConfig.from_dict(recorded["inputs"])
        for key, value in given.items():
            if key in RESUMABLE:
                setattr(config, key, value)
            elif key != "output_dir" and value != getattr(config, key):
                raise ConfigError(f"--{key.replace('_seconds', '').replace('_', '-')}",
                                  f"cannot change on --resume (the run has {getattr(config, key)!r})")
        run_id = recorded["run_id"]
        try:
            read_progress(run_dir / METRICS_FILE, run_id)
        except ResumeError as error:
            raise ConfigError("--resume", str(error)) from None
    else:
        config = RunConfig(**given)
        run_id = new_run_id()
        run_dir = config.reports_dir / run_id
    check(config)
    try:
        target = load_target(config.target)
    except TargetError as error:
        raise ConfigError("--target", str(error)) from None
    check_target(config, target.offline, bool(target.section("k8s").get("kubeconfig")))
    if not target.offline and not config.dry_run:
        k8s = target.section("k8s")
        config.primary_context = config.primary_context or k8s.get("primary_context")
        config.secondary_context = config.secondary_context or k8s.get("secondary_context")
        if not (config.primary_context and config.secondary_context):
            raise ConfigError("--primary-context", "a hub switchover needs --primary-context and "
                                                   "--secondary-context (or them in the target's [k8s])")
    return Plan(config, run_id, Path(run_dir), bool(ns.resume), target)


def main(argv: Optional[List[str]] = None, prog: str = "gauntlet soak") -> int:
    """Run the command; returns the exit status (see the module doc)."""
    try:
        ns = parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if ns.teardown:
        return teardown(Path(ns.teardown), prog)
    try:
        plan = prepare(ns)
        lock = lock_run(plan.run_dir) if plan.resumed else None
    except ConfigError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return execute(plan, list(sys.argv[1:] if argv is None else argv), prog)
    finally:
        if lock is not None:
            os.close(lock)


def lock_run(run_dir: Path) -> int:
    """Hold ``run.lock`` of the run dir while this process runs it: a second ``--resume`` of a run
    that is still running would count its cycles twice. The kernel drops the lock when the
    process dies, SIGKILL included."""
    fd = os.open(run_dir / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError("--resume", f"{run_dir} is being run by another process right now") from None
    return fd


def teardown(run_dir: Path, prog: str) -> int:
    from gauntlet.soak.substrate import reap

    if not run_dir.is_dir():
        print(f"{prog}: error: --teardown: {run_dir}: no such run dir", file=sys.stderr)
        return EXIT_BAD_INPUT
    pids = reap(run_dir)
    print(f"soak teardown: {len(pids)} process(es) of {run_dir} stopped")
    return EXIT_OK


def _start_records(plan: Plan, argv: List[str]) -> None:
    """A new run dir appears with its manifest in it (built aside, then renamed), so a run killed
    at any moment leaves either nothing or a run dir that ``--resume`` accepts."""
    now = iso(_wall())
    if plan.resumed:
        progress = read_progress(plan.run_dir / METRICS_FILE, plan.run_id)
        manifest.add_resume(plan.run_dir, {"at": now, "next_cycle": progress.next_cycle,
                                           "rerun": progress.interrupted, "argv": argv,
                                           "inputs": plan.config.to_dict()})
        return
    building = plan.run_dir.with_name(f".{plan.run_id}.starting")
    building.mkdir(parents=True)
    manifest.write(building, manifest.build(plan.run_id, now, plan.config.to_dict()))
    os.rename(building, plan.run_dir)
    latest = plan.run_dir.parent / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(plan.run_id)
    except OSError:
        pass  # "latest" is a convenience only


def _wall() -> float:
    from gauntlet.clock import real_clock

    return real_clock.wall()


def execute(plan: Plan, argv: List[str], prog: str = "gauntlet soak") -> int:
    """Start the backend, run the orchestrator, stop everything; print the summary."""
    from gauntlet.harness.journal import Journal
    from gauntlet.harness.ledger import Ledger
    from gauntlet.local.nodes.cluster import ClusterError
    from gauntlet.soak.orchestrator import Interrupted, Orchestrator
    from gauntlet.soak.substrate import start_cluster, stop_cluster

    _start_records(plan, argv)
    lock = None if plan.resumed else lock_run(plan.run_dir)
    journal = Journal(plan.run_dir / "journal.jsonl", plan.run_id)
    ledger = Ledger(journal)
    journal.write("soak_resumed" if plan.resumed else "soak_started", argv=argv, pid=os.getpid())
    config = plan.config
    print(f"[soak] {'resuming' if plan.resumed else 'starting'} {plan.run_id}: {config.cycles} cycles, "
          f"target {config.target}{' (dry run)' if config.dry_run else ''}; run dir {plan.run_dir}", flush=True)
    signalled: List[int] = []
    cleaning: List[bool] = []
    orchestrator: Optional[Orchestrator] = None

    def on_signal(signum, _frame):
        first = not signalled
        signalled.append(signum)
        if first and not cleaning:  # later signals, or any during clean-up, let it finish
            if orchestrator is not None:
                orchestrator.request_stop(f"signal {signum}")
            raise Interrupted(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    cluster, backend, error = None, None, None
    try:
        if config.dry_run:
            from gauntlet.soak.dry_run import DryRunSwitchover

            backend = DryRunSwitchover()
        elif plan.target.offline:
            from gauntlet.soak.etcd_switchover import EtcdSwitchover

            cluster = start_cluster(plan.run_dir, ledger)
            backend = EtcdSwitchover(cluster)
        else:
            from gauntlet.soak.hub_switchover import HubSwitchover

            backend = HubSwitchover(plan.target.section("k8s")["kubeconfig"], config.method,
                                    config.old_hub_action)
        orchestrator = Orchestrator(config, backend, plan.run_dir, plan.run_id)
        orchestrator.run()
    except Interrupted:
        pass
    except (ClusterError, PhaseFailed, ResumeError, OSError) as problem:
        error = f"{type(problem).__name__}: {problem}"
    finally:
        cleaning.append(True)
        try:
            if backend is not None:
                backend.close()
            stop_cluster(cluster)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    progress = read_progress(plan.run_dir / METRICS_FILE, plan.run_id)
    if lock is not None:
        os.close(lock)
    journal.write("soak_finished", passed=progress.passed, failed=progress.failed,
                  interrupted_by=signalled[0] if signalled else None, error=error)
    journal.close()
    if error:
        print(f"{prog}: {error.splitlines()[0]}", file=sys.stderr)
    print(f"soak: {progress.passed} passed, {progress.failed} failed", flush=True)
    print(f"run dir: {plan.run_dir}", flush=True)
    if signalled:
        print(f"interrupted: resume with {prog} --resume {plan.run_dir}", flush=True)
        return 128 + signalled[0]
    print(f"analyze: gauntlet analyze {plan.run_dir}", flush=True)
    return EXIT_FAILED if error or progress.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
