"""The registry of robust training methods: names, options with defaults and ranges, backends.

Keras-free: the sweep checks a config against it before any folder exists, and the CLI lists its
names, without importing a framework. The losses themselves live in
`noisylab.training.methods.losses` (Keras ops); each `Method` names its loss builder there.

Notation: L classes, p the softmax output (p_k for class k), ỹ the (noisy) training label,
T the L x L transition matrix with T[i, j] = P(ỹ = j | y = i).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from noisylab.errors import NoisylabError
from noisylab.validate import check_bool, check_choice, check_scalar

#: Keras backends whose ops every method here is written in.
ALL_BACKENDS = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class Option:
    """One option of a method: its default and its rule (``check(value, name)``)."""

    default: Any
    check: Callable[[Any, str], Any]
    doc: str = ""


def _number(low=None, high=None, closed="both"):
    return functools.partial(check_scalar, kind=float, low=low, high=high, closed=closed)


def _choice(*choices: str):
    return lambda value, name: check_choice(value, name, choices)


@dataclass(frozen=True)
class Method:
    """A robust training method.

    Attributes
    ----------
    name : str
    summary : str
        The formula in one line (also the README table).
    paper : str
        Who proposed it, and the reference code when there is one.
    options : dict of str to Option
    backends : tuple of str
        The Keras backends it supports.
    transition : bool
        Whether it needs a transition matrix T (``T: known`` is the run's realized one, oracle
        information; ``T: estimated`` comes from a CE model trained first).
    ce_first : bool
        Whether it always trains a CE model first (noise adaptation: its initial channel;
        label correction: the predictions that relabel).
    peers : bool
        Whether it trains two networks side by side (`noisylab.training.batchloop`, the sample
        rule in `noisylab.training.methods.peers`); the first network is the one tested.
    per_sample : bool
        Whether its loss needs per-sample state that the batch loop keeps and updates
        (`noisylab.training.methods.targets`: ELR's running targets).

    A method can be packed (`packable`, `noisylab.training.packed`) when its training is one
    loss of (label, softmax) alone: no transition matrix, no CE model first, no channel layer,
    no second network, no per-sample state.
    """

    name: str
    summary: str
    paper: str
    options: Mapping[str, Option] = field(default_factory=dict)
    backends: tuple[str, ...] = ALL_BACKENDS
    transition: bool = False
    ce_first: bool = False
    peers: bool = False
    per_sample: bool = False

    @property
    def packable(self) -> bool:
        """Whether `noisylab.training.packed` can train it (see the class docstring)."""
        return not (self.transition or self.ce_first or self.batchwise
                    or self.name in _CHANNEL_METHODS)

    @property
    def batchwise(self) -> bool:
        """Whether it trains in `noisylab.training.batchloop` (not under ``model.fit``)."""
        return self.peers or self.per_sample

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every option of this method, given ones checked, others at their default.

        Raises
        ------
        NoisylabError
            An option this method does not take (the message lists the valid ones), or a value
            out of its range (``method_options.gce.q must be in (0, 1], got 1.5``).
        """
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise NoisylabError(
                f"method {self.name!r} does not take option {unknown[0]!r}; valid: {valid}")
        out = {}
        for key, option in self.options.items():
            value = given.get(key, option.default)
            out[key] = option.check(value, f"method_options.{self.name}.{key}")
        return out

    def needs_ce_model(self, options: Mapping[str, Any]) -> bool:
        """Whether a CE model is trained first (estimated T, or the channel's initialisation)."""
        return self.ce_first or (self.transition and options.get("T") == "estimated")

    def oracle(self, options: Mapping[str, Any]) -> bool:
        """Whether the method uses oracle information (the run's realized transition, or its
        noise level as co-teaching's forget rate)."""
        return (self.transition and options.get("T") == "known") or (
            options.get("forget_rate") == "level")


#: Methods that put a channel layer on top of the network (`losses.make_channel`).
_CHANNEL_METHODS = frozenset({"noise-adaptation", "nnaqc"})

_T = Option("estimated", _choice("estimated", "known"),
            "known: the run's realized transition (oracle); estimated: anchor points of a CE "
            "model trained first")
_FILTER = Option(False, check_bool,
                 "anchor = the sample at the 97th percentile of p(ỹ = i | x) instead of the "
                 "maximum (Patrini et al.'s filter_outlier)")



def _forget(value, name):
    if value == "level":
        return value
    if isinstance(value, str):
        raise NoisylabError(f"{name} must be 'level' or a number in [0, 1), got {value!r}")
    return check_scalar(value, name, kind=float, low=0.0, high=1.0, closed="left")


_FORGET = Option("level", _forget,
                 "τ, the final forget rate: 'level' is the run's noise level (oracle "
                 "information, as in the paper), or a number in [0, 1)")
_GRADUAL = Option(10, functools.partial(check_scalar, kind=int, low=1),
                  "T_k, epochs over which the forget rate grows to τ (the paper's 10)")
_EXPONENT = Option(1.0, _number(0.0, None, "neither"),
                   "c in f(e) = τ·min((e/T_k)^c, 1); 1 is linear (the reference code's default)")

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("ce", "−log p_ỹ (sparse categorical cross-entropy; the default)", "—"),
    Method("label-smoothing", "−Σ_k t_k log p_k, t = (1 − α)·onehot(ỹ) + α/L",
           "Szegedy et al. 2016, 'Rethinking the Inception architecture'",
           {"alpha": Option(0.1, _number(0.0, 1.0), "α in [0, 1]")}),
    Method("bootstrap-soft", "−Σ_k (β·onehot(ỹ)_k + (1 − β)·p_k) log p_k",
           "Reed et al. 2014, 'Training deep neural networks on noisy labels with "
           "bootstrapping'", {"beta": Option(0.95, _number(0.0, 1.0), "β in [0, 1]")}),
    Method("bootstrap-hard", "−Σ_k (β·onehot(ỹ)_k + (1 − β)·onehot(argmax p)_k) log p_k",
           "Reed et al. 2014", {"beta": Option(0.8, _number(0.0, 1.0), "β in [0, 1]")}),
    Method("forward", "−log (Tᵀ p)_ỹ", "Patrini et al. 2017, 'Making deep neural networks "
           "robust to label noise: a loss correction approach' (github.com/giorgiop/"
           "loss-correction)", {"T": _T, "filter_outlier": _FILTER}, transition=True),
    Method("backward", "−(T⁻¹)_ỹ · log p  (row ỹ of T⁻¹ times the vector of −log p_k)",
           "Patrini et al. 2017", {"T": _T, "filter_outlier": _FILTER}, transition=True),
    Method("gce", "(1 − p_ỹ^q)/q; truncated: (1 − max(p_ỹ, k)^q)/q",
           "Zhang & Sabuncu 2018, 'Generalized cross entropy loss for training deep neural "
           "networks with noisy labels' (github.com/AlanChou/Truncated-Loss)",
           {"q": Option(0.7, _number(0.0, 1.0, "right"), "q in (0, 1]"),
            "truncated": Option(False, check_bool, "the truncated Lq loss"),
            "k": Option(0.5, _number(0.0, 1.0, "neither"), "truncation threshold in (0, 1)")}),
    Method("sce", "α·(−log p_ỹ) + β·(−Σ_k p_k log clip(onehot(ỹ)_k)), log 0 := −4 "
           "(RCE = 4·(1 − p_ỹ))",
           "Wang et al. 2019, 'Symmetric cross entropy for robust learning with noisy labels' "
           "(github.com/YisenWang/symmetric_cross_entropy_for_noisy_labels); their α/β: MNIST "
           "0.01/1.0, CIFAR-10 0.1/1.0, CIFAR-100 6.0/0.1",
           {"alpha": Option(0.1, _number(0.0), "α >= 0"),
            "beta": Option(1.0, _number(0.0), "β >= 0")}),
    Method("mae", "1 − p_ỹ  (= ½‖onehot(ỹ) − p‖₁, half of Ghosh et al.'s MAE)",
           "Ghosh, Kumar & Sastry 2017, 'Robust loss functions under label noise for deep "
           "neural networks'"),
    Method("confidence-weighting", "w·(−log p_ỹ), w = p_ỹ^γ / mean over the batch of p_ỹ^γ, "
           "computed in the same forward pass, no gradient through w",
           "the CIFAR-10 label-noise guide (confidence-based sample weighting)",
           {"exponent": Option(1.0, _number(0.0), "γ >= 0 (0 is plain CE)")}),
    Method("noise-adaptation", "−log (p · softmax_rows(W))_ỹ, W an L x L bias-free channel "
           "initialised to log of a CE model's confusion matrix; tested on p alone",
           "Goldberger & Ben-Reuven 2017, 'Training deep neural-networks using a noise "
           "adaptation layer'", ce_first=True),
    Method("nnaqc", "α·(−log softmax(p·W)_ỹ) + (1 − α)·(−Σ_k (β·p_k + (1 − β)·onehot(ỹ)_k) "
           "log p_k): a noise-aware L x L channel W through a second softmax, plus the "
           "quasi-clustering term on p; W starts at log of diag `init_diag`, off-diagonal "
           "(1 − init_diag)/(L − 1); tested on p alone",
           "Jindal, Nokleby, Pressel & Chen, CVPR Workshops 2019 (noise-aware layer and "
           "quasi-clustering; no reference code: the defaults are this project's choice)",
           {"alpha": Option(0.5, _number(0.0, 1.0), "α in [0, 1], the weight of the "
                            "noise-aware term"),
            "beta": Option(0.5, _number(0.0, 1.0), "β in [0, 1], the weight of p (against "
                           "the noisy label) in the quasi-clustering target"),
            "init_diag": Option(0.9, _number(0.0, 1.0, "neither"),
                                "the channel's initial diagonal in (0, 1) (a symmetric "
                                "channel; no oracle information)"),
            "channel_lr": Option(30.0, _number(0.0, None, "neither"),
                                 "the channel's learning rate as a multiple of the "
                                 "network's (> 0)")}),
    Method("label-correction", "train CE; ỹ ← argmax p where max p >= threshold; retrain CE "
           "from scratch on the corrected labels",
           "the CIFAR-10 label-noise guide (label correction by confident predictions)",
           {"threshold": Option(0.9, _number(0.0, 1.0, "right"), "confidence in (0, 1]")},
           ce_first=True),
    Method("coteaching", "two networks; each keeps the (1 − f(e))·B smallest-loss samples of "
           "a batch and its peer trains on them; f(e) = τ·min((e/T_k)^c, 1)",
           "Han et al. 2018, 'Co-teaching: robust training of deep neural networks with "
           "extremely noisy labels' (github.com/bhanML/Co-teaching)",
           {"forget_rate": _FORGET, "num_gradual": _GRADUAL, "exponent": _EXPONENT},
           peers=True),
    Method("coteaching-plus", "co-teaching for init_epoch epochs, then small-loss exchange "
           "among the samples the two networks' predictions disagree on only",
           "Yu et al. 2019, 'How does disagreement help generalization against label "
           "corruption?' (github.com/xingruiyu/coteaching_plus)",
           {"forget_rate": _FORGET, "num_gradual": _GRADUAL, "exponent": _EXPONENT,
            "init_epoch": Option(5, functools.partial(check_scalar, kind=int, low=0),
                                 "epochs of plain co-teaching first (the reference code's 20 "
                                 "of 200 epochs on CIFAR; our runs are 10–50 epochs)")},
           peers=True),
    Method("decoupling", "two networks; after init_epoch epochs on every sample, each updates "
           "only on the samples where their predictions disagree",
           "Malach & Shalev-Shwartz 2017, 'Decoupling \"when to update\" from \"how to "
           "update\"'",
           {"init_epoch": Option(1, functools.partial(check_scalar, kind=int, low=0),
                                 "epochs of plain training on every sample first (fresh "
                                 "networks agree on everything within one epoch otherwise)")},
           peers=True),
    Method("elr", "−log p_ỹ + λ·log(1 − ⟨clip(p), t⟩); per sample t ← β·t + (1 − β)·p̃ at "
           "each step (t₀ = 0, p̃ = p clipped to [1e-4, 1 − 1e-4] and renormalised)",
           "Liu et al. 2020, 'Early-learning regularization prevents memorization of noisy "
           "labels' (github.com/shengliu66/ELR); their CIFAR-10 β 0.7, λ 3 (CIFAR-100: 0.9, 7)",
           {"beta": Option(0.7, _number(0.0, 1.0, "left"), "β in [0, 1)"),
            "lambda": Option(3.0, _number(0.0), "λ >= 0")}, per_sample=True),
    Method("joint-optimization", "stage 1: KL(s‖p) + α·Σ_j π_j log(π_j / p̄_j) + β·(−Σ_k p_k "
           "log p_k), π uniform, p̄ the batch's mean p; from epoch `begin`, s ← mean of the last "
           "`window` epochs' p; stage 2: a fresh network on the final s (KL(s‖p) alone)",
           "Tanaka et al. 2018, 'Joint optimization framework for learning with noisy labels' "
           "(github.com/DaikiTanaka-UT/JointOptimization); their CIFAR-10 α 1.2, β 0.8",
           {"alpha": Option(1.2, _number(0.0), "α >= 0 (the prior term)"),
            "beta": Option(0.8, _number(0.0), "β >= 0 (the entropy term)"),
            "begin": Option(5, functools.partial(check_scalar, kind=int, low=1),
                            "first epoch after which the soft labels are updated"),
            "window": Option(10, functools.partial(check_scalar, kind=int, low=1),
                             "epochs of predictions averaged into a soft label")},
           per_sample=True),
)}
METHOD_NAMES = tuple(METHODS)


def get_method(name: str) -> Method:
    """The method of ``name``; an unknown name lists the valid ones."""
    check_choice(name, "method", METHOD_NAMES, what="method")
    return METHODS[name]


def resolve_methods(methods, method_options: Mapping[str, Mapping[str, Any]] | None
                    ) -> dict[str, dict[str, Any]]:
    """Every swept method's resolved options; checks names and options.

    Raises
    ------
    NoisylabError
        An unknown method, ``method_options`` for a method that is not swept, an unknown option
        or a value out of range.
    """
    method_options = dict(method_options or {})
    for name in methods:
        get_method(name)
    for name in method_options:
        get_method(name)
        if name not in methods:
            raise NoisylabError(f"method_options names {name!r}, which is not among the swept "
                                f"methods: {', '.join(methods)}")
    return {name: METHODS[name].resolve(method_options.get(name)) for name in methods}


def options_text(options: Mapping[str, Any]) -> str:
    """Resolved options as one compact, sorted JSON object (the ``method_options`` column)."""
    return json.dumps(dict(options), sort_keys=True, separators=(",", ":"))
