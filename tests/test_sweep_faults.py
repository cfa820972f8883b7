"""Faults through the real CLI in subprocesses, with the fake trainer: a failing run's exit
status, one sweep per folder (the lock), and the parent SIGKILLed at 20 random moments.

A small launcher runs ``noisylab sweep`` with a fake trainer from ``sweep_fakes`` (picklable, so
the process executor's workers use it too) slowed down by ``epoch_sleep`` seconds per epoch.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from noisylab.config import load_config
from noisylab.sweep import expand

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow   # subprocesses and sleeps

LAUNCHER = f"""
import functools, json, sys
if __name__ == "__main__":
    sys.path.insert(0, {str(TESTS)!r})
    import noisylab.sweep as sweep
    import noisylab.sweep.plan as plan
    import sweep_fakes
    plan._model_names = lambda: sweep_fakes.FAKE_MODELS
    trainer = functools.partial(getattr(sweep_fakes, sys.argv[1]), **json.loads(sys.argv[2]))
    real = sweep.run_sweep
    sweep.run_sweep = lambda plan, **kw: real(plan, **dict(kw, trainer=trainer))
    sweep.load_trainer = lambda: trainer   # the CLI's, for in-process runs
    from noisylab.cli import main
    main(["sweep", *sys.argv[3:]], prog_name="noisylab")
"""

CONFIG = """\
name: faults
datasets: [digits]
noise: [random]
levels: 0:0.9:0.1
subset: 200
train: {epochs: 3, patience: 1}
"""


def _start(tmp_path, out, *extra, trainer="fake_train", options=None, config=CONFIG):
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    path = tmp_path / "faults.yaml"
    path.write_text(config)
    return subprocess.Popen(
        [sys.executable, str(launcher), trainer, json.dumps(options or {}), "--config",
         str(path), "--out", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"}, start_new_session=True)


def _rows(runs_csv: Path) -> int:
    try:
        return max(0, len(runs_csv.read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def _wait_for(predicate, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"sweep ended early (rc {proc.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("sweep made no progress")
        time.sleep(0.02)


def _run_ids(tmp_path) -> list[str]:
    (tmp_path / "ids.yaml").write_text(CONFIG)
    return sorted(r.run_id for r in expand(load_config(tmp_path / "ids.yaml")))


def test_a_failing_run_gives_exit_3_naming_it_and_the_rerun_retries_it(tmp_path):
    out = tmp_path / "res"
    ids = _run_ids(tmp_path)
    bad = expand(load_config(tmp_path / "ids.yaml"))[3]
    proc = _start(tmp_path, out, "--executor", "process", "--workers", "2",
                  trainer="faulty_train", options={"fail_seeds": [bad.seed_model]})
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr
    assert f"1 run failed: {bad.run_id}" in stderr
    assert "failures.csv" in stderr and "Traceback" not in stderr
    assert len(pd.read_csv(out / "runs.csv")) == len(ids) - 1
    proc = _start(tmp_path, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert sorted(pd.read_csv(out / "runs.csv")["run_id"]) == ids
    assert not (out / "failures.csv").exists()


def test_one_sweep_per_folder(tmp_path):
    out = tmp_path / "res"
    first = _start(tmp_path, out, options={"epoch_sleep": 0.3})
    _wait_for(lambda: _rows(out / "runs.csv") >= 1, first)
    second = _start(tmp_path, out)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"Error: {out} is in use by another noisylab sweep (pid "
                               f"{first.pid} on host {socket.gethostname()}, since ")
    assert lines[0].endswith("; wait for it to end or use another --out")
    # Once the holder dies (SIGKILL: no clean-up), the folder is accepted again and resumed.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    third = _start(tmp_path, out)
    stdout, stderr = third.communicate(timeout=300)
    assert third.returncode == 0, stderr
    assert sorted(pd.read_csv(out / "runs.csv")["run_id"]) == _run_ids(tmp_path)


def test_two_sweeps_started_together_into_one_new_folder(tmp_path):
    out = tmp_path / "res"
    other = CONFIG.replace("levels: 0:0.9:0.1", "levels: 0,0.5")
    (tmp_path / "b").mkdir()
    a = _start(tmp_path, out, options={"epoch_sleep": 0.1})
    b = _start(tmp_path / "b", out, options={"epoch_sleep": 0.1}, config=other)
    results = [p.communicate(timeout=300) + (p.returncode,) for p in (a, b)]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    refused = next(r for r in results if r[2] == 2)
    errors = [line for line in refused[1].splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ")
    runs = pd.read_csv(out / "runs.csv")
    assert runs["config_hash"].nunique() == 1 and runs["run_id"].is_unique


def test_ctrl_c_with_the_process_executor_exits_130_and_resumes(tmp_path):
    out = tmp_path / "res"
    proc = _start(tmp_path, out, "--executor", "process", "--workers", "2",
                  options={"epoch_sleep": 0.3})
    _wait_for(lambda: _rows(out / "runs.csv") >= 2, proc)
    os.killpg(proc.pid, signal.SIGINT)      # what Ctrl-C does: the whole process group
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: finished runs are recorded" in stderr and "Traceback" not in stderr
    _assert_no_orphans(proc.pid)
    proc = _start(tmp_path, out, "--executor", "process", "--workers", "2")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert sorted(pd.read_csv(out / "runs.csv")["run_id"]) == _run_ids(tmp_path)


def test_parent_sigkilled_at_20_random_moments_then_resumed(tmp_path):
    out = tmp_path / "res"
    config = CONFIG.replace("levels: 0:0.9:0.1", "levels: 0:0.9:0.1\nrepeats: 8")   # 80 runs
    (tmp_path / "ids.yaml").write_text(config)
    ids = sorted(r.run_id for r in expand(load_config(tmp_path / "ids.yaml")))
    rng = random.Random(14)
    process = ("--executor", "process", "--workers", "2", "--max-runs-per-worker", "5")
    progress = [0]
    for i in range(20):
        # Every fourth start uses the process executor (its workers must die with the parent);
        # the others are sequential, which starts faster: the bookkeeping is the same.
        args = process if i % 4 == 3 else ("--executor", "sequential")
        proc = _start(tmp_path, out, *args, options={"epoch_sleep": 0.15}, config=config)
        if i % 2:
            # Half the kills fall among the runs: after a new row, while files are written.
            _wait_for(lambda: _rows(out / "runs.csv") > progress[-1], proc, timeout=180)
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            # The other half during start-up: the lock, the folder, the pool, the first runs.
            time.sleep(rng.uniform(0.2, 4.0))
        assert proc.poll() is None, "the sweep finished before 20 kills; give it more runs"
        os.kill(proc.pid, signal.SIGKILL)      # the parent only: its workers must follow it
        proc.wait()
        _assert_no_orphans(proc.pid)
        progress.append(_rows(out / "runs.csv"))
    assert 0 < progress[-1] < len(ids), progress
    proc = _start(tmp_path, out, *process, config=config)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["run_id"]) == ids                     # every run exactly once
    assert not list(out.rglob("*.tmp"))


def _assert_no_orphans(session: int, timeout: float = 15.0) -> None:
    """No process of the killed launcher's session (its workers) outlives it for long."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":   # fields[3]: session id
                left.append(int(entry.name))
        if not left:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"processes {left} outlived their killed parent {session}")
        time.sleep(0.1)
