"""Two-network methods: the per-batch sample rules (numpy), label precision, the registry's
options, and one slow training run of each on digits (`noisylab.training.batchloop`)."""

from __future__ import annotations

import numpy as np
import pytest

from noisylab.errors import NoisylabError
from noisylab.training.methods import get_method, resolve_methods
from noisylab.training.methods.peers import (
    forget_rate,
    label_precision,
    rejection_scores,
    select_updates,
)

# A batch of 6: network 1's and network 2's losses and predictions.
LOSS1 = np.array([0.1, 2.0, 0.5, 0.3, 1.5, 0.2])
LOSS2 = np.array([0.9, 0.1, 0.2, 3.0, 0.4, 0.6])
PRED1 = np.array([0, 1, 2, 3, 4, 5])
PRED2 = np.array([0, 1, 7, 3, 8, 9])      # disagree on samples 2, 4, 5


def test_forget_rate_grows_linearly_to_tau_over_num_gradual_epochs():
    rates = [forget_rate(e, tau=0.5, num_gradual=10, exponent=1.0) for e in (0, 1, 5, 10, 30)]
    assert rates == pytest.approx([0.0, 0.05, 0.25, 0.5, 0.5])
    assert forget_rate(5, tau=0.4, num_gradual=10, exponent=2.0) == pytest.approx(0.1)


def test_coteaching_each_network_trains_on_its_peers_small_loss_samples():
    up1, up2 = select_updates("coteaching", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.5)
    # network 2's three smallest losses are samples 1, 2, 4: network 1 trains on them
    assert np.flatnonzero(up1).tolist() == [1, 2, 4]
    # network 1's three smallest: samples 0, 5, 3
    assert np.flatnonzero(up2).tolist() == [0, 3, 5]
    keep_all = select_updates("coteaching", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.0)
    assert keep_all[0].all() and keep_all[1].all()
    # int((1 - f) B) kept, as the reference code: int(0.7 * 6) = 4
    assert select_updates("coteaching", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.3)[0].sum() == 4


def test_coteaching_plus_exchanges_small_loss_samples_among_disagreements_only():
    up1, up2 = select_updates("coteaching-plus", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.4)
    # disagreements 2, 4, 5; int(0.6 * 3) = 1 kept: network 2's smallest there is 2 (0.2),
    # network 1's is 5 (0.2)
    assert np.flatnonzero(up1).tolist() == [2]
    assert np.flatnonzero(up2).tolist() == [5]
    before = select_updates("coteaching-plus", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.5,
                            disagreement_only=False)
    assert np.flatnonzero(before[0]).tolist() == [1, 2, 4]
    agree = select_updates("coteaching-plus", (LOSS1, LOSS2), (PRED1, PRED1), forget=0.0)
    assert not agree[0].any() and not agree[1].any()


def test_decoupling_updates_both_networks_on_the_disagreements():
    up1, up2 = select_updates("decoupling", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.9)
    assert np.flatnonzero(up1).tolist() == np.flatnonzero(up2).tolist() == [2, 4, 5]
    warm = select_updates("decoupling", (LOSS1, LOSS2), (PRED1, PRED2), forget=0.0,
                          disagreement_only=False)
    assert warm[0].all() and warm[1].all()


def test_ties_keep_the_first_samples_in_batch_order():
    flat = np.ones(5)
    up1, _ = select_updates("coteaching", (flat, flat), (np.zeros(5), np.zeros(5)), forget=0.4)
    assert np.flatnonzero(up1).tolist() == [0, 1, 2]


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "gce"}, "no peer selection for method 'gce'; valid: coteaching"),
    ({"forget": 1.5}, r"forget rate must be in \[0, 1\], got 1.5"),
    ({"losses": (LOSS1, LOSS2[:3])}, "four arrays of one shape"),
])
def test_bad_selection_inputs(kwargs, match):
    args = {"method": "coteaching", "losses": (LOSS1, LOSS2), "predictions": (PRED1, PRED2),
            "forget": 0.2, **kwargs}
    with pytest.raises(NoisylabError, match=match):
        select_updates(args.pop("method"), args.pop("losses"), args.pop("predictions"), **args)


def test_label_precision_is_the_clean_share_of_what_each_network_trained_on():
    corrupted = np.array([True, False, False, True])
    selected = np.array([[[1, 1, 1, 1], [0, 1, 1, 0]],
                         [[1, 0, 0, 0], [0, 0, 0, 0]]], dtype=bool)
    out = label_precision(selected, corrupted)
    assert out[0].tolist() == [0.5, 1.0]
    assert out[1, 0] == 0.0 and np.isnan(out[1, 1])
    with pytest.raises(NoisylabError, match=r"selected must have shape \(networks, epochs, 4\)"):
        label_precision(selected[..., :3], corrupted)


def test_rejection_scores_flag_what_was_left_out():
    corrupted = np.array([True, True, False, False, False])
    kept = np.array([False, True, False, True, True])     # rejected: 0 (corrupted), 2 (clean)
    assert rejection_scores(kept, corrupted) == {"selection_precision": 0.5,
                                                 "selection_recall": 0.5}
    everything = rejection_scores(np.ones(5, dtype=bool), corrupted)
    assert np.isnan(everything["selection_precision"]) and everything["selection_recall"] == 0


def test_registry_forget_rate_and_oracle():
    co = get_method("coteaching")
    assert co.peers and not get_method("gce").peers
    assert co.resolve() == {"forget_rate": "level", "num_gradual": 10, "exponent": 1.0}
    assert co.oracle(co.resolve())                       # the noise level is oracle information
    assert not co.oracle(co.resolve({"forget_rate": 0.3}))
    assert get_method("coteaching-plus").resolve()["init_epoch"] == 5
    assert get_method("decoupling").resolve() == {"init_epoch": 1}
    assert not get_method("decoupling").oracle(get_method("decoupling").resolve())


@pytest.mark.parametrize("options, match", [
    ({"forget_rate": 1.0}, r"method_options.coteaching.forget_rate must be in \[0, 1\), got 1.0"),
    ({"forget_rate": "half"}, "must be 'level' or a number in \\[0, 1\\), got 'half'"),
    ({"num_gradual": 0}, "method_options.coteaching.num_gradual must be an integer >= 1, got 0"),
    ({"exponent": 0}, r"method_options.coteaching.exponent must be > 0, got 0"),
])
def test_bad_coteaching_options(options, match):
    with pytest.raises(NoisylabError, match=match):
        resolve_methods(["coteaching"], {"coteaching": options})


@pytest.mark.slow
def test_coteaching_keeps_cleaner_samples_than_the_noisy_set(tmp_path):
    """digits, symmetric 0.4: the first epoch trains on every sample, then co-teaching keeps
    fewer samples, and what network 1 trains on in the last epoch is cleaner than the training
    set (label precision > 1 - realized rate); decoupling trains both networks on the same
    samples. (Co-teaching+ trains in test_sweep_methods' every-method run.)"""
    import pandas as pd

    from noisylab.config import SweepConfig, TrainOptions
    from noisylab.sweep import plan_sweep, run_sweep

    cfg = SweepConfig(name="t", noise=("symmetric",), levels=(0.4,),
                      methods=("coteaching", "decoupling"), subset=800,
                      train=TrainOptions(epochs=4, patience=4, min_epochs=4))
    result = run_sweep(plan_sweep(cfg, tmp_path / "r"))
    assert not result.failed and result.n_done == 2
    runs = pd.read_csv(result.runs_csv).set_index("method")
    assert runs.loc["coteaching", "oracle"] and not runs.loc["decoupling", "oracle"]
    for method in runs.index:
        folder = tmp_path / "r" / "runs" / runs.loc[method, "run_id"]
        with np.load(folder / "method.npz") as m, np.load(folder / "noise.npz") as z:
            n = z["noisy_labels"].size
            selected = np.unpackbits(m["selected"], axis=-1, count=n).astype(bool)
            assert selected.shape == (2, runs.loc[method, "epochs"], n) == (2, 4, n)
            assert np.array_equal(m["label_precision"][:, 0],
                                  [1 - z["corrupted"].mean()] * 2)   # epoch 1: every sample
            if method == "coteaching":
                assert m["forget_rate"].tolist() == pytest.approx([0.0, 0.04, 0.08, 0.12])
                # int((1 - f) B) per batch, so at most (1 - f) n in all
                assert (selected[:, 1:].sum(axis=-1) <= (1 - m["forget_rate"][1:]) * n).all()
                assert m["label_precision"][0, -1] > 1 - z["corrupted"].mean()
                rejected = ~selected[0, -1]
                assert m["selection_precision"] == pytest.approx(z["corrupted"][rejected].mean())
            if method == "decoupling":
                assert np.array_equal(selected[0], selected[1])
                agreed = ~selected[0, -1]      # what it left out: the samples agreed on
                assert m["selection_recall"] == pytest.approx(
                    agreed[z["corrupted"]].mean())


@pytest.mark.slow
def test_joint_optimization_soft_labels_leave_the_corrupted_labels(tmp_path):
    """digits, symmetric 0.4, soft labels updated from epoch 1 (mean of the last 2 epochs): they
    are distributions, and their argmax leaves the noisy label far more often where the label
    is corrupted than where it is clean (the first stage learns the clean majority)."""
    from noisylab.config import SweepConfig, TrainOptions

    cfg = SweepConfig(name="t", noise=("symmetric",), levels=(0.4,),
                      methods=("joint-optimization",), subset=800,
                      method_options={"joint-optimization": {"begin": 1, "window": 2}},
                      train=TrainOptions(epochs=4, patience=4, min_epochs=4))
    folder = _only_run(cfg, tmp_path)
    with np.load(folder / "method.npz") as m, np.load(folder / "noise.npz") as z:
        soft, noisy, corrupted = m["soft_labels"], z["noisy_labels"], z["corrupted"]
        assert m["stage1_epochs"] == 4
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)
    moved = soft.argmax(axis=1) != noisy
    assert moved[corrupted].mean() > moved[~corrupted].mean() + 0.3


@pytest.mark.slow
def test_coteaching_label_precision_stays_above_one_minus_the_noise_rate(tmp_path):
    """Han et al.'s Fig. 4 on digits, symmetric 50 %: in every epoch after the first (where the
    forget rate is 0 and each network trains on every sample, so its precision *is* 1 − ε), what
    each network trains on is cleaner than the training set, and network 1's precision grows
    with the forget rate (higher in its last epoch than in its second)."""
    from noisylab.config import SweepConfig, TrainOptions

    cfg = SweepConfig(name="t", noise=("symmetric",), levels=(0.5,), methods=("coteaching",),
                      train=TrainOptions(epochs=8, patience=8, min_epochs=8))
    folder = _only_run(cfg, tmp_path)
    with np.load(folder / "method.npz") as m, np.load(folder / "noise.npz") as z:
        precision, clean = m["label_precision"], 1 - z["corrupted"].mean()
    assert precision.shape == (2, 8)
    np.testing.assert_allclose(precision[:, 0], clean)
    assert (precision[:, 1:] > clean).all(), (precision.round(3), round(clean, 3))
    assert precision[0, -1] > precision[0, 1]


def _only_run(cfg, tmp_path):
    """Sweep ``cfg`` (one run) into tmp_path/r; the folder of its run."""
    import pandas as pd

    from noisylab.sweep import plan_sweep, run_sweep

    result = run_sweep(plan_sweep(cfg, tmp_path / "r"))
    assert not result.failed
    return tmp_path / "r" / "runs" / pd.read_csv(result.runs_csv)["run_id"].iloc[0]
