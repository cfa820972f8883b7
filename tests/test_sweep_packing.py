"""Packed training's bookkeeping, without training: the trainer option, which runs pack together,
what a pack's outcome becomes in the results folder, and older runs.csv files.

Training itself (Keras on JAX, in subprocesses) is in ``tests/test_packed.py``.
"""

from __future__ import annotations

import pickle
import types

import numpy as np
import pytest

from noisylab.config import SweepConfig, TrainerOptions, config_hash, resolve, to_dict
from noisylab.errors import NoisylabError
from noisylab.results import RUN_COLUMNS, format_row, read_runs, upgrade_runs_csv
from noisylab.sweep import plan_sweep
from noisylab.sweep.packing import PackTask, choose_trainer, plan_tasks
from noisylab.sweep.tasks import RunTask

MODELS = ("seed-cnn", "blog-cnn", "drory-mnist")


def _plan(tmp_path, **overrides):
    config = resolve(SweepConfig(), **overrides)
    return plan_sweep(config, tmp_path / "out", model_names=MODELS)


def test_trainer_is_not_part_of_the_config_hash():
    keras = resolve(SweepConfig(), levels="0,0.5")
    packed = resolve(keras, trainer="packed", pack_size=4, pack_mechanism="vmap")
    assert packed.trainer == TrainerOptions(kind="packed", pack_size=4, mechanism="vmap")
    assert config_hash(packed) == config_hash(keras)
    assert "trainer" in to_dict(packed) and "trainer" not in to_dict(packed, executor=False)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("trainer", "fast", r"trainer\.kind must be one of keras, packed, auto, got 'fast'"),
    ("pack_size", 0, r"trainer\.pack_size must be an integer >= 1, got 0"),
    ("pack_mechanism", "scan", r"trainer\.mechanism must be one of unroll, vmap"),
])
def test_bad_trainer_options_are_one_line_errors(key, value, match):
    with pytest.raises(NoisylabError, match=match):
        resolve(SweepConfig(), **{key: value})


def test_packed_without_jax_names_the_extra(monkeypatch):
    monkeypatch.setattr("noisylab.sweep.packing.jax_installed", lambda: False)
    with pytest.raises(NoisylabError, match=r"pip install -e '\.\[jax\]'"):
        choose_trainer(resolve(SweepConfig(), trainer="packed"))
    kind, note = choose_trainer(resolve(SweepConfig(), trainer="auto"))
    assert kind == "keras" and "JAX is not installed" in note
    assert choose_trainer(SweepConfig()) == ("keras", None)


@pytest.mark.parametrize(("side", "platform", "kind"), [
    (8, "cpu", "packed"), (28, "cpu", "keras"), (8, "gpu", "keras")])
def test_auto_packs_only_where_packing_was_measured_to_win(monkeypatch, side, platform, kind):
    monkeypatch.setattr("noisylab.sweep.packing.jax_installed", lambda: True)
    monkeypatch.setattr("noisylab.sweep.packing.jax_platform", lambda: platform)
    images = types.SimpleNamespace(x_train=np.zeros((4, side, side, 1), np.uint8))
    chosen, note = choose_trainer(resolve(SweepConfig(), trainer="auto"), {"d": images})
    assert chosen == kind
    assert note.startswith(f"trainer auto: {kind} (")
    assert f"{side * side} pixels" in note or platform in note


def test_packs_group_runs_by_dataset_model_and_method(tmp_path):
    plan = _plan(tmp_path, levels="0,0.3,0.6", repeats=2, models="seed-cnn,drory-mnist",
                 methods="ce,gce,coteaching", trainer="packed", pack_size=4)
    tasks, notes = plan_tasks(plan.runs, plan.config, "packed")
    packs = [t for t in tasks if isinstance(t, PackTask)]
    alone = [t for t in tasks if isinstance(t, RunTask)]
    # 6 runs per (model, method); ce and gce pack (one task each), co-teaching trains alone
    assert sorted(len(p.runs) for p in packs) == [6, 6, 6, 6]
    for pack in packs:
        assert len({(r.dataset, r.model, r.method, r.method_options) for r in pack.runs}) == 1
    assert sorted(t.run.method for t in alone) == ["coteaching"] * 12
    assert notes == ["12 run(s) train with keras, one at a time (their methods cannot be "
                     "packed: coteaching)"]
    covered = [r.run_id for p in packs for r in p.runs] + [t.key for t in alone]
    assert sorted(covered) == sorted(r.run_id for r in plan.runs)
    # a pack travels to a worker process
    assert pickle.loads(pickle.dumps(packs[0])) == packs[0]
    # a process executor gets one pack task per worker and group
    two = resolve(plan.config, executor="process", workers=2)
    tasks, _ = plan_tasks(plan.runs, two, "packed")
    assert sorted(len(t.runs) for t in tasks if isinstance(t, PackTask)) == [3] * 8
    keras_tasks, _ = plan_tasks(plan.runs, plan.config, "keras")
    assert all(isinstance(t, RunTask) for t in keras_tasks)


def test_reduce_lr_is_not_packed(tmp_path):
    plan = _plan(tmp_path, levels="0,0.5", reduce_lr=True, trainer="packed")
    tasks, notes = plan_tasks(plan.runs, plan.config, "packed")
    assert all(isinstance(t, RunTask) for t in tasks)
    assert "reduce_lr is not supported" in notes[0]


def test_runs_csv_without_the_trainer_columns_is_read_and_upgraded(tmp_path):
    older = tuple(c for c in RUN_COLUMNS if c not in ("trainer", "pack_size"))
    row = {c: "" for c in older} | {"run_id": "digits-random-0.000-r0-seed-cnn",
                                    "config_hash": "abc123def456", "method": "ce",
                                    "test_accuracy": "0.97", "at_chance": "False"}
    path = tmp_path / "runs.csv"
    path.write_text(format_row({c: c for c in older}, older) + format_row(row, older))
    frame = read_runs(path)
    assert list(frame.columns) == list(RUN_COLUMNS)
    assert frame.loc[0, "trainer"] == "keras" and frame.loc[0, "pack_size"] == 1
    assert frame.loc[0, "test_accuracy"] == pytest.approx(0.97)
    assert upgrade_runs_csv(path)
    assert path.read_text().splitlines()[0] == format_row({c: c for c in RUN_COLUMNS},
                                                          RUN_COLUMNS).strip()
    assert read_runs(path).loc[0, "trainer"] == "keras"
    assert not upgrade_runs_csv(path)
