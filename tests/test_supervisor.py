"""gauntlet.local.supervisor: real child processes, readiness, process-group stops.

Every process a test starts is tracked and must be gone when the test ends (checked with
pid_alive); anything left is killed and the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gauntlet.clock import wait_until
from gauntlet.local import supervisor
from gauntlet.local.supervisor import (
    Service,
    ServiceError,
    cmdline,
    pid_alive,
    running_services,
    stop,
    stop_process_group,
    tail,
)

PY = sys.executable

# Waits for GO to exist, says so, creates READY, then sleeps until a signal.
CHILD_WAITS_FOR_GO = r"""
import os, signal, sys, threading
go, ready = sys.argv[1], sys.argv[2]
pause = threading.Event()
while not os.path.exists(go):
    pause.wait(0.01)
print("child: go seen", flush=True)
open(ready, "w").close()
signal.pause()
"""

# Serves HTTP on 127.0.0.1 (a free port) and writes the port to a file atomically.
HTTP_CHILD = r"""
import http.server, os, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as handle:
    handle.write(str(server.server_port))
os.replace(tmp, sys.argv[1])
print("serving on", server.server_port, flush=True)
server.serve_forever()
"""

# Starts a grandchild in the same process group, records its pid, then sleeps.
# argv: ready-file pid-file grandchild-ignores-sigterm(0/1)
PARENT_OF_GRANDCHILD = r"""
import os, signal, subprocess, sys, threading
ready, pid_file, ignore = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
code = ("import signal, sys; "
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore else "")
        + "open(sys.argv[1], 'w').close(); signal.pause()")
grandchild_ready = ready + ".grandchild"
child = subprocess.Popen([sys.executable, "-c", code, grandchild_ready])
pause = threading.Event()
while not os.path.exists(grandchild_ready):
    pause.wait(0.01)
with open(pid_file, "w") as handle:
    handle.write(str(child.pid))
open(ready, "w").close()
signal.pause()
"""

IGNORES_SIGTERM = r"""
import signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
while True:
    signal.pause()
"""


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Track every pid a test creates; after the test, none may be alive."""
    pids: list[int] = []
    before = {s.pid for s in running_services()}
    yield pids
    for service in running_services():
        if service.pid not in before:
            pids.append(service.pid)
    leftovers = [pid for pid in pids if pid_alive(pid)]
    for pid in leftovers:  # clean up whatever a failing test left, then fail
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    with supervisor._lock:
        for service in list(supervisor._started.values()):
            if service.pid not in before:
                supervisor._started.pop(service.pid, None)
    assert leftovers == [], f"processes left running: {leftovers}"


def _read_int(path: Path) -> int:
    return int(path.read_text())


# --- start and readiness ------------------------------------------------------------------------

def test_start_http_service_polls_readiness_and_stop_ends_it(tmp_path, no_process_left_behind):
    port_file = tmp_path / "port"

    def ready():
        if not port_file.exists():
            return None
        port = int(port_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200 and port

    log = tmp_path / "logs" / "http.log"
    service = supervisor.start("http", [PY, "-c", HTTP_CHILD, str(port_file)], log, ready,
                               timeout=10, cwd=tmp_path)
    no_process_left_behind.append(service.pid)
    try:
        assert isinstance(service, Service)
        assert service.name == "http"
        assert service.running()
        assert pid_alive(service.pid)
        assert os.getpgid(service.pid) == service.pid  # its own process group
        assert service in running_services()
        assert str(port_file) in cmdline(service.pid)
        port = int(port_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            assert response.status == 200
        assert wait_until(lambda: "serving on" in service.log_tail(), 5).value
    finally:
        stop(service, timeout=5)
    assert not service.running()
    assert not pid_alive(service.pid)
    assert service not in running_services()
    assert log.parent.is_dir()


def test_on_started_runs_before_readiness(tmp_path, no_process_left_behind):
    go, ready_file = tmp_path / "go", tmp_path / "ready"
    seen = []

    def on_started(service):
        seen.append((service.pid, pid_alive(service.pid), ready_file.exists()))
        go.touch()  # the child only becomes ready after this

    service = supervisor.start("waiter", [PY, "-c", CHILD_WAITS_FOR_GO, str(go), str(ready_file)],
                               tmp_path / "waiter.log", ready_file.exists, timeout=10,
                               on_started=on_started)
    no_process_left_behind.append(service.pid)
    try:
        assert seen == [(service.pid, True, False)]
        assert ready_file.exists()
        assert "child: go seen" in wait_until(
            lambda: service.log_tail() if "go seen" in service.log_tail() else None, 5).value
    finally:
        stop(service, timeout=5)


def test_env_and_cwd_are_passed(tmp_path, no_process_left_behind):
    code = ("import os, signal; open('marker', 'w').write(os.environ['GAUNTLET_T']); "
            "signal.pause()")
    marker = tmp_path / "marker"
    service = supervisor.start("env", [PY, "-c", code], tmp_path / "env.log",
                               lambda: marker.exists() and marker.read_text() == "value-1",
                               timeout=10, env={**os.environ, "GAUNTLET_T": "value-1"},
                               cwd=tmp_path)
    no_process_left_behind.append(service.pid)
    stop(service, timeout=5)
    assert marker.read_text() == "value-1"


def _wait_for_exit(service):
    """on_started hook: let the child die before readiness is polled (deterministic)."""
    service.process.wait(timeout=10)


CRASHER = "import sys; print('boom-marker: bad config line 7', flush=True); sys.exit(3)"


def test_process_exiting_during_startup_raises_with_log_tail(tmp_path, no_process_left_behind):
    started = []
    log = tmp_path / "crash.log"

    def on_started(service):
        started.append(service.pid)
        _wait_for_exit(service)

    with pytest.raises(ServiceError) as caught:
        supervisor.start("crasher", [PY, "-c", CRASHER], log, lambda: True, timeout=0.2,
                         on_started=on_started)
    no_process_left_behind.extend(started)
    message = str(caught.value)
    assert message.startswith("crasher did not become ready")
    assert "exited with status 3" in message
    assert str(log) in message
    assert "boom-marker: bad config line 7" in message.split(f"--- {log} ---")[1]
    assert not pid_alive(started[0])
    assert all(s.pid != started[0] for s in running_services())


def test_process_exiting_during_startup_fails_fast(tmp_path, no_process_left_behind):
    started = []

    def on_started(service):
        started.append(service.pid)
        _wait_for_exit(service)

    began = time.monotonic()
    with pytest.raises(ServiceError):
        supervisor.start("crasher", [PY, "-c", CRASHER], tmp_path / "c.log", lambda: False,
                         timeout=1.0, on_started=on_started)
    no_process_left_behind.extend(started)
    assert time.monotonic() - began < 0.5


def test_never_ready_times_out_and_is_stopped(tmp_path, no_process_left_behind):
    code = "import signal; print('still starting', flush=True); signal.pause()"
    started = []
    begun = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        supervisor.start("slow", [PY, "-c", code], tmp_path / "slow.log", lambda: False,
                         timeout=0.3, on_started=lambda s: started.append(s.pid))
    no_process_left_behind.extend(started)
    assert time.monotonic() - begun < 5
    message = str(caught.value)
    assert "slow did not become ready" in message
    assert "timed out after 0.3s" in message
    assert not pid_alive(started[0])


def test_readiness_probe_exceptions_are_retried(tmp_path, no_process_left_behind):
    ready_file = tmp_path / "r"
    go = tmp_path / "go"
    go.touch()
    calls = []

    def probe():
        calls.append(1)
        return ready_file.read_text() == ""  # FileNotFoundError until the child is up

    service = supervisor.start("probe", [PY, "-c", CHILD_WAITS_FOR_GO, str(go), str(ready_file)],
                               tmp_path / "probe.log", probe, timeout=10)
    no_process_left_behind.append(service.pid)
    stop(service, timeout=5)
    assert len(calls) >= 2


def test_missing_binary_raises_oserror_and_starts_nothing(tmp_path):
    with pytest.raises(OSError):
        supervisor.start("ghost", [str(tmp_path / "no-such-binary")], tmp_path / "g.log",
                         lambda: True, timeout=1)


# --- stopping -----------------------------------------------------------------------------------

def test_stop_kills_the_whole_process_group_including_a_grandchild(tmp_path,
                                                                  no_process_left_behind):
    ready_file, pid_file = tmp_path / "ready", tmp_path / "grandchild.pid"
    service = supervisor.start("parent", [PY, "-c", PARENT_OF_GRANDCHILD, str(ready_file),
                                          str(pid_file), "0"],
                               tmp_path / "parent.log", ready_file.exists, timeout=10)
    grandchild = _read_int(pid_file)
    no_process_left_behind.extend([service.pid, grandchild])
    assert pid_alive(grandchild)
    assert os.getpgid(grandchild) == service.pid
    stop(service, timeout=5)
    assert not pid_alive(service.pid)
    # the grandchild got the same SIGTERM; it is not our child, so give init a moment to reap
    wait_until(lambda: not pid_alive(grandchild), 5, description="grandchild to exit")


def test_stop_kills_a_grandchild_that_ignores_sigterm(tmp_path, no_process_left_behind):
    ready_file, pid_file = tmp_path / "ready", tmp_path / "grandchild.pid"
    service = supervisor.start("parent", [PY, "-c", PARENT_OF_GRANDCHILD, str(ready_file),
                                          str(pid_file), "1"],
                               tmp_path / "parent.log", ready_file.exists, timeout=10)
    grandchild = _read_int(pid_file)
    no_process_left_behind.extend([service.pid, grandchild])
    try:
        stop(service, timeout=0.3)
        assert not pid_alive(service.pid)
        survived = not _gone_within(grandchild, 0.5)
        assert not survived, f"grandchild {grandchild} still running after stop()"
    finally:
        try:
            os.killpg(service.pid, signal.SIGKILL)  # clean up what the bug leaves
        except OSError:
            pass
        _gone_within(grandchild, 5)


def _gone_within(pid: int, seconds: float) -> bool:
    try:
        wait_until(lambda: not pid_alive(pid), seconds, interval=0.02)
        return True
    except TimeoutError:
        return False


def test_stop_process_group_escalates_to_sigkill(tmp_path, no_process_left_behind):
    ready_file = tmp_path / "ready"
    process = subprocess.Popen([PY, "-c", IGNORES_SIGTERM, str(ready_file)],
                               start_new_session=True, stdout=subprocess.DEVNULL)
    no_process_left_behind.append(process.pid)
    try:
        wait_until(ready_file.exists, 10, description="SIGTERM handler installed")
        began = time.monotonic()
        assert stop_process_group(process.pid, timeout=0.3) is True
        took = time.monotonic() - began
        assert not pid_alive(process.pid)
        assert process.wait(timeout=5) == -signal.SIGKILL
        assert 0.25 <= took < 5  # waited the SIGTERM timeout, then killed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_stop_process_group_with_sigterm_is_quick_and_reaps_our_child(tmp_path,
                                                                      no_process_left_behind):
    process = subprocess.Popen([PY, "-c", "import signal; signal.pause()"],
                               start_new_session=True)
    no_process_left_behind.append(process.pid)
    try:
        wait_until(lambda: "signal.pause" in cmdline(process.pid), 10)
        began = time.monotonic()
        assert stop_process_group(process.pid, timeout=5) is True
        assert time.monotonic() - began < 3
        assert not pid_alive(process.pid)
        # ended by SIGTERM (0 if stop_process_group's own waitpid reaped it first)
        assert process.wait(timeout=5) in (-signal.SIGTERM, 0)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_stop_process_group_of_a_dead_pid_is_false(no_process_left_behind):
    process = subprocess.Popen([PY, "-c", "pass"], start_new_session=True)
    process.wait(timeout=10)
    assert stop_process_group(process.pid, timeout=1) is False


def test_stop_is_safe_on_an_already_stopped_service(tmp_path, no_process_left_behind):
    ready_file, go = tmp_path / "ready", tmp_path / "go"
    go.touch()
    service = supervisor.start("twice", [PY, "-c", CHILD_WAITS_FOR_GO, str(go), str(ready_file)],
                               tmp_path / "twice.log", ready_file.exists, timeout=10)
    no_process_left_behind.append(service.pid)
    stop(service, timeout=5)
    stop(service, timeout=5)
    assert not service.running()


# --- pid_alive, tail, cmdline -------------------------------------------------------------------

def test_pid_alive_for_self_and_false_for_a_zombie_and_for_a_reaped_pid():
    assert pid_alive(os.getpid())
    process = subprocess.Popen([PY, "-c", "pass"])
    try:
        def zombie():
            with open(f"/proc/{process.pid}/stat") as handle:
                return handle.read().split(") ", 1)[1][0] == "Z"

        wait_until(zombie, 10, description="child to become a zombie")
        assert not pid_alive(process.pid)  # still in the table, but a zombie
    finally:
        process.wait(timeout=10)
    assert not pid_alive(process.pid)


def test_service_running_uses_pid_without_a_process_object(tmp_path):
    service = Service("x", ["x"], os.getpid(), tmp_path / "x.log")
    assert service.running()
    process = subprocess.Popen([PY, "-c", "pass"])
    process.wait(timeout=10)
    assert not Service("y", ["y"], process.pid, tmp_path / "y.log").running()


def test_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {i}\n" for i in range(5000)))
    assert tail(log, 3) == "line 4997\nline 4998\nline 4999"
    assert tail(log).splitlines()[0] == "line 4980"
    assert tail(tmp_path / "missing.log") == ""


def test_tail_tolerates_invalid_utf8(tmp_path):
    log = tmp_path / "bin.log"
    log.write_bytes(b"ok\n\xff\xfe broken\nend\n")
    assert tail(log, 2).endswith("end")
    assert "broken" in tail(log, 2)


def test_cmdline_of_missing_pid_is_empty():
    process = subprocess.Popen([PY, "-c", "pass"])
    process.wait(timeout=10)
    assert cmdline(process.pid) == ""
    assert PY in cmdline(os.getpid()) or "python" in cmdline(os.getpid())
