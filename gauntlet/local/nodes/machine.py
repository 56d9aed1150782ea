"""A local node's "machine": the one long-lived process that owns the node's etcd member and sshd.

Run by the service supervisor (its own process group, recorded in the resource ledger)::

    python -m gauntlet.local.nodes.machine --config <run dir>/n11/machine.json

It plays the part of the VM and its hypervisor at once:

- Powered on, it runs the node's sshd and etcd member as its children, in its process group, each
  with a parent-death signal (SIGKILL), so stopping the machine's group, or killing the machine
  itself, takes the whole node down. It is a child subreaper: SSH session processes (which
  ``setsid`` away from sshd) stay its descendants and go down with the "power".
- Powered off, nothing of the node runs: a powered-off VM answers neither SSH nor its database.
- Every power operation arrives as a request on ``machine.sock`` (see ``control.py``), from
  ``LocalPower`` or from the SSH shim. Restarts happen here, so a rebooted etcd is again the
  machine's child: nothing detaches from the SSH session, nothing escapes the ledger.

Requests (``op``): ``status``; ``power_on``; ``shutdown`` (graceful: SIGTERM etcd and wait, then
sshd); ``destroy`` (hard off: SIGKILL every process of the node); ``pause`` / ``resume``
(SIGSTOP / SIGCONT every process); and, answered first and carried out right after (the caller is
an SSH session that the operation ends): ``reboot`` (``hard``: SIGKILL instead of SIGTERM; the
node boots again after ``boot_delay`` seconds), ``poweroff`` (``hard`` likewise; stays off),
``panic`` (SysRq ``c``: SIGKILL, stays off). Each reply carries the node's status.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from gauntlet.clock import WaitTimeout, real_clock, wait_until
from gauntlet.local.nodes.control import SOCKET_NAME, read_line, unix_address
from gauntlet.local.supervisor import process_stats

MACHINE_MARKER = "gauntlet.local.nodes.machine"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)

ROLES = ("sshd", "etcd")  # boot order; shutdown goes the other way


def _die_with_parent() -> None:  # runs in the forked child, before exec
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def process_table() -> Dict[int, Tuple[int, str]]:
    """pid -> (ppid, state letter) for every process visible in /proc."""
    return {pid: (parent, state) for pid, state, parent, _ in process_stats()}


def descendants(root: int, live_only: bool = False) -> List[int]:
    table = process_table()
    children = defaultdict(list)
    for pid, (ppid, _state) in table.items():
        children[ppid].append(pid)
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            frontier.append(child)
            if not (live_only and table[child][1] == "Z"):
                found.append(child)
    return found


class Machine:
    def __init__(self, config: dict, out=sys.stdout) -> None:
        self.node = config["node"]
        self.dir = Path(config["dir"])
        self.argv = {"etcd": config["etcd_argv"], "sshd": config["sshd_argv"]}
        self.logs = Path(config.get("logs") or self.dir / "logs")
        self.boot_delay = float(config.get("boot_delay", 0.5))
        self.stop_timeout = float(config.get("stop_timeout", 10.0))
        self.out = out
        self.power = "off"
        self.paused = False
        self.children: Dict[str, subprocess.Popen] = {}
        self.expected: set = set()  # pids we signalled: their exit is no surprise
        self.counters = {"boots": 0, "shutdowns": 0, "crashes": 0, "pauses": 0}
        self.last_exit: Dict[str, dict] = {}
        self.boot_at: Optional[float] = None
        self.booted_at: Optional[float] = None
        self.terminating = False

    # -- bookkeeping --------------------------------------------------------------------------

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(real_clock.wall() * 1000) % 1000:03d}"
        print(f"{stamp} machine {self.node}: {message}", file=self.out, flush=True)

    def event(self, name: str, **fields) -> None:
        record = dict(fields, t=round(real_clock.wall(), 3), event=name, node=self.node)
        with open(self.dir / "events.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        self.log(f"{name} {json.dumps(fields)}" if fields else name)

    def reap(self) -> None:
        """Collect every exited child: our own etcd/sshd, and orphans we adopted as subreaper."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for role, process in list(self.children.items()):
                if process.pid == pid:
                    code = os.waitstatus_to_exitcode(status)
                    process.returncode = code
                    del self.children[role]
                    (self.dir / f"{role}.pid").unlink(missing_ok=True)
                    exit_info = {"pid": pid, "code": code, "signal": -code if code < 0 else None,
                                 "expected": pid in self.expected or self.terminating}
                    self.last_exit[role] = dict(exit_info, t=round(real_clock.wall(), 3))
                    self.event("exited", role=role, **exit_info)
            self.expected.discard(pid)

    def alive(self, role: str) -> bool:
        return role in self.children

    def state(self) -> str:
        if self.paused:
            return "paused"
        return "running" if self.alive("etcd") else "stopped"

    def status(self) -> dict:
        self.reap()
        return {
            "node": self.node, "state": self.state(), "power": self.power, "paused": self.paused,
            "etcd_pid": self.children["etcd"].pid if self.alive("etcd") else None,
            "sshd_pid": self.children["sshd"].pid if self.alive("sshd") else None,
            "booting": self.boot_at is not None, "booted_at": self.booted_at,
            "last_exit": self.last_exit, **self.counters,
        }

    # -- power --------------------------------------------------------------------------------

    def spawn(self, role: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{role}.log", "ab") as log:
            process = subprocess.Popen(self.argv[role], stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=self.dir,
                                       preexec_fn=_die_with_parent)
        self.children[role] = process
        (self.dir / f"{role}.pid").write_text(f"{process.pid}\n")

    def boot(self) -> None:
        self.boot_at = None
        self.expected.clear()  # everything signalled before is gone by now
        self.power = "on"
        for role in ROLES:
            if not self.alive(role):
                self.spawn(role)
        self.counters["boots"] += 1
        self.booted_at = round(real_clock.wall(), 3)
        self.event("boot", etcd_pid=self.children["etcd"].pid, sshd_pid=self.children["sshd"].pid)

    def signal_all(self, signum: int, pids: Optional[List[int]] = None) -> List[int]:
        pids = descendants(os.getpid()) if pids is None else pids
        for pid in pids:
            if signum in (signal.SIGTERM, signal.SIGKILL):
                self.expected.add(pid)
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        return pids

    def wait_gone(self, timeout: float, roles: Tuple[str, ...] = ()) -> bool:
        def gone():
            self.reap()
            if roles:
                return not any(self.alive(role) for role in roles)
            return not self.children and not descendants(os.getpid(), live_only=True)

        try:
            wait_until(gone, timeout, interval=0.01, description=f"{self.node} processes to exit",
                       clock=real_clock)
            return True
        except WaitTimeout:
            return False

    def shutdown(self, origin: str = "api") -> None:
        """Graceful power-off: SIGTERM etcd and wait for it, then the rest (sshd, sessions)."""
        self.boot_at = None
        if self.paused:
            self.resume()
        if self.alive("etcd"):
            self.signal_all(signal.SIGTERM, [self.children["etcd"].pid])
            if not self.wait_gone(self.stop_timeout, ("etcd",)):
                self.log("etcd ignored SIGTERM; SIGKILL")
                self.signal_all(signal.SIGKILL, [self.children["etcd"].pid])
                self.wait_gone(5, ("etcd",))
        self.signal_all(signal.SIGTERM)
        if not self.wait_gone(3):
            self.signal_all(signal.SIGKILL)
            self.wait_gone(5)
        self.power = "off"
        self.counters["shutdowns"] += 1
        self.event("shutdown", origin=origin)

    def destroy(self, origin: str = "api", reason: str = "destroy") -> None:
        """Hard power-off: SIGKILL every process of the node at once (a pulled plug)."""
        self.boot_at = None
        self.paused = False  # SIGKILL ends stopped processes too
        self.signal_all(signal.SIGKILL)
        self.wait_gone(5)
        self.power = "off"
        self.counters["crashes"] += 1
        self.event("crash", origin=origin, reason=reason)

    def pause(self) -> None:
        if not self.alive("etcd"):
            raise RuntimeError(f"{self.node} is not running; nothing to pause")
        if not self.paused:
            self.signal_all(signal.SIGSTOP)
            self.paused = True
            self.counters["pauses"] += 1
            self.event("pause")

    def resume(self) -> None:
        if self.paused:
            self.signal_all(signal.SIGCONT)
            self.paused = False
            self.event("resume")

    def power_on(self) -> None:
        if self.paused:
            self.resume()
        elif not (self.power == "on" and all(self.alive(role) for role in ROLES)):
            self.boot()

    def schedule_boot(self) -> None:
        self.boot_at = real_clock.now() + self.boot_delay
        self.event("boot_scheduled", delay=self.boot_delay)

    def halt(self) -> None:
        """The machine itself is going away (teardown): stop everything it runs."""
        self.boot_at = None
        if self.paused:
            self.signal_all(signal.SIGCONT)
            self.paused = False
        self.signal_all(signal.SIGTERM)
        if not self.wait_gone(3):  # teardown need not wait for a stale leader's transfer
            self.signal_all(signal.SIGKILL)
            self.wait_gone(5)
        self.power = "off"
        self.event("halt")

    # -- requests -----------------------------------------------------------------------------

    def handle(self, request: dict) -> Tuple[dict, Optional[Callable[[], None]]]:
        """Return (reply, action to carry out after the reply is sent)."""
        op = request.get("op")
        origin = str(request.get("origin", "api"))
        hard = bool(request.get("hard"))
        after: Optional[Callable[[], None]] = None
        if op == "status":
            pass
        elif op == "power_on":
            self.power_on()
        elif op == "shutdown":
            self.shutdown(origin)
        elif op == "destroy":
            self.destroy(origin)
        elif op == "pause":
            self.pause()
        elif op == "resume":
            self.resume()
        elif op == "reboot":
            def after():
                if hard:
                    self.destroy(origin, reason="reset")
                else:
                    self.shutdown(origin)
                self.schedule_boot()
        elif op == "poweroff":
            def after():
                if hard:
                    self.destroy(origin, reason="poweroff -f")
                else:
                    self.shutdown(origin)
        elif op == "panic":
            def after():
                self.destroy(origin, reason="panic")
        else:
            return {"ok": False, "error": f"unknown op {op!r}"}, None
        if after is not None:
            self.event("accepted", op=op, hard=hard, origin=origin)
        return dict(self.status(), ok=True), after

    def serve_one(self, conn: socket.socket) -> None:
        after = None
        try:
            conn.settimeout(5)
            line = read_line(conn)
            if not line:
                return
            try:
                reply, after = self.handle(json.loads(line))
            except Exception as error:  # noqa: BLE001 - answer, do not die
                reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError as error:
            self.log(f"control connection failed: {error}")
        finally:
            conn.close()
        if after is not None:
            after()

    def run(self, power_on: bool = True) -> int:
        _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)

        def on_terminate(signum, frame):
            self.terminating = True

        signal.signal(signal.SIGTERM, on_terminate)
        signal.signal(signal.SIGINT, on_terminate)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        path = self.dir / SOCKET_NAME
        path.unlink(missing_ok=True)
        address, fd = unix_address(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(address)
        if fd is not None:
            os.close(fd)
        listener.listen(16)
        (self.dir / "machine.pid").write_text(f"{os.getpid()}\n")
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, "control")
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        self.log(f"up, pid {os.getpid()}")
        if power_on:
            self.boot()
        try:
            while not self.terminating:
                timeout = 1.0
                if self.boot_at is not None:
                    timeout = max(0.0, min(timeout, self.boot_at - real_clock.now()))
                for key, _ in selector.select(timeout):
                    if key.data == "wake":
                        try:
                            while os.read(wake_r, 512):
                                pass
                        except BlockingIOError:
                            pass
                    elif not self.terminating:
                        conn, _ = listener.accept()
                        self.serve_one(conn)
                self.reap()
                if self.boot_at is not None and real_clock.now() >= self.boot_at \
                        and not self.terminating:
                    self.boot()
        finally:
            self.halt()
            listener.close()
            path.unlink(missing_ok=True)
            (self.dir / "machine.pid").unlink(missing_ok=True)
        return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gauntlet.local.nodes.machine",
                                     description="Run one local node (etcd member + sshd).")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--powered-off", action="store_true", help="start with the power off")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    return Machine(config).run(power_on=not args.powered_off)


if __name__ == "__main__":
    sys.exit(main())
