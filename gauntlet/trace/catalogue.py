"""The requirement catalogue and the scenarios that mirror its items.

`catalogue.json` (beside this module) lists every requirement item of the five documents in
`../shared/requirements/` with its trace id. A scenario mirrors an item by carrying the tag
`@trace.<id>`; `scenario_index` finds those tags with Behave's own parser, so what it sees is
exactly what `behave` runs (Scenario Outline rows included, each with its outline's tags).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from behave.parser import parse_file

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
TRACE_TAG_PREFIX = "trace."

# Document number -> domain tag, in report order.
DOMAINS = {
    "000": "lab",
    "001": "failsafety",
    "002": "nomad",
    "003": "switchover",
    "004": "drs",
}


@dataclass(frozen=True)
class TraceItem:
    """One requirement item: a scenario, criterion or listed capability of a document."""

    id: str  # without the leading "trace.", e.g. "004.R1.AC1"
    doc: str  # "000".."004"
    domain: str  # lab | failsafety | nomad | switchover | drs
    section: str  # requirement / section / story title
    title: str  # short: scenario title or criterion summary
    text: str  # the full item text, one line


@dataclass(frozen=True)
class ScenarioRef:
    """A scenario as Behave runs it: its name, "path:line" and effective tags."""

    name: str
    location: str  # relative to the repo root (the features dir's parent), e.g. features/lab/x.feature:12
    tags: tuple[str, ...]

    @property
    def trace_ids(self) -> list[str]:
        """The catalogue ids this scenario claims to mirror."""
        return [tag[len(TRACE_TAG_PREFIX) :] for tag in self.tags if tag.startswith(TRACE_TAG_PREFIX)]


def load_catalogue(path: Path = CATALOGUE_PATH) -> list[TraceItem]:
    """Every requirement item, in document order. Raises ValueError on a malformed entry."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    items = []
    for entry in entries:
        try:
            items.append(TraceItem(**entry))
        except TypeError as error:
            raise ValueError(f"malformed catalogue entry {entry!r}: {error}") from None
    return items


def feature_scenarios(features_dir: Path, errors: list[str] | None = None) -> list[ScenarioRef]:
    """Every runnable scenario under features_dir (outline rows expanded), in file order.

    A file Behave cannot parse raises behave's ParserError, unless `errors` is given: then the
    file is skipped and a one-line message appended, so one broken file hides nothing else.
    """
    features_dir = Path(features_dir).resolve()
    root = features_dir.parent
    refs = []
    for path in sorted(features_dir.rglob("*.feature")):
        try:
            feature = parse_file(str(path))
        except Exception as error:  # behave raises ParserError, or UnicodeDecodeError
            if errors is None:
                raise
            errors.append(f"{path.relative_to(root).as_posix()}: {' '.join(str(error).split())}")
            continue
        if feature is None:  # an empty file
            continue
        relative = path.relative_to(root).as_posix()
        for scenario in feature.walk_scenarios():
            refs.append(
                ScenarioRef(
                    name=scenario.name,
                    location=f"{relative}:{scenario.line}",
                    tags=tuple(sorted(str(tag) for tag in scenario.effective_tags)),
                )
            )
    return refs


def scenario_index(features_dir: Path, errors: list[str] | None = None) -> dict[str, list[ScenarioRef]]:
    """Trace id -> the scenarios tagged `@trace.<id>`, for every trace tag found."""
    index: dict[str, list[ScenarioRef]] = {}
    for ref in feature_scenarios(features_dir, errors):
        for trace_id in ref.trace_ids:
            index.setdefault(trace_id, []).append(ref)
    return index


def unknown_trace_tags(
    features_dir: Path,
    catalogue: Iterable[TraceItem] | None = None,
    errors: list[str] | None = None,
) -> dict[str, list[ScenarioRef]]:
    """Lint: trace ids used by scenarios but absent from the catalogue (typos, stale ids)."""
    known = {item.id for item in (load_catalogue() if catalogue is None else catalogue)}
    index = scenario_index(features_dir, errors)
    return {trace_id: refs for trace_id, refs in index.items() if trace_id not in known}
