"""What a DDPG gradient step costs on one CPU core, and where the time goes.

``bench_rl.py``'s DDPG configuration (Base, [64, 64] ReLU actor and critic, minibatch 256, one
gradient step per collected step) on DeepStock setting 1:

- **whole fit**: CPU and wall milliseconds per gradient step over ``--repeats`` fits of
  ``--steps`` RL steps (rollouts, the random steps before learning starts and the validations
  included), median;
- **one step, by part**: the parts of ``train_ddpg``'s gradient step timed alone on a
  minibatch of the same shape: the target ``r + gamma Q'(s', mu'(s'))``, the critic's loss and
  backward, its Adam step, the actor's loss and backward through the critic, its Adam step, and
  the Polyak update of the target networks;
- with ``--compile``: the whole step eager against the same step with its target and its two
  losses compiled by ``torch.compile`` (forward and backward through AOTAutograd), in the same
  process, and the seconds the compilation took: does compiling the update pay on a CPU?

    python benchmarks/bench_ddpg_step.py                 # 3,000 steps, 3 fits
    python benchmarks/bench_ddpg_step.py --steps 10000 --repeats 5
    python benchmarks/bench_ddpg_step.py --compile
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rl import DDPG  # noqa: E402  (the configuration of the speed comparison with SB3)

from orkit.core import InventoryProblem  # noqa: E402
from orkit.data import generate  # noqa: E402
from orkit.rl import DDPGPolicy  # noqa: E402
from orkit.rl._training import adam  # noqa: E402
from orkit.rl.networks import mlp  # noqa: E402


def fit(data, steps: int, seed: int) -> tuple[float, float, int]:
    """CPU and wall milliseconds per gradient step of one fit, and the network input width."""
    train, validation, problem = data
    params = dict(DDPG, total_timesteps=steps, eval_every=max(steps // 3, 1))
    wall, cpu = time.perf_counter(), time.process_time()
    policy = DDPGPolicy("base", seed=seed, **params).fit(train, validation, problem)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = policy.history_[-1]["gradient_steps"]
    return cpu / n * 1e3, wall / n * 1e3, policy.policy_.network.encoder.n_inputs


def parts(n_inputs: int, repeats: int = 2000) -> dict[str, float]:
    """CPU milliseconds of each part of one gradient step (train_ddpg's operations)."""
    torch.manual_seed(0)
    hidden, batch = DDPG.get("hidden_sizes", (64, 64)), DDPG["batch_size"]
    actor, critic = mlp(n_inputs, hidden, 1, "relu"), mlp(n_inputs + 2, hidden, 1, "relu")
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_optimizer, critic_optimizer = adam(actor.parameters(), 1e-3), adam(critic.parameters(), 1e-3)
    actor_params = list(actor.parameters())
    online, targets = [*actor.parameters(), *critic.parameters()], [*actor_target.parameters(), *critic_target.parameters()]
    obs, next_obs = torch.randn(batch, n_inputs + 1), torch.randn(batch, n_inputs + 1)
    action, reward, done = torch.rand(batch, 1), torch.randn(batch), torch.zeros(batch)

    def q(net, s, a):
        return net(torch.cat([s, a], 1)).squeeze(1)

    def target():
        with torch.no_grad():
            return reward + 0.99 * (1.0 - done) * q(critic_target, next_obs, actor_target(next_obs[:, :-1]))

    y = target()

    def critic_backward():
        loss = (q(critic, obs, action) - y).square().mean()
        critic_optimizer.zero_grad()
        loss.backward()

    def actor_backward():
        loss = -q(critic, obs, actor(obs[:, :-1])).mean()
        actor_optimizer.zero_grad()
        loss.backward(inputs=actor_params)

    def polyak():
        with torch.no_grad():
            for t, p in zip(targets, online):
                t.lerp_(p, 0.005)

    critic_backward()
    actor_backward()
    timed = {"target Q'(s', mu'(s'))": target, "critic loss + backward": critic_backward,
             "critic Adam step": critic_optimizer.step, "actor loss + backward": actor_backward,
             "actor Adam step": actor_optimizer.step, "Polyak update": polyak}
    out = {}
    for name, f in timed.items():
        for _ in range(50):
            f()
        started = time.process_time()
        for _ in range(repeats):
            f()
        out[name] = (time.process_time() - started) / repeats * 1e3
    return out


def compiled_against_eager(n_inputs: int, repeats: int = 2000) -> tuple[float, float, float]:
    """CPU milliseconds of one whole gradient step, eager and with torch.compile'd target and
    losses (alternating blocks, the median of three each), and the compilation's wall seconds."""
    torch.manual_seed(0)
    hidden, batch = DDPG.get("hidden_sizes", (64, 64)), DDPG["batch_size"]
    actor, critic = mlp(n_inputs, hidden, 1, "relu"), mlp(n_inputs + 2, hidden, 1, "relu")
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_optimizer, critic_optimizer = adam(actor.parameters(), 1e-3), adam(critic.parameters(), 1e-3)
    actor_params, critic_params = list(actor.parameters()), list(critic.parameters())
    online, targets = [*actor_params, *critic_params], [*actor_target.parameters(), *critic_target.parameters()]
    obs, next_obs = torch.randn(batch, n_inputs + 1), torch.randn(batch, n_inputs + 1)
    action, reward, done = torch.rand(batch, 1), torch.randn(batch, 1), torch.zeros(batch, 1)

    def target(next_obs, reward, done):
        next_q = critic_target(torch.cat([next_obs, actor_target(next_obs[:, :-1])], 1))
        return reward + 0.99 * (1.0 - done) * next_q

    def critic_loss(obs, action, y):
        return (critic(torch.cat([obs, action], 1)) - y).square().mean()

    def actor_loss(obs):
        return -critic(torch.cat([obs, actor(obs[:, :-1])], 1)).mean()

    def make_step(target, critic_loss, actor_loss):
        def step():
            with torch.no_grad():
                y = target(next_obs, reward, done)
            for p, g in zip(critic_params, torch.autograd.grad(critic_loss(obs, action, y), critic_params)):
                p.grad = g
            critic_optimizer.step()
            for p, g in zip(actor_params, torch.autograd.grad(actor_loss(obs), actor_params)):
                p.grad = g
            actor_optimizer.step()
            with torch.no_grad():
                for t, p in zip(targets, online):
                    t.lerp_(p, 0.005)
        return step

    eager = make_step(target, critic_loss, actor_loss)
    compiled = make_step(torch.compile(target), torch.compile(critic_loss), torch.compile(actor_loss))
    started = time.perf_counter()
    compiled()
    compile_seconds = time.perf_counter() - started
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(3):
        for name, f in (("eager", eager), ("compiled", compiled)):
            for _ in range(50):
                f()
            cpu = time.process_time()
            for _ in range(repeats):
                f()
            times[name].append((time.process_time() - cpu) / repeats * 1e3)
    return statistics.median(times["eager"]), statistics.median(times["compiled"]), compile_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="RL steps per fit (learning starts at 500)")
    parser.add_argument("--repeats", type=int, default=3, help="fits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="also time the step with torch.compile'd losses")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    DDPG["num_threads"] = args.threads
    dataset = generate("deepstock-1", seed=0)
    train, validation, _ = dataset.splits()
    data = (train, validation, InventoryProblem(**dataset.metadata["problem"]))
    print(f"# bench_ddpg_step: DeepStock setting 1, DDPG Base, {args.steps} steps per fit, seed {args.seed}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")
    *_, n_inputs = fit(data, 600, args.seed)  # warm-up: imports, first Adam construction
    runs = [fit(data, args.steps, args.seed)[:2] for _ in range(args.repeats)]
    cpu, wall = [r[0] for r in runs], [r[1] for r in runs]
    print(f"whole fit, ms per gradient step: CPU {', '.join(f'{v:.3f}' for v in cpu)} (median "
          f"{statistics.median(cpu):.3f}); wall {', '.join(f'{v:.3f}' for v in wall)} (median {statistics.median(wall):.3f})")
    split = parts(n_inputs)
    print(f"one gradient step by part (CPU ms, minibatch {DDPG['batch_size']}): "
          + "; ".join(f"{k} {v:.3f}" for k, v in split.items()) + f"; sum {sum(split.values()):.3f}")
    if args.compile:
        eager, compiled, seconds = compiled_against_eager(n_inputs)
        print(f"one gradient step (CPU ms, median of 3 x 2000): eager {eager:.3f}, target and losses compiled "
              f"{compiled:.3f} ({eager / compiled:.2f}x); compiling took {seconds:.1f} s (wall)")


if __name__ == "__main__":
    main()
