"""Analysis of soak runs: phase percentiles, run comparison and regression flags, plots.

`metrics` reads a run directory (manifest.json + metrics.jsonl); `percentiles` summarises
phases and the success rate; `compare` puts two runs side by side; `plots` draws PNGs when
matplotlib is installed; `report` renders text or JSON; `cli.main` is `gauntlet analyze`.
"""

from gauntlet.analysis.compare import Comparison, compare
from gauntlet.analysis.metrics import PHASES, RunDirError, SoakRun, load_run, run_from_records
from gauntlet.analysis.percentiles import percentile, success_rate, summarize_phases

__all__ = ["PHASES", "Comparison", "RunDirError", "SoakRun", "compare", "load_run", "percentile",
           "run_from_records", "success_rate", "summarize_phases"]
