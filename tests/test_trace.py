"""Traceability: the catalogue matches the documents; the report tells each item's last result."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from behave.parser import ParserError

from gauntlet.trace import build_catalogue, report
from gauntlet.trace.catalogue import (
    CATALOGUE_PATH,
    DOMAINS,
    ScenarioRef,
    TraceItem,
    feature_scenarios,
    load_catalogue,
    scenario_index,
    unknown_trace_tags,
)
from gauntlet.trace.report import Result, item_status, last_results, render_json, render_text, trace_rows

FIXTURES = Path(__file__).parent / "fixtures" / "trace"
FEATURES = FIXTURES / "features"
REPORTS = FIXTURES / "reports"
REQUIREMENTS = Path(os.environ.get("GAUNTLET_REQUIREMENTS", build_catalogue.REQUIREMENTS_DIR))

needs_documents = pytest.mark.skipif(
    not REQUIREMENTS.is_dir(),
    reason=f"requirement documents not found at {REQUIREMENTS} (set GAUNTLET_REQUIREMENTS)",
)


def document(doc: str) -> str:
    return next(REQUIREMENTS.glob(f"{doc}_*.txt")).read_text(encoding="utf-8")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@pytest.fixture(scope="module")
def catalogue() -> list[TraceItem]:
    return load_catalogue()


def ids(catalogue, doc):
    return [item.id for item in catalogue if item.doc == doc]


# -- The catalogue --------------------------------------------------------------------------------


def test_ids_are_unique_and_well_formed(catalogue):
    forms = {
        "000": r"000\.[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+(-[a-z0-9]+)*",
        "001": r"001(\.[a-z0-9]+(-[a-z0-9]+)*)+",
        "002": r"002\.S([1-9]|1[01])\.AC[1-9]",
        "003": r"003(\.[a-z0-9]+(-[a-z0-9]+)*)+",
        "004": r"004\.R([1-9]|1[0-2])\.AC[1-5]",
    }
    all_ids = [item.id for item in catalogue]
    assert len(all_ids) == len(set(all_ids))
    for item in catalogue:
        assert re.fullmatch(forms[item.doc], item.id), item.id
        assert item.domain == DOMAINS[item.doc]
        for value in (item.section, item.title, item.text):
            assert value.strip() and "\n" not in value, item.id


def test_catalogue_is_in_document_order_and_canonical_form(catalogue):
    docs = [item.doc for item in catalogue]
    assert docs == sorted(docs)
    raw = CATALOGUE_PATH.read_text(encoding="utf-8")
    assert build_catalogue.dumps(json.loads(raw)) == raw


def test_drs_has_every_requirement_times_every_criterion(catalogue):
    expected = [f"004.R{r}.AC{c}" for r in range(1, 13) for c in range(1, 6)]
    assert ids(catalogue, "004") == expected


@needs_documents
def test_drs_texts_are_the_documents_criteria(catalogue):
    criteria = re.findall(r"^\d+\. (WHEN .+)$", document("004"), flags=re.MULTILINE)
    assert [item.text for item in catalogue if item.doc == "004"] == criteria


@needs_documents
def test_every_lab_scenario_of_the_document_is_an_item(catalogue):
    expected, requirement = [], None
    for line in document("000").splitlines():
        if line.startswith("### Requirement: "):
            requirement = line.removeprefix("### Requirement: ")
        elif line.startswith("#### Scenario: "):
            expected.append(f"000.{slug(requirement)}.{slug(line.removeprefix('#### Scenario: '))}")
    assert len(expected) == document("000").count("#### Scenario")
    assert ids(catalogue, "000") == expected


@needs_documents
def test_nomad_items_match_each_storys_criteria(catalogue):
    stories = re.split(r"^### Story (\d+):", document("002"), flags=re.MULTILINE)[1:]
    expected = []
    for number, body in zip(stories[::2], stories[1::2], strict=True):
        criteria = body.split("**Acceptance Criteria:**")[1].split("**Value:**")[0]
        bullets = [line for line in criteria.splitlines() if line.startswith("- ")]
        assert bullets, f"story {number} has no criteria"
        expected += [f"002.S{number}.AC{n}" for n in range(1, len(bullets) + 1)]
        assert sum(item.id.startswith(f"002.S{number}.") for item in catalogue) == len(bullets)
    assert ids(catalogue, "002") == expected


@needs_documents
def test_failsafety_lists_every_provider_step_type_check_and_example(catalogue):
    text = document("001")
    known = set(ids(catalogue, "001"))
    providers = re.findall(r"^\| \*\*(\w+)\*\* \|", text, flags=re.MULTILINE)
    step_types = re.findall(r"^#### \d+\. `(\w+)`", text, flags=re.MULTILINE)
    examples = re.findall(r"^### \d+\. (.+?) Test$", text, flags=re.MULTILINE)
    assert len(providers) == 6 and len(step_types) == 10 and len(examples) == 3
    for name in providers:
        assert f"001.power-control.{slug(name)}" in known
    for name in step_types:
        assert f"001.step-types.{slug(name)}" in known
    for name in examples:
        assert f"001.example-workflows.{slug(name)}" in known
    checks_section = text.split("## Built-in Validation Checks")[1].split("## Example Workflows")[0]
    checks = re.findall(r"^- `([^`]+)` - ", checks_section, flags=re.MULTILINE)
    assert sorted(item.title for item in catalogue if item.id.startswith("001.checks.")) == sorted(checks)
    for required in (
        "001.result-structure",
        "001.extending.custom-checks",
        "001.extending.custom-step-types",
        "001.workflow-format.requirements",
        "001.validation.retry",
        "001.validation.allow-failures",
    ):
        assert required in known


@needs_documents
def test_switchover_lists_soak_controls_injections_and_phases(catalogue):
    text = document("003")
    known = set(ids(catalogue, "003"))
    soak = text.split("### Soak Controls")[1].split("###")[0]
    for flag in re.findall(r"^- `--([a-z-]+)`", soak, flags=re.MULTILINE):
        assert f"003.soak-controls.{flag}" in known
    for scenario in re.findall(
        r"^- `([a-z-]+)`: ", text.split("**Failure Injection Scenarios:**")[1], re.MULTILINE
    ):
        assert f"003.failure-injection.{scenario}" in known
    for handler in re.findall(r"^- `run_(\w+)\(\)`", text, flags=re.MULTILINE):
        assert f"003.phases.{slug(handler)}" in known
    for required in (
        "003.failure-injection.inject-at-phase",
        "003.resilience.rollback-validation",
        "003.analyzer.percentiles",
        "003.analyzer.compare",
        "003.analyzer.optional-plotting",
        "003.run.manifest",
        "003.artifacts.per-cycle",
        "003.cycles.context-swapping",
        "003.run.dry-run",
        "003.metrics.jsonl",
    ):
        assert required in known


@needs_documents
def test_parsed_part_of_the_catalogue_is_up_to_date():
    assert build_catalogue.main(["--check", "--requirements", str(REQUIREMENTS)]) == 0


# -- The scenario index -------------------------------------------------------------------------


def test_index_finds_trace_tags_with_locations_relative_to_the_repo():
    index = scenario_index(FEATURES)
    [resilient] = index["000.end-to-end-test-runner.resilient-step-execution"]
    assert resilient.name == "Resilient step execution"
    assert resilient.location == "features/lab/010_runner.feature:5"
    assert "lab" in resilient.tags  # feature tags are inherited
    assert len(index["000.end-to-end-test-runner.clean-exit-on-success"]) == 2


def test_outline_rows_are_scenarios_with_the_outlines_tags():
    index = scenario_index(FEATURES)
    [row] = index["004.R1.AC1"]  # the row renders the parametrized tag @trace.004.R1.AC<ac>
    assert row.location == "features/drs/010_waves.feature:11"
    assert {"drs", "offline"} <= set(row.tags)
    assert [ref.location for ref in index["004.R1.AC3"]] == [
        "features/drs/010_waves.feature:20",
        "features/drs/010_waves.feature:21",
    ]
    assert not any("<" in trace_id for trace_id in index)


def test_unknown_trace_tags_are_reported(catalogue):
    unknown = unknown_trace_tags(FEATURES, catalogue)
    assert list(unknown) == ["004.R99.AC1"]
    assert unknown["004.R99.AC1"][0].name == "A stale trace id"


def test_a_broken_feature_file_is_reported_not_fatal(tmp_path):
    shutil.copytree(FEATURES, tmp_path / "features")
    (tmp_path / "features" / "broken.feature").write_text("Scenario: before any Feature\n  Given a\n")
    errors: list[str] = []
    refs = feature_scenarios(tmp_path / "features", errors)
    assert len(errors) == 1 and errors[0].startswith("features/broken.feature: ")
    assert "\n" not in errors[0]
    assert len(refs) == len(feature_scenarios(FEATURES))
    with pytest.raises(ParserError):
        feature_scenarios(tmp_path / "features")


# -- Journals and last results ------------------------------------------------------------------


def test_newest_run_wins_by_first_event_time_not_by_directory_name():
    results = last_results(REPORTS)
    resilient = results["features/lab/010_runner.feature:5"]
    assert (resilient.status, resilient.run_id) == ("passed", "20261121-0900-b")
    assert resilient.finished_at == "2026-11-21T09:00:02.000Z"
    assert results["Clean exit on success"].status == "skipped"
    assert results["List steps"].run_id == "20261121-1000-a"


def test_a_partial_last_line_is_ignored():
    lines = (REPORTS / "20261121-0900-b" / "journal.jsonl").read_text().splitlines()
    assert not lines[-1].endswith("}")  # the fixture's killed-run line
    assert len(report.read_journal(REPORTS / "20261121-0900-b" / "journal.jsonl")) == len(lines) - 1


def test_runs_without_timestamps_are_ordered_by_file_mtime(tmp_path):
    for run, status, mtime in (("old", "failed", 1_000_000), ("new", "passed", 2_000_000)):
        journal = tmp_path / run / "journal.jsonl"
        journal.parent.mkdir()
        event = {"event": "step_finished", "run_id": run, "name": "S", "location": "f:1", "status": status}
        journal.write_text(json.dumps(event) + "\n")
        os.utime(journal, (mtime, mtime))
    assert last_results(tmp_path)["f:1"].run_id == "new"


def test_a_result_is_found_by_name_when_the_scenario_moved():
    results = {
        "features/x.feature:9": Result("failed", "boom", "r1", "t", "Other", "features/x.feature:9"),
        "Moved": Result("passed", None, "r1", "t", "Moved", "features/x.feature:3"),
    }
    assert report.result_for(ScenarioRef("Moved", "features/x.feature:9", ()), results).status == "passed"


# -- Aggregation --------------------------------------------------------------------------------


def _ref(name):
    return ScenarioRef(name, f"features/x.feature:{len(name)}", ())


def _results(**outcomes):
    return {name: Result(status, reason, "run", "ts", name) for name, (status, reason) in outcomes.items()}


@pytest.mark.parametrize(
    "outcomes, refs, expected",
    [
        ({}, [], ("missing", None)),
        ({}, ["a"], ("not run", None)),
        ({"a": ("passed", None), "b": ("passed", None)}, ["a", "b"], ("passed", None)),
        (
            {"a": ("passed", None), "b": ("failed", "AssertionError: 2 != 3")},
            ["a", "b"],
            ("failed", "b: AssertionError: 2 != 3"),
        ),
        ({"a": ("error", "timeout")}, ["a"], ("failed", "timeout")),
        ({"a": ("skipped", "needs k8s")}, ["a"], ("skipped", "needs k8s")),
        (
            {"a": ("skipped", "needs k8s"), "bb": ("skipped", "needs nomad")},
            ["a", "bb"],
            ("skipped", "a: needs k8s; bb: needs nomad"),
        ),
        ({"a": ("passed", None), "bb": ("skipped", "needs aws")}, ["a", "bb"], ("partial", "bb: needs aws")),
        ({"a": ("passed", None)}, ["a", "bb"], ("partial", "bb: not run")),
    ],
)
def test_item_status(outcomes, refs, expected):
    assert item_status([_ref(name) for name in refs], _results(**outcomes)) == expected


def test_trace_rows_over_the_fixture_runs(catalogue):
    rows = {
        row.trace_id: row for row in trace_rows(catalogue, scenario_index(FEATURES), last_results(REPORTS))
    }
    assert len(rows) == len(catalogue)
    assert rows["000.end-to-end-test-runner.resilient-step-execution"].status == "passed"
    clean_exit = rows["000.end-to-end-test-runner.clean-exit-on-success"]
    assert clean_exit.status == "skipped"
    assert clean_exit.reason == (
        "Clean exit on success: needs aws: set an AWS profile in the target; Clean exit on success, offline: not run"
    )
    assert rows["000.step-listing.list-steps"].status == "passed"
    assert (rows["004.R1.AC1"].status, rows["004.R1.AC1"].reason) == (
        "failed",
        "ConnectionRefusedError: moto endpoint down",
    )
    assert rows["004.R1.AC2"].status == "passed"
    assert rows["004.R1.AC3"].status == "not run"
    assert rows["004.R2.AC1"].status == "missing"
    assert "004.R99.AC1" not in rows


# -- Rendering and the command ------------------------------------------------------------------


@pytest.fixture
def rows(catalogue):
    return trace_rows(catalogue, scenario_index(FEATURES), last_results(REPORTS))


def test_render_text_groups_by_domain_with_totals(rows, catalogue):
    text = render_text(rows)
    lab_total = sum(item.domain == "lab" for item in catalogue)
    assert f"lab: 2 passed, 1 skipped, {lab_total - 3} missing" in text
    assert "drs: 1 passed, 1 failed, 1 not run, 57 missing" in text
    assert text.index("== lab ==") < text.index("== failsafety ==") < text.index("== drs ==")
    assert "features/lab/010_runner.feature:13" in text  # every mirroring scenario is listed
    assert "reason: needs aws" not in text  # reasons are per item, named per scenario
    assert "reason: Clean exit on success: needs aws" in text
    assert text.rstrip().splitlines()[-1].startswith("total: 3 passed, 1 failed, 1 skipped, 1 not run, ")


def test_render_text_filters(rows):
    text = render_text(rows, domain="drs", status="failed")
    assert "== lab ==" not in text and "004.R1.AC1" in text and "004.R1.AC2" not in text
    assert "drs: 1 failed" in text and "total: 1 failed" in text


def test_render_json(rows):
    data = json.loads(render_json(rows))
    first = next(item for item in data["items"] if item["trace_id"] == "004.R1.AC3")
    assert first["status"] == "not run" and len(first["scenarios"]) == 2
    assert data["totals"]["lab"]["passed"] == 2 and data["totals"]["total"]["failed"] == 1


def test_main_prints_the_report_and_warns_about_unknown_tags(capsys):
    argv = ["--features", str(FEATURES), "--reports", str(REPORTS), "--domain", "lab", "--status", "not-run"]
    assert report.main(argv) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "total: 0 items"
    assert "@trace.004.R99.AC1 is not in the catalogue" in err
    assert report.main(["--features", str(FEATURES), "--reports", str(REPORTS), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == len(load_catalogue())


def test_main_tolerates_missing_directories(tmp_path, capsys):
    assert report.main(["--features", str(tmp_path / "none"), "--reports", str(tmp_path / "none")]) == 0
    assert "missing" in capsys.readouterr().out
