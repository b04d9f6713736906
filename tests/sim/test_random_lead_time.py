"""Random lead times (issue 20 item 4): draws by seed, every path the same numbers, crossing
orders, a one-value law equal to the fixed lead time, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from orkit.core import InventoryProblem, LeadTimeDistribution, ValidationError
from orkit.heuristics import BaseStockPolicy, NewsvendorPolicy
from orkit.sim import simulate
from orkit.sim.gym_env import InventoryEnv
from orkit.sim.gym_vector import InventoryVectorEnv

LAW = LeadTimeDistribution([0, 1, 3], [0.2, 0.5, 0.3], seed=11)


def demand(n_skus=6, n_periods=40, seed=0):
    return np.random.default_rng(seed).poisson(5, size=(n_skus, n_periods)).astype(np.float64)


class PeriodOrder:
    """Orders t + 1 units in period t: each arrival names the order it came from."""

    fusable = False

    def act(self, obs):
        return torch.full_like(obs.on_hand, float(obs.period + 1))


# ---------------------------------------------------------------- the law and its draws
def test_draws_follow_the_seed_and_the_probabilities():
    a, b = LAW.draw(2000, 50), LAW.draw(2000, 50)
    assert a.dtype == np.uint8 and a.shape == (2000, 50)
    np.testing.assert_array_equal(a, b)
    # drawn period by period: the same numbers as one uniform array of the whole shape
    u = np.random.default_rng(11).random((2000, 50))
    np.testing.assert_array_equal(a, np.select([u < 0.2, u < 0.7], [0, 1], 3))
    assert not np.array_equal(a, LAW.with_seed(12).draw(2000, 50))
    freq = np.array([(a == v).mean() for v in (0, 1, 3)])
    # 100,000 draws: each frequency within 5 standard errors of its probability
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=5 * np.sqrt(0.25 / a.size))


def test_per_sku_laws_and_values_of_probability_zero():
    law = LeadTimeDistribution([0, 2, 5], [[1.0, 0.0, 0.0], [0.0, 0.4, 0.6], [0.5, 0.5, 0.0]], seed=3)
    drawn = law.draw(3000, 3)
    assert set(drawn[:, 0]) == {0} and set(drawn[:, 1]) == {2, 5} and set(drawn[:, 2]) == {0, 2}
    assert law.max_values(3).tolist() == [0, 5, 2] and law.max_value == 5
    problem = InventoryProblem(lead_time=law)
    assert problem.per_sku and problem.n_skus == 3 and problem.random_lead_time
    assert problem.subset([1]).lead_time.probabilities.tolist() == [[0.0, 0.4, 0.6]]
    with pytest.raises(ValidationError, match="3 per-SKU laws but the data has 2"):
        law.draw(5, 2)


@pytest.mark.parametrize("values,probabilities,match", [
    ([1, 2], [0.5, 0.6], "sum to 1"),
    ([-1, 2], [0.5, 0.5], ">= 0"),
    ([1, 1], [0.5, 0.5], "distinct"),
    ([1.5, 2], [0.5, 0.5], "integers"),
    ([1, 2], [0.5, 0.25, 0.25], "shape"),
    ([1, 2], [-0.5, 1.5], ">= 0"),
])
def test_invalid_laws_are_refused(values, probabilities, match):
    with pytest.raises(ValidationError, match=match):
        LeadTimeDistribution(values, probabilities)


def test_a_number_for_a_random_lead_time_is_refused_naming_what_supports_it():
    problem = InventoryProblem(lead_time=LAW, holding_cost=1.0, shortage_cost=9.0)
    for use in (lambda: problem.lead_times(3), lambda: int(problem.lead_time), lambda: problem.lead_time + 1,
                lambda: NewsvendorPolicy().fit(demand(), None, problem)):
        with pytest.raises(ValidationError, match="lead_time is random .* supported by orkit.sim.simulate"):
            use()
    assert problem.max_lead_time == 3 and problem.max_lead_times(2).tolist() == [3, 3]
    assert problem.warmups(2).tolist() == [4, 4]  # the longest lead time + P
    assert "random (mean 1.4, max 3)" in problem.describe()


# ---------------------------------------------------------------- crossing orders
@pytest.mark.parametrize("lost", [False, True])
def test_each_order_arrives_after_its_own_draw_and_orders_cross(lost):
    """Zero demand: end-of-period on-hand of period s is every order q_t = t + 1 placed in t
    with t + L[t, i] <= s (L = 0: on hand in the period it is placed)."""
    T, n = 30, 4
    problem = InventoryProblem(lead_time=LAW, warmup_periods=0, lost_sales=lost)
    ledger = simulate(PeriodOrder(), np.zeros((n, T)), problem)
    drawn = LAW.draw(T, n)  # the table the run uses
    t = np.arange(T)
    review = t >= 1  # P = 1: reviews from period 1
    q = np.where(review, t + 1.0, 0.0)
    arrival = t[:, None] + drawn  # (T, n)
    expected = np.array([[(q * (arrival[:, i] <= s)).sum() for s in range(T)] for i in range(n)])
    np.testing.assert_array_equal(ledger.on_hand.numpy(), expected)
    np.testing.assert_array_equal(ledger.order.numpy(), np.broadcast_to(q, (n, T)))
    # the table has crossings: an order placed later arrives strictly earlier
    crossed = [(a, b) for a in range(1, T) for b in range(a + 1, T) if arrival[b, 0] < arrival[a, 0]]
    assert crossed


def test_the_observed_pipeline_is_indexed_by_arrival_period():
    seen = []

    class Watch(PeriodOrder):
        def act(self, obs):
            seen.append((obs.period, obs.pipeline.clone()))
            return super().act(obs)

    T = 12
    simulate(Watch(), np.zeros((2, T)), InventoryProblem(lead_time=LAW, warmup_periods=0))
    drawn = LAW.draw(T, 2)
    for s, pipeline in seen:
        assert pipeline.shape == (2, 3)  # the longest lead time
        for j in range(3):  # slot j: the orders placed before s that arrive in s + j + 1
            want = [sum(t + 1.0 for t in range(1, s) if t + drawn[t, i] == s + j + 1) for i in range(2)]
            assert pipeline[:, j].tolist() == want


# ---------------------------------------------------------------- one value = the fixed lead time
@pytest.mark.parametrize("lead_time,review_period,lost", [(0, 1, False), (2, 1, False), (1, 2, True), (3, 2, False)])
def test_a_one_value_law_is_the_fixed_lead_time_exactly(lead_time, review_period, lost):
    d = torch.tensor(demand(5, 30, seed=lead_time))
    fixed = InventoryProblem(lead_time=lead_time, review_period=review_period, lost_sales=lost, fixed_cost=2.0)
    random = fixed.with_(lead_time=LeadTimeDistribution([lead_time], [1.0], seed=5))
    policy = BaseStockPolicy(18.0)
    a, b = simulate(policy, d, fixed), simulate(policy, d, random)
    for name in ("on_hand", "order", "sales", "cost", "counted"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    la, lb = simulate(policy, d, fixed, ledger="lean"), simulate(policy, d, random, ledger="lean")
    assert torch.equal(la.cost, lb.cost) and torch.equal(la.cycles, lb.cycles)


def test_a_one_value_law_keeps_the_gradient():
    d = torch.tensor(demand(4, 25))
    grads = []
    for lead_time in (2, LeadTimeDistribution([2], [1.0])):
        level = torch.tensor(17.0, dtype=torch.float64, requires_grad=True)

        class Level:
            def act(self, obs):
                return (level - obs.inventory_position).clamp(min=0)

        simulate(Level(), d, InventoryProblem(lead_time=lead_time), differentiable=True).cost.sum().backward()
        grads.append(level.grad.item())
    assert grads[0] == grads[1] != 0


# ---------------------------------------------------------------- every path, the same draws
@pytest.mark.parametrize("lost", [False, True])
def test_eager_compiled_lean_and_differentiable_runs_agree(lost):
    d = torch.tensor(demand(8, 37, seed=2))
    problem = InventoryProblem(lead_time=LAW, review_period=2, lost_sales=lost, fixed_cost=1.5)
    policy = BaseStockPolicy(16.0)
    eager = simulate(policy, d, problem)
    compiled = simulate(policy, d, problem, fused=True)
    for name in ("on_hand", "order", "sales"):
        torch.testing.assert_close(getattr(eager, name), getattr(compiled, name), rtol=0, atol=1e-9)
    diff = simulate(policy, d, problem, differentiable=True)
    torch.testing.assert_close(diff.on_hand, eager.on_hand, rtol=0, atol=1e-9)
    for fused in (False, True):
        lean = simulate(policy, d, problem, ledger="lean", fused=fused)
        torch.testing.assert_close(lean.cost, eager.sums().cost, rtol=1e-12, atol=1e-9)


def test_the_draws_do_not_depend_on_the_policy():
    """A period without an order uses its draw all the same: a run that skips orders early sees
    the later orders arrive exactly where a run that ordered every period sees them."""
    T, n = 20, 3
    problem = InventoryProblem(lead_time=LAW, warmup_periods=0)

    class LateStart(PeriodOrder):
        def act(self, obs):
            return torch.full_like(obs.on_hand, float(obs.period + 1) if obs.period >= 8 else 0.0)

    late = simulate(LateStart(), np.zeros((n, T)), problem).on_hand.numpy()
    drawn = LAW.draw(T, n)
    q = np.where(np.arange(T) >= 8, np.arange(T) + 1.0, 0.0)
    arrival = np.arange(T)[:, None] + drawn
    expected = np.array([[(q * (arrival[:, i] <= s)).sum() for s in range(T)] for i in range(n)])
    np.testing.assert_array_equal(late, expected)


@pytest.mark.parametrize("lost", [False, True])
def test_gymnasium_adapters_draw_what_simulate_draws(lost):
    d = demand(4, 26, seed=4)
    problem = InventoryProblem(lead_time=LAW, lost_sales=lost, fixed_cost=1.0)
    ledger = simulate(BaseStockPolicy(20.0), torch.tensor(d), problem)
    env = InventoryEnv(d, problem)
    check_env(InventoryEnv(d, problem), skip_render_check=True)
    assert env.observation_space.shape == (3 + 3,)  # on-hand, three pipeline slots, position, period
    for path in (2, 0, 3):  # any order of paths: each path has its own draws
        obs, _ = env.reset(options={"path": path})
        rewards = []
        for t in range(d.shape[1]):
            obs, reward, _, truncated, info = env.step([max(20.0 - obs[4], 0.0)])
            rewards.append(reward)
            assert info["order"] == pytest.approx(ledger.order[path, t].item())
            assert info["on_hand"] == pytest.approx(ledger.on_hand[path, t].item())
        counted = ledger.counted[path].numpy()
        np.testing.assert_allclose(-np.array(rewards)[counted], ledger.cost[path].numpy()[counted])
    # the vector env: sub-environments on paths 3 and 1
    envs = InventoryVectorEnv(d, problem, num_envs=2)
    obs, _ = envs.reset(options={"paths": [3, 1]})
    for t in range(d.shape[1]):
        obs, reward, _, _, info = envs.step(np.maximum(20.0 - obs[:, 4:5], 0.0))
        np.testing.assert_allclose(info["on_hand"], ledger.on_hand[[3, 1], t].numpy())


def test_gymnasium_adapters_refuse_per_sku_laws():
    law = LeadTimeDistribution([1, 2], [[0.5, 0.5], [1.0, 0.0]])
    with pytest.raises(ValidationError, match="one lead_time"):
        InventoryEnv(np.ones((2, 5)), InventoryProblem(lead_time=law))


def test_per_sku_laws_simulate_each_sku_with_its_own():
    law = LeadTimeDistribution([1, 4], [[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor(demand(2, 30))
    ledger = simulate(BaseStockPolicy(25.0), d, InventoryProblem(lead_time=law))
    for i, lead_time in enumerate((1, 4)):
        alone = simulate(BaseStockPolicy(25.0), d[i:i + 1], InventoryProblem(lead_time=lead_time, warmup_periods=5))
        # SKU 0's warm-up is 1 + 1 = 2, SKU 1's 4 + 1 = 5; compare from period 5 on
        assert torch.equal(ledger.on_hand[i], alone.on_hand[0])
        assert torch.equal(ledger.cost[i, 5:], alone.cost[0, 5:])


# ---------------------------------------------------------------- which families take it
SUPPORTED = {"base-stock", "capped-base-stock", "constant-order", "s-S", "r-Q", "fill-rate-base-stock"}


def _registered():
    import orkit.experiments  # noqa: F401 - registers the policies
    from orkit.experiments.registry import POLICIES

    return sorted(POLICIES)


@pytest.mark.parametrize("name", _registered())
def test_every_registered_family_fits_or_refuses_random_lead_times_clearly(name):
    """The families fitted by simulated search take random lead times (the simulator draws
    them); every other family refuses them naming what supports them (docs/concepts.md)."""
    import logging

    from orkit.experiments.registry import make_policy

    problem = InventoryProblem(lead_time=LeadTimeDistribution([1, 2], [0.5, 0.5]), holding_cost=1.0, shortage_cost=9.0)
    d = demand(8, 60)
    logging.disable(logging.WARNING)
    try:
        if name in SUPPORTED:
            policy = make_policy(name).fit(d, d, problem)
            assert simulate(policy, d, problem, ledger="lean").cost.isfinite().all()
        else:
            with pytest.raises(ValidationError, match="lead_time is random .* supported by"):
                make_policy(name).fit(d, d, problem)
    finally:
        logging.disable(logging.NOTSET)


def test_per_sku_timing_with_one_value_for_every_sku_is_the_shared_timing():
    """Per-SKU arrays (or per-SKU laws) whose values all agree run as one shared timing (this
    raised 'lead_time has 2 values but the data has 1 SKUs' before)."""
    d = torch.tensor(demand(2, 20))
    shared = simulate(BaseStockPolicy(15.0), d, InventoryProblem(lead_time=2, review_period=2))
    for lead_time in ([2, 2], LeadTimeDistribution([2, 3], [[1.0, 0.0], [1.0, 0.0]])):
        ledger = simulate(BaseStockPolicy(15.0), d, InventoryProblem(lead_time=lead_time, review_period=[2, 2]))
        assert torch.equal(ledger.on_hand, shared.on_hand) and torch.equal(ledger.cost, shared.cost)


def test_fixed_cost_and_fill_rate_policies_fit_under_random_lead_times():
    """(s, S) fitted by simulation under a crossing lead-time law and a fixed cost per order
    costs less than the fitted base-stock level, which orders every period; the fill-rate
    policy's level reaches its target in the simulator that drew the lead times."""
    from orkit.evaluation import evaluate
    from orkit.heuristics import FillRateBaseStockPolicy, SSPolicy

    law = LeadTimeDistribution([1, 3], [0.6, 0.4], seed=5)
    d = np.random.default_rng(3).poisson(4.0, (40, 120)).astype(np.float64)
    problem = InventoryProblem(lead_time=law, holding_cost=1.0, shortage_cost=9.0, fixed_cost=30.0)
    ss = SSPolicy().fit(d, d, problem)
    base = BaseStockPolicy().fit(d, d, problem)
    assert float(np.min(ss.order_up_to_level_ - ss.reorder_point_)) > 0  # batches, not one per period
    assert evaluate(ss, d, problem)["total_cost"] < evaluate(base, d, problem)["total_cost"]
    target = InventoryProblem(lead_time=law, holding_cost=1.0, shortage_cost=9.0)
    fill = FillRateBaseStockPolicy(fill_rate=0.95).fit(d, d, target)
    assert evaluate(fill, d, target)["fill_rate"] >= 0.95
