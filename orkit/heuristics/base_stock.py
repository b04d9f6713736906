r"""Base-stock (order-up-to) policies: order the gap between a target level and the position.

The order of SKU ``i`` on a review day is ``q = max(S_i - tot(I), 0)``, where ``S_i`` is the
order-up-to level and ``tot(I)`` the inventory position (on-hand plus pipeline).

**Optimal level under backorders** (periodic review, lead time :math:`L`, review period
:math:`P`, i.i.d. demand, costs charged at the end of every period as in :mod:`orkit.sim`).
An order placed on review day :math:`r` raises the position to :math:`S`; it arrives in period
:math:`r + L` and the next order arrives in :math:`r + P + L`. In between, the end-of-period
on-hand of period :math:`r + L + j` is :math:`S - D_{L+1+j}` with :math:`D_k` the demand of
:math:`k` periods, so the long-run cost per period is

.. math::

    C(S) = \frac{1}{P} \sum_{j=0}^{P-1} \Big( h\,E[(S - D_{L+1+j})^+] + b\,E[(D_{L+1+j} - S)^+] \Big),
    \qquad \frac{1}{P} \sum_{j=0}^{P-1} F_{L+1+j}(S^*) = \frac{b}{b + h}.

For :math:`P = 1` this is the classic result: :math:`S^*` is the :math:`b/(b+h)` quantile of
the demand over the *protection interval* of :math:`L + 1 = L + P` periods (Snyder & Shen 2019,
*Fundamentals of Supply Chain Theory*, sec. 4.3.4; Zipkin 2000, ch. 9). For :math:`P > 1` the
exact minimiser is the quantile of the equal mixture of :math:`D_{L+1}, \dots, D_{L+P}`; the
textbook rule "quantile of the demand over the protection interval :math:`L + P`" charges the
shortage once per cycle and is available as ``method="protection-interval"`` (it overstocks
when costs accrue daily; :func:`base_stock_cost` gives the exact cost of any level).

**Random lead times** (:class:`~orkit.core.LeadTimeDistribution`: each order draws its own
lead time, i.i.d., and orders may cross, as in :mod:`orkit.sim`). The position is still raised
to :math:`S` on every review day :math:`r`, and each order is the demand of the :math:`P`
periods before its review; what is missing from :math:`S` at the end of period :math:`r + j`
is the demand since the review plus the orders still outstanding (the *inventory shortfall*,
Robinson, Bradley & Thomas 2001; Bradley & Robinson 2005), not a lead-time demand:

.. math::

    X_j = D_{j+1} + \sum_{m \ge 0} B_{m,j}\, D_P^{(m)} \sim D_{j + 1 + N_j P}, \qquad
    B_{m,j} \sim \text{Bernoulli}\big(P(L > j + mP)\big),

with :math:`N_j = \sum_m B_{m,j}` the number of orders outstanding (a Poisson-binomial count,
:math:`E[N_0] = E[L]` for :math:`P = 1`) and independent :math:`D_P^{(m)}`. The level is the
:math:`b/(b+h)` quantile of the mixture :math:`\frac1P \sum_j \sum_n P(N_j = n)\, F_{j+1+nP}`
(for a fixed lead time :math:`N_j` is a constant and this is the formula above). The textbook
lead-time-demand mixture :math:`\sum_\ell P(L = \ell) F_{\ell + 1}` holds when orders cannot
cross; orkit's simulator lets them cross, and there that mixture is too wide (the variance of
the count :math:`N_0` is at most :math:`\min(E[L], \mathrm{Var}(L))`, Bradley & Robinson 2005).

Under lost sales, with non-stationary demand, or for any other question the formula cannot
answer, :func:`optimize_base_stock_level` optimises the level on training trajectories with the
orkit simulator itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.lead_time import LeadTimeDistribution
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_choice, check_float, check_int
from orkit.heuristics._search import SearchedParameter, SimulationFittedPolicy, fit_by_simulation, protection_interval
from orkit.heuristics._training import observation_features, shared_critical_ratio, training_samples
from orkit.heuristics.distributions import as_distribution, mixture_ppf
from orkit.heuristics.newsvendor import _costs, critical_ratio

__all__ = [
    "base_stock_level",
    "base_stock_cost",
    "optimize_base_stock_level",
    "outstanding_orders",
    "BaseStockPolicy",
    "FeatureLinearBaseStockPolicy",
]

def _timing_arrays(lead_time: Any, review_period: Any) -> tuple[np.ndarray, np.ndarray]:
    L = np.asarray(lead_time)
    P = np.asarray(review_period)
    for name, v, low in (("lead_time", L, 0), ("review_period", P, 1)):
        if v.dtype.kind not in "iu" and not (v.dtype.kind == "f" and np.all(v == np.round(v))):
            raise ValidationError(f"{name} must be an integer or integer array, got {v!r}")
        if v.size and v.min() < low:
            raise ValidationError(f"{name} must be >= {low}, got {int(v.min())}")
    return L.astype(np.int64), P.astype(np.int64)


def outstanding_orders(lead_time: LeadTimeDistribution, review_period: Any = 1, offset: int = 0) -> np.ndarray:
    """The law of the number of orders outstanding at the end of period ``r + offset`` (review
    day ``r``), under i.i.d. random lead times: :math:`N = \\sum_{m \\ge 0} B_m` with independent
    :math:`B_m \\sim` Bernoulli(:math:`P(L > \\text{offset} + mP)`) (the order of review ``r - mP``).

    Returns
    -------
    ndarray of shape (..., n_max + 1)
        ``P(N = n)``, one row per SKU where the law or the review period is per SKU.

    Examples
    --------
    >>> law = LeadTimeDistribution([0, 1, 2], [0.2, 0.5, 0.3])
    >>> outstanding_orders(law).round(4).tolist()   # B_0 ~ Bern(0.8), B_1 ~ Bern(0.3)
    [0.14, 0.62, 0.24]
    """
    P = np.asarray(review_period, dtype=np.int64)
    probs = lead_time.probabilities  # (..., k)
    batch = np.broadcast_shapes(probs.shape[:-1], P.shape)
    n_terms = max(-(-(lead_time.max_value - offset) // int(P.min())), 0) if P.size else 0
    pmf = np.ones((*batch, 1))
    for m in range(n_terms):
        p = (probs * (lead_time.values > offset + m * P[..., None])).sum(-1)  # P(L > offset + mP)
        p = np.broadcast_to(p, batch)[..., None]
        pmf = np.concatenate([pmf * (1 - p), np.zeros((*batch, 1))], -1) + \
            np.concatenate([np.zeros((*batch, 1)), pmf * p], -1)
    return pmf


def _window_laws(demand: Any, lead_time: Any, review_period: Any):
    """The laws of D_{L+1+j}, j = 0..max(P)-1, and the mixture weights (1/P where j < P);
    with random lead times, the laws D_{j+1+nP} weighted by P(N_j = n) / P."""
    dist = as_distribution(demand)
    if isinstance(lead_time, LeadTimeDistribution):
        _, P = _timing_arrays(0, review_period)
        batch = np.broadcast_shapes(lead_time.probabilities.shape[:-1], P.shape)
        components, weights = [], []
        for j in range(int(P.max())):
            counts = outstanding_orders(lead_time, P, offset=j)
            for n in range(counts.shape[-1]):
                components.append(dist.sum_of(j + 1 + n * P))
                weights.append(np.broadcast_to(np.where(j < P, counts[..., n] / P, 0.0), batch))
        return dist, None, P, components, np.stack(weights)
    L, P = _timing_arrays(lead_time, review_period)
    components = [dist.sum_of(L + 1 + j) for j in range(int(P.max()))]
    j = np.arange(int(P.max())).reshape(-1, *([1] * P.ndim))
    weights = (j < P) / P
    return dist, L, P, components, weights


def base_stock_level(
    holding_cost: Any,
    shortage_cost: Any,
    demand: Any,
    lead_time: Any = 0,
    review_period: Any = 1,
    *,
    method: str = "exact",
) -> np.ndarray:
    r"""Optimal order-up-to level under backorders, for every SKU at once.

    Parameters
    ----------
    holding_cost : float or array
        Cost per unit on hand at the end of a period [h].
    shortage_cost : float or array
        Cost per unit backlogged at the end of a period [b].
    demand : DemandDistribution, frozen scipy distribution or samples
        Demand of **one period** [D], i.i.d. over periods; one law per SKU (batch).
    lead_time : int, array of int or LeadTimeDistribution, default=0
        [L] >= 0, scalar or per SKU; or random (i.i.d. per order, orders may cross: the level
        is the quantile of the shortfall, module docstring).
    review_period : int or array of int, default=1
        [P] >= 1, scalar or per SKU.
    method : {"exact", "protection-interval"}, default="exact"
        ``"exact"``: minimiser of the per-period cost :math:`C(S)` (module docstring), the
        quantile of the mixture of :math:`D_{L+1}, \dots, D_{L+P}` (of the shortfalls
        :math:`X_j` with random lead times). ``"protection-interval"``:
        the :math:`b/(b+h)` quantile of :math:`D_{L+P}` (identical when ``P = 1``).

    Returns
    -------
    ndarray
        One level per SKU (integers for discrete demand).

    Examples
    --------
    Snyder & Shen (2019), Example 4.4: h = 0.18, p = 0.70, D ~ N(50, 8^2) per period, L = 4.

    >>> from orkit.heuristics import Normal
    >>> round(float(base_stock_level(0.18, 0.70, Normal(50, 8), lead_time=4)), 4)
    264.7669
    """
    check_choice("method", method, ("exact", "protection-interval"))
    q = critical_ratio(holding_cost, shortage_cost)
    if method == "protection-interval" and isinstance(lead_time, LeadTimeDistribution):
        raise ValidationError('method="protection-interval" needs a fixed lead_time; with random lead times use '
                              'method="exact" (the quantile of the shortfall)')
    dist, L, P, components, weights = _window_laws(demand, lead_time, review_period)
    if method == "protection-interval":
        return dist.sum_of(L + P).ppf(q)
    if len(components) == 1:
        return components[0].ppf(q)
    return mixture_ppf(components, q, weights)


def base_stock_cost(
    level: Any,
    holding_cost: Any,
    shortage_cost: Any,
    demand: Any,
    lead_time: Any = 0,
    review_period: Any = 1,
) -> np.ndarray:
    r"""Long-run expected cost per period of order-up-to level :math:`S` under backorders.

    .. math::

        C(S) = \frac{1}{P} \sum_{j=0}^{P-1} \Big( h\,(S - E[D_{L+1+j}]) + (h + b)\,n_{L+1+j}(S) \Big)

    with :math:`n_k` the loss function of the demand over :math:`k` periods. This is exactly the
    DeepStock loss (mean cost per counted period) that :func:`orkit.evaluation.evaluate`
    estimates by simulation, when the position never exceeds :math:`S` at a review.

    Parameters
    ----------
    level : float or array
        Order-up-to level [S].
    holding_cost, shortage_cost, demand, lead_time, review_period
        As in :func:`base_stock_level`.

    Examples
    --------
    Snyder & Shen (2019), Example 4.4 (L = 4): the optimal cost, and the cost of S = 180.

    >>> from orkit.heuristics import Normal
    >>> round(float(base_stock_cost(264.7669, 0.18, 0.70, Normal(50, 8), lead_time=4)), 4)
    4.4668
    >>> round(float(base_stock_cost(180, 0.18, 0.70, Normal(50, 8), lead_time=4)), 4)
    49.0002
    """
    h, b = _costs(holding_cost, shortage_cost)
    _, _, _, components, weights = _window_laws(demand, lead_time, review_period)
    S = np.asarray(level, dtype=np.float64)
    total = 0.0
    for j, comp in enumerate(components):
        total = total + weights[j] * (h * (S - comp.mean) + (h + b) * comp.loss(S))
    return np.asarray(total)


def optimize_base_stock_level(
    data: Any,
    problem: InventoryProblem,
    *,
    per_sku: bool = False,
    n_candidates: int = 17,
    n_rounds: int = 5,
    integer: bool | None = None,
    max_elements: int = 1 << 24,
) -> np.ndarray:
    r"""Order-up-to levels that minimise the simulated training loss, one per SKU.

    Runs the orkit simulator on the training trajectories for a grid of candidate levels at
    once (lean ledgers, see :func:`orkit.heuristics._search.fit_by_simulation`) and zooms in on
    the best one; the first grid spans ``[0, largest demand over L + P periods]``. Works
    for backorders and lost sales, any lead time and review period (scalar or per SKU), and
    non-stationary demand; the loss is the DeepStock loss (mean cost per counted period).

    Parameters
    ----------
    data : Dataset or array of shape (n_skus, n_periods)
        Training trajectories.
    problem : InventoryProblem
    per_sku : bool, default=False
        ``False``: one level shared by all SKUs, minimising the mean loss over trajectories (in
        DeepStock settings all trajectories are draws of one process). ``True``: one level per
        SKU, minimising that SKU's own loss.
    n_candidates : int, default=17
        Levels evaluated per round.
    n_rounds : int, default=5
        Zoom rounds; the resolution shrinks by ``(n_candidates - 1) / 2`` per round.
    integer : bool, optional
        Search integer levels only; default: whether the demand is integer-valued.
    max_elements : int, default=2**24
        Upper bound on ``rows * periods`` per simulation (memory); larger inputs are chunked.

    Returns
    -------
    ndarray of shape (n_skus,)
        The level of every SKU (all equal when ``per_sku=False``).

    Examples
    --------
    >>> import numpy as np
    >>> from orkit.core import InventoryProblem
    >>> demand = np.random.default_rng(0).poisson(5.0, size=(200, 60))
    >>> problem = InventoryProblem(lead_time=1, review_period=1, holding_cost=1.0, shortage_cost=4.0)
    >>> optimize_base_stock_level(demand, problem)[:3]   # analytic: Poisson(10) 0.8-quantile = 13
    array([13., 13., 13.])
    """
    return fit_by_simulation(
        BaseStockPolicy, data, problem, per_sku=per_sku, n_candidates=n_candidates, n_rounds=n_rounds,
        integer=integer, max_elements=max_elements,
    )["level"]


class BaseStockPolicy(SimulationFittedPolicy):
    """Order up to a level [S] on every review day: ``q = max(S - tot(I), 0)``.

    Parameters
    ----------
    level : float, array of shape (n_skus,), Tensor or None, default=None
        Order-up-to level per SKU (a scalar serves every SKU). A tensor with
        ``requires_grad=True`` receives gradients through a differentiable simulation.
        ``None``: learn it with :meth:`fit` (by :func:`optimize_base_stock_level`).
    per_sku : bool, default=False
        With ``level=None``: fit one level per SKU instead of one shared level. The fitted
        policy then serves the same SKUs, in the same order, as the training data.
    n_candidates, n_rounds : int
        Search settings of :func:`optimize_base_stock_level`.

    Attributes
    ----------
    level_ : float or ndarray
        The level in use (fitted, or ``level`` itself).
    per_sku_ : bool
        Whether ``level_`` holds one level per SKU.
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit, in the order of ``level_`` (None for a given
        level or a bare demand array; see :mod:`orkit.core.policy`).

    Examples
    --------
    >>> import torch
    >>> from orkit.core import Observation
    >>> obs = Observation(period=2, on_hand=torch.tensor([3.0, 12.0]),
    ...                   inventory_position=torch.tensor([5.0, 12.0]))
    >>> BaseStockPolicy(10.0).act(obs)
    tensor([5., 0.])
    """

    policy_name = "base-stock"
    _saved_attributes = ("level_",)
    _searched = {"level": SearchedParameter(minimum=None, window=protection_interval)}

    def __init__(self, level: Any = None, *, per_sku: bool = False, n_candidates: int = 17, n_rounds: int = 5) -> None:
        self.level = level
        self.per_sku = per_sku
        self.n_candidates = n_candidates
        self.n_rounds = n_rounds
        self._use_given_values()

    #: ``act`` is a pure tensor expression of the observation: compiled simulations trace it in
    fusable = True

    def act(self, obs: Observation) -> torch.Tensor:
        (level,) = self.in_use(obs.inventory_position)
        return (level - obs.inventory_position).clamp(min=0)

    def explain(self, obs: Observation) -> dict[str, torch.Tensor]:
        """The order-up-to level behind each order (for ``orkit recommend``)."""
        (level,) = self.in_use(obs.inventory_position)
        return {"target_level": level.expand(obs.n_skus)}


class FeatureLinearBaseStockPolicy(SavablePolicy):
    r"""Order up to a level linear in the features: :math:`S_t = a + \beta^\top x_t`.

    The classical counterpart of DeepStock's Coeff form (paper.md section 3): the level tracks the
    features that carry the demand scale (e.g. ``sigma`` in setting 4, trailing means and
    forecasts in production), so one policy serves SKUs of very different scale.

    ``method="quantile-regression"`` (default) fits :math:`(a, \beta)` by linear quantile
    regression at the critical ratio :math:`b/(b+h)` of the demand over the periods each order
    covers on the features of its review day: the sample-average minimiser of the backorder cost
    of every covered period (Ban & Rudin 2019, "The big data newsvendor"), solved exactly as a
    linear program (HiGHS). ``method="simulation"`` then refines the coefficients with Adam
    through the differentiable simulator on the training trajectories, which also covers lost
    sales (the Coeff-form analogue of DeepStock's DS learner).

    Parameters
    ----------
    features : str or sequence of str, optional
        Dataset features in :math:`x_t`; default: all of them.
    demand_lags : int, default=0
        Also use the demand of the last ``demand_lags`` periods (most recent first).
    method : {"quantile-regression", "simulation"}, default="quantile-regression"
    n_epochs : int, default=200
        Adam steps (full batch) for ``method="simulation"``.
    learning_rate : float, default=0.01
        Adam step size, relative to the mean training window demand (features are standardised
        inside the optimisation).

    Attributes
    ----------
    intercept_ : float
        [a]
    coef_ : ndarray of shape (n_features,)
        [beta]
    feature_names_ : tuple of str
        Names of the columns of :math:`x_t` (features, then ``demand_lag1``, ...).
    per_sku_ : bool
        False: one level formula serves every SKU.
    sku_ids_ : None
    """

    policy_name = "feature-linear-base-stock"
    _saved_attributes = ("intercept_", "coef_", "feature_names_")

    def __init__(
        self,
        features: Any = None,
        *,
        demand_lags: int = 0,
        method: str = "quantile-regression",
        n_epochs: int = 200,
        learning_rate: float = 0.01,
    ) -> None:
        self.features = features
        self.demand_lags = demand_lags
        self.method = method
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "FeatureLinearBaseStockPolicy":
        check_choice("method", self.method, ("quantile-regression", "simulation"))
        from sklearn.linear_model import QuantileRegressor

        problem = problem.for_data(train)
        q = shared_critical_ratio(problem, type(self).__name__)
        X, y, names = training_samples(train, problem, self.features, self.demand_lags, type(self).__name__)
        model = QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(X, y)
        self.intercept_ = float(model.intercept_)
        self.coef_ = np.asarray(model.coef_, dtype=np.float64)
        self.feature_names_ = names
        if self.method == "simulation":
            self._refine_by_simulation(train, problem, X, y)
        self.per_sku_, self.sku_ids_ = False, None
        self._coef_cache: dict[tuple, torch.Tensor] = {}
        return self

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self.intercept_ = check_float("intercept_", self.intercept_)
        self.coef_ = np.asarray(self.coef_, dtype=np.float64)
        names = self.feature_names_
        if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
            raise ValidationError(f"feature_names_ must be a tuple of str, got {names!r}")
        if self.coef_.shape != (len(names),):
            raise ValidationError(f"coef_ must have one value per feature name ({len(names)}), got shape {self.coef_.shape}")
        self._coef_cache = {}

    def _refine_by_simulation(self, train: Any, problem: InventoryProblem, X: np.ndarray, y: np.ndarray) -> None:
        from orkit.evaluation.metrics import per_sku_loss
        from orkit.sim import simulate

        n_epochs = check_int("n_epochs", self.n_epochs, minimum=1)
        mean = X.mean(axis=0)
        scale = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        # S = a + beta^T x = c0 + gamma^T z with z = (x - mean) / scale, optimised in (c0, gamma)
        c0 = torch.tensor(self.intercept_ + float(self.coef_ @ mean), dtype=torch.float64, requires_grad=True)
        gamma = torch.tensor(self.coef_ * scale, dtype=torch.float64, requires_grad=True)
        unit = max(float(np.mean(y)), 1e-6)
        opt = torch.optim.Adam([c0, gamma], lr=float(self.learning_rate) * unit)
        names, lags = self.feature_names_[: len(self.feature_names_) - self.demand_lags], self.demand_lags
        mean_t, scale_t = torch.as_tensor(mean), torch.as_tensor(scale)

        class _Policy:
            def act(self_inner, obs: Observation) -> torch.Tensor:
                z = (observation_features(obs, names, lags) - mean_t) / scale_t
                return torch.clamp(c0 + z @ gamma - obs.inventory_position, min=0)

        best = (np.inf, c0.detach().clone(), gamma.detach().clone())
        for _ in range(n_epochs):
            opt.zero_grad()
            loss = per_sku_loss(simulate(_Policy(), train, problem, differentiable=True, dtype=torch.float64)).mean()
            value = float(loss.detach())
            if value < best[0]:
                best = (value, c0.detach().clone(), gamma.detach().clone())
            loss.backward()
            opt.step()
        c0_best, gamma_best = best[1].numpy(), best[2].numpy()
        self.coef_ = gamma_best / scale
        self.intercept_ = float(c0_best - self.coef_ @ mean)

    def level(self, obs: Observation) -> torch.Tensor:
        """The order-up-to level :math:`a + \\beta^\\top x_t` of every SKU."""
        check_is_fitted(self, ("coef_",))
        x = observation_features(obs, self.feature_names_[: len(self.feature_names_) - self.demand_lags], self.demand_lags)
        key = (x.device, x.dtype)
        coef = self._coef_cache.get(key)
        if coef is None:
            coef = self._coef_cache[key] = torch.as_tensor(self.coef_, dtype=x.dtype, device=x.device)
        return self.intercept_ + x @ coef

    def act(self, obs: Observation) -> torch.Tensor:
        return torch.clamp(self.level(obs) - obs.inventory_position, min=0)
