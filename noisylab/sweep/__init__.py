"""Sweeps: a grid of runs from a config, planned, executed and recorded.

Modules, in the order a sweep uses them (imports flow down this list):

- `grid`: expand a `SweepConfig` into `Run`s with their seed streams and run ids;
- `naming`: the results folder's name from the config (`folder_name`, pure) and the folder under
  ``results/`` a sweep without ``--out`` uses (`choose_folder`);
- `splits`: seeded, stratified index selection (subsets, validation splits);
- `plan`: `plan_sweep` checks names, options, datasets and the output folder; creates nothing;
- `features`: the clean model's penultimate features for concentrated noise, trained once, cached;
- `execute`: one run as `prepare_run` -> `train_run` -> `finish_run` (plain data in and out);
- `executors`: how runs are spread (sequential, a process pool, Ray tasks; a registry by name);
- `tasks`: the picklable work an executor ships (`RunTask`, `FeatureTask`) and the per-worker
  context that holds the datasets and the trainer;
- `packing`: the trainer choice (``keras``, ``packed``, ``auto``), which runs pack together, and
  the `PackTask` that trains a group and sends each run as it finishes;
- `runner`: `run_sweep(plan)` takes the folder's lock, runs the tasks and writes each outcome
  (or failure) through `noisylab.results` as it arrives.

A new executor is one module in `executors` registered in `EXECUTORS`; a new axis of the grid is
defined in `grid`. Nothing here prints: progress goes to a `Progress` object owned by the CLI.
"""

from noisylab.sweep.execute import PreparedRun, RunOutcome, execute_run
from noisylab.sweep.executors import EXECUTORS, Executor, SequentialExecutor, TaskFailure
from noisylab.sweep.grid import Run, expand
from noisylab.sweep.plan import MAX_RUNS, SweepPlan, plan_sweep
from noisylab.sweep.runner import Progress, SweepResult, device_name, load_trainer, run_sweep

__all__ = [
    "EXECUTORS",
    "MAX_RUNS",
    "Executor",
    "PreparedRun",
    "Progress",
    "Run",
    "RunOutcome",
    "SequentialExecutor",
    "SweepPlan",
    "SweepResult",
    "TaskFailure",
    "device_name",
    "execute_run",
    "expand",
    "load_trainer",
    "plan_sweep",
    "run_sweep",
]
