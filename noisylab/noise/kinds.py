"""`inject`: one entry point for every kind of label noise, each with exact, documented counts.

Kinds (level γ, N samples, L classes):

- ``random``: exactly round(γN) samples get a label drawn uniformly from all L classes (so some
  keep theirs; expected changed fraction γ(1 − 1/L)).
- ``symmetric``: exactly round(γN) samples get a label drawn uniformly from the L − 1 other
  classes (changed fraction exactly round(γN)/N).
- ``flip``: exactly round(γN) samples, chosen among those whose class is in the mapping, get
  π(y). Default π(i) = (i + 1) mod L.
- ``asymmetric``: a preset (or mapping) π; exactly round(γ·n_c) of each source class c get π(c).
- ``confusion``: exactly round(γN) samples get a label drawn from row P[y] of a row-stochastic
  matrix (given, or generated from a trace).
- ``concentrated``: per class, whole k-means clusters relabeled (see `noisylab.noise.concentrated`).
- ``file``: labels read from a file; the level is ignored.
- ``instance``: Xia et al.'s instance-dependent noise, a per-sample flip rate around γ and a
  destination chosen by a random projection of the image (see `noisylab.noise.instance`); the
  changed count is Binomial(N, μ(γ)).
- ``human``: a real human label set of a file such as CIFAR-10N, after checking the file's clean
  labels against the dataset's (see `noisylab.noise.human`); the level is ignored.

The registry `KINDS` holds one `Kind` per name: its function, its options, how a sweep varies it
(over the config's ``levels``, over named label sets, or not at all) and whether it needs the
images. A new kind is one module and one entry here; `NOISE_KINDS` and `KIND_OPTIONS` derive
from it.

``stratify=True`` (random, symmetric, flip) picks round(γ·n_c) within each class instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.noise.concentrated import concentrated, pca_features
from noisylab.noise.core import (
    NoisyLabels,
    check_labels,
    check_level,
    check_options,
    choose,
    make_result,
    need_two_classes,
    parse_mapping,
)
from noisylab.noise.files import read_label_file, read_matrix
from noisylab.noise.human import human
from noisylab.noise.instance import instance
from noisylab.noise.matrix import check_matrix, noise_matrix_from_trace, sample_rows
from noisylab.noise.presets import preset_mapping
from noisylab.validate import check_bool, check_scalar, show


def _check_stratify(stratify) -> bool:
    return check_bool(stratify, "stratify")


def _lookup(mapping: dict[int, int], num_classes: int) -> np.ndarray:
    table = np.arange(num_classes)
    table[list(mapping)] = list(mapping.values())
    return table


def _mapping_spec(mapping: dict[int, int]) -> dict[str, int]:
    return {str(source): target for source, target in sorted(mapping.items())}


def _random(y, level, L, rng, *, stratify=False):
    chosen = choose(y, level, rng=rng, stratify=_check_stratify(stratify), num_classes=L)
    noisy = y.copy()
    noisy[chosen] = rng.integers(0, L, size=chosen.size)
    return noisy, {"stratify": bool(stratify)}


def _symmetric(y, level, L, rng, *, stratify=False):
    if level > 0:
        need_two_classes(L, "symmetric")
    chosen = choose(y, level, rng=rng, stratify=_check_stratify(stratify), num_classes=L)
    noisy = y.copy()
    # A shift in 1..L-1 is uniform over the other classes and never lands on the original.
    noisy[chosen] = (y[chosen] + rng.integers(1, L, size=chosen.size)) % L
    return noisy, {"stratify": bool(stratify)}


def _flip(y, level, L, rng, *, mapping=None, stratify=False):
    need_two_classes(L, "flip")
    if mapping is None:
        mapping = {c: (c + 1) % L for c in range(L)}
    mapping = parse_mapping(mapping, L)
    chosen = choose(y, level, rng=rng, stratify=_check_stratify(stratify), num_classes=L,
                    classes=list(mapping))
    noisy = y.copy()
    noisy[chosen] = _lookup(mapping, L)[y[chosen]]
    return noisy, {"mapping": _mapping_spec(mapping), "stratify": bool(stratify)}


def _asymmetric(y, level, L, rng, *, preset=None, mapping=None):
    if (preset is None) == (mapping is None):
        raise NoisylabError("kind 'asymmetric' needs exactly one of preset or mapping")
    resolved = preset_mapping(preset, L) if preset is not None else parse_mapping(mapping, L)
    # Chosen from the ORIGINAL labels, so a flipped label is never flipped again (2→7→1).
    chosen = choose(y, level, rng=rng, stratify=True, num_classes=L, classes=list(resolved))
    noisy = y.copy()
    noisy[chosen] = _lookup(resolved, L)[y[chosen]]
    return noisy, {"preset": preset, "mapping": _mapping_spec(resolved)}


def _confusion(y, level, L, rng, *, matrix=None, trace=None, matrix_seed=None,
               frac_zero_noise_rates=0.0, learnable=None):
    if (matrix is None) == (trace is None):
        raise NoisylabError("kind 'confusion' needs exactly one of matrix or trace")
    resolved = {}
    if trace is not None:
        if matrix_seed is None:
            matrix_seed = int(rng.integers(2**31 - 1))
        matrix_rng = np.random.default_rng(
            check_scalar(matrix_seed, "matrix_seed", kind=int, low=0))
        if learnable is None:
            learnable = isinstance(trace, numbers.Real) and trace > 1
        py = np.bincount(y, minlength=L) / max(y.size, 1) if learnable else None
        P = noise_matrix_from_trace(L, trace, rng=matrix_rng, py=py,
                                    frac_zero_noise_rates=frac_zero_noise_rates)
        resolved.update(source="from-trace", trace=float(trace), matrix_seed=int(matrix_seed),
                        frac_zero_noise_rates=float(frac_zero_noise_rates),
                        learnable=bool(learnable))
    else:
        if isinstance(matrix, (str, bytes)) or hasattr(matrix, "__fspath__"):
            resolved["source"] = str(matrix)
            matrix = read_matrix(matrix)
        else:
            resolved["source"] = "array"
        P = check_matrix(matrix, L)
    chosen = choose(y, level, rng=rng, stratify=False, num_classes=L)
    noisy = y.copy()
    noisy[chosen] = sample_rows(y[chosen], P, rng=rng)
    resolved["matrix"] = P.tolist()
    return noisy, resolved


def _concentrated(y, level, L, rng, *, features="pca", images=None, clusters=None,
                  mapping=None, pca_components=50):
    if isinstance(features, str):
        if features == "model":
            raise NoisylabError(
                "features='model' needs a trained CNN; pass its penultimate-layer features as "
                "an (n, d) array instead"
            )
        if features != "pca":
            raise NoisylabError(f"features must be 'pca' or an (n, d) array, got {show(features)}")
        if images is None:
            raise NoisylabError("features='pca' needs images, an (n, ...) pixel array")
        if len(images) != y.size:
            raise NoisylabError(f"images must have one entry per label: {len(images)} for {y.size}")
        source = f"pca{pca_components}"
        features = pca_features(images, rng=rng, components=pca_components)
    else:
        source = "array"
    noisy, resolved = concentrated(y, level, L, rng=rng, features=features, clusters=clusters,
                                   mapping=mapping)
    shape = list(np.shape(features))
    return noisy, {"features": source, "feature_shape": shape, "clusters": clusters, **resolved}


def _file(y, level, L, rng, *, file=None, noisy_labels=None):
    if (file is None) == (noisy_labels is None):
        raise NoisylabError("kind 'file' needs exactly one of file or noisy_labels")
    if file is not None:
        noisy_labels = read_label_file(file)
    given, _ = check_labels(noisy_labels, L)
    if given.size != y.size:
        raise NoisylabError(
            f"noisy labels must have one entry per label: {given.size} for {y.size}"
        )
    return given, {"file": str(file) if file is not None else "array"}


def _instance(y, level, L, rng, *, images=None, features=None, flip_sd=0.1):
    return instance(y, level, L, rng=rng, images=images, features=features, flip_sd=flip_sd)


def _human(y, level, L, rng, *, label_set=None, key=None, index=None, search=("data",)):
    return human(y, level, L, rng=rng, label_set=label_set, key=key, index=index, search=search)


@dataclass(frozen=True)
class Kind:
    """One kind of label noise in the registry.

    Attributes
    ----------
    run : callable
        ``run(labels, level, L, rng, **options) -> (noisy labels, resolved options)``.
    options : tuple of str
        The options it takes.
    grid : {'levels', 'label_sets', None}
        How a sweep varies it: over the config's ``levels``; over the label sets named in its
        ``label_sets`` option, each a grid point whose level is its realized rate; or not at
        all (``file``: its labels cannot be noised on a subset or the test split).
    images : bool
        Whether it reads the training images (a sweep passes them as ``images``).
    """

    run: Callable
    options: tuple[str, ...]
    grid: str | None = "levels"
    images: bool = False

    @property
    def has_level(self) -> bool:
        return self.grid == "levels"


KINDS: dict[str, Kind] = {
    "random": Kind(_random, ("stratify",)),
    "symmetric": Kind(_symmetric, ("stratify",)),
    "flip": Kind(_flip, ("mapping", "stratify")),
    "asymmetric": Kind(_asymmetric, ("preset", "mapping")),
    "confusion": Kind(_confusion, ("matrix", "trace", "matrix_seed", "frac_zero_noise_rates",
                                   "learnable")),
    "concentrated": Kind(_concentrated, ("features", "images", "clusters", "mapping",
                                         "pca_components"), images=True),
    "file": Kind(_file, ("file", "noisy_labels"), grid=None),
    "instance": Kind(_instance, ("images", "features", "flip_sd"), images=True),
    "human": Kind(_human, ("label_set", "key", "index", "search"), grid="label_sets"),
}
NOISE_KINDS = tuple(KINDS)
KIND_OPTIONS = {name: kind.options for name, kind in KINDS.items()}


def inject(labels, *, kind: str, level, rng: np.random.Generator, num_classes=None,
           **options) -> NoisyLabels:
    """Corrupt labels with one kind of noise and report exactly what happened.

    Parameters
    ----------
    labels : array-like of shape (n,), integer
        Clean labels in ``[0, L)``. Never modified.
    kind : str
        One of `NOISE_KINDS`.
    level : float
        γ in [0, 1]; ignored (may be None) for ``file`` and ``human``.
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives bit-identical output.
    num_classes : int or None
        L; ``labels.max() + 1`` when None.
    **options
        Per kind: ``stratify`` (random, symmetric, flip); ``mapping`` (flip, asymmetric,
        concentrated); ``preset`` (asymmetric); ``matrix`` or ``trace`` with ``matrix_seed``,
        ``frac_zero_noise_rates``, ``learnable`` (confusion); ``features`` ("pca" or an (n, d)
        array), ``images``, ``clusters``, ``pca_components`` (concentrated); ``file`` or
        ``noisy_labels`` (file); ``images`` or ``features``, ``flip_sd`` (instance);
        ``label_set``, ``key``, ``index``, ``search`` (human).

    Returns
    -------
    NoisyLabels
        ``spec`` holds the kind, level, n, num_classes and the resolved options.

    Raises
    ------
    NoisylabError
        For any bad input; the message states the rule and the offending value.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if kind not in KINDS:
        raise NoisylabError(f"unknown noise kind {kind!r}; known: {', '.join(NOISE_KINDS)}")
    entry = KINDS[kind]
    check_options(kind, options, entry.options)
    y, L = check_labels(labels, num_classes)
    level = check_level(level, kind=kind) if entry.has_level else None
    noisy, resolved = entry.run(y, level, L, rng, **options)
    spec = {"kind": kind, "level": level, "n": int(y.size), "num_classes": L, **resolved}
    return make_result(y, noisy, L, spec)
