"""runs.csv as an append-only log: appends, a torn last line dropped, damage refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisylab.csvlog import append_line, repair, split_lines
from noisylab.errors import NoisylabError

HEADER = "run_id,level,acc\n"


def _rows(n: int) -> list[str]:
    return [f"r{i},{i / 10!r},0.{i}5\n" for i in range(n)]


def _write(path, lines):
    for line in lines:
        append_line(path, line, HEADER)


def test_appends_keep_earlier_bytes(tmp_path):
    path = tmp_path / "runs.csv"
    _write(path, _rows(2))
    before = path.read_bytes()
    append_line(path, _rows(3)[2], HEADER)
    assert path.read_bytes() == before + _rows(3)[2].encode()
    assert split_lines(path, HEADER) == (_rows(3), None)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), data=st.data())
def test_a_file_cut_anywhere_keeps_exactly_the_whole_rows(tmp_path_factory, n, data):
    path = tmp_path_factory.mktemp("cut") / "runs.csv"
    _write(path, _rows(n))
    full = path.read_bytes()
    cut = data.draw(st.integers(len(HEADER), len(full)))
    path.write_bytes(full[:cut])
    whole = full[:cut].count(b"\n") - 1          # rows that kept their newline
    notes = repair(path, HEADER, what="run")
    assert path.read_text() == HEADER + "".join(_rows(n)[:whole])
    assert bool(notes) == (cut not in [len(HEADER) + len("".join(_rows(k))) for k in range(n + 1)])
    # After the repair an append lands on a line of its own, never glued to a torn one.
    append_line(path, "new,0.5,0.1\n", HEADER)
    assert split_lines(path, HEADER) == ([*_rows(n)[:whole], "new,0.5,0.1\n"], None)


def test_a_torn_line_is_named_in_the_note(tmp_path):
    path = tmp_path / "runs.csv"
    _write(path, _rows(2))
    with open(path, "a") as fh:
        fh.write("r7,0.7")
    assert split_lines(path, HEADER) == (_rows(2), "r7,0.7")
    assert repair(path, HEADER, what="run") == [
        f"{path}: dropped a last line cut short by a crash (run 'r7', which will be redone)"]


def test_a_whole_last_line_with_too_few_fields_is_torn_too(tmp_path):
    path = tmp_path / "runs.csv"
    _write(path, [*_rows(2), "r9,0.9\n"])
    assert split_lines(path, HEADER) == (_rows(2), "r9,0.9\n")


def test_damage_in_the_middle_is_refused_with_the_line_number(tmp_path):
    path = tmp_path / "runs.csv"
    _write(path, [_rows(1)[0], "r1,0.1\n", _rows(3)[2]])
    with pytest.raises(NoisylabError, match=r"runs\.csv line 3 has 2 fields, expected 3: the "
                                            "file is damaged"):
        split_lines(path, HEADER)


def test_foreign_header_and_bad_bytes_are_refused(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(NoisylabError, match="has other columns than this noisylab version"):
        split_lines(path, HEADER)
    path.write_bytes(HEADER.encode() + b"r0,\xff,1\n")
    with pytest.raises(NoisylabError, match="is not UTF-8 text"):
        split_lines(path, HEADER)


def test_repair_keeps_the_newest_line_per_key_and_heals_an_empty_file(tmp_path):
    path = tmp_path / "runs.csv"
    _write(path, [*_rows(2), "r0,0.0,0.99\n"])
    assert repair(path, HEADER, what="run") == [
        f"{path}: dropped 1 older line(s) of runs listed twice (the newest line of each is kept)"]
    assert path.read_text() == HEADER + _rows(2)[1] + "r0,0.0,0.99\n"
    assert repair(path, HEADER) == []
    path.write_text("")
    assert repair(path, HEADER) == [] and path.read_text() == HEADER
