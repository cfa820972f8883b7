"""`ResultsFolder`: the files of one sweep's results folder (see `noisylab.results` for the
layout), written atomically, locked by one sweep at a time, repaired and upgraded on resume.

Internal to `noisylab.results`, which re-exports the public names.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from noisylab import csvlog
from noisylab.atomic import atomic_save_npz, remove_temp_files, write_text
from noisylab.config import SweepConfig, config_hash, load_config, to_yaml
from noisylab.errors import NoisylabError
from noisylab.lock import FolderLock
from noisylab.readers import read_json_mapping
from noisylab.results.provenance import environment
from noisylab.results.schema import (
    FAILURE_COLUMNS,
    RUN_COLUMNS,
    _header,
    check_run_fields,
    format_row,
    history_csv,
    read_runs,
    summarize,
    upgrade_runs_csv,
)


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
