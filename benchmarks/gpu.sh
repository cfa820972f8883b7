#!/usr/bin/env bash
# Packed training on an NVIDIA GPU: one table, in under 8 minutes.
#
# Installs what the benchmark needs (noisylab without TensorFlow: Keras on JAX, which the GPU
# machine may already have with CUDA), prepares MNIST from ../shared/datasets/mnist (or $MNIST),
# then runs part 5 of benchmarks/packed.py: images per second summed over a pack's members for
# pack sizes 1, 8, 32 and 128 of seed-cnn and drory-mnist on MNIST (60k images, two epochs a
# run), against one keras run on the same GPU, and the projected wall time of the 300-run
# configs/drory-mnist.yaml protocol.
#
# Usage (from the repository root):  bash benchmarks/gpu.sh [SIZES]     (default 1,8,32,128)
# Offline machines: WHEELS=/path/to/wheels bash benchmarks/gpu.sh (pip --no-index from there).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="${1:-1,8,32,128}"
mnist="${MNIST:-../shared/datasets/mnist}"
export KERAS_BACKEND=jax

pip_args=(--quiet)
if [ -n "${WHEELS:-}" ]; then pip_args+=(--no-index --find-links "$WHEELS"); fi
if ! python -c "import jax; assert jax.devices()[0].platform == 'gpu'" 2>/dev/null; then
    pip install "${pip_args[@]}" "jax[cuda12]"
fi
# noisylab's own dependencies but TensorFlow (Keras runs on JAX here)
pip install "${pip_args[@]}" keras numpy h5py pandas scikit-learn matplotlib click pyyaml rich Pillow
pip install "${pip_args[@]}" --no-deps -e .

python -c "import jax; print('JAX devices:', jax.devices())"
timeout 450 python benchmarks/packed.py --skip-default --skip-mnist --mnist "$mnist" --sizes "$sizes"
