"""A simulator of AWS Elastic Disaster Recovery (DRS), served on the offline moto endpoint.

Layout follows moto's per-service folders: ``models`` (state per account and region, job
schedules), ``responses`` (one handler per operation), ``urls`` (routes), ``exceptions``,
``shapes`` (botocore's model, for validation), ``control`` (fault injection, call counts),
``app`` (the WSGI entry point). Seed data: ``fixtures/drs/source_servers.json``.
"""

from __future__ import annotations

from pathlib import Path

from gauntlet.clock import Clock

from .app import DrsApp
from .control import Control
from .models import FIXTURE_PATH, Timing

__all__ = ["FIXTURE_PATH", "Control", "DrsApp", "Timing", "create_app"]


def create_app(clock: Clock | None = None, timing: Timing | None = None,
               fixture_path: Path = FIXTURE_PATH) -> DrsApp:
    """The WSGI app the endpoint registers under signing name ``drs``.

    ``clock=None`` follows :func:`gauntlet.clock.default_clock` at call time.
    """
    return DrsApp(clock=clock, timing=timing, fixture_path=fixture_path)
