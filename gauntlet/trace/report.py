"""`gauntlet trace`: for every requirement item, the scenarios that mirror it and their last result.

Results come from the run journals (`reports/<run-id>/journal.jsonl`, the source of truth of
every run): the newest run that ran a scenario decides its result. An item is then

- missing:  no scenario carries its trace tag;
- not run:  scenarios exist, none has a result yet;
- failed:   any of its scenarios failed (or errored);
- passed:   all of its scenarios passed;
- skipped:  none passed, the skipped ones with their reasons;
- partial:  some passed, others were skipped or not run (the reason lists those).

A skip never counts as a pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gauntlet.trace.catalogue import DOMAINS, ScenarioRef, TraceItem, load_catalogue, scenario_index

REPO_ROOT = Path(__file__).resolve().parents[2]
STATUSES = ("passed", "failed", "partial", "skipped", "not run", "missing")
FAILED = {"failed", "error", "undefined"}  # journal statuses that fail an item


@dataclass(frozen=True)
class Result:
    """The last recorded outcome of one scenario."""

    status: str  # passed | failed | skipped | error (as journaled)
    reason: str | None
    run_id: str
    finished_at: str  # the event's ts
    name: str = ""
    location: str = ""


@dataclass
class Row:
    """One line of the report: a catalogue item and what the suite knows about it."""

    trace_id: str
    title: str
    domain: str
    scenarios: list[ScenarioRef] = field(default_factory=list)
    status: str = "missing"
    reason: str | None = None


# -- Journals -----------------------------------------------------------------------------------


def _parse_ts(value) -> datetime | None:
    """ISO-8601 ("...Z" included) -> aware datetime; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)  # 3.11+ reads a trailing "Z"
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_journal(path: Path) -> list[dict]:
    """The journal's events; unreadable lines (a killed run's partial last line) are skipped."""
    events = []
    with open(path, encoding="utf-8", errors="replace") as journal:
        for line in journal:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def _run_started(path: Path, events: list[dict]) -> datetime:
    """When a run began: its first event's ts, else the journal file's mtime."""
    first = _parse_ts(events[0].get("ts")) if events else None
    return first or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def last_results(reports_dir: Path) -> dict[str, Result]:
    """Scenario -> its newest result over all runs (runs ordered by start, newest applied last).

    Each result is keyed by its location ("features/x.feature:12") and by its scenario name, so
    a report still finds it after an edit moved the scenario to another line.
    """
    reports_dir = Path(reports_dir)
    runs = []
    for path in reports_dir.glob("*/journal.jsonl"):
        events = read_journal(path)
        runs.append((_run_started(path, events), path.parent.name, events))
    results: dict[str, Result] = {}
    for _started, run_dir, events in sorted(runs, key=lambda run: (run[0], run[1])):
        for event in events:
            if event.get("event") != "step_finished" or not event.get("status"):
                continue
            result = Result(
                status=str(event["status"]),
                reason=event.get("reason"),
                run_id=str(event.get("run_id") or run_dir),
                finished_at=str(event.get("ts") or ""),
                name=str(event.get("name") or ""),
                location=str(event.get("location") or ""),
            )
            for key in (result.location, result.name):
                if key:
                    results[key] = result
    return results


def result_for(ref: ScenarioRef, results: dict[str, Result]) -> Result | None:
    """The scenario's last result: by location when the name agrees, else by name."""
    by_location = results.get(ref.location)
    if by_location and by_location.name in ("", ref.name):
        return by_location
    return results.get(ref.name)


# -- Aggregation --------------------------------------------------------------------------------


def item_status(refs: list[ScenarioRef], results: dict[str, Result]) -> tuple[str, str | None]:
    """(status, reason) of one item from the last results of its scenarios (see module doc)."""
    if not refs:
        return "missing", None
    outcomes = [(ref, result_for(ref, results)) for ref in refs]
    if all(result is None for _ref, result in outcomes):
        return "not run", None
    failed = [(ref, r) for ref, r in outcomes if r and r.status in FAILED]
    if failed:
        return "failed", _reasons(failed, len(refs))
    passed = [ref for ref, r in outcomes if r and r.status == "passed"]
    others = [(ref, r) for ref, r in outcomes if not (r and r.status == "passed")]
    if not others:
        return "passed", None
    if passed:
        return "partial", _reasons(others, len(refs))
    return "skipped", _reasons(others, len(refs))


def _reasons(outcomes: list[tuple[ScenarioRef, Result | None]], total: int) -> str:
    """One readable reason; scenario names are added when the item has several scenarios."""
    parts = []
    for ref, result in outcomes:
        reason = "not run" if result is None else (result.reason or result.status)
        part = f"{ref.name}: {reason}" if total > 1 else reason
        if part not in parts:
            parts.append(part)
    return "; ".join(parts)


def trace_rows(
    catalogue: Iterable[TraceItem], index: dict[str, list[ScenarioRef]], results: dict[str, Result]
) -> list[Row]:
    """One row per catalogue item, in catalogue order."""
    rows = []
    for item in catalogue:
        refs = index.get(item.id, [])
        status, reason = item_status(refs, results)
        rows.append(Row(item.id, item.title, item.domain, list(refs), status, reason))
    return rows


# -- Rendering ----------------------------------------------------------------------------------


def _select(rows: list[Row], domain: str | None, status: str | None) -> list[Row]:
    return [r for r in rows if (not domain or r.domain == domain) and (not status or r.status == status)]


def totals(rows: list[Row]) -> str:
    """E.g. "3 passed, 1 skipped, 18 missing" (statuses in report order, zeros left out)."""
    counts = [f"{sum(r.status == s for r in rows)} {s}" for s in STATUSES if any(r.status == s for r in rows)]
    return ", ".join(counts) or "0 items"


def _one_line(text: str, width: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3] + "..."


def render_text(rows: list[Row], domain: str | None = None, status: str | None = None) -> str:
    """A table per domain: status, trace id, scenarios (location, name) or the missing item's title,
    reasons; a totals line per domain and overall."""
    rows = _select(rows, domain, status)
    id_width = max((len(r.trace_id) for r in rows), default=8)
    lines = []
    for name in DOMAINS.values():
        group = [r for r in rows if r.domain == name]
        if not group:
            continue
        lines.append(f"== {name} ==")
        for row in group:
            where = [f"{ref.location}  {ref.name}" for ref in row.scenarios] or [f"({row.title})"]
            lines.append(f"  {row.status:<8} {row.trace_id:<{id_width}}  {where[0]}")
            lines.extend(f"  {'':<8} {'':<{id_width}}  {extra}" for extra in where[1:])
            if row.reason:
                lines.append(f"  {'':<8} {'':<{id_width}}  reason: {_one_line(row.reason)}")
        lines.append(f"{name}: {totals(group)}")
        lines.append("")
    lines.append(f"total: {totals(rows)}")
    return "\n".join(lines) + "\n"


def render_json(rows: list[Row]) -> str:
    """Rows and totals as JSON, for tools."""
    items = [
        {
            "trace_id": row.trace_id,
            "title": row.title,
            "domain": row.domain,
            "status": row.status,
            "reason": row.reason,
            "scenarios": [{"name": ref.name, "location": ref.location} for ref in row.scenarios],
        }
        for row in rows
    ]
    counts = {
        d: {s: sum(r.domain == d and r.status == s for r in rows) for s in STATUSES} for d in DOMAINS.values()
    }
    counts["total"] = {s: sum(r.status == s for r in rows) for s in STATUSES}
    return json.dumps({"items": items, "totals": counts}, indent=2, ensure_ascii=False) + "\n"


# -- Command ------------------------------------------------------------------------------------


def _status_arg(value: str) -> str:
    status = value.replace("-", " ").replace("_", " ").lower()
    if status not in STATUSES:
        raise argparse.ArgumentTypeError(f"choose from: {', '.join(STATUSES)}")
    return status


def main(argv: list[str] | None = None) -> int:
    """`gauntlet trace [--domain D] [--status S] [--json] [--features DIR] [--reports DIR]`."""
    parser = argparse.ArgumentParser(
        prog="gauntlet trace", description="Each requirement item, its scenarios and their last result."
    )
    parser.add_argument("--domain", choices=list(DOMAINS.values()))
    parser.add_argument("--status", type=_status_arg, help=f"one of: {', '.join(STATUSES)}")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--features", type=Path, default=REPO_ROOT / "features")
    parser.add_argument("--reports", type=Path, default=REPO_ROOT / "reports")
    args = parser.parse_args(argv)

    catalogue = load_catalogue()
    errors: list[str] = []
    index = scenario_index(args.features, errors) if args.features.is_dir() else {}
    results = last_results(args.reports) if args.reports.is_dir() else {}
    rows = trace_rows(catalogue, index, results)

    if args.json:
        sys.stdout.write(render_json(_select(rows, args.domain, args.status)))
    else:
        sys.stdout.write(render_text(rows, args.domain, args.status))
    known = {item.id for item in catalogue}
    for trace_id, refs in sorted(index.items()):
        if trace_id not in known:
            where = ", ".join(ref.location for ref in refs)
            print(f"warning: @trace.{trace_id} is not in the catalogue ({where})", file=sys.stderr)
    for error in errors:
        print(f"warning: cannot parse {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
