"""Packed training (`noisylab.training.packed`), Keras on JAX, each test in a subprocess.

This test process runs Keras on TensorFlow; a backend is fixed when Keras loads, so every test
here starts ``python`` with ``KERAS_BACKEND=jax``. They need the jax extra (CI installs it) and
skip without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _env(**extra) -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": "jax", "COLUMNS": "200", **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _python(code: str, tmp_path: Path) -> dict:
    """Run ``code`` under Keras on JAX; it prints one JSON object as its last line."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], env=_env(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SETUP = """
import json
import numpy as np
from noisylab.config import TrainOptions
from noisylab.data import load_digits
from noisylab.training.packed import PackMember, initial_state, train_pack

ds = load_digits()
def member(seed, labels, n=300):
    rng = np.random.default_rng(seed)
    fit = rng.choice(len(ds.y_train), n, replace=False)
    return PackMember(seed=seed, fit_index=fit, y_fit=labels[fit],
                      val_index=np.arange(150), y_val=ds.y_test[:150],
                      test_index=np.arange(150, 300))
"""


def test_members_start_from_the_keras_trainers_initial_weights(tmp_path):
    out = _python(SETUP + """
from noisylab.training.loop import fresh_model, fresh_session
options = TrainOptions(model="seed-cnn")
model, trainable, _ = initial_state([3, 11], options=options, input_shape=(8, 8, 1),
                                    num_classes=10, dataset_name="digits")
equal, differ = [], []
for i, seed in enumerate([3, 11]):
    with fresh_session(seed, options):
        alone = fresh_model(options, ds.x_train, 10, "digits")
        for stacked, v in zip(trainable, alone.trainable_variables, strict=True):
            equal.append(bool(np.array_equal(stacked[i], v.numpy())))
differ = [bool(not np.array_equal(v[0], v[1])) for v in trainable if v[0].std() > 0]
print(json.dumps({"equal": equal, "differ": differ, "n": len(trainable)}))
""", tmp_path)
    assert out["n"] == 12 and all(out["equal"]) and len(out["equal"]) == 24
    assert out["differ"] and all(out["differ"])


def test_each_member_stops_on_its_own_and_a_stopped_member_is_frozen(tmp_path):
    # Member 0 learns the true labels; member 1 has labels that carry no signal, never beats
    # chance and stops after min_epochs + patience = 2 epochs. Trained alone (a pack of one),
    # member 1 gives the same best epoch and the same predictions: its weights did not move
    # while member 0 trained on. 300 training images at batch 64: a short last batch of 44.
    out = _python(SETUP + """
options = TrainOptions(model="seed-cnn", epochs=7, patience=2, min_epochs=0)
shuffled = np.random.default_rng(5).permutation(ds.y_train)
pair = [member(1, ds.y_train), member(2, shuffled)]
logs = []
both = train_pack(ds.x_train, ds.x_test, ds.x_test, pair, options=options, num_classes=10,
                  dataset_name="digits", on_epoch_end=lambda i, e, l: logs.append((i, e)))
alone = train_pack(ds.x_train, ds.x_test, ds.x_test, pair[1:], options=options,
                   num_classes=10, dataset_name="digits")
print(json.dumps({
    "epochs": [r.epochs for r in both], "best": [r.best_epoch for r in both],
    "alone_epochs": alone[0].epochs, "alone_best": alone[0].best_epoch,
    "diff": float(np.abs(both[1].test_probs - alone[0].test_probs).max()),
    "acc": [float((r.test_probs.argmax(1) == ds.y_test[150:300]).mean()) for r in both],
    "val_hist": both[1].history["val_accuracy"],
    "alone_val_hist": alone[0].history["val_accuracy"],
    "logs": logs}))
""", tmp_path)
    assert out["epochs"] == [7, 2]
    assert out["alone_epochs"] == 2 and out["best"][1] == out["alone_best"]
    assert out["diff"] < 1e-5
    assert out["val_hist"] == pytest.approx(out["alone_val_hist"], abs=1e-6)
    assert out["acc"][0] > 0.8 > 0.3 > out["acc"][1]
    assert [e for i, e in out["logs"] if i == 1] == [1, 2]
    assert [e for i, e in out["logs"] if i == 0] == list(range(1, 8))


def test_a_pack_over_the_memory_budget_gets_fewer_slots(tmp_path):
    out = _python(SETUP + """
from noisylab.training.packed_memory import member_bytes, train_in_packs
from noisylab.training.loop import fresh_model, fresh_session
options = TrainOptions(model="seed-cnn", epochs=1, patience=1, min_epochs=0)
members = [member(s, ds.y_train, n=100) for s in range(3)]
notes, order = [], []
with fresh_session(0, options):
    need = member_bytes(fresh_model(options, ds.x_train, 10, "digits"), 64)
data = 4 * (ds.x_train.nbytes + 2 * ds.x_test.nbytes)
trained = train_in_packs(ds.x_train, ds.x_test, ds.x_test, members, options=options,
                         num_classes=10, slots=3, dataset_name="digits", on_note=notes.append,
                         on_done=lambda i, r, size: order.append((i, size)),
                         memory=data + 2 * need)
print(json.dumps({"sizes": [size for _, size in trained], "notes": notes, "order": order}))
""", tmp_path)
    assert out["sizes"] == [2, 2, 2]
    assert len(out["notes"]) == 1 and out["notes"][0].endswith("packs of 2")
    # one epoch each: members 0 and 1 finish together, then 2 takes a freed place
    assert out["order"] == [[0, 2], [1, 2], [2, 2]]


def test_a_freed_place_trains_the_next_member_as_it_would_train_alone(tmp_path):
    # Three members in two places: member 1 stops after 2 epochs (labels without signal) and
    # member 2 takes its place while member 0 trains on. Member 2 must come out as it does
    # trained alone: its own initial weights, optimizer state and data order.
    out = _python(SETUP + """
options = TrainOptions(model="seed-cnn", epochs=5, patience=2, min_epochs=0)
shuffled = np.random.default_rng(5).permutation(ds.y_train)
three = [member(1, ds.y_train), member(2, shuffled), member(3, ds.y_train)]
packed = train_pack(ds.x_train, ds.x_test, ds.x_test, three, options=options, num_classes=10,
                    dataset_name="digits", slots=2)
alone = train_pack(ds.x_train, ds.x_test, ds.x_test, three[2:], options=options,
                   num_classes=10, dataset_name="digits")
print(json.dumps({"epochs": [r.epochs for r in packed],
                  "diff": float(np.abs(packed[2].test_probs - alone[0].test_probs).max()),
                  "hist": packed[2].history["val_accuracy"],
                  "alone": alone[0].history["val_accuracy"]}))
""", tmp_path)
    assert out["epochs"][1] == 2 and out["epochs"][0] >= 3
    assert out["diff"] < 1e-5
    assert out["hist"] == pytest.approx(out["alone"], abs=1e-6)


def test_batch_norm_dropout_and_augmentation_train_per_member(tmp_path):
    # drory-mnist keeps batch-norm statistics (layer state) and robust-cnn draws dropout masks;
    # with augmentation every member also draws its own shifts and rotations
    out = _python(SETUP + """
res = {}
for model in ("drory-mnist", "robust-cnn"):
    options = TrainOptions(model=model, epochs=2, patience=1, min_epochs=2, augment=True)
    pair = train_pack(ds.x_train, ds.x_test, ds.x_test, [member(1, ds.y_train),
                      member(2, ds.y_train)], options=options, num_classes=10,
                      dataset_name="digits")
    res[model] = {"finite": bool(all(np.isfinite(r.test_probs).all() for r in pair)),
                  "sums": float(max(abs(r.test_probs.sum(1) - 1).max() for r in pair)),
                  "differ": float(np.abs(pair[0].test_probs - pair[1].test_probs).max()),
                  "epochs": [r.epochs for r in pair]}
print(json.dumps(res))
""", tmp_path)
    for model, r in out.items():
        assert r["finite"] and r["sums"] < 1e-4 and r["differ"] > 1e-3, model
        assert r["epochs"] == [2, 2], model


ARGS = ("sweep", "--dataset", "digits", "--noise", "symmetric", "--levels", "0,0.4",
        "--repeats", "2", "--epochs", "3", "--patience", "2")


def _sweep(out: Path, *extra: str, env=None, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "noisylab", *ARGS, "--out", str(out), *extra],
                          env=env or _env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_packed_sweep_records_what_the_keras_sweep_does_and_resumes_with_it(tmp_path):
    packed, keras = tmp_path / "packed", tmp_path / "keras"
    done = _sweep(packed, "--trainer", "packed", "--pack-size", "3", "--method", "ce,forward",
                  "--method-option", "forward.T=known")
    assert "4 run(s) train with keras, one at a time (their methods cannot be packed: " \
           "forward)" in done.stderr
    _sweep(keras, "--method", "ce,forward", "--method-option", "forward.T=known",
           env={k: v for k, v in _env().items() if k != "KERAS_BACKEND"})
    a = pd.read_csv(packed / "runs.csv").set_index("run_id").sort_index()
    b = pd.read_csv(keras / "runs.csv").set_index("run_id").sort_index()
    assert list(a.index) == list(b.index) and len(a) == 8
    ce = a["method"] == "ce"
    assert set(a.loc[ce, "trainer"]) == {"packed"} and set(a.loc[ce, "pack_size"]) == {3}
    assert set(a.loc[~ce, "trainer"]) == {"keras"} and set(a.loc[~ce, "pack_size"]) == {1}
    assert set(b["trainer"]) == {"keras"}
    same = ["config_hash", "seed_split", "seed_noise", "seed_model", "n_train", "n_val",
            "n_test", "realized_noise_rate"]
    pd.testing.assert_frame_equal(a[same], b[same])
    for run_id in a.index:
        for name in ("noisy_labels", "train_index"):
            x = np.load(packed / "runs" / run_id / "noise.npz")[name]
            y = np.load(keras / "runs" / run_id / "noise.npz")[name]
            assert np.array_equal(x, y), (run_id, name)
        x = np.load(packed / "runs" / run_id / "predictions.npz")
        y = np.load(keras / "runs" / run_id / "predictions.npz")
        assert np.array_equal(x["test_index"], y["test_index"])
        assert np.allclose(x["probs"].sum(1), 1, atol=1e-4)
    assert (a.loc[ce, "test_accuracy"] > 0.5).all()
    meta = json.loads((packed / "metadata.json").read_text())
    assert meta["sessions"][0]["trainer"] == {"requested": "packed", "trainer": "packed",
                                              "backend": "jax", "pack_size": 3,
                                              "mechanism": "unroll"}
    # the same sweep, resumed with the other trainer, has nothing left to do
    again = _sweep(packed, "--trainer", "keras", "--method", "ce,forward", "--method-option",
                   "forward.T=known")
    assert "0 runs done, 8 kept" in again.stdout


def test_sigkill_during_a_pack_then_resume_redoes_only_the_unwritten_runs(tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "noisylab", *ARGS, "--out", str(out), "--trainer",
               "packed", "--pack-size", "2"]
    proc = subprocess.Popen(command, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    runs_csv = out / "runs.csv"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if runs_csv.is_file() and len(runs_csv.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = pd.read_csv(runs_csv)
    assert 2 <= len(before) < 4
    done = _sweep(out, "--trainer", "packed", "--pack-size", "2")
    after = pd.read_csv(runs_csv)
    assert f"{4 - len(before)} runs done, {len(before)} kept" in done.stdout
    assert len(after) == 4 and after["run_id"].is_unique
    kept = after.set_index("run_id").loc[before["run_id"]]
    assert np.array_equal(kept["test_accuracy"].to_numpy(), before["test_accuracy"].to_numpy())
