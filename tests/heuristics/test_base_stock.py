"""Base-stock levels: published numbers, exactness against the simulator, simulation optimisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, NotFittedError, Observation
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.heuristics import (
    BaseStockPolicy,
    FeatureLinearBaseStockPolicy,
    Normal,
    Poisson,
    base_stock_cost,
    base_stock_level,
    optimize_base_stock_level,
)

Z_90 = 1.2815515655446004
PHI_Z_90 = 0.17549833193248685  # standard normal density at z_0.9


def test_snyder_shen_example_4_4_lead_time():
    """Snyder & Shen (2019), Example 4.4 (L = 4, R = 1): h = 0.18, p = 0.70, D ~ N(50, 8^2) per period.

    S* = 264.7669 and g(S*) = 4.4668; g(180) = 49.0002 (values as reproduced by stockpyl's tests).
    """
    S = base_stock_level(0.18, 0.70, Normal(50, 8), lead_time=4)
    assert S == pytest.approx(264.7668943741548, abs=1e-4)
    assert base_stock_cost(S, 0.18, 0.70, Normal(50, 8), lead_time=4) == pytest.approx(4.466781004149578, abs=1e-4)
    assert base_stock_cost(180, 0.18, 0.70, Normal(50, 8), lead_time=4) == pytest.approx(49.000164748034095, abs=1e-4)


def test_poisson_base_stock_with_lead_time_is_the_newsvendor_over_l_plus_one_periods():
    """Snyder & Shen (2019), Example 4.7 data (h = 1, p = 4) with Poisson(2) per period and L = 2."""
    assert base_stock_level(1, 4, Poisson(2.0), lead_time=2) == 8  # the 0.8-quantile of Poisson(6)
    assert base_stock_cost(8, 1, 4, Poisson(2.0), lead_time=2) == pytest.approx(
        float(1 * (8 - 6) + 5 * Poisson(6.0).loss(8)), abs=1e-12
    )


def test_protection_interval_equals_exact_for_one_period_reviews():
    for L in (0, 1, 3):
        assert base_stock_level(0.1, 0.9, Normal(10, 3), L, 1) == base_stock_level(
            0.1, 0.9, Normal(10, 3), L, 1, method="protection-interval"
        )


def test_per_sku_lead_times_and_review_periods_are_vectorised():
    mean = np.array([5.0, 8.0, 3.0, 12.0])
    L = np.array([0, 1, 2, 4])
    P = np.array([1, 2, 3, 1])
    levels = base_stock_level(0.2, 1.0, Poisson(mean), L, P)
    costs = base_stock_cost(levels, 0.2, 1.0, Poisson(mean), L, P)
    for i in range(4):
        assert levels[i] == base_stock_level(0.2, 1.0, Poisson(mean[i]), int(L[i]), int(P[i]))
        assert costs[i] == pytest.approx(float(base_stock_cost(levels[i], 0.2, 1.0, Poisson(mean[i]), int(L[i]), int(P[i]))))


def test_cost_formula_matches_the_simulator_and_the_exact_level_beats_the_protection_interval():
    """With P = 2 costs accrue every period: the mixture quantile is optimal, not the L + P quantile."""
    rng = np.random.default_rng(0)
    demand = np.maximum(rng.normal(30.0, 3.0, size=(2000, 203)), 0.0)
    problem = InventoryProblem(lead_time=1, review_period=2)
    law = Normal(30.0, 3.0)
    exact = float(base_stock_level(0.1, 0.9, law, 1, 2))
    textbook = float(base_stock_level(0.1, 0.9, law, 1, 2, method="protection-interval"))
    assert exact < textbook
    simulated = {S: evaluate(BaseStockPolicy(S), demand, problem)["weighted_loss"] for S in (exact, textbook)}
    for S, loss in simulated.items():
        assert loss == pytest.approx(float(base_stock_cost(S, 0.1, 0.9, law, 1, 2)), rel=0.01)
    assert simulated[exact] < simulated[textbook]
    assert base_stock_cost(exact, 0.1, 0.9, law, 1, 2) < base_stock_cost(textbook, 0.1, 0.9, law, 1, 2)


def test_simulation_optimised_level_matches_the_analytic_one_under_backorders():
    demand = np.random.default_rng(0).poisson(5.0, size=(400, 80)).astype(float)
    problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=4.0)
    shared = optimize_base_stock_level(demand, problem)
    assert np.all(shared == shared[0]) and shared[0] == base_stock_level(1.0, 4.0, Poisson(5.0), 1)
    per_sku = optimize_base_stock_level(demand[:50], problem, per_sku=True)
    assert per_sku.shape == (50,) and abs(np.median(per_sku) - shared[0]) <= 1


@pytest.fixture(scope="module")
def setting_4():
    # Setting 4 records no order cap (a cap of 100 would bind at a mean cycle demand of 100): the
    # analytic benchmark assumes unbounded orders
    ds = generate("deepstock-4", seed=0, n_train=20, horizon_cycles=64, reuse_train_sigma=True, n_test=2000)
    problem = InventoryProblem(**ds.metadata["problem"])
    assert problem.max_order is None
    return (*ds.splits(), problem)


def test_deepstock_setting_4_levels_agree_with_the_analytic_optimum(setting_4):
    """Per-SKU levels by simulation = 100 + z_0.9 sigma_i within sampling error; same test loss."""
    train, _, test, problem = setting_4
    levels = optimize_base_stock_level(train, problem, per_sku=True)
    sigma = train.attributes["demand_std"].to_numpy()
    analytic = 100.0 + Z_90 * sigma
    cycles = 64  # one demand draw per review cycle; both covered periods see the same draw
    standard_error = sigma * np.sqrt(0.9 * 0.1 / cycles) / PHI_Z_90  # asymptotic s.e. of a sample quantile
    assert np.all(np.abs(levels - analytic) < 4 * standard_error)
    # test SKUs reuse the training sigmas in blocks (reuse_train_sigma=True)
    fitted = BaseStockPolicy(np.repeat(levels, test.n_skus // train.n_skus))
    optimal = BaseStockPolicy(test.attributes["optimal_base_stock"].to_numpy())
    fitted_loss = evaluate(fitted, test, problem)["weighted_loss"]
    optimal_loss = evaluate(optimal, test, problem)["weighted_loss"]
    expected = float(np.mean(base_stock_cost(test.attributes["optimal_base_stock"].to_numpy(), 0.1, 0.9,
                                             Normal(100.0, test.attributes["demand_std"].to_numpy()))))
    assert expected == pytest.approx(float(np.mean(PHI_Z_90 * test.attributes["demand_std"])), rel=1e-9)
    assert optimal_loss == pytest.approx(expected, rel=0.02)
    assert optimal_loss <= fitted_loss <= 1.05 * optimal_loss


def test_deepstock_setting_4_feature_linear_level_transfers_to_new_skus(setting_4):
    train, validation, test, problem = setting_4
    policy = FeatureLinearBaseStockPolicy(features="sigma").fit(train, validation, problem)
    assert policy.intercept_ == pytest.approx(100.0, abs=5.0)
    assert policy.coef_[0] == pytest.approx(Z_90, abs=0.4)
    optimal = BaseStockPolicy(test.attributes["optimal_base_stock"].to_numpy())
    assert evaluate(policy, test, problem)["weighted_loss"] <= 1.03 * evaluate(optimal, test, problem)["weighted_loss"]


def test_feature_linear_refinement_by_simulation_never_worsens_the_training_loss():
    ds = generate("iid-poisson", n_skus=30, n_periods=40, rate=np.linspace(2.0, 12.0, 30), seed=0)
    problem = InventoryProblem(lead_time=1, review_period=1, lost_sales=True, holding_cost=1.0, shortage_cost=9.0)
    start = FeatureLinearBaseStockPolicy(features=["forecast_mean_next_7"]).fit(ds, None, problem)
    refined = FeatureLinearBaseStockPolicy(features=["forecast_mean_next_7"], method="simulation", n_epochs=30).fit(ds, None, problem)
    assert evaluate(refined, ds, problem)["weighted_loss"] <= evaluate(start, ds, problem)["weighted_loss"] + 1e-6


def _obs(ip):
    ip = torch.tensor(ip)
    return Observation(period=2, on_hand=ip, inventory_position=ip)


def test_policy_fixed_fitted_and_unfitted():
    assert BaseStockPolicy(10.0).act(_obs([5.0, 12.0])).tolist() == [5.0, 0.0]
    with pytest.raises(NotFittedError, match="BaseStockPolicy is not fitted"):
        BaseStockPolicy().act(_obs([0.0]))
    demand = np.random.default_rng(0).poisson(5.0, size=(50, 40)).astype(float)
    problem = InventoryProblem(lead_time=0, review_period=1, holding_cost=1.0, shortage_cost=4.0)
    shared = BaseStockPolicy().fit(demand, None, problem)
    assert isinstance(shared.level_, float) and shared.act(_obs([0.0])).item() == shared.level_
    per_sku = BaseStockPolicy(per_sku=True).fit(demand[:4], None, problem)
    assert per_sku.level_.shape == (4,)
    fixed = BaseStockPolicy(3.0)
    assert fixed.fit(demand, None, problem) is fixed and fixed.level_ == 3.0


def test_simulation_optimisation_handles_per_sku_lead_times():
    demand = np.random.default_rng(5).poisson(5.0, size=(400, 80)).astype(float)
    lead = np.repeat([0, 2], 200)
    problem = InventoryProblem(lead_time=lead, review_period=1, holding_cost=1.0, shortage_cost=4.0)
    levels = optimize_base_stock_level(demand, problem, per_sku=True)
    analytic = base_stock_level(1.0, 4.0, Poisson(5.0), lead)
    assert np.abs(np.median(levels[:200]) - analytic[0]) <= 1 and np.abs(np.median(levels[200:]) - analytic[-1]) <= 1
