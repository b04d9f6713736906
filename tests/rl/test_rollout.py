"""Rollouts and rewards: the reward windows tile the counted days, so returns add up to the loss."""

from __future__ import annotations

import pytest
import torch

from orkit.core import InventoryProblem
from orkit.evaluation import per_sku_loss
from orkit.heuristics import BaseStockPolicy
from orkit.rl.rollout import record_rollout, review_window_costs


@pytest.mark.parametrize("lead_time, review_period", [(1, 2), (0, 1), (2, 3)])
def test_window_costs_add_up_to_the_deepstock_loss(lead_time, review_period):
    demand = torch.distributions.Poisson(6.0).sample((7, 30))
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period)
    teacher = BaseStockPolicy(25.0)

    def step(obs):
        q = teacher.act(obs)
        return q, {"position": obs.inventory_position.clone()}

    rollout = record_rollout(step, demand, problem)
    assert rollout.periods == list(range(review_period, 30, review_period))
    windows = review_window_costs(rollout.ledger, rollout.periods, lead_time, review_period)
    counted = rollout.ledger.counted.sum(1).to(windows.dtype)
    torch.testing.assert_close(windows.sum(1) / counted, per_sku_loss(rollout.ledger))
    # the recorded positions are copies, not the live simulator state
    assert not torch.equal(rollout.records["position"][:, 0], rollout.records["position"][:, -1])


def test_window_of_a_review_day_holds_the_days_its_order_influences():
    demand = torch.tensor([[3.0, 4, 5, 2, 6, 1, 4, 3]])
    problem = InventoryProblem(lead_time=1, review_period=2)
    rollout = record_rollout(lambda obs: (BaseStockPolicy(10.0).act(obs), {}), demand, problem)
    cost = rollout.ledger.cost[0]
    windows = review_window_costs(rollout.ledger, rollout.periods, 1, 2)[0]
    assert rollout.periods == [2, 4, 6]
    # the order of day 2 influences days 3 and 4, that of day 6 day 7 only (the horizon ends)
    torch.testing.assert_close(windows, torch.stack([cost[3] + cost[4], cost[5] + cost[6], cost[7]]))
