"""orkit's learners (DS and PPO, Base regularization) on Zipkin's lost-sales instances, against the exact optimum.

Run:  python benchmarks/lost_sales_learners.py [--demand poisson geometric] [--lead-times 1 2 3 4]
      [--penalties 4 9 19 39] [--learners ds ppo] [--seeds 0 1] [--max-epochs 25]
      [--ppo-timesteps 80000] [--output table.md]

For each instance of Zipkin's (2008) test bed (demand with mean 5, lead time L, penalty p,
h = 1, review period 1, lost sales):

- the optimum g*: solve_average_cost_dp (as benchmarks/lost_sales_testbed.py); instances whose
  DP would need more than ``--max-dp-transitions`` transitions are skipped and say so;
- each learner with regularization="base", trained by simulation on trajectories drawn from the
  instance's demand law (``--n-train`` training and ``--n-validation`` validation trajectories of
  ``--periods`` periods, a fresh draw per seed): DSPolicy (differentiable simulation, at most
  ``--max-epochs`` epochs, early stopping on the validation cost) and PPOPolicy
  (``--ppo-timesteps`` RL steps, best validation checkpoint);
- every fitted policy scored on the same simulated test set (``--n-test`` trajectories of
  ``--test-periods`` periods, ``--test-warmup`` warm-up, one draw per instance), its mean cost per
  period, standard error and % above g* (with several seeds: the mean over seeds and a bound on its
  standard error, the seeds sharing the test set).

Why simulation and not the exact Markov-chain evaluator: the Base head orders
max(mu(state) - inventory position, 0) and mu sees the pipeline, so the policy is a base-stock
policy only if mu ignores the state. A base-stock policy under lost sales reorders exactly what it
sold, so the script reports the mean |order - sales of the period before| over the test periods
(column "distance from base-stock", units per period; 0 for a base-stock policy), so a constant
level would show (the smaller value over the seeds). The network's orders are not integers either.

CPU seconds per fit (time.process_time, one thread) beside wall seconds; one row per instance
and learner with the mean over seeds, the seeds' individual gaps, and the fit times.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from orkit.core import InventoryProblem
from orkit.evaluation.metrics import per_sku_loss
from orkit.heuristics import Geometric, Poisson, solve_average_cost_dp
from orkit.rl import DSPolicy, PPOPolicy
from orkit.sim import simulate


def draw(demand: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    if demand == "poisson":
        return rng.poisson(5.0, size=size).astype(np.float32)
    return (rng.geometric(1.0 / 6.0, size=size) - 1).astype(np.float32)  # failures before a success: mean 5


def make(learner: str, seed: int, args: argparse.Namespace):
    if learner == "ds":
        return DSPolicy(regularization="base", max_epochs=args.max_epochs, seed=seed)
    return PPOPolicy(regularization="base", total_timesteps=args.ppo_timesteps, num_steps=args.ppo_num_steps,
                     hidden_sizes=(64, 64), seed=seed)


def score(policy, test: torch.Tensor, problem: InventoryProblem) -> tuple[float, float, float]:
    ledger = simulate(policy, test, problem, ledger="full", dtype=torch.float64)
    loss = per_sku_loss(ledger).numpy()
    mean, se = float(loss.mean()), float(loss.std(ddof=1) / np.sqrt(loss.size))
    # A Base policy with a constant level S is base-stock: under lost sales it then reorders exactly
    # what it sold (the position drops by the sales only). The distance from that rule, the mean
    # |order - the previous period's sales| over counted periods, is 0 for a base-stock policy.
    order, sales, counted = ledger.order, ledger.sales, ledger.counted
    spread = min(float((order[:, 1:] - sales[:, :-1]).abs()[counted[:, 1:]].mean()),
                 float((order - sales).abs()[counted].mean()))
    return mean, se, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", nargs="+", default=["poisson", "geometric"], choices=["poisson", "geometric"])
    parser.add_argument("--lead-times", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--penalties", nargs="+", type=float, default=[4.0, 9.0, 19.0, 39.0])
    parser.add_argument("--learners", nargs="+", default=["ds", "ppo"], choices=["ds", "ppo"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--max-epochs", type=int, default=25)
    parser.add_argument("--ppo-timesteps", type=int, default=80_000)
    parser.add_argument("--ppo-num-steps", type=int, default=2_000)
    parser.add_argument("--n-train", type=int, default=50)
    parser.add_argument("--n-validation", type=int, default=25)
    parser.add_argument("--periods", type=int, default=120)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--test-periods", type=int, default=500)
    parser.add_argument("--test-warmup", type=int, default=100)
    parser.add_argument("--max-dp-transitions", type=int, default=60_000_000)
    parser.add_argument("--output", default=None, help="write the Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = ("| demand | L | p | optimum g* | learner | test cost (s.e.) | % above g* (seeds) | distance from base-stock "
              "| fit CPU / wall [s] |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    print(header, flush=True)
    gaps: dict[str, list[float]] = {learner: [] for learner in args.learners}
    cpu_fit: dict[str, list[float]] = {learner: [] for learner in args.learners}
    total_cpu, total_wall = time.process_time(), time.perf_counter()
    for demand in args.demand:
        law = Poisson(5.0) if demand == "poisson" else Geometric(5.0)
        for L in args.lead_times:
            for p in args.penalties:
                t0 = time.process_time()
                try:
                    optimum = solve_average_cost_dp(law, holding_cost=1.0, shortage_cost=p, lead_time=L,
                                                    max_transitions=args.max_dp_transitions).average_cost
                except Exception as error:  # noqa: BLE001 - an instance the DP cannot afford is skipped, and says so
                    line = f"| {demand} | {L} | {p:g} | skipped: {error} | | | | | |"
                    print(line, flush=True)
                    lines.append(line)
                    continue
                dp_cpu = time.process_time() - t0
                problem = InventoryProblem(lead_time=L, review_period=1, holding_cost=1.0, shortage_cost=p,
                                           lost_sales=True, warmup_periods=20)
                test_problem = problem.with_(warmup_periods=args.test_warmup)
                test = torch.as_tensor(draw(demand, np.random.default_rng(10_000), (args.n_test, args.test_periods)))
                for learner in args.learners:
                    results = []
                    for seed in args.seeds:
                        rng = np.random.default_rng(seed)
                        train = draw(demand, rng, (args.n_train, args.periods))
                        validation = draw(demand, rng, (args.n_validation, args.periods))
                        cpu, wall = time.process_time(), time.perf_counter()
                        policy = make(learner, seed, args).fit(train, validation, problem)
                        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                        mean, se, spread = score(policy, test, test_problem)
                        results.append((mean, se, spread, cpu, wall))
                    means = np.array([r[0] for r in results])
                    seed_gaps = 100 * (means / optimum - 1)
                    gaps[learner].append(float(seed_gaps.mean()))
                    cpu_fit[learner] += [r[3] for r in results]
                    # Every seed is scored on the same test set, so the seeds' errors are correlated:
                    # sqrt(mean of the squared standard errors) bounds the s.e. of their mean (Cauchy-Schwarz).
                    se = float(np.sqrt(np.mean([r[1] ** 2 for r in results])))
                    line = (f"| {demand} | {L} | {p:g} | {optimum:.4f} | {learner.upper()} Base | {means.mean():.4f} "
                            f"({se:.4f}) | {seed_gaps.mean():.2f} ({', '.join(f'{g:.2f}' for g in seed_gaps)}) "
                            f"| {min(r[2] for r in results):.2f} | "
                            f"{np.mean([r[3] for r in results]):.0f} / {np.mean([r[4] for r in results]):.0f} |")
                    print(line + f"  [DP {dp_cpu:.1f} CPU s]", flush=True)
                    lines.append(line)
                    if args.output:  # written as it goes, so a run cut short keeps its rows
                        with open(args.output, "w") as f:
                            f.write("\n".join(lines) + "\n")
    for learner in args.learners:
        if gaps[learner]:
            line = (f"| **mean** | | | | {learner.upper()} Base | | **{np.mean(gaps[learner]):.2f}** (max "
                    f"{np.max(gaps[learner]):.2f}) | | {np.mean(cpu_fit[learner]):.0f} CPU s per fit |")
            print(line, flush=True)
            lines.append(line)
    total_cpu, total_wall = time.process_time() - total_cpu, time.perf_counter() - total_wall
    print(f"total: {total_cpu:.0f} s CPU, {total_wall:.0f} s wall; Python {platform.python_version()}, "
          f"torch {torch.__version__}", flush=True)
    if args.output:
        with open(args.output, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
