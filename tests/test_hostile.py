"""Hostile inputs through the real CLI: every bad input gets one ``Error:`` line and loses nothing.

Each case is what a careless or hostile new user might do (issue #19's classes: silent damage,
divergence, checks after the folder exists, tracebacks on damaged or foreign files, disk full and
unwritable output, unbounded work, ``plot`` all or nothing, misleading messages). A case asserts
the exit status, exactly one ``Error:`` line, no traceback, and a snapshot of the whole work folder
before and after (nothing new, nothing changed) — or, for the damage cases, that afterwards every
run is in a parseable ``runs.csv`` exactly once.

Sweeps are tiny ``digits`` sweeps (``--subset 200 --epochs 1``) trained by the fast stand-in of
`sweep_fakes` (in process, through the CLI's own ``load_trainer``), so the module runs in the fast
suite without Keras; the disk-full cases use a 2 MiB tmpfs where mounting one is allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import noisylab.sweep as sweep_pkg
from noisylab.cli import main
from noisylab.results import RUN_COLUMNS, read_runs

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
import sweep_fakes  # noqa: E402

TINY = ["--subset", "200", "--epochs", "1"]
LEVELS = ["--levels", "0,0.5"]


# ---------------------------------------------------------------------------------------------
# helpers


def snapshot(root: Path) -> dict[str, object]:
    """Every path under ``root``: folders as 'dir', files as (size, sha1)."""
    out: dict[str, object] = {}
    for path in sorted(Path(root).rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir() and not path.is_symlink():
            out[rel] = "dir"
        elif path.is_file():
            data = path.read_bytes()
            out[rel] = (len(data), hashlib.sha1(data).hexdigest())
        else:
            out[rel] = "other"
    return out


def diff(before: dict, after: dict) -> str:
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"new: {new}, gone: {gone}, changed: {changed}"


def one_error(result, code: int = 2) -> str:
    """The single ``Error:`` line of a refused command (asserting everything about it)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unhandled {type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, (result.exit_code, result.output)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    line = errors[0]
    assert not re.search(r"\bnp\.\w+\(|array\(", line), line          # no numpy reprs
    assert "allow_pickle" not in line and "trust" not in line, line  # no unpickle advice
    return line


def no_traceback(result, code: int = 0) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unhandled {type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, (result.exit_code, result.output)


def runs_once(folder: Path, expected: set[str]) -> pd.DataFrame:
    """runs.csv parses, holds every expected run exactly once, and every metric is a number."""
    text = (folder / "runs.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].split(",") == list(RUN_COLUMNS)
    frame = pd.read_csv(folder / "runs.csv")
    assert list(frame.columns) == list(RUN_COLUMNS)
    assert sorted(frame["run_id"]) == sorted(expected), frame["run_id"].tolist()
    assert frame["config_hash"].nunique() == 1
    assert np.isfinite(frame["test_accuracy"].astype(float)).all()
    summary = pd.read_csv(folder / "summary.csv")
    assert summary["n_runs"].sum() == len(expected)
    return frame


@pytest.fixture(autouse=True)
def _deadline():
    """A case that hangs fails after 120 s instead of stalling the suite."""
    import signal

    def expired(signum, frame):
        raise TimeoutError("the command was still running after 120 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A work folder (the cwd) and a ``cli(*args)`` that runs noisylab there."""
    root = tmp_path / "work"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setattr(sweep_pkg, "load_trainer", lambda: sweep_fakes.fake_train)
    monkeypatch.setenv("COLUMNS", "200")

    def cli(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    return root, cli


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-run sweep folder (fake trainer), copied by each test that damages it."""
    base = tmp_path_factory.mktemp("finished")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sweep_pkg, "load_trainer", lambda: sweep_fakes.fake_train)
        mp.chdir(base)
        result = CliRunner().invoke(main, ["sweep", *TINY, *LEVELS, "--out", str(base / "res")])
    assert result.exit_code == 0, result.output
    return base / "res"


def _copy(finished: Path, root: Path) -> Path:
    out = root / "res"
    shutil.copytree(finished, out)
    return out


def _ids(folder: Path) -> set[str]:
    return set(pd.read_csv(folder / "runs.csv")["run_id"])


def _resume(cli, out: Path):
    return cli("sweep", *TINY, *LEVELS, "--out", out)


def _h5(path: Path, *, train_images, train_labels, test_images=None, test_labels=None):
    with h5py.File(path, "w") as f:
        f["train/images"] = train_images
        f["train/labels"] = train_labels
        f["test/images"] = train_images if test_images is None else test_images
        f["test/labels"] = train_labels if test_labels is None else test_labels
        f.attrs["name"] = path.stem
    return path


# ---------------------------------------------------------------------------------------------
# silent damage: a damaged runs.csv is repaired (every run once) or refused (nothing changed)


def _cut_newline(text: str) -> str:
    return text.rstrip("\n")


def _cut_half(text: str) -> str:
    body = text.rstrip("\n")
    last = body.rfind("\n") + 1
    return body[: last + (len(body) - last) // 2]


def _empty(text: str) -> str:
    return ""


def _header_only(text: str) -> str:
    return text.splitlines(keepends=True)[0]


@pytest.mark.parametrize("damage", [_cut_newline, _cut_half, _empty, _header_only],
                         ids=["no-final-newline", "last-row-cut-in-half", "empty", "header-only"])
def test_damaged_runs_csv_is_repaired_on_resume(work, finished, damage):
    root, cli = work
    out = _copy(finished, root)
    ids = _ids(out)
    csv = out / "runs.csv"
    csv.write_text(damage(csv.read_text()))
    result = _resume(cli, out)
    no_traceback(result, 0)
    runs_once(out, ids)
    # and once more: a second resume redoes nothing and changes no row
    before = csv.read_bytes()
    result = _resume(cli, out)
    no_traceback(result, 0)
    assert csv.read_bytes() == before


def _bad_metric_middle(text: str) -> str:
    lines = text.splitlines(keepends=True)
    fields = lines[1].split(",")
    fields[RUN_COLUMNS.index("test_accuracy")] = "abc"
    lines[1] = ",".join(fields)
    return "".join(lines)


def _extra_field_middle(text: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1].rstrip("\n") + ",1\n"
    return "".join(lines)


def _foreign_header(text: str) -> str:
    return "a,b,c\n1,2,3\n"


def _glued_rows(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return lines[0] + lines[1].rstrip("\n") + lines[2]


def _binary(text: str) -> str:
    return text  # replaced by bytes below


def _other_hash(text: str) -> str:
    lines = text.splitlines(keepends=True)
    fields = lines[1].split(",")
    fields[RUN_COLUMNS.index("config_hash")] = "0123456789ab"
    lines[1] = ",".join(fields)
    return "".join(lines)


def _empty_run_id(text: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1][lines[1].index(","):]
    return "".join(lines)


@pytest.mark.parametrize("damage", [_bad_metric_middle, _extra_field_middle, _foreign_header,
                                    _glued_rows, _binary, _other_hash, _empty_run_id],
                         ids=["bad-metric", "extra-field", "foreign-header", "glued-rows",
                              "not-utf8", "other-config-hash", "empty-run-id"])
def test_damaged_runs_csv_is_refused_and_left_alone(work, finished, damage):
    root, cli = work
    out = _copy(finished, root)
    csv = out / "runs.csv"
    if damage is _binary:
        csv.write_bytes(csv.read_bytes()[:-40] + b"\xff\xfe\x00garbage\n")
    else:
        csv.write_text(damage(csv.read_text()))
    before = snapshot(root)
    line = one_error(_resume(cli, out))
    assert "runs.csv" in line
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_runs_csv_that_is_a_folder(work, finished):
    root, cli = work
    out = _copy(finished, root)
    (out / "runs.csv").unlink()
    (out / "runs.csv").mkdir()
    before = snapshot(root)
    one_error(_resume(cli, out))
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_plot_of_a_torn_runs_csv_uses_only_whole_rows(work, finished):
    root, cli = work
    out = _copy(finished, root)
    csv = out / "runs.csv"
    csv.write_text(_cut_half(csv.read_text()))
    result = cli("plot", out)
    no_traceback(result, 0)
    assert (out / "plots" / "report.html").is_file()
    assert "runs.csv" in result.output and "cut short" in result.output


@pytest.mark.parametrize("damage", [_foreign_header, _glued_rows, _bad_metric_middle],
                         ids=["foreign-header", "glued-rows", "bad-metric"])
def test_plot_of_a_damaged_runs_csv_is_refused(work, finished, damage):
    root, cli = work
    out = _copy(finished, root)
    csv = out / "runs.csv"
    csv.write_text(damage(csv.read_text()))
    before = snapshot(root)
    line = one_error(cli("plot", out))
    assert "runs.csv" in line
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_damaged_summary_csv_is_rebuilt(work, finished):
    root, cli = work
    out = _copy(finished, root)
    (out / "summary.csv").write_bytes(b"\xff\x00 not a csv \n\"unclosed")
    result = cli("plot", out)
    no_traceback(result, 0)
    assert (out / "plots" / "report.html").is_file()
    result = _resume(cli, out)
    no_traceback(result, 0)
    runs_once(out, _ids(out))


def test_two_sweeps_with_different_configs_into_one_new_folder(tmp_path):
    """Started together into one new folder: exactly one proceeds, the other gets one line."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import noisylab.sweep as sweep, sweep_fakes\n"
        "sweep.load_trainer = lambda: sweep_fakes.fake_train\n"
        "from noisylab.cli import main\n"
        "main(['sweep', *sys.argv[1:]], prog_name='noisylab')\n")
    out = tmp_path / "new"
    procs = [subprocess.Popen([sys.executable, str(launcher), *TINY, "--levels", levels,
                               "--out", str(out)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for levels in ("0,0.5", "0.2,0.7,0.9")]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    ok = next(r for r in results if r[2] == 0)
    refused = next(r for r in results if r[2] == 2)
    errors = [line for line in refused[1].splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in refused[1], refused[1]
    runs = pd.read_csv(out / "runs.csv")
    assert runs["config_hash"].nunique() == 1 and runs["run_id"].is_unique
    assert len(runs) in (2, 3) and "Traceback" not in ok[1]


# ---------------------------------------------------------------------------------------------
# divergence: non-finite options refused up front; a NaN run is a failed run, never a row


@pytest.mark.parametrize("args", [["--lr", "inf"], ["--lr", "nan"], ["--lr", "-1"]],
                         ids=["lr-inf", "lr-nan", "lr-negative"])
def test_non_finite_learning_rate_is_refused(work, args):
    root, cli = work
    before = snapshot(root)
    line = one_error(cli("sweep", *TINY, *args))
    assert "learning_rate" in line
    assert snapshot(root) == before, diff(before, snapshot(root))


@pytest.mark.parametrize("value", [".inf", ".nan"])
def test_non_finite_learning_rate_in_a_config_is_refused(work, value):
    root, cli = work
    (root / "c.yaml").write_text(f"train: {{learning_rate: {value}}}\n")
    before = snapshot(root)
    one_error(cli("sweep", "--config", "c.yaml", *TINY))
    assert snapshot(root) == before, diff(before, snapshot(root))


def _nan_train(*args, options, **kwargs):
    result = sweep_fakes.fake_train(*args, options=options, **kwargs)
    if options.learning_rate > 1:
        result.history["loss"][-1] = float("nan")
        result.test_probs[:] = np.nan
    return result


def test_a_diverging_run_is_a_failed_run_not_a_result(work, monkeypatch):
    root, cli = work
    monkeypatch.setattr(sweep_pkg, "load_trainer", lambda: _nan_train)
    out = root / "res"
    for _ in range(2):     # the rerun retries it and keeps no garbage row
        result = cli("sweep", *TINY, *LEVELS, "--lr", "1e6", "--out", out)
        no_traceback(result, 3)
        assert "diverged" in result.output
        assert read_runs(out / "runs.csv").empty
        failures = pd.read_csv(out / "failures.csv")
        assert len(failures) == 2 and failures["run_id"].is_unique


# ---------------------------------------------------------------------------------------------
# checks before the folder exists: nothing written, and the corrected command then works


def _one_class(root):
    x = np.zeros((20, 8, 8, 1), np.uint8)
    return _h5(root / "one.h5", train_images=x, train_labels=np.zeros(20, np.int64))


def _zero_height(root):
    x = np.zeros((20, 0, 8, 1), np.uint8)
    return _h5(root / "flat.h5", train_images=x, train_labels=np.arange(20) % 2)


def _zero_channels(root):
    x = np.zeros((20, 8, 8, 0), np.uint8)
    return _h5(root / "nochan.h5", train_images=x, train_labels=np.arange(20) % 2)


@pytest.mark.parametrize("make", [_one_class, _zero_height, _zero_channels],
                         ids=["one-class", "zero-height", "zero-channels"])
def test_unusable_dataset_is_refused_before_any_folder(work, make):
    root, cli = work
    path = make(root)
    before = snapshot(root)
    line = one_error(cli("sweep", "--dataset", path, "--epochs", "1", "--levels", "0",
                         "--out", root / "res"))
    assert path.name in line
    assert snapshot(root) == before, diff(before, snapshot(root))


NOISE_OPTION_CASES = {
    "flip-self-map": ("flip", "flip: {mapping: '0:0'}"),
    "flip-unknown-class": ("flip", "flip: {mapping: '0:42'}"),
    "clusters-zero": ("concentrated", "concentrated: {clusters: 0}"),
    "confusion-wrong-shape": ("confusion", "confusion: {matrix: '0.5,0.5;0.5,0.5'}"),
    "asymmetric-bad-preset": ("asymmetric", "asymmetric: {preset: nope}"),
    "instance-flip-sd": ("instance", "instance: {flip_sd: -1}"),
}


@pytest.mark.parametrize("case", list(NOISE_OPTION_CASES), ids=list(NOISE_OPTION_CASES))
def test_bad_noise_option_values_are_refused_before_any_folder(work, case):
    root, cli = work
    kind, options = NOISE_OPTION_CASES[case]
    (root / "c.yaml").write_text(f"noise: [{kind}]\nlevels: [0.3]\nnoise_options:\n  {options}\n")
    before = snapshot(root)
    one_error(cli("sweep", "--config", "c.yaml", *TINY, "--out", root / "res"))
    assert snapshot(root) == before, diff(before, snapshot(root))


@pytest.mark.parametrize("args", [["--subset", "1", "--val", "noisy"], ["--subset", "5"],
                                  ["--out", ""], ["--seed", str(2**32)], ["--seed", "-1"],
                                  ["--name", "../escape"]],
                         ids=["subset1-val-noisy", "subset-below-classes", "out-empty",
                              "seed-2**32", "seed-negative", "name-traversal"])
def test_bad_sweep_options_are_refused_before_any_folder(work, args):
    root, cli = work
    before = snapshot(root)
    line = one_error(cli("sweep", "--epochs", "1", "--levels", "0", *args))
    if "--seed" in args:
        assert "seed" in line and "random_state" not in line
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_a_refused_command_leaves_nothing_that_refuses_the_corrected_one(work):
    root, cli = work
    one_error(cli("sweep", *LEVELS, "--subset", "1", "--val", "noisy", "--epochs", "1",
                  "--out", root / "res"))
    result = cli("sweep", *LEVELS, "--subset", "200", "--val", "noisy", "--epochs", "1",
                 "--out", root / "res")
    no_traceback(result, 0)


# ---------------------------------------------------------------------------------------------
# tracebacks on damaged or foreign files


def _config_list(out):
    (out / "config.yaml").write_text("- a\n- b\n")


def _config_binary(out):
    (out / "config.yaml").write_bytes(b"\xff\xfe\x00\x01name: x\n")


def _config_yaml_error(out):
    (out / "config.yaml").write_text("name: [unclosed\n")


def _metadata_binary(out):
    (out / "metadata.json").write_bytes(b"\xff\xfe{}")


def _metadata_list(out):
    (out / "metadata.json").write_text("[1, 2]\n")


def _metadata_broken(out):
    (out / "metadata.json").write_text('{"sessions": [')


@pytest.mark.parametrize("damage", [_config_list, _config_binary, _config_yaml_error,
                                    _metadata_binary, _metadata_list, _metadata_broken],
                         ids=["config-list", "config-not-utf8", "config-bad-yaml",
                              "metadata-not-utf8", "metadata-list", "metadata-bad-json"])
def test_damaged_folder_files_are_refused_on_resume(work, finished, damage):
    root, cli = work
    out = _copy(finished, root)
    damage(out)
    before = snapshot(root)
    line = one_error(_resume(cli, out))
    assert ("config.yaml" in line) or ("metadata.json" in line)
    assert snapshot(root) == before, diff(before, snapshot(root))


@pytest.mark.parametrize("text", [b"- a\n- b\n", b"\xff\xfe\x00levels: 0\n", b"levels: [\n",
                                  b"train: 3\n"],
                         ids=["list", "not-utf8", "bad-yaml", "train-not-mapping"])
def test_bad_config_file_is_refused(work, text):
    root, cli = work
    (root / "c.yaml").write_bytes(text)
    before = snapshot(root)
    line = one_error(cli("sweep", "--config", "c.yaml"))
    assert "c.yaml" in line or "train" in line
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_plot_with_a_config_yaml_that_is_a_list(work, finished):
    root, cli = work
    out = _copy(finished, root)
    _config_list(out)
    result = cli("plot", out)
    no_traceback(result, 0)
    assert (out / "plots" / "report.html").is_file()


def test_plot_with_damaged_metadata(work, finished):
    root, cli = work
    out = _copy(finished, root)
    _metadata_binary(out)
    result = cli("plot", out)
    no_traceback(result, 0)
    assert (out / "plots" / "report.html").is_file()


def _npy(root):
    path = root / "p.npy"
    np.save(path, np.full((5, 3), 1 / 3))
    return path


def _truncated_npz(root):
    path = root / "p.npz"
    np.savez(path, probs=np.full((5, 3), 1 / 3), y_true=np.zeros(5, np.int64))
    path.write_bytes(path.read_bytes()[:100])
    return path


def _pickled_npz(root):
    path = root / "p.npz"
    np.savez(path, probs=np.array([{"a": 1}], dtype=object), y_true=np.zeros(1, np.int64))
    return path


def _csv_softmax(root):
    path = root / "p.npz"
    path.write_text("0.5,0.5\n")
    return path


@pytest.mark.parametrize("make", [_npy, _truncated_npz, _pickled_npz, _csv_softmax],
                         ids=["npy", "truncated-npz", "pickled-npz", "text-as-npz"])
def test_analytic_softmax_of_the_wrong_kind(work, make):
    root, cli = work
    path = make(root)
    before = snapshot(root)
    line = one_error(cli("analytic", "--noise", "random", "--softmax", path, "--k", "1",
                         "--levels", "0,0.5"))
    assert path.name in line
    assert snapshot(root) == before, diff(before, snapshot(root))


def _matrix_binary(root):
    path = root / "m.csv"
    path.write_bytes(b"\xff\xfe0.5,0.5\n")
    return path


def _matrix_truncated_npy(root):
    path = root / "m.npy"
    np.save(path, np.eye(3))
    path.write_bytes(path.read_bytes()[:90])
    return path


@pytest.mark.parametrize("make", [_matrix_binary, _matrix_truncated_npy],
                         ids=["csv-not-utf8", "truncated-npy"])
def test_analytic_damaged_matrix(work, make):
    root, cli = work
    path = make(root)
    before = snapshot(root)
    line = one_error(cli("analytic", "--noise", "confusion", "--classes", "3", "--matrix", path,
                         "--k", "1", "--levels", "0.5"))
    assert path.name in line
    assert snapshot(root) == before, diff(before, snapshot(root))


def _labels_binary(root):
    path = root / "labels.csv"
    path.write_bytes(b"\xff\xfe\x001\n2\n")
    return ["--noise", "file", "--file", path]


def _labels_float_npy(root):
    path = root / "labels.npy"
    np.save(path, np.full((1437, 2), 0.5))
    return ["--noise", "file", "--file", path]


def _labels_truncated_npy(root):
    path = root / "labels.npy"
    np.save(path, np.zeros(1437, np.int64))
    path.write_bytes(path.read_bytes()[:200])
    return ["--noise", "file", "--file", path]


def _features_truncated(root):
    path = root / "feats.npy"
    np.save(path, np.zeros((1437, 4)))
    path.write_bytes(path.read_bytes()[:300])
    return ["--noise", "concentrated", "--level", "0.3", "--features", path]


def _features_pickled(root):
    path = root / "feats.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return ["--noise", "concentrated", "--level", "0.3", "--features", path]


def _dataset_garbage(root):
    path = root / "junk.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(200))
    return ["--dataset", path, "--noise", "random", "--level", "0.3"]


@pytest.mark.parametrize("make", [_labels_binary, _labels_float_npy, _labels_truncated_npy,
                                  _features_truncated, _features_pickled, _dataset_garbage],
                         ids=["labels-not-utf8", "labels-2d-floats", "labels-truncated",
                              "features-truncated", "features-pickled", "dataset-garbage"])
def test_inject_damaged_inputs(work, make):
    root, cli = work
    args = make(root)
    before = snapshot(root)
    one_error(cli("inject", *args, "--out", root / "noisy.npz"))
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_data_info_of_a_damaged_file(work):
    root, cli = work
    path = root / "junk.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(300))
    before = snapshot(root)
    line = one_error(cli("data", "info", path))
    assert "junk.h5" in line
    assert snapshot(root) == before


# ---------------------------------------------------------------------------------------------
# unwritable output


UNWRITABLE = {
    "inject-proc": ["inject", "--noise", "random", "--level", "0.2", "--out",
                    "/proc/noisylab-x/n.npz"],
    "inject-missing-parent": ["inject", "--noise", "random", "--level", "0.2", "--out",
                              "{root}/no/such/n.npz"],
    "inject-out-is-folder": ["inject", "--noise", "random", "--level", "0.2", "--out",
                             "{root}/adir"],
    "analytic-proc": ["analytic", "--noise", "random", "--classes", "3", "--k", "1",
                      "--levels", "0,0.5", "--out", "/proc/noisylab-x"],
    "analytic-out-is-file": ["analytic", "--noise", "random", "--classes", "3", "--k", "1",
                             "--levels", "0,0.5", "--out", "{root}/afile"],
    "sweep-proc": ["sweep", "--epochs", "1", "--levels", "0", "--out", "/proc/noisylab-x/r"],
}


@pytest.mark.parametrize("case", list(UNWRITABLE), ids=list(UNWRITABLE))
def test_unwritable_output(work, case):
    root, cli = work
    (root / "adir").mkdir()
    (root / "afile").write_text("x")
    args = [a.format(root=root) for a in UNWRITABLE[case]]
    before = snapshot(root)
    one_error(cli(*args))
    assert snapshot(root) == before, diff(before, snapshot(root))


def test_plot_to_an_unwritable_out(work, finished):
    root, cli = work
    out = _copy(finished, root)
    before = snapshot(root)
    one_error(cli("plot", out, "--out", "/proc/noisylab-x"))
    assert snapshot(root) == before, diff(before, snapshot(root))


# ---------------------------------------------------------------------------------------------
# disk full: a 2 MiB tmpfs


@pytest.fixture
def full_disk(tmp_path):
    """A tiny tmpfs mounted at tmp_path/disk, and a function that fills it to ``free`` bytes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")

    def fill(free: int) -> None:
        stat = os.statvfs(disk)
        avail = stat.f_bavail * stat.f_frsize
        with open(disk / ".filler", "wb") as fh:
            fh.write(b"\0" * max(0, avail - free))

    try:
        yield disk, fill
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_disk_full_sweep(work, full_disk, finished):
    root, cli = work
    disk, fill = full_disk
    out = disk / "res"
    shutil.copytree(finished, out)
    # the second run is still to do: drop its row and files
    lines = (out / "runs.csv").read_text().splitlines(keepends=True)
    dropped = lines[-1].split(",")[0]
    (out / "runs.csv").write_text("".join(lines[:-1]))
    shutil.rmtree(out / "runs" / dropped)
    result = cli("sweep", *TINY, *LEVELS, "--out", out)   # writes summary.csv again
    assert result.exit_code == 0
    (out / "runs.csv").write_text("".join(lines[:-1]))
    shutil.rmtree(out / "runs" / dropped)
    kept = (out / "runs.csv").read_bytes()
    fill(2048)
    one_error(cli("sweep", *TINY, *LEVELS, "--out", out))
    assert (out / "runs.csv").read_bytes() == kept        # existing results intact
    assert not (out / "runs" / dropped).exists()          # nothing partial
    assert not list(out.rglob("*.tmp"))
    # a new sweep on the full disk leaves no folder behind
    one_error(cli("sweep", *TINY, "--levels", "0", "--out", disk / "new"))
    assert not (disk / "new").exists()


def test_disk_full_inject(work, full_disk):
    root, cli = work
    disk, fill = full_disk
    (disk / "n.npz").write_bytes(b"an earlier result")      # must survive untouched
    fill(1024)
    before = snapshot(disk)
    line = one_error(cli("inject", "--noise", "random", "--level", "0.2", "--out",
                         disk / "n.npz"))
    assert "n.npz" in line
    assert snapshot(disk) == before, diff(before, snapshot(disk))


def test_disk_full_analytic(work, full_disk):
    root, cli = work
    disk, fill = full_disk
    (disk / "an").mkdir()
    (disk / "an" / "analytic.csv").write_text("level,k,accuracy\n0.0,1,1.0\n")  # earlier
    fill(6000)
    before = snapshot(disk)
    one_error(cli("analytic", "--noise", "random", "--classes", "3", "--k", "1,5",
                  "--levels", "0:1:0.1", "--out", disk / "an"))
    assert snapshot(disk) == before, diff(before, snapshot(disk))


def test_disk_full_plot(work, full_disk, finished):
    root, cli = work
    disk, fill = full_disk
    out = disk / "res"
    shutil.copytree(finished, out)
    fill(20000)
    before = snapshot(disk)
    one_error(cli("plot", out))
    assert snapshot(disk) == before, diff(before, snapshot(disk))


# ---------------------------------------------------------------------------------------------
# unbounded work: refused at once, with what it would cost


BOUNDS = {
    "sweep-million-levels": ["sweep", "--levels", "0:1:1e-6"],
    "sweep-huge-repeats": ["sweep", "--repeats", "1000000"],
    "analytic-huge-k": ["analytic", "--noise", "random", "--classes", "10", "--k", "100000"],
    "analytic-huge-classes": ["analytic", "--noise", "random", "--classes", "100000",
                              "--k", "5"],
    "analytic-billion-levels": ["analytic", "--noise", "random", "--classes", "3",
                                "--levels", "0:1:1e-9"],
    "inject-huge-clusters": ["inject", "--noise", "concentrated", "--level", "0.3",
                             "--clusters", "1000000000", "--out", "n.npz"],
}


class _Done:
    """A finished subprocess in the shape of click's `Result` (for `one_error`)."""

    def __init__(self, proc):
        self.exit_code, self.stderr = proc.returncode, proc.stderr
        self.output = proc.stdout + proc.stderr
        self.exception = None


def _limit_memory():  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize("case", list(BOUNDS), ids=list(BOUNDS))
def test_unbounded_work_is_refused_at_once(work, case):
    """In a child process with 4 GiB of address space and 60 s: a hang or a huge allocation
    fails the case instead of the machine."""
    root, cli = work
    before = snapshot(root)
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "noisylab", *BOUNDS[case]], cwd=root,
                              capture_output=True, text=True, timeout=60,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: still working after 60 s")
    one_error(_Done(proc))
    assert time.perf_counter() - start < 30
    assert snapshot(root) == before, diff(before, snapshot(root))


# ---------------------------------------------------------------------------------------------
# plot degrades per run: a broken per-run file skips its figure with a note


def _run_file_damage(out: Path, name: str, how: str) -> Path:
    run_id = sorted(_ids(out))[-1]
    path = out / "runs" / run_id / name
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    elif how == "garbage":
        path.write_bytes(b"\xff\xfe\x00\x01" * 20)
    elif how == "wrong-shape":
        data = dict(np.load(path, allow_pickle=False))
        for key in ("probs", "transition"):
            if key in data:
                data[key] = data[key].ravel()[:5]
        np.savez(path, **data)
    return path


PER_RUN = {
    "predictions-truncated": ("predictions.npz", "truncate"),
    "predictions-garbage": ("predictions.npz", "garbage"),
    "predictions-wrong-shape": ("predictions.npz", "wrong-shape"),
    "noise-truncated": ("noise.npz", "truncate"),
    "noise-wrong-shape": ("noise.npz", "wrong-shape"),
    "history-garbage": ("history.csv", "garbage"),
}


@pytest.mark.parametrize("case", list(PER_RUN), ids=list(PER_RUN))
def test_plot_degrades_per_run(work, finished, case):
    root, cli = work
    out = _copy(finished, root)
    path = _run_file_damage(out, *PER_RUN[case])
    result = cli("plot", out)
    no_traceback(result, 0)
    report = out / "plots" / "report.html"
    assert report.is_file()
    assert path.name in report.read_text(encoding="utf-8")
    assert "accuracy_vs_noise.png" in {p.name for p in (out / "plots").iterdir()}


# ---------------------------------------------------------------------------------------------
# misleading messages


def test_unquoted_yaml_range_is_read_as_a_range(work):
    root, cli = work
    (root / "c.yaml").write_text("levels: 0:1:0.5\n")
    result = cli("sweep", "--config", "c.yaml", *TINY, "--out", root / "res")
    no_traceback(result, 0)
    assert sorted(pd.read_csv(root / "res" / "runs.csv")["level"]) == [0.0, 0.5, 1.0]


def test_ctrl_c_before_the_first_run_exits_130(work, monkeypatch):
    root, cli = work

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_pkg, "plan_sweep", interrupted)
    before = snapshot(root)
    result = cli("sweep", "--epochs", "1", "--levels", "0")
    assert result.exit_code == 130, result.output
    assert "Aborted" not in result.output and "Traceback" not in result.output
    assert snapshot(root) == before


def test_an_unexpected_error_is_one_line_with_a_saved_traceback(work, monkeypatch):
    root, cli = work

    def broken(*args, **kwargs):
        raise RuntimeError("something no check foresaw")

    monkeypatch.setattr(sweep_pkg, "plan_sweep", broken)
    monkeypatch.setenv("TMPDIR", str(root.parent))
    result = cli("sweep", "--epochs", "1", "--levels", "0")
    line = one_error(result, code=1)
    assert "something no check foresaw" in line
    saved = Path(re.search(r"traceback in (\S+?)\)?$", line).group(1).rstrip(")"))
    assert saved.is_file() and "RuntimeError" in saved.read_text()


def test_metadata_sessions_are_kept_on_resume(work, finished):
    """Nothing already recorded is lost: a resume appends a session, never rewrites the first."""
    root, cli = work
    out = _copy(finished, root)
    first = json.loads((out / "metadata.json").read_text())
    no_traceback(_resume(cli, out), 0)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["sessions"][: len(first["sessions"])] == first["sessions"]
    assert len(meta["sessions"]) == len(first["sessions"]) + 1


@pytest.mark.slow
def test_a_real_keras_run_that_diverges_is_a_failed_run(tmp_path, monkeypatch):
    """``--lr 1e6`` (a typo for 1e-6) on a tiny digits sweep with the real trainer: the NaN run
    is recorded as failed (exit 3), never as a finished row, and the rerun retries it."""
    from noisylab.sweep.runner import load_trainer as real_trainer

    monkeypatch.setattr(sweep_pkg, "load_trainer", real_trainer)
    out = tmp_path / "res"
    for _ in range(2):
        result = CliRunner().invoke(main, ["sweep", *TINY, "--levels", "0", "--lr", "1e6",
                                           "--out", str(out)])
        no_traceback(result, 3)
        assert read_runs(out / "runs.csv").empty
        failures = pd.read_csv(out / "failures.csv")
        assert failures["error_type"].tolist() == ["TrainingDiverged"]
