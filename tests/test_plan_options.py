"""gauntlet.harness.plan (numbering, tags, flags) and gauntlet.harness.options (-D / GAUNTLET_*)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from gauntlet.harness.options import OptionError, Options
from gauntlet.harness.plan import (
    ALL_SERVICES,
    OPTIONAL_DOMAINS,
    PlanStep,
    enabled_domains,
    feature_files,
    flag_skip_reason,
    load_plan,
    window_skip_reason,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip())
    return path


@pytest.fixture
def features(tmp_path) -> Path:
    root = tmp_path / "features"
    write(root / "lab" / "020_nodes.feature", """
        @lab
        Feature: Lab nodes

          Scenario: Nodes answer
            Given the lab

          @needs.k8s @needs.ssh
          Scenario Outline: Node <n> is up
            Given node <n>

            @spark
            Examples: first
              | n |
              | 1 |
              | 2 |

            Examples: second
              | n |
              | 3 |

          Scenario: Last lab scenario
            Given the lab
        """)
    write(root / "lab" / "010_build.feature", """
        @lab
        Feature: Build the lab

          Scenario: The project builds
            Given the project

          @ebs
          Scenario: Volumes are EBS
            Given volumes
        """)
    write(root / "drs" / "recovery.feature", """
        @drs @cassandra
        Feature: DRS recovery

          @needs.drs
          Scenario: Recover a wave
            Given a plan
        """)
    write(root / "README.txt", "not a feature\n")
    return root


# --- load_plan ----------------------------------------------------------------------------------

def test_feature_files_are_sorted_by_path(features):
    files = feature_files([features])
    assert [f.relative_to(features).as_posix() for f in files] == [
        "drs/recovery.feature", "lab/010_build.feature", "lab/020_nodes.feature"]


def test_steps_are_numbered_across_files_in_path_order(features, tmp_path):
    plan = load_plan([features], root=tmp_path)
    assert [(s.number, s.name) for s in plan] == [
        (1, "Recover a wave"),
        (2, "The project builds"),
        (3, "Volumes are EBS"),
        (4, "Nodes answer"),
        (5, "Node 1 is up -- @1.1 first"),
        (6, "Node 2 is up -- @1.2 first"),
        (7, "Node 3 is up -- @2.1 second"),
        (8, "Last lab scenario"),
    ]


def test_locations_are_relative_to_root_with_line_numbers(features, tmp_path):
    plan = load_plan([features], root=tmp_path)
    assert plan[0].location == "features/drs/recovery.feature:5"
    assert plan[1].location == "features/lab/010_build.feature:4"
    assert plan[3].location == "features/lab/020_nodes.feature:4"
    # outline rows point at their example rows
    assert plan[4].location == "features/lab/020_nodes.feature:14"
    assert plan[5].location == "features/lab/020_nodes.feature:15"
    assert plan[6].location == "features/lab/020_nodes.feature:19"


def test_location_outside_root_is_the_path_as_given(features):
    other = features.parent / "elsewhere"
    other.mkdir()
    plan = load_plan([features / "drs" / "recovery.feature"], root=other)
    assert plan[0].location == f"{features / 'drs' / 'recovery.feature'}:5"


def test_feature_names_and_tags_including_feature_tags(features, tmp_path):
    plan = {s.number: s for s in load_plan([features], root=tmp_path)}
    assert plan[1].feature == "DRS recovery"
    #
    assert plan[1].tags[:2] == ["drs", "cassandra"]  # feature tags come first, in file order
    assert sorted(plan[1].tags) == ["cassandra", "drs", "needs.drs"]
    assert plan[2].tags == ["lab"]
    assert plan[3].tags == ["lab", "ebs"]
    assert plan[5].tags[0] == "lab"
    assert sorted(plan[5].tags) == ["lab", "needs.k8s", "needs.ssh", "spark"]
    assert sorted(plan[7].tags) == ["lab", "needs.k8s", "needs.ssh"]  # 2nd Examples: no @spark
    assert plan[8].tags == ["lab"]
    for step in plan.values():
        assert len(step.tags) == len(set(step.tags))


def test_domain_optional_domain_and_needs(features, tmp_path):
    plan = {s.number: s for s in load_plan([features], root=tmp_path)}
    assert (plan[1].domain, plan[1].optional_domain, plan[1].needs) == ("drs", "cassandra", ["drs"])
    assert (plan[3].domain, plan[3].optional_domain) == ("lab", "ebs")
    assert (plan[5].optional_domain, sorted(plan[5].needs)) == ("spark", ["k8s", "ssh"])
    assert (plan[7].optional_domain, sorted(plan[7].needs)) == (None, ["k8s", "ssh"])
    assert (plan[2].optional_domain, plan[2].needs) == (None, [])


def test_numbers_are_stable_whatever_is_enabled(features, tmp_path):
    plan = load_plan([features], root=tmp_path)
    skipped_without_flags = [s.number for s in plan if flag_skip_reason(s, set())]
    skipped_with_all = [s.number for s in plan if flag_skip_reason(s, enabled_domains(["all"]))]
    assert skipped_without_flags == [1, 3, 5, 6]
    assert skipped_with_all == [3]  # ebs is not part of --all
    assert [s.number for s in load_plan([features], root=tmp_path)] == list(range(1, 9))


def test_several_paths_are_concatenated_in_the_given_order(features, tmp_path):
    plan = load_plan([features / "lab", features / "drs"], root=tmp_path)
    assert [s.name for s in plan][:2] == ["The project builds", "Volumes are EBS"]
    assert plan[-1].name == "Recover a wave"
    assert plan[-1].number == 8


def test_scenarios_inside_rules_are_numbered(tmp_path):
    write(tmp_path / "r.feature", """
        @nomad
        Feature: With rules

          Scenario: Before
            Given a

          Rule: one rule
            Scenario: Inside the rule
              Given b
        """)
    plan = load_plan([tmp_path], root=tmp_path)
    assert [(s.number, s.name, s.domain) for s in plan] == [
        (1, "Before", "nomad"), (2, "Inside the rule", "nomad")]


_TAG_ORDER_SCRIPT = """
import json, sys
from pathlib import Path
from gauntlet.harness.plan import load_plan, flag_skip_reason
step = load_plan([Path(sys.argv[1])])[0]
print(json.dumps([step.tags, step.optional_domain, step.needs, flag_skip_reason(step, {"spark"})]))
"""


def test_tags_and_optional_domain_do_not_depend_on_hash_seed(tmp_path):
    import json
    import os
    import subprocess
    import sys

    write(tmp_path / "f" / "x.feature", """
        @lab
        Feature: F
          @needs.k8s @needs.ssh @spark @cassandra
          Scenario: S
            Given x
        """)
    repo = Path(__file__).resolve().parents[1]
    children = []
    for seed in ("0", "2"):  # two seeds that order the tag set differently
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(repo)}
        children.append(subprocess.Popen(
            [sys.executable, "-c", _TAG_ORDER_SCRIPT, str(tmp_path / "f")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        outputs.append(json.loads(out))
    tags = outputs[0][0]
    assert sorted(tags) == ["cassandra", "lab", "needs.k8s", "needs.ssh", "spark"]
    assert all(o == outputs[0] for o in outputs), outputs


def test_empty_directory_gives_empty_plan(tmp_path):
    assert load_plan([tmp_path]) == []


def test_plan_step_without_tags():
    step = PlanStep(1, "x", "f:1", "F")
    assert (step.domain, step.optional_domain, step.needs) == ("", None, [])


# --- flags --------------------------------------------------------------------------------------

def test_enabled_domains_individual_flags():
    assert enabled_domains([]) == set()
    assert enabled_domains(["spark", "ebs"]) == {"spark", "ebs"}
    assert enabled_domains(["build", "build"]) == {"build"}


def test_all_enables_the_four_services_only():
    assert enabled_domains(["all"]) == {"cassandra", "spark", "clickhouse", "opensearch"}
    assert set(ALL_SERVICES) == {"cassandra", "spark", "clickhouse", "opensearch"}
    assert enabled_domains(["all", "ebs"]) == set(ALL_SERVICES) | {"ebs"}


@pytest.mark.parametrize("flag", ["cassandr", "lab", "ALL", "", "--spark"])
def test_unknown_flag_is_a_value_error_listing_known_ones(flag):
    with pytest.raises(ValueError) as caught:
        enabled_domains([flag])
    message = str(caught.value)
    assert f"'{flag}'" in message
    for known in ["all", *OPTIONAL_DOMAINS]:
        assert known in message


@pytest.mark.parametrize("domain", sorted(ALL_SERVICES))
def test_flag_skip_reason_for_a_service_names_its_flag_and_all(domain):
    step = PlanStep(1, "s", "f:1", "F", ["lab", domain])
    reason = flag_skip_reason(step, set())
    assert reason == f"optional domain '{domain}' not enabled: pass --{domain} (or --all)"
    assert flag_skip_reason(step, {domain}) is None
    assert flag_skip_reason(step, enabled_domains(["all"])) is None


@pytest.mark.parametrize("domain", ["ebs", "build"])
def test_flag_skip_reason_for_ebs_and_build_does_not_offer_all(domain):
    step = PlanStep(1, "s", "f:1", "F", [domain])
    reason = flag_skip_reason(step, enabled_domains(["all"]))
    assert reason == f"optional domain '{domain}' not enabled: pass --{domain}"
    assert "--all" not in reason
    assert flag_skip_reason(step, {domain}) is None


def test_flag_skip_reason_none_for_mandatory_steps():
    assert flag_skip_reason(PlanStep(1, "s", "f:1", "F", ["lab", "needs.k8s"]), set()) is None


def test_window_skip_reason():
    def step(n):
        return PlanStep(n, "s", "f:1", "F")

    assert window_skip_reason(step(1)) is None
    assert window_skip_reason(step(4), start=5) == \
        "before --start-step 5 (state reused from the earlier run)"
    assert window_skip_reason(step(5), start=5) is None
    assert window_skip_reason(step(8), start=5, end=8) is None
    assert window_skip_reason(step(9), start=5, end=8) == "after --end-step 8"
    assert window_skip_reason(step(100), start=1, end=None) is None


# --- Options ------------------------------------------------------------------------------------

def test_defaults_with_nothing_set():
    options = Options.read({}, {})
    assert options == Options()
    assert (options.target, options.run_id, options.enabled, options.start_step,
            options.end_step, options.breaks, options.stop_on_failure, options.on_failure,
            options.managed) == ("offline", None, set(), 1, None, [], False, "teardown", False)


def test_read_from_userdata():
    options = Options.read({
        "target": "aws", "run_id": "20240101-abc", "enable": "spark, cassandra",
        "start_step": "3", "end_step": "9", "break": "5,7", "stop_on_failure": "true",
        "on_failure": "keep", "managed": "1",
    }, {})
    assert options == Options(target="aws", run_id="20240101-abc",
                              enabled={"spark", "cassandra"}, start_step=3, end_step=9,
                              breaks=[5, 7], stop_on_failure=True, on_failure="keep",
                              managed=True)


def test_read_from_environment():
    options = Options.read({}, {
        "GAUNTLET_TARGET": "aws-example", "GAUNTLET_ENABLE": "all", "GAUNTLET_START_STEP": "2",
        "GAUNTLET_BREAK": "4", "GAUNTLET_ON_FAILURE": "keep", "GAUNTLET_STOP_ON_FAILURE": "yes",
        "GAUNTLET_MANAGED": "on", "GAUNTLET_RUN_ID": "r1", "GAUNTLET_END_STEP": "6",
    })
    assert options.target == "aws-example"
    assert options.enabled == set(ALL_SERVICES)
    assert (options.start_step, options.end_step, options.breaks) == (2, 6, [4])
    assert (options.on_failure, options.stop_on_failure, options.managed) == ("keep", True, True)
    assert options.run_id == "r1"


def test_userdata_wins_over_environment():
    options = Options.read({"target": "aws", "start_step": "4", "enable": "ebs"},
                           {"GAUNTLET_TARGET": "other", "GAUNTLET_START_STEP": "2",
                            "GAUNTLET_ENABLE": "spark", "GAUNTLET_ON_FAILURE": "keep"})
    assert options.target == "aws"
    assert options.start_step == 4
    assert options.enabled == {"ebs"}
    assert options.on_failure == "keep"  # not in userdata: from the environment


def test_empty_values_mean_unset():
    options = Options.read({"target": "", "enable": ""}, {"GAUNTLET_END_STEP": ""})
    assert options.target == "offline"
    assert options.enabled == set()
    assert options.end_step is None


def test_environment_is_read_from_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("GAUNTLET_TARGET", "from-os-environ")
    assert Options.read({}).target == "from-os-environ"


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("on", True),
    ("0", False), ("false", False), ("no", False), ("maybe", False),
])
def test_boolean_spellings(value, expected):
    assert Options.read({"stop_on_failure": value}, {}).stop_on_failure is expected


def test_break_list_ignores_blanks_and_spaces():
    assert Options.read({"break": " 5 , ,15,"}, {}).breaks == [5, 15]


@pytest.mark.parametrize("name, value, fragment", [
    ("start_step", "abc", "start_step: expected a step number, got 'abc'"),
    ("start_step", "0", "start_step: step numbers start at 1, got 0"),
    ("start_step", "-2", "start_step: step numbers start at 1, got -2"),
    ("end_step", "1.5", "end_step: expected a step number, got '1.5'"),
    ("break", "5,x", "break: expected a step number, got 'x'"),
    ("break", "0", "break: step numbers start at 1, got 0"),
])
def test_bad_step_numbers_name_the_option(name, value, fragment):
    with pytest.raises(OptionError) as caught:
        Options.read({name: value}, {})
    assert str(caught.value) == fragment


def test_bad_step_number_from_environment():
    with pytest.raises(OptionError, match=r"^start_step: expected a step number, got 'x'$"):
        Options.read({}, {"GAUNTLET_START_STEP": "x"})


@pytest.mark.parametrize("value", ["destroy", "KEEP", "teardown "])
def test_bad_on_failure(value):
    with pytest.raises(OptionError) as caught:
        Options.read({"on_failure": value}, {})
    assert str(caught.value) == f"on_failure: expected one of teardown, keep, got {value!r}"


def test_unknown_domain_is_an_option_error():
    with pytest.raises(OptionError) as caught:
        Options.read({"enable": "spark,cassandr"}, {})
    assert isinstance(caught.value, ValueError)
    assert "cassandr" in str(caught.value)


def test_unknown_domain_error_names_the_option():
    with pytest.raises(OptionError) as caught:
        Options.read({"enable": "cassandr"}, {})
    assert "enable" in str(caught.value)
