"""The axes of a sweep's grid, defined once: dataset, noise, level, repeat, method, model.

Everything that names a grid point derives from `AXES`: the fields of `noisylab.sweep.grid.Run`
that identify it, the run id (`run_id`), the leading columns of ``runs.csv``
(`noisylab.results.RUN_COLUMNS`), the keys ``summary.csv`` groups by (`SUMMARY_KEYS`: every axis
but ``repeat``), the series of the plots and the columns of the report's and the CLI's tables
(`SERIES`: every summary key but ``dataset`` and ``level``). Adding an axis is one `Axis` here,
its values in `noisylab.config.SweepConfig` and its loop in `noisylab.sweep.grid.expand`.

An axis added after folders were written carries a `Axis.legacy` value: what a folder written
before the axis existed means by it (``method``: ``ce``, the only training there was). Readers
fill it in for such folders, and the run id leaves an axis out while it holds its legacy value,
so that the ids (and seeds) of those runs never change.

Pure Python; imports nothing from the rest of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Axis:
    """One axis of the grid.

    Attributes
    ----------
    name : str
        The column in ``runs.csv`` and the attribute of a `Run` (``dataset`` holds the short
        name there).
    config_key : str
        The `SweepConfig` field that lists its values (``repeats`` is a count).
    label : str
        How people read it in tables and legends.
    in_id : callable
        ``value -> str``: its part of the run id.
    legacy : object or None
        Its value in folders written before the axis existed; None for the original axes. While
        a run holds this value the axis is left out of its id.
    summary : bool
        Whether ``summary.csv`` groups by it (``repeat`` is averaged over).
    series : bool
        Whether each of its values is its own line in a figure (``dataset`` and ``level`` are
        not: one figure per dataset, level on the x axis).
    """

    name: str
    config_key: str
    label: str
    in_id: Callable[[Any], str] = str
    legacy: Any = None
    summary: bool = True
    series: bool = True


AXES: tuple[Axis, ...] = (
    Axis("dataset", "datasets", "dataset", series=False),
    Axis("noise", "noise", "noise"),
    Axis("level", "levels", "level", in_id=lambda v: f"{float(v):.3f}", series=False),
    Axis("repeat", "repeats", "repeat", in_id=lambda v: f"r{int(v)}", summary=False,
         series=False),
    Axis("method", "methods", "method", legacy="ce"),
    Axis("model", "models", "model"),
)
AXIS_NAMES = tuple(a.name for a in AXES)
#: What summary.csv groups by, in order.
SUMMARY_KEYS = tuple(a.name for a in AXES if a.summary)
#: What a line of a figure (or a row of a table) stands for within one dataset.
SERIES = tuple(a.name for a in AXES if a.series)
#: Values that folders written before an axis existed mean: ``{"method": "ce"}``.
LEGACY = {a.name: a.legacy for a in AXES if a.legacy is not None}


def run_id_parts(values: Mapping[str, Any]) -> list[str]:
    """The parts of a run id, in axis order; an axis at its legacy value is left out."""
    parts = []
    for axis in AXES:
        value = values[axis.name]
        if axis.legacy is not None and value == axis.legacy:
            continue
        parts.append(axis.in_id(value))
    return parts


def with_legacy(frame):
    """A data frame with every axis column; absent ones get their legacy value (a copy if so)."""
    missing = {k: v for k, v in LEGACY.items() if k not in frame.columns}
    return frame.assign(**missing) if missing else frame


def series_label(values: Mapping[str, Any], varying: set[str] | frozenset[str]) -> str:
    """``noise · method · model`` of one series, naming only the axes in ``varying`` (and
    always the first series axis, the noise kind)."""
    shown = [str(values[a]) for i, a in enumerate(SERIES) if i == 0 or a in varying]
    return " · ".join(shown)


def series_key(values: Mapping[str, Any]) -> str:
    """``noise:model`` (``noise:method:model`` for a method other than ``ce``): a series' id in
    figure gids and file names, the same as before methods existed for ``ce``."""
    return ":".join(str(values[a]) for a in SERIES
                    if not (a in LEGACY and values[a] == LEGACY[a]))


def where_text(values: Mapping[str, Any]) -> str:
    """``digits · flip · gce · seed-cnn`` for notes: the given axes' values in axis order, an
    axis at its legacy value (``ce``) left out as in the run id."""
    return " · ".join(str(values[a.name]) for a in AXES if a.name in values
                      and not (a.legacy is not None and values[a.name] == a.legacy))
