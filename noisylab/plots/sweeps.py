"""Plot every sweep below a folder and write the folder's ``index.html`` (``noisylab plot DIR``).

`render_sweeps(root)` finds the results folders at any depth below ``root``
(`noisylab.plots.load.find_results_folders`), renders each into its own ``plots/`` with
`noisylab.plots.render.render_results` — unless its ``plots/report.html`` is newer than its
``runs.csv`` (``force`` redraws) — and writes ``root/index.html`` (`noisylab.plots.index`): a
table of every sweep and, per dataset, one figure comparing the sweeps that ran on it, built from
each sweep's summary (`noisylab.plots.compare`).

A sweep that cannot be read or drawn is listed as ``broken`` with the reason, never fatal; one
without a finished run is listed as ``empty``. Only a ``root`` that holds no results folder at all
is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from noisylab.atomic import write_text
from noisylab.axes import LEGACY
from noisylab.config import from_dict
from noisylab.errors import NoisylabError
from noisylab.plots import compare, style
from noisylab.plots.index import SweepEntry, build_index
from noisylab.plots.load import Results, _expected_runs, find_results_folders, load_results
from noisylab.plots.render import render_results
from noisylab.plots.report import ReportFigure
from noisylab.sweep.grid import short_name
from noisylab.validate import check_choice, check_scalar

INDEX = "index.html"
_FILES = ("runs.csv", "summary.csv", "config.yaml", "metadata.json")


@dataclass
class SweepsRendered:
    """What `render_sweeps` wrote and found.

    Attributes
    ----------
    index : Path
        ``root/index.html``.
    entries : list of SweepEntry
        Every results folder found, sorted by path.
    figures : dict of str to Figure
        Dataset → its comparison figure (the one embedded in the page).
    summaries : dict of str to dict of str to DataFrame
        Dataset → sweep name → the summary rows that figure draws.
    """

    index: Path
    entries: list[SweepEntry] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)
    summaries: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _modified(folder: Path) -> str:
    times = [(folder / n).stat().st_mtime for n in _FILES if (folder / n).is_file()]
    return datetime.fromtimestamp(max(times)).strftime("%Y-%m-%d %H:%M") if times else ""


def _is_newer(path: Path, than: Path) -> bool:
    return path.is_file() and than.is_file() and path.stat().st_mtime_ns > than.stat().st_mtime_ns


def _names(results: Results, column: str, key: str, *, short: bool = False) -> tuple[str, ...]:
    """The values of a runs.csv column, else of the config's grid entry ``key``."""
    if not results.runs.empty and column in results.runs.columns:
        return tuple(dict.fromkeys(results.runs[column].astype(str)))
    value = results.config.get(key) if isinstance(results.config, dict) else None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(short_name(str(v)) if short else str(v) for v in value)


def _total(config: dict) -> int | None:
    """Runs in the grid of a resolved config (this version's rules, else a plain count)."""
    try:
        return from_dict(config).n_runs
    except (NoisylabError, TypeError):
        return _expected_runs(config)


def _extreme(summary: pd.DataFrame, *, best: bool) -> str:
    """The highest (or lowest) mean test accuracy of a summary, and where it was measured."""
    if summary.empty or "test_accuracy_mean" not in summary.columns:
        return ""
    acc = pd.to_numeric(summary["test_accuracy_mean"], errors="coerce")
    if not acc.notna().any():
        return ""
    row = summary.loc[acc.idxmax() if best else acc.idxmin()]
    where = [str(row["noise"])]
    for column in ("dataset", "method", "model"):
        if column in summary.columns and summary[column].nunique() > 1:
            where.insert(0 if column == "dataset" else len(where), str(row[column]))
    level = float(row["level"])
    return f"{float(acc[row.name]):.3f} ({' · '.join(where)}, γ = {level:g})"


def _methods(results: Results) -> tuple[str, ...] | None:
    """The sweep's methods; None for a sweep of plain cross-entropy only (``ce``, also what a
    folder written before methods existed holds)."""
    names = _names(results, "method", "methods")
    return None if tuple(names) in ((), (LEGACY["method"],)) else names


def _describe(results: Results, name: str, status: str, reason: str = "",
              report: str | None = None) -> SweepEntry:
    return SweepEntry(
        name=name, status=status, reason=reason,
        datasets=_names(results, "dataset", "datasets", short=True),
        noise=_names(results, "noise", "noise"), methods=_methods(results),
        models=_names(results, "model", "models"), done=len(results.runs),
        total=_total(results.config) if results.config else None,
        best=_extreme(results.summary, best=True), worst=_extreme(results.summary, best=False),
        modified=_modified(results.path), report=report)


def _plot_one(folder: Path, name: str, *, force: bool, **options) -> tuple[SweepEntry,
                                                                           pd.DataFrame | None]:
    """Plot one sweep (or leave its up-to-date plots); its index entry and summary to compare."""
    try:
        results = load_results(folder)
        if not isinstance(results.config, dict):
            raise NoisylabError(f"{folder / 'config.yaml'} is not a mapping of keys")
        runs_csv = folder / "runs.csv"
        if results.runs.empty:
            if runs_csv.is_file():
                return _describe(results, name, "broken", "runs.csv holds no finished run"), None
            return _describe(results, name, "empty", "no run has finished yet"), None
        report = folder / "plots" / "report.html"
        status = "up to date"
        if force or not _is_newer(report, runs_csv):
            render_results(folder, **options)
            status = "plotted"
        link = f"{name}/plots/report.html" if report.is_file() else None
        return _describe(results, name, status, report=link), results.summary
    except Exception as exc:  # noqa: BLE001 - one broken sweep must not stop the others
        return SweepEntry(name=name, status="broken", reason=_first_line(exc),
                          modified=_modified(folder)), None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def render_sweeps(root: str | Path, *, fmt: str = "png", analytic: str | bool = "auto",
                  k_values: Iterable[int] = (), force: bool = False) -> SweepsRendered:
    """Plot every sweep below ``root`` and write ``root/index.html``.

    Parameters
    ----------
    root : str or Path
        A folder holding results folders, one level down or deeper (e.g. ``results/``).
    fmt : {"png", "pdf", "svg"}
        File format of each sweep's figures (the pages embed PNGs).
    analytic : {"auto", "learnable"} or False
        The K-NN model overlay on each sweep's ``accuracy_vs_noise`` (see `render_results`).
    k_values : iterable of int
        Extra K values for that overlay.
    force : bool
        Redraw sweeps whose ``plots/report.html`` is newer than their ``runs.csv``.

    Returns
    -------
    SweepsRendered

    Raises
    ------
    NoisylabError
        When ``root`` is not a folder or holds no results folder at any depth, or an option is
        invalid. A broken sweep inside is listed in the index instead.
    """
    root = Path(root)
    check_choice(fmt, "format", style.FORMATS)
    k_values = [check_scalar(k, "K", kind=int, low=1) for k in k_values]
    if not root.is_dir():
        raise NoisylabError(f"results folder must be an existing directory, got {str(root)!r}")
    folders = find_results_folders(root)
    if not folders:
        raise NoisylabError(
            f"{root} is not a results folder and holds none: no runs.csv or config.yaml in it "
            "or in any folder below it")
    out = SweepsRendered(index=root / INDEX)
    summaries: dict[str, pd.DataFrame] = {}
    for folder in folders:
        name = folder.relative_to(root).as_posix()
        entry, summary = _plot_one(folder, name, force=force, fmt=fmt, analytic=analytic,
                                   k_values=k_values)
        out.entries.append(entry)
        if summary is not None and not summary.empty:
            summaries[name] = summary
    datasets = sorted({str(d) for s in summaries.values() for d in s["dataset"]})
    pages = []
    for dataset in datasets:
        parts = {name: s[s["dataset"].astype(str) == dataset].reset_index(drop=True)
                 for name, s in summaries.items() if (s["dataset"].astype(str) == dataset).any()}
        fig = compare.across_sweeps(parts, dataset=dataset)
        out.figures[dataset], out.summaries[dataset] = fig, parts
        count = f"{len(parts)} sweep{'s' if len(parts) != 1 else ''}"
        pages.append(ReportFigure(
            f"compare-{_slug(dataset)}",
            f"{dataset}: test accuracy against noise level, mean ± 1 std over repeats, one line "
            f"per sweep and noise kind ({count})", style.figure_bytes(fig, "png")))
    title = root.resolve().name or str(root)
    write_text(out.index, build_index(out.entries, pages, title=title,
                                      default_method=compare.DEFAULT_METHOD))
    return out


def entry_line(entry: SweepEntry) -> str:
    """One line about a sweep for the command line, e.g. ``plotted default (10 of 10 runs)``."""
    total = "?" if entry.total is None else entry.total
    text = f"{entry.status}: {entry.name} ({entry.done} of {total} runs)"
    if entry.status == "up to date":
        text += "; its plots are newer than its runs.csv (--force redraws)"
    return text + (f": {entry.reason}" if entry.reason else "")
