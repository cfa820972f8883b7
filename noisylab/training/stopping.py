"""The early-stopping rule and the chance test, numpy only (trainers and the sweep use it).

The rule (`StoppingRule`), on the validation accuracy after each epoch:

1. **Warm-up.** Patience does not count during the first ``min_epochs`` epochs.
2. **Patience counted from learning.** The patience clock starts at the first epoch whose
   validation accuracy beats chance (`chance_threshold`); epochs before it never count. The
   run stops once ``patience`` counted epochs have passed without a new best (a new best resets
   the count). So a run that learns stops after ``min_epochs + patience`` epochs at the
   earliest.
3. **Giving up.** A run that has not beaten chance after ``min_epochs + patience`` epochs stops
   there: it had its warm-up and a full patience to start learning.
4. **Best weights.** The epoch with the highest validation accuracy (the first on ties) is the
   run's result; the trainer restores its weights whether or not it stopped early.

"Beats chance" means more than 2 binomial standard errors above the majority-class rate of the
validation labels (`chance_threshold`); a run whose best validation accuracy never did is
*at chance* (`at_chance`), a flag written to ``runs.csv`` so that a curve never silently mixes
collapsed runs with learned ones.

Why: at high label noise a network can sit at the trivial solution (loss ln L) for a few epochs
before it starts to learn through the noise; a patience counted from epoch 1 ended such runs at
chance before they had begun (symmetric 0.8 on MNIST with patience 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Binomial standard errors above the majority-class rate that count as "beating chance".
CHANCE_STANDARD_ERRORS = 2.0


def chance_threshold(y_val) -> float:
    """The validation accuracy a run must exceed to count as having learned something.

    Parameters
    ----------
    y_val : array-like of shape (n_val,), int
        Validation labels (clean or noisy, as the run validates).

    Returns
    -------
    float
        ``p0 + 2 * sqrt(p0 * (1 - p0) / n_val)`` where ``p0`` is the majority-class rate of
        ``y_val`` (what always answering the most frequent class scores). 1.0 when ``y_val`` is
        empty (nothing can beat it).
    """
    y = np.asarray(y_val).ravel()
    if y.size == 0:
        return 1.0
    _, counts = np.unique(y, return_counts=True)
    p0 = counts.max() / y.size
    return float(p0 + CHANCE_STANDARD_ERRORS * math.sqrt(p0 * (1.0 - p0) / y.size))


def at_chance(val_accuracy, threshold: float) -> bool:
    """Whether a run's best validation accuracy never beat chance.

    Parameters
    ----------
    val_accuracy : sequence of float
        The run's validation accuracy per epoch (NaN entries are ignored).
    threshold : float
        From `chance_threshold`.

    Returns
    -------
    bool
        True when no finite epoch value exceeds ``threshold`` (also for an empty history).
    """
    values = np.asarray(list(val_accuracy), dtype=float)
    values = values[np.isfinite(values)]
    return bool(values.size == 0 or values.max() <= threshold)


@dataclass
class StoppingRule:
    """The early-stopping state machine of the module docstring; feed it one value per epoch.

    Parameters
    ----------
    patience : int
        Counted epochs without a new best before stopping, >= 1.
    min_epochs : int
        Warm-up: epochs during which patience does not count, >= 0.
    threshold : float
        The chance threshold (`chance_threshold`); ``-inf`` starts the clock at epoch 1.

    Attributes
    ----------
    best : float
        Highest value so far (``-inf`` before the first epoch).
    best_epoch : int
        1-based epoch of ``best`` (0 before the first epoch).
    learning_epoch : int or None
        1-based first epoch above ``threshold`` (None while at chance).
    wait : int
        Epochs without a new best counted so far (after the warm-up and ``learning_epoch``).
    """

    patience: int
    min_epochs: int
    threshold: float
    best: float = -math.inf
    best_epoch: int = 0
    learning_epoch: int | None = None
    wait: int = 0
    epochs: int = 0

    def update(self, value: float) -> tuple[bool, bool]:
        """Record one epoch's validation accuracy.

        Returns
        -------
        (improved, stop) : (bool, bool)
            ``improved``: this epoch is the new best (copy its weights). ``stop``: end training
            after this epoch.
        """
        self.epochs += 1
        epoch = self.epochs
        value = float(value)
        improved = math.isfinite(value) and value > self.best
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        if self.learning_epoch is None:
            if math.isfinite(value) and value > self.threshold:
                self.learning_epoch = epoch
            else:
                return improved, epoch >= self.min_epochs + self.patience
        elif not improved and epoch > self.min_epochs:
            self.wait += 1
        return improved, self.wait >= self.patience

    @property
    def at_chance(self) -> bool:
        """True while no epoch has beaten the threshold."""
        return self.learning_epoch is None
