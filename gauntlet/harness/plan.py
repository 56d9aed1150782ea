"""The run plan: every scenario is one numbered step; flags are tags.

Numbers are fixed by plan order (feature files sorted by path, so lab features carry an order
prefix; scenarios in file order; outline rows expanded), never by flags: a step a flag leaves
out keeps its number and is reported as skipped with the flag that enables it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set

from behave.parser import parse_file

# Optional domains and the runner flag that enables each. --all enables the four services,
# as the requirement says; --ebs and --build change how the lab is provisioned.
OPTIONAL_DOMAINS: Dict[str, str] = {
    "cassandra": "--cassandra",
    "spark": "--spark",
    "clickhouse": "--clickhouse",
    "opensearch": "--opensearch",
    "ebs": "--ebs",
    "build": "--build",
}
ALL_SERVICES = ("cassandra", "spark", "clickhouse", "opensearch")
DOMAINS = ("lab", "failsafety", "nomad", "switchover", "drs")


@dataclass
class PlanStep:
    number: int
    name: str
    location: str  # "features/lab/010_build.feature:12"
    feature: str
    tags: List[str] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return next((t for t in self.tags if t in DOMAINS), "")

    @property
    def optional_domain(self) -> Optional[str]:
        return next((t for t in self.tags if t in OPTIONAL_DOMAINS), None)

    @property
    def needs(self) -> List[str]:
        return [t[len("needs."):] for t in self.tags if t.startswith("needs.")]


def feature_files(paths: Sequence[Path]) -> List[Path]:
    files: List[Path] = []
    for path in paths:
        path = Path(path)
        files.extend(sorted(path.rglob("*.feature")) if path.is_dir() else [path])
    return files


def load_plan(paths: Sequence[Path], root: Optional[Path] = None) -> List[PlanStep]:
    """Parse the feature files and number their scenarios in plan order."""
    steps: List[PlanStep] = []
    for path in feature_files(paths):
        feature = parse_file(str(path))
        if feature is None:
            continue
        shown = _relative(path, root)
        for scenario in feature.walk_scenarios():
            if getattr(scenario, "scenarios", None) is not None:  # an outline: its rows count
                continue
            tags = written_tags(feature, scenario)
            steps.append(PlanStep(len(steps) + 1, scenario.name, f"{shown}:{scenario.line}",
                                  feature.name, sorted(set(tags), key=tags.index)))
    return steps


def written_tags(feature, scenario) -> List[str]:
    """Feature, rule and scenario tags in the order they are written (behave's
    ``effective_tags`` is a set, whose order changes with the hash seed)."""
    sources = [feature.tags, getattr(getattr(scenario, "rule", None), "tags", []), scenario.tags]
    tags: List[str] = []
    for tag in (str(t) for source in sources for t in source or []):
        if tag not in tags:
            tags.append(tag)
    return tags


def _relative(path: Path, root: Optional[Path]) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def enabled_domains(flags: Iterable[str]) -> Set[str]:
    """Runner flags (``cassandra``, ``all`` ...) to the optional domains they enable."""
    enabled: Set[str] = set()
    for flag in flags:
        if flag == "all":
            enabled.update(ALL_SERVICES)
        elif flag in OPTIONAL_DOMAINS:
            enabled.add(flag)
        else:
            raise ValueError(f"unknown optional domain '{flag}' "
                             f"(known: all, {', '.join(OPTIONAL_DOMAINS)})")
    return enabled


def selected_in_tag_expression(expression) -> Set[str]:
    """Optional domains a person asked for by name in ``behave --tags`` (``@spark``, but not
    ``not @spark``): plain behave with ``--tags=@cassandra`` runs the Cassandra steps."""
    selected: Set[str] = set()

    def walk(node, negated: bool) -> None:
        if hasattr(node, "name") and not negated and node.name in OPTIONAL_DOMAINS:
            selected.add(node.name)
        if hasattr(node, "term"):
            walk(node.term, not negated)
        for term in getattr(node, "terms", []) or []:
            walk(term, negated)

    if expression is not None:
        walk(expression, False)
    return selected


def flag_skip_reason(step: PlanStep, enabled: Set[str]) -> Optional[str]:
    domain = step.optional_domain
    if domain and domain not in enabled:
        also = " (or --all)" if domain in ALL_SERVICES else ""
        return f"optional domain '{domain}' not enabled: pass {OPTIONAL_DOMAINS[domain]}{also}"
    return None


def window_skip_reason(step: PlanStep, start: int = 1, end: Optional[int] = None) -> Optional[str]:
    if step.number < start:
        return f"before --start-step {start} (state reused from the earlier run)"
    if end is not None and step.number > end:
        return f"after --end-step {end}"
    return None
