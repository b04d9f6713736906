"""The exact Markov-chain evaluator of a stationary policy: against closed forms, the exact DP and
long simulations with orkit.sim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, StateSpaceError, ValidationError
from orkit.evaluation.metrics import per_sku_loss
from orkit.heuristics import (
    DynamicProgrammingPolicy,
    NegativeBinomial,
    Poisson,
    base_stock_cost,
    dual_balancing_order,
    evaluate_stationary_policy,
    myopic2_order,
    solve_average_cost_dp,
)
from orkit.sim import simulate


@pytest.mark.parametrize("lead_time", [0, 1, 3])
def test_base_stock_under_backorders_has_its_closed_form_cost(lead_time):
    level = 6 + 2 * lead_time

    def order_up_to(on_hand, pipeline):
        return torch.clamp(level - on_hand - pipeline.sum(1), min=0)

    ev = evaluate_stationary_policy(order_up_to, Poisson(2.0), holding_cost=1.0, shortage_cost=4.0,
                                    lead_time=lead_time, lost_sales=False)
    want = float(base_stock_cost(level, 1.0, 4.0, Poisson(2.0), lead_time=lead_time))
    assert ev.average_cost == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("lost_sales", [True, False])
@pytest.mark.parametrize("law, lead_time", [(Poisson(5.0), 2), (NegativeBinomial(1, 1 / 6), 1)])
def test_the_dp_optimal_policy_evaluates_to_the_dp_optimum(law, lead_time, lost_sales):
    kw = dict(holding_cost=1.0, shortage_cost=9.0, lead_time=lead_time, lost_sales=lost_sales)
    sol = solve_average_cost_dp(law, **kw)
    policy = DynamicProgrammingPolicy(law).fit(np.zeros((1, 5)), None, InventoryProblem(lead_time=lead_time,
                                                                                          review_period=1,
                                                                                          holding_cost=1.0,
                                                                                          shortage_cost=9.0,
                                                                                          lost_sales=lost_sales))
    ev = evaluate_stationary_policy(policy, law, **kw, min_on_hand=sol.min_on_hand if not lost_sales else None)
    assert ev.average_cost == pytest.approx(sol.average_cost, abs=1e-6)


@pytest.mark.parametrize("name, order", [("myopic2", myopic2_order), ("dual-balancing", dual_balancing_order)])
def test_exact_cost_agrees_with_a_long_simulation(name, order):
    law, L, p = Poisson(5.0), 2, 9.0
    kw = dict(holding_cost=1.0, shortage_cost=p, lead_time=L)
    ev = evaluate_stationary_policy(lambda x, q: order(x, q, law, **kw), law, **kw)

    class Table:  # the evaluated orders as a lookup, so the simulation costs seconds
        def __init__(self):
            self.orders = {tuple(s): int(q) for s, q in zip(ev.states.tolist(), ev.orders.tolist())}

        def act(self, obs):
            x0 = torch.round(obs.on_hand).long().tolist()
            a1 = torch.round(obs.pipeline[:, 0]).long().tolist()
            return torch.tensor([self.orders.get((x, a), None) for x, a in zip(x0, a1)], dtype=obs.on_hand.dtype)

    demand = torch.as_tensor(np.random.default_rng(11).poisson(5.0, size=(400, 1500)), dtype=torch.float64)
    problem = InventoryProblem(lead_time=L, review_period=1, holding_cost=1.0, shortage_cost=p, lost_sales=True,
                               warmup_periods=100)
    losses = per_sku_loss(simulate(Table(), demand, problem, ledger="lean", dtype=torch.float64)).numpy()
    mean, se = losses.mean(), losses.std(ddof=1) / np.sqrt(losses.size)
    assert abs(mean - ev.average_cost) < 4 * se, (name, mean, ev.average_cost, se)


def test_refusals_name_the_rule():
    with pytest.raises(ValidationError, match="integer orders"):
        evaluate_stationary_policy(lambda x, q: torch.full_like(x, 4.6), Poisson(5.0), holding_cost=1.0,
                                   shortage_cost=4.0, lead_time=1)
    with pytest.raises(StateSpaceError, match=r"set max_inventory_position=\d+ or more"):
        evaluate_stationary_policy(lambda x, q: torch.clamp(30 - x - q.sum(1), min=0), Poisson(5.0),
                                   holding_cost=1.0, shortage_cost=4.0, lead_time=1, max_inventory_position=20)
