"""What the literature reported, as data: the blog's F1 scores and Drory et al.'s findings."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

#: Where the blog's numbers come from (also written in the CSV's header comment).
BLOG_SOURCE = ("F1Scores.csv of github.com/DragonDuck/LearningWithNoisyLabels "
               "(commit 03e2e80f), the blog 'Training Neural Networks with Noisy Labels'")
DRORY_SOURCE = ("Drory, Avidan and Giryes, 'On the Resistance of Neural Nets to Label Noise' "
                "(MNIST: random noise resisted to ~0.9, flip collapses near 0.5, concentrated "
                "noise gives ~1 - level)")


def blog_f1_scores():
    """The blog's weighted F1 per scrambling level, against true and scrambled labels.

    Returns
    -------
    pandas.DataFrame
        Columns ``level``, ``f1_true``, ``f1_noisy``; 11 rows, levels 0, 0.1, ..., 1.0.
    """
    import pandas as pd

    text = resources.files("noisylab.reproduce").joinpath("data/blog_f1scores.csv").read_text(
        encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    import io

    frame = pd.read_csv(io.StringIO("\n".join(lines)))
    return frame.rename(columns={"Percentages": "level", "TrueF1": "f1_true",
                                 "ScrambledF1": "f1_noisy"})


@dataclass(frozen=True)
class Finding:
    """One published finding, checked on our test accuracy at one (noise, level).

    ``kind`` is ``near`` (within ``tolerance`` of ``reference``; a reference of ``None`` means our
    own level-0 accuracy), ``at_least`` or ``at_most`` (against ``reference``).
    """

    noise: str
    level: float
    claim: str
    kind: str
    reference: float | None
    tolerance: float = 0.0

    def target(self, clean: float) -> float:
        return clean if self.reference is None else self.reference

    def holds(self, value: float, clean: float) -> bool:
        target = self.target(clean)
        if self.kind == "near":
            return abs(value - target) <= self.tolerance
        if self.kind == "at_least":
            return value >= target
        return value <= target


#: Drory et al.'s MNIST findings as checks on the test accuracy (issue #11's must-show).
DRORY_FINDINGS = (
    Finding("random", 0.8, "random noise is resisted: within 0.05 of level 0", "near", None,
            0.05),
    Finding("flip", 0.3, "flip noise below 0.5 is resisted: >= 0.9", "at_least", 0.9),
    Finding("flip", 0.6, "flip noise collapses past 0.5: <= 0.5", "at_most", 0.5),
    Finding("concentrated", 0.3, "concentrated noise gives ~1 - level: within 0.07 of 0.7",
            "near", 0.7, 0.07),
)
