"""Run a published protocol and write ours-vs-published next to its sweep (the I/O edge)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from noisylab.atomic import write_bytes, write_text
from noisylab.reproduce.compare import blog_figure, blog_table, drory_table
from noisylab.reproduce.protocols import Protocol, get_protocol
from noisylab.reproduce.published import BLOG_SOURCE, DRORY_SOURCE


@dataclass
class Reproduced:
    """What `reproduce` did: the protocol, the table, the files, and the sweep's outcome."""

    protocol: Protocol
    scale: str
    table: object  # pandas.DataFrame
    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def plan(name: str, *, scale: str, out: str | Path, data_dir: str | Path = "data",
         model_names: Sequence[str] | None = None, force: bool = False):
    """Check a protocol's sweep (data prepared, folder usable) without writing anything.

    Returns
    -------
    (Protocol, noisylab.sweep.SweepPlan)
    """
    from noisylab.sweep import plan_sweep

    protocol, config = get_protocol(name, scale)
    sweep_plan = plan_sweep(config, Path(out) / "sweep", force=force, data_dir=data_dir,
                            model_names=model_names)
    return protocol, sweep_plan


def reproduce(protocol: Protocol, sweep_plan, *, scale: str, out: str | Path,
              trainer: Callable | None = None, progress=None) -> Reproduced:
    """Run the planned sweep (resuming one already there) and write the comparison.

    Writes ``out/sweep/`` (the results folder), ``out/comparison.csv`` and
    ``out/comparison.png`` (blog: F1 curves, ours vs the blog's; drory: the sweep's
    accuracy_vs_noise figure with the K-NN model overlaid, also in ``out/sweep/plots``).
    """
    import pandas as pd

    from noisylab.sweep import run_sweep

    start = time.perf_counter()
    out = Path(out)
    result = run_sweep(sweep_plan, trainer=trainer, progress=progress)
    summary = pd.read_csv(result.summary_csv)
    written = []
    if protocol.name == "blog":
        table = blog_table(summary)
        notes = [f"Published: {BLOG_SOURCE}; 5 epochs per level, warm-started from level to "
                 "level, 42k training images.",
                 f"Ours: scale {scale}, a fresh blog-cnn per level, early stopping on clean "
                 f"validation ({sweep_plan.config.subset or 'all'} training images)."]
        fig = blog_figure(table, notes=notes)
        from noisylab.plots import style

        written.append(write_bytes(out / "comparison.png", style.figure_bytes(fig, "png")))
    else:
        from noisylab.plots.render import render_results

        table = drory_table(summary)
        rendered = render_results(result.folder, analytic="auto")
        written.extend(rendered.written)
        figure = result.folder / "plots" / "accuracy_vs_noise.png"
        if figure.is_file():
            written.append(write_bytes(out / "comparison.png", figure.read_bytes()))
    header = "# " + (BLOG_SOURCE if protocol.name == "blog" else DRORY_SOURCE) + "\n"
    written.insert(0, write_text(out / "comparison.csv", header + table.to_csv(index=False)))
    return Reproduced(protocol=protocol, scale=scale, table=table, written=written,
                      failed=list(result.failed), seconds=time.perf_counter() - start)
