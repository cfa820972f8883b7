"""Crash safety: SIGKILL mid-run then resume, and Ctrl-C, through the real CLI in a subprocess.

The subprocess runs ``noisylab sweep`` with the fake trainer (patched in by a small launcher
script) slowed down to ~0.2 s per epoch, so a run is long enough to be killed in the middle.
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

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow   # subprocesses and sleeps: ~30 s together

LAUNCHER = f"""
import functools, sys
if __name__ == "__main__":
    sys.path.insert(0, {str(TESTS)!r})
    import noisylab.sweep as sweep
    import noisylab.sweep.plan as plan
    from sweep_fakes import FAKE_MODELS, fake_train
    trainer = functools.partial(fake_train, epoch_sleep=float(sys.argv[1]))
    real = sweep.run_sweep
    sweep.run_sweep = lambda plan, **kw: real(plan, **dict(kw, trainer=trainer))
    sweep.load_trainer = lambda: trainer   # the CLI's, for in-process runs
    plan._model_names = lambda: FAKE_MODELS
    from noisylab.cli import main
    main(["sweep", *sys.argv[2:]], prog_name="noisylab")
"""

CONFIG = """\
name: crash
datasets: [digits]
noise: [random]
levels: 0:0.9:0.1
subset: 200
train: {epochs: 3, patience: 1}
"""


def _start(tmp_path, sleep, out, *extra):
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    config = tmp_path / "crash.yaml"
    config.write_text(CONFIG)
    return subprocess.Popen(
        [sys.executable, str(launcher), str(sleep), "--config", str(config), "--out", str(out),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"})


def _rows(runs_csv: Path) -> int:
    try:
        return max(0, len(runs_csv.read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def _wait_rows(proc, runs_csv, n, timeout=120.0):
    deadline = time.monotonic() + timeout
    while _rows(runs_csv) < n:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"sweep ended early (rc {proc.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("sweep made no progress")
        time.sleep(0.02)


def test_sigkill_mid_run_then_resume(tmp_path):
    out = tmp_path / "res"
    runs_csv = out / "runs.csv"
    proc = _start(tmp_path, 0.2, out)
    _wait_rows(proc, runs_csv, 3)
    time.sleep(0.3)   # inside the next run's epochs
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = runs_csv.read_bytes()
    finished = pd.read_csv(runs_csv)
    assert 3 <= len(finished) < 10

    proc = _start(tmp_path, 0.0, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"{10 - len(finished)} runs done, {len(finished)} kept" in stdout
    assert runs_csv.read_bytes().startswith(killed)         # earlier rows byte-identical
    runs = pd.read_csv(runs_csv)
    assert len(runs) == 10 and runs["run_id"].is_unique
    assert runs["test_accuracy"].notna().all()
    assert not list(out.rglob("*.tmp"))
    for run_id in runs["run_id"]:
        assert (out / "runs" / run_id / "predictions.npz").is_file()
    assert "runs.csv" in stdout


def test_ctrl_c_leaves_a_clean_state(tmp_path):
    out = tmp_path / "res"
    runs_csv = out / "runs.csv"
    proc = _start(tmp_path, 0.2, out)
    _wait_rows(proc, runs_csv, 1)
    time.sleep(0.25)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    runs = pd.read_csv(runs_csv)
    assert 1 <= len(runs) < 10 and runs["run_id"].is_unique
    summary = pd.read_csv(out / "summary.csv")
    assert summary["n_runs"].sum() == len(runs)
