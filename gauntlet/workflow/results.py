"""The result JSON of one workflow run, in the original framework's shape.

::

    {"deployment_id": "<provider>-workflow-<suite>-<UTC timestamp>", "success": true,
     "duration": 123.45,
     "workflow_steps": [{"step_type": "init", "description": "...", "status": "completed",
                         "duration": 5.2, "error": null, "validation_results": []}, ...]}

Additions, present only when they apply: ``skipped_reason`` (top level: the suite's requirements
are unmet; on a step: why it did not run), ``exit_code`` and ``output_tail`` on custom_command
steps, ``sentinel`` on a deploy step that planted the data_integrity key, and ``teardown_error``
(top level) when tearing the deployment down failed. A skipped run has ``success: false``: a skip
never counts as a pass.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

COMPLETED, FAILED, SKIPPED = "completed", "failed", "skipped"


@dataclass
class StepResult:
    step_type: str
    description: str
    status: str
    duration: float = 0.0
    error: Optional[str] = None
    validation_results: List[dict] = field(default_factory=list)
    skipped_reason: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)  # exit_code, output_tail, ...

    def to_json(self) -> dict:
        entry = {"step_type": self.step_type, "description": self.description,
                 "status": self.status, "duration": round(self.duration, 3),
                 "error": self.error, "validation_results": list(self.validation_results)}
        if self.skipped_reason:
            entry["skipped_reason"] = self.skipped_reason
        entry.update(self.details)
        return entry


@dataclass
class WorkflowResult:
    deployment_id: str
    success: bool
    duration: float
    workflow_steps: List[StepResult]
    skipped_reason: Optional[str] = None
    teardown_error: Optional[str] = None
    path: Optional[Path] = None  # where it was written, once written

    @property
    def skipped(self) -> bool:
        return self.skipped_reason is not None

    def to_json(self) -> dict:
        document: dict = {"deployment_id": self.deployment_id, "success": self.success,
                          "duration": round(self.duration, 3),
                          "workflow_steps": [step.to_json() for step in self.workflow_steps]}
        if self.skipped_reason:
            document["skipped_reason"] = self.skipped_reason
        if self.teardown_error:
            document["teardown_error"] = self.teardown_error
        return document


def make_deployment_id(provider: str, suite: str, wall: float) -> str:
    """``<provider>-workflow-<suite>-<YYYYmmddTHHMMSSZ>`` (UTC, from the run's clock)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall))
    return f"{provider}-workflow-{suite}-{stamp}"


def result_path(reports_dir: Path, deployment_id: str) -> Path:
    return Path(reports_dir) / "workflows" / f"{deployment_id}.json"


def write_result(result: WorkflowResult, reports_dir: Path) -> Path:
    """Write ``<reports>/workflows/<deployment_id>.json`` atomically (never a torn file)."""
    path = result_path(reports_dir, result.deployment_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(result.to_json(), stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    result.path = path
    return path
