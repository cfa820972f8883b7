"""The CSV schema of a results folder: the columns of runs.csv, summary.csv, failures.csv and
history.csv, how a cell is written, how runs.csv is read, checked and upgraded from earlier
headers, and the summary of runs by grid point.

Internal to `noisylab.results`, which re-exports the public names.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from noisylab import csvlog
from noisylab.atomic import write_text
from noisylab.axes import AXIS_NAMES, LEGACY, with_legacy
from noisylab.axes import SUMMARY_KEYS as AXES_SUMMARY_KEYS
from noisylab.readers import read_npz

#: runs.csv columns, in order: the run id, the config hash, the grid's axes
#: (`noisylab.axes.AXES`), then how the run was made and what it measured.
RUN_COLUMNS = (
    "run_id", "config_hash", *AXIS_NAMES, "method_options", "oracle", "val_policy",
    "seed_split", "seed_noise", "seed_model", "n_train", "n_val", "n_test",
    "realized_noise_rate", "test_accuracy", "test_f1", "test_f1_macro", "test_f1_noisy",
    "train_acc_noisy", "train_acc_true", "detection_auroc", "detection_ap", "transition_error",
    "best_epoch", "epochs", "at_chance", "train_seconds", "images_per_second", "trainer",
    "pack_size",
)
#: Columns added after results folders existed, with the value they have in those folders'
#: runs: axes at their legacy value (``method``: ``ce``), no options, no oracle information, no
#: estimated transition. A runs.csv without them is read with these values and upgraded to the
#: current columns when a sweep resumes it (`ResultsFolder.repair`).
ADDED_COLUMNS = {**LEGACY, "method_options": "{}", "oracle": False, "transition_error": None,
                 "at_chance": None, "trainer": "keras", "pack_size": 1}
#: The columns of runs.csv files written before `ADDED_COLUMNS` existed.
LEGACY_RUN_COLUMNS = tuple(c for c in RUN_COLUMNS if c not in ADDED_COLUMNS)
#: Every earlier runs.csv header, oldest first (each one is read and upgraded): before the
#: method axis, and before the trainer columns (packed training).
EARLIER_RUN_COLUMNS = (
    LEGACY_RUN_COLUMNS,
    tuple(c for c in RUN_COLUMNS if c not in ("trainer", "pack_size")),
)
#: Columns that measure time and so differ between otherwise identical runs.
TIMING_COLUMNS = ("train_seconds", "images_per_second")
#: Metrics averaged in summary.csv.
SUMMARY_METRICS = (
    "test_accuracy", "test_f1", "test_f1_macro", "test_f1_noisy", "train_acc_noisy",
    "train_acc_true", "detection_auroc", "detection_ap", "realized_noise_rate", "at_chance",
)
#: What summary.csv groups by: every axis but the repeat.
SUMMARY_KEYS = AXES_SUMMARY_KEYS
#: failures.csv columns, in order.
FAILURE_COLUMNS = ("run_id", "config_hash", "error_type", "message", "error_file")
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
#: How many test images predictions.npz keeps for the plots.
N_IMAGES = 64


# ---------------------------------------------------------------------------------------------
# CSV formatting

def format_value(value: Any) -> str:
    """One CSV cell: floats round-trip exactly (``repr``), NaN is ``nan``, None is empty."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def format_row(row: Mapping[str, Any], columns: Iterable[str]) -> str:
    """A CSV line (with its newline) of ``row``'s values in ``columns`` order."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([format_value(row.get(c)) for c in columns])
    return buf.getvalue()


def history_csv(history: Mapping[str, list[float]]) -> str:
    """history.csv text: ``epoch`` (1-based) then the known columns, then any others."""
    keys = [k for k in HISTORY_COLUMNS[1:] if k in history]
    keys += sorted(k for k in history if k not in HISTORY_COLUMNS)
    n = max((len(history[k]) for k in keys), default=0)
    lines = [format_row({"epoch": "epoch", **{k: k for k in keys}}, ["epoch", *keys])]
    for i in range(n):
        row = {"epoch": i + 1}
        row.update({k: history[k][i] if i < len(history[k]) else None for k in keys})
        lines.append(format_row(row, ["epoch", *keys]))
    return "".join(lines)


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """A summary cell as shown to people: ``0.912 ± 0.004``, ``0.912`` (one run), ``–`` (none)."""
    if mean is None or math.isnan(mean):
        return "–"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def summarize(runs):
    """summary.csv's table from runs.csv's: one row per (dataset, noise, level, method, model).

    Parameters
    ----------
    runs : pandas.DataFrame
        With the `SUMMARY_KEYS` columns (an axis added later, absent in an older frame, takes
        its legacy value: ``method`` = ``ce``); metrics of `SUMMARY_METRICS` that are absent
        (an older or hand-edited runs.csv) are left out of the summary.

    Returns
    -------
    pandas.DataFrame
        `SUMMARY_KEYS`, ``n_runs`` and ``M_mean, M_std`` per metric (std with ddof=1, NaN for a
        single run), sorted by the keys with the level last.
    """
    import pandas as pd

    runs = with_legacy(runs)
    metrics = [m for m in SUMMARY_METRICS if m in runs.columns]
    columns = [*SUMMARY_KEYS, "n_runs"]
    for m in metrics:
        columns += [f"{m}_mean", f"{m}_std"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    table = runs[list(SUMMARY_KEYS)].copy()
    for m in metrics:
        column = runs[m]
        if column.dtype == bool or column.dtype == object:
            # at_chance: True/False (read back as bools, or as text when a cell is empty)
            column = column.map({True: 1.0, False: 0.0, "True": 1.0, "False": 0.0})
        table[m] = pd.to_numeric(column, errors="coerce").astype(float)
    grouped = table.groupby(list(SUMMARY_KEYS), sort=False)
    stats = grouped[metrics].agg(["mean", "std"])  # pandas' std has ddof=1
    stats.columns = [f"{m}_{s}" for m, s in stats.columns]
    out = stats.join(grouped.size().rename("n_runs"))
    order = [k for k in SUMMARY_KEYS if k != "level"] + ["level"]
    out = out.reset_index().sort_values(order, kind="stable")
    return out[columns].reset_index(drop=True)


def read_predictions(path: str | os.PathLike, *, keys: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (e.g. ``predictions.npz``), never unpickling anything.

    Raises
    ------
    NoisylabError
        When the file cannot be read as an ``.npz`` archive or lacks one of ``keys``.
    """
    return read_npz(path, keys=tuple(keys), what="file")


_HASH = re.compile(r"^[0-9A-Za-z]+$")


def _number_ok(text: str) -> bool:
    if text in ("", "True", "False"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_run_fields(fields: list[str], columns: tuple[str, ...] = RUN_COLUMNS) -> str | None:
    """What is wrong with one runs.csv line (its fields in ``columns`` order), or None.

    A run id must be there, the config hash must be a word of letters and digits (the sweep
    then compares it with its own), and every metric of
    `SUMMARY_METRICS` must be a number (or empty/``nan``), so that a damaged row is never
    taken for a finished run.
    """
    row = dict(zip(columns, fields, strict=True))
    if not row["run_id"].strip():
        return "the run_id is empty"
    if not _HASH.match(row["config_hash"]):
        return f"config_hash {row['config_hash'][:20]!r} is not a hash"
    for column in SUMMARY_METRICS:
        if column in row and not _number_ok(row[column].strip()):
            return f"{column} {row[column][:20]!r} is not a number"
    return None


def _header(columns: Iterable[str]) -> str:
    columns = tuple(columns)
    return format_row({c: c for c in columns}, columns)


def read_runs(path: str | os.PathLike, *, notes: list[str] | None = None):
    """runs.csv as a DataFrame (empty with the schema's columns when the file is absent).

    A torn last line (a crash while appending) is left out (with a note in ``notes``), and a
    run id that appears twice (a ``--force`` rerun) counts once, with its newest row. Every
    whole line is checked (`check_run_fields`).

    Raises
    ------
    NoisylabError
        When the file cannot be read, the header is not this version's, or a line is
        damaged (wrong field count, bad config hash, a metric that is not a number).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    columns = _columns_of(path)
    header = _header(columns)
    lines, torn = csvlog.split_lines(path, header,
                                     check=lambda fields: check_run_fields(fields, columns))
    if torn is not None and notes is not None:
        notes.append(f"{path}: its last line was cut short by a crash and is left out")
    frame = pd.read_csv(io.StringIO(header + "".join(lines)), keep_default_na=True,
                        dtype={"run_id": str, "config_hash": str})
    if columns != RUN_COLUMNS:
        frame = frame.assign(**{c: v for c, v in ADDED_COLUMNS.items() if c not in frame})
        frame = frame[list(RUN_COLUMNS)]
    return frame.drop_duplicates("run_id", keep="last").reset_index(drop=True)


def _columns_of(path: Path) -> tuple[str, ...]:
    """The columns of the header runs.csv starts with: `RUN_COLUMNS` or one of
    `EARLIER_RUN_COLUMNS` (`RUN_COLUMNS` for any other start, which the reader then rejects)."""
    with open(path, "rb") as fh:
        start = fh.read(len(_header(RUN_COLUMNS)) + 1)
    for columns in EARLIER_RUN_COLUMNS:
        if start.startswith(_header(columns).encode("utf-8")):
            return columns
    return RUN_COLUMNS


def upgrade_runs_csv(path: str | os.PathLike) -> bool:
    """Rewrite a runs.csv of `EARLIER_RUN_COLUMNS` with `RUN_COLUMNS` (atomically).

    Each row keeps its values and gets `ADDED_COLUMNS`' legacy ones; a torn last line is
    dropped (its run is redone). Returns whether the file was rewritten.
    """
    path = Path(path)
    if not path.is_file():
        return False
    columns = _columns_of(path)
    if columns == RUN_COLUMNS:
        return False
    lines, _ = csvlog.split_lines(path, _header(columns))
    out = [_header(RUN_COLUMNS)]
    for fields in csv.reader(io.StringIO("".join(lines))):
        row = {**ADDED_COLUMNS, **dict(zip(columns, fields, strict=True))}
        out.append(format_row(row, RUN_COLUMNS))
    write_text(path, "".join(out))
    return True
