"""The per-cycle folder: ``cycles/<cycle-id>/`` with the cycle's log, metrics, state and
environment snapshot, so one cycle can be read (and attached to a bug) on its own.

::

    log.txt           every line the cycle logged, time-stamped, with run and cycle ids
    metrics.json      the cycle's phase records and its cycle record
    state.json        the cycle's fresh state (gauntlet.soak.state.CycleState), saved at each change
    environment.json  the environment at the end of the cycle (members, leader, versions ...)

A resumed cycle writes its folder again from scratch: the re-run is the attempt that counts.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from gauntlet.soak.metrics import iso

CYCLES_DIR = "cycles"


class CycleArtifacts:
    def __init__(self, run_dir: Path, run_id: str, cycle_id: str, wall: Callable[[], float]) -> None:
        self.dir = Path(run_dir) / CYCLES_DIR / cycle_id
        self.run_id = run_id
        self.cycle_id = cycle_id
        self.wall = wall
        if self.dir.exists():  # an interrupted attempt of this cycle: start clean
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self._log = open(self.dir / "log.txt", "a", encoding="utf-8")

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def log(self, message: str) -> str:
        line = f"{iso(self.wall())} {self.run_id} {self.cycle_id} {message}"
        self._log.write(line + "\n")
        self._log.flush()
        return line

    def write_json(self, name: str, data) -> Path:
        path = self.dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()
