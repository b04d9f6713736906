"""The simulator against hand-computed ledgers, invariants, and its eager and compiled runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from orkit.core import InventoryProblem, ValidationError
from orkit.evaluation import metrics_from_ledger, per_sku_loss
from orkit.heuristics import BaseStockPolicy, CappedBaseStockPolicy, ConstantOrderPolicy
from orkit.sim import simulate
from orkit.sim import simulator as sim


def ledger_rows(led, i=0):
    return {k: getattr(led, k)[i].tolist() for k in ("on_hand", "sales", "backlog", "lost", "order")}


# ----------------------------------------------------------------- hand-computed ledgers
def test_backorders_lead_time_1_review_period_2_by_hand():
    # S = 10, L = 1, P = 2: review days 2, 4, 6; warm-up L + P = 3 (days 3..7 counted).
    # t=0: d=3 -> y=-3 | t=1: d=4 -> y=-7 | t=2: IP=-7, q=17; d=5 -> y=-12
    # t=3: +17 -> 5, d=2, sold 2 -> 3 | t=4: IP=3, q=7; d=6, sold 3 -> -3
    # t=5: +7 -> 4, d=1 -> 3 | t=6: IP=3, q=7; d=4, sold 3 -> -1 | t=7: +7 -> 6, d=3 -> 3
    demand = torch.tensor([[3.0, 4, 5, 2, 6, 1, 4, 3]])
    problem = InventoryProblem(lead_time=1, review_period=2, holding_cost=0.1, shortage_cost=0.9)
    led = simulate(BaseStockPolicy(10.0), demand, problem)
    assert ledger_rows(led) == {
        "on_hand": [-3, -7, -12, 3, -3, 3, -1, 3],
        "sales": [0, 0, 0, 2, 3, 1, 3, 3],
        "backlog": [3, 7, 12, 0, 3, 0, 1, 0],
        "lost": [0] * 8,
        "order": [0, 0, 17, 0, 7, 0, 7, 0],
    }
    assert led.counted[0].tolist() == [False] * 3 + [True] * 5
    # holding 0.1 * (3 + 3 + 3) + shortage 0.9 * (3 + 1), over 5 counted days
    assert per_sku_loss(led).item() == pytest.approx((0.9 + 3.6) / 5)


def test_lost_sales_lead_time_2_by_hand():
    # S = 8, L = 2, P = 1, start with 5 on hand: an order placed at t arrives at t + 2.
    demand = torch.tensor([[2.0, 5, 3, 4, 6, 1, 2]])
    problem = InventoryProblem(lead_time=2, review_period=1, lost_sales=True, initial_on_hand=5)
    led = simulate(BaseStockPolicy(8.0), demand, problem)
    assert ledger_rows(led) == {
        "on_hand": [3, 0, 0, 1, 0, 0, 2],
        "sales": [2, 3, 0, 4, 4, 0, 2],
        "backlog": [0] * 7,
        "lost": [0, 2, 3, 0, 2, 1, 0],
        "order": [0, 5, 3, 0, 4, 4, 0],
    }


def test_zero_lead_time_order_is_on_hand_before_demand():
    # S = 6, L = 0, P = 1: t=0 no review (first review at t = P = 1).
    demand = torch.tensor([[4.0, 7, 2, 6]])
    problem = InventoryProblem(lead_time=0, review_period=1)
    led = simulate(BaseStockPolicy(6.0), demand, problem)
    assert ledger_rows(led) == {
        "on_hand": [-4, -1, 4, 0],
        "sales": [0, 6, 2, 6],
        "backlog": [4, 1, 0, 0],
        "lost": [0] * 4,
        "order": [0, 10, 7, 2],
    }
    m = metrics_from_ledger(led)
    assert m["stockout_rate"] == pytest.approx(2 / 3)  # days 1 and 3 end with y <= 0
    assert m["cycle_service_level"] == pytest.approx(2 / 3)  # unmet demand only in cycle 1
    assert m["fill_rate"] == pytest.approx(14 / 15)


def test_max_order_clips_orders():
    demand = torch.full((2, 6), 5.0)
    problem = InventoryProblem(lead_time=1, review_period=1, max_order=4.0)
    led = simulate(BaseStockPolicy(100.0), demand, problem)
    assert led.order.max().item() == 4.0


def test_policy_with_wrong_shape_gets_a_clear_error():
    class Bad:
        def act(self, obs):
            return torch.zeros(obs.n_skus + 1)

    with pytest.raises(ValidationError, match=r"one order per SKU, shape \(3,\), got \(4,\)"):
        simulate(Bad(), torch.ones(3, 5), InventoryProblem())


@pytest.mark.parametrize("ledger", ["full", "lean"])
def test_bad_demand_is_rejected(ledger):
    with pytest.raises(ValidationError, match="demand must be >= 0, got -2"):
        simulate(ConstantOrderPolicy(1.0), torch.tensor([[1.0, -2.0]]), InventoryProblem(), ledger=ledger)
    with pytest.raises(ValidationError, match="demand must be finite"):
        simulate(ConstantOrderPolicy(1.0), torch.tensor([[1.0, float("nan")]]), InventoryProblem(), ledger=ledger)


# ----------------------------------------------------------------- invariants (hypothesis)
class RandomOrders:
    """Orders drawn from a seeded generator, independent of the state."""

    def __init__(self, seed: int, high: float) -> None:
        self.seed, self.high = seed, high

    def act(self, obs):
        g = torch.Generator().manual_seed(self.seed * 1000 + obs.period)
        return torch.rand(obs.n_skus, generator=g, dtype=torch.float64) * self.high


problems = st.builds(
    InventoryProblem,
    lead_time=st.integers(0, 4),
    review_period=st.integers(1, 3),
    lost_sales=st.booleans(),
    initial_on_hand=st.sampled_from([0.0, 7.0]),
)


@st.composite
def cases(draw):
    problem = draw(problems)
    n, T = draw(st.integers(1, 4)), draw(st.integers(1, 14))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    demand = torch.tensor(rng.integers(0, 9, size=(n, T)), dtype=torch.float64)
    return problem, demand, RandomOrders(seed, high=12.0)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_invariants(case):
    problem, demand, policy = case
    led = simulate(policy, demand, problem)
    L, P = int(problem.lead_time), int(problem.review_period)
    T = demand.shape[1]
    # sales + lost = demand (lost sales); sales never exceed demand
    assert torch.all(led.sales <= demand + 1e-9)
    if problem.lost_sales:
        assert torch.all(led.on_hand >= -1e-9)
        torch.testing.assert_close(led.sales + led.lost, demand)
    # orders only on review days
    t = torch.arange(T)
    review = (t >= P) & (t % P == 0)
    assert torch.all(led.order[:, ~review] == 0)
    # conservation of units: start + arrivals = end + sales (backorders: + backlog growth)
    arrived = led.order[:, : max(T - L, 0)].sum(1)
    outflow = led.sales.sum(1) if problem.lost_sales else demand.sum(1)
    torch.testing.assert_close(problem.initial_on_hand + arrived - outflow, led.on_hand[:, -1])


@settings(max_examples=40, deadline=None)
@given(cases())
def test_fast_lean_and_differentiable_paths_agree(case):
    problem, demand, policy = case
    full = simulate(policy, demand, problem)
    grad = simulate(policy, demand, problem, differentiable=True)
    lean = simulate(policy, demand, problem, ledger="lean")
    lean_grad = simulate(policy, demand, problem, ledger="lean", differentiable=True)
    for name in ("on_hand", "sales", "backlog", "lost", "order"):
        torch.testing.assert_close(getattr(full, name), getattr(grad, name))
    sums = full.sums()
    for name in ("holding_units", "shortage_units", "sales", "counted_periods", "cycles"):
        torch.testing.assert_close(getattr(lean, name), getattr(sums, name), msg=name)
    for name in ("demand", "stockout_periods", "cycles_with_shortage"):
        torch.testing.assert_close(getattr(lean, name).sum(), getattr(sums, name).sum(), msg=name)
    for name in ("holding_units", "shortage_units", "sales", "demand", "stockout_periods",
                 "counted_periods", "cycles", "cycles_with_shortage"):  # every lean sum, per SKU
        torch.testing.assert_close(getattr(lean, name), getattr(sums, name), msg=name)
        torch.testing.assert_close(getattr(lean_grad, name), getattr(sums, name), msg=name)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_per_sku_timing_equals_one_sku_at_a_time(seed, lost):
    rng = np.random.default_rng(seed)
    n, T = 4, 12
    L = rng.integers(0, 4, size=n)
    P = rng.integers(1, 4, size=n)
    demand = torch.tensor(rng.integers(0, 9, size=(n, T)), dtype=torch.float64)
    level = torch.tensor(rng.uniform(0, 30, size=n))
    problem = InventoryProblem(lead_time=L, review_period=P, lost_sales=lost)
    together = simulate(BaseStockPolicy(level), demand, problem)
    lean = simulate(BaseStockPolicy(level), demand, problem, ledger="lean")
    for i in range(n):
        alone = simulate(
            BaseStockPolicy(level[i : i + 1]),
            demand[i : i + 1],
            InventoryProblem(lead_time=int(L[i]), review_period=int(P[i]), lost_sales=lost),
        )
        for name in ("on_hand", "sales", "order", "counted", "cycle_start"):
            assert torch.equal(getattr(together, name)[i], getattr(alone, name)[0]), name
    torch.testing.assert_close(lean.holding_units, together.sums().holding_units)
    torch.testing.assert_close(lean.cycles_with_shortage.sum(), together.sums().cycles_with_shortage.sum())


# ----------------------------------------------------------------- gradients and devices
def test_gradient_of_loss_wrt_base_stock_level_matches_finite_difference():
    g = torch.Generator().manual_seed(3)
    demand = (10 + 3 * torch.randn(64, 40, generator=g, dtype=torch.float64)).clamp(min=0)
    problem = InventoryProblem(lead_time=2, review_period=1)

    def loss(level):
        led = simulate(BaseStockPolicy(level), demand, problem, differentiable=True)
        return per_sku_loss(led).mean()

    level = torch.tensor(31.7, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(loss(level), level)
    # the lean differentiable run (what DS trains through) gives the same gradient
    lean = per_sku_loss(simulate(BaseStockPolicy(level), demand, problem, ledger="lean", differentiable=True)).mean()
    (lean_grad,) = torch.autograd.grad(lean, level)
    assert lean_grad.item() == pytest.approx(grad.item(), rel=1e-12)
    eps = 1e-5
    with torch.no_grad():
        fd = (loss(level + eps) - loss(level - eps)) / (2 * eps)
    assert grad.item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-9)
    assert grad.item() != 0


def test_per_sku_gradient_reaches_every_level():
    demand = torch.full((3, 10), 4.0, dtype=torch.float64)
    level = torch.tensor([2.0, 8.5, 20.0], dtype=torch.float64, requires_grad=True)
    led = simulate(BaseStockPolicy(level), demand, InventoryProblem(lead_time=1), differentiable=True)
    per_sku_loss(led).sum().backward()
    # protection demand is 8, so y_t = S - 8 on every counted day: -0.9 below, +0.1 above
    assert level.grad.tolist() == pytest.approx([-0.9, 0.1, 0.1])


def test_device_and_dtype_follow_the_data():
    demand = torch.ones(2, 5, dtype=torch.float64)
    led = simulate(ConstantOrderPolicy(1.0), demand, InventoryProblem())
    assert led.on_hand.dtype == torch.float64 and led.on_hand.device == demand.device
    led32 = simulate(ConstantOrderPolicy(1.0), demand.int(), InventoryProblem())
    assert led32.on_hand.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    demand = torch.randint(0, 9, (100, 20)).float()
    problem = InventoryProblem(lead_time=2)
    cpu = simulate(BaseStockPolicy(20.0), demand, problem, ledger="lean")
    gpu = simulate(BaseStockPolicy(20.0), demand.cuda(), problem, ledger="lean")
    assert gpu.holding_units.is_cuda
    torch.testing.assert_close(gpu.holding_units.cpu(), cpu.holding_units)


# ----------------------------------------------------------------- compiled runs
# Each compiled run is checked twice: against the eager run of the same function (with
# tolerances: compiled kernels may round differently), and for having compiled, by counting the
# graphs torch.compile made for the compiled function and checking that nothing fell back.
SUMS = ("holding_units", "shortage_units", "sales", "demand", "stockout_periods", "counted_periods", "cycles",
        "cycles_with_shortage")


def assert_same_sums(a, b, rtol=None, atol=None):
    for name in SUMS:
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=rtol, atol=atol, msg=name)


class _FeatureLevel:
    """A fusable policy: order up to ``a + x_t``, a pure tensor expression of the observation."""

    fusable = True

    def __init__(self, base):
        self.base = base

    def act(self, obs):
        return (self.base + obs.feature("x") - obs.inventory_position).clamp(min=0)


class _ReadsEverything(_FeatureLevel):
    """Fusable, and reads the period, the recent demand and the pipeline as well."""

    def act(self, obs):
        extra = (obs.period % 3 == 0) + 0.1 * obs.recent_demand[:, -1] + 0.5 * obs.pipeline.sum(1)
        return super().act(obs) + extra


class _Untraced:
    """The same orders as BaseStockPolicy, not declared fusable: it acts eagerly on review days."""

    def __init__(self, level):
        self.inner = BaseStockPolicy(level)

    def act(self, obs):
        return self.inner.act(obs)


@pytest.mark.parametrize("lead_time,review_period,lost", [(0, 1, False), (1, 2, True), (2, 1, False), (3, 3, True)])
def test_compiled_lean_blocks_equal_the_eager_run(compiler, lead_time, review_period, lost):
    """A fusable policy's lean run compiles blocks of periods (the last one padded)."""
    g = torch.Generator().manual_seed(lead_time)
    demand = torch.poisson(torch.full((257, 23), 6.0), generator=g)
    level = 4.0 + 20 * torch.rand(257, generator=g)
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period, lost_sales=lost, max_order=30.0)
    eager = simulate(BaseStockPolicy(level), demand, problem, ledger="lean", fused=False)
    compiled = simulate(BaseStockPolicy(level), demand, problem, ledger="lean", fused=True)
    assert compiler(sim._lean_block) == 1 and compiler(sim._lean_step) == 0
    assert_same_sums(compiled, eager)
    assert_same_sums(eager, simulate(BaseStockPolicy(level), demand, problem).sums())


@pytest.mark.parametrize("make", [
    lambda level: BaseStockPolicy(level),
    lambda level: ConstantOrderPolicy(level / 4),
    lambda level: CappedBaseStockPolicy(level, level / 3),
], ids=["base-stock", "constant-order", "capped-base-stock"])
def test_every_fusable_heuristic_compiles_into_blocks(compiler, make):
    """The heuristics that declare ``fusable`` run in compiled blocks with the eager sums."""
    g = torch.Generator().manual_seed(5)
    demand = torch.poisson(torch.full((131, 19), 6.0), generator=g)
    level = 4.0 + 20 * torch.rand(131, generator=g)
    problem = InventoryProblem(lead_time=1, review_period=2, lost_sales=True, max_order=30.0)
    assert make(level).fusable
    compiled = simulate(make(level), demand, problem, ledger="lean", fused=True)
    assert compiler(sim._lean_block) == 1 and compiler(sim._lean_step) == 0
    assert_same_sums(compiled, simulate(make(level), demand, problem, ledger="lean", fused=False))


@pytest.mark.parametrize("periods", [5, 8, 29])  # shorter than, one and several blocks
def test_compiled_blocks_show_the_policy_the_same_observation(compiler, periods):
    """A fusable policy that reads features, the period, the recent demand and the pipeline."""
    g = torch.Generator().manual_seed(periods)
    demand = torch.poisson(torch.full((203, periods), 5.0), generator=g)
    x = 10 * torch.rand(203, periods, 1, generator=g)
    problem = InventoryProblem(lead_time=2, review_period=3, lost_sales=True, max_order=25.0)
    kw = dict(features=x, feature_names=("x",))
    for policy in (_FeatureLevel(8.0), _ReadsEverything(8.0)):
        compiled = simulate(policy, demand, problem, ledger="lean", fused=True, **kw)
        assert_same_sums(compiled, simulate(policy, demand, problem, **kw).sums())
    assert compiler(sim._lean_block) == 2  # one graph per policy type


@pytest.mark.parametrize("lost", [False, True])
def test_compiled_lean_steps_equal_the_eager_run(compiler, lost):
    """A policy that is not fusable acts eagerly; the rest of each period is one compiled call."""
    g = torch.Generator().manual_seed(6)
    demand = torch.poisson(torch.full((128, 21), 5.0), generator=g)
    problem = InventoryProblem(lead_time=2, review_period=2, lost_sales=lost)
    compiled = simulate(_Untraced(14.0), demand, problem, ledger="lean", fused=True)
    assert compiler(sim._lean_step) == 1 and compiler(sim._lean_block) == 0
    assert_same_sums(compiled, simulate(_Untraced(14.0), demand, problem, ledger="lean", fused=False))


@pytest.mark.parametrize("lead_time,review_period,lost", [(0, 1, False), (1, 2, True), (3, 3, False)])
def test_compiled_full_ledger_equals_the_eager_one(compiler, lead_time, review_period, lost):
    """Each period of a full ledger is one compiled call writing its rows: a fusable policy
    traced in (reading features, or everything), and one that acts eagerly."""
    g = torch.Generator().manual_seed(lead_time)
    demand = torch.poisson(torch.full((150, 17), 6.0), generator=g)
    x = 10 * torch.rand(150, 17, 1, generator=g)
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period, lost_sales=lost, max_order=25.0)
    kw = dict(features=x, feature_names=("x",))
    for policy in (_FeatureLevel(9.0), _ReadsEverything(9.0), _Untraced(18.0)):
        eager = simulate(policy, demand, problem, fused=False, **kw)
        compiled = simulate(policy, demand, problem, fused=True, **kw)
        for name in ("on_hand", "sales", "order", "counted", "cycle_start"):
            torch.testing.assert_close(getattr(compiled, name), getattr(eager, name), msg=(type(policy).__name__, name))
    assert compiler(sim._full_period) == 3  # two policies traced in, one acting outside


@pytest.mark.parametrize("fusable", [True, False])
@pytest.mark.parametrize("lead_time,review_period,lost", [(0, 1, False), (2, 3, True)])
def test_compiled_differentiable_lean_runs_equal_the_eager_graph(compiler, fusable, lead_time, review_period, lost):
    """With gradients, lean runs compile the same way (blocks for a fusable policy, steps for
    another) and torch.compile derives the backward: per-SKU gradients equal those of the
    eager full ledger's graph."""
    g = torch.Generator().manual_seed(lead_time + 10 * lost)
    demand = torch.poisson(torch.full((96, 23), 6.0, dtype=torch.float64), generator=g)  # ties included
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period, lost_sales=lost, max_order=20.0)

    def gradient(**kw):
        level = (5.0 + torch.arange(96, dtype=torch.float64) / 4).requires_grad_()
        policy = BaseStockPolicy(level) if fusable else _Untraced(level)
        led = simulate(policy, demand, problem, differentiable=True, **kw)
        (grad,) = torch.autograd.grad(per_sku_loss(led).sum(), level)
        return grad, led

    compiled, led = gradient(ledger="lean", fused=True)
    assert compiler(sim._lean_block if fusable else sim._lean_step) == 1
    reference, full = gradient()
    assert reference.abs().sum() > 0
    torch.testing.assert_close(compiled, reference, rtol=1e-9, atol=1e-12)
    assert_same_sums(led, full.sums(), rtol=1e-9, atol=1e-9)


def test_negative_demand_is_refused_by_the_compiled_blocks(compiler):
    demand = torch.full((16, 12), 3.0)
    demand[7, 9] = -1.0
    with pytest.raises(ValidationError, match="demand must be >= 0, got -1"):
        simulate(BaseStockPolicy(10.0), demand, InventoryProblem(lead_time=1), ledger="lean", fused=True)
    assert compiler(sim._lean_block) == 1  # refused after the blocks ran, not by a pass before them


def test_a_policy_that_cannot_be_traced_falls_back_to_acting_eagerly(caplog):
    """A fusable declaration the compiler cannot honour costs speed, not results."""

    class NotTraceable(_FeatureLevel):
        @torch.compiler.disable
        def act(self, obs):
            return super().act(obs)

    sim.reset_compiled()
    demand = torch.poisson(torch.full((64, 20), 5.0), generator=torch.Generator().manual_seed(5))
    kw = dict(features=10 * torch.rand(64, 20, 1), feature_names=("x",))
    problem = InventoryProblem(lead_time=1, review_period=1)
    with caplog.at_level("WARNING", logger="orkit.sim.simulator"):
        compiled = simulate(NotTraceable(8.0), demand, problem, ledger="lean", fused=True, **kw)
    assert "did not compile" in caplog.text
    assert_same_sums(compiled, simulate(NotTraceable(8.0), demand, problem, **kw).sums())
    sim.reset_compiled()


class _Records:
    """Not fusable: records what it sees (the simulator must call it on review days only)."""

    def __init__(self):
        self.seen = []

    def act(self, obs):
        self.seen.append((obs.period, obs.pipeline.clone(), obs.recent_demand.clone(), obs.inventory_position.clone()))
        return (30 - obs.inventory_position).clamp(min=0)


@pytest.mark.parametrize("lead_time,review_period", [(1, 1), (3, 1), (3, 2), (2, 3)])
def test_every_run_shows_the_policy_the_same_observations(lead_time, review_period):
    """Full, lean and differentiable runs, eager and compiled, call the policy on the same
    review days with the same observation."""
    demand = torch.poisson(torch.full((4, 15), 6.0), generator=torch.Generator().manual_seed(lead_time))
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period)
    runs = [dict(), dict(ledger="lean"), dict(differentiable=True), dict(fused=True), dict(ledger="lean", fused=True)]
    seen = []
    for kw in runs:
        policy = _Records()
        simulate(policy, demand, problem, **kw)
        seen.append(policy.seen)
    assert [t for t, *_ in seen[0]] == [t for t in range(15) if t >= review_period and t % review_period == 0]
    for other in seen[1:]:
        assert len(other) == len(seen[0])
        for a, b in zip(seen[0], other):
            assert a[0] == b[0] and all(torch.equal(x, y) for x, y in zip(a[1:], b[1:]))
    # orders in transit are seen when an earlier review day's order is still on its way
    # (L - 1 >= P); otherwise the only filled slot would be today's, not placed yet
    assert any(p.sum() > 0 for _, p, *_ in seen[0]) == (lead_time - 1 >= review_period)
