"""Label-noise injectors: pure numpy, vectorized, exact counts, realized matrix reported.

``inject(labels, *, kind, level, rng, num_classes=None, **options) -> NoisyLabels`` is the entry
point; `NOISE_KINDS` lists the kinds. Modules: `core` (the result type, shared checks and exact
selection), `kinds` (the registry `KINDS`: each kind's function and options, how a sweep varies
it, whether it reads images), `matrix`, `presets`, `concentrated`, `instance`, `human`, `files`
(label/matrix/archive files) and `dataset` (a whole dataset's training labels, for
``noisylab inject``). A new kind is one module plus its entry in `kinds`.
Importing this package never imports TensorFlow or Keras (scikit-learn is imported only when
concentrated noise needs k-means or PCA).
"""

from noisylab.noise.core import NoisyLabels, realized_transition
from noisylab.noise.files import (
    load_noisy,
    read_features,
    read_label_file,
    read_matrix,
    save_noisy,
)
from noisylab.noise.kinds import KIND_OPTIONS, KINDS, NOISE_KINDS, Kind, inject
from noisylab.noise.matrix import check_matrix, noise_matrix_from_trace
from noisylab.noise.presets import CIFAR100_COARSE, PRESETS

__all__ = [
    "CIFAR100_COARSE",
    "KINDS",
    "KIND_OPTIONS",
    "Kind",
    "NOISE_KINDS",
    "PRESETS",
    "NoisyLabels",
    "check_matrix",
    "inject",
    "load_noisy",
    "noise_matrix_from_trace",
    "read_features",
    "read_label_file",
    "read_matrix",
    "realized_transition",
    "save_noisy",
]
