"""The smoke sweep with real Keras training through the process and Ray executors: the same rows
as sequential with ``--deterministic`` (every run pinned to one math thread).

The Ray test starts a real local cluster (``ray start --head`` on 127.0.0.1, 2 CPUs) in a
subprocess of its own session, points ``noisylab sweep --executor ray --ray-address`` at it, and
stops that cluster (and only it) at the end. It is skipped when the ``ray`` extra is absent.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from noisylab.results import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
pytestmark = pytest.mark.slow
HAS_RAY = importlib.util.find_spec("ray") is not None


def _sweep(tmp_path, name, *extra, env=None):
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "noisylab", "sweep", "--config", str(SMOKE), "--out", str(out),
         "--deterministic", *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "COLUMNS": "200", **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    frame = pd.read_csv(out / "runs.csv").drop(columns=list(TIMING_COLUMNS))
    return frame.sort_values("run_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def sequential_rows(tmp_path_factory):
    return _sweep(tmp_path_factory.mktemp("seq"), "seq")


def test_process_executor_matches_sequential(tmp_path, sequential_rows):
    rows = _sweep(tmp_path, "proc", "--executor", "process", "--workers", "2")
    assert len(rows) == 2
    pd.testing.assert_frame_equal(rows, sequential_rows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ray_cluster():
    """A local Ray head on 127.0.0.1 with 2 CPUs; yields its address; stops it after."""
    if not HAS_RAY:
        pytest.skip('the ray extra is not installed (pip install -e ".[ray]")')
    port = _free_port()
    # Ray's unix sockets live under --temp-dir, whose path must stay short (108-byte limit).
    temp = tempfile.mkdtemp(prefix="nlray", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    ray_bin = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}",
         "--node-ip-address=127.0.0.1", "--num-cpus=2", "--num-gpus=0",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        lines = []
        for line in head.stdout:
            lines.append(line)
            if "Ray runtime started" in line:
                break
            if time.monotonic() > deadline or head.poll() is not None:
                pytest.fail("ray start failed:\n" + "".join(lines[-30:]))
        yield address, env
    finally:
        # --block makes `ray start` stop the cluster's processes when it is signalled; its
        # graceful stop took 33 s here, so after 10 s the session's processes are killed.
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_executor_on_a_local_cluster_matches_sequential(tmp_path, ray_cluster,
                                                            sequential_rows):
    address, env = ray_cluster
    rows = _sweep(tmp_path, "ray", "--executor", "ray", "--ray-address", address, env=env)
    pd.testing.assert_frame_equal(rows, sequential_rows)
    meta = (tmp_path / "ray" / "metadata.json").read_text()
    assert f'"ray_address": "{address}"' in meta and '"executor": "ray"' in meta


def test_a_diverging_run_is_recorded_as_failed(tmp_path):
    out = tmp_path / "lr"
    proc = subprocess.run(
        [sys.executable, "-m", "noisylab", "sweep", "--config", str(SMOKE), "--out", str(out),
         "--levels", "0", "--lr", "1e6"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 3, proc.stderr[-3000:]
    failures = pd.read_csv(out / "failures.csv")
    assert failures["error_type"].tolist() == ["TrainingDiverged"]
    assert failures["message"][0].startswith("training diverged: the loss is ")
    assert not (out / "runs.csv").exists() or pd.read_csv(out / "runs.csv").empty
