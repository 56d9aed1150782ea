"""The node-control shim: what a local node's sshd runs for every SSH command (``ForceCommand``).

    python -m gauntlet.local.nodes.shim --node n11 --control-dir <run dir>/n11

It reads ``SSH_ORIGINAL_COMMAND``, parses it (no shell ever runs it) and maps it to the node:

=============================================================  ====================================
command (``sudo`` and ``sh -c '...'`` wrappers are unwrapped)  effect on this node only
=============================================================  ====================================
``reboot``, ``shutdown -r now``, ``systemctl reboot``          graceful reboot: SIGTERM etcd, boot
``reboot -f``                                                  hard reset: SIGKILL, boot
``poweroff``, ``halt``, ``shutdown -h now``                    graceful power-off (stays off)
``poweroff -f``                                                hard off: SIGKILL (stays off)
``echo b > /proc/sysrq-trigger``, ``echo b | tee ...``         SysRq reset: SIGKILL, boot (no sync)
``echo c`` / ``echo o`` to the SysRq trigger                   panic / hard off: SIGKILL, stays off
``echo 1 > /proc/sys/kernel/sysrq``, ``echo s``/``u``, sync    accepted, nothing to do
``hostname``, ``uptime``, ``whoami``, ``echo ...``, ``true``   answered for the node
``systemctl is-active|status etcd``                            answered from the node's state
``df ...``, ``etcdctl ...``                                    run as is (read-only / this member)
anything else                                                  exit 126, nothing runs
=============================================================  ====================================

Power operations are requests to the node's machine process (``machine.py``) through
``<control dir>/machine.sock``: the shim never writes to this machine's ``/proc/sysrq-trigger``,
never runs ``reboot`` or ``poweroff``, never starts a process that outlives the SSH session.
The whole command line is checked before any part of it runs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from gauntlet.local.nodes import control

REFUSED = 126
SYSRQ_TRIGGER = "/proc/sysrq-trigger"
SYSRQ_SWITCH = "/proc/sys/kernel/sysrq"
_SHELLS = {"sh", "bash", "dash"}
_SEPARATORS = {";", "&&", "||", "&"}
_SUDO_OPTIONS_WITH_ARG = {"-u", "-g", "-C", "-h", "-p", "-U", "-r", "-t", "-D"}
# SysRq keys: machine op, hard, description
_SYSRQ = {
    "b": ("reboot", True, "reset without sync"),
    "c": ("panic", True, "crash (panic)"),
    "o": ("poweroff", True, "power off"),
}
_SYSRQ_HARMLESS = {"s", "u", "0", "1", "9"}  # sync, remount read-only, log levels


class Refused(Exception):
    """The command is not something a local node does; nothing of it runs."""


@dataclass
class Action:
    kind: str                     # "power", "answer", "run", "noop"
    op: str = ""                  # power: the machine op (reboot, poweroff, panic)
    hard: bool = False
    argv: List[str] = field(default_factory=list)   # run
    text: str = ""                # answer: literal text; or a query ("hostname", "uptime", ...)
    connector: str = ";"          # how it joins the previous action

    def describe(self) -> str:
        if self.kind == "power":
            return f"power {self.op}{' hard' if self.hard else ''}"
        if self.kind == "run":
            return "run " + shlex.join(self.argv)
        return f"{self.kind} {self.text}".strip()


# -- parsing --------------------------------------------------------------------------------------


def tokenize(command: str) -> List[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError as error:
        raise Refused(f"cannot parse command: {error}") from error


def _split(tokens: Sequence[str], separators: set) -> List[Tuple[str, List[str]]]:
    """Split tokens at separators; each part comes with the separator before it."""
    parts, current, joiner = [], [], ";"
    for token in tokens:
        if token in separators:
            parts.append((joiner, current))
            current, joiner = [], token
        else:
            current.append(token)
    parts.append((joiner, current))
    return [(j, p) for j, p in parts if p]


def _redirections(words: List[str]) -> Tuple[List[str], List[str]]:
    """Separate ``> target`` / ``>> target`` / ``2>&1`` / ``&> target`` from the words."""
    plain, targets, index = [], [], 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else None
        if word == "2" and following in (">", ">>", ">&"):
            index += 1
            continue
        if word in (">", ">>", "&>", ">|"):
            if following is None:
                raise Refused("redirection without a target")
            targets.append(following)
            index += 2
            continue
        if word == ">&":
            if following not in ("1", "2"):
                raise Refused(f"unsupported redirection >&{following}")
            index += 2
            continue
        if word in ("<", "<<", "<<<", "(", ")", "`", "$("):
            raise Refused(f"unsupported shell syntax {word!r}")
        plain.append(word)
        index += 1
    return plain, targets


def _unwrap_sudo(words: List[str]) -> List[str]:
    while words and os.path.basename(words[0]) == "sudo":
        words = words[1:]
        while words and words[0].startswith("-"):
            option = words.pop(0)
            if option in _SUDO_OPTIONS_WITH_ARG and words:
                words.pop(0)
            if option == "--":
                break
    return words


def _sysrq(key: str) -> Action:
    key = key.strip()
    if key in _SYSRQ:
        op, hard, _ = _SYSRQ[key]
        return Action("power", op=op, hard=hard)
    if key in _SYSRQ_HARMLESS:
        return Action("noop", text=f"sysrq {key}")
    raise Refused(f"SysRq key {key!r} is not modelled on local nodes (use b, c or o)")


def _write(value: str, target: str) -> Action:
    if target == SYSRQ_TRIGGER:
        return _sysrq(value)
    if target == SYSRQ_SWITCH:
        return Action("noop", text="sysrq enabled")
    raise Refused(f"writing to {target} is not allowed on local nodes")


def _check_targets(targets: List[str], allowed: Sequence[str] = ("/dev/null",)) -> None:
    for target in targets:
        if target not in allowed:
            raise Refused(f"writing to {target} is not allowed on local nodes")


def _command(words: List[str], targets: List[str]) -> List[Action]:
    words = _unwrap_sudo(words)
    if not words:
        raise Refused("empty command")
    name, args = os.path.basename(words[0]), words[1:]
    if name in _SHELLS and "-c" in args:
        script = args[args.index("-c") + 1:]
        if not script:
            raise Refused(f"{name} -c without a script")
        return parse(script[0])
    force = any(a in ("-f", "--force", "-ff") for a in args)
    if name == "echo":
        writes = [t for t in targets if t != "/dev/null"]
        if writes:
            return [_write(" ".join(args), target) for target in writes]
        if targets:
            return [Action("noop", text="echo > /dev/null")]
        return [Action("answer", text=" ".join(a for a in args if a not in ("-n", "-e")) + "\n")]
    _check_targets(targets)
    if name == "reboot":
        return [Action("power", op="reboot", hard=force)]
    if name in ("poweroff", "halt"):
        return [Action("power", op="poweroff", hard=force)]
    if name == "shutdown":
        if "-c" in args:
            raise Refused("shutdown -c: nothing is scheduled on local nodes")
        reboot = any(a in ("-r", "--reboot") for a in args)
        return [Action("power", op="reboot" if reboot else "poweroff")]
    if name == "systemctl":
        verbs = [a for a in args if not a.startswith("-")]
        if verbs and verbs[0] in ("reboot", "poweroff", "halt"):
            return [Action("power", op="reboot" if verbs[0] == "reboot" else "poweroff",
                           hard=force)]
        if len(verbs) == 2 and verbs[0] in ("is-active", "status") and \
                verbs[1] in ("etcd", "etcd.service"):
            return [Action("answer", text=f"systemctl {verbs[0]}")]
        raise Refused(f"systemctl {' '.join(args)} is not available on local nodes")
    if name in ("sync", "true", ":"):
        return [Action("noop", text=name)]
    if name == "hostname":
        if any(not a.startswith("-") for a in args):
            raise Refused("renaming a local node is not allowed")
        return [Action("answer", text="hostname")]
    if name in ("uptime", "whoami"):
        return [Action("answer", text=name)]
    if name == "df":
        if any(not (a.startswith("-") or a.startswith("/")) for a in args):
            raise Refused("df takes options and absolute paths here")
        return [Action("run", argv=["df", *args])]
    if name == "etcdctl":
        return [Action("run", argv=["etcdctl", *args])]
    raise Refused(f"{name!r} is not available on local nodes")


def _pipeline(stages: List[List[str]]) -> List[Action]:
    if len(stages) == 1:
        words, targets = _redirections(stages[0])
        return _command(words, targets)
    if len(stages) == 2:  # echo X | [sudo] tee [-a] FILE [> /dev/null]
        first, first_targets = _redirections(stages[0])
        second, second_targets = _redirections(stages[1])
        first, second = _unwrap_sudo(first), _unwrap_sudo(second)
        if first and first[0] == "echo" and not first_targets and second and second[0] == "tee":
            _check_targets(second_targets)
            files = [a for a in second[1:] if not a.startswith("-")]
            value = " ".join(first[1:])
            actions = []
            if not second_targets:  # tee echoes what it writes
                actions.append(Action("answer", text=value + "\n"))
            return actions + [_write(value, target) for target in files]
    raise Refused("pipelines other than `echo X | tee FILE` are not available on local nodes")


def parse(command: str) -> List[Action]:
    """The actions ``command`` means on a local node; :class:`Refused` if any part is not allowed."""
    tokens = tokenize(command)
    if not tokens:
        raise Refused("no command given (interactive shells are not available on local nodes)")
    actions: List[Action] = []
    for connector, part in _split(tokens, _SEPARATORS):
        stages = [stage for _, stage in _split(part, {"|"})]
        pipeline_actions = _pipeline(stages)
        if pipeline_actions:
            pipeline_actions[0].connector = connector
        actions.extend(pipeline_actions)
    return actions


# -- running --------------------------------------------------------------------------------------


class Shim:
    def __init__(self, node: str, control_dir: Path, out=None, err=None) -> None:
        self.node = node
        self.control_dir = Path(control_dir)
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def log(self, command: str, outcome: str) -> None:
        try:
            logs = self.control_dir / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            with open(logs / "shim.log", "a") as handle:
                handle.write(json.dumps({"t": round(time.time(), 3), "node": self.node,
                                         "command": command, "outcome": outcome}) + "\n")
        except OSError:
            pass

    def config(self) -> dict:
        try:
            return json.loads((self.control_dir / "machine.json").read_text())
        except (OSError, ValueError):
            return {}

    def answer(self, query: str) -> str:
        if query == "hostname":
            return self.node + "\n"
        if query == "whoami":
            return getpass.getuser() + "\n"
        if query == "uptime":
            status = control.request(self.control_dir, "status", timeout=5)
            seconds = int(time.time() - (status.get("booted_at") or time.time()))
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            return (f" {time.strftime('%H:%M:%S')} up {seconds // 3600}:{seconds % 3600 // 60:02d},"
                    f"  1 user,  load average: {load}\n")
        if query.startswith("systemctl "):
            state = control.request(self.control_dir, "status", timeout=5).get("state")
            active = "active" if state == "running" else "inactive"
            if query == "systemctl is-active":
                return active + "\n"
            return f"* etcd.service - etcd member {self.node}\n     Active: {active}\n"
        return query

    def execute(self, action: Action) -> int:
        if action.kind == "noop":
            return 0
        if action.kind == "answer":
            text = self.answer(action.text)
            self.out.write(text)
            self.out.flush()
            if action.text == "systemctl is-active" and text.strip() != "active":
                return 3
            return 0
        if action.kind == "run":
            env = dict(os.environ, ETCDCTL_API="3")
            client_url = self.config().get("client_url")
            if client_url and action.argv[0] == "etcdctl":
                env.setdefault("ETCDCTL_ENDPOINTS", client_url)
            self.out.flush()
            try:
                self.out.fileno(), self.err.fileno()
            except (AttributeError, OSError, ValueError):  # in-memory streams (tests)
                done = subprocess.run(action.argv, env=env, capture_output=True, text=True,
                                      stdin=subprocess.DEVNULL, timeout=60)
                self.out.write(done.stdout)
                self.err.write(done.stderr)
                return done.returncode
            return subprocess.run(action.argv, env=env, stdout=self.out, stderr=self.err,
                                  stdin=subprocess.DEVNULL, timeout=60).returncode
        if action.kind == "power":
            control.request(self.control_dir, action.op, timeout=10, hard=action.hard,
                            origin="ssh")
            return 0
        raise AssertionError(action.kind)

    def run(self, command: Optional[str]) -> int:
        command = command or ""
        try:
            actions = parse(command)
        except Refused as refusal:
            self.err.write(f"gauntlet local node {self.node}: refused: {refusal}\n")
            self.log(command, f"refused: {refusal}")
            return REFUSED
        self.log(command, "; ".join(a.describe() for a in actions))
        status = 0
        for action in actions:
            if (action.connector == "&&" and status != 0) or \
                    (action.connector == "||" and status == 0):
                continue
            try:
                status = self.execute(action)
            except (control.MachineUnavailable, control.MachineError) as error:
                self.err.write(f"gauntlet local node {self.node}: {error}\n")
                return 1
            except subprocess.TimeoutExpired:
                self.err.write(f"gauntlet local node {self.node}: timed out\n")
                return 124
            except FileNotFoundError as error:
                self.err.write(f"gauntlet local node {self.node}: {error}\n")
                return 127
            if action.kind == "power":
                return 0  # the machine is going down: nothing after this runs
        return status


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gauntlet.local.nodes.shim")
    parser.add_argument("--node", required=True)
    parser.add_argument("--control-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    return Shim(args.node, args.control_dir).run(os.environ.get("SSH_ORIGINAL_COMMAND"))


if __name__ == "__main__":
    sys.exit(main())
