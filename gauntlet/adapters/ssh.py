"""SSH adapter (paramiko): run a command on a host, get exit code and output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import paramiko


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


def run(host: str, command: str, user: str, key_file: str, port: int = 22,
        timeout: float = 10.0) -> CommandResult:
    """Run ``command`` on ``host``; raises on connection or authentication failure."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(host, port=port, username=user, key_filename=str(Path(key_file).expanduser()),
                       timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                       allow_agent=False, look_for_keys=False)
        _, stdout, stderr = client.exec_command(command, timeout=timeout)
        exit_code = stdout.channel.recv_exit_status()
        return CommandResult(exit_code, stdout.read().decode(errors="replace"),
                             stderr.read().decode(errors="replace"))
    finally:
        client.close()
