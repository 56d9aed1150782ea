"""Soak run analysis: percentile math, metrics parsing, run comparison, plots and `gauntlet analyze`."""

import json
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gauntlet.analysis import plots
from gauntlet.analysis.cli import main
from gauntlet.analysis.compare import compare
from gauntlet.analysis.metrics import PHASES, RunDirError, load_run, parse_lines, run_from_records
from gauntlet.analysis.percentiles import percentile, success_rate, summarize_phases

RUNS = Path(__file__).parent / "fixtures" / "soak_runs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- Reference percentile -----------------------------------------------------------------------


def sorted_index_percentile(values, p):
    """Independent reference: Hyndman & Fan type 7 from the 1-based rank r = 1 + (n - 1) * p / 100."""
    ordered = sorted(values)
    rank = 1 + (len(ordered) - 1) * p / 100
    below = int(rank)  # 1-based rank of the value at or below r
    if below >= len(ordered):
        return ordered[-1]
    return ordered[below - 1] + (rank - below) * (ordered[below] - ordered[below - 1])


try:
    import numpy
except ImportError:  # the suite does not require numpy: fall back to the sorted-index reference
    numpy = None


def reference_percentile(values, p):
    """numpy.percentile (default 'linear') when installed, else the sorted-index reference."""
    if numpy is not None:
        return float(numpy.percentile(values, p))
    return sorted_index_percentile(values, p)


KNOWN = [  # (values, p, expected), worked by hand
    ([15, 20, 35, 40, 50], 40, 29.0),
    ([15, 20, 35, 40, 50], 0, 15.0),
    ([15, 20, 35, 40, 50], 100, 50.0),
    ([1, 2, 3, 4], 50, 2.5),
    ([1, 2, 3, 4], 90, 3.7),
    ([4, 1, 3, 2], 95, 3.85),  # unsorted input
    ([7.5], 90, 7.5),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9.1),
]


@pytest.mark.parametrize("function", [percentile, sorted_index_percentile, reference_percentile])
@pytest.mark.parametrize("values, p, expected", KNOWN)
def test_percentile_known_values(function, values, p, expected):
    assert function(values, p) == pytest.approx(expected)


@pytest.mark.parametrize("values, p", [([], 50), ([1, 2], -1), ([1, 2], 100.5), ([1, 2], float("nan"))])
def test_percentile_refuses_no_values_and_p_out_of_range(values, p):
    with pytest.raises(ValueError):
        percentile(values, p)


DURATIONS = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=60)
ANY_FLOATS = st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60)
P = st.floats(min_value=0, max_value=100)


@given(DURATIONS, P)
def test_percentile_matches_the_reference(values, p):
    assert percentile(values, p) == pytest.approx(reference_percentile(values, p), rel=1e-9, abs=1e-9)


@given(ANY_FLOATS, P, P)
def test_percentile_is_monotone_in_p(values, p, q):
    low, high = sorted((p, q))
    assert percentile(values, low) <= percentile(values, high)


@given(ANY_FLOATS, P)
def test_percentile_lies_within_min_and_max(values, p):
    assert min(values) <= percentile(values, p) <= max(values)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=61).filter(lambda v: len(v) % 2))
def test_p50_of_an_odd_length_list_is_its_median(values):
    assert percentile(values, 50) == sorted(values)[len(values) // 2]


# -- Reading a run dir --------------------------------------------------------------------------


def test_baseline_run_is_read_with_its_manifest_alerts_and_samples():
    run = load_run(RUNS / "baseline")
    assert run.run_id == "soak-baseline"
    assert run.manifest["git_sha"] == "9945081"
    assert len(run.cycles) == 6 and len(run.phases) == 30
    assert run.phase_names() == list(PHASES)
    assert [a["severity"] for a in run.alerts] == ["warning"]
    assert run.samples == 6
    assert (run.skipped_lines, run.torn_tail, run.resumed_cycles, run.warnings) == ([], False, [], [])


def test_torn_last_line_is_skipped_and_a_resumed_cycle_counts_its_last_records():
    run = load_run(RUNS / "resumed_torn")
    assert run.torn_tail and run.skipped_lines == [25]
    assert run.resumed_cycles == [3]
    cycle3 = {r.phase: r.duration for r in run.phases if r.cycle == 3}
    assert cycle3 == {"preflight": 2.1, "primary_preparation": 29.0, "activation": 118.0,
                      "post_activation_verification": 44.0, "finalization": 9.8}  # not the crashed 99.0
    assert len(run.phases) == 3 * 5 + 4  # cycles 1-3 complete; cycle 4 lost its torn finalization
    assert [c.cycle for c in run.cycles] == [1, 2, 3]
    assert run.incomplete_cycles() == [4]


def test_last_record_wins_also_when_the_rerun_failed():
    records = [
        {"record": "phase", "cycle": 1, "phase": "activation", "status": "passed", "duration": 5.0},
        {"record": "cycle", "cycle": 1, "status": "passed", "duration": 5.0},
        {"record": "phase", "cycle": 1, "phase": "activation", "status": "failed", "duration": 9.0},
        {"record": "cycle", "cycle": 1, "status": "failed", "duration": 9.0},
    ]
    run = run_from_records(records)
    assert [(r.status, r.duration) for r in run.phases] == [("failed", 9.0)]
    assert success_rate(run).rate == 0.0 and run.resumed_cycles == [1]


def test_only_an_unterminated_unreadable_last_line_is_torn():
    lines = ['{"record": "sample"}\n', "not json\n", '{"record": "sample"}\n', '{"record": "pha']
    assert parse_lines(lines)[1:] == ([2, 4], True)
    assert parse_lines(lines[:3])[1:] == ([2], False)
    assert parse_lines(['{"record": "sample"}\n', '{"record": "pha\n'])[1:] == ([2], False)  # ends in a newline
    assert parse_lines(["[1, 2]\n", '{"no_record": 1}\n'])[1:] == ([1, 2], False)


@pytest.mark.parametrize("duration", ["12", None, True, float("nan")])
def test_a_phase_record_without_a_finite_duration_is_skipped_with_a_warning(duration):
    run = run_from_records([{"record": "phase", "cycle": 1, "phase": "activation", "status": "passed",
                             "duration": duration}])
    assert run.phases == [] and len(run.warnings) == 1


def _write_run(directory: Path, metrics: str, manifest: str | None = '{"run_id": "t"}') -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.jsonl").write_text(metrics)
    if manifest is not None:
        (directory / "manifest.json").write_text(manifest)
    return directory


@pytest.mark.parametrize("metrics, message", [
    ("", "no phase or cycle records"),
    ('{"record": "sample"}\n{"record": "alert", "severity": "warning"}\n', "no phase or cycle records"),
    ('{"record": "phase", "cycle": 1, "ph', "no phase or cycle records"),
])
def test_a_run_without_phase_or_cycle_records_is_refused(tmp_path, metrics, message):
    with pytest.raises(RunDirError, match=message):
        load_run(_write_run(tmp_path / "run", metrics))


def test_a_missing_directory_a_file_and_a_directory_without_metrics_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    for path, message in ((tmp_path / "nope", "no such directory"), (tmp_path / "file", "not a directory"),
                          (tmp_path / "empty", "no metrics.jsonl")):
        with pytest.raises(RunDirError, match=message):
            load_run(path)


def test_a_missing_manifest_is_only_a_warning(tmp_path):
    run = load_run(_write_run(tmp_path / "run-7", '{"record": "cycle", "run_id": "r7", "cycle": 1, '
                                                  '"status": "passed"}\n', manifest=None))
    assert run.warnings == ["no manifest.json"] and run.run_id == "r7"


# -- Summaries ----------------------------------------------------------------------------------


def test_phase_summary_and_success_rate():
    run = load_run(RUNS / "regressed")
    summary = summarize_phases(run)
    assert list(summary) == list(PHASES)
    pav = summary["post_activation_verification"]
    durations = [45.0, 47.0, 44.0, 52.0, 48.0]  # cycle 5 failed: counted apart, not in the statistics
    assert (pav.count, pav.failed, pav.min, pav.max) == (5, 1, 44.0, 52.0)
    assert pav.p50 == 47.0 and pav.p90 == pytest.approx(reference_percentile(durations, 90))
    assert pav.mean == pytest.approx(sum(durations) / 5)
    assert summary["finalization"].count == 5
    rate = success_rate(run)
    assert (rate.passed, rate.total, rate.failed) == (5, 6, 1) and rate.rate == pytest.approx(500 / 6)


# -- Comparison ---------------------------------------------------------------------------------


def test_a_real_regression_is_flagged():
    result = compare(load_run(RUNS / "baseline"), load_run(RUNS / "regressed"))
    flagged = [p.phase for p in result.phases if p.regression]
    assert flagged == ["activation"]
    activation = next(p for p in result.phases if p.phase == "activation")
    assert activation.deltas["p90"].pct == pytest.approx(50.0)
    assert activation.deltas["p90"].abs == pytest.approx(64.5)
    assert result.success_dropped and result.success_delta_pts == pytest.approx(-100 / 6)
    assert result.has_regression and len(result.regressions) == 2


def test_noise_under_the_threshold_is_not_flagged():
    result = compare(load_run(RUNS / "baseline"), load_run(RUNS / "noisy"))
    assert not result.has_regression and result.regressions == []
    assert all(p.deltas for p in result.phases)
    # the same noise crosses a threshold set below it
    strict = compare(load_run(RUNS / "baseline"), load_run(RUNS / "noisy"), threshold_pct=0.5)
    assert [p.phase for p in strict.phases if p.regression] == ["preflight"]


def _one_phase_run(*durations):
    return run_from_records([{"record": "phase", "cycle": n, "phase": "activation", "status": "passed",
                              "duration": d} for n, d in enumerate(durations, start=1)])


def test_the_threshold_means_more_than_and_the_gate_is_configurable():
    base = _one_phase_run(10.0, 10.0, 20.0)  # P50 10, P90 18
    for gate in ("p50", "p90"):
        assert not compare(base, _one_phase_run(11.0, 11.0, 22.0), gate=gate).has_regression  # exactly +10%
        assert compare(base, _one_phase_run(11.1, 11.1, 22.2), gate=gate).has_regression  # +11%
    typical_slower = _one_phase_run(11.1, 11.1, 19.8)  # P50 +11%, P90 +0.3%
    assert not compare(base, typical_slower).has_regression
    assert compare(base, typical_slower, gate="p50").has_regression
    with pytest.raises(ValueError):
        compare(base, base, gate="p99")


def test_a_zero_base_and_a_phase_missing_from_one_run():
    zero = compare(_one_phase_run(0.0), _one_phase_run(0.5))
    assert zero.phases[0].deltas["p90"].pct is None and zero.has_regression
    missing = compare(load_run(RUNS / "baseline"), _one_phase_run(100.0))
    notes = {p.phase: p.note for p in missing.phases}
    assert notes["activation"] is None and notes["preflight"] == "no passed preflight in the new run"


# -- Plots --------------------------------------------------------------------------------------


def test_plots_are_valid_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    files = plots.write_plots(load_run(RUNS / "regressed"), tmp_path / "plots")
    assert [f.name for f in files] == [plots.TIMELINE_PNG, plots.BOXPLOT_PNG]
    for path in files:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > len(PNG_SIGNATURE)


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make `import matplotlib...` fail as if it were not installed."""
    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_without_matplotlib_there_are_no_plots_and_the_report_says_why(no_matplotlib, tmp_path, capsys):
    assert plots.load_matplotlib() is None
    assert plots.write_plots(load_run(RUNS / "baseline"), tmp_path / "plots") is None
    assert main([str(RUNS / "baseline"), "--plots", str(tmp_path / "plots")]) == 0
    assert plots.NOT_INSTALLED in capsys.readouterr().out
    assert not (tmp_path / "plots").exists()


# -- gauntlet analyze ---------------------------------------------------------------------------


def test_cli_prints_the_report_and_exits_0(capsys):
    assert main([str(RUNS / "baseline"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "Soak run soak-baseline" in out
    assert "success rate 100.0%" in out and "Alerts: 1 (warning 1)" in out
    for phase in PHASES:
        assert phase in out
    assert "P90" in out and "plots skipped: --no-plots" in out


def test_cli_exits_1_on_a_regression_and_marks_it(capsys):
    assert main([str(RUNS / "regressed"), "--compare", str(RUNS / "baseline"), "--no-plots"]) == 1
    out = capsys.readouterr().out
    assert "<< REGRESSION" in out and "REGRESSIONS (2):" in out
    assert "activation: P90 129.00s -> 193.50s (+50.0%, threshold 10%)" in out


def test_cli_exits_0_on_noise_and_honours_the_threshold(capsys):
    args = [str(RUNS / "noisy"), "--compare", str(RUNS / "baseline"), "--no-plots"]
    assert main(args) == 0
    assert "No regressions" in capsys.readouterr().out
    assert main(args + ["--threshold", "0.5"]) == 1
    assert main([str(RUNS / "regressed"), "--compare", str(RUNS / "baseline"), "--no-plots",
                 "--threshold", "60"]) == 1  # the success rate still dropped


def test_cli_json_output(capsys, tmp_path):
    assert main([str(RUNS / "regressed"), "--compare", str(RUNS / "baseline"), "--no-plots", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["run"]["run_id"] == "soak-regressed"
    assert report["cycles"]["rate_pct"] == pytest.approx(500 / 6)
    assert [p["phase"] for p in report["phases"]] == list(PHASES)
    assert report["alerts"]["by_severity"] == {"critical": 1, "warning": 1}
    assert report["comparison"]["has_regression"] is True
    assert report["comparison"]["success_rate"]["dropped"] is True


def test_cli_writes_plots_into_run_dir_by_default(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_dir = shutil.copytree(RUNS / "resumed_torn", tmp_path / "run")
    assert main([str(run_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["plots"]["files"] == [str(run_dir / "plots" / plots.TIMELINE_PNG),
                                        str(run_dir / "plots" / plots.BOXPLOT_PNG)]
    assert report["data"] == {"skipped_lines": [25], "torn_tail": True, "resumed_cycles": [3], "warnings": []}


def test_cli_reports_an_unwritable_plots_dir_and_carries_on(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    blocker = tmp_path / "plots"
    blocker.write_text("a file where the plots directory should go")
    assert main([str(RUNS / "baseline"), "--plots", str(blocker)]) == 0
    assert f"plots skipped: cannot write {blocker}" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nope", "no such directory"),
    (lambda d: _write_run(d / "run", "", None) / "metrics.jsonl", "not a directory"),
    (lambda d: (d / "run").mkdir() or d / "run", "no metrics.jsonl"),
    (lambda d: _write_run(d / "run", '{"record": "phase", "cyc'), "no phase or cycle records"),
])
def test_cli_exits_2_with_one_line_for_a_bad_run_dir(tmp_path, capsys, make, message):
    bad = make(tmp_path)
    assert main([str(bad), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("gauntlet analyze: error:")
    assert main([str(RUNS / "baseline"), "--compare", str(bad), "--no-plots"]) == 2


BASELINE = str(RUNS / "baseline")


@pytest.mark.parametrize("argv", [[], [BASELINE, "--threshold", "-1"], [BASELINE, "--threshold", "ten"],
                                  [BASELINE, "--gate", "p99"], [BASELINE, "--plots", "x", "--no-plots"]])
def test_cli_exits_2_on_bad_arguments(capsys, argv):
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_help_documents_the_exit_statuses(capsys):
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 --compare found a regression" in out and "2 bad input" in out
