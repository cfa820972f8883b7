"""Curves of several sweeps in one figure, for the index page of a folder of sweeps.

`across_sweeps` takes each sweep's summary (as `noisylab.plots.load.Results.summary` holds it)
and returns a `Figure` without touching pyplot. One line per (sweep, noise kind, method, model),
mean ± 1 std band over repeats; a summary without a ``method`` column (written before methods
existed) is method `DEFAULT_METHOD`. Lines carry a ``gid``
``"compare:<metric>:<sweep>:<noise>:<method>:<model>"`` so that tests can read the data back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisylab.plots import style
from noisylab.plots.curves import _empty, _finish_level_axis, _legend, _mean_std
from noisylab.plots.load import groups

#: The method of a sweep whose summary has no ``method`` column: plain cross-entropy.
DEFAULT_METHOD = "ce"
#: What one line stands for, besides its sweep.
SERIES = ("noise", "method", "model")
_LINESTYLES = ("-", "--", "-.", ":")


def with_method(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with a ``method`` column (`DEFAULT_METHOD` where it had none)."""
    if "method" in summary.columns:
        return summary
    return summary.assign(method=DEFAULT_METHOD)


def across_sweeps(summaries: Mapping[str, pd.DataFrame], *, metric: str = "test_accuracy",
                  dataset: str | None = None, notes: Sequence[str] = ()) -> Figure:
    """One metric against noise level for several sweeps of one dataset.

    Parameters
    ----------
    summaries : mapping of str to DataFrame
        Sweep name → its summary rows of one dataset (``noise, [method,] model, level,
        M_mean, M_std``). The sweep's colour is its position in the mapping.
    metric : str
        A metric of `noisylab.results.SUMMARY_METRICS`.
    dataset : str, optional
        Named in the title.
    notes : sequence of str
        Written at the bottom of the figure.

    Returns
    -------
    Figure
        Colour = sweep; marker and line style = (noise, method, model), the same in every sweep.
    """
    show_method = any("method" in s.columns for s in summaries.values())
    frames = {name: with_method(s) for name, s in summaries.items()}
    parts = [f[list(SERIES)] for f in frames.values() if not f.empty]
    everything = pd.concat(parts) if parts else pd.DataFrame(columns=list(SERIES))
    series = groups(everything, *SERIES)
    many_models = everything["model"].nunique() > 1
    missing_std = False

    fig, panel = style.figure_with_notes(9.0, 4.6, notes)
    ax = panel.subplots()
    drawn = 0
    for i, (sweep, frame) in enumerate(frames.items()):
        for noise, method, model in groups(frame, *SERIES):
            part = frame[(frame["noise"] == noise) & (frame["method"] == method)
                         & (frame["model"] == model)]
            x, mean, std = _mean_std(part, metric)
            ok = np.isfinite(mean)
            if not ok.any():
                continue
            j = series.index((noise, method, model))
            label = " · ".join([str(sweep), str(noise)] + ([str(method)] if show_method else [])
                               + ([str(model)] if many_models else []))
            key = f"{sweep}:{noise}:{method}:{model}"
            c = style.color(i)
            ax.plot(x[ok], mean[ok], color=c, marker=style.marker(j), markersize=4,
                    linestyle=_LINESTYLES[j % len(_LINESTYLES)], label=label,
                    gid=f"compare:{metric}:{key}")
            has_std = ok & np.isfinite(std)
            missing_std |= not has_std[ok].all()
            if has_std.any():
                ax.fill_between(x, mean - std, mean + std, where=has_std, color=c, alpha=0.15,
                                linewidth=0, gid=f"compare-band:{metric}:{key}")
            drawn += 1
    if not drawn:
        _empty(ax)
    if missing_std:
        ax.text(0.99, 0.01, "no band where a level has a single repeat", ha="right",
                va="bottom", transform=ax.transAxes, fontsize=7, color="#666666")
    ax.set_title(f"{metric.replace('_', ' ')}, mean ± 1 std over repeats")
    _finish_level_axis(ax, "test accuracy (fraction correct)" if metric == "test_accuracy"
                       else metric.replace("_", " "))
    _legend(panel, [ax])
    fig.suptitle(style.title("Sweeps compared", dataset=dataset))
    return fig
