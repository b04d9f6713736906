#!/usr/bin/env bash
# The checks that need a GPU, in one go (what docs/benchmarks.md's CUDA figures come from):
# the CUDA tests, simulator throughput on CUDA, and DS / PPO training throughput on CUDA against
# the machine's CPU. Needs torch with CUDA, numpy, pandas, scipy, tqdm, pytest and hypothesis;
# orkit is used from the working tree.
#
#   bash benchmarks/run_gpu_checks.sh OUT_DIR
set -uo pipefail
out=${1:-gpu-checks}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; nproc; } \
    2>&1 | tee "$out/env.txt"
python3 -m pytest -q -p no:cacheprovider -o addopts="--import-mode=importlib" \
    tests/sim/test_simulator.py tests/rl/test_networks.py tests/rl/test_fast_paths.py tests/rl/test_ddpg.py -k "cuda or device" 2>&1 | tee "$out/tests.txt"
timeout 240 python3 benchmarks/bench_simulator.py --device cuda --skus 10000000 --periods 100 2>&1 | tee "$out/sim.txt"
timeout 240 python3 benchmarks/bench_rl_throughput.py --devices cuda cpu --ds-trajectories 1000000 --ds-batch 100000 \
    --ppo-steps 1000000 --ppo-minibatch 65536 --cpu-scale 0.05 2>&1 | tee "$out/rl.txt"
# data-parallel DS (orkit.rl.distributed): one process per GPU (a single GPU: the 1-process row only),
# and 4 gloo processes against 1 process on this machine's CPUs
timeout 180 python3 benchmarks/bench_distributed.py --device cuda --skus 262144 --batch-size 65536 2>&1 | tee "$out/distributed-cuda.txt"
timeout 240 python3 benchmarks/bench_distributed.py --processes 4 2>&1 | tee "$out/distributed-cpu.txt"
