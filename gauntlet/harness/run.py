"""A run: its id, its folder under ``reports/``, journal, ledger and persisted state.

``reports/<run-id>/state.json`` holds what later steps and a resumed run need (endpoint URL,
cluster id, bucket ...), never secrets. ``reports/latest`` points at the newest run.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from gauntlet.harness.journal import Journal
from gauntlet.harness.ledger import Ledger
from gauntlet.harness.redaction import redactor
from gauntlet.targets import REPO_ROOT

REPORTS_DIR = Path(os.environ.get("GAUNTLET_REPORTS_DIR", REPO_ROOT / "reports"))


class RunNotFound(LookupError):
    pass


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


class Run:
    def __init__(self, run_id: str, reports_dir: Path = None) -> None:
        self.run_id = run_id
        self.reports_dir = Path(reports_dir or REPORTS_DIR)
        self.dir = self.reports_dir / run_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.dir / "journal.jsonl", run_id)
        self.ledger = Ledger(self.journal)
        self.state: Dict[str, Any] = self._load_state()

    @classmethod
    def create(cls, run_id: Optional[str] = None, reports_dir: Path = None) -> "Run":
        run = cls(run_id or new_run_id(), reports_dir)
        latest = run.reports_dir / "latest"
        try:
            if latest.is_symlink() or latest.exists():
                latest.unlink()
            latest.symlink_to(run.run_id)
        except OSError:
            pass  # "latest" is a convenience only
        return run

    @classmethod
    def open(cls, run_id: str, reports_dir: Path = None) -> "Run":
        root = Path(reports_dir or REPORTS_DIR)
        if run_id == "latest" and (root / "latest").exists():
            run_id = os.readlink(root / "latest")
        if not (root / run_id / "journal.jsonl").is_file():
            raise RunNotFound(f"{root / run_id}: no such run (no journal.jsonl)")
        return cls(run_id, root)

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def _load_state(self) -> Dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def save_state(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(redactor.data(self.state), indent=2, default=str))
        os.replace(tmp, self.state_path)

    def update_state(self, section: str, **values: Any) -> Dict[str, Any]:
        self.state.setdefault(section, {}).update(values)
        self.save_state()
        return self.state[section]

    def path(self, *parts: str) -> Path:
        target = self.dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
