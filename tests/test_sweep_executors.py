"""Executors with the fast fake trainer: pickled tasks, process pool = sequential, failure
isolation (a raising trainer, a SIGKILLed worker), progress events, metadata."""

from __future__ import annotations

import functools
import json
import pickle

import pandas as pd
import pytest
from sweep_fakes import FAKE_MODELS, fake_extract, fake_train, faulty_train

from noisylab.config import ExecutorOptions, SweepConfig, TrainOptions, config_hash
from noisylab.errors import NoisylabError
from noisylab.results import TIMING_COLUMNS
from noisylab.sweep import Progress, expand, plan_sweep, run_sweep
from noisylab.sweep.executors import TaskFailure, make_executor, run_task
from noisylab.sweep.executors.base import EpochEnded, TaskStarted
from noisylab.sweep.tasks import FeatureTask, RunTask, WorkerContext, WorkerSetup


def small(**kw) -> SweepConfig:
    base = dict(name="t", datasets=("digits",), noise=("random",), levels=(0.0, 0.3, 0.6, 0.9),
                models=("fake",), subset=200, train=TrainOptions(model="fake", epochs=3))
    base.update(kw)
    return SweepConfig(**base)


def with_executor(config: SweepConfig, kind: str, **kw) -> SweepConfig:
    import dataclasses

    return dataclasses.replace(config, executor=ExecutorOptions(kind=kind, **kw))


def sweep(config, out, *, trainer=fake_train, progress=None, force=False):
    plan = plan_sweep(config, out, force=force, model_names=FAKE_MODELS)
    return run_sweep(plan, trainer=trainer, progress=progress, feature_extract=fake_extract)


def rows(path) -> pd.DataFrame:
    frame = pd.read_csv(path).drop(columns=list(TIMING_COLUMNS))
    return frame.sort_values("run_id").reset_index(drop=True)


class Recorder(Progress):
    def __init__(self):
        self.events = []

    def run_started(self, run, *, index, total, epochs):
        self.events.append(("start", run.run_id, index, total))

    def epoch_end(self, run, epoch, logs):
        self.events.append(("epoch", run.run_id, epoch))

    def run_finished(self, run, row):
        self.events.append(("done", run.run_id))

    def run_failed(self, run, failure):
        self.events.append(("failed", run.run_id, failure.error_type))


# --- the task that travels ---------------------------------------------------------------------

def test_tasks_setup_and_results_survive_pickling(tmp_path):
    config = small()
    run = expand(config)[1]
    setup = WorkerSetup(config=config, config_hash=config_hash(config), cache_dir=str(tmp_path),
                        trainer=functools.partial(fake_train, epoch_sleep=0.0))
    for obj in (RunTask(run), FeatureTask.for_run(run, config),
                TaskFailure("a", "ValueError", "bad", "tb"), TaskStarted("a", 1, "h"),
                EpochEnded("a", 2, {"loss": 0.5})):
        assert pickle.loads(pickle.dumps(obj)) == obj
    copy = pickle.loads(pickle.dumps(setup))
    assert copy.config == config and copy.trainer.func is fake_train
    assert copy.trainer.keywords == {"epoch_sleep": 0.0}
    # A task run in a context rebuilt from the pickled setup gives the outcome of the original.
    emitted = []
    context = WorkerContext(pickle.loads(pickle.dumps(setup)), emitted.append)
    outcome = pickle.loads(pickle.dumps(run_task(pickle.loads(pickle.dumps(RunTask(run))),
                                                 context)))
    assert outcome.run == run and outcome.row["run_id"] == run.run_id
    assert [type(e) for e in emitted] == [TaskStarted, EpochEnded, EpochEnded, EpochEnded]
    again = run_task(RunTask(run), WorkerContext(setup, emitted.append))
    assert again.row["test_accuracy"] == outcome.row["test_accuracy"]


def test_run_task_returns_a_failure_instead_of_raising(tmp_path):
    config = small()
    run = expand(config)[0]
    setup = WorkerSetup(config=config, config_hash="h", cache_dir=str(tmp_path),
                        trainer=functools.partial(faulty_train, fail_seeds=(run.seed_model,)))
    failure = run_task(RunTask(run), WorkerContext(setup, lambda e: None))
    assert isinstance(failure, TaskFailure) and failure.key == run.run_id
    assert failure.error_type == "RuntimeError"
    assert failure.message == f"injected failure for seed {run.seed_model}"
    assert "Traceback" in failure.traceback and "faulty_train" in failure.traceback


def test_diverged_training_is_a_failure(tmp_path):
    config = small()
    run = expand(config)[0]

    setup = WorkerSetup(config=config, config_hash="h", cache_dir=str(tmp_path),
                        trainer=nan_train)
    failure = run_task(RunTask(run), WorkerContext(setup, lambda e: None))
    assert isinstance(failure, TaskFailure) and failure.error_type == "TrainingDiverged"
    assert "the loss is nan at epoch 2" in failure.message


def nan_train(*args, **kwargs):
    import dataclasses

    result = fake_train(*args, **kwargs)
    history = dict(result.history, loss=[1.0, float("nan"), float("nan")])
    return dataclasses.replace(result, history=history)


# --- the process executor: same rows, events, failure isolation -------------------------------
# Each pool start loads the datasets in every worker (seconds on a busy machine): few pools.

def test_process_executor_isolates_failures_and_writes_the_sequential_rows(tmp_path):
    config = with_executor(small(), "process", workers=2, max_runs_per_worker=2)
    runs = expand(config)
    bad, victim = runs[1], runs[2]
    out = tmp_path / "par"
    recorder = Recorder()
    result = sweep(config, out, progress=recorder, trainer=functools.partial(
        faulty_train, fail_seeds=(bad.seed_model,), kill_seeds=(victim.seed_model,),
        marker_dir=str(tmp_path)))
    # The raising run is recorded and the others finish; the killed one was retried.
    assert (tmp_path / f"killed-{victim.seed_model}").exists()
    assert result.failed == [bad.run_id] and result.n_done == 3
    assert ("failed", bad.run_id, "RuntimeError") in recorder.events
    failures = pd.read_csv(out / "failures.csv")
    assert failures["run_id"].tolist() == [bad.run_id]
    assert failures["error_type"].tolist() == ["RuntimeError"]
    assert failures["message"].tolist() == [f"injected failure for seed {bad.seed_model}"]
    assert failures["error_file"].tolist() == [f"runs/{bad.run_id}/error.txt"]
    assert "raise RuntimeError" in (out / "runs" / bad.run_id / "error.txt").read_text()
    ids = pd.read_csv(result.runs_csv)["run_id"].tolist()
    assert sorted(ids) == sorted(r.run_id for r in runs if r != bad)   # each exactly once
    # Progress: every run started, ran its epochs in order and finished or failed, in any order.
    done = [e[1] for e in recorder.events if e[0] == "done"]
    assert sorted(done) == sorted(ids)
    started = [e[1] for e in recorder.events if e[0] == "start"]
    assert sorted(set(started)) == sorted(r.run_id for r in runs)
    # The killed run started twice; a run that shared the broken pool may have been restarted
    # too (the pool stops every worker when one dies), but free of charge.
    assert started.count(victim.run_id) == 2 and 5 <= len(started) <= 6
    assert [e[2] for e in recorder.events if e[0] == "start"] == list(range(len(started)))
    for run_id in done:
        epochs = [e[2] for e in recorder.events if e[:2] == ("epoch", run_id)]
        assert epochs[-3:] == [1, 2, 3]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["sessions"][-1]["executor"] == {
        "executor": "process", "workers": 2, "max_runs_per_worker": 2, "threads_per_run": 1}
    assert meta["config_hash"] == config_hash(small())
    assert "executor" not in (out / "config.yaml").read_text()
    # The rerun (sequential this time: the config hash ignores the executor) retries only the
    # failed run, clears its failure, and the rows equal those of a sequential sweep.
    again = sweep(small(), out)
    assert again.n_done == 1 and again.n_skipped == 3 and not again.failed
    assert not (out / "failures.csv").exists()
    assert not (out / "runs" / bad.run_id / "error.txt").exists()
    pd.testing.assert_frame_equal(rows(out / "runs.csv"),
                                  rows(sweep(small(), tmp_path / "seq").runs_csv))
    meta = json.loads((out / "metadata.json").read_text())
    assert [s["executor"]["executor"] for s in meta["sessions"]] == ["process", "sequential"]


def test_a_raising_run_is_recorded_by_the_sequential_executor_too(tmp_path):
    config = small()
    bad = expand(config)[0]
    out = tmp_path / "r"
    result = sweep(config, out, trainer=functools.partial(faulty_train,
                                                          fail_seeds=(bad.seed_model,)))
    assert result.failed == [bad.run_id] and result.n_done == 3
    assert pd.read_csv(out / "failures.csv")["run_id"].tolist() == [bad.run_id]
    assert len(pd.read_csv(out / "runs.csv")) == 3


@pytest.mark.slow   # three pool starts
def test_a_run_that_always_kills_its_worker_is_recorded_as_failed(tmp_path):
    config = with_executor(small(levels=(0.0, 0.3)), "process", workers=1)
    victim = expand(config)[0]
    result = sweep(config, tmp_path / "r", trainer=functools.partial(
        faulty_train, kill_seeds=(victim.seed_model,), marker_dir=str(tmp_path), always=True))
    assert result.failed == [victim.run_id] and result.n_done == 1
    failures = pd.read_csv(tmp_path / "r" / "failures.csv")
    assert failures["error_type"].tolist() == ["WorkerDied"]
    assert failures["message"].tolist() == ["its worker process died 2 times (killed by SIGKILL)"]


def test_resume_with_another_executor_keeps_the_folder(tmp_path):
    out = tmp_path / "r"
    sweep(small(levels=(0.0, 0.3)), out)
    config = with_executor(small(levels=(0.0, 0.3)), "process", workers=2)
    assert config_hash(config) == config_hash(small(levels=(0.0, 0.3)))
    result = sweep(config, out)     # nothing to do: no pool is started
    assert result.n_done == 0 and result.n_skipped == 2


def test_feature_models_are_trained_once_in_a_planned_step(tmp_path):
    conc = dict(noise=("concentrated",), noise_options={"concentrated": {"features": "model"}},
                levels=(0.0, 0.3, 0.6))
    calls = []
    seq = sweep(small(**conc), tmp_path / "s",
                trainer=lambda *a, **kw: calls.append(kw.get("keep_model")) or fake_train(*a, **kw))
    assert calls == [True, None, None, None]       # the feature model first, once
    par = sweep(with_executor(small(**conc), "process", workers=2), tmp_path / "p")
    assert sorted(p.name for p in (tmp_path / "p" / "cache").iterdir()) == [
        "features-digits-fake-s0-test.npy", "features-digits-fake-s0-train.npy"]
    pd.testing.assert_frame_equal(rows(seq.runs_csv), rows(par.runs_csv))


def test_unknown_executor_is_refused_before_any_folder(tmp_path):
    with pytest.raises(NoisylabError, match="unknown executor 'threads'; valid: sequential, "
                                            "process, ray"):
        plan_sweep(with_executor(small(), "threads"), tmp_path / "r", model_names=FAKE_MODELS)
    assert not (tmp_path / "r").exists()


def test_ray_without_the_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)   # import ray -> ImportError
    with pytest.raises(NoisylabError, match=r'needs the ray extra: pip install -e "\.\[ray\]"'):
        plan_sweep(with_executor(small(), "ray"), tmp_path / "r", model_names=FAKE_MODELS)
    assert not (tmp_path / "r").exists()


def test_make_executor_pins_one_thread_when_deterministic():
    ctx = functools.partial(WorkerContext, WorkerSetup(config=small(), config_hash="h"))
    ex = make_executor(ExecutorOptions(kind="process", workers=2), make_context=ctx,
                       datasets={}, deterministic=True)
    assert ex.settings()["threads_per_run"] == 1
    seq = make_executor(ExecutorOptions(), make_context=ctx, datasets={}, deterministic=False)
    assert seq.settings() == {"executor": "sequential", "threads_per_run": "default"}


def test_a_process_pool_whose_event_server_fails_to_start_closes_cleanly(monkeypatch):
    """The start's own error reaches the caller; close() afterwards has nothing to stop (it
    used to raise AttributeError on the never-started manager, hiding the real error)."""
    from noisylab.sweep.executors import process

    class Broken(process.SyncManager):
        def start(self, *args, **kwargs):
            raise EOFError("the manager's process died while starting")

    monkeypatch.setattr(process, "SyncManager", Broken)
    executor = process.ProcessExecutor(lambda: None, workers=1, max_tasks_per_worker=1)
    with pytest.raises(EOFError, match="died while starting"):
        executor._start()
    executor.close()
