"""Published protocols run at a stated scale, and their results set beside ours.

``noisylab reproduce blog|drory --scale small|full --out DIR`` runs a sweep (through
`noisylab.sweep`) into ``DIR/sweep`` and writes ``DIR/comparison.csv`` and a figure of ours vs
published (``DIR/comparison.png``); ``drory`` also renders the sweep's figures, with the K-NN
model overlaid (``DIR/sweep/plots``).

Modules:

- `protocols`: the registry of protocols (`PROTOCOLS`): for each scale the `SweepConfig` and the
  expected wall time on a 2-core CPU;
- `published`: the published numbers (the blog's ``F1Scores.csv``, shipped as package data with
  its source) and Drory et al.'s findings as checks;
- `compare`: the side-by-side tables and the figure (pure: data frames in, frames and Figures out);
- `run`: runs a protocol and writes its outputs (the I/O edge).
"""
