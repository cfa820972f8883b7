"""The K-NN model's overlay on ``accuracy_vs_noise``: which form of the model, from which runs.

Drory, Avidan and Giryes compare real networks with the *general* model (eq. 2): the mean over
test samples of Q(q(s), K), with q(s) built from the softmax C(s) of a network trained on clean
labels. The *perfectly learnable* form (eq. 7-9, C one-hot) fits only datasets a network learns
almost perfectly. So when a sweep holds a level-0 run of the same dataset and model, its
``predictions.npz`` (softmax and true labels) is C(s); several level-0 repeats are pooled (Q is
averaged over all their test samples). The learnable form is drawn when asked for, or when no
level-0 run exists, and the notes say which form was drawn and from which runs.

Noise kinds: random, symmetric and flip (its default permutation) use their nominal matrices;
confusion, asymmetric and a flip with a mapping use the realized noise matrix of each level
(``noise.npz``, averaged over the runs at that level), so their curve exists at the measured
levels only; concentrated noise is (1 - γ) times the clean accuracy, the paper's approximation.

Pure functions of data frames and arrays; `noisylab.plots.render` reads the files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from noisylab.plots.load import groups

FORMS = ("auto", "learnable")
NOMINAL_KINDS = ("random", "symmetric", "flip", "concentrated")
REALIZED_KINDS = ("confusion", "asymmetric")
COLUMNS = ["noise", "model", "k", "best", "level", "accuracy", "form", "source"]
FIT_K_VALUES = range(1, 201)


@dataclass(frozen=True)
class CleanRuns:
    """The level-0 predictions of one dataset and model: C(s) and the true labels, per run.

    Attributes
    ----------
    run_ids : tuple of str
    probs : tuple of ndarray of shape (n_r, L)
        Softmax outputs on each run's test set.
    labels : tuple of ndarray of shape (n_r,), int
        The true test labels.
    """

    run_ids: tuple[str, ...]
    probs: tuple[np.ndarray, ...]
    labels: tuple[np.ndarray, ...]

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """All runs' samples together: the mean of Q over them averages the runs."""
        return np.concatenate(self.probs), np.concatenate(self.labels)

    def describe(self) -> str:
        n = sum(len(y) for y in self.labels)
        if len(self.run_ids) == 1:
            return f"the clean softmax of run {self.run_ids[0]} ({n} test samples)"
        return (f"the clean softmaxes of the {len(self.run_ids)} level-0 runs "
                f"{', '.join(self.run_ids)} (Q averaged over their {n} test samples)")


def model_kind(noise: str, noise_options: Mapping | None = None) -> str | None:
    """How the model covers a noise kind: 'nominal', 'realized', or None (not covered)."""
    options = (noise_options or {}).get(noise) or {}
    if noise == "flip" and options.get("mapping"):
        return "realized"
    if noise in NOMINAL_KINDS:
        return "nominal"
    if noise in REALIZED_KINDS:
        return "realized"
    return None


def model_table(noise: str, levels, k_values, num_classes: int, *, how: str = "nominal",
                clean: CleanRuns | None = None,
                matrices: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """The model's expected accuracy for every (level, K), shape (T, S).

    With ``clean`` the general form (eq. 2) on the pooled level-0 softmaxes, else the perfectly
    learnable form. ``how='realized'`` takes ``matrices[i]``, the noisy-given-true matrix
    realized at ``levels[i]``, as the whole noise of that level.
    """
    from noisylab import analytic

    probs = labels = None
    if clean is not None:
        probs, labels = clean.pooled()
    ks = list(k_values)
    if how == "nominal":
        return analytic.accuracy_table(noise, np.asarray(levels, float), ks, num_classes,
                                       clean_probs=probs, true_labels=labels)
    return np.vstack([
        analytic.accuracy_table("confusion", [1.0], ks, num_classes, matrix=matrix,
                                clean_probs=probs, true_labels=labels)
        for matrix in matrices
    ])


def overlay_curves(summary: pd.DataFrame, *, num_classes: int, k_values: Iterable[int] = (),
                   clean: Mapping[tuple[str, str], CleanRuns] | None = None,
                   matrices: Mapping[tuple[str, str], Mapping[float, np.ndarray]] | None = None,
                   noise_options: Mapping | None = None, form: str = "auto", grid: int = 101,
                   general_grid: int = 21) -> tuple[pd.DataFrame, list[str]]:
    """K-NN model curves fitted to the measured test accuracy, with notes on what was drawn.

    Parameters
    ----------
    summary : DataFrame
        Summary rows of one dataset (``noise, model, level, test_accuracy_mean``, ...).
    num_classes : int
        L.
    k_values : iterable of int
        Extra K values to draw next to the best fit.
    clean : mapping (noise, model) -> CleanRuns, optional
        Level-0 predictions to use as C(s) for that group; absent groups fall back to the
        perfectly learnable form, with a note.
    matrices : mapping (noise, model) -> {level: matrix}, optional
        Realized noisy-given-true matrices, for the kinds that use them.
    noise_options : mapping, optional
        The sweep's ``noise_options`` (a flip with a mapping uses realized matrices).
    form : {'auto', 'learnable'}
        'learnable' draws the perfectly learnable form even where level-0 runs exist.
    grid, general_grid : int
        Levels at which the learnable and the general curves are evaluated (the general form
        costs one Q per test sample and level).

    Returns
    -------
    curves : DataFrame
        Columns ``noise, model, k, best, level, accuracy, form, source``.
    notes : list of str
        Per group: the best-fit K and its RMSE, the form drawn and its source runs; or why no
        overlay was drawn.
    """
    from noisylab import analytic

    if form not in FORMS:
        from noisylab.validate import check_choice

        check_choice(form, "analytic form", FORMS)
    rows, notes = [], []
    for noise, model in groups(summary, "noise", "model"):
        how = model_kind(noise, noise_options)
        if how is None:
            notes.append(f"no analytic overlay for {noise} noise (the model covers "
                         f"{', '.join(NOMINAL_KINDS + REALIZED_KINDS)}).")
            continue
        part = summary[(summary["noise"] == noise) & (summary["model"] == model)]
        part = part.sort_values("level", kind="stable")
        x = part["level"].to_numpy(float)
        mean = pd.to_numeric(part["test_accuracy_mean"], errors="coerce").to_numpy(float)
        ok = np.isfinite(mean)
        if ok.sum() < 2:
            notes.append(f"no K fit for {noise} · {model}: fewer than 2 measured levels.")
            continue
        runs = None if form == "learnable" else (clean or {}).get((noise, model))
        level_matrices = None
        if how == "realized":
            found = (matrices or {}).get((noise, model), {})
            missing = [lv for lv in x[ok] if _nearest(found, lv) is None]
            if missing:
                notes.append(f"no analytic overlay for {noise} · {model}: no noise.npz "
                             f"(realized matrix) at γ = {', '.join(f'{v:g}' for v in missing)}.")
                continue
            level_matrices = [_nearest(found, lv) for lv in x[ok]]
        table = model_table(noise, x[ok], FIT_K_VALUES, num_classes, how=how, clean=runs,
                            matrices=level_matrices)
        fit = analytic.fit_table(x[ok], mean[ok], table, FIT_K_VALUES)
        drawn = "general" if runs is not None else "learnable"
        source = "" if runs is None else ", ".join(runs.run_ids)
        ks = [fit.k] + [int(k) for k in k_values if int(k) != fit.k]
        if how == "realized":
            levels = x[ok]
            curves = (table[:, [k - 1 for k in ks]] if max(ks) <= max(FIT_K_VALUES) else
                      model_table(noise, levels, ks, num_classes, how=how, clean=runs,
                                  matrices=level_matrices))
        else:
            levels = np.linspace(float(x[ok].min()), float(x[ok].max()),
                                 general_grid if runs is not None else grid)
            curves = model_table(noise, levels, ks, num_classes, clean=runs)
        for col, k in enumerate(ks):
            rows.extend((noise, model, k, col == 0, lv, float(a), drawn, source)
                        for lv, a in zip(levels, curves[:, col], strict=True))
        notes.append(f"best-fit K for {noise} · {model} = {fit.k} (RMSE {fit.rmse:.3f}); "
                     + _form_note(drawn, runs, form, model, how))
    return pd.DataFrame(rows, columns=COLUMNS), notes


def _nearest(found: Mapping[float, np.ndarray], level: float) -> np.ndarray | None:
    for lv, matrix in found.items():
        if abs(float(lv) - float(level)) < 1e-9:
            return matrix
    return None


def _form_note(drawn: str, runs: CleanRuns | None, form: str, model: str, how: str) -> str:
    noise = " with the realized noise matrix of each level" if how == "realized" else ""
    if drawn == "general":
        return f"K-NN model in the general form (eq. 2) from {runs.describe()}{noise}."
    why = ("as asked (--analytic learnable)" if form == "learnable"
           else f"no level-0 run of {model} with predictions.npz to take C(s) from")
    return f"K-NN model in the perfectly learnable form (eq. 7-9){noise}: {why}."
