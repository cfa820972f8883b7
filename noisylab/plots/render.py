"""Render every figure of a results folder to files, plus ``report.html``.

This is the thin I/O wrapper behind ``noisylab plot``: it reads the folder with `load`, builds
figures with `curves` and `outputs`, and writes each file atomically. It never raises for a
missing or partial part of a folder; it records a note instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisylab.atomic import created_folder, write_files
from noisylab.axes import AXES, LEGACY, where_text
from noisylab.errors import NoisylabError
from noisylab.plots import curves, outputs, style
from noisylab.plots.load import (
    Results,
    clean_runs,
    groups,
    load_results,
    num_classes,
    pick_levels,
    read_history,
    read_npz,
    realized_matrices,
    representative_run,
)
from noisylab.plots.report import ReportFigure, build_report
from noisylab.results import check_writable
from noisylab.validate import check_choice, check_scalar

# prediction grids and noise matrices show the nonzero level nearest this: noise is visible, but
# the network still gets most test images right
GRID_LEVEL = 0.4


@dataclass
class Rendered:
    """What `render_results` wrote and noticed."""

    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


def _levels_text(levels: Iterable[float]) -> str:
    return ", ".join(f"{v:g}" for v in levels)


class _Writer:
    """Saves figures in the chosen format and keeps a PNG of each for the report."""

    def __init__(self, out: Path, fmt: str, results: Results, rendered: Rendered):
        self.out, self.fmt, self.results, self.rendered = out, fmt, results, rendered
        self.report: list[ReportFigure] = []
        self.files: dict[Path, bytes] = {}
        # file names follow the sweep's grid, not the runs finished so far, so that they stay the
        # same while a sweep runs
        self.many = {}
        for axis in AXES:
            if not axis.series and axis.name != "dataset":
                continue
            grid = results.config.get(axis.config_key)
            if isinstance(grid, (list, tuple)):
                self.many[axis.name] = len(grid) > 1
            elif axis.name in results.runs.columns:
                self.many[axis.name] = results.runs[axis.name].nunique() > 1

    def stem(self, figure: str, **parts: str) -> str:
        pieces = [figure] + [_slug(v) for k, v in parts.items() if self.many.get(k, False)]
        return "_".join(pieces)

    def save(self, stem: str, caption: str, build: Callable[[], Figure]) -> None:
        """Build a figure and keep its bytes (`render_results` writes them all at once at the
        end); a figure its data cannot make is left out with a note."""
        fig = None

        def draw():
            nonlocal fig
            fig = build()

        _guarded(self.rendered, f"{caption} ({stem})", draw)
        if fig is None:
            return
        png = style.figure_bytes(fig, "png")
        data = png if self.fmt == "png" else style.figure_bytes(fig, self.fmt)
        self.files[self.out / f"{stem}.{self.fmt}"] = data
        self.report.append(ReportFigure(stem, caption, png))


def render_results(results_dir: str | Path, *, out: str | Path | None = None, fmt: str = "png",
                   analytic: bool | str = True, k_values: Iterable[int] = ()) -> Rendered:
    """Render every figure for the results folder ``results_dir``.

    Parameters
    ----------
    results_dir : str or Path
        A folder written by ``noisylab sweep``.
    out : str or Path, optional
        Where to write; default ``results_dir/plots``.
    fmt : {"png", "pdf", "svg"}
        File format of the figures; ``report.html`` always embeds PNGs.
    analytic : bool or {"auto", "learnable"}
        Overlay the K-NN model's curve for the best-fit K on ``accuracy_vs_noise``: True or
        "auto" draws the general form from the folder's level-0 predictions where it has them
        (`noisylab.plots.overlay`), "learnable" the perfectly learnable form, False nothing.
    k_values : iterable of int
        Extra K values to overlay.

    Returns
    -------
    Rendered
        The paths written and notes about missing or partial parts.

    Raises
    ------
    NoisylabError
        When ``results_dir`` is not a results folder or ``fmt`` is unknown.
    """
    check_choice(fmt, "format", style.FORMATS)
    if analytic is True:
        analytic = "auto"
    elif analytic is not False:
        check_choice(analytic, "analytic", ("auto", "learnable"))
    k_values = [check_scalar(k, "K", kind=int, low=1) for k in k_values]
    results = load_results(results_dir)
    out = Path(out) if out is not None else results.path / "plots"
    if not str(out).strip():
        raise NoisylabError("--out must name a folder, got ''")
    check_writable(out)
    rendered = Rendered()
    writer = _Writer(out, fmt, results, rendered)
    runs, summary = results.runs, results.summary
    for (dataset,) in groups(summary, "dataset"):
        part = summary[summary["dataset"] == dataset]
        _guarded(rendered, f"{dataset}: the summary figures",
                 partial(_summary_figures, writer, results, dataset, part, analytic, k_values))
        _run_figures(writer, results, dataset, runs[runs["dataset"] == dataset])
    # notes of the folder, then those found while reading per-run files, then the figures'
    rendered.notes = list(dict.fromkeys([*results.notes, *rendered.notes]))
    report = build_report(name=results.path.name, summary=summary, figures=writer.report,
                          notes=rendered.notes, metadata=results.metadata,
                          config=results.config)
    files = {**writer.files, out / "report.html": report.encode("utf-8")}
    # all files or none: a full disk leaves neither half the figures nor a plots/ folder
    with created_folder(out):
        rendered.written.extend(write_files(files))
    return rendered


def _guarded(rendered: Rendered, what: str, draw) -> None:
    """Draw one figure (or group of figures); data a figure cannot take (a damaged per-run
    file that passed the readers' checks) skips it with a note instead of stopping the rest."""
    try:
        draw()
    except (NoisylabError, ValueError, TypeError, IndexError, KeyError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        rendered.notes.append(f"{what} could not be drawn ({type(exc).__name__}: {text}); "
                              "left out.")


def _summary_figures(writer: _Writer, results: Results, dataset: str, part: pd.DataFrame,
                     analytic: bool | str, k_values: list[int]) -> None:
    notes = list(results.notes)
    overlay = None
    methods = list(dict.fromkeys(part["method"].astype(str)))
    fitted = LEGACY["method"] if LEGACY["method"] in methods else methods[0]
    if len(methods) > 1 and analytic:
        notes.append(f"K-NN overlay fitted to the {fitted} runs.")
    fit_part = part[part["method"].astype(str) == fitted]
    if analytic:
        num = num_classes(results, dataset)
        if num is None:
            writer.rendered.notes.append(
                f"{dataset}: analytic overlay skipped: the class count is unknown "
                "(no predictions.npz or noise.npz)."
            )
        else:
            overlay, extra = curves.analytic_curves(
                fit_part, num_classes=num, k_values=k_values, form=analytic,
                clean=clean_runs(results, dataset, fitted) if analytic == "auto" else None,
                matrices=realized_matrices(results, dataset),
                noise_options=results.config.get("noise_options"))
            writer.rendered.notes.extend(f"{dataset}: {n}" for n in extra)
            notes += extra                 # the figure says which form it drew, from which runs
    writer.save(writer.stem("accuracy_vs_noise", dataset=dataset),
                f"{dataset}: test accuracy and weighted F1 against noise level",
                partial(curves.accuracy_vs_noise, part, analytic=overlay, dataset=dataset,
                        notes=notes))
    writer.save(writer.stem("f1_true_vs_noisy", dataset=dataset),
                f"{dataset}: weighted F1 against true and against noisy test labels",
                partial(curves.f1_true_vs_noisy, part, dataset=dataset, notes=notes))
    writer.save(writer.stem("memorization", dataset=dataset),
                f"{dataset}: training accuracy against noisy/true labels and detection AUROC",
                partial(curves.memorization, part, dataset=dataset, notes=notes))


def _run_figures(writer: _Writer, results: Results, dataset: str, runs: pd.DataFrame) -> None:
    add = writer.rendered.notes.append
    transitions: dict[str, np.ndarray] = {}
    matrix_done: set[str] = set()  # noise is drawn per kind, not per model: same seeds
    class_names = None
    for noise, method, model in groups(runs, "noise", "method", "model"):
        subset = runs[(runs["noise"] == noise) & (runs["method"] == method)
                      & (runs["model"] == model)]
        levels = pick_levels(subset["level"])
        where = where_text({"dataset": dataset, "noise": noise, "method": method,
                            "model": model})
        chosen = {lv: representative_run(subset, level=lv) for lv in levels}

        histories, best, missing = {}, {}, []
        for lv, run in chosen.items():
            history = read_history(results, run["run_id"])
            if history is None:
                missing.append(lv)
                continue
            histories[lv] = history
            best[lv] = float(run["best_epoch"]) if "best_epoch" in run.index else np.nan
        figure_notes = [f"no history.csv for γ = {_levels_text(missing)}."] if missing else []
        if missing:
            add(f"{where}: no history.csv at γ = {_levels_text(missing)}.")
        if histories:
            writer.save(writer.stem("training_curves", dataset=dataset, noise=noise,
                                    method=method, model=model),
                        f"{where}: loss and accuracy per epoch",
                        partial(curves.training_curves, histories, best_epochs=best,
                                dataset=dataset,
                                               model=model, noise=noise, notes=figure_notes,
                                               val_policy=_val_policy(subset)))

        predictions, missing = {}, []
        for lv, run in chosen.items():
            arrays = read_npz(results, run["run_id"], "predictions")
            if arrays is None or "probs" not in arrays or "y_true" not in arrays:
                missing.append(lv)
            else:
                predictions[lv] = arrays
                class_names = arrays.get("class_names", class_names)
        if missing:
            add(f"{where}: no predictions.npz at γ = {_levels_text(missing)}.")
        if predictions:
            figure_notes = [f"no predictions.npz for γ = {_levels_text(missing)}."] if missing \
                else []
            writer.save(writer.stem("softmax_histograms", dataset=dataset, noise=noise,
                                    method=method, model=model),
                        f"{where}: softmax output by noise level",
                        partial(outputs.softmax_histograms, predictions, class_names=class_names,
                                                   dataset=dataset, model=model, noise=noise,
                                                   notes=figure_notes))
            _prediction_grid(writer, results, subset, dataset, noise, model, method)

        if noise not in matrix_done:
            matrix_done.add(noise)
            top = representative_run(subset, level=_shown_level(subset))
            arrays = read_npz(results, top["run_id"], "noise")
            if arrays is None or "transition" not in arrays:
                add(f"{where}: no noise.npz for {top['run_id']}.")
            else:
                transitions[f"{noise}, γ = {float(top['level']):g}"] = arrays["transition"]
    if transitions:
        writer.save(writer.stem("noise_matrix", dataset=dataset),
                    f"{dataset}: realized transition matrix of each noise kind",
                    partial(outputs.noise_matrix, transitions, class_names=class_names,
                                                 dataset=dataset))


def _shown_level(runs: pd.DataFrame) -> float:
    """The nonzero measured level nearest `GRID_LEVEL` (level 0 when it is the only one)."""
    levels = sorted(float(v) for v in runs["level"].unique())
    nonzero = [lv for lv in levels if lv > 0] or levels
    return min(nonzero, key=lambda lv: abs(lv - GRID_LEVEL))


def _val_policy(runs: pd.DataFrame) -> str | None:
    if "val_policy" not in runs.columns:
        return None
    policies = runs["val_policy"].dropna().astype(str).unique()
    return policies[0] if len(policies) == 1 else None


def _prediction_grid(writer: _Writer, results: Results, subset: pd.DataFrame, dataset: str,
                     noise: str, model: str, method: str) -> None:
    level = _shown_level(subset)
    run = representative_run(subset, level=level)
    arrays = read_npz(results, run["run_id"], "predictions")
    where = where_text({"dataset": dataset, "noise": noise, "method": method, "model": model})
    need = ("images", "probs", "y_true", "y_noisy")
    if arrays is None or any(k not in arrays for k in need) or len(arrays["images"]) == 0:
        writer.rendered.notes.append(f"{where}: no test images in {run['run_id']}; "
                                     "no prediction grid.")
        return
    y_pred = np.argmax(arrays["probs"], axis=1)
    writer.save(writer.stem("prediction_grid", dataset=dataset, noise=noise, method=method,
                            model=model),
                f"{where}: test predictions at γ = {level:g}",
                partial(outputs.prediction_grid, arrays["images"], arrays["y_true"],
                                                arrays["y_noisy"], y_pred,
                                                class_names=arrays.get("class_names"),
                                                dataset=dataset, model=model, noise=noise,
                                                level=level))
