"""The one validator: every parameter check in noisylab is worded here, the same way everywhere.

In the style of scikit-learn's ``check_scalar``: a check takes the value, the name the user knows it
by, and the rule; it returns the value (converted to a plain Python type) or raises a
`NoisylabError` that states the rule and the value that broke it, e.g.
``"level must be in [0, 1], got 1.3"`` or ``"train.epochs must be an integer >= 1, got 0"``.

Values are shown as the user would type them (`show`): never a numpy repr such as
``np.float64(70.0)``.

numpy only; importing this module stays light.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from noisylab.errors import NoisylabError

#: Rows of a matrix of probabilities must sum to 1 within this (float64 input).
ROW_SUM_TOLERANCE = 1e-6


def show(value: Any, limit: int = 80) -> str:
    """``value`` as the user would type it, shortened to ``limit`` characters.

    numpy scalars become Python scalars (``70.0``, not ``np.float64(70.0)``); strings are quoted.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        text = repr(value) if math.isfinite(value) else str(value)
    elif isinstance(value, np.ndarray):
        text = f"an array of shape {value.shape}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _interval(low, high, closed: str) -> str:
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    return f"in {left}{_num(low)}, {_num(high)}{right}"


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _bound(low, high, closed: str) -> str:
    if low is not None and high is not None:
        return _interval(low, high, closed)
    if low is not None:
        return (">= " if closed in ("both", "left") else "> ") + _num(low)
    if high is not None:
        return ("<= " if closed in ("both", "right") else "< ") + _num(high)
    return ""


def check_scalar(value: Any, name: str, *, kind: type = float, low=None, high=None,
                 closed: str = "both", allow_none: bool = False):
    """Check a number: its type, that it is finite, and its range.

    Parameters
    ----------
    value : object
    name : str
        How the user knows the parameter (``"level"``, ``"train.epochs"``, ``"--k"``).
    kind : {int, float}
        ``int`` accepts integers only (never booleans, never ``2.5``; ``2.0`` from YAML is taken
        as 2); ``float`` accepts any real number but booleans, and refuses NaN and infinities.
    low, high : number, optional
        The range; None means unbounded on that side.
    closed : {'both', 'left', 'right', 'neither'}
        Which ends of the range are allowed.
    allow_none : bool
        Accept None (returned as is).

    Returns
    -------
    int or float or None

    Raises
    ------
    NoisylabError
        ``"{name} must be an integer >= 1, got 0"``, ``"{name} must be in (0, 1), got 1.5"``,
        ``"{name} must be a finite number, got inf"``, ...
    """
    if value is None and allow_none:
        return None
    bound = _bound(low, high, closed)
    what = "an integer" if kind is int else "a number"
    rule = f"{what} {bound}".strip() if kind is int else (bound or "a finite number")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise NoisylabError(f"{name} must be {what}" + (f" {bound}" if bound else "")
                            + f", got {show(value)}")
    if kind is int:
        if not isinstance(value, numbers.Integral):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise NoisylabError(f"{name} must be {rule}, got {show(value)}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise NoisylabError(f"{name} must be a finite number"
                                + (f" {bound}" if bound else "") + f", got {show(value)}")
    too_low = low is not None and (value < low if closed in ("both", "left") else value <= low)
    too_high = high is not None and (value > high if closed in ("both", "right")
                                     else value >= high)
    if too_low or too_high:
        if kind is int:
            raise NoisylabError(f"{name} must be {rule}, got {show(value)}")
        raise NoisylabError(f"{name} must be {bound}, got {show(value)}")
    return value


def check_level(value: Any, name: str = "level") -> float:
    """A noise level: a finite number in [0, 1]."""
    return check_scalar(value, name, kind=float, low=0.0, high=1.0)


def check_levels(values: Any, name: str = "level") -> np.ndarray:
    """An array of noise levels (any shape), each a finite number in [0, 1]; float64."""
    arr = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0))
    if np.any(bad):
        check_level(float(arr[bad].ravel()[0]), name)
    return arr


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (numpy booleans too), never 0/1 or a string."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise NoisylabError(f"{name} must be true or false, got {show(value)}")


def check_choice(value: Any, name: str, choices: Iterable[str], *, what: str | None = None) -> str:
    """One of ``choices``; the message lists the valid ones.

    ``"unknown model 'x'; valid: seed-cnn, allconv"`` (with ``what="model"``) or
    ``"val must be one of clean, noisy, got 'x'"``.
    """
    choices = tuple(choices)
    if isinstance(value, str) and value in choices:
        return value
    if what is not None:
        raise NoisylabError(f"unknown {what} {show(value)}; valid: {', '.join(choices)}")
    raise NoisylabError(f"{name} must be one of {', '.join(choices)}, got {show(value)}")


def check_names(values: Sequence[str], name: str) -> tuple[str, ...]:
    """A non-empty sequence of distinct, non-empty names."""
    values = tuple(values)
    if not values:
        raise NoisylabError(f"{name} must name at least one entry, got []")
    if any(not isinstance(v, str) or not v for v in values):
        raise NoisylabError(f"{name} has an empty name, got {list(values)}")
    if len(set(values)) != len(values):
        raise NoisylabError(f"{name} must not repeat, got {list(values)}")
    return values


def check_stochastic_rows(matrix: Any, name: str, *, num_classes: int | None = None,
                          square: bool = True, tol: float = ROW_SUM_TOLERANCE,
                          renormalise: bool = False) -> np.ndarray:
    """A matrix of probabilities: finite, non-negative, every row summing to 1 within ``tol``.

    The one row-stochastic check, for confusion/transition matrices (``square=True``, L×L) and
    for batches of distributions such as softmax outputs (``square=False``, (n, L)).

    Parameters
    ----------
    matrix : array_like of shape (L, L) or (n, L)
    name : str
        ``"confusion matrix"``, ``"clean_probs"``, ``"q"``.
    num_classes : int, optional
        Required number of columns (and rows when square).
    square : bool
    tol : float
        Largest allowed ``|row sum - 1|``; 1e-6 for float64 matrices, looser (1e-3) for float32
        softmax outputs.
    renormalise : bool
        Divide each row by its sum before returning it (removes the rounding within ``tol``).

    Returns
    -------
    ndarray of float64, the same shape
    """
    try:
        m = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise NoisylabError(f"{name} must be numeric, got {show(matrix)}") from None
    if square:
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise NoisylabError(f"{name} must be square, got shape {m.shape}")
        if num_classes is not None and m.shape[0] != num_classes:
            raise NoisylabError(
                f"{name} must be {num_classes}x{num_classes} for {num_classes} classes, "
                f"got {m.shape[0]}x{m.shape[1]}")
    else:
        if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] < 2 or (
                num_classes is not None and m.shape[1] != num_classes):
            want = num_classes if num_classes is not None else "L >= 2"
            raise NoisylabError(f"{name} must have shape (n, {want}) with n >= 1, "
                                f"got {m.shape}")
    bad_rows = np.flatnonzero(~np.isfinite(m).all(axis=1))
    if bad_rows.size:
        raise NoisylabError(f"{name} row {bad_rows[0]} has a non-finite entry")
    negative = np.argwhere(m < 0)
    if negative.size:
        i, j = negative[0]
        raise NoisylabError(f"{name} entries must be >= 0; row {i} has {m[i, j]:g} in column {j}")
    sums = m.sum(axis=1)
    bad_rows = np.flatnonzero(np.abs(sums - 1.0) > tol)
    if bad_rows.size:
        i = bad_rows[0]
        raise NoisylabError(f"{name} rows must sum to 1 (within {tol:g}); "
                            f"row {i} sums to {sums[i]:.9g}")
    return m / sums[:, None] if renormalise else m
