"""TwoStagePolicy end to end: against base-stock benchmarks, constraints, persistence, errors.

The comparisons (contextual: beat the best single base-stock level; IID normal: within a few
percent of the optimal base stock) run small in the default suite and large under ``slow``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from orkit.core import InventoryProblem, NotFittedError, Observation
from orkit.core.errors import ValidationError
from orkit.data import generate
from orkit.evaluation import evaluate, per_sku_loss
from orkit.heuristics import BaseStockPolicy
from orkit.sim import simulate
from orkit.twostage import TwoStagePolicy

DEEPSTOCK = InventoryProblem(lead_time=1, review_period=2)  # h = 0.1, b = 0.9, backorders


# ---------------------------------------------------------------------------------- baselines
def best_fixed_base_stock_level(data, problem: InventoryProblem, n_levels: int = 241) -> float:
    """The single order-up-to level with the lowest mean loss on ``data`` (grid search).

    Every level is simulated at once: the trajectories are repeated once per level.
    """
    demand = torch.tensor(np.asarray(data.demand, dtype=np.float32))
    n_skus = demand.shape[0]
    cycle = int(np.max(problem.lead_time)) + int(np.max(problem.review_period))
    levels = np.linspace(0.0, 3.0 * cycle * float(demand.mean(1).max()), n_levels)
    repeated = demand.repeat(n_levels, 1)
    per_level = torch.as_tensor(np.repeat(levels, n_skus), dtype=torch.float32)
    loss = per_sku_loss(simulate(BaseStockPolicy(per_level), repeated, problem, ledger="lean"))
    return float(levels[int(torch.argmin(loss.reshape(n_levels, n_skus).mean(1)))])


def optimal_base_stock_levels(mean: float, std: np.ndarray, problem: InventoryProblem) -> np.ndarray:
    """Per-SKU optimal order-up-to level for IID max(0, N(mean, std^2)) demand under backorders.

    Minimises the expected cost of the P periods an order covers, sum_j E[h (S - D_{L+j+1})^+
    + b (D_{L+j+1} - S)^+], estimated on 20,000 draws from the true distribution.
    """
    lead, review = int(problem.lead_time), int(problem.review_period)
    rng = np.random.default_rng(12345)
    base = rng.standard_normal((20_000, lead + review))
    levels = []
    for sigma in std:
        cumulative = np.cumsum(np.maximum(mean + sigma * base, 0.0), axis=1)[:, lead:]

        def cost(level: float) -> float:
            net = level - cumulative
            return float(np.mean(problem.holding_cost * np.maximum(net, 0) + problem.shortage_cost * np.maximum(-net, 0)))

        levels.append(minimize_scalar(cost, bounds=(0.0, 2.0 * cumulative.max()), method="bounded",
                                      options={"xatol": 1e-4}).x)
    return np.asarray(levels)


def contextual_comparison(n_skus: int, n_periods: int, seed: int) -> dict[str, float]:
    train, validation, test = generate("contextual", n_skus=n_skus, n_periods=n_periods, seed=seed).splits()
    policy = TwoStagePolicy().fit(train, validation, DEEPSTOCK)
    level = best_fixed_base_stock_level(train, DEEPSTOCK)
    return {
        "two_stage": evaluate(policy, test, DEEPSTOCK)["weighted_loss"],
        "best_fixed_base_stock": evaluate(BaseStockPolicy(level), test, DEEPSTOCK)["weighted_loss"],
        "level": level,
    }


def normal_comparison(n_skus: int, n_periods: int, seed: int) -> dict[str, float]:
    std = np.random.default_rng(seed).uniform(2.0, 5.0, size=n_skus)
    dataset = generate("iid-normal", n_skus=n_skus, n_periods=n_periods, mean=10.0, std=std, seed=seed,
                       split_sizes=(0.4, 0.2, 0.4))
    train, validation, test = dataset.splits()
    policy = TwoStagePolicy().fit(train, validation, DEEPSTOCK)
    levels = optimal_base_stock_levels(10.0, test.attributes["demand_std"].to_numpy(), DEEPSTOCK)
    return {
        "two_stage": evaluate(policy, test, DEEPSTOCK)["weighted_loss"],
        "optimal_base_stock": evaluate(BaseStockPolicy(levels), test, DEEPSTOCK)["weighted_loss"],
    }


# ---------------------------------------------------------------------------------- benchmarks
def test_beats_the_best_fixed_base_stock_level_on_contextual_demand():
    result = contextual_comparison(n_skus=200, n_periods=63, seed=1)
    assert result["two_stage"] < 0.5 * result["best_fixed_base_stock"], result


def test_is_within_a_few_percent_of_the_optimal_base_stock_on_iid_normal_demand():
    result = normal_comparison(n_skus=200, n_periods=63, seed=2)
    assert result["two_stage"] <= 1.05 * result["optimal_base_stock"], result


@pytest.mark.slow
def test_contextual_comparison_at_scale():
    result = contextual_comparison(n_skus=1000, n_periods=119, seed=11)
    print(result)
    assert result["two_stage"] < 0.5 * result["best_fixed_base_stock"], result


@pytest.mark.slow
def test_iid_normal_comparison_at_scale():
    result = normal_comparison(n_skus=1000, n_periods=119, seed=12)
    print(result)
    assert result["two_stage"] <= 1.03 * result["optimal_base_stock"], result


def test_lost_sales_is_close_to_the_best_fixed_base_stock_level():
    problem = InventoryProblem(lead_time=2, review_period=1, lost_sales=True)
    train, validation, test = generate("iid-poisson", n_skus=150, n_periods=50, rate=8.0, seed=5,
                                       split_sizes=(50, 50, 50)).splits()
    policy = TwoStagePolicy(n_scenarios=40).fit(train, validation, problem)
    level = best_fixed_base_stock_level(train, problem)
    two_stage = evaluate(policy, test, problem)["weighted_loss"]
    base_stock = evaluate(BaseStockPolicy(level), test, problem)["weighted_loss"]
    assert two_stage <= 1.05 * base_stock, (two_stage, base_stock)


# ---------------------------------------------------------------------------------- behaviour
@pytest.fixture(scope="module")
def poisson_splits():
    return generate("iid-poisson", n_skus=60, n_periods=36, rate=6.0, seed=3, split_sizes=(20, 20, 20)).splits()


def test_model_is_built_once_and_persistence_does_not_change_the_orders(poisson_splits):
    train, validation, test = poisson_splits
    # 0.9 * 21 * P is fractional: each SAA optimum is unique, so warm and cold solves agree
    persistent = TwoStagePolicy(n_scenarios=21).fit(train, validation, DEEPSTOCK)
    rebuilt = TwoStagePolicy(n_scenarios=21, persistent_model=False).fit(train, validation, DEEPSTOCK)
    first = simulate(persistent, test, DEEPSTOCK)
    model = persistent.model_
    second = simulate(rebuilt, test, DEEPSTOCK)
    review_days = len(persistent.act_log_)
    assert review_days == 17 and persistent.n_model_builds_ == 1 and persistent.model_ is model
    assert rebuilt.n_model_builds_ == review_days
    torch.testing.assert_close(first.order, second.order, atol=1e-4, rtol=1e-5)


def test_same_seed_same_orders(poisson_splits):
    train, validation, test = poisson_splits
    one = simulate(TwoStagePolicy(n_scenarios=15, random_state=4).fit(train, validation, DEEPSTOCK), test, DEEPSTOCK)
    two = simulate(TwoStagePolicy(n_scenarios=15, random_state=4).fit(train, validation, DEEPSTOCK), test, DEEPSTOCK)
    torch.testing.assert_close(one.order, two.order, atol=0, rtol=0)


def test_shared_capacity_holds_on_every_review_day(poisson_splits):
    train, validation, test = poisson_splits
    free = simulate(TwoStagePolicy(n_scenarios=15).fit(train, validation, DEEPSTOCK), test, DEEPSTOCK)
    capacity = 0.7 * float(free.order.sum(0).max())
    policy = TwoStagePolicy(n_scenarios=15, capacity=capacity).fit(train, validation, DEEPSTOCK)
    tight = simulate(policy, test, DEEPSTOCK)
    assert float(tight.order.sum(0).max()) <= capacity * (1 + 1e-5)
    assert float(tight.order.sum(0).max()) == pytest.approx(capacity, rel=1e-4)  # it binds


def test_pack_sizes_and_minimum_order_quantities_through_the_policy(poisson_splits):
    train, validation, test = poisson_splits
    policy = TwoStagePolicy(n_scenarios=10, pack_size=4.0, minimum_order_quantity=8.0).fit(
        train, validation, DEEPSTOCK)
    orders = simulate(policy, test, DEEPSTOCK).order
    np.testing.assert_allclose(orders / 4.0, torch.round(orders / 4.0), atol=1e-4)
    assert bool(((orders == 0) | (orders >= 8.0 - 1e-4)).all())


def test_per_sku_review_periods_order_only_on_their_review_days(poisson_splits):
    train, validation, test = poisson_splits
    problem = InventoryProblem(lead_time=np.arange(20) % 3, review_period=1 + np.arange(20) % 2)
    policy = TwoStagePolicy(n_scenarios=10).fit(train, validation, problem)
    ledger = simulate(policy, test, problem)
    assert policy.horizon_ == 4 and policy.n_model_builds_ == 1
    odd_days = ledger.order[1::2][:, 1::2]  # SKUs with P = 2 on odd days
    assert float(odd_days.abs().sum()) == 0.0
    assert float(ledger.order.sum()) > 0


def test_a_fitted_policy_pickles_and_orders_the_same(poisson_splits):
    train, validation, test = poisson_splits
    policy = TwoStagePolicy(n_scenarios=21).fit(train, validation, DEEPSTOCK)
    before = simulate(policy, test, DEEPSTOCK).order
    restored = pickle.loads(pickle.dumps(policy))
    assert restored.model_ is None and policy.model_ is not None
    torch.testing.assert_close(simulate(restored, test, DEEPSTOCK).order, before, atol=1e-4, rtol=1e-5)


def test_registered_as_two_stage():
    from orkit.experiments.registry import make_policy  # the registry imports every family

    policy = make_policy("two-stage", n_scenarios=12)
    assert isinstance(policy, TwoStagePolicy) and policy.n_scenarios == 12


def test_errors_name_the_problem(poisson_splits):
    train, validation, _ = poisson_splits
    obs = Observation(period=3, on_hand=torch.zeros(2), inventory_position=torch.zeros(2))
    with pytest.raises(NotFittedError, match="TwoStagePolicy is not fitted yet"):
        TwoStagePolicy().act(obs)
    with pytest.raises(ValidationError, match="validation must be given"):
        TwoStagePolicy().fit(train, None, DEEPSTOCK)
    with pytest.raises(ValidationError, match="n_scenarios must be >= 1, got 0"):
        TwoStagePolicy(n_scenarios=0).fit(train, validation, DEEPSTOCK)
    with pytest.raises(ValidationError, match="problem must be an InventoryProblem"):
        TwoStagePolicy().fit(train, validation, {"lead_time": 1})
    with pytest.raises(ValidationError, match="capacity must be >= 0, got -5"):
        TwoStagePolicy(capacity=-5.0).fit(train, validation, DEEPSTOCK)
    fitted = TwoStagePolicy(n_scenarios=5).fit(train, validation, InventoryProblem(lead_time=0, review_period=1))
    too_long = Observation(period=3, on_hand=torch.zeros(2), inventory_position=torch.zeros(2),
                           lead_time=torch.tensor([2, 2]), review_period=torch.tensor([1, 1]))
    with pytest.raises(ValidationError, match=r"lead_time \+ review_period must be <= 1"):
        fitted.act(too_long)
