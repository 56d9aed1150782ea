"""Targets: what a run can reach, read from ``targets/<name>.toml``.

A target declares capabilities (aws, lab, k8s, ssh, drs, nomad, grafana, ...). Scenarios declare
needs with ``@needs.<capability>`` tags; an unmet need is a skip whose reason names what to
configure. ``offline`` (the default) serves AWS from a local endpoint; any other target names a
real account, cluster or service.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS_DIR = REPO_ROOT / "targets"

# What each capability needs in a target file: the hint printed when a scenario is skipped.
CAPABILITY_HINTS: Dict[str, str] = {
    "aws": "an [aws] section (profile and region, or endpoint = \"local\")",
    "lab": "a [lab] section and the aws capability",
    "drs": "the aws capability and DRS-enabled source servers (offline: the DRS simulator)",
    "real-drs": "a real AWS account with 6 DRS source servers in CONTINUOUS replication "
                "([drs] source_servers = [...]) in a target other than offline",
    "local-nodes": "the local-nodes capability: Debian etcd-server and openssh-server on this "
                   "machine (make setup installs them) for the 3-node cluster on 127.0.0.11-13",
    "k8s": "a [k8s] section with kubeconfig = PATH (a reachable K3s/Kubernetes API)",
    "ssh": "an [ssh] section with user and key_file for the lab hosts",
    "nomad": "a [nomad] section with address = URL (and the nomad binary on PATH)",
    "grafana": "a [grafana] section with url = URL",
    "victoria-logs": "a [victoria_logs] section with url = URL",
    "cassandra": "a [cassandra] section with contact points",
    "spark": "a [spark] section (an EMR cluster id)",
    "clickhouse": "a [clickhouse] section with url = URL",
    "opensearch": "an [opensearch] section with endpoint = URL",
}

_SECTIONS = {"description", "capabilities", "aws", "lab", "k8s", "ssh", "drs", "nomad", "grafana",
             "victoria_logs", "cassandra", "spark", "clickhouse", "opensearch"}


class TargetError(ValueError):
    """A target file is missing or malformed. The message is one line: file, field, problem."""


@dataclass
class Target:
    name: str
    path: Path
    description: str
    capabilities: List[str]
    config: Dict[str, Any] = field(default_factory=dict)

    @property
    def offline(self) -> bool:
        return self.section("aws").get("endpoint") == "local"

    @property
    def region(self) -> str:
        return self.section("aws").get("region", "us-east-1")

    def section(self, name: str) -> Dict[str, Any]:
        return self.config.get(name) or {}

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def missing_hint(self, capability: str) -> str:
        """Why a need is unmet and what to configure, in one sentence."""
        what = CAPABILITY_HINTS.get(capability, f"the '{capability}' capability")
        return (f"needs {capability}: target '{self.name}' does not provide it; configure {what} "
                f"in targets/<name>.toml and run with --target <name> (or behave -D target=<name>)")


def target_path(name: str) -> Path:
    candidate = Path(name)
    if candidate.suffix == ".toml" or "/" in name:
        return candidate
    return TARGETS_DIR / f"{name}.toml"


def load_target(name: str = "offline") -> Target:
    """Read and check a target file; raises :class:`TargetError` before anything starts."""
    path = target_path(name)
    try:
        shown = path.relative_to(REPO_ROOT)
    except ValueError:
        shown = path
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TARGETS_DIR.glob("*.toml")))
        raise TargetError(f"{shown}: no such target file (known targets: {known})")
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"{shown}: not valid TOML: {error}") from None
    _check(shown, config)
    return Target(path.stem, path, config.get("description", ""), list(config["capabilities"]),
                  config)


def _check(shown: Path, config: Dict[str, Any]) -> None:
    def fail(field_name: str, problem: str) -> None:
        raise TargetError(f"{shown}: field '{field_name}': {problem}")

    for key, value in config.items():
        if key not in _SECTIONS:
            fail(key, f"unknown section (expected one of: {', '.join(sorted(_SECTIONS))})")
        if key not in ("description", "capabilities") and not isinstance(value, dict):
            fail(key, f"expected a [{key}] table, got {value!r}")
    capabilities = config.get("capabilities")
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        fail("capabilities", "expected a list of names, e.g. [\"aws\", \"lab\"]")
    for capability in capabilities:
        if capability not in CAPABILITY_HINTS:
            fail("capabilities", f"unknown capability '{capability}' "
                                 f"(known: {', '.join(sorted(CAPABILITY_HINTS))})")
    aws = config.get("aws", {})
    if "aws" in capabilities and not aws:
        fail("aws", "the aws capability needs an [aws] section")
    endpoint: Optional[str] = aws.get("endpoint")
    if endpoint is not None and endpoint != "local" \
            and not str(endpoint).startswith(("http://", "https://")):
        fail("aws.endpoint", f"expected \"local\" or an http(s) URL, got {endpoint!r}")
    if "region" in aws and not isinstance(aws["region"], str):
        fail("aws.region", f"expected a region name, got {aws['region']!r}")
    lab = config.get("lab", {})
    nodes = lab.get("db_nodes", 3)
    if not isinstance(nodes, int) or isinstance(nodes, bool) or not 1 <= nodes <= 20:
        fail("lab.db_nodes", f"expected an integer from 1 to 20, got {nodes!r}")
    build = lab.get("build_command", [])
    if not isinstance(build, list) or not all(isinstance(part, str) for part in build):
        fail("lab.build_command", "expected a list of strings (an argv)")
