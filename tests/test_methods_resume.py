"""Every method whose training is more than a loss resumes after SIGKILL like ``ce``: the real
CLI and Keras trainer in a subprocess, killed in the middle of the sweep, then resumed; the
resumed sweep's rows equal an uninterrupted one's (``--deterministic``), every run has its
``method.npz`` and nothing half-written is left.

The methods: the two-network ones and those with per-sample state (`noisylab.training.batchloop`),
those that train a CE model first, and NNAQC's channel layer — each keeps state that a kill
could leave behind half-made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from noisylab.results import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow   # two short Keras sweeps and a third cut short: about 2 minutes

METHODS = ("coteaching", "coteaching-plus", "decoupling", "elr", "joint-optimization",
           "noise-adaptation", "label-correction", "nnaqc")
ARGS = ("sweep", "--dataset", "digits", "--noise", "symmetric", "--levels", "0.4",
        "--method", ",".join(METHODS), "--subset", "200", "--epochs", "2", "--patience", "2",
        "--deterministic")


def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "noisylab", *ARGS, "--out", str(out)]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}


def _rows(runs_csv: Path) -> int:
    try:
        return max(0, len(runs_csv.read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def _frame(out: Path) -> pd.DataFrame:
    frame = pd.read_csv(out / "runs.csv").drop(columns=list(TIMING_COLUMNS))
    return frame.sort_values("run_id").reset_index(drop=True)


def test_each_method_resumes_after_sigkill_with_the_rows_of_an_uninterrupted_sweep(tmp_path):
    reference = tmp_path / "whole"
    done = subprocess.run(_command(reference), capture_output=True, text=True, cwd=ROOT,
                          timeout=900, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "killed"
    runs_csv = out / "runs.csv"
    proc = subprocess.Popen(_command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=_env())
    deadline = time.monotonic() + 600
    while _rows(runs_csv) < 3:
        assert proc.poll() is None, f"sweep ended early: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.05)
    time.sleep(1.0)   # inside the fourth run (decoupling or later)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = runs_csv.read_bytes()
    kept = _rows(runs_csv)
    assert 3 <= kept < len(METHODS)

    resumed = subprocess.run(_command(out), capture_output=True, text=True, cwd=ROOT,
                             timeout=900, env=_env())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{len(METHODS) - kept} runs done, {kept} kept" in resumed.stdout
    assert runs_csv.read_bytes().startswith(killed)        # earlier rows byte-identical
    rows = _frame(out)
    assert sorted(rows["method"]) == sorted(METHODS)
    pd.testing.assert_frame_equal(rows, _frame(reference))
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for run_id in rows["run_id"]:
        assert (out / "runs" / run_id / "method.npz").is_file()
