"""The published protocols noisylab can rerun, each at two scales: a registry by name.

Every protocol trains a fresh model per level (never warm-started, unlike the blog's notebook),
early-stops on a clean validation split (half of the MNIST test set) and uses noisylab's
default training recipe (`noisylab.config.TrainOptions`), unless stated below.
"""

from __future__ import annotations

from dataclasses import dataclass

from noisylab.config import SweepConfig, TrainOptions, parse_levels
from noisylab.validate import check_choice

SCALES = ("small", "full")


@dataclass(frozen=True)
class Protocol:
    """One published protocol.

    Attributes
    ----------
    name : str
    what : str
        One line: what it runs and against what.
    configs : dict of str to SweepConfig
        The sweep at each scale of `SCALES`.
    expected : dict of str to str
        Expected wall time at each scale on a 2-core CPU (measured or marked ESTIMATE).
    """

    name: str
    what: str
    configs: dict[str, SweepConfig]
    expected: dict[str, str]


def _blog(subset: int | None) -> SweepConfig:
    return SweepConfig(name="reproduce-blog", datasets=("mnist",), noise=("symmetric",),
                       levels=parse_levels("0:1:0.1"), repeats=1, models=("blog-cnn",),
                       subset=subset, train=TrainOptions(model="blog-cnn"))


def _drory(subset: int | None, levels: str, features: str) -> SweepConfig:
    return SweepConfig(name="reproduce-drory", datasets=("mnist",),
                       noise=("random", "flip", "concentrated"), levels=parse_levels(levels),
                       repeats=1, models=("drory-mnist",), subset=subset,
                       noise_options={"concentrated": {"features": features}},
                       train=TrainOptions(model="drory-mnist"))


PROTOCOLS: dict[str, Protocol] = {
    "blog": Protocol(
        name="blog",
        what=("the blog's 11 levels of symmetric noise (0, 0.1, ..., 1.0) on MNIST with its "
              "network (blog-cnn); weighted F1 against true and noisy test labels next to its "
              "F1Scores.csv"),
        configs={"small": _blog(10_000), "full": _blog(None)},
        expected={"small": "ESTIMATE 25-45 min (11 runs on a 10,000-image subset)",
                  "full": "ESTIMATE 3-5 h (11 runs on all 60,000 training images)"},
    ),
    "drory": Protocol(
        name="drory",
        what=("Drory et al.'s MNIST protocol: random, flip and concentrated noise with their "
              "network (drory-mnist), against the paper's findings, K-NN model overlaid"),
        configs={"small": _drory(10_000, "0,0.3,0.6,0.8", "pca"),
                 "full": _drory(None, "0:0.9:0.1", "model")},
        expected={"small": "ESTIMATE 30-50 min (12 runs on a 10,000-image subset; concentrated "
                           "clusters in PCA features)",
                  "full": "ESTIMATE 8-14 h (30 runs on 60,000 images plus one clean feature "
                          "model for concentrated noise)"},
    ),
}


def get_protocol(name: str, scale: str) -> tuple[Protocol, SweepConfig]:
    """The protocol called ``name`` and its sweep at ``scale``; one-line errors otherwise."""
    protocol = PROTOCOLS[check_choice(name, "protocol", tuple(PROTOCOLS), what="protocol")]
    scale = check_choice(scale, "scale", SCALES)
    return protocol, protocol.configs[scale]
