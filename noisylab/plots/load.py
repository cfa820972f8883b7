"""Read a results folder written by `noisylab sweep`, tolerating a sweep that is still running.

This is the I/O edge of the plots: it reads CSV, YAML, JSON and NPZ, and returns data frames and
arrays plus a list of notes about anything missing or stale. Figure functions never read files.

The folder's layout is described once, in the docstring of `noisylab.results`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from noisylab.axes import SERIES, where_text, with_legacy
from noisylab.config import parse_levels
from noisylab.errors import NoisylabError
from noisylab.readers import read_csv_frame, read_json_mapping, read_yaml_mapping
from noisylab.readers import read_npz as _read_npz
from noisylab.results import RUN_COLUMNS, format_row, read_runs, summarize
from noisylab.results import SUMMARY_KEYS as KEYS
from noisylab.results import SUMMARY_METRICS as METRICS

#: Columns runs.csv must have; an axis added later (``method``) takes its legacy value when absent.
REQUIRED_RUN_COLUMNS = ("run_id", "dataset", "noise", "level", "repeat", "model")
RUNS_HEADER = format_row({c: c for c in RUN_COLUMNS}, RUN_COLUMNS)
#: The summary's order: the series keys, then the level.
ORDER = [k for k in KEYS if k != "level"] + ["level"]


@dataclass
class Results:
    """A results folder, read.

    Attributes
    ----------
    path : Path
        The folder.
    config : dict
        The resolved sweep config (empty when ``config.yaml`` is absent).
    metadata : dict
        ``metadata.json`` (empty when absent).
    runs : DataFrame
        One row per finished run (possibly none).
    summary : DataFrame
        One row per (dataset, noise, level, model) with ``n_runs`` and ``M_mean``/``M_std`` columns,
        from ``summary.csv`` when it matches ``runs.csv``, else derived from ``runs.csv``.
    notes : list of str
        Human-readable notes about missing, partial or stale parts.
    """

    path: Path
    config: dict
    metadata: dict
    runs: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def run_dir(self, run_id: str) -> Path:
        """The folder of one run's artifacts."""
        return self.path / "runs" / str(run_id)


def _read_csv(path: Path) -> pd.DataFrame:
    return read_csv_frame(path, what="file")


def is_results_folder(path: str | Path) -> bool:
    """Whether ``path`` is a results folder: a folder holding ``runs.csv`` or ``config.yaml``."""
    path = Path(path)
    return path.is_dir() and ((path / "runs.csv").is_file() or (path / "config.yaml").is_file())


def find_results_folders(root: str | Path) -> list[Path]:
    """The results folders at any depth below ``root`` (not ``root`` itself), sorted by path.

    The search does not go into a results folder, a hidden folder or a symbolic link.
    """
    found = []
    for folder, subfolders, _ in os.walk(root, followlinks=False):
        keep = []
        for name in sorted(subfolders):
            child = Path(folder) / name
            if name.startswith(".") or child.is_symlink():
                continue
            if is_results_folder(child):
                found.append(child)
            else:
                keep.append(name)
        subfolders[:] = keep
    return sorted(found)


def _expected_runs(config: dict) -> int | None:
    """The grid size implied by a resolved config, or None when it cannot be read."""
    try:
        levels = parse_levels(config["levels"])
        count = 1
        for key in ("datasets", "noise", "models"):
            value = config[key]
            count *= len(value) if isinstance(value, (list, tuple)) else 1
        return count * len(levels) * int(config.get("repeats", 1))
    except (KeyError, TypeError, ValueError):  # NoisylabError is a ValueError
        return None


def _read_runs(runs_csv: Path, notes: list[str]) -> pd.DataFrame:
    """runs.csv: this version's header is read and checked line by line (a torn last line is
    left out with a note; a damaged line is refused); another header (an older version, a
    hand-made table) is read as a plain CSV."""
    from noisylab.readers import read_bytes

    head = read_bytes(runs_csv, what="file")[: len(RUNS_HEADER)]
    if head == RUNS_HEADER.encode("utf-8"):
        frame = read_runs(runs_csv, notes=notes)
        return frame if not frame.empty else pd.DataFrame()
    return _read_csv(runs_csv)


def load_results(path: str | Path) -> Results:
    """Read the results folder at ``path``.

    Parameters
    ----------
    path : str or Path
        A folder written by ``noisylab sweep`` (it holds ``runs.csv`` or ``config.yaml``).

    Returns
    -------
    Results

    Raises
    ------
    NoisylabError
        When ``path`` is not a results folder, or ``runs.csv`` lacks the key columns.
    """
    path = Path(path)
    if not path.is_dir():
        raise NoisylabError(f"results folder must be an existing directory, got {str(path)!r}")
    runs_csv, config_yaml = path / "runs.csv", path / "config.yaml"
    if not is_results_folder(path):
        raise NoisylabError(
            f"{path} is not a results folder: it has neither runs.csv nor config.yaml"
        )
    notes: list[str] = []

    config: dict = {}
    if config_yaml.is_file():
        try:
            config = read_yaml_mapping(config_yaml, what="file")
        except NoisylabError as exc:
            notes.append(f"{exc}; the sweep grid is unknown.")
    else:
        notes.append("config.yaml is missing; the sweep grid is unknown.")
    metadata: dict = {}
    if (path / "metadata.json").exists():
        try:
            metadata = read_json_mapping(path / "metadata.json", what="file")
        except NoisylabError as exc:
            notes.append(f"{exc}; ignored.")

    runs = _read_runs(runs_csv, notes) if runs_csv.exists() else pd.DataFrame()
    if not runs_csv.is_file():
        notes.append("runs.csv is missing: no run has finished yet.")
    elif not runs.columns.empty:
        missing = [c for c in REQUIRED_RUN_COLUMNS if c not in runs.columns]
        if missing:
            raise NoisylabError(
                f"{runs_csv} lacks required columns {', '.join(missing)}; "
                f"found: {', '.join(map(str, runs.columns))}"
            )
    if runs.empty:
        runs = with_legacy(pd.DataFrame(columns=[*REQUIRED_RUN_COLUMNS, *METRICS]))
        if runs_csv.is_file():
            notes.append("runs.csv has no finished runs yet: there is nothing to plot.")
    else:
        runs = with_legacy(runs)
        runs["level"] = pd.to_numeric(runs["level"], errors="coerce")
        runs["repeat"] = pd.to_numeric(runs["repeat"], errors="coerce").astype("Int64")
        for key in (*SERIES, "dataset", "run_id"):
            runs[key] = runs[key].astype(str)
        absent = [m for m in METRICS if m not in runs.columns]
        if absent:
            notes.append(f"runs.csv has no column {', '.join(absent)}; those panels are empty.")

    expected = _expected_runs(config) if config else None
    if expected is not None and not runs.empty and len(runs) < expected:
        notes.append(
            f"sweep incomplete: {len(runs)} of {expected} runs finished; plotting what exists."
        )

    derived = summarize(runs)
    summary = derived
    summary_csv = path / "summary.csv"
    if not runs.empty:
        if not summary_csv.is_file():
            notes.append("summary.csv is missing; statistics derived from runs.csv.")
        else:
            on_disk = None
            try:
                on_disk = _read_csv(summary_csv)
            except NoisylabError as exc:
                notes.append(f"{exc}; statistics derived from runs.csv.")
            if on_disk is not None and not on_disk.empty:
                on_disk = with_legacy(on_disk)
            if on_disk is None:
                pass
            elif _summary_matches(on_disk, derived):
                summary = on_disk.sort_values(ORDER, kind="stable").reset_index(drop=True)
            else:
                notes.append(
                    "summary.csv does not match runs.csv (sweep still running?); "
                    "statistics derived from runs.csv."
                )
        notes += _single_repeat_notes(summary)
    return Results(path, config, metadata, runs, summary, notes)


def _single_repeat_notes(summary: pd.DataFrame) -> list[str]:
    """Where a series has a single repeat (no ±1 std band): one note per series, or one note
    for the whole sweep when several series all have a single repeat at every level."""
    if summary.empty:
        return []
    series = summary.groupby(["dataset", *SERIES], sort=False).ngroups
    if series > 1 and (summary["n_runs"] == 1).all():
        return [f"a single repeat at every level of all {series} series, so no ±1 std bands."]
    notes = []
    singles = summary[summary["n_runs"] == 1]
    for values, part in singles.groupby(["dataset", *SERIES], sort=False):
        mask = np.ones(len(summary), dtype=bool)
        for column, value in zip(["dataset", *SERIES], values, strict=True):
            mask &= (summary[column] == value).to_numpy()
        everywhere = len(part) == mask.sum()
        where = "every level" if everywhere else "γ = " + ", ".join(
            f"{v:g}" for v in sorted(part["level"]))
        label = where_text(dict(zip(["dataset", *SERIES], values, strict=True)))
        notes.append(f"{label}: a single repeat at {where}, so no ±1 std band there.")
    return notes


def _summary_matches(on_disk: pd.DataFrame, derived: pd.DataFrame) -> bool:
    """True when ``summary.csv`` has the same groups and counts as the summary of ``runs.csv``."""
    need = [*KEYS, "n_runs"]
    if on_disk.empty or any(c not in on_disk.columns for c in need):
        return False
    for column in derived.columns:
        if column.endswith("_mean") and column not in on_disk.columns:
            return False

    def key(df: pd.DataFrame) -> set:
        return {tuple(round(float(v), 9) if k == "level" else str(v) for k, v in
                      zip(need, row, strict=True))
                for row in df[need].itertuples(index=False)}

    return key(on_disk) == key(derived)


def pick_levels(levels, at_most: int = 4) -> list[float]:
    """Up to ``at_most`` levels spread evenly over the sorted unique ``levels``, ends included."""
    unique = sorted({float(v) for v in levels if pd.notna(v)})
    if len(unique) <= at_most:
        return unique
    idx = np.unique(np.round(np.linspace(0, len(unique) - 1, at_most)).astype(int))
    return [unique[i] for i in idx]


def representative_run(runs: pd.DataFrame, **where) -> pd.Series | None:
    """The lowest-repeat run matching ``where`` (column=value; floats matched within 1e-9)."""
    mask = pd.Series(True, index=runs.index)
    for column, value in where.items():
        if isinstance(value, float):
            mask &= (runs[column].astype(float) - value).abs() < 1e-9
        else:
            mask &= runs[column] == value
    chosen = runs[mask]
    if chosen.empty:
        return None
    return chosen.sort_values("repeat", kind="stable").iloc[0]


def read_history(results: Results, run_id: str) -> pd.DataFrame | None:
    """A run's ``history.csv`` (epoch, loss, accuracy, val_loss, val_accuracy), or None when it
    is absent or unreadable (then with a note in ``results.notes``)."""
    path = results.run_dir(run_id) / "history.csv"
    if not path.is_file():
        return None
    try:
        frame = _read_csv(path)
    except NoisylabError as exc:
        _note_once(results, f"{exc}; that run's training curves are left out.")
        return None
    if frame.empty or "epoch" not in frame.columns:
        if not frame.empty:
            _note_once(results, f"{path} has no 'epoch' column; that run's training curves "
                       "are left out.")
        return None
    return frame


#: What each per-run archive must hold to be drawn: key -> (ndim, dtype kinds).
_NPZ_RULES = {
    "predictions": {"probs": (2, "f"), "y_true": (1, "iu"), "y_noisy": (1, "iu"),
                    "images": (None, "iuf")},
    "noise": {"transition": (2, "f"), "corrupted": (1, "b"), "noisy_labels": (1, "iu")},
}


def _check_npz(path: Path, name: str, arrays: dict[str, np.ndarray]) -> str | None:
    for key, (ndim, kinds) in _NPZ_RULES.get(name, {}).items():
        if key not in arrays:
            continue
        array = arrays[key]
        if (ndim is not None and array.ndim != ndim) or array.dtype.kind not in kinds:
            return (f"{path}: {key!r} has shape {tuple(array.shape)} and dtype {array.dtype}, "
                    "not what noisylab writes")
    if name == "predictions" and "probs" in arrays and "y_true" in arrays:
        if arrays["probs"].shape[0] != arrays["y_true"].shape[0]:
            return f"{path}: 'probs' and 'y_true' have different lengths"
    if name == "noise" and "transition" in arrays:
        t = arrays["transition"]
        if t.shape[0] != t.shape[1]:
            return f"{path}: 'transition' is not square (shape {tuple(t.shape)})"
    return None


def _note_once(results: Results, text: str) -> None:
    if text not in results.notes:
        results.notes.append(text)


def read_npz(results: Results, run_id: str, name: str) -> dict[str, np.ndarray] | None:
    """The arrays of ``runs/<run_id>/<name>.npz`` as a dict, or None when the file is absent,
    unreadable or not shaped as noisylab writes it (then with a note in ``results.notes``)."""
    path = results.run_dir(run_id) / f"{name}.npz"
    if not path.is_file():
        return None
    try:
        arrays = _read_npz(path, what="file")
    except NoisylabError as exc:
        _note_once(results, f"{exc}; the figures that need it leave that run out.")
        return None
    problem = _check_npz(path, name, arrays)
    if problem:
        _note_once(results, f"{problem}; the figures that need it leave that run out.")
        return None
    return arrays


def num_classes(results: Results, dataset: str) -> int | None:
    """The class count of ``dataset``, read from the first run that saved predictions or noise."""
    for run_id in results.runs.loc[results.runs["dataset"] == dataset, "run_id"]:
        for name, key in (("noise", "transition"), ("predictions", "probs")):
            arrays = read_npz(results, run_id, name)
            if arrays is not None and key in arrays:
                return int(arrays[key].shape[-1])
    return None


def clean_runs(results: Results, dataset: str, method: str | None = None):
    """Level-0 predictions per (noise, model) of ``dataset``, for the K-NN model's general form.

    A group takes the level-0 runs of its own noise kind when there are any, else those of the
    same model under any other kind (level 0 is clean whatever the kind). Runs without a
    ``predictions.npz`` holding ``probs`` and ``y_true`` are left out. With ``method``, only
    that method's runs count (the overlay is fitted to one method's curve, so C(s) comes from
    the same training).

    Returns
    -------
    dict
        ``{(noise, model): overlay.CleanRuns}`` for the groups that have some.
    """
    from noisylab.plots.overlay import CleanRuns

    runs = results.runs[results.runs["dataset"] == dataset]
    if method is not None and "method" in runs:
        runs = runs[runs["method"].astype(str) == method]
    zero = runs[runs["level"].astype(float).abs() < 1e-12].sort_values(["noise", "repeat"],
                                                                      kind="stable")
    found: dict[tuple[str, str], list] = {}
    for _, run in zero.iterrows():
        arrays = read_npz(results, run["run_id"], "predictions")
        if arrays is None or "probs" not in arrays or "y_true" not in arrays:
            continue
        found.setdefault((run["noise"], run["model"]), []).append(
            (str(run["run_id"]), arrays["probs"], arrays["y_true"]))
    out = {}
    for noise, model in groups(runs, "noise", "model"):
        chosen = found.get((noise, model)) or next(
            (v for (n, m), v in found.items() if m == model), None)
        if chosen:
            out[(noise, model)] = CleanRuns(*(tuple(col) for col in zip(*chosen, strict=True)))
    return out


def realized_matrices(results: Results, dataset: str) -> dict:
    """Mean realized noise matrix (``noise.npz``) per (noise, model) and level of ``dataset``.

    Returns ``{(noise, model): {level: ndarray (L, L)}}``; levels without any file are absent.
    """
    runs = results.runs[results.runs["dataset"] == dataset]
    out: dict = {}
    for (noise, model, level), part in runs.groupby(["noise", "model", "level"], sort=False):
        found = [a["transition"] for a in (read_npz(results, rid, "noise")
                                           for rid in part["run_id"])
                 if a is not None and "transition" in a]
        if found:
            out.setdefault((noise, model), {})[float(level)] = np.mean(found, axis=0)
    return out


def groups(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    """Unique combinations of ``columns`` in ``frame``, in order of first appearance."""
    if frame.empty:
        return []
    return list(dict.fromkeys(frame[list(columns)].itertuples(index=False, name=None)))
