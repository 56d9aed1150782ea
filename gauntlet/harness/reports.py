"""Reports derived from the journal: step results, ``summary.json``, JUnit XML, Allure categories.

All of them are rebuilt from ``journal.jsonl`` at the end of every pass, so a retried or resumed
run reports each step's latest result, and a killed run can still be summarised.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List
from xml.etree import ElementTree as ET

from gauntlet.harness.journal import iter_events

ALLURE_CATEGORIES = [
    {"name": "Capability skips (configure the target)", "matchedStatuses": ["skipped"],
     "messageRegex": ".*needs .*"},
    {"name": "Not enabled or outside the step window", "matchedStatuses": ["skipped"]},
    {"name": "Product failures (an assertion about the system did not hold)",
     "matchedStatuses": ["failed"]},
    {"name": "Infrastructure errors (the environment or the suite broke)",
     "matchedStatuses": ["broken"]},
]


def step_results(journal_path: Path) -> Dict[int, dict]:
    """The latest ``step_finished`` event per step number."""
    results: Dict[int, dict] = {}
    for event in iter_events(journal_path, "step_finished"):
        results[event["step"]] = event
    return dict(sorted(results.items()))


def failed_steps(journal_path: Path) -> List[dict]:
    return [r for r in step_results(journal_path).values() if r["status"] in ("failed", "error")]


def summary(journal_path: Path) -> dict:
    results = list(step_results(journal_path).values())
    counts = Counter(r["status"] for r in results)
    skipped_by_reason = Counter(r.get("reason") or "no reason given" for r in results
                                if r["status"] == "skipped")
    return {
        "passed": counts.get("passed", 0),
        "failed": counts.get("failed", 0) + counts.get("error", 0),
        "skipped": counts.get("skipped", 0),
        "skipped_by_reason": dict(skipped_by_reason),
        "total": len(results),
        "duration": round(sum(r.get("duration") or 0 for r in results), 3),
        "failed_steps": [{"step": r["step"], "name": r["name"], "error": r.get("reason")}
                         for r in results if r["status"] in ("failed", "error")],
    }


def write_all(run_dir: Path) -> dict:
    """(Re)write summary.json, junit/results.xml and the Allure categories; return the summary."""
    journal = run_dir / "journal.jsonl"
    data = summary(journal)
    (run_dir / "summary.json").write_text(json.dumps(data, indent=2))
    write_junit(journal, run_dir / "junit" / "results.xml")
    allure_dir = run_dir / "allure-results"
    allure_dir.mkdir(parents=True, exist_ok=True)
    (allure_dir / "categories.json").write_text(json.dumps(ALLURE_CATEGORIES, indent=2))
    return data


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _xml_text(text: str) -> str:
    """XML 1.0 cannot carry control characters (ANSI colours in an error, say): drop them."""
    return _CONTROL.sub("", text)


def write_junit(journal_path: Path, path: Path) -> None:
    results = list(step_results(journal_path).values())
    suite = ET.Element("testsuite", name="gauntlet", tests=str(len(results)),
                       failures=str(sum(r["status"] == "failed" for r in results)),
                       errors=str(sum(r["status"] == "error" for r in results)),
                       skipped=str(sum(r["status"] == "skipped" for r in results)),
                       time=f"{sum(r.get('duration') or 0 for r in results):.3f}")
    for result in results:
        case = ET.SubElement(suite, "testcase", name=_xml_text(f"{result['step']:03d} {result['name']}"),
                             classname=result.get("location", "").rsplit(":", 1)[0],
                             time=f"{result.get('duration') or 0:.3f}")
        reason = _xml_text(result.get("reason") or "")
        if result["status"] == "skipped":
            ET.SubElement(case, "skipped", message=reason)
        elif result["status"] in ("failed", "error"):
            element = ET.SubElement(case, "failure" if result["status"] == "failed" else "error",
                                    message=reason.splitlines()[0] if reason else "")
            element.text = reason
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def summary_line(data: dict) -> str:
    return f"{data['passed']} passed, {data['failed']} failed, {data['skipped']} skipped"
