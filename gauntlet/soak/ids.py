"""Run ids and cycle ids: every record, log line and file of a soak run carries both, so an
artifact found on its own still says which run and which cycle it belongs to."""

from __future__ import annotations

from gauntlet.harness.run import new_run_id as _stamp


def new_run_id() -> str:
    """``soak-20260103-101500-ab12``: sorts by start time, unique per start."""
    return f"soak-{_stamp()}"


def cycle_id(run_id: str, cycle: int) -> str:
    """``<run-id>-c007``: the id of cycle 7 of that run (stable across a resume)."""
    return f"{run_id}-c{cycle:03d}"
