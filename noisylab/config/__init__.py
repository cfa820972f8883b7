"""Frozen dataclasses describing what to run. YAML in, resolved YAML out.

`TrainOptions` is the contract between the sweep and `noisylab.training`; `SweepConfig` describes
a whole grid of runs (datasets x noise kinds x levels x repeats x models) and is what
``noisylab sweep`` reads from ``--config`` and writes back, fully resolved, to
``results/<name>/config.yaml``.

Each field states its own rule in its metadata (``check``), and `from_dict`/`to_dict` walk
`dataclasses.fields`: adding an option is one line in its dataclass. Unknown keys are errors.

Modules: `options` (`TrainOptions`, `ExecutorOptions`, `TrainerOptions` and the field helper),
`sweep` (`SweepConfig`, `parse_levels`, `default_config`) and `convert` (YAML and mappings in
and out, command-line overrides, `config_hash`). Import from ``noisylab.config``.
"""

from noisylab.config.convert import (
    HASH_OMITS_AT_DEFAULT,
    TRAIN_HASH_OMITS_AT_DEFAULT,
    config_hash,
    from_dict,
    load_config,
    merge_method_options,
    resolve,
    to_dict,
    to_yaml,
)
from noisylab.config.options import (
    EXECUTOR_OVERRIDES,
    PACK_MECHANISMS,
    TRAINER_OVERRIDES,
    TRAINERS,
    ExecutorOptions,
    TrainerOptions,
    TrainOptions,
)
from noisylab.config.sweep import (
    DEFAULT_LEVELS,
    MAX_LEVELS,
    MAX_SEED,
    VAL_POLICIES,
    SweepConfig,
    default_config,
    parse_levels,
)

__all__ = [
    "DEFAULT_LEVELS", "EXECUTOR_OVERRIDES", "HASH_OMITS_AT_DEFAULT", "MAX_LEVELS", "MAX_SEED",
    "PACK_MECHANISMS", "TRAINERS", "TRAINER_OVERRIDES", "TRAIN_HASH_OMITS_AT_DEFAULT",
    "VAL_POLICIES", "ExecutorOptions", "SweepConfig", "TrainOptions", "TrainerOptions",
    "config_hash", "default_config", "from_dict", "load_config", "merge_method_options",
    "parse_levels", "resolve", "to_dict", "to_yaml",
]
