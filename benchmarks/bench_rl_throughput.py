"""Training throughput of DS and PPO on large batches: the CPU against CUDA (when present).

DeepStock setting-1 trajectories (31 days), Base regularization. For each device:

- **DS**: SKU-periods per second of training, i.e. trajectories x periods simulated forward
  through the differentiable simulator and back-propagated into the network, per second of
  an epoch (minibatches of ``--ds-batch`` trajectories; the second epoch is timed, after the
  first has compiled what large batches compile);
- **PPO**: RL steps (SKU review periods) per second of rollout plus update, with rollouts of
  ``--ppo-steps`` steps, one update epoch in minibatches of ``--ppo-minibatch`` (the third
  and later updates are timed).

The CPU runs use every core torch is given. The ratio column compares each device with the
first one in the same process.

    python benchmarks/bench_rl_throughput.py                      # CPU only, small sizes
    python benchmarks/bench_rl_throughput.py --devices cpu cuda --ds-trajectories 200000
"""

from __future__ import annotations

import argparse
import time

import torch

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.rl import DSPolicy, PPOPolicy


def ds_rate(train, validation, problem, device: str, batch: int) -> tuple[float, float]:
    policy = DSPolicy("base", batch_size=batch, max_epochs=2, early_stopping_patience=5, device=device,
                      num_threads=None, seed=0).fit(train, validation, problem)
    h = policy.history_
    seconds = h[2]["seconds"] - h[1]["seconds"]
    return train.n_skus * train.n_periods / seconds, h[-1]["validation_loss"]


def ppo_rate(train, validation, problem, device: str, steps: int, minibatch: int) -> tuple[float, float]:
    policy = PPOPolicy("base", num_steps=steps, batch_size=minibatch, update_epochs=1, total_timesteps=5 * steps,
                       device=device, num_threads=None, seed=0).fit(train, validation, problem)
    h = [e for e in policy.history_ if e.get("update", 0) >= 2]
    seconds = h[-1]["seconds"] - h[0]["seconds"]
    return (h[-1]["timesteps"] - h[0]["timesteps"]) / seconds, policy.best_validation_loss_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--ds-trajectories", type=int, default=20_000)
    parser.add_argument("--ds-batch", type=int, default=10_000)
    parser.add_argument("--ppo-steps", type=int, default=50_000)
    parser.add_argument("--ppo-minibatch", type=int, default=4096)
    parser.add_argument("--cpu-scale", type=float, default=1.0,
                        help="shrink the CPU runs by this factor (rates are per second, so comparable)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA device"))
    rows = []
    for device in args.devices:
        scale = args.cpu_scale if device == "cpu" else 1.0
        n = max(int(args.ds_trajectories * scale), 10)
        data = generate("deepstock-1", seed=0, n_train=n, n_validation=1000, n_test=10)
        train, validation, _ = data.splits()
        problem = InventoryProblem(**data.metadata["problem"])
        batch = max(int(args.ds_batch * scale), 1)
        start = time.perf_counter()
        rate, loss = ds_rate(train, validation, problem, device, batch)
        rows.append(("DS, SKU-periods/s", device, f"{n:,} trajectories, batch {batch:,}", rate, loss,
                     time.perf_counter() - start))
        steps = max(int(args.ppo_steps * scale), 1000)
        minibatch = max(int(args.ppo_minibatch * scale), 64)
        start = time.perf_counter()
        rate, loss = ppo_rate(train, validation, problem, device, steps, minibatch)
        rows.append(("PPO, RL steps/s", device, f"rollouts of {steps:,} steps, minibatch {minibatch:,}", rate, loss,
                     time.perf_counter() - start))
    first = {}
    print(f"\n{'learner':20s} {'device':6s} {'size':42s} {'rate':>10s} {'x first':>8s} {'val. loss':>10s} {'run [s]':>8s}")
    for name, device, size, rate, loss, seconds in rows:
        first.setdefault(name, rate)
        print(f"{name:20s} {device:6s} {size:42s} {rate:10.3g} {rate / first[name]:8.3g} {loss:10.4f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
