"""Command line: ``bin/end-to-end-test`` (the lab runner) and ``gauntlet <command>``.

Bad input is one line on stderr and exit status 2, before anything is provisioned.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from gauntlet.harness.plan import OPTIONAL_DOMAINS
from gauntlet.targets import REPO_ROOT


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is a single line (and still exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _step_list(value: str) -> List[int]:
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected step numbers like 5,15, got {value!r}") from None
    if not numbers:
        raise argparse.ArgumentTypeError("expected at least one step number")
    return numbers


def _step(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a step number, got {value!r}") from None


def runner_parser(prog: str = "end-to-end-test") -> OneLineParser:
    parser = OneLineParser(
        prog=prog,
        description="Run the lab plan: every scenario is a numbered step. Provisions the target's "
                    "environment, runs every step (a failure never stops later steps), collects "
                    "diagnostics for each failure, then tears down per the teardown policy.",
        epilog="Exit status: 0 all steps passed (skips allowed), 1 a step failed, 2 bad input, "
               "130/143 interrupted. Reports: reports/<run-id>/ (journal.jsonl, summary.json, "
               "failures.log, junit/, allure-results/).")
    parser.add_argument("features", nargs="*", type=Path, default=[REPO_ROOT / "features" / "lab"],
                        help="feature files or folders (default: features/lab)")
    parser.add_argument("-l", "--list-steps", action="store_true",
                        help="print every step with its number, domain and whether it would run; "
                             "run nothing")
    domains = parser.add_argument_group("optional domains (flags are tags)")
    for domain in OPTIONAL_DOMAINS:
        domains.add_argument(f"--{domain}", dest="enable", action="append_const", const=domain,
                             help=f"enable the @{domain} steps")
    domains.add_argument("--all", dest="enable", action="append_const", const="all",
                         help="enable cassandra, spark, clickhouse and opensearch")
    flow = parser.add_argument_group("flow")
    flow.add_argument("--break", dest="breaks", type=_step_list, default=[], metavar="N[,M...]",
                      help="pause before these steps (needs a terminal)")
    flow.add_argument("--start-step", type=_step, default=1, metavar="N",
                      help="start at step N, reusing the state of the run named by --run-id "
                           "(default: the latest run)")
    flow.add_argument("--end-step", type=_step, metavar="N", help="stop after step N")
    flow.add_argument("--wait", action="store_true",
                      help="after the last step, wait for confirmation before teardown "
                           "(needs a terminal)")
    flow.add_argument("--stop-on-failure", action="store_true",
                      help="skip the remaining steps after the first failure")
    flow.add_argument("--on-failure", choices=("teardown", "keep"), default="teardown",
                      help="without a terminal, what to do with the environment after failures "
                           "(default: teardown; on a terminal a recovery menu asks)")
    env = parser.add_argument_group("environment")
    env.add_argument("--target", default="offline", metavar="NAME",
                     help="targets/NAME.toml (default: offline, everything on 127.0.0.1)")
    env.add_argument("--run-id", metavar="ID", help="an earlier run to resume or tear down")
    env.add_argument("--teardown-only", action="store_true",
                     help="remove everything the run --run-id created (also after it was killed)")
    return parser


def end_to_end_test_main(argv: Optional[List[str]] = None, prog: str = "end-to-end-test") -> int:
    from gauntlet.harness.runner import Runner, RunnerArgs

    ns = runner_parser(prog).parse_args(argv)
    args = RunnerArgs(
        features=ns.features, target=ns.target, enable=sorted(set(ns.enable or [])),
        breaks=sorted(set(ns.breaks)),
        start_step=ns.start_step, end_step=ns.end_step, wait=ns.wait,
        stop_on_failure=ns.stop_on_failure, on_failure=ns.on_failure,
        teardown_only=ns.teardown_only, run_id=ns.run_id, list_steps=ns.list_steps)
    return Runner(args).main()


def gauntlet_main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "run": "run the lab plan (same as bin/end-to-end-test)",
        "teardown": "remove what a run created: gauntlet teardown RUN_ID",
        "trace": "print every requirement item with its scenario and last result",
        "serve": "serve the lab status endpoint (GET /status) for a provisioned cluster",
        "analyze": "analyse a soak run: phase P50/P90/P95, compare runs, flag regressions",
        "workflow": "JSON workflow suites: validate FILE, list FILE, run FILE --suite NAME",
        "soak": "switchover soak cycles (gauntlet soak --cycles 20 --tags @switchover; --resume)",
    }
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: gauntlet COMMAND [ARGS]\n\ncommands:")
        for name, text in commands.items():
            print(f"  {name:<9} {text}")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return end_to_end_test_main(rest, prog="gauntlet run")
    if command == "teardown":
        if len(rest) != 1 or rest[0].startswith("-"):
            print("gauntlet teardown: error: expected exactly one RUN_ID", file=sys.stderr)
            return 2
        return end_to_end_test_main(["--teardown-only", "--run-id", rest[0]], prog="gauntlet teardown")
    if command == "trace":
        from gauntlet.trace.report import main as trace_main

        return trace_main(rest)
    if command == "serve":
        from gauntlet.sut.lab_status import main as serve_main

        return serve_main(rest)
    if command == "soak":
        from gauntlet.soak.cli import main as soak_main

        return soak_main(rest)
    if command == "workflow":
        from gauntlet.workflow.cli import main as workflow_main

        return workflow_main(rest)
    if command == "analyze":
        from gauntlet.analysis.cli import main as analyze_main

        return analyze_main(rest)
    print(f"gauntlet: error: unknown command {command!r} (commands: {', '.join(commands)})",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(gauntlet_main())
