"""Training: model builders, the fit loop and what a trainer returns (Keras lives here).

Modules:

- `result`: `TrainResult`, the contract every trainer returns; importable without Keras;
- `models`: the model registry (`build_model(name, ...)`, `MODEL_NAMES`), Keras;
- `loop`: `train_model`, one fresh model trained with early stopping and best-weight restore;
- `batchloop`: the loop with per-batch hooks for the methods that `model.fit` cannot express
  (two networks exchanging samples, per-sample running targets); `loop` hands them over;
- `packed`: many runs of one model in one compiled JAX step (Keras' stateless API), each with
  its own weights, labels, data order and early stopping; `packed_memory` fits its places to
  the device's memory;
- `stopping`: the early-stopping rule (warm-up, patience counted from the first epoch above
  chance) and the chance test behind ``runs.csv``'s ``at_chance``; numpy only;
- `recipe`: the default learning rate and batch size by training-set size; no Keras;
- `backend`: keeps TensorFlow's C++ start-up lines out of a worker's stderr (no Keras).

Importing this package imports nothing heavy; Keras loads with `models` or `loop`. A new model is
one builder function and one entry in `models._BUILDERS`; a robust training method goes in a
method registry here, next to the loop it plugs into.
"""
