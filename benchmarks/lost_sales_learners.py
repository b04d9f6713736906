"""orkit's DS learner (Base regularization) on Zipkin's lost-sales instances, against the exact optimum.

Run:  python benchmarks/lost_sales_learners.py [--demand poisson geometric] [--lead-times 1 2 3 4]
      [--penalties 9] [--max-epochs 60]

For each instance of Zipkin's (2008) test bed (demand with mean 5, lead time L, penalty p,
h = 1, review period 1, lost sales): DSPolicy(regularization="base") is trained by
differentiable simulation on 100 training and 50 validation trajectories of 120 periods drawn
from the instance's demand law (seed 0), then scored by simulating 2,000 test trajectories of
600 periods (100 warm-up) with orkit.sim; the table gives the mean test cost per period, its
standard error, the % above the optimum g* of solve_average_cost_dp, and the fit's CPU seconds
(time.process_time, one thread) beside wall seconds. A network's orders are not integers, so
the exact Markov-chain evaluator does not apply; the standard error says how precise the gap is.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from orkit.core import InventoryProblem
from orkit.evaluation.metrics import per_sku_loss
from orkit.heuristics import Geometric, Poisson, solve_average_cost_dp
from orkit.rl import DSPolicy
from orkit.sim import simulate


def draw(demand: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    if demand == "poisson":
        return rng.poisson(5.0, size=size).astype(np.float32)
    return (rng.geometric(1.0 / 6.0, size=size) - 1).astype(np.float32)  # failures before a success: mean 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", nargs="+", default=["poisson", "geometric"], choices=["poisson", "geometric"])
    parser.add_argument("--lead-times", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--penalties", nargs="+", type=float, default=[9.0])
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| demand | L | p | optimum g* | DS Base test cost (s.e.) | % above g* | fit CPU / wall [s] |")
    print("|---|---|---|---|---|---|---|")
    for demand in args.demand:
        law = Poisson(5.0) if demand == "poisson" else Geometric(5.0)
        for L in args.lead_times:
            for p in args.penalties:
                optimum = solve_average_cost_dp(law, holding_cost=1.0, shortage_cost=p, lead_time=L,
                                                max_transitions=60_000_000).average_cost
                rng = np.random.default_rng(args.seed)
                problem = InventoryProblem(lead_time=L, review_period=1, holding_cost=1.0, shortage_cost=p,
                                           lost_sales=True, warmup_periods=20)
                train, validation = draw(demand, rng, (100, 120)), draw(demand, rng, (50, 120))
                test = torch.as_tensor(draw(demand, rng, (2000, 600)))
                cpu, wall = time.process_time(), time.perf_counter()
                policy = DSPolicy(regularization="base", max_epochs=args.max_epochs, seed=args.seed)
                policy.fit(train, validation, problem)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                ledger = simulate(policy, test, problem.with_(warmup_periods=100), ledger="lean", dtype=torch.float64)
                loss = per_sku_loss(ledger).numpy()
                mean, se = float(loss.mean()), float(loss.std(ddof=1) / np.sqrt(loss.size))
                print(f"| {demand} | {L} | {p:g} | {optimum:.4f} | {mean:.4f} ({se:.4f}) | "
                      f"{100 * (mean / optimum - 1):.2f} | {cpu:.0f} / {wall:.0f} |", flush=True)


if __name__ == "__main__":
    main()
