"""The analysis of a soak run as one JSON-ready dict (`build_report`), and as text (`render_text`).

Text is rendered from the same dict that `--json` prints, so both always say the same thing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gauntlet.analysis.compare import Comparison
from gauntlet.analysis.metrics import SoakRun
from gauntlet.analysis.percentiles import success_rate, summarize_phases

SUCCESS_TARGET_PCT = 95.0  # the requirement: >= 95% success rate over 20+ cycles
SUCCESS_TARGET_CYCLES = 20
STATS = ("min", "p50", "p90", "p95", "max", "mean")
LABELS = {"min": "min", "p50": "P50", "p90": "P90", "p95": "P95", "max": "max", "mean": "mean"}


def build_report(run: SoakRun, comparison: Comparison | None = None,
                 plots: list[Path] | None = None, plot_note: str | None = None) -> dict:
    """Everything the analysis found, as plain JSON types."""
    manifest = run.manifest
    severities = Counter(str(alert.get("severity") or "unknown") for alert in run.alerts)
    return {
        "run": {"run_id": run.run_id, "path": str(run.path) if run.path else None,
                "started": manifest.get("started"), "git_sha": manifest.get("git_sha"),
                "host": manifest.get("host"), "inputs": manifest.get("inputs")},
        "cycles": {**success_rate(run).to_dict(), "target_pct": SUCCESS_TARGET_PCT,
                   "incomplete": run.incomplete_cycles()},
        "phases": [stats.to_dict() for stats in summarize_phases(run).values()],
        "alerts": {"total": len(run.alerts), "by_severity": dict(severities.most_common())},
        "samples": run.samples,
        "data": {"skipped_lines": run.skipped_lines, "torn_tail": run.torn_tail,
                 "resumed_cycles": run.resumed_cycles, "warnings": run.warnings},
        "comparison": comparison.to_dict() if comparison else None,
        "plots": {"files": [str(path) for path in plots or []], "note": plot_note},
    }


# -- Text ---------------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _host(host) -> str:
    if isinstance(host, dict):
        return str(host.get("hostname") or host.get("name") or ", ".join(f"{k}={v}" for k, v in host.items()))
    return str(host)


def _header(report: dict) -> list[str]:
    run = report["run"]
    lines = [f"Soak run {run['run_id']}" + (f"  ({run['path']})" if run["path"] else "")]
    facts = []
    if run["started"]:
        facts.append(f"started {run['started']}")
    if run["git_sha"]:
        facts.append(f"git {run['git_sha']}")
    if run["host"]:
        facts.append(f"host {_host(run['host'])}")
    if facts:
        lines.append("  ".join(facts))
    return lines


def _cycles(report: dict) -> list[str]:
    cycles = report["cycles"]
    if not cycles["total"]:
        line = "Cycles: none finished"
    else:
        rate = cycles["rate_pct"]
        verdict = "meets" if rate >= cycles["target_pct"] else "BELOW"
        few = f"; the target asks {SUCCESS_TARGET_CYCLES}+ cycles" if cycles["total"] < SUCCESS_TARGET_CYCLES else ""
        line = (f"Cycles: {cycles['total']} ({cycles['passed']} passed, {cycles['failed']} failed)  "
                f"success rate {rate:.1f}% ({verdict} the {cycles['target_pct']:g}% target{few})")
    lines = [line]
    if cycles["incomplete"]:
        lines.append(f"  incomplete (run stopped inside): cycle {', '.join(map(str, cycles['incomplete']))}")
    return lines


def _data_notes(report: dict) -> list[str]:
    data = report["data"]
    lines = []
    if data["skipped_lines"]:
        numbers = ", ".join(map(str, data["skipped_lines"][:10])) + (" ..." if len(data["skipped_lines"]) > 10 else "")
        torn = " (the last one torn: writer killed mid-line)" if data["torn_tail"] else ""
        lines.append(f"  skipped {len(data['skipped_lines'])} unreadable line(s): {numbers}{torn}")
    if data["resumed_cycles"]:
        lines.append(f"  resumed: cycle {', '.join(map(str, data['resumed_cycles']))} recorded more than once; "
                     "the last record of each phase counts")
    lines.extend(f"  warning: {warning}" for warning in data["warnings"])
    return lines


def _phase_table(report: dict) -> list[str]:
    width = max([len("phase")] + [len(p["phase"]) for p in report["phases"]])
    head = f"{'phase':<{width}}  {'count':>5}  {'failed':>6}" + "".join(f"  {LABELS[s]:>8}" for s in STATS)
    lines = ["Phase durations (seconds, passed phases)", head, "-" * len(head)]
    for phase in report["phases"]:
        lines.append(f"{phase['phase']:<{width}}  {phase['count']:>5}  {phase['failed']:>6}"
                     + "".join(f"  {_seconds(phase[s]):>8}" for s in STATS))
    return lines


def _alerts(report: dict) -> list[str]:
    alerts = report["alerts"]
    if not alerts["total"]:
        return [f"Alerts: none  (monitoring samples: {report['samples']})"]
    by_severity = ", ".join(f"{name} {count}" for name, count in alerts["by_severity"].items())
    return [f"Alerts: {alerts['total']} ({by_severity})  (monitoring samples: {report['samples']})"]


def _signed(value: float, digits: int) -> str:
    """+1.25 / -0.40; a value that rounds to zero is +0.00, never -0.00."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else _signed(value, 1) + "%"


def _comparison(comparison: dict) -> list[str]:
    gate, threshold = comparison["gate"], comparison["threshold_pct"]
    lines = [f"Comparison: base {comparison['base_run_id']} -> new {comparison['new_run_id']}  "
             f"(regression: {gate.upper()} slower by more than {threshold:g}%)"]
    width = max([len("phase")] + [len(p["phase"]) for p in comparison["phases"]])
    head = f"{'phase':<{width}}  {'stat':<4}  {'base':>8}  {'new':>8}  {'delta':>8}  {'delta%':>8}"
    lines += [head, "-" * len(head)]
    for phase in comparison["phases"]:
        if not phase["deltas"]:
            lines.append(f"{phase['phase']:<{width}}  {phase['note']}")
            continue
        for index, (stat, delta) in enumerate(phase["deltas"].items()):
            name = phase["phase"] if index == 0 else ""
            mark = "  << REGRESSION" if stat == gate and phase["regression"] else ""
            lines.append(f"{name:<{width}}  {stat.upper():<4}  {delta['base']:>8.2f}  {delta['new']:>8.2f}  "
                         f"{_signed(delta['delta'], 2):>8}  {_pct(delta['delta_pct']):>8}{mark}")
    success = comparison["success_rate"]
    base_rate, new_rate = success["base"]["rate_pct"], success["new"]["rate_pct"]
    if base_rate is not None and new_rate is not None:
        mark = "  << REGRESSION" if success["dropped"] else ""
        delta = _signed(success["delta_pts"], 1)
        lines.append(f"success rate: {base_rate:.1f}% -> {new_rate:.1f}% ({delta} pts){mark}")
    lines.append("")
    if comparison["regressions"]:
        lines.append(f"REGRESSIONS ({len(comparison['regressions'])}):")
        lines += [f"  - {line}" for line in comparison["regressions"]]
    else:
        lines.append(f"No regressions ({gate.upper()} within {threshold:g}%, success rate not lower).")
    return lines


def render_text(report: dict) -> str:
    """The report for people: header, cycles, phase table, alerts, comparison, plots."""
    lines = _header(report) + [""] + _cycles(report) + _data_notes(report) + [""]
    lines += _phase_table(report) + [""] + _alerts(report)
    if report["comparison"]:
        lines += [""] + _comparison(report["comparison"])
    plots = report["plots"]
    if plots["files"]:
        lines += ["", "Plots: " + ", ".join(plots["files"])]
    elif plots["note"]:
        lines += ["", plots["note"]]
    return "\n".join(lines) + "\n"
