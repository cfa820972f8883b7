"""The results folder of a sweep: layout, CSV schema, atomic writes, metadata and resume rules.

Layout of ``results/<name>/`` — the one description of the folder contract; ``noisylab plot``,
the README and the sweep all refer to this one::

    config.yaml                 fully resolved SweepConfig (without ``executor``, ``trainer``)
    metadata.json               versions, git commit, git_dirty, device, host, start time, the
                                executor's settings and each method's resolved options;
                                every resume appends a session under ``sessions``
    runs.csv                    one row per finished run (RUN_COLUMNS), one fsynced line appended
                                per run (`noisylab.csvlog`: a torn last line is repaired)
    failures.csv                runs that failed and are retried on the next start
                                (FAILURE_COLUMNS); absent when none failed
    .lock                       the running sweep's OS lock (`noisylab.lock`), naming pid and host
    summary.csv                 n_runs and M_mean/M_std per SUMMARY_KEYS (SUMMARY_METRICS)
    runs/<run_id>/method.npz    what a method estimated, when it did: ``transition_estimated``
                                and ``transition_realized`` (forward/backward with T
                                estimated), ``channel_initial``/``channel_final``
                                (noise-adaptation, nnaqc), ``labels_corrected``, ``labels_changed``,
                                ``changes_right``, ``selection_precision``/``_recall``
                                (label-correction), ``selected`` (bit-packed along the
                                samples: which samples each network trained on per epoch),
                                ``label_precision`` (2, epochs) (co-teaching, co-teaching+,
                                decoupling), ``forget_rate`` and ``selection_precision``/
                                ``_recall`` of the samples network 1 left out in its last
                                epoch (co-teaching, co-teaching+)
    runs/<run_id>/history.csv   per-epoch loss, accuracy, val_loss, val_accuracy[, learning_rate]
    runs/<run_id>/predictions.npz   probs (test softmax), y_true, y_noisy, test_index, images
                                (the first N_IMAGES test images), class_names
    runs/<run_id>/noise.npz     transition, corrupted, noisy_labels, train_index
    runs/<run_id>/error.txt     the traceback of a failed run (until it succeeds)
    cache/                      penultimate features for concentrated noise (``features: model``),
                                ``features-<dataset>-<model>-s<seed>-{train,test}.npy``
    plots/                      written by ``noisylab plot``: the figures and report.html

A run's files are written before its ``runs.csv`` row, each file atomically (temporary file in the
same folder, flush, fsync, ``os.replace``), so a crash leaves at most an orphan ``runs/<run_id>/``
folder without a row, which the next start overwrites, or a torn last line of ``runs.csv``, which
the next start drops (`ResultsFolder.repair`) before it redoes that run. Only one sweep writes a
folder at a time (`ResultsFolder.lock`).

This module knows nothing of the sweep: `noisylab.sweep` imports it, never the other way round.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from noisylab import csvlog
from noisylab.atomic import atomic_save_npz, remove_temp_files, write_text
from noisylab.axes import AXIS_NAMES, LEGACY, with_legacy
from noisylab.axes import SUMMARY_KEYS as AXES_SUMMARY_KEYS
from noisylab.config import SweepConfig, config_hash, load_config, to_yaml
from noisylab.errors import NoisylabError
from noisylab.lock import FolderLock
from noisylab.readers import read_json_mapping, read_npz

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


# ---------------------------------------------------------------------------------------------
# metadata

def _git(*args: str) -> str | None:
    """Output of a git command run in the package's checkout, or None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_commit() -> str:
    commit = (_git("rev-parse", "HEAD") or "").strip()
    return commit or "unknown"


def _git_dirty() -> bool | None:
    """Whether tracked files differ from the commit (results then match no commit exactly)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status.strip())


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def environment(*, device: str = "unknown") -> dict[str, Any]:
    """What produced the results: versions, git commit, device, host and start time.

    Reads versions from package metadata, so it never imports TensorFlow; the caller passes the
    device it knows of.
    """
    from noisylab import __version__

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return {
        "noisylab_version": __version__,
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": _version("keras"),
        "backend": backend,
        "backend_version": _version(backend if backend != "torch" else "torch"),
        "tensorflow": _version("tensorflow"),
        "device": device,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "start_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------------------------------
# the folder

def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        if path.parent == path:
            break
        path = path.parent
    return path


def check_writable(out: str | os.PathLike) -> None:
    """Refuse an output folder that cannot be created or written, creating nothing.

    Raises
    ------
    NoisylabError
        When ``out`` or its nearest existing ancestor is a file, or is not writable.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NoisylabError(f"output folder {out} exists and is not a folder")
    base = _nearest_existing(out)
    if not base.is_dir():
        raise NoisylabError(f"output folder {out} cannot be created: {base} is not a folder")
    # os.access is not enough (root ignores permission bits; read-only mounts): probe for real.
    try:
        fd, probe = tempfile.mkstemp(dir=base, prefix=".noisylab-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise NoisylabError(
            f"output folder {out} is not writable ({base}: {exc.strerror})") from None


class ResultsFolder:
    """The files of one sweep's results folder.

    Parameters
    ----------
    path : path-like
        ``results/<name>``; nothing is created until `create` is called.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    config_file = property(lambda self: self.path / "config.yaml")
    metadata_file = property(lambda self: self.path / "metadata.json")
    runs_csv = property(lambda self: self.path / "runs.csv")
    summary_csv = property(lambda self: self.path / "summary.csv")
    cache_dir = property(lambda self: self.path / "cache")
    failures_csv = property(lambda self: self.path / "failures.csv")

    def run_dir(self, run_id: str) -> Path:
        """``runs/<run_id>/``."""
        return self.path / "runs" / run_id

    # -- checks, before anything is written ----------------------------------------------

    def check(self, config: SweepConfig) -> None:
        """Refuse a folder that is unwritable or holds another config; create nothing.

        The rule: a folder belongs to one config hash. ``--force`` reruns that config's runs,
        but never overwrites another config's results: pick another ``--out`` (or delete it).
        """
        check_writable(self.path)
        if not self.path.exists():
            return
        wanted = config_hash(config)
        if self.config_file.is_file():
            try:
                found = config_hash(load_config(self.config_file))
            except NoisylabError as exc:
                raise NoisylabError(
                    f"{self.path} holds an unreadable config.yaml ({exc}); use another --out"
                ) from None
            if found != wanted:
                raise NoisylabError(
                    f"{self.path} holds a different config (hash {found}, this one {wanted}); "
                    "use another --out or delete that folder")
        elif any(p for p in self.path.iterdir() if not p.name.startswith(".")):
            raise NoisylabError(
                f"{self.path} is not empty and holds no config.yaml; use another --out")
        if self.metadata_file.exists():
            self.read_metadata()
        for name in ("runs.csv", "summary.csv", "failures.csv", "runs", "cache"):
            path = self.path / name
            want_dir = name in ("runs", "cache")
            if path.exists() and path.is_dir() != want_dir:
                raise NoisylabError(f"{path} should be a {'folder' if want_dir else 'file'}: "
                                    "move it away or use another --out")
        if self.failures_csv.is_file():
            self.read_failures()
        hashes = set(read_runs(self.runs_csv)["config_hash"].dropna().astype(str))
        if hashes - {wanted}:
            raise NoisylabError(
                f"{self.runs_csv} holds runs of another config (hash "
                f"{sorted(hashes - {wanted})[0]}, this one {wanted}); use another --out")

    def finished(self, config: SweepConfig) -> set[str]:
        """run_ids already in runs.csv under this config's hash."""
        runs = read_runs(self.runs_csv)
        if runs.empty:
            return set()
        mine = runs[runs["config_hash"].astype(str) == config_hash(config)]
        return set(mine["run_id"].astype(str))

    # -- writing ---------------------------------------------------------------------------

    def lock(self) -> FolderLock:
        """The folder's lock (a context manager): one sweep writes a folder at a time.

        Entering it creates the folder if needed and raises `NoisylabError` naming the holder's
        pid and host when another process holds it.
        """
        return FolderLock(self.path)

    def repair(self) -> list[str]:
        """Upgrade an older runs.csv to the current columns, drop a torn last line and older
        duplicates; a note per change."""
        notes = []
        if upgrade_runs_csv(self.runs_csv):
            notes.append(f"{self.runs_csv}: upgraded to the current columns (runs from before "
                         "a column existed get its legacy value: method ce, trainer keras)")
        return notes + csvlog.repair(self.runs_csv, _header(RUN_COLUMNS), what="run",
                                     check=check_run_fields)

    def create(self, config: SweepConfig, *, device: str = "unknown",
               executor: Mapping[str, Any] | None = None,
               methods: Mapping[str, Any] | None = None,
               trainer: Mapping[str, Any] | None = None) -> None:
        """Create the folder, clear temporary files of a killed run, write config and metadata.

        metadata.json keeps the first session's fields at the top level and lists every session
        (start time, git commit, host, versions, the executor's and the trainer's settings)
        under ``sessions``.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        remove_temp_files(self.path)
        if not self.config_file.is_file():
            write_text(self.config_file, to_yaml(config, executor=False))
        env = environment(device=device)
        if executor is not None:
            env["executor"] = dict(executor)
        if trainer is not None:
            env["trainer"] = dict(trainer)
        if methods:
            env["methods"] = dict(methods)
        meta: dict[str, Any] = self.read_metadata() if self.metadata_file.is_file() else {}
        if not meta:
            meta = {**env, "config_hash": config_hash(config)}
        meta.setdefault("sessions", []).append(env)
        write_text(self.metadata_file, json.dumps(meta, indent=2) + "\n")

    def read_metadata(self) -> dict[str, Any]:
        """metadata.json, which must be a JSON object whose ``sessions`` is a list."""
        meta = read_json_mapping(self.metadata_file, what="file")
        if not isinstance(meta.get("sessions", []), list):
            raise NoisylabError(f"{self.metadata_file} is damaged: 'sessions' is not a list; "
                                "move it away or use another --out")
        return meta

    def write_run_files(self, run_id: str, *, history: Mapping[str, list[float]],
                        predictions: Mapping[str, np.ndarray],
                        noise: Mapping[str, np.ndarray],
                        method: Mapping[str, np.ndarray] | None = None) -> Path:
        """Write ``runs/<run_id>/`` (history.csv, predictions.npz, noise.npz and, when a method
        estimated something, method.npz), each atomically."""
        folder = self.run_dir(run_id)
        existed = folder.exists()
        written = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            written.append(write_text(folder / "history.csv", history_csv(history)))
            written.append(atomic_save_npz(folder / "predictions.npz", **predictions))
            written.append(atomic_save_npz(folder / "noise.npz", **noise))
            if method:
                written.append(atomic_save_npz(folder / "method.npz", **method))
        except BaseException:
            # No half-written run folder: its row is not written, so its files go too.
            for path in written:
                path.unlink(missing_ok=True)
            if not existed:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    def append_row(self, row: Mapping[str, Any]) -> None:
        """Append one run's row to runs.csv: one line, one write, fsynced.

        Earlier rows are never rewritten, so a row costs the same at run 300 as at run 1. A
        newer row of a run id already present (``--force``) supersedes the older one for every
        reader (`read_runs`), and `repair` drops the older one on the next start.
        """
        missing = [c for c in RUN_COLUMNS if c not in row]
        if missing:
            raise KeyError(f"runs.csv row misses columns: {', '.join(missing)}")
        upgrade_runs_csv(self.runs_csv)
        csvlog.append_line(self.runs_csv, format_row(row, RUN_COLUMNS), _header(RUN_COLUMNS))

    # -- failures ----------------------------------------------------------------------------

    def read_failures(self) -> list[dict[str, str]]:
        """failures.csv's rows (empty when absent)."""
        if not self.failures_csv.is_file():
            return []
        from noisylab.readers import read_text

        rows = list(csv.DictReader(io.StringIO(read_text(self.failures_csv, what="file"))))
        if rows and any(c not in rows[0] for c in FAILURE_COLUMNS):
            raise NoisylabError(f"{self.failures_csv} has other columns than "
                                f"{', '.join(FAILURE_COLUMNS)}; move it away (its runs are "
                                "retried anyway) or use another --out")
        return rows

    def _write_failures(self, rows: list[dict[str, str]]) -> None:
        if not rows:
            self.failures_csv.unlink(missing_ok=True)
            return
        text = _header(FAILURE_COLUMNS) + "".join(format_row(r, FAILURE_COLUMNS) for r in rows)
        write_text(self.failures_csv, text)

    def record_failure(self, run_id: str, *, config_hash: str, error_type: str, message: str,
                       traceback: str) -> Path:
        """Record a failed run: ``runs/<run_id>/error.txt`` and its line in failures.csv."""
        folder = self.run_dir(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        error_file = write_text(folder / "error.txt", traceback)
        rows = [r for r in self.read_failures() if r["run_id"] != run_id]
        rows.append({"run_id": run_id, "config_hash": config_hash, "error_type": error_type,
                     "message": message,
                     "error_file": str(error_file.relative_to(self.path))})
        self._write_failures(rows)
        return error_file

    def clear_failure(self, run_id: str) -> None:
        """Forget an earlier failure of a run that has now finished."""
        (self.run_dir(run_id) / "error.txt").unlink(missing_ok=True)
        rows = self.read_failures()
        if any(r["run_id"] == run_id for r in rows):
            self._write_failures([r for r in rows if r["run_id"] != run_id])

    def write_summary(self) -> Path:
        """Recompute summary.csv from runs.csv (atomically)."""
        table = summarize(read_runs(self.runs_csv))
        write_text(self.summary_csv, table.to_csv(index=False, na_rep="nan"))
        return self.summary_csv
