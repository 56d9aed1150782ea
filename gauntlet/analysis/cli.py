"""`gauntlet analyze RUN_DIR [--compare BASE_RUN_DIR] [--threshold PCT] [--plots DIR|--no-plots] [--json]`.

Exit status: 0 analysed (no regression), 1 --compare found a regression (so CI can gate on
it), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gauntlet.analysis.compare import GATES, compare
from gauntlet.analysis.metrics import RunDirError, load_run
from gauntlet.analysis.plots import NOT_INSTALLED, write_plots
from gauntlet.analysis.report import build_report, render_text

EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT = 0, 1, 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is a single line (and still exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _threshold(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage like 10, got {value!r}") from None
    if not number >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, got {value!r}")
    return number


def parser(prog: str = "gauntlet analyze") -> argparse.ArgumentParser:
    cli = _OneLineParser(
        prog=prog,
        description="Analyse a soak run: P50/P90/P95 of every phase, cycle success rate, alerts, and "
                    "plots; with --compare, the deltas against a baseline run and regression flags.",
        epilog="Exit status: 0 analysed, no regression; 1 --compare found a regression (a phase's gate "
               "percentile slower by more than --threshold, or a lower success rate), so CI can gate on "
               "it; 2 bad input (not a run directory, no metrics.jsonl, no records). A torn last line "
               "is skipped; a cycle recorded twice (resumed run) counts its last record.")
    cli.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the soak run directory to analyse")
    cli.add_argument("--compare", type=Path, metavar="BASE_RUN_DIR",
                     help="a baseline run: report RUN_DIR's deltas against it and flag regressions")
    cli.add_argument("--threshold", type=_threshold, default=10.0, metavar="PCT",
                     help="a phase regresses when slower than the baseline by more than PCT%% (default 10)")
    cli.add_argument("--gate", choices=GATES, default="p90",
                     help="the percentile the threshold applies to (default p90)")
    plots = cli.add_mutually_exclusive_group()
    plots.add_argument("--plots", type=Path, metavar="DIR",
                       help="write PNG plots into DIR (default: RUN_DIR/plots; needs matplotlib)")
    plots.add_argument("--no-plots", action="store_true", help="write no plots")
    cli.add_argument("--json", action="store_true", help="print the analysis as JSON instead of text")
    return cli


def _plots(run, ns) -> tuple[list[Path] | None, str | None]:
    """(files written, or a note saying why there are none)."""
    if ns.no_plots:
        return None, "plots skipped: --no-plots"
    out_dir = ns.plots or ns.run_dir / "plots"
    try:
        files = write_plots(run, out_dir)
    except OSError as error:
        return None, f"plots skipped: cannot write {out_dir}: {error}"
    return (files, None) if files is not None else (None, NOT_INSTALLED)


def main(argv: list[str] | None = None, prog: str = "gauntlet analyze") -> int:
    """Run the command; returns the exit status (see the module doc)."""
    try:
        ns = parser(prog).parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2): return it like any other status
        return int(exit_.code or 0)
    try:
        run = load_run(ns.run_dir)
        base = load_run(ns.compare) if ns.compare else None
    except RunDirError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    comparison = compare(base, run, threshold_pct=ns.threshold, gate=ns.gate) if base else None
    files, note = _plots(run, ns)
    report = build_report(run, comparison, files, note)
    if ns.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_text(report), end="")
    return EXIT_REGRESSION if comparison and comparison.has_regression else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
