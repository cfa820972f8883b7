"""Curves against noise level and per epoch: accuracy, F1, memorization, training histories.

Each function takes data frames and returns a `matplotlib.figure.Figure`; none reads files or
touches pyplot. Lines carry a ``gid`` (e.g. ``"mean:test_accuracy:random:seed-cnn"``) so that tests
and tools can find the plotted data again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisylab.axes import SERIES, series_key, series_label, with_legacy
from noisylab.plots import style
from noisylab.plots.load import groups

LEVEL_LABEL = "noise level γ (fraction of training labels)"


def _label(noise: str, model: str, many_models: bool) -> str:
    return f"{noise} · {model}" if many_models else str(noise)


def _varying(summary: pd.DataFrame) -> set[str]:
    """The series axes with more than one value in ``summary``."""
    return {a for a in SERIES if a in summary.columns and summary[a].nunique() > 1}


def _series(summary: pd.DataFrame) -> list[dict]:
    """Each series (noise, method, model) of ``summary`` as a dict, in order of appearance."""
    return [dict(zip(SERIES, values, strict=True)) for values in groups(summary, *SERIES)]


def _part(summary: pd.DataFrame, values: dict) -> pd.DataFrame:
    mask = np.ones(len(summary), dtype=bool)
    for column, value in values.items():
        mask &= (summary[column] == value).to_numpy()
    return summary[mask]


def _mean_std(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = frame.sort_values("level", kind="stable")
    x = frame["level"].to_numpy(float)

    def column(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(len(x), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)

    return x, column(f"{metric}_mean"), column(f"{metric}_std")


def _draw_metric(ax, summary: pd.DataFrame, metric: str, *, linestyle: str = "-",
                 suffix: str = "", band: bool = True) -> int:
    """Mean line with markers and a ±1 std band per series (`noisylab.axes.SERIES`: noise,
    method, model); returns lines drawn."""
    summary = with_legacy(summary)
    varying = _varying(summary)
    drawn = 0
    for i, values in enumerate(_series(summary)):
        part = _part(summary, values)
        key = series_key(values)
        if f"{metric}_mean" not in part.columns:
            continue
        x, mean, std = _mean_std(part, metric)
        ok = np.isfinite(mean)
        if not ok.any():
            continue
        c = style.color(i)
        ax.plot(x[ok], mean[ok], linestyle=linestyle, marker=style.marker(i), markersize=4,
                color=c, label=series_label(values, varying) + suffix,
                gid=f"mean:{metric}:{key}")
        _mark_at_chance(ax, part, x, mean, color=c, gid=f"atchance:{metric}:{key}")
        has_std = ok & np.isfinite(std)
        if band and has_std.any():
            ax.fill_between(x, mean - std, mean + std, where=has_std, color=c, alpha=0.18,
                            linewidth=0, gid=f"band:{metric}:{key}")
        drawn += 1
    return drawn


def _mark_at_chance(ax, part: pd.DataFrame, x: np.ndarray, mean: np.ndarray, *, color,
                    gid: str) -> None:
    """Circle in red the levels where some runs never beat chance (``at_chance_mean`` > 0)."""
    if "at_chance_mean" not in part.columns:
        return
    frame = part.sort_values("level", kind="stable")
    frac = pd.to_numeric(frame["at_chance_mean"], errors="coerce").to_numpy(float)
    n = (pd.to_numeric(frame["n_runs"], errors="coerce").to_numpy(float)
         if "n_runs" in frame.columns else np.full(len(frac), np.nan))
    hit = np.isfinite(frac) & (frac > 0) & np.isfinite(mean)
    if not hit.any():
        return
    ax.plot(x[hit], mean[hit], linestyle="none", marker="o", markersize=11, fillstyle="none",
            markeredgecolor=style.AT_CHANCE_COLOR, markeredgewidth=1.6,
            label="run(s) at chance (never beat chance on validation)", gid=gid)
    for xi, yi, f, k in zip(x[hit], mean[hit], frac[hit], n[hit], strict=True):
        text = f"at chance {round(f * k)}/{int(k)}" if np.isfinite(k) else "at chance"
        ax.annotate(text, (xi, yi), xytext=(4, 8), textcoords="offset points", fontsize=7,
                    color=style.AT_CHANCE_COLOR)


def _finish_level_axis(ax, ylabel: str, *, unit_interval: bool = True) -> None:
    ax.set_xlabel(LEVEL_LABEL)
    ax.set_ylabel(ylabel)
    if unit_interval:
        ax.set_ylim(-0.02, 1.02)
    style.apply_style(ax)


def _empty(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#666666")


_LEGEND_ROW_INCHES = 0.2


def _legend(panel, axes) -> None:
    """One legend for all ``axes``, below them, in as many columns as the width allows."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels and not lab.startswith("_"):
                handles.append(h)
                labels.append(lab)
    if handles:
        # below the axes: a legend at the upper right collides with long titles
        fig = panel.get_figure(root=True)
        per_column = max(len(lab) for lab in labels) + 6  # characters, with the line sample
        ncols = max(1, min(4, len(handles), int(fig.get_figwidth() * 12 // per_column)))
        rows = -(-len(handles) // ncols)
        if rows > 3:
            # many series (a sweep of every method): the figure grows by the legend's extra
            # rows, or constrained layout squeezes the axes to nothing
            fig.set_figheight(fig.get_figheight() + _LEGEND_ROW_INCHES * (rows - 3))
        panel.legend(handles, labels, loc="outside lower center", frameon=False, ncols=ncols)


def analytic_curves(summary: pd.DataFrame, *, num_classes: int, k_values: Iterable[int] = (),
                    grid: int = 101, **overlay) -> tuple[pd.DataFrame, list[str]]:
    """K-NN plurality-model accuracy curves fitted to the measured test accuracy.

    See `noisylab.plots.overlay.overlay_curves` (which form of the model, from which runs, and
    the keyword arguments ``clean``, ``matrices``, ``noise_options`` and ``form``).
    """
    from noisylab.plots.overlay import overlay_curves

    return overlay_curves(summary, num_classes=num_classes, k_values=k_values, grid=grid,
                          **overlay)


def accuracy_vs_noise(summary: pd.DataFrame, *, analytic: pd.DataFrame | None = None,
                      dataset: str | None = None, notes: Sequence[str] = ()) -> Figure:
    """Test accuracy and weighted F1 against noise level, mean ± 1 std over repeats.

    Parameters
    ----------
    summary : DataFrame
        Summary rows (``noise, model, level, n_runs, test_accuracy_mean/std, test_f1_mean/std``)
        of one dataset.
    analytic : DataFrame, optional
        Curves from `analytic_curves`; the best-fit K is dashed, chosen Ks dotted.
    dataset : str, optional
        Named in the title.
    notes : sequence of str
        Written at the bottom of the figure.
    """
    fig, panel = style.figure_with_notes(10.5, 4.0, notes)
    ax_acc, ax_f1 = panel.subplots(1, 2, sharex=True, sharey=True)
    if not _draw_metric(ax_acc, summary, "test_accuracy"):
        _empty(ax_acc)
    if not _draw_metric(ax_f1, summary, "test_f1"):
        _empty(ax_f1)
    if analytic is not None and not analytic.empty:
        pairs = [(v["noise"], v["model"]) for v in _series(with_legacy(summary))]
        dotted = ((0, (1, 1.5)), (0, (3, 1, 1, 1)), (0, (1, 3)), (0, (5, 2, 1, 2)))
        for (noise, model, k, best), curve in analytic.groupby(
                ["noise", "model", "k", "best"], sort=False):
            i = pairs.index((noise, model)) if (noise, model) in pairs else 0
            extra = sorted(analytic.loc[~analytic["best"] & (analytic["noise"] == noise)
                                        & (analytic["model"] == model), "k"].unique())
            ls = "--" if best else dotted[extra.index(k) % len(dotted)]
            name = _label(noise, model, summary["model"].nunique() > 1)
            form = curve["form"].iloc[0] if "form" in curve.columns else ""
            ax_acc.plot(curve["level"], curve["accuracy"], linestyle=ls, color=style.color(i),
                        linewidth=1.3 if best else 1.0,
                        label=f"K-NN model{f' ({form})' if form else ''}, {name}, K={k}"
                        + (" (best fit)" if best else ""),
                        gid=f"analytic:{noise}:{model}:{k}")
    ax_acc.set_title("test accuracy")
    ax_f1.set_title("weighted F1 against true test labels")
    _finish_level_axis(ax_acc, "test accuracy (fraction correct)")
    _finish_level_axis(ax_f1, "weighted F1 (0–1)")
    ax_f1.tick_params(labelleft=True)
    _legend(panel, [ax_acc, ax_f1])
    fig.suptitle(style.title("Accuracy vs label noise, mean ± 1 std over repeats",
                             dataset=dataset, model=summary.get("model", []),
                             noise=summary.get("noise", [])))
    return fig


def f1_true_vs_noisy(summary: pd.DataFrame, *, dataset: str | None = None,
                     notes: Sequence[str] = ()) -> Figure:
    """Weighted F1 against true test labels (solid) and against noisy test labels (dashed).

    This is the original blog's "F1 vs scrambling percentage" figure.
    """
    fig, panel = style.figure_with_notes(8.0, 4.2, notes)
    ax = panel.subplots()
    a = _draw_metric(ax, summary, "test_f1", suffix=" — against true labels")
    b = _draw_metric(ax, summary, "test_f1_noisy", linestyle="--",
                     suffix=" — against noisy labels")
    if not a + b:
        _empty(ax)
    _finish_level_axis(ax, "weighted F1 on the test set (0–1)")
    _legend(panel, [ax])
    fig.suptitle(style.title("Test F1 against true vs noisy labels", dataset=dataset,
                             model=summary.get("model", []), noise=summary.get("noise", [])))
    return fig


def memorization(summary: pd.DataFrame, *, dataset: str | None = None,
                 notes: Sequence[str] = ()) -> Figure:
    """Training accuracy against noisy and true labels, and corrupted-label AUROC, by level."""
    fig, panel = style.figure_with_notes(10.5, 4.0, notes)
    ax_train, ax_auc = panel.subplots(1, 2, sharex=True)
    a = _draw_metric(ax_train, summary, "train_acc_noisy", suffix=" — against noisy labels")
    b = _draw_metric(ax_train, summary, "train_acc_true", linestyle="--",
                     suffix=" — against true labels")
    if not a + b:
        _empty(ax_train)
    if not _draw_metric(ax_auc, summary, "detection_auroc", suffix=" — detection AUROC"):
        _empty(ax_auc, "no AUROC (needs corrupted labels)")
    ax_auc.axhline(0.5, color=style.REFERENCE, linestyle=":", linewidth=1,
                   label="chance (AUROC 0.5)")
    ax_train.set_title("training accuracy (memorization)")
    ax_auc.set_title("corrupted-label detection from per-sample loss")
    _finish_level_axis(ax_train, "training accuracy (fraction)")
    _finish_level_axis(ax_auc, "ROC AUC (0.5 = chance)")
    _legend(panel, [ax_train, ax_auc])
    fig.suptitle(style.title("Memorization of noisy labels", dataset=dataset,
                             model=summary.get("model", []), noise=summary.get("noise", [])))
    return fig


def training_curves(histories: Mapping[float, pd.DataFrame], *,
                    best_epochs: Mapping[float, float] | None = None,
                    dataset: str | None = None, model: str | None = None,
                    noise: str | None = None, val_policy: str | None = None,
                    notes: Sequence[str] = ()) -> Figure:
    """Loss (top row) and accuracy (bottom row) per epoch, train vs validation, one column a level.

    Parameters
    ----------
    histories : mapping of float to DataFrame
        Level → a run's ``history.csv`` (``epoch, loss, accuracy, val_loss, val_accuracy``).
    best_epochs : mapping of float to float, optional
        Level → the restored best epoch, marked with a vertical line.
    val_policy : str, optional
        ``"clean"`` or ``"noisy"``: which labels the validation curve is scored against.
    """
    val_label = f"validation ({val_policy} labels)" if val_policy else "validation"
    levels = sorted(histories)
    ncols = max(1, len(levels))
    fig, panel = style.figure_with_notes(max(5.0, 2.6 * ncols + 1.8), 5.0, notes)
    axes = np.atleast_2d(panel.subplots(2, ncols, sharex="col", sharey="row", squeeze=False))
    for col, level in enumerate(levels):
        history = histories[level]
        for row, (metric, unit) in enumerate((("loss", "cross-entropy loss (nats)"),
                                              ("accuracy", "accuracy (fraction)"))):
            ax = axes[row, col]
            for j, (prefix, who, ls) in enumerate((("", "train (noisy labels)", "-"),
                                                   ("val_", val_label, "--"))):
                column = prefix + metric
                if column in history.columns:
                    ax.plot(history["epoch"], history[column], linestyle=ls, marker=".",
                            color=style.color(j), label=who, gid=f"{column}:{level:g}")
            if best_epochs and np.isfinite(best_epochs.get(level, np.nan)):
                ax.axvline(best_epochs[level], color=style.REFERENCE, linestyle=":",
                           linewidth=1, label="best epoch (restored)")
            if row == 0:
                ax.set_title(f"γ = {level:g}")
            else:
                ax.set_xlabel("epoch")
            if col == 0:
                ax.set_ylabel(unit)
            ax.xaxis.get_major_locator().set_params(integer=True)
            style.apply_style(ax)
    if not levels:
        _empty(axes[0, 0])
    _legend(panel, axes.ravel())
    fig.suptitle(style.title("Training curves by noise level", dataset=dataset, model=model,
                             noise=noise))
    return fig
