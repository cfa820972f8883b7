"""Figures: functions that take data frames and arrays and return matplotlib `Figure`s.

They never touch pyplot's global state; saving is done by the caller. Importing this package
imports nothing heavy; use the modules:

- `noisylab.plots.load`: read a results folder (runs.csv, summary.csv, per-run files) with notes;
- `noisylab.plots.curves`: accuracy_vs_noise, f1_true_vs_noisy, memorization, training_curves;
- `noisylab.plots.outputs`: softmax_histograms, noise_matrix, prediction_grid;
- `noisylab.plots.report`: the self-contained report.html;
- `noisylab.plots.render`: `render_results`, every figure of a folder to files (``noisylab plot``);
- `noisylab.plots.compare`: `across_sweeps`, one metric of several sweeps in one figure;
- `noisylab.plots.index`: the self-contained index.html of a folder of sweeps;
- `noisylab.plots.sweeps`: `render_sweeps`, every sweep below a folder plus its index.html
  (``noisylab plot results/``);
- `noisylab.plots.style`: palette (Okabe–Ito), 150 dpi, titles, notes, figures to bytes;
- `noisylab.plots.analytic`: the K-NN model's curves, and what ``noisylab analytic`` writes;
- `noisylab.plots.overlay`: the K-NN model on ``accuracy_vs_noise``, general form from level-0
  runs or perfectly learnable, and its best-fit K.

Files are written through `noisylab.atomic`.
"""
