"""Results folder: atomic writes, CSV rows, summary, metadata, writability checks."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from noisylab.config import SweepConfig, config_hash, resolve
from noisylab.errors import NoisylabError
from noisylab.results import (
    FAILURE_COLUMNS,
    RUN_COLUMNS,
    SUMMARY_METRICS,
    ResultsFolder,
    check_writable,
    format_value,
    history_csv,
    read_runs,
    summarize,
)


def _row(run_id="a", level=0.1, acc=0.9, h="h"):
    row = {c: 0 for c in RUN_COLUMNS}
    row.update(run_id=run_id, config_hash=h, dataset="digits", noise="random", level=level,
               model="m", val_policy="clean", test_accuracy=acc, detection_auroc=float("nan"))
    return row


def test_format_value_round_trips():
    assert format_value(0.1) == "0.1"
    assert float(format_value(1 / 3)) == 1 / 3
    assert format_value(float("nan")) == "nan"
    assert format_value(np.int64(3)) == "3" and format_value(None) == ""


def test_append_row_appends_and_the_newest_row_of_an_id_wins(tmp_path):
    folder = ResultsFolder(tmp_path)
    folder.append_row(_row("a", 0.0))
    folder.append_row(_row("b", 0.5))
    first = folder.runs_csv.read_bytes()
    folder.append_row(_row("a", 0.0, acc=0.5))
    assert folder.runs_csv.read_bytes().startswith(first)     # earlier rows never rewritten
    runs = read_runs(folder.runs_csv)
    assert runs["run_id"].tolist() == ["b", "a"] and runs["test_accuracy"].tolist() == [0.9, 0.5]
    assert math.isnan(runs["detection_auroc"][0])
    assert folder.repair() == [f"{folder.runs_csv}: dropped 1 older line(s) of runs listed twice "
                               "(the newest line of each is kept)"]
    assert pd.read_csv(folder.runs_csv)["run_id"].tolist() == ["b", "a"]
    with pytest.raises(KeyError, match="misses columns"):
        folder.append_row({"run_id": "c"})


def test_a_torn_last_row_is_never_counted_and_is_repaired(tmp_path):
    folder = ResultsFolder(tmp_path)
    folder.append_row(_row("a", 0.0))
    text = folder.runs_csv.read_text()
    with open(folder.runs_csv, "a") as fh:       # a crash in the middle of the next append
        fh.write(text.splitlines()[1].replace("a,", "b,", 1)[:30])
    assert read_runs(folder.runs_csv)["run_id"].tolist() == ["a"]
    cfg = SweepConfig(name="x", levels=(0.0,))
    assert folder.finished(cfg) == set()          # hash "h" is not cfg's: nothing counts
    assert folder.repair() == [f"{folder.runs_csv}: dropped a last line cut short by a crash "
                               "(run 'b', which will be redone)"]
    assert folder.runs_csv.read_text() == text


def test_failures_are_recorded_and_cleared(tmp_path):
    folder = ResultsFolder(tmp_path)
    folder.record_failure("r1", config_hash="h", error_type="ValueError",
                          message='bad, "quoted" value', traceback="Traceback ...\n")
    folder.record_failure("r2", config_hash="h", error_type="WorkerDied", message="died",
                          traceback="killed\n")
    folder.record_failure("r1", config_hash="h", error_type="KeyError", message="again",
                          traceback="Traceback 2\n")
    rows = pd.read_csv(folder.failures_csv)
    assert rows.columns.tolist() == list(FAILURE_COLUMNS)
    assert rows["run_id"].tolist() == ["r2", "r1"]
    assert rows["message"].tolist() == ["died", "again"]
    assert (tmp_path / "runs" / "r1" / "error.txt").read_text() == "Traceback 2\n"
    folder.clear_failure("r1")
    assert [r["run_id"] for r in folder.read_failures()] == ["r2"]
    assert not (tmp_path / "runs" / "r1" / "error.txt").exists()
    folder.clear_failure("r2")
    assert not folder.failures_csv.exists()


def test_summary_groups_sorts_and_uses_ddof_1():
    rows = [_row(f"r{i}", level, acc) for i, (level, acc) in enumerate(
        [(0.5, 0.6), (0.0, 0.9), (0.5, 0.8), (0.0, 0.95)])]
    rows.append({**_row("x", 0.0, 0.7), "noise": "flip"})
    table = summarize(pd.DataFrame(rows))
    assert table[["noise", "level"]].values.tolist() == [["flip", 0.0], ["random", 0.0],
                                                         ["random", 0.5]]
    assert table["n_runs"].tolist() == [1, 2, 2]
    assert table["test_accuracy_mean"].tolist()[2] == pytest.approx(0.7)
    assert table["test_accuracy_std"].tolist()[2] == pytest.approx(np.std([0.6, 0.8], ddof=1))
    assert math.isnan(table["test_accuracy_std"][0])
    for m in SUMMARY_METRICS:
        assert f"{m}_mean" in table and f"{m}_std" in table
    assert list(summarize(pd.DataFrame(columns=list(RUN_COLUMNS))).columns[:6]) == [
        "dataset", "noise", "level", "method", "model", "n_runs"]


def test_history_csv():
    text = history_csv({"loss": [1.0, 0.5], "val_accuracy": [0.1, 0.2], "extra": [3, 4]})
    lines = text.splitlines()
    assert lines[0] == "epoch,loss,val_accuracy,extra" and lines[2].startswith("2,0.5,")


def test_create_writes_config_and_metadata_then_appends_sessions(tmp_path):
    cfg = SweepConfig(name="x", levels=(0.0,))
    folder = ResultsFolder(tmp_path / "r")
    folder.check(cfg)
    assert not folder.path.exists()
    folder.create(cfg, device="CPU")
    meta = json.loads(folder.metadata_file.read_text())
    for key in ("noisylab_version", "git_commit", "python", "numpy", "keras", "backend",
                "device", "host", "start_time"):
        assert meta[key], key
    assert meta["config_hash"] == config_hash(cfg)
    assert len(meta["git_commit"]) == 40 or meta["git_commit"] == "unknown"
    assert "git_dirty" in meta
    folder.create(cfg, device="CPU")
    assert len(json.loads(folder.metadata_file.read_text())["sessions"]) == 2
    folder.check(cfg)
    with pytest.raises(NoisylabError, match=r"holds a different config \(hash "):
        folder.check(resolve(cfg, seed=3))


def test_check_writable(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(NoisylabError, match="exists and is not a folder"):
        check_writable(a_file)
    with pytest.raises(NoisylabError, match="is not a folder"):
        check_writable(a_file / "sub" / "r")
    check_writable(tmp_path / "new" / "deeper")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_check_writable_read_only(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(NoisylabError, match="not writable"):
            check_writable(ro / "r")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize(("status", "dirty"), [(" M noisylab/x.py\n", True), ("", False),
                                               (None, None)])
def test_metadata_says_when_tracked_files_differ_from_the_commit(monkeypatch, status, dirty):
    from noisylab.results import provenance

    monkeypatch.setattr(provenance, "_git", lambda *args: status if args[0] == "status" else None)
    assert provenance.environment()["git_dirty"] is dirty
