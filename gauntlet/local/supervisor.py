"""Service supervisor: start a local server process, wait until it is ready, stop it for sure.

Every local substrate (the moto endpoint, the lab status server, etcd, sshd, ...) is started
here: its own process group (so a stop reaches its children), output to a log file kept for
diagnostics, a readiness probe polled through the clock. Services are stopped by process group
at teardown and, as a safety net, at interpreter exit unless the run chose to keep them.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from gauntlet.clock import Clock, WaitTimeout, real_clock, wait_until


class ServiceError(RuntimeError):
    """A service did not start or become ready; the message ends with its log tail."""


@dataclass
class Service:
    name: str
    argv: List[str]
    pid: int
    log_path: Path
    process: Optional[subprocess.Popen] = field(default=None, repr=False)
    keep: bool = False  # survive interpreter exit (the run's "keep environment" policy)

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return pid_alive(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - 16384, 0))
            return b"\n".join(handle.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


_started: Dict[int, Service] = {}
_lock = threading.Lock()


def start(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    ready: Callable[[], object],
    timeout: float = 30.0,
    env: Optional[dict] = None,
    cwd: Optional[Path] = None,
    on_started: Optional[Callable[[Service], None]] = None,
    clock: Optional[Clock] = None,
) -> Service:
    """Start ``argv`` in its own process group and poll ``ready()`` until truthy.

    ``on_started`` runs right after the process exists and before readiness is awaited, so a
    resource ledger records the pid before the run relies on the service.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                   start_new_session=True)
    service = Service(name, list(argv), process.pid, log_path, process)
    with _lock:
        _started[service.pid] = service
    if on_started:
        on_started(service)

    def ready_or_dead():
        if process.poll() is not None:
            raise ServiceError(f"{name} exited with status {process.returncode} while starting")
        return ready()

    try:
        wait_until(ready_or_dead, timeout, interval=0.02, description=f"{name} to become ready",
                   clock=clock or real_clock, fatal=(ServiceError,))
    except (WaitTimeout, ServiceError) as error:
        stop(service)
        raise ServiceError(f"{name} did not become ready: {error}\n--- {log_path} ---\n"
                           f"{tail(log_path)}") from error
    return service


def stop(service: Service, timeout: float = 10.0) -> None:
    """SIGTERM the service's process group, wait, then SIGKILL what is left."""
    stop_process_group(service.pid, timeout)
    if service.process is not None:
        try:
            service.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
    with _lock:
        _started.pop(service.pid, None)


def process_stats() -> Iterator[Tuple[int, str, int, int]]:
    """(pid, state letter, parent pid, process group) of every process visible in /proc."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        yield int(entry), fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> List[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    return [pid for pid, state, _, group in process_stats() if group == pgid and state != "Z"]


def stop_process_group(pid: int, timeout: float = 10.0, clock: Optional[Clock] = None) -> bool:
    """Stop ``pid`` and every process of the group it leads: SIGTERM, wait, then SIGKILL.

    Waits for the whole group, not just its leader, so a child that ignores SIGTERM is killed
    too. Returns True if anything was running.
    """
    clock = clock or real_clock

    def gone() -> bool:  # a zombie counts as gone; its parent (maybe a Popen) reaps it
        return not pid_alive(pid) and not group_members(pid)

    if gone():
        return False
    _signal_group(pid, signal.SIGTERM)
    try:
        wait_until(gone, timeout, interval=0.02, description=f"process group {pid} to exit",
                   clock=clock)
    except WaitTimeout:
        _signal_group(pid, signal.SIGKILL)
        wait_until(gone, 5, interval=0.02, description=f"process group {pid} to die", clock=clock)
    return True


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> bool:
    """Collect our own exited child so it does not linger as a zombie."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False


def running_services() -> List[Service]:
    with _lock:
        return list(_started.values())


@atexit.register
def _stop_at_exit() -> None:
    for service in running_services():
        if not service.keep:
            stop(service, timeout=5)
