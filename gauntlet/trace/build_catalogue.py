"""Regenerate the mechanical part of catalogue.json from the requirement documents.

Documents 000 (scenarios), 002 (story acceptance criteria) and 004 (numbered acceptance
criteria) have a regular shape, so their items are parsed. Documents 001 and 003 list their
capabilities in prose and tables: their items are curated by hand in catalogue.json and kept
as they are. catalogue.json stays the source of truth; this script only keeps it honest.

    python -m gauntlet.trace.build_catalogue [--requirements DIR] [--check]

`--check` writes nothing and exits 1 when the parsed items differ from the file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from gauntlet.trace.catalogue import CATALOGUE_PATH, DOMAINS

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS_DIR = REPO_ROOT.parent / "shared" / "requirements"
CURATED_DOCS = ("001", "003")


def slugify(text: str) -> str:
    """Lowercase, every run of non-alphanumerics -> '-', no leading/trailing '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def document_text(requirements_dir: Path, doc: str) -> str:
    """The text of document `doc` ("000".."004"), found by its number prefix."""
    matches = sorted(Path(requirements_dir).glob(f"{doc}_*.txt"))
    if not matches:
        raise FileNotFoundError(f"no {doc}_*.txt in {requirements_dir}")
    return matches[0].read_text(encoding="utf-8")


def _item(doc: str, trace_id: str, section: str, title: str, text: str) -> dict:
    return {
        "id": trace_id,
        "doc": doc,
        "domain": DOMAINS[doc],
        "section": section,
        "title": title,
        "text": text,
    }


def lab_items(text: str) -> list[dict]:
    """000: one item per `#### Scenario`, id 000.<requirement-slug>.<scenario-slug>."""
    items, requirement, scenario, lines = [], None, None, []

    def flush():
        if scenario:
            body = " ".join(lines)
            trace_id = f"000.{slugify(requirement)}.{slugify(scenario)}"
            items.append(_item("000", trace_id, requirement, scenario, body))

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("### Requirement:"):
            flush()
            requirement, scenario, lines = line.split(":", 1)[1].strip(), None, []
        elif line.startswith("#### Scenario:"):
            flush()
            scenario, lines = line.split(":", 1)[1].strip(), []
        elif scenario and line.startswith("- "):
            lines.append(line[2:].replace("**", "").strip())
    flush()
    return items


def nomad_items(text: str) -> list[dict]:
    """002: one item per acceptance-criterion bullet of each story, id 002.S<story>.AC<n>."""
    items, story, number, in_criteria = [], None, 0, False
    for raw in text.splitlines():
        line = raw.strip()
        heading = re.match(r"### Story (\d+): (.+)", line)
        if heading:
            story, number, in_criteria = heading.group(1), 0, False
            section = f"Story {story}: {heading.group(2).strip()}"
        elif story and line == "**Acceptance Criteria:**":
            in_criteria = True
        elif in_criteria and line.startswith("- "):
            number += 1
            criterion = line[2:].strip()
            items.append(_item("002", f"002.S{story}.AC{number}", section, criterion, criterion))
        elif in_criteria and line:
            in_criteria = False
    return items


def drs_items(text: str) -> list[dict]:
    """004: one item per numbered acceptance criterion, id 004.R<n>.AC<m>."""
    items, requirement, section, in_criteria = [], None, None, False
    for raw in text.splitlines():
        line = raw.strip()
        heading = re.match(r"### Requirement (\d+): (.+)", line)
        if heading:
            requirement, in_criteria = heading.group(1), False
            section = f"Requirement {requirement}: {heading.group(2).strip()}"
        elif requirement and line == "#### Acceptance Criteria":
            in_criteria = True
        elif in_criteria:
            criterion = re.match(r"(\d+)\. (.+)", line)
            if criterion:
                number, body = criterion.groups()
                items.append(_item("004", f"004.R{requirement}.AC{number}", section, drs_title(body), body))
            elif line.startswith("#") or line == "---":
                in_criteria = False
    return items


def drs_title(criterion: str) -> str:
    """The criterion's outcome, short: "WHEN x THEN the Execution Engine SHALL do y" -> "Do y"."""
    outcome = criterion.split(" THEN ", 1)[-1]
    outcome = re.sub(r"^(the Execution Engine|it) SHALL ", "", outcome)
    return outcome[:1].upper() + outcome[1:]


PARSERS = {"000": lab_items, "002": nomad_items, "004": drs_items}


def build(requirements_dir: Path, current: list[dict]) -> list[dict]:
    """Parsed items for 000/002/004 plus the curated 001/003 items of `current`, doc order."""
    items = []
    for doc in DOMAINS:
        if doc in CURATED_DOCS:
            items.extend(entry for entry in current if entry["doc"] == doc)
        else:
            items.extend(PARSERS[doc](document_text(requirements_dir, doc)))
    return items


def dumps(items: list[dict]) -> str:
    """The canonical form of catalogue.json (stable diffs)."""
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build_catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS_DIR)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = parser.parse_args(argv)

    current = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8")) if CATALOGUE_PATH.exists() else []
    rebuilt = dumps(build(args.requirements, current))
    if args.check:
        same = CATALOGUE_PATH.exists() and CATALOGUE_PATH.read_text(encoding="utf-8") == rebuilt
        print("catalogue.json is up to date" if same else "catalogue.json differs from the documents")
        return 0 if same else 1
    CATALOGUE_PATH.write_text(rebuilt, encoding="utf-8")
    print(f"wrote {CATALOGUE_PATH} ({len(json.loads(rebuilt))} items)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
