"""The Lambda entry the Step Functions state machine invokes: one engine action per call.

Events (``Action`` picks the engine call):

- ``{"Action": "start", "Plan": {...}, "ProtectionGroups": [...], "IdempotencyKey": "..."}``
  -> ``{"ExecutionId": ...}``
- ``{"Action": "step", "ExecutionId": ...}`` -> ``{ExecutionId, Status, Done, WaitSeconds, Phase}``
- ``{"Action": "fail", "ExecutionId": ..., "Error": {"Error": ..., "Cause": ...}}`` -> the same shape

Configuration: ``DRS_ENGINE_HISTORY_TABLE`` (table name), ``DRS_ENGINE_POLL_SECONDS``.
"""

from __future__ import annotations

import os
from typing import Optional

from gauntlet.sut.drs_engine.engine import DEFAULT_HISTORY_TABLE, ExecutionEngine

_engine: Optional[ExecutionEngine] = None


def engine() -> ExecutionEngine:
    """One engine per warm Lambda container (clients and assumed roles are reused)."""
    global _engine
    if _engine is None:
        _engine = ExecutionEngine(
            history_table=os.environ.get("DRS_ENGINE_HISTORY_TABLE", DEFAULT_HISTORY_TABLE),
            poll_interval=float(os.environ.get("DRS_ENGINE_POLL_SECONDS", "30")))
    return _engine


def lambda_handler(event: dict, context=None) -> dict:
    action = event.get("Action")
    if action == "start":
        return {"ExecutionId": engine().start(event["Plan"], event["ProtectionGroups"],
                                              event.get("IdempotencyKey") or None)}
    if action == "step":
        return engine().step(event["ExecutionId"])
    if action == "fail":
        error = event.get("Error") or {}
        reason = f"{error.get('Error', 'States.TaskFailed')}: {error.get('Cause', '')}".rstrip(": ")
        return engine().fail(event["ExecutionId"], f"state machine error: {reason}")
    raise ValueError(f"unknown Action {action!r}: expected start, step or fail")
