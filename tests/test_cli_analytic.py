"""`noisylab analytic` through click's CliRunner."""

from __future__ import annotations

import numpy as np
import pandas as pd
from click.testing import CliRunner

from noisylab.analytic import expected_accuracy
from noisylab.cli import main


def test_writes_csv_and_png(tmp_path):
    out = tmp_path / "an"
    res = CliRunner().invoke(main, ["analytic", "--noise", "random", "--classes", "10",
                                    "--k", "1,5,25", "--levels", "0:1:0.25", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "analytic.csv" in res.output
    df = pd.read_csv(out / "analytic.csv")
    assert list(df.columns) == ["level", "k", "accuracy"]
    assert len(df) == 15 and sorted(df["k"].unique()) == [1, 5, 25]
    row = df[(df.level == 0.5) & (df.k == 5)].accuracy.item()
    assert row == expected_accuracy("random", 0.5, 5, 10)
    assert (out / "analytic.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_softmax_infers_classes(tmp_path):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=30).astype(np.float32)
    y = rng.integers(0, 4, size=30).astype(np.int64)
    npz = tmp_path / "predictions.npz"
    np.savez(npz, probs=probs, y_true=y)
    res = CliRunner().invoke(main, ["analytic", "--noise", "symmetric", "--softmax", str(npz),
                                    "--k", "3", "--levels", "0.2,0.6", "--out",
                                    str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "o" / "analytic.csv")
    want = expected_accuracy("symmetric", [0.2, 0.6], 3, 4, clean_probs=probs, true_labels=y)
    np.testing.assert_allclose(df.accuracy, want, rtol=1e-12)


def test_bad_softmax_is_one_line_exit_2(tmp_path):
    npz = tmp_path / "bad.npz"
    np.savez(npz, probs=np.ones((5, 3, 2)), y_true=np.zeros(5, dtype=np.int64))
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["analytic", "--noise", "random", "--softmax", str(npz),
                                    "--out", str(out)])
    assert res.exit_code == 2
    assert "'probs' must be (n, L)" in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    np.savez(npz, logits=np.ones((5, 3)))
    res = CliRunner().invoke(main, ["analytic", "--noise", "random", "--softmax", str(npz)])
    assert res.exit_code == 2 and "found: logits" in res.output


def test_bad_arguments_exit_2(tmp_path):
    runner = CliRunner()
    for args, text in [
        (["--classes", "1"], "L) must be an integer >= 2"),
        (["--classes", "5", "--k", "0"], "--k must be"),
        (["--classes", "5", "--levels", "0:2:0.5"],
         "bad --levels '0:2:0.5': level must be in [0, 1]"),
        (["--noise", "confusion", "--classes", "3"], "needs a matrix"),
        ([], "--classes is required"),
    ]:
        argv = ["analytic", "--out", str(tmp_path / "x")]
        argv += args if "--noise" in args else ["--noise", "random", *args]
        res = runner.invoke(main, argv)
        assert res.exit_code == 2, (args, res.output)
        assert text in res.output, (args, res.output)


def test_confusion_matrix_file(tmp_path):
    mat = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.2, 0.8, 0.0]])
    path = tmp_path / "P.csv"
    np.savetxt(path, mat, delimiter=",")
    res = CliRunner().invoke(main, ["analytic", "--noise", "confusion", "--classes", "3",
                                    "--matrix", str(path), "--k", "5", "--levels", "0.4",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "o" / "analytic.csv")
    assert df.accuracy.item() == expected_accuracy("confusion", 0.4, 5, 3, matrix=mat)


def test_help_does_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from noisylab.cli import main; "
            "CliRunner().invoke(main, ['analytic', '--help']); "
            "print('matplotlib' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_cli_noise_choices_are_the_library_kinds():
    from noisylab.analytic import ANALYTIC_KINDS
    from noisylab.cli import main

    result = CliRunner().invoke(main, ["analytic", "--help"])
    assert f"[{'|'.join(ANALYTIC_KINDS)}]" in result.output.replace("\n", "").replace(" ", "")
