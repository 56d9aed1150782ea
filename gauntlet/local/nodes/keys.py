"""Per-run SSH keys for the local nodes: one host key per node, one user key for the run.

Generated with ``ssh-keygen`` (Debian ``openssh-client``, a dependency of ``openssh-server``):
ed25519, no passphrase, mode 0600. Nothing is read from or written to ``~/.ssh``; the run's
``known_hosts`` pins each node's host key, so a client reaching anything else at a node's
address (this machine's own sshd, say) fails host-key verification.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Tuple


class KeyGenerationError(RuntimeError):
    """ssh-keygen is missing or failed."""


@dataclass
class RunKeys:
    user_key: Path            # private key the run logs in with
    authorized_keys: Path     # the user key's public half, as sshd reads it
    host_keys: Dict[str, Path]  # node -> private host key

    def host_public_key(self, node: str) -> str:
        return public_key(self.host_keys[node])


def generate(path: Path, comment: str) -> Path:
    """Create an ed25519 key pair at ``path`` (and ``path.pub``) unless it exists."""
    if path.exists() and path.with_name(path.name + ".pub").exists():
        return path
    keygen = shutil.which("ssh-keygen")
    if not keygen:
        raise KeyGenerationError("ssh-keygen not found: install the Debian package openssh-client")
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    if done.returncode != 0:
        raise KeyGenerationError(f"ssh-keygen failed for {path}: {done.stderr.strip()}")
    path.chmod(0o600)
    return path


def public_key(private_key: Path) -> str:
    """``ssh-ed25519 AAAA...`` (type and base64, without the comment)."""
    parts = private_key.with_name(private_key.name + ".pub").read_text().split()
    return f"{parts[0]} {parts[1]}"


def run_keys(keys_dir: Path, nodes: Iterable[str], run_label: str = "gauntlet") -> RunKeys:
    """Generate (or reuse) the run's user key and each node's host key under ``keys_dir``."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    user_key = generate(keys_dir / "id_ed25519", f"{run_label}-user")
    authorized = keys_dir / "authorized_keys"
    authorized.write_text(public_key(user_key) + f" {run_label}-user\n")
    host_keys = {node: generate(keys_dir / f"ssh_host_{node}_ed25519_key", f"{run_label}-{node}")
                 for node in nodes}
    return RunKeys(user_key, authorized, host_keys)


def write_known_hosts(path: Path, entries: Iterable[Tuple[str, int, str]]) -> Path:
    """A known_hosts file for ``(address, port, public key)`` entries (``[addr]:port`` form)."""
    lines = []
    for address, port, key in entries:
        host = address if port == 22 else f"[{address}]:{port}"
        lines.append(f"{host} {key}")
    path.write_text("\n".join(lines) + "\n")
    return path
