"""An append-only CSV file (``runs.csv``): one fsynced line per record, torn last lines repaired.

A record is appended with one ``write`` of a whole line and then fsynced (`noisylab.atomic.
append_text`), so the cost of a row does not grow with the file. A crash can only tear the
*last* line: it then lacks its newline or some of its fields. `split_lines` tells complete lines
from such a torn tail, `repair` drops the tail (its record is simply redone) and keeps one line
per key (the last, after a ``--force`` rerun appended a newer one); a damaged line anywhere else
is refused with its line number, never silently skipped.

Standard library only; this module knows nothing of sweeps.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

from noisylab.atomic import append_text, write_text
from noisylab.errors import NoisylabError
from noisylab.readers import read_bytes

_DAMAGED = ("the file is damaged; repair that line by hand, or move the file away (the runs it "
            "lists are then redone), or use another --out")


def _fields(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)), [])


def split_lines(path: str | os.PathLike, header: str, *,
                check: Callable[[list[str]], str | None] | None = None
                ) -> tuple[list[str], str | None]:
    """The complete data lines of ``path`` and its torn last line (None when whole).

    Parameters
    ----------
    path : path-like
        An existing file.
    header : str
        The header line the file must start with (with its newline).
    check : callable, optional
        ``check(fields)`` returns what is wrong with a whole line's fields (None when fine): a
        complete line that fails it is refused with its line number, wherever it is.

    Returns
    -------
    lines : list of str
        Data lines, each with its newline and with as many fields as the header; blank lines are
        left out.
    torn : str or None
        A last line without its newline or with too few fields.

    Raises
    ------
    NoisylabError
        When the file cannot be read, the header differs, the file is not UTF-8 text, a line
        has more fields than the header (two records glued together), a line other than the
        last has too few, or a line fails ``check``.
    """
    path = Path(path)
    data = read_bytes(path, what="file")
    torn_bytes = b""
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data, torn_bytes = data[:cut], data[cut:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoisylabError(f"{path} is not UTF-8 text (byte {exc.start}); move it away or use "
                            "another --out") from None
    if not text:
        return [], torn_bytes.decode("utf-8", errors="replace") or None
    if not text.startswith(header):
        raise NoisylabError(f"{path} has other columns than this noisylab version writes "
                            f"(its first line: {text.splitlines()[0][:80]!r}); use another --out")
    n_fields = len(_fields(header))
    lines = text[len(header):].splitlines(keepends=True)
    kept: list[str] = []
    torn = torn_bytes.decode("utf-8", errors="replace") or None
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        fields = _fields(line)
        found = len(fields)
        if found < n_fields and number == len(lines) + 1 and torn is None:
            torn = line                       # a crash while appending the last line
            continue
        if found != n_fields:
            raise NoisylabError(
                f"{path} line {number} has {found} fields, expected {n_fields}: {_DAMAGED}")
        problem = check(fields) if check is not None else None
        if problem:
            raise NoisylabError(f"{path} line {number}: {problem}: {_DAMAGED}")
        kept.append(line)
    return kept, torn


def append_line(path: str | os.PathLike, line: str, header: str) -> None:
    """Append one line (with its newline) to ``path``, creating it with ``header`` first."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        write_text(path, header)
    append_text(path, line)


def repair(path: str | os.PathLike, header: str, *, what: str = "record",
           check: Callable[[list[str]], str | None] | None = None) -> list[str]:
    """Drop a torn last line and duplicate keys (first field; the last line wins) of ``path``.

    Rewrites the file atomically only when something changes. Returns a note per change.
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines, torn = split_lines(path, header, check=check)
    notes = []
    if torn is not None:
        key = _fields(torn)[0] if torn.strip() else ""
        notes.append(f"{path}: dropped a last line cut short by a crash"
                     + (f" ({what} {key!r}, which will be redone)" if key else ""))
    last = {}
    for i, line in enumerate(lines):
        last[_fields(line)[0]] = i
    unique = [line for i, line in enumerate(lines) if last[_fields(line)[0]] == i]
    if len(unique) < len(lines):
        notes.append(f"{path}: dropped {len(lines) - len(unique)} older line(s) of {what}s "
                     "listed twice (the newest line of each is kept)")
    if notes or path.read_bytes()[: len(header)] != header.encode("utf-8"):
        write_text(path, header + "".join(unique))
    return notes
