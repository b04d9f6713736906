"""Fitting on SKUs that live part of the horizon (issue 18 item 1): every family fits on the
periods each SKU lives (a mask, never zeros read as demand), or refuses saying why.

The oracle is the same SKU's lived periods given as a dataset of their own (every SKU living
its whole, shorter, horizon): a SKU's clock starts at its first period, in the simulator as in
the fits, so where the fit is per SKU (or pools samples) the two must agree.
"""

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem
from orkit.core.errors import DataError, ValidationError
from orkit.data import Dataset, TimeSplit
from orkit.evaluation import backtest
from orkit.experiments.registry import make_policy
from orkit.heuristics import (BaseStockPolicy, ConstantOrderPolicy, NewsvendorPolicy,
                              QuantileRegressionNewsvendorPolicy, review_window_demand)
from orkit.heuristics._search import simulated_losses
from orkit.heuristics._training import lived_review_windows, pooled_lived_pmf, sku_lives, training_samples
from orkit.heuristics.distributions import Discrete, Empirical
from orkit.heuristics.newsvendor import FAMILIES, fit_window_distributions

N, T = 9, 60
FIRST = np.array([10, 10, 10, 0, 0, 0, 0, 0, 0])  # three SKUs launched at period 10
LAST = np.array([59, 59, 59, 40, 40, 40, 59, 59, 59])  # three withdrawn after period 40


def launches(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    demand = rng.poisson(rng.uniform(4.0, 12.0, size=(N, 1)), size=(N, T)).astype(np.float64)
    price = rng.normal(10.0, 1.0, size=(N, T, 1))
    t = np.arange(T)
    demand[(t < FIRST[:, None]) | (t > LAST[:, None])] = 0.0
    return Dataset(demand, features=price, feature_names=("price",), life=(FIRST, LAST), name="launches")


def lived(ds: Dataset, i: int) -> Dataset:
    """SKU ``i``'s lived periods as a dataset of its own (full life)."""
    a, b = int(FIRST[i]), int(LAST[i]) + 1
    return Dataset(ds.demand[i:i + 1, a:b], features=ds.features[i:i + 1, a:b], feature_names=ds.feature_names,
                   sku_ids=[ds.sku_ids[i]])


PROBLEM = InventoryProblem(lead_time=1, review_period=2)


# ---------------------------------------------------------------------------------- demand laws
@pytest.mark.parametrize("family", ["empirical", "normal", "poisson", "negative-binomial", "gamma"])
def test_per_sku_newsvendor_equals_the_fit_on_each_skus_lived_periods(family):
    ds = launches()
    level = NewsvendorPolicy(family, per_sku=True).fit(ds, None, PROBLEM).level_
    alone = [float(NewsvendorPolicy(family, per_sku=True).fit(lived(ds, i), None, PROBLEM).level_[0]) for i in range(N)]
    assert level == pytest.approx(alone, rel=1e-12)


def test_pooled_empirical_newsvendor_is_the_quantile_of_the_lived_windows_not_of_zeros():
    ds = launches()
    level = float(NewsvendorPolicy("empirical").fit(ds, None, PROBLEM).level_)
    windows = np.concatenate([review_window_demand(lived(ds, i), 1, 2).reshape(-1) for i in range(N)])
    assert level == float(Empirical(windows).ppf(PROBLEM.critical_ratio))
    # the same numbers read as zero demand outside the lives give another (lower) level
    zeros = Dataset(ds.demand)
    assert float(NewsvendorPolicy("empirical").fit(zeros, None, PROBLEM).level_) < level


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_value_placed_outside_the_lives_changes_nothing(family):
    windows, valid = lived_review_windows(launches(), 1, 2)
    assert valid is not None and not valid.all()
    padded = np.where(valid[:, :, None], windows, 1e6)
    for per_sku in (True, False):
        a = fit_window_distributions(windows, family, per_sku, valid)
        b = fit_window_distributions(padded, family, per_sku, valid)
        for x, y in zip(a, b):
            # (the empirical law sums weight x sample in sorted order, which the padding moves: 1e-12)
            assert np.array_equal(x.ppf(0.9), y.ppf(0.9)) and x.mean == pytest.approx(y.mean, rel=1e-12)


def test_review_days_count_from_each_skus_first_period():
    ds = launches()
    windows, valid = lived_review_windows(ds, 1, 2)
    for i in range(N):
        assert np.array_equal(windows[i][valid[i]], review_window_demand(lived(ds, i), 1, 2)[0])


def test_a_per_sku_fit_names_skus_without_a_window():
    ds = launches()
    short = Dataset(ds.demand[:, :14], life=(FIRST, np.minimum(LAST, 13)))  # SKUs 0-2 live 4 periods
    with pytest.raises(ValidationError, match=r"3 SKU\(s\) live too briefly .* fit a pooled policy"):
        NewsvendorPolicy(per_sku=True).fit(short, None, PROBLEM)
    NewsvendorPolicy().fit(short, None, PROBLEM)  # pooled: the others' windows


# ---------------------------------------------------------------------------------- by simulation
@pytest.mark.parametrize("name", ["base-stock", "constant-order", "s-S"])
def test_per_sku_simulation_fit_equals_the_fit_on_each_skus_lived_periods(name):
    ds, small = launches(), dict(n_candidates=9, n_rounds=3)
    problem = InventoryProblem(lead_time=1, review_period=1)
    policy = make_policy(name, per_sku=True, **small).fit(ds, None, problem)
    for i in (0, 3, 6):
        alone = make_policy(name, per_sku=True, **small).fit(lived(ds, i), None, problem)
        for attr in [a for a in vars(alone) if a.endswith("_") and a not in ("per_sku_", "sku_ids_")]:
            assert np.asarray(getattr(policy, attr))[i] == pytest.approx(np.asarray(getattr(alone, attr))[0]), attr


def test_shared_candidate_loss_is_the_mean_over_lived_skus():
    ds = launches()
    problem = InventoryProblem(lead_time=1, review_period=1)
    grid = {"level": np.array([[5.0, 12.0, 20.0]])}
    pooled = simulated_losses(BaseStockPolicy, grid, ds.demand, problem, per_sku=False, life=sku_lives(ds, N, T))
    each = [simulated_losses(BaseStockPolicy, grid, lived(ds, i).demand, problem, per_sku=False)[0] for i in range(N)]
    assert pooled[0] == pytest.approx(np.mean(each, axis=0), rel=1e-12)


def test_a_sku_without_a_scored_period_is_left_out_of_a_shared_loss_and_refused_per_sku():
    ds = launches()
    last = LAST.copy()
    last[0] = 11  # lives periods 10 and 11: both are its warm-up (L + P = 2), so nothing of it is scored
    brief = Dataset(np.where(np.arange(T) <= last[:, None], ds.demand, 0.0), life=(FIRST, last))
    problem = InventoryProblem(lead_time=1, review_period=1)
    grid = {"level": np.array([[5.0, 12.0]])}
    pooled = simulated_losses(BaseStockPolicy, grid, brief.demand, problem, per_sku=False, life=sku_lives(brief, N, T))
    rest = simulated_losses(BaseStockPolicy, grid, brief.demand[1:], problem, per_sku=False,
                            life=tuple(v[1:] for v in sku_lives(brief, N, T)))
    assert pooled == pytest.approx(rest, rel=1e-12)
    with pytest.raises(ValidationError, match=r"1 SKU\(s\) \(rows \[0\]\) live too briefly"):
        BaseStockPolicy(per_sku=True).fit(brief, None, problem)
    BaseStockPolicy().fit(brief, None, problem)


def test_fitted_policies_order_nothing_outside_a_life():
    from orkit.sim import simulate

    ds = launches()
    problem = InventoryProblem(lead_time=1, review_period=1)
    for policy in (BaseStockPolicy(), ConstantOrderPolicy(), NewsvendorPolicy("poisson")):
        ledger = simulate(policy.fit(ds, None, problem), ds, problem, ledger="full")
        outside = ~torch.as_tensor(ds.alive().T)
        assert float(ledger.order[outside].abs().sum()) == 0.0 and not bool(ledger.counted[outside].any())


# ---------------------------------------------------------------------------------- features and lags
def test_training_rows_are_the_lived_rows_and_lags_before_the_first_period_read_zero():
    ds = launches()
    X, y, names = training_samples(ds, PROBLEM, ("price",), 3, "test")
    alone = [training_samples(lived(ds, i), PROBLEM, ("price",), 3, "test") for i in range(N)]
    assert names == ("price", "demand_lag1", "demand_lag2", "demand_lag3")
    assert np.array_equal(X, np.concatenate([a[0] for a in alone]))
    assert np.array_equal(y, np.concatenate([a[1] for a in alone]))


def test_contextual_newsvendor_fits_on_the_lived_rows():
    from orkit.sim import simulate

    ds = launches()
    problem = InventoryProblem(lead_time=1, review_period=1)
    policy = QuantileRegressionNewsvendorPolicy(features=("price",), demand_lags=2).fit(ds, None, problem)
    ledger = simulate(policy, ds, problem, ledger="full")
    assert float(ledger.order[~torch.as_tensor(ds.alive().T)].abs().sum()) == 0.0


# ---------------------------------------------------------------------------------- two-stage
def test_forecaster_rows_stay_inside_the_lives():
    from sklearn.linear_model import Ridge

    from orkit.twostage import DemandForecaster

    ds = launches()
    forecaster = DemandForecaster(regressor=Ridge(), calendar="periods").fit(ds, horizon=3)
    _, _, _, targets = forecaster._rows(ds, "train")
    expected = []
    for i in range(N):
        sub = lived(ds, i)
        expected.append(forecaster._rows(sub, "train")[3])
    assert np.array_equal(targets, np.concatenate(expected))
    with pytest.raises(DataError, match=r"forecasting every origin \(predict_origins\) of SKUs that start or end"):
        forecaster.predict_origins(ds)


# ---------------------------------------------------------------------------------- exact DP pools
def test_dp_pools_the_lived_periods():
    ds = launches()
    lived_demand = np.concatenate([lived(ds, i).demand[0] for i in range(N)])
    assert np.array_equal(pooled_lived_pmf(ds), Discrete.from_samples(lived_demand.reshape(1, -1)).pmf[0])
    problem = InventoryProblem(lead_time=1, review_period=1, lost_sales=True)
    myopic = make_policy("myopic", per_sku=True).fit(ds, None, problem)
    for i in (0, 3, 6):
        alone = make_policy("myopic", per_sku=True).fit(lived(ds, i), None, problem)
        width = alone.demand_pmf_.shape[1]
        assert np.allclose(myopic.demand_pmf_[i, :width], alone.demand_pmf_[0], rtol=0, atol=1e-15)
        assert not myopic.demand_pmf_[i, width:].any()


def test_empirical_dp_refuses_saying_why():
    with pytest.raises(DataError, match=r"6 SKU\(s\) .* fitting the empirical DP on SKUs that start or end inside "
                                        r"the horizon is not supported \(its recursion runs over calendar periods"):
        make_policy("empirical-dp").fit(launches(), None, InventoryProblem(lead_time=1, review_period=1))


# ---------------------------------------------------------------------------------- learners
def test_next_review_steps_link_each_skus_own_review_days():
    from orkit.rl.rollout import next_review_steps

    is_review = torch.tensor([[True, True, True, True],     # every step
                              [False, True, False, True],   # its own phase (P = 2)
                              [True, True, False, False],   # withdrawn
                              [False, False, False, False]])  # not yet launched
    assert next_review_steps(is_review).tolist() == [[1, 2, 3, -1], [1, 3, 3, -1], [1, -1, -1, -1],
                                                     [-1, -1, -1, -1]]


def test_ppo_advantages_of_a_lived_stretch_are_those_of_an_episode_of_that_length():
    from orkit.rl.ppo import lived_advantages

    g = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(4, 8, generator=g, dtype=torch.float64), torch.randn(4, 8, generator=g,
                                                                                      dtype=torch.float64)
    is_review = torch.zeros(4, 8, dtype=torch.bool)
    is_review[0], is_review[1, 2:], is_review[2, :5] = True, True, True  # whole, launched at 2, withdrawn after 4
    is_review[3, 1::2] = True  # every other step: its own phase of P = 2
    gamma, lam = 0.9, 0.8

    def episode(r, v):  # textbook GAE over one episode that the horizon ends (Schulman et al. 2016, eq. 16)
        out, last = torch.zeros_like(r), 0.0
        for k in reversed(range(r.shape[0])):
            next_value = v[k + 1] if k + 1 < r.shape[0] else 0.0
            last = r[k] + gamma * next_value - v[k] + gamma * lam * last
            out[k] = last
        return out

    got = lived_advantages(rewards, values, is_review, gamma, lam)
    for i in range(4):
        keep = is_review[i]
        torch.testing.assert_close(got[i][keep], episode(rewards[i][keep], values[i][keep]), rtol=1e-12, atol=1e-12)
        assert not got[i][~keep].any()


@pytest.mark.parametrize("name", ["ppo", "ddpg"])
@pytest.mark.parametrize("review_period", [1, 2])
def test_ppo_and_ddpg_train_on_partial_lives(name, review_period):
    from testkit import SMALL

    ds = launches()
    first = FIRST.copy()
    first[1] = 11  # another phase of the review days when P = 2
    ds = Dataset(np.where(np.arange(T) >= first[:, None], ds.demand, 0.0), life=(first, LAST))
    policy = make_policy(name, **SMALL[name]).fit(ds, ds, InventoryProblem(lead_time=1, review_period=review_period))
    losses = [e["validation_loss"] for e in policy.history_ if e.get("validation_loss") is not None]
    assert losses and np.isfinite(losses).all()


def test_ds_trains_on_partial_lives_with_finite_losses():
    ds = launches()
    problem = InventoryProblem(lead_time=1, review_period=1)
    policy = make_policy("ds", max_epochs=2, hidden_sizes=(8,), batch_size=4).fit(ds, ds, problem)
    losses = [e["train_loss"] for e in policy.history_ if e.get("train_loss") is not None]
    assert losses and all(np.isfinite(losses))


# ---------------------------------------------------------------------------------- backtest
@pytest.mark.parametrize("make", [lambda: NewsvendorPolicy("poisson", per_sku=True),
                                  lambda: BaseStockPolicy(n_candidates=9, n_rounds=3),
                                  lambda: make_policy("two-stage", n_scenarios=10, n_threads=1)])
def test_time_backtest_on_data_with_launches_runs_end_to_end(make):
    ds = launches()
    table = backtest(make, ds, InventoryProblem(lead_time=1, review_period=1), TimeSplit(validation=10, test=10))
    assert list(table["window"]) == ["validation", "test"]
    assert np.isfinite(table["weighted_loss"]).all()


def test_orkit_evaluate_backtests_data_with_launches_and_withdrawals(tmp_path, capsys):
    from orkit.cli.main import main

    data = launches()
    path = Dataset(data.demand, life=data.life, start_date="2024-01-01", freq="D").write(tmp_path / "sales.csv")
    for policy in ("newsvendor", "base-stock"):
        assert main(["evaluate", str(path), "--policy", policy, "--test-periods", "10", "--validation-periods",
                     "10"]) == 0
        assert "weighted_loss" in capsys.readouterr().out
