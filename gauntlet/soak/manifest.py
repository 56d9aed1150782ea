"""``manifest.json``: what a run was asked to do and what it ran with.

``{"run_id", "started", "inputs": RunConfig, "git_sha", "tool_versions", "host", "resumes": []}``
is written once, atomically, when the run starts; each ``--resume`` appends to ``resumes``. The
analyzer reads it beside ``metrics.jsonl``; ``--resume`` reads ``inputs`` back.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional

from gauntlet.targets import REPO_ROOT

MANIFEST_FILE = "manifest.json"
PACKAGES = ("behave", "kubernetes", "requests", "PyHamcrest")


def _run(argv, cwd: Optional[Path] = None) -> Optional[str]:
    """First line of a command's output, or None when it is missing or fails."""
    if not shutil.which(argv[0]):
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=cwd,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def git_sha(repo: Path = REPO_ROOT) -> Optional[str]:
    """HEAD of the repository, with ``-dirty`` when the working tree has changes."""
    sha = _run(["git", "rev-parse", "HEAD"], cwd=repo)
    if sha and _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo):
        sha += "-dirty"
    return sha


def tool_versions() -> dict:
    """Python, the packages the switchover uses, and the binaries it drives (when present)."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    etcd = _run(["etcd", "--version"])
    versions["etcd"] = etcd.split(":", 1)[1].strip() if etcd and ":" in etcd else etcd
    versions["kubectl"] = _run(["kubectl", "version", "--client"])
    return versions


def host() -> dict:
    return {"hostname": socket.gethostname(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "python_executable": sys.executable}


def build(run_id: str, started: str, inputs: dict) -> dict:
    return {"run_id": run_id, "started": started, "inputs": inputs, "git_sha": git_sha(),
            "tool_versions": tool_versions(), "host": host(), "resumes": []}


def write(run_dir: Path, manifest: dict) -> Path:
    """Write ``manifest.json`` atomically (a reader never sees half of it)."""
    path = Path(run_dir) / MANIFEST_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def read(run_dir: Path) -> dict:
    """The manifest of ``run_dir``; raises FileNotFoundError or ValueError when unusable."""
    data = json.loads((Path(run_dir) / MANIFEST_FILE).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), dict) or not data.get("run_id"):
        raise ValueError(f"{Path(run_dir) / MANIFEST_FILE}: not a soak manifest (no run_id or inputs)")
    return data


def add_resume(run_dir: Path, entry: dict) -> dict:
    """Append one ``--resume`` (when, from which cycle, which inputs changed) to the manifest."""
    manifest = read(run_dir)
    manifest.setdefault("resumes", []).append(entry)
    write(run_dir, manifest)
    return manifest
