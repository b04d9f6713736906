"""DDPG's gradient step on one CPU core: orkit's fast path against its autograd reference path.

A DDPG fit on DeepStock setting 1 with ``bench_rl.py``'s configuration (Base, [64, 64] ReLU
actor and critic, minibatch 256, one gradient step per collected step), timed with

- **fast**: what ``train_ddpg`` runs for ReLU or tanh MLPs: the gradients and the target
  networks through :class:`orkit.rl._manual.ManualMLP`, Adam's fused kernel called directly;
- **reference**: the same learner with the manual passes switched off, so the gradients go
  through the autograd engine and the target networks through ``nn.Module`` calls (what runs
  for any other network, e.g. ELU).

Both compute the same numbers (tested to the bit in ``tests/rl/test_fast_paths.py``; the script
checks the two histories' losses are equal). The runs alternate, fast first, in one process; the
figure is milliseconds per gradient step over the whole fit (rollouts and validation included)
and the ratio of the medians.

    python benchmarks/bench_ddpg_step.py                 # 3,000 steps, 5 runs each
    python benchmarks/bench_ddpg_step.py --steps 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rl import DDPG  # noqa: E402  (the configuration of the speed comparison with SB3)

from orkit.core import InventoryProblem  # noqa: E402
from orkit.data import generate  # noqa: E402
from orkit.rl import DDPGPolicy  # noqa: E402
from orkit.rl import ddpg as ddpg_module  # noqa: E402


@contextmanager
def reference_path():
    """``train_ddpg`` without its manual passes: autograd gradients, module calls for the targets."""
    with mock.patch.object(ddpg_module.ManualGradients, "of", classmethod(lambda cls, actor, critic: None)):
        yield


def fit(data, steps: int, seed: int):
    train, validation, problem = data
    params = dict(DDPG, total_timesteps=steps, eval_every=max(steps // 3, 1))
    started = time.perf_counter()
    policy = DDPGPolicy("base", seed=seed, **params).fit(train, validation, problem)
    seconds = time.perf_counter() - started
    losses = [(h["validation_loss"], h.get("critic_loss"), h.get("actor_loss")) for h in policy.history_]
    return seconds / policy.history_[-1]["gradient_steps"] * 1e3, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="RL steps per fit (learning starts at 500)")
    parser.add_argument("--repeats", type=int, default=5, help="fits of each path, alternating")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = generate("deepstock-1", seed=0)
    train, validation, _ = dataset.splits()
    data = (train, validation, InventoryProblem(**dataset.metadata["problem"]))
    print(f"# bench_ddpg_step: DeepStock setting 1, DDPG Base, {args.steps} steps per fit, seed {args.seed}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); ms per gradient step, whole fit")
    fit(data, 600, args.seed)  # warm-up: imports, first Adam construction
    times: dict[str, list[float]] = {"fast": [], "reference": []}
    losses: dict[str, list] = {}
    for _ in range(args.repeats):
        ms, losses["fast"] = fit(data, args.steps, args.seed)
        times["fast"].append(ms)
        with reference_path():
            ms, losses["reference"] = fit(data, args.steps, args.seed)
        times["reference"].append(ms)
    if losses["fast"] != losses["reference"]:
        raise SystemExit("the two paths' losses differ: the fast path is not the reference's arithmetic")
    print(f"{'path':10s} {'runs (ms per gradient step)':40s} {'median':>7s}")
    for name, values in times.items():
        print(f"{name:10s} {', '.join(f'{v:.3f}' for v in values):40s} {statistics.median(values):7.3f}")
    ratio = statistics.median(times["reference"]) / statistics.median(times["fast"])
    print(f"same losses on both paths: yes ({len(losses['fast'])} evaluations); "
          f"fast path {ratio:.2f}x the reference path's speed (ratio of medians)")


if __name__ == "__main__":
    main()
