"""Robust training methods: a registry by name (Keras-free) and their losses (Keras ops).

- `registry`: `METHODS`, `METHOD_NAMES`, `get_method`, `resolve_methods` — each method's options
  with defaults and ranges, its formula and paper, its backends; no framework imported;
- `transition`: numpy — anchor-point estimate of T, the noise-adaptation channel's initial value;
- `relabel`: numpy — label correction by confident predictions and what it changed;
- `peers`: numpy — the per-batch sample rules of co-teaching, co-teaching+ and decoupling, and
  their label precision;
- `targets`: numpy — ELR's per-sample running targets;
- `losses`: `make_loss` (per-sample losses in `keras.ops`) and the channel layers on top of a
  network (`NoiseChannel`, NNAQC's `NoiseAwareChannel`, `make_channel`); imports Keras.

A new method is one `Method` entry in `registry.METHODS` and its loss in `losses.make_loss`
(or, for a method that changes the model, a branch in `noisylab.training.loop`; for one that
selects samples or keeps per-sample state, a hook in `noisylab.training.batchloop`).
"""

from noisylab.training.methods.registry import (
    METHOD_NAMES,
    METHODS,
    Method,
    Option,
    get_method,
    options_text,
    resolve_methods,
)

__all__ = ["METHODS", "METHOD_NAMES", "Method", "Option", "get_method", "options_text",
           "resolve_methods"]
