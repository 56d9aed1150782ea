"""gauntlet.targets: loading and checking target files, capability hints."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from gauntlet.targets import (
    CAPABILITY_HINTS,
    TARGETS_DIR,
    Target,
    TargetError,
    load_target,
    target_path,
)


def target_file(tmp_path: Path, text: str, name: str = "t.toml") -> str:
    path = tmp_path / name
    path.write_text(dedent(text).lstrip())
    return str(path)


def error_for(tmp_path: Path, text: str) -> str:
    path = target_file(tmp_path, text)
    with pytest.raises(TargetError) as caught:
        load_target(path)
    message = str(caught.value)
    assert "\n" not in message, "a target error is one line"
    assert message.startswith(f"{path}: "), "it names the file first"
    return message


# --- shipped targets ----------------------------------------------------------------------------

def test_offline_target_loads():
    target = load_target("offline")
    assert isinstance(target, Target)
    assert target.name == "offline"
    assert target.path == TARGETS_DIR / "offline.toml"
    assert target.offline is True
    assert target.region == "us-east-1"
    assert target.capabilities == ["aws", "lab", "drs", "local-nodes"]
    assert target.can("aws") and target.can("drs")
    assert not target.can("k8s")
    assert target.section("lab")["db_nodes"] == 3
    assert target.section("lab")["build_command"][0] == "python"
    assert target.section("nomad") == {}
    assert "offline" in target.description


def test_default_target_is_offline():
    assert load_target().name == "offline"


def test_aws_example_target_loads():
    target = load_target("aws-example")
    assert target.name == "aws-example"
    assert target.offline is False
    assert target.region == "us-west-2"
    assert target.capabilities == ["aws", "lab", "k8s", "ssh"]
    assert target.section("k8s")["kubeconfig"] == "~/.kube/gauntlet-lab"
    assert target.section("lab")["build_command"] == ["./gradlew", "shadowJar"]


def test_target_path_by_name_or_path():
    assert target_path("offline") == TARGETS_DIR / "offline.toml"
    assert target_path("x/y") == Path("x/y")
    assert target_path("elsewhere.toml") == Path("elsewhere.toml")


def test_load_by_path_takes_name_from_file_stem(tmp_path):
    path = target_file(tmp_path, """
        description = "mine"
        capabilities = ["k8s"]
        [k8s]
        kubeconfig = "/tmp/kc"
        """, name="my-cluster.toml")
    target = load_target(path)
    assert (target.name, target.description, target.capabilities) == ("my-cluster", "mine", ["k8s"])
    assert target.offline is False
    assert target.region == "us-east-1"  # default without an [aws] section


def test_minimal_target_with_no_capabilities(tmp_path):
    target = load_target(target_file(tmp_path, "capabilities = []\n"))
    assert target.capabilities == [] and target.description == ""


@pytest.mark.parametrize("nodes", [1, 20])
def test_db_nodes_bounds_are_inclusive(tmp_path, nodes):
    target = load_target(target_file(tmp_path, f"capabilities = []\n[lab]\ndb_nodes = {nodes}\n"))
    assert target.section("lab")["db_nodes"] == nodes


@pytest.mark.parametrize("endpoint", ["local", "http://127.0.0.1:4566", "https://aws.internal"])
def test_good_endpoints(tmp_path, endpoint):
    target = load_target(target_file(
        tmp_path, f'capabilities = ["aws"]\n[aws]\nendpoint = "{endpoint}"\n'))
    assert target.offline is (endpoint == "local")


# --- errors -------------------------------------------------------------------------------------

def test_missing_file_lists_known_targets():
    with pytest.raises(TargetError) as caught:
        load_target("no-such-target")
    message = str(caught.value)
    assert message.startswith("targets/no-such-target.toml: no such target file")
    known = sorted(p.stem for p in TARGETS_DIR.glob("*.toml"))
    assert "aws-example" in known and "offline" in known
    assert f"(known targets: {', '.join(known)})" in message


def test_missing_file_by_path(tmp_path):
    with pytest.raises(TargetError, match="no such target file"):
        load_target(str(tmp_path / "absent.toml"))


def test_invalid_toml(tmp_path):
    message = error_for(tmp_path, "capabilities = [\"aws\"\nx = = 1\n")
    assert "not valid TOML" in message
    assert "line" in message


def test_unknown_section(tmp_path):
    message = error_for(tmp_path, 'capabilities = []\n[kubernetes]\nkubeconfig = "x"\n')
    assert "field 'kubernetes'" in message
    assert "unknown section" in message
    assert "k8s" in message  # lists the known ones


def test_unknown_top_level_key(tmp_path):
    message = error_for(tmp_path, 'capabilities = []\nregion = "us-east-1"\n')
    assert "field 'region': unknown section" in message


def test_unknown_capability(tmp_path):
    message = error_for(tmp_path, 'capabilities = ["aws", "kubernetes"]\n[aws]\nregion = "x"\n')
    assert "field 'capabilities'" in message
    assert "unknown capability 'kubernetes'" in message
    assert "k8s" in message and "nomad" in message


@pytest.mark.parametrize("value", ['"aws"', "5", '["aws", 1]', "{ aws = true }"])
def test_capabilities_not_a_list_of_names(tmp_path, value):
    message = error_for(tmp_path, f"capabilities = {value}\n[aws]\nregion = \"x\"\n")
    assert "field 'capabilities': expected a list of names" in message


def test_capabilities_missing(tmp_path):
    message = error_for(tmp_path, 'description = "no capabilities"\n')
    assert "field 'capabilities': expected a list of names" in message


def test_aws_capability_without_aws_section(tmp_path):
    message = error_for(tmp_path, 'capabilities = ["aws"]\n')
    assert "field 'aws': the aws capability needs an [aws] section" in message


@pytest.mark.parametrize("endpoint, shown", [
    ('"localhost:4566"', "'localhost:4566'"),
    ('"ftp://x"', "'ftp://x'"),
    ("4566", "4566"),
])
def test_bad_aws_endpoint(tmp_path, endpoint, shown):
    message = error_for(tmp_path, f'capabilities = ["aws"]\n[aws]\nendpoint = {endpoint}\n')
    assert f"field 'aws.endpoint': expected \"local\" or an http(s) URL, got {shown}" in message


def test_bad_aws_region(tmp_path):
    message = error_for(tmp_path, 'capabilities = ["aws"]\n[aws]\nregion = 5\n')
    assert "field 'aws.region': expected a region name, got 5" in message


@pytest.mark.parametrize("value, shown", [
    ("0", "0"), ("21", "21"), ("-1", "-1"), ("true", "True"), ("false", "False"),
    ("3.0", "3.0"), ('"3"', "'3'"),
])
def test_db_nodes_out_of_range_or_wrong_type(tmp_path, value, shown):
    message = error_for(tmp_path, f"capabilities = []\n[lab]\ndb_nodes = {value}\n")
    assert f"field 'lab.db_nodes': expected an integer from 1 to 20, got {shown}" in message


@pytest.mark.parametrize("value", ['"make build"', '["make", 1]', "[[\"make\"]]", "true"])
def test_build_command_not_a_list_of_strings(tmp_path, value):
    message = error_for(tmp_path, f"capabilities = []\n[lab]\nbuild_command = {value}\n")
    assert "field 'lab.build_command': expected a list of strings (an argv)" in message


@pytest.mark.parametrize("text", ['capabilities = []\naws = "local"\n', "capabilities = []\nlab = 5\n"])
def test_section_that_is_not_a_table_is_a_target_error(tmp_path, text):
    path = target_file(tmp_path, text)
    with pytest.raises(TargetError):
        load_target(path)


# --- capability hints ---------------------------------------------------------------------------

@pytest.mark.parametrize("capability", sorted(CAPABILITY_HINTS))
def test_missing_hint_names_capability_and_what_to_configure(capability):
    target = load_target("offline")
    hint = target.missing_hint(capability)
    assert hint.startswith(f"needs {capability}: target 'offline' does not provide it")
    assert CAPABILITY_HINTS[capability] in hint
    assert "targets/<name>.toml" in hint
    assert "--target <name>" in hint and "behave -D target=<name>" in hint
    assert "\n" not in hint


def test_missing_hint_for_k8s_says_kubeconfig():
    hint = load_target("offline").missing_hint("k8s")
    assert "a [k8s] section with kubeconfig = PATH" in hint


def test_missing_hint_for_unknown_capability():
    hint = load_target("offline").missing_hint("teleport")
    assert "needs teleport" in hint
    assert "the 'teleport' capability" in hint


def test_every_capability_has_a_hint_naming_a_section_or_capability():
    for capability, hint in CAPABILITY_HINTS.items():
        assert hint and ("[" in hint or "capability" in hint), capability
