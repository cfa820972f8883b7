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
from pathlib import Path

from noisylab.atomic import append_text, write_text
from noisylab.errors import NoisylabError


def _fields(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)), [])


def split_lines(path: str | os.PathLike, header: str) -> tuple[list[str], str | None]:
    """The complete data lines of ``path`` and its torn last line (None when whole).

    Parameters
    ----------
    path : path-like
        An existing file.
    header : str
        The header line the file must start with (with its newline).

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
        When the header differs, the file is not UTF-8 text, or a line other than the last has
        the wrong number of fields.
    """
    path = Path(path)
    data = path.read_bytes()
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
        found = len(_fields(line))
        if found != n_fields:
            if number == len(lines) + 1 and torn is None:
                torn = line
                continue
            raise NoisylabError(
                f"{path} line {number} has {found} fields, expected {n_fields}: the file is "
                "damaged; move it away (the runs it lists will be redone) or use another --out")
        kept.append(line)
    return kept, torn


def append_line(path: str | os.PathLike, line: str, header: str) -> None:
    """Append one line (with its newline) to ``path``, creating it with ``header`` first."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        write_text(path, header)
    append_text(path, line)


def repair(path: str | os.PathLike, header: str, *, what: str = "record") -> list[str]:
    """Drop a torn last line and duplicate keys (first field; the last line wins) of ``path``.

    Rewrites the file atomically only when something changes. Returns a note per change.
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines, torn = split_lines(path, header)
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
