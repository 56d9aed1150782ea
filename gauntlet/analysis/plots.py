"""PNG plots of a soak run's phase durations, when matplotlib is installed.

matplotlib is optional: without it `write_plots` returns None and the report prints
NOT_INSTALLED instead. Figures are drawn on the Agg canvas directly (no pyplot), so nothing
needs a display and no global backend state is touched.
"""

from __future__ import annotations

from pathlib import Path

from gauntlet.analysis.metrics import SoakRun

NOT_INSTALLED = "plots skipped: matplotlib not installed (pip install matplotlib)"
TIMELINE_PNG = "phase_durations.png"
BOXPLOT_PNG = "phase_boxplot.png"


def load_matplotlib():
    """(Figure, FigureCanvasAgg), or None when matplotlib cannot be imported."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg


def write_plots(run: SoakRun, out_dir: str | Path) -> list[Path] | None:
    """Write the timeline and box plot PNGs into out_dir; None when matplotlib is missing.

    Raises OSError when out_dir cannot be created or written.
    """
    loaded = load_matplotlib()
    if loaded is None:
        return None
    figure_class, canvas_class = loaded
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / TIMELINE_PNG, out / BOXPLOT_PNG]
    _timeline(run, figure_class, canvas_class).savefig(paths[0], dpi=100)
    _boxplot(run, figure_class, canvas_class).savefig(paths[1], dpi=100)
    return paths


def _timeline(run: SoakRun, figure_class, canvas_class):
    """Duration of each phase over the cycles, one line per phase; failed attempts marked x."""
    figure = figure_class(figsize=(10, 5))
    canvas_class(figure)
    axes = figure.add_subplot()
    for phase in run.phase_names():
        records = [r for r in run.phases if r.phase == phase]
        line, = axes.plot([r.cycle for r in records], [r.duration for r in records], marker="o",
                          markersize=3, label=phase)
        failed = [r for r in records if not r.passed]
        if failed:
            axes.plot([r.cycle for r in failed], [r.duration for r in failed], linestyle="none",
                      marker="x", markersize=8, color=line.get_color())
    axes.set_title(f"Phase durations over cycles: {run.run_id} (x = failed)")
    axes.set_xlabel("cycle")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel("duration (s)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _boxplot(run: SoakRun, figure_class, canvas_class):
    """Distribution of each phase's passed durations, one box per phase."""
    figure = figure_class(figsize=(10, 5))
    canvas_class(figure)
    axes = figure.add_subplot()
    names = [name for name in run.phase_names() if run.durations(name)]
    if names:
        axes.boxplot([run.durations(name) for name in names])
        axes.set_xticks(range(1, len(names) + 1))
        axes.set_xticklabels([name.replace("_", "\n") for name in names], fontsize="small")
    else:
        axes.text(0.5, 0.5, "no passed phases", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(f"Phase durations (passed): {run.run_id}")
    axes.set_ylabel("duration (s)")
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    return figure
