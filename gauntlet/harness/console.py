"""What the run prints: one line per step, breakpoints, the failure log, the teardown question.

Writes to the real terminal streams (``sys.__stdout__``), because behave captures ``sys.stdout``
while hooks run. Everything printed goes through the redactor.
"""

from __future__ import annotations

import sys
from typing import Optional

from gauntlet.harness.redaction import redactor

_STATUS = {"passed": "passed", "failed": "FAILED", "error": "ERROR", "skipped": "skipped"}


def say(text: str = "") -> None:
    out = sys.__stdout__
    out.write(redactor.text(text) + "\n")
    out.flush()


def interactive() -> bool:
    stdin = sys.__stdin__
    return bool(stdin and stdin.isatty() and sys.__stdout__.isatty())


def ask(question: str) -> str:
    say(question)
    sys.__stdout__.write("> ")
    sys.__stdout__.flush()
    line = sys.__stdin__.readline()
    if not line:
        raise EOFError("no answer: standard input closed")
    return line.strip()


def header(session) -> None:
    run = session.run
    say(f"gauntlet run {run.run_id}  target={session.target.name}  "
        f"steps={len(session.plan)}  reports=reports/{run.run_id}/")


def step_line(step, status: str, duration: float, reason: Optional[str]) -> None:
    line = f"[{step.number:3d}] {step.name} ... {_STATUS.get(status, status)} ({duration:.2f}s)"
    if reason and status == "skipped":
        line += f"  -- {reason}"
    elif reason:
        line += f"\n      {reason}"
    say(line)


def breakpoint(session, step) -> None:
    """Pause before ``step`` until the person at the terminal says go on."""
    say(f"--- breakpoint before step {step.number}: {step.name}")
    say(f"    the environment is up; inspect it (reports/{session.run.run_id}/state.json), "
        "then press Enter to continue")
    ask("")


def finish(session, data: dict) -> None:
    from gauntlet.harness.reports import summary_line

    log = session.run.dir / "failures.log"
    if data["failed"] and log.exists():
        say("\n================ failure log ================")
        say(log.read_text(encoding="utf-8").rstrip())
        say("=============================================")
    say(f"\n{summary_line(data)}  (reports/{session.run.run_id}/)")


def keep_environment(session) -> bool:
    """After failures: ask on a terminal, else follow ``on_failure`` (default: tear down)."""
    if interactive():
        answer = ask("Steps failed. Keep the environment for debugging? [y/N]").lower()
        return answer in ("y", "yes")
    return session.options.on_failure == "keep"
