"""The results folder of a sweep: layout, CSV schema, atomic writes, metadata and resume rules.

Layout of ``results/<name>/`` — the one description of the folder contract; ``noisylab plot``,
the README and the sweep all refer to this one::

    config.yaml                 fully resolved SweepConfig (without ``executor``, ``trainer``)
    metadata.json               versions, git commit, git_dirty, device, host, start time, the
                                executor's settings and each method's resolved options;
                                every resume appends a session under ``sessions``
    runs.csv                    one row per finished run (RUN_COLUMNS), one fsynced line appended
                                per run (`noisylab.csvlog`: a torn last line is repaired)
    failures.csv                runs that failed and are retried on the next start
                                (FAILURE_COLUMNS); absent when none failed
    .lock                       the running sweep's OS lock (`noisylab.lock`), naming pid and host
    summary.csv                 n_runs and M_mean/M_std per SUMMARY_KEYS (SUMMARY_METRICS)
    runs/<run_id>/method.npz    what a method estimated, when it did: ``transition_estimated``
                                and ``transition_realized`` (forward/backward with T
                                estimated), ``channel_initial``/``channel_final``
                                (noise-adaptation, nnaqc), ``labels_corrected``, ``labels_changed``,
                                ``changes_right``, ``selection_precision``/``_recall``
                                (label-correction), ``selected`` (bit-packed along the
                                samples: which samples each network trained on per epoch),
                                ``label_precision`` (2, epochs) (co-teaching, co-teaching+,
                                decoupling), ``forget_rate`` and ``selection_precision``/
                                ``_recall`` of the samples network 1 left out in its last
                                epoch (co-teaching, co-teaching+)
    runs/<run_id>/history.csv   per-epoch loss, accuracy, val_loss, val_accuracy[, learning_rate]
    runs/<run_id>/predictions.npz   probs (test softmax), y_true, y_noisy, test_index, images
                                (the first N_IMAGES test images), class_names
    runs/<run_id>/noise.npz     transition, corrupted, noisy_labels, train_index
    runs/<run_id>/error.txt     the traceback of a failed run (until it succeeds)
    cache/                      penultimate features for concentrated noise (``features: model``),
                                ``features-<dataset>-<model>-s<seed>-{train,test}.npy``
    plots/                      written by ``noisylab plot``: the figures and report.html

A run's files are written before its ``runs.csv`` row, each file atomically (temporary file in the
same folder, flush, fsync, ``os.replace``), so a crash leaves at most an orphan ``runs/<run_id>/``
folder without a row, which the next start overwrites, or a torn last line of ``runs.csv``, which
the next start drops (`ResultsFolder.repair`) before it redoes that run. Only one sweep writes a
folder at a time (`ResultsFolder.lock`).

This package knows nothing of the sweep: `noisylab.sweep` imports it, never the other way round.
Modules: `schema` (the CSV columns, cells, reading and upgrading runs.csv, the summary),
`provenance` (versions, git commit, host: `environment`) and `folder` (`ResultsFolder`).
Import from ``noisylab.results``.
"""


from noisylab.results.folder import ResultsFolder, check_writable
from noisylab.results.provenance import environment
from noisylab.results.schema import (
    ADDED_COLUMNS,
    EARLIER_RUN_COLUMNS,
    FAILURE_COLUMNS,
    HISTORY_COLUMNS,
    LEGACY_RUN_COLUMNS,
    N_IMAGES,
    RUN_COLUMNS,
    SUMMARY_KEYS,
    SUMMARY_METRICS,
    TIMING_COLUMNS,
    check_run_fields,
    format_mean_std,
    format_row,
    format_value,
    history_csv,
    read_predictions,
    read_runs,
    summarize,
    upgrade_runs_csv,
)

__all__ = [
    "ADDED_COLUMNS", "EARLIER_RUN_COLUMNS", "FAILURE_COLUMNS", "HISTORY_COLUMNS",
    "LEGACY_RUN_COLUMNS", "N_IMAGES", "RUN_COLUMNS", "SUMMARY_KEYS", "SUMMARY_METRICS",
    "TIMING_COLUMNS", "ResultsFolder", "check_run_fields", "check_writable", "environment",
    "format_mean_std", "format_row", "format_value", "history_csv", "read_predictions",
    "read_runs", "summarize", "upgrade_runs_csv",
]
