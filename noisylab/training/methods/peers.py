"""Two-network methods, numpy only: which samples of a batch each network trains on.

Co-teaching (Han et al. 2018), co-teaching+ (Yu et al. 2019) and decoupling (Malach and
Shalev-Shwartz 2017) train two networks side by side on the same batches; they differ only in the
rule that picks, per batch, the samples each network updates on. That rule is `select_updates`;
the loop that calls it is `noisylab.training.batchloop`.

- ``coteaching``: each network ranks the batch by its own cross-entropy against the noisy labels
  and keeps the ``int((1 - f) B)`` smallest; its *peer* trains on them. The forget rate grows
  linearly from 0 to τ over the first ``T_k`` epochs, ``f(e) = τ·min((e / T_k)^c, 1)`` with
  ``e`` the epochs completed (the first epoch forgets nothing), as in ``bhanML/Co-teaching``.
- ``coteaching-plus``: co-teaching on the whole batch for the first ``init_epoch`` epochs, then
  only on the samples where the two networks' predictions disagree (small-loss selection with
  the same forget rate among those, ``int((1 - f) |D|)`` kept); a batch without disagreement
  updates neither network.
- ``decoupling``: both networks update on exactly the samples where their predictions disagree,
  after ``init_epoch`` epochs of plain training on every sample. Without that warm-up two fresh
  networks agree on every sample within the first epoch (measured on ``digits``, symmetric 0.4:
  they disagreed on 77 of 1,437 samples in epoch 1 and on none after, so nothing trained again
  and the run ended at chance, test accuracy 0.100); Malach and Shalev-Shwartz start from given
  predictors.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError

#: The methods this module selects for (each a `noisylab.training.methods.registry` entry).
PEER_METHODS = ("coteaching", "coteaching-plus", "decoupling")


def forget_rate(epoch: int, *, tau: float, num_gradual: int, exponent: float) -> float:
    """The fraction of a batch forgotten in an epoch: ``tau * min((epoch / num_gradual)^c, 1)``.

    Parameters
    ----------
    epoch : int
        Epochs completed before this one (0 for the first epoch).
    tau : float
        The final forget rate, in [0, 1).
    num_gradual : int
        T_k, the epochs over which the rate grows (>= 1).
    exponent : float
        c > 0; 1 is the paper's linear schedule.

    Returns
    -------
    float
    """
    return float(tau) * min((epoch / num_gradual) ** exponent, 1.0)


def _smallest(losses: np.ndarray, candidates: np.ndarray, keep_fraction: float) -> np.ndarray:
    """Mask of the ``int(keep_fraction * |candidates|)`` candidates of smallest loss (ties: first
    in batch order)."""
    idx = np.flatnonzero(candidates)
    n_keep = int(keep_fraction * idx.size)
    mask = np.zeros(losses.shape[0], dtype=bool)
    if n_keep:
        mask[idx[np.argsort(losses[idx], kind="stable")[:n_keep]]] = True
    return mask


def select_updates(method: str, losses: tuple[np.ndarray, np.ndarray],
                   predictions: tuple[np.ndarray, np.ndarray], *, forget: float,
                   disagreement_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The samples of one batch that network 1 and network 2 train on.

    Parameters
    ----------
    method : {'coteaching', 'coteaching-plus', 'decoupling'}
    losses : pair of ndarray of shape (B,)
        Each network's per-sample cross-entropy against the batch's (noisy) labels.
    predictions : pair of ndarray of shape (B,), int
        Each network's predicted class.
    forget : float
        This epoch's forget rate (`forget_rate`), in [0, 1]; decoupling ignores it.
    disagreement_only : bool
        False during the first ``init_epoch`` epochs of co-teaching+ (plain co-teaching) and
        of decoupling (every sample).

    Returns
    -------
    (ndarray of shape (B,) bool, ndarray of shape (B,) bool)
        The update masks of network 1 and network 2. In co-teaching each is the peer's
        small-loss selection.
    """
    loss1, loss2 = (np.asarray(v, dtype=np.float64) for v in losses)
    pred1, pred2 = (np.asarray(v) for v in predictions)
    if not loss1.shape == loss2.shape == pred1.shape == pred2.shape or loss1.ndim != 1:
        raise NoisylabError(f"losses and predictions must be four arrays of one shape (B,), got "
                            f"{loss1.shape}, {loss2.shape}, {pred1.shape}, {pred2.shape}")
    if not 0.0 <= forget <= 1.0:
        raise NoisylabError(f"forget rate must be in [0, 1], got {forget!r}")
    disagree = pred1 != pred2 if disagreement_only else np.ones(loss1.shape[0], dtype=bool)
    if method == "decoupling":
        return disagree, disagree.copy()
    if method == "coteaching":
        candidates = np.ones(loss1.shape[0], dtype=bool)
    elif method == "coteaching-plus":
        candidates = disagree
    else:
        raise NoisylabError(f"no peer selection for method {method!r}; valid: "
                            f"{', '.join(PEER_METHODS)}")
    keep1 = _smallest(loss1, candidates, 1.0 - forget)   # network 1's small-loss samples
    keep2 = _smallest(loss2, candidates, 1.0 - forget)
    return keep2, keep1                                   # each trains on its peer's choice


def label_precision(selected: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """Per network and epoch, the fraction of the samples it trained on whose label was clean.

    Parameters
    ----------
    selected : ndarray of shape (2, E, n), bool
        Whether network i trained on sample j in epoch e.
    corrupted : ndarray of shape (n,), bool
        Whether sample j's training label is wrong (the sweep knows; the method never does).

    Returns
    -------
    ndarray of shape (2, E), float
        Han et al.'s label precision (their Fig. 4); nan for an epoch that trained on nothing.
    """
    selected = np.asarray(selected, dtype=bool)
    corrupted = np.asarray(corrupted, dtype=bool)
    if selected.ndim != 3 or selected.shape[-1] != corrupted.shape[0]:
        raise NoisylabError(f"selected must have shape (networks, epochs, {corrupted.shape[0]}), "
                            f"got {selected.shape}")
    kept = selected.sum(axis=-1)
    clean = (selected & ~corrupted).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(kept > 0, clean / np.maximum(kept, 1), np.nan)


def rejection_scores(selected_last: np.ndarray, corrupted: np.ndarray) -> dict:
    """How well the samples a network did *not* train on in its last epoch flag the corrupted
    labels (co-teaching's small-loss rule as a noise detector).

    Parameters
    ----------
    selected_last : ndarray of shape (n,), bool
        Whether the network trained on each sample in its last epoch.
    corrupted : ndarray of shape (n,), bool

    Returns
    -------
    dict of str to float
        ``selection_precision`` (corrupted among the rejected; nan when none was rejected) and
        ``selection_recall`` (rejected among the corrupted; nan when none was corrupted), the
        names label correction uses for its changed labels.
    """
    rejected = ~np.asarray(selected_last, dtype=bool)
    corrupted = np.asarray(corrupted, dtype=bool)
    hits = int((rejected & corrupted).sum())
    return {
        "selection_precision": hits / rejected.sum() if rejected.any() else float("nan"),
        "selection_recall": hits / corrupted.sum() if corrupted.any() else float("nan"),
    }
