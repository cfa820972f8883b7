"""``noisylab sweep``: train one model per grid point and write ``results/<name>/``."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import click

from noisylab.cli._common import RegistryChoice, user_errors
from noisylab.training.backend import BACKEND_CHATTER

_TABLE_METRICS = (
    ("test_accuracy", "test acc"),
    ("test_f1", "test F1"),
    ("test_f1_noisy", "F1 noisy"),
    ("train_acc_noisy", "fit noisy"),
    ("train_acc_true", "fit true"),
    ("detection_auroc", "AUROC"),
)


def _executor_names():
    from noisylab.sweep.executors import EXECUTORS

    return tuple(EXECUTORS)


def _make_progress(console, device: str | None = None):
    """A `noisylab.sweep.Progress` that drives one rich progress bar over the runs."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from noisylab.sweep import Progress as SweepProgress

    class BarProgress(SweepProgress):
        """One bar over the runs; runs may overlap and finish in any order (parallel executors).

        Progress counts finished runs plus the epoch fraction of every run under way, so the ETA
        keeps moving between finishes.
        """

        def __init__(self, device: str | None = None):
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[epoch]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
            self.device = device
            self.task = None
            self.done = 0
            self.epochs = 1
            self.active: dict[str, float] = {}   # run id -> share of its epochs done

        def sweep_started(self, *, total, skipped, folder):
            if skipped:
                console.print(f"{skipped} finished runs in {folder} are kept (use --force to "
                              "redo them)")
            if total and self.device:
                console.print(f"device: {self.device}")
            self.bar.start()
            self.task = self.bar.add_task("runs", total=max(total, 1) if total else 0,
                                          epoch="")

        def note(self, text):
            console.print(text)

        def phase(self, text):
            self.bar.update(self.task, description=text)

        def _show(self, run_id, epoch_text):
            many = len(self.active)
            description = run_id if many <= 1 else f"{run_id} (+{many - 1} running)"
            self.bar.update(self.task, completed=self.done + sum(self.active.values()),
                            description=description, epoch=epoch_text)

        def run_started(self, run, *, index, total, epochs):
            self.epochs = max(epochs, 1)
            self.active[run.run_id] = 0.0
            self._show(run.run_id, f"epoch 0/{epochs}")

        def epoch_end(self, run, epoch, logs):
            if run.run_id in self.active:
                self.active[run.run_id] = min(epoch / self.epochs, 0.99)
            self._show(run.run_id, f"epoch {epoch}/{self.epochs}")

        def _ended(self, run):
            self.active.pop(run.run_id, None)
            self.done += 1
            latest = next(reversed(self.active), "runs")
            self._show(latest, "")

        def run_finished(self, run, row):
            self._ended(run)

        def run_failed(self, run, failure):
            console.print(f"run {run.run_id} failed: {failure.error_type}: {failure.message}")
            self._ended(run)

        def stop(self):
            if self.task is not None:
                self.bar.update(self.task, description="runs", epoch="")
            self.bar.stop()

    return BarProgress(device)


@contextlib.contextmanager
def _quiet_backend_start():
    """Capture stderr while Keras and its backend load; pass on all but the start-up chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not BACKEND_CHATTER.match(line):
                    click.echo(line, err=True)


def _summary_table(summary_csv: Path):
    import pandas as pd
    from rich.table import Table

    from noisylab.axes import SUMMARY_KEYS, with_legacy
    from noisylab.results import format_mean_std

    table = Table(title=f"summary ({summary_csv})")
    keys = [k for k in SUMMARY_KEYS if k != "level"]
    for name in (*keys, "level", "n"):
        table.add_column(name, justify="right" if name in ("level", "n") else "left")
    for _, label in _TABLE_METRICS:
        table.add_column(label, justify="right")
    table.add_column("at chance", justify="right")
    frame = with_legacy(pd.read_csv(summary_csv))
    for _, row in frame.iterrows():
        cells = [*(str(row[k]) for k in keys), f"{row['level']:.3f}", str(int(row["n_runs"]))]
        for metric, _ in _TABLE_METRICS:
            cells.append(format_mean_std(row[f"{metric}_mean"], row[f"{metric}_std"]))
        cells.append(_at_chance_cell(row.get("at_chance_mean"), int(row["n_runs"])))
        table.add_row(*cells)
    return table


def _at_chance_runs(runs_csv: Path) -> list[str]:
    """run ids of the runs flagged ``at_chance`` in runs.csv."""
    from noisylab.results import read_runs

    runs = read_runs(runs_csv)
    if runs.empty or "at_chance" not in runs.columns:
        return []
    flagged = runs["at_chance"].map({True: True, "True": True}).fillna(False).astype(bool)
    return [str(r) for r in runs.loc[flagged, "run_id"]]


def _at_chance_cell(fraction, n_runs: int) -> str:
    """``AT CHANCE 2/3`` when some runs never beat chance, ``no`` when none, ``–`` unknown."""
    import math

    if fraction is None or not math.isfinite(float(fraction)):
        return "–"
    count = round(float(fraction) * n_runs)
    return f"[bold red]AT CHANCE {count}/{n_runs}[/]" if count else "no"


@click.command("sweep")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML sweep config (see configs/); options below override it.")
@click.option("--dataset", help="Dataset(s), comma-separated: digits, a prepared name or an "
              "HDF5 path.")
@click.option("--noise", help="Noise kind(s), comma-separated, e.g. random,flip.")
@click.option("--levels", help="Levels as start:stop:step (stop included) or a list 0,0.2,0.4.")
@click.option("--repeats", type=int, help="Repeats per grid point (>= 1).")
@click.option("--model", help="Model(s), comma-separated, e.g. seed-cnn.")
@click.option("--method", help="Training method(s), comma-separated, e.g. ce,gce,forward "
              "(default ce).")
@click.option("--method-option", "method_option", multiple=True, metavar="METHOD.KEY=VALUE",
              help="A method's option, e.g. gce.q=0.5 or coteaching.forget_rate=0.3; "
              "repeatable; overrides the YAML's method_options.")
@click.option("--epochs", type=int, help="Maximum epochs per run.")
@click.option("--patience", type=int, help="Early-stopping patience: counted epochs without a "
              "better validation accuracy (counted after the warm-up, from the first epoch above "
              "chance).")
@click.option("--min-epochs", type=int, help="Warm-up: epochs during which patience does not "
              "count (default 3).")
@click.option("--batch-size", type=int, help="Batch size (default: 256 from 5,000 training "
              "images up, 64 below).")
@click.option("--lr", type=float, help="Adam learning rate (default: 5e-4 from 5,000 training "
              "images up, 2e-3 below).")
@click.option("--adam-epsilon", type=float, help="Adam's epsilon (default 1e-7).")
@click.option("--val", help="Validation policy: clean (split the clean test set 50/50) or "
              "noisy (hold out part of the noisy training set).")
@click.option("--subset", type=int, help="Stratified subsample of N training images.")
@click.option("--seed", type=int, help="Root seed of every run's seeds.")
@click.option("--deterministic/--no-deterministic", default=None,
              help="TensorFlow op determinism (slower, bit-reproducible).")
@click.option("--restore-best/--last-epoch", "restore_best", default=None,
              help="Test the best validation epoch's weights (default) or the last epoch's.")
@click.option("--name", help="Name of the results folder under results/ (default: the config's "
              "name, else derived from what differs from the default sweep, e.g. "
              "mnist-random).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Results folder, exactly (default results/<name>).")
@click.option("--force", is_flag=True, help="Redo runs already finished in --out.")
@click.option("--yes", is_flag=True, help="Run a grid of more than 10,000 runs (refused "
              "without it, as a likely typo such as --levels 0:1:1e-4).")
@click.option("--executor", type=RegistryChoice(_executor_names),
              help="Where runs train: sequential (default), process (a pool on this machine) "
              "or ray (a Ray cluster; the ray extra).")
@click.option("--workers", type=int, help="Worker processes of --executor process (default: one "
              "per core).")
@click.option("--max-runs-per-worker", type=int,
              help="Runs a worker process trains before it is replaced (default 20).")
@click.option("--ray-address", help="Ray cluster for --executor ray: auto, host:port or "
              "ray://host:port (default: start a local one).")
@click.option("--num-cpus", type=float, help="CPUs per run for --executor ray (default 1).")
@click.option("--num-gpus", type=float, help="GPUs per run for --executor ray, e.g. 0.25 (default "
              "0).")
@click.option("--trainer", type=click.Choice(["keras", "packed", "auto"]),
              help="How runs train: keras (one at a time, default), packed (many runs of one "
              "model in one compiled step, Keras on JAX; the jax extra) or auto.")
@click.option("--pack-size", type=int, help="Most runs in one pack of --trainer packed "
              "(default 16; split further when the device's memory is short).")
@click.option("--pack-mechanism", type=click.Choice(["unroll", "vmap"]),
              help="How a pack's members share one program (default unroll).")
@user_errors
def sweep(config_path, dataset, noise, levels, repeats, model, method, method_option, epochs,
          patience, min_epochs, batch_size, lr, adam_epsilon, val, subset, seed, deterministic,
          restore_best, name, out,
          force, yes, executor, workers, max_runs_per_worker, ray_address, num_cpus, num_gpus,
          trainer, pack_size, pack_mechanism):
    """Train a fresh model per dataset x noise x level x repeat x method x model; record metrics.

    With no options: digits, random noise at levels 0-0.9, one repeat (about a minute on two
    CPU cores), in results/default. Without --out each variation gets its own folder, named
    after what differs from the default (--noise flip: results/digits-flip); a rerun of the same
    command resumes in its folder (and retries failed runs).

    Exit status: 0 all runs finished, 2 a user mistake (nothing written), 3 some runs failed
    (named on stderr and in failures.csv), 130 interrupted (resumable).
    """
    from rich.console import Console

    from noisylab.config import default_config, load_config, merge_method_options, resolve
    from noisylab.sweep import MAX_RUNS, device_name, load_trainer, plan_sweep, run_sweep
    from noisylab.sweep.packing import select_backend

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    base = load_config(config_path) if config_path else default_config()
    config = resolve(base, datasets=dataset, noise=noise, levels=levels, repeats=repeats,
                     models=model, methods=method, epochs=epochs, patience=patience,
                     method_options=merge_method_options(base.method_options, method_option)
                     if method_option else None,
                     min_epochs=min_epochs, batch_size=batch_size, learning_rate=lr,
                     adam_epsilon=adam_epsilon, val=val, subset=subset, seed=seed,
                     deterministic=deterministic, restore_best=restore_best, name=name,
                     executor=executor,
                     workers=workers, max_runs_per_worker=max_runs_per_worker,
                     ray_address=ray_address, num_cpus=num_cpus, num_gpus=num_gpus,
                     trainer=trainer, pack_size=pack_size, pack_mechanism=pack_mechanism)
    with _quiet_backend_start():
        # Every check happens here, before the results folder exists; then the trainer's
        # framework loads, so that its start-up lines are filtered and the device is known.
        plan = plan_sweep(config, out, force=force, max_runs=None if yes else MAX_RUNS)
        if plan.trainer == "packed" and plan.todo:
            select_backend()     # Keras loads on JAX, here and in worker processes
        # Runs in this process load the framework here; worker processes load their own.
        here = plan.todo and config.executor.kind == "sequential"
        trainer = load_trainer() if here else None
        device = device_name()
    if plan.named is not None:
        taken = ", ".join(str(p) for p in plan.named.taken)
        why = f" ({taken} holds another config)" if taken else ""
        click.echo(f"results folder: {plan.folder.path}{why}", err=True)
    if plan.trainer_note:
        click.echo(plan.trainer_note, err=True)
    err = Console(stderr=True)
    progress = _make_progress(err, device)
    try:
        result = run_sweep(plan, trainer=trainer, progress=progress)
    except KeyboardInterrupt:
        progress.stop()
        click.echo(f"interrupted: finished runs are recorded in {plan.folder.runs_csv}; run the "
                   "same command again to resume", err=True)
        raise SystemExit(130) from None
    except BaseException:
        progress.stop()      # e.g. the folder is locked: the error line follows the bar
        raise
    progress.stop()
    out_console = Console()
    if not out_console.is_terminal:
        out_console = Console(width=140)
    out_console.print(_summary_table(result.summary_csv))
    stuck = _at_chance_runs(result.runs_csv)
    if stuck:
        names = ", ".join(stuck[:10]) + (f" and {len(stuck) - 10} more" if len(stuck) > 10 else "")
        click.echo(f"{len(stuck)} run{'s' if len(stuck) > 1 else ''} never beat chance on the "
                   f"validation set (at_chance in runs.csv): {names}")
    click.echo(f"{result.n_done} runs done, {result.n_skipped} kept, in {result.seconds:.0f} s")
    click.echo(f"runs: {result.runs_csv}")
    if result.failed:
        n = len(result.failed)
        names = ", ".join(result.failed[:10]) + (f" and {n - 10} more" if n > 10 else "")
        click.echo(f"{n} run{'s' if n > 1 else ''} failed: {names} (see {result.failures_csv}; "
                   "run the same command again to retry)", err=True)
        raise SystemExit(3)
