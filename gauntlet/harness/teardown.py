"""Teardown: walk the resource ledger in reverse and remove every resource the run created.

Works the same at the end of a run and for ``--teardown-only --run-id ID`` after the run was
killed: the journal lists every resource before the run relied on it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Dict, List

from gauntlet.harness.leftovers import tagged_leftovers
from gauntlet.harness.ledger import Resource, outstanding
from gauntlet.harness.run import Run
from gauntlet.local import supervisor


@dataclass
class TeardownReport:
    removed: List[str] = field(default_factory=list)
    already_gone: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    leftovers: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        text = f"teardown: {len(self.removed)} removed, {len(self.already_gone)} already gone"
        return text + (f", {len(self.failed)} FAILED" if self.failed else "")


class AlreadyGone(Exception):
    """The resource no longer exists: nothing to do."""


def _reap_process(resource: Resource) -> None:
    pid = int(resource.ident)
    marker = str(resource.attrs.get("marker", ""))
    if not supervisor.pid_alive(pid):
        raise AlreadyGone()
    if marker and marker not in supervisor.cmdline(pid):
        raise AlreadyGone()  # the pid was reused by an unrelated process: never touch it
    supervisor.stop_process_group(pid)


def _reap_directory(resource: Resource) -> None:
    if not os.path.isdir(resource.ident):
        raise AlreadyGone()
    shutil.rmtree(resource.ident)


def _reap_cloud(resource: Resource) -> None:
    from gauntlet.adapters.lab import reap

    reap(resource.kind, resource.ident, resource.attrs)


def reaper_for(kind: str) -> Callable[[Resource], None]:
    reapers: Dict[str, Callable[[Resource], None]] = {
        "process": _reap_process,
        "directory": _reap_directory,
    }
    return reapers.get(kind, _reap_cloud)


def endpoint_gone(run: Run) -> bool:
    """Offline runs: the endpoint process died, and the cloud state it held went with it."""
    endpoint = run.state.get("endpoint") or {}
    return bool(endpoint) and not supervisor.pid_alive(int(endpoint.get("pid", 0) or 0))


def teardown(run: Run, progress: Callable[[str], None] = lambda line: None) -> TeardownReport:
    """Cloud resources first (newest first), then the leftover check, then local processes and
    directories, so the offline endpoint is stopped only after its contents were removed."""
    report = TeardownReport()
    offline_state_lost = endpoint_gone(run)
    if run.state.get("endpoint", {}).get("url"):
        os.environ.setdefault("AWS_ENDPOINT_URL", run.state["endpoint"]["url"])
    resources = list(reversed(outstanding(run.journal.path)))
    cloud = [r for r in resources if ":" in r.kind]
    local = [r for r in resources if ":" not in r.kind]
    run.journal.write("teardown_started", resources=len(resources))
    if offline_state_lost:
        for resource in cloud:  # the endpoint died and its state went with it
            report.already_gone.append(resource.key)
            run.ledger.release(resource.kind, resource.ident)
    else:
        _reap_all(run, cloud, report, progress)
        _check_leftovers(run, report)
    _reap_all(run, local, report, progress)
    run.journal.write("teardown_finished", removed=report.removed, already_gone=report.already_gone,
                      failed=report.failed, leftovers=report.leftovers)
    return report


def _check_leftovers(run: Run, report: TeardownReport) -> None:
    target = run.state.get("target") or {}
    region = (run.state.get("endpoint") or {}).get("region") or os.environ.get("AWS_DEFAULT_REGION")
    if not target or not region:
        return
    try:
        report.leftovers = tagged_leftovers(run.run_id, region)
    except Exception as error:  # noqa: BLE001 - report, do not hide the rest of teardown
        report.failed.append(f"leftover check failed: {error}")
        return
    report.failed.extend(f"leftover: {arn}" for arn in report.leftovers)


def _reap_all(run: Run, resources: List[Resource], report: TeardownReport,
              progress: Callable[[str], None]) -> None:
    for resource in resources:
        try:
            reaper_for(resource.kind)(resource)
            report.removed.append(resource.key)
            progress(f"  removed {resource.key}")
        except AlreadyGone:
            report.already_gone.append(resource.key)
        except Exception as error:  # noqa: BLE001 - keep reaping the rest
            report.failed.append(f"{resource.key}: {error}")
            progress(f"  FAILED to remove {resource.key}: {error}")
            continue
        run.ledger.release(resource.kind, resource.ident)
