"""``noisylab sweep`` on the command line: bad input (one line, exit 2, no folder) and smoke."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from noisylab.cli import main
from noisylab.results import RUN_COLUMNS, SUMMARY_METRICS

ROOT = Path(__file__).resolve().parents[1]


def _bad(tmp_path, *args, match):
    out = tmp_path / "results" / "x"
    result = CliRunner().invoke(main, ["sweep", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and match in lines[0], lines[0]
    assert not (tmp_path / "results").exists()
    return lines[0]


def test_unknown_noise_lists_valid_kinds(tmp_path):
    _bad(tmp_path, "--noise", "random,gaussian",
         match="unknown noise kind 'gaussian'; valid: random, symmetric, flip")


def test_unknown_dataset_lists_valid_names(tmp_path):
    _bad(tmp_path, "--dataset", "imagenet", match="unknown dataset 'imagenet'")
    line = _bad(tmp_path, "--dataset", "imagenet", match="digits")
    assert "mnist" in line


def test_unknown_model_lists_valid_names(tmp_path):
    _bad(tmp_path, "--model", "resnet50", match="unknown model 'resnet50'; valid: seed-cnn")


@pytest.mark.parametrize("levels, match", [
    ("0:1.5:0.5", "level must be in [0, 1], got 1.5"),
    ("0,0.5,2", "got 2"),
    ("-0.1", "got -0.1"),
    ("0:0.9", "'0:0.9'"),
    ("a,b", "'a,b'"),
])
def test_bad_levels(tmp_path, levels, match):
    _bad(tmp_path, "--levels", levels, match=match)


def test_repeats_below_one(tmp_path):
    _bad(tmp_path, "--repeats", "0", match="repeats must be an integer >= 1, got 0")


def test_bad_val_and_subset(tmp_path):
    _bad(tmp_path, "--val", "test", match="val must be one of clean, noisy, got 'test'")
    _bad(tmp_path, "--subset", "100000", match="subset must be at most the training set size")


def test_invalid_hdf5(tmp_path):
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((4, 8, 8, 1), dtype=np.uint8)   # no labels
    line = _bad(tmp_path, "--dataset", str(path), match="broken.h5")
    assert "labels" in line
    path.write_bytes(b"not hdf5 at all")
    _bad(tmp_path, "--dataset", str(path), match="broken.h5")


def test_unwritable_out(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (a_file / "r", Path("/proc/noisylab-test/r")):
        result = CliRunner().invoke(main, ["sweep", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert "output folder" in result.output
    assert not Path("/proc/noisylab-test").exists()


def test_config_file_errors(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("levels: 0:0.5:0.1\nrepeat: 3\n")
    _bad(tmp_path, "--config", str(cfg), match="unknown key 'repeat'")


def test_different_config_in_same_folder(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.yaml").write_text("name: other\nseed: 7\n")
    result = CliRunner().invoke(main, ["sweep", "--out", str(out)])
    assert result.exit_code == 2
    assert "holds a different config" in result.output and "another --out" in result.output


def test_help_does_not_import_keras():
    code = ("import sys; from noisylab.cli import main\n"
            "try:\n    main(['sweep', '--help'])\nexcept SystemExit: pass\n"
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.slow
def test_smoke_config_end_to_end(tmp_path):
    out = tmp_path / "smoke"
    proc = subprocess.run(
        [sys.executable, "-m", "noisylab", "sweep", "--config", str(ROOT / "configs/smoke.yaml"),
         "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"runs: {out / 'runs.csv'}" in proc.stdout
    assert "test acc" in proc.stdout            # the summary table
    for name in ("config.yaml", "metadata.json", "runs.csv", "summary.csv"):
        assert (out / name).is_file(), name
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns[: len(RUN_COLUMNS)]) == list(RUN_COLUMNS)
    assert len(runs) == 2 and runs["run_id"].is_unique
    assert runs["level"].tolist() == [0.0, 0.5]
    assert runs[["test_accuracy", "test_f1", "test_f1_macro", "test_f1_noisy",
                 "train_acc_noisy", "train_acc_true"]].notna().all().all()
    assert runs["test_accuracy"].between(0, 1).all() and (runs["epochs"] <= 2).all()
    assert (runs["n_train"] == 300).all()
    summary = pd.read_csv(out / "summary.csv")
    assert [f"{m}_mean" for m in SUMMARY_METRICS] == [c for c in summary if c.endswith("_mean")]
    for run_id in runs["run_id"]:
        folder = out / "runs" / run_id
        hist = pd.read_csv(folder / "history.csv")
        assert hist.columns[:5].tolist() == ["epoch", "loss", "accuracy", "val_loss",
                                             "val_accuracy"]
        pred = np.load(folder / "predictions.npz")
        assert pred["probs"].shape == (len(pred["y_true"]), 10)
        np.testing.assert_allclose(pred["probs"].sum(axis=1), 1.0, rtol=1e-4)
        assert set(np.load(folder / "noise.npz").files) >= {"transition", "corrupted",
                                                            "noisy_labels"}
    # again: everything is kept
    again = subprocess.run(
        [sys.executable, "-m", "noisylab", "sweep", "--config", str(ROOT / "configs/smoke.yaml"),
         "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert again.returncode == 0 and "0 runs done, 2 kept" in again.stdout


def test_backend_start_chatter_is_dropped_and_other_stderr_kept(capfd):
    import os

    from noisylab.cli.sweep import _quiet_backend_start

    chatter = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795.1 1 port.cc:153] oneDNN custom operations are on.\n"
        "E0000 00:00:1795.2 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
    )
    with _quiet_backend_start():
        os.write(2, chatter.encode())
        os.write(2, b"UserWarning: something a user must see\n")
    err = capfd.readouterr().err
    assert "something a user must see" in err
    assert "I0000" not in err and "cuInit" not in err and "absl" not in err


def test_backend_start_restores_stderr_after_an_error(capfd):
    import os

    from noisylab.cli.sweep import _quiet_backend_start

    with pytest.raises(RuntimeError), _quiet_backend_start():
        os.write(2, b"kept line\n")
        raise RuntimeError("boom")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err.splitlines() == ["kept line", "after"]


def test_executor_options_are_checked_before_any_folder(tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["sweep", "--executor", "threads", "--out", str(out)])
    assert result.exit_code == 2 and "Invalid value for '--executor'" in result.output
    result = CliRunner().invoke(main, ["sweep", "--executor", "process", "--workers", "0",
                                       "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: executor.workers must be an integer >= 1, got 0"
    assert not out.exists()


def test_progress_bar_counts_overlapping_runs_that_finish_out_of_order():
    import io

    from rich.console import Console

    from noisylab.cli.sweep import _make_progress
    from noisylab.config import SweepConfig
    from noisylab.sweep import TaskFailure, expand

    a, b, c = expand(SweepConfig(levels=(0.0, 0.5, 0.9)))
    console = Console(file=io.StringIO(), width=200)
    bar = _make_progress(console, "CPU (2 cores)")
    bar.sweep_started(total=3, skipped=0, folder=Path("r"))
    task = bar.bar.tasks[0]
    bar.run_started(a, index=0, total=3, epochs=4)
    bar.run_started(b, index=1, total=3, epochs=4)
    bar.epoch_end(a, 2, {})
    bar.epoch_end(b, 1, {})
    assert task.completed == 0.75 and task.description == f"{b.run_id} (+1 running)"
    bar.run_finished(b, {})                   # b finishes first
    assert task.completed == 1.5
    bar.run_started(c, index=2, total=3, epochs=4)
    bar.run_failed(a, TaskFailure(a.run_id, "RuntimeError", "boom", "tb"))
    assert task.completed == 2.0
    bar.epoch_end(c, 4, {})
    assert task.completed == 2.99             # a run under way never counts as finished
    bar.run_finished(c, {})
    assert task.completed == 3.0 and task.finished
    bar.stop()
    text = console.file.getvalue()
    assert "device: CPU (2 cores)" in text and f"run {a.run_id} failed: RuntimeError: boom" in text


def test_blog_cnn_refuses_digits_in_one_line(tmp_path):
    _bad(tmp_path, "--model", "blog-cnn",
         match="model blog-cnn needs images of at least 19x19 ('valid' padding, as in the blog), "
               "got 8x8 in digits; use seed-cnn")


def test_summary_table_flags_runs_at_chance(tmp_path):
    from rich.console import Console

    from noisylab.cli.sweep import _summary_table

    summary = tmp_path / "summary.csv"
    row = {"dataset": "digits", "noise": "random", "model": "seed-cnn", "n_runs": 3}
    for m in SUMMARY_METRICS:
        row[f"{m}_mean"], row[f"{m}_std"] = 0.5, 0.1
    rows = [dict(row, level=0.0, at_chance_mean=0.0), dict(row, level=0.9,
                                                           at_chance_mean=2 / 3)]
    pd.DataFrame(rows).to_csv(summary, index=False)
    console = Console(width=200, record=True)
    console.print(_summary_table(summary))
    text = console.export_text()
    lines = [line for line in text.splitlines() if "digits" in line]
    assert "AT CHANCE 2/3" in lines[1] and "AT CHANCE" not in lines[0]
    assert "at chance" in text
