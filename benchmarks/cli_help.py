"""Benchmark: wall time of `noisylab --help` in a fresh subprocess (target < 0.5 s).

Runs the installed `noisylab` script (or `python -m noisylab` when it is not on PATH) several
times and prints each time, the median and whether the median meets the target. It also checks in
a separate subprocess that the help path imports neither TensorFlow nor Keras.

    python benchmarks/cli_help.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5


def command() -> list[str]:
    script = shutil.which("noisylab")
    return [script, "--help"] if script else [sys.executable, "-m", "noisylab", "--help"]


def heavy_imports() -> list[str]:
    """Heavy modules loaded by the help path (should be none)."""
    code = (
        "import sys\n"
        "from noisylab.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('tensorflow', 'keras', 'jax', 'torch', 'h5py', 'sklearn', 'matplotlib')\n"
        "print('HEAVY:', *sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("HEAVY:"))
    return line.split()[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    cmd = command()
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache once
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"command: {' '.join(cmd)}")
    print("runs (s): " + " ".join(f"{t:.3f}" for t in times))
    print(f"noisylab --help: median {median:.3f} s, min {min(times):.3f} s over {len(times)} runs "
          f"(target < {TARGET_S} s): {'OK' if median < TARGET_S else 'TOO SLOW'}")
    heavy = heavy_imports()
    roots = sorted({m.split(".")[0] for m in heavy})
    print(f"heavy modules imported by --help: {', '.join(roots) or 'none'}")
    return 0 if median < TARGET_S and not {"tensorflow", "keras"} & set(roots) else 1


if __name__ == "__main__":
    sys.exit(main())
