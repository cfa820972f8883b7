"""Benchmark: `noisylab data prepare mnist` on the four real files (target < 15 s on 2 cores).

Runs the command line end to end in a subprocess (imports included) on
../shared/datasets/mnist, writing into a temporary folder, pinned to at most 2 CPU cores where the
OS allows it. Prints each run, the median, the output size and the time `load_dataset` then takes.

    python benchmarks/prepare_mnist.py [--source ../shared/datasets/mnist] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 15.0
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets" / "mnist"


def pin_two_cores() -> str:
    """Restrict this process (and so its children) to two cores; describe what was used."""
    if not hasattr(os, "sched_setaffinity"):
        return f"{os.cpu_count()} cores (affinity not settable here)"
    cores = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cores)
    return f"cores {cores}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.source.is_dir():
        print(f"skipped: {args.source} is absent")
        return 0
    cores = pin_two_cores()
    script = shutil.which("noisylab")
    base = [script] if script else [sys.executable, "-m", "noisylab"]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mnist.h5"
        for _ in range(args.repeats):
            out.unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run([*base, "data", "prepare", "mnist", "--source", str(args.source),
                            "--out", str(out)], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        size = out.stat().st_size
        from noisylab.data import load_dataset

        start = time.perf_counter()
        ds = load_dataset(out)
        load_s = time.perf_counter() - start
    median = statistics.median(times)
    print(f"source: {args.source}; running on {cores}")
    print("runs (s): " + " ".join(f"{t:.2f}" for t in times))
    print(f"prepare mnist: median {median:.2f} s over {len(times)} runs "
          f"(target < {TARGET_S:.0f} s): {'OK' if median < TARGET_S else 'TOO SLOW'}")
    print(f"output: {size / 1e6:.1f} MB; load_dataset: {load_s:.2f} s for "
          f"{len(ds.y_train)} + {len(ds.y_test)} images")
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
