"""Backtests over time: windows that start from the state their history leaves, rolling origin,
fits that see the train window only, and one-line errors for bad windows (issue 18 item 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.data import Dataset, RollingOrigin, TimeSplit, iid_poisson
from orkit.evaluation import backtest, evaluate, metrics_from_ledger, score_window
from orkit.heuristics import BaseStockPolicy, NewsvendorPolicy
from orkit.sim import simulate


class MovingAverageOrderUpTo:
    """Orders up to (L + P + 1) times the mean of the last 7 periods' demand: its orders depend
    on recent demand, on-hand and pipeline, so they match another run only if all three do."""

    def __init__(self, cover: float) -> None:
        self.cover = cover

    def act(self, obs):
        level = obs.recent_demand[:, -7:].mean(1) * self.cover
        return (level - obs.inventory_position).clamp(min=0)


def _data(n_skus: int = 6, n_periods: int = 90, seed: int = 0, **kwargs) -> Dataset:
    rng = np.random.default_rng(seed)
    demand = rng.poisson(rng.uniform(2, 12, size=(n_skus, 1)), size=(n_skus, n_periods)).astype(np.float32)
    return Dataset(demand, sku_ids=[f"s{i}" for i in range(n_skus)], **kwargs)


@pytest.mark.parametrize("lost_sales", [False, True])
def test_test_window_ledger_is_the_whole_runs_ledger_over_its_periods(lost_sales):
    data = _data()
    problem = InventoryProblem(lead_time=2, review_period=3, lost_sales=lost_sales)
    policy = MovingAverageOrderUpTo(cover=6.0)
    whole = simulate(policy, data, problem)
    start, stop = 55, 75
    window = data.window(start, stop, history=True)
    led = simulate(policy, window, problem)
    for field in ("on_hand", "order", "sales", "demand"):
        assert torch.equal(getattr(led, field), getattr(whole, field)[:, :stop]), field
    # scored from the window's first period (the state is carried, no warm-up), to its end
    assert led.counted.all(0).tolist() == [t >= start for t in range(stop)]
    # the window's metrics are those of the whole run's ledger counted over [start, stop) only
    cost_per_period = problem.holding_cost * whole.on_hand.clamp(min=0) + problem.shortage_cost * (
        whole.lost if lost_sales else whole.backlog)
    expected = cost_per_period[:, start:stop].sum() / (data.n_skus * (stop - start))
    got = metrics_from_ledger(led)["total_cost"] / (data.n_skus * (stop - start))
    assert got == pytest.approx(float(expected), rel=1e-6)
    # an empty start scores something else: the carried state matters
    empty = simulate(policy, data.window(start, stop), problem)
    assert not torch.equal(empty.on_hand, whole.on_hand[:, start:stop])


def test_score_window_equals_evaluate_on_the_window_with_history():
    data = _data(start_date="2024-01-01", freq="D")
    problem = InventoryProblem(lead_time=1, review_period=2)
    policy = BaseStockPolicy(level=30.0)
    by_date = score_window(policy, data, problem, "2024-02-20", "2024-03-11")
    by_position = evaluate(policy, data.window(50, 70, history=True), problem)
    assert by_date == by_position


def test_sku_lives_launches_and_withdrawals_across_windows():
    demand = np.full((4, 60), 5.0, dtype=np.float32)
    first = np.array([0, 45, 28, 0])  # s1 launched inside the test window, s2 two periods before it
    last = np.array([59, 59, 59, 20])  # s3 withdrawn before the validation window
    for i, (a, b) in enumerate(zip(first, last)):
        demand[i, :a] = 0
        demand[i, b + 1:] = 0
    data = Dataset(demand, sku_ids=["s0", "s1", "s2", "s3"], life=(first, last))
    parts = TimeSplit(validation=15, test=30).datasets(data)  # train 0..14, validation 15..29, test 30..59
    assert list(parts["train"].sku_ids) == ["s0", "s3"]  # launched later: absent from the train window
    assert list(parts["validation"].sku_ids) == ["s0", "s2", "s3"]
    assert list(parts["test"].sku_ids) == ["s0", "s1", "s2", "s3"]
    problem = InventoryProblem(lead_time=1, review_period=1)  # warm-up L + P = 2
    led = simulate(BaseStockPolicy(level=10.0), parts["test"], problem)
    counted = led.counted.numpy()
    scored_from = [int(np.flatnonzero(row)[0]) if row.any() else None for row in counted]
    # s0 lived long before: scored from the window's first period; s1 launched at 45: its own
    # warm-up (45 + 2); s2 launched at 28, two periods before: 28 + 2 = 30; s3: nothing scored
    assert scored_from == [30, 47, 30, None]
    whole = simulate(BaseStockPolicy(level=10.0), data, problem)
    assert torch.equal(led.on_hand, whole.on_hand)
    metrics = metrics_from_ledger(simulate(BaseStockPolicy(level=10.0), parts["test"], problem, ledger="lean"))
    assert np.isfinite(metrics["weighted_loss"])


def test_rolling_origin_gives_k_scores_on_disjoint_test_windows():
    data = _data(n_skus=8, n_periods=100)
    problem = InventoryProblem(lead_time=1, review_period=1)
    split = RollingOrigin(folds=4, test=12, validation=8)
    table = backtest(NewsvendorPolicy, data, problem, split, windows=("test",))
    assert table["fold"].tolist() == [1, 2, 3, 4]
    bounds = [(int(a), int(b)) for a, b in zip(table["start"], table["end"])]
    assert bounds == [(52, 63), (64, 75), (76, 87), (88, 99)]  # back to back, disjoint, ending at the end
    # each score is the fold's policy, fitted on the periods before its validation window, scored
    # from the state the history leaves
    for k, fold in enumerate(split.splits(data)):
        windows = fold.windows(data)
        fitted = NewsvendorPolicy().fit(data.window(*windows["train"]), data.window(*windows["validation"],
                                                                                      history=True), problem)
        expected = score_window(fitted, data, problem, *windows["test"])
        assert table["weighted_loss"].iloc[k] == pytest.approx(expected["weighted_loss"], rel=1e-12)
    assert table["weighted_loss"].nunique() == 4


class Spy:
    """Records what ``fit`` saw."""

    seen: list = []

    def fit(self, train, validation, problem):
        Spy.seen.append((train, validation))
        self.level_ = float(train.demand.mean()) * 3
        return self

    def act(self, obs):
        return (self.level_ - obs.inventory_position).clamp(min=0)


def test_fits_see_only_the_train_window_and_later_data_cannot_leak():
    data = _data(n_periods=80)
    split = TimeSplit(validation=10, test=20)
    problem = InventoryProblem(lead_time=1, review_period=2)
    Spy.seen = []
    backtest(Spy, data, problem, split)
    train, validation = Spy.seen[0]
    assert train.n_periods == 50 and train.history_periods == 0
    assert validation.n_periods == 60 and validation.history_periods == 50  # up to its end, nothing later
    # change every value after the train window (demand and a lag feature computed from it):
    # the fitted policies and the train window are the same
    later = data.demand.copy()
    later[:, 50:] *= 10
    lag = np.concatenate([np.zeros((data.n_skus, 1)), data.demand[:, :-1]], 1)
    lag_later = np.concatenate([np.zeros((data.n_skus, 1)), later[:, :-1]], 1)
    before = data.with_features("demand_lag_1", lag)
    after = Dataset(later, sku_ids=data.sku_ids).with_features("demand_lag_1", lag_later)
    train_before, train_after = (split.datasets(d)["train"] for d in (before, after))
    assert np.array_equal(train_before.demand, train_after.demand)
    assert np.array_equal(train_before.features, train_after.features)
    for make in (NewsvendorPolicy, lambda: BaseStockPolicy(per_sku=True)):
        fitted = [make().fit(split.datasets(d)["train"], split.datasets(d)["validation"], problem)
                  for d in (before, after)]
        assert np.array_equal(np.asarray(fitted[0].level_), np.asarray(fitted[1].level_))


def test_per_sku_policies_are_scored_on_the_skus_they_were_fitted_on():
    demand = np.random.default_rng(1).poisson(5.0, size=(3, 60)).astype(np.float32)
    demand[2, :40] = 0  # s2 launched in the test window
    data = Dataset(demand, sku_ids=["s0", "s1", "s2"], life=(np.array([0, 0, 40]), np.array([59, 59, 59])))
    problem = InventoryProblem(lead_time=1, review_period=1)
    table = backtest(lambda: BaseStockPolicy(per_sku=True), data, problem, TimeSplit(validation=10, test=20))
    assert table["n_skus"].tolist() == [2, 2]
    pooled = backtest(NewsvendorPolicy, data, problem, TimeSplit(validation=10, test=20))
    assert pooled["n_skus"].tolist() == [2, 3]


def test_a_policy_object_is_refitted_per_fold_and_left_unfitted():
    data = _data(n_periods=80)
    policy = NewsvendorPolicy()
    table = backtest(policy, data, InventoryProblem(), RollingOrigin(folds=2, test=10, validation=10))
    assert len(table) == 4 and not hasattr(policy, "level_")


def test_windows_by_date_and_weekly_calendars():
    data = _data(n_periods=30, start_date="2024-01-01", freq="W")  # Mondays
    split = TimeSplit(validation_start="2024-04-01", test_start="2024-05-06")
    assert split.windows(data) == {"train": (0, 13), "validation": (13, 18), "test": (18, 30)}
    table = backtest(BaseStockPolicy(level=40.0), data, InventoryProblem(), split)
    assert table["start"].tolist() == ["2024-04-01", "2024-05-06"]
    assert table["end"].tolist() == ["2024-04-29", "2024-07-22"]
    assert "validation 2024-04-01..2024-04-29 (5 periods)" in split.describe(data)


@pytest.mark.parametrize("make, message", [
    (lambda: TimeSplit(validation=10), "the test window needs either its length"),
    (lambda: TimeSplit(validation=10, test=5, test_start=3), "not both"),
    (lambda: TimeSplit(validation=0, test=5), "validation must be >= 1 periods, got 0"),
    (lambda: TimeSplit(validation=2.5, test=5), "validation must be a whole number of periods"),
    (lambda: RollingOrigin(folds=2, test=10, validation=5, step=5), "step must be >= test (10)"),
    (lambda: RollingOrigin(folds=0, test=10, validation=5), "folds must be >= 1"),
])
def test_bad_splits_are_one_line_errors(make, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("split, message", [
    (TimeSplit(validation=30, test=30), "the train window is empty: train_start .* must come before validation_start"),
    (TimeSplit(validation=30, test=80), "the validation window would start before the data's first period"),
    (TimeSplit(validation_start=40, test_start=30), "the validation window is out of order"),
    (TimeSplit(validation_start=40, test_start=40), "the validation window is empty"),
    (TimeSplit(validation=5, test_start=61), "test_start must lie in the dataset's periods"),
    (TimeSplit(validation=5, test=5, stop=70), "stop must lie in the dataset's periods"),
    (TimeSplit(validation_start="2024-01-10", test=5), "validation_start is a date .* has no dates"),
    (RollingOrigin(folds=6, test=10, validation=5), "leave fold 1 no train period"),
])
def test_bad_windows_on_a_dataset_are_one_line_errors(split, message):
    data = _data(n_periods=60)
    with pytest.raises(ValidationError, match=message) as info:
        backtest(NewsvendorPolicy, data, InventoryProblem(), split)
    assert "\n" not in str(info.value)


def test_window_refusals():
    data = _data(n_periods=20, start_date="2024-01-01", freq="W")
    with pytest.raises(ValidationError, match=r"must fall on the weekly calendar .* \(every Monday\), got 2024-01-03 \(Wednesday\)"):
        data.window("2024-01-03")
    with pytest.raises(ValidationError, match="the window must hold at least one period"):
        data.window(5, 5)
    with pytest.raises(ValidationError, match="is a window with 5 periods of history already"):
        data.window(5, history=True).window(6)
    with pytest.raises(ValidationError, match="history_periods must be < n_periods"):
        Dataset(np.ones((1, 3)), history_periods=3)


def test_a_window_with_history_round_trips_through_a_file(tmp_path):
    window = _data(n_periods=30).window(20, history=True)
    for suffix in (".csv", ".parquet"):
        back = Dataset.read(window.write(tmp_path / f"w{suffix}"))
        assert back.history_periods == 20 and back.equals(window)


def _changed_after(data: Dataset, period: int) -> Dataset:
    """``data`` with every demand and feature value from ``period`` on changed."""
    demand, features = data.demand.copy(), data.features.copy()
    demand[:, period:] = demand[:, period:] * 7 + 3
    features[:, period:] = -features[:, period:] + 5
    return Dataset(demand, features, data.feature_names, sku_ids=data.sku_ids, feature_roles=data.feature_roles)


@pytest.mark.parametrize("name", ["two-stage", "ds", "ppo", "ddpg", "newsvendor", "quantile-regression-newsvendor"])
def test_learners_fitted_in_a_backtest_see_nothing_of_the_test_window(name):
    from orkit.experiments.registry import make_policy
    from testkit import SMALL

    data = iid_poisson(n_skus=12, n_periods=70, rate=6.0, seed=3)
    split, problem = TimeSplit(validation=15, test=15), InventoryProblem(lead_time=1, review_period=2)
    fitted = []
    for d in (data, _changed_after(data, 55)):
        parts = split.datasets(d)
        policy = make_policy(name, **SMALL.get(name, {}), **({"seed": 0} if name in ("ds", "ppo", "ddpg") else {}))
        fitted.append(policy.fit(parts["train"], parts["validation"], problem))
        # and its validation score is the same too: the validation window ends where the test starts
        fitted.append(score_window(fitted[-1], d, problem, 40, 55)["weighted_loss"])
    assert fitted[1] == fitted[3]
    # the two fits act alike: the same test score on the same (original) data
    test_scores = [score_window(p, data, problem, 55, 70) for p in fitted[::2]]
    assert test_scores[0] == test_scores[1]
    state = [{k: v for k, v in vars(p).items() if k.endswith("_") and not k.startswith("_") and "seconds" not in k}
             for p in fitted[::2]]
    for key, value in state[0].items():
        other = state[1][key]
        if isinstance(value, torch.nn.Module):
            value, other = value.state_dict(), other.state_dict()
        if isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values()):
            assert all(torch.equal(value[k], other[k]) for k in value), key
        elif isinstance(value, (np.ndarray, torch.Tensor, float, int)):
            assert np.array_equal(np.asarray(value), np.asarray(other)), key


def test_the_two_stage_residuals_come_from_the_validation_window_only():
    from sklearn.linear_model import Ridge

    from orkit.twostage import DemandForecaster

    data = iid_poisson(n_skus=5, n_periods=60, rate=6.0, seed=1)
    parts = TimeSplit(validation=12, test=10).datasets(data)  # validation: periods 38..49
    horizon = 3
    forecaster = DemandForecaster(Ridge(), n_lags=3).fit(parts["train"], horizon, validation=parts["validation"])
    # origins 38 .. 50 - 3 = 47 of the validation window, its lags from the train periods before
    assert forecaster.residuals_.shape == (5 * 10, horizon)


@pytest.mark.parametrize("keyed", [True, False])
def test_per_sku_lead_times_and_costs_follow_their_skus_into_each_window(keyed):
    rng = np.random.default_rng(2)
    demand = rng.poisson(6.0, size=(4, 50)).astype(np.float32)
    demand[3, :30] = 0  # s3 launched after the train window
    lead_time, holding = np.array([0, 1, 3, 2]), np.array([0.1, 0.2, 0.3, 0.4])
    data = Dataset(demand, sku_ids=["s0", "s1", "s2", "s3"], life=(np.array([0, 0, 0, 30]), np.full(4, 49)),
                   attributes={"lead_time": lead_time, "holding_cost": holding})
    problem = InventoryProblem().with_attributes(data) if keyed else InventoryProblem(lead_time=lead_time,
                                                                                       holding_cost=holding)
    policy = MovingAverageOrderUpTo(cover=5.0)
    split = TimeSplit(validation=10, test=10)  # the train window (0..29) has s0, s1, s2 only
    table = backtest(policy, data, problem, split, windows=("train", "test"))
    assert table["n_skus"].tolist() == [3, 4]
    whole = simulate(policy, data, problem)
    window = simulate(policy, data.window(40, history=True), problem)
    assert torch.equal(window.on_hand, whole.on_hand)
    train = simulate(policy, data.window(0, 30), problem.subset([0, 1, 2]) if not keyed else problem)
    expected = metrics_from_ledger(train)["weighted_loss"]
    assert table["weighted_loss"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_a_per_sku_lead_time_law_follows_its_skus_into_a_part_of_the_dataset():
    """problem_for takes each SKU's own lead-time law for a part over some of the SKUs (it
    used to pass the whole table of laws on, which the simulator refused for its length)."""
    import numpy as np

    from orkit.core import InventoryProblem
    from orkit.core.lead_time import LeadTimeDistribution
    from orkit.data import generate
    from orkit.evaluation.backtesting import problem_for

    data = generate("iid-poisson", n_skus=4, n_periods=20, rate=3.0, seed=0)
    law = LeadTimeDistribution([1, 2], [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]], seed=3)
    part = data.subset(np.array([3, 1]))
    for costs in (1.0, [1.0, 2.0, 3.0, 4.0]):  # the law alone per SKU, and beside per-SKU costs
        problem = InventoryProblem(lead_time=law, review_period=1, holding_cost=costs)
        picked = problem_for(problem, data, part)
        assert picked.lead_time == law.subset([3, 1])
        assert np.ndim(costs) == 0 or picked.holding_cost.tolist() == [4.0, 2.0]
        assert problem_for(problem, data, data) is problem
