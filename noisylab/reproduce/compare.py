"""Ours vs published, as tables and a figure. Pure: data frames in, frames and Figures out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisylab.plots import style
from noisylab.reproduce.published import DRORY_FINDINGS, blog_f1_scores

#: Levels up to which the blog's curve is a floor for ours (above it both are near chance).
BLOG_FLOOR_UP_TO = 0.8


def _mean(summary: pd.DataFrame, noise: str, level: float, metric: str) -> float:
    rows = summary[(summary["noise"] == noise) & np.isclose(summary["level"], level)]
    column = f"{metric}_mean"
    if rows.empty or column not in rows.columns:
        return float("nan")
    return float(rows[column].iloc[0])


def blog_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Our symmetric-noise summary beside the blog's F1Scores.csv, one row per blog level.

    Parameters
    ----------
    summary : DataFrame
        summary.csv of the sweep (``noise == "symmetric"`` rows are used).

    Returns
    -------
    DataFrame
        ``level, ours_f1_true, blog_f1_true, ours_f1_noisy, blog_f1_noisy, n_runs, at_chance,
        ours_at_least_blog`` (the last NaN above `BLOG_FLOOR_UP_TO` or where we have no run).
    """
    rows = []
    for blog in blog_f1_scores().itertuples(index=False):
        ours_true = _mean(summary, "symmetric", blog.level, "test_f1")
        ours_noisy = _mean(summary, "symmetric", blog.level, "test_f1_noisy")
        chance = _mean(summary, "symmetric", blog.level, "at_chance")
        n = _mean(summary.rename(columns={"n_runs": "n_runs_mean"}), "symmetric", blog.level,
                  "n_runs")
        floor = (bool(ours_true >= blog.f1_true)
                 if blog.level <= BLOG_FLOOR_UP_TO + 1e-9 and np.isfinite(ours_true) else None)
        rows.append({"level": blog.level, "ours_f1_true": ours_true,
                     "blog_f1_true": blog.f1_true, "ours_f1_noisy": ours_noisy,
                     "blog_f1_noisy": blog.f1_noisy, "n_runs": n, "at_chance": chance,
                     "ours_at_least_blog": floor})
    return pd.DataFrame(rows)


def drory_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Drory et al.'s findings checked on our mean test accuracy.

    Returns
    -------
    DataFrame
        ``noise, level, claim, ours_accuracy, target, holds`` (``holds`` None where we have no
        run at that level, or no level-0 run for a claim relative to level 0).
    """
    rows = []
    for f in DRORY_FINDINGS:
        ours = _mean(summary, f.noise, f.level, "test_accuracy")
        clean = _mean(summary, f.noise, 0.0, "test_accuracy")
        target = f.target(clean)
        ok = (f.holds(ours, clean) if np.isfinite(ours) and np.isfinite(target) else None)
        rows.append({"noise": f.noise, "level": f.level, "claim": f.claim,
                     "ours_accuracy": ours, "target": target, "holds": ok})
    return pd.DataFrame(rows)


def blog_figure(table: pd.DataFrame, *, notes=()) -> Figure:
    """Weighted F1 against true (solid) and noisy (dashed) labels: ours vs the blog's."""
    fig, panel = style.figure_with_notes(7.5, 4.2, notes)
    ax = panel.subplots()
    ours, blog = style.color(0), style.REFERENCE
    ax.plot(table["level"], table["ours_f1_true"], "-o", color=ours, markersize=4,
            label="ours, F1 vs true labels", gid="ours:f1_true")
    ax.plot(table["level"], table["ours_f1_noisy"], "--o", color=ours, markersize=3,
            label="ours, F1 vs noisy labels", gid="ours:f1_noisy")
    ax.plot(table["level"], table["blog_f1_true"], "-s", color=blog, markersize=4,
            label="blog (F1Scores.csv), vs true", gid="blog:f1_true")
    ax.plot(table["level"], table["blog_f1_noisy"], "--s", color=blog, markersize=3,
            label="blog, vs noisy", gid="blog:f1_noisy")
    chance = pd.to_numeric(table["at_chance"], errors="coerce").fillna(0).to_numpy() > 0
    if chance.any():
        ax.plot(table["level"][chance], table["ours_f1_true"][chance], "o", fillstyle="none",
                markersize=11, markeredgecolor=style.AT_CHANCE_COLOR,
                label="ours at chance", gid="ours:at_chance")
    ax.set_xlabel("symmetric noise level (fraction of training labels changed)")
    ax.set_ylabel("weighted F1 (0-1)")
    ax.set_ylim(-0.02, 1.02)
    style.apply_style(ax)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    ax.set_title("MNIST, symmetric noise: ours vs the blog")
    return fig
