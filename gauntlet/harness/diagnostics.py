"""Diagnostics bundle for a failed step.

The bundle holds the failure itself (exception or exit code, the step's output tail) and the
output of every collector that applies to the target. Collectors run in parallel, each under a
timeout; a collector's own failure is recorded in the bundle and never masks the step's.
Each collector may also name the equivalent shell commands, so a person can re-run them.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from gauntlet.clock import real_clock
from gauntlet.harness.redaction import redactor


@dataclass
class CollectorContext:
    """What a collector may look at: the run, its target and state, the failed step."""

    run_id: str
    target: object  # gauntlet.targets.Target
    state: dict
    step_name: str


@dataclass
class Collector:
    name: str
    applies: Callable[[CollectorContext], bool]
    collect: Callable[[CollectorContext], str]
    commands: Callable[[CollectorContext], List[str]] = lambda ctx: []


@dataclass
class Failure:
    step: int
    name: str
    location: str
    error: str
    exit_code: Optional[int] = None
    command: Optional[str] = None
    output_tail: str = ""
    traceback: str = ""


def collect_bundle(failure: Failure, context: CollectorContext, collectors: List[Collector],
                   timeout: float = 4.0) -> dict:
    """Run the applicable collectors in parallel; return the (redacted) bundle."""
    clock = real_clock
    started = clock.now()
    applicable = [c for c in collectors if _safe_applies(c, context)]
    results: Dict[str, dict] = {}
    pool = ThreadPoolExecutor(max_workers=max(len(applicable), 1), thread_name_prefix="diag")
    futures = {pool.submit(_timed, c, context): c for c in applicable}
    done, pending = wait(futures, timeout=timeout)
    for future, collector in futures.items():
        if future in done:
            results[collector.name] = future.result()
        else:
            results[collector.name] = {"status": "timeout", "output": "",
                                       "error": f"no answer within {timeout:g}s"}
    pool.shutdown(wait=False, cancel_futures=True)
    commands = []
    for collector in applicable:
        try:
            commands.extend(collector.commands(context))
        except Exception as error:  # noqa: BLE001 - never mask the step's failure
            commands.append(f"# {collector.name}: could not build commands: {error}")
    bundle = {
        "step": failure.step,
        "name": failure.name,
        "location": failure.location,
        "error": failure.error,
        "exit_code": failure.exit_code,
        "command": failure.command,
        "output_tail": failure.output_tail,
        "traceback": failure.traceback,
        "collectors": results,
        "commands": commands,
        "collected_in": round(clock.now() - started, 3),
    }
    return redactor.data(bundle)


def _safe_applies(collector: Collector, context: CollectorContext) -> bool:
    try:
        return bool(collector.applies(context))
    except Exception:  # noqa: BLE001
        return False


def _timed(collector: Collector, context: CollectorContext) -> dict:
    clock = real_clock
    started = clock.now()
    try:
        output = collector.collect(context)
        return {"status": "ok", "output": output, "duration": round(clock.now() - started, 3)}
    except Exception as error:  # noqa: BLE001 - recorded, never raised
        return {"status": "error", "output": "", "error": f"{type(error).__name__}: {error}",
                "duration": round(clock.now() - started, 3)}


def render(bundle: dict) -> str:
    """Human-readable text of a bundle, for failures.log and the console."""
    lines = [f"=== step {bundle['step']}: {bundle['name']} ({bundle['location']}) FAILED ===",
             f"error: {bundle['error']}"]
    if bundle.get("exit_code") is not None:
        lines.append(f"exit code: {bundle['exit_code']}" +
                     (f"  (command: {bundle['command']})" if bundle.get("command") else ""))
    if bundle.get("output_tail"):
        lines += ["--- output (tail) ---", bundle["output_tail"].rstrip()]
    if bundle.get("traceback"):
        lines += ["--- traceback ---", bundle["traceback"].rstrip()]
    for name, result in bundle.get("collectors", {}).items():
        status = result["status"]
        lines.append(f"--- {name} [{status}] ---")
        if result.get("error"):
            lines.append(f"(collector {status}: {result['error']})")
        if result.get("output"):
            lines.append(result["output"].rstrip())
    if bundle.get("commands"):
        lines += ["--- commands to re-run these diagnostics ---", *bundle["commands"]]
    lines.append(f"(diagnostics collected in {bundle.get('collected_in', 0):.2f}s)")
    return "\n".join(lines) + "\n"


def save(bundle: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", bundle["name"].lower()).strip("-")[:60]
    base = directory / f"step-{bundle['step']:03d}-{slug}"
    base.with_suffix(".json").write_text(json.dumps(bundle, indent=2, default=str))
    base.with_suffix(".txt").write_text(render(bundle))
    return base.with_suffix(".txt")
