"""Classic inventory heuristics: pure vectorised functions and thin Policy classes.

Functions (one call serves every SKU):

- demand laws: :class:`Normal`, :class:`Poisson`, :class:`NegativeBinomial`, :class:`Gamma`,
  :class:`Discrete`, :class:`Empirical` (cdf, quantile, loss function, multi-period sums);
- newsvendor: :func:`critical_ratio`, :func:`newsvendor_quantity`, :func:`newsvendor_cost`;
- base-stock: :func:`base_stock_level`, :func:`base_stock_cost` (periodic review, lead time,
  backorders), :func:`optimize_base_stock_level` (by simulation; lost sales, non-stationary);
- lost sales: :func:`optimize_capped_base_stock`, :func:`optimize_constant_order`,
  :func:`myopic_order`;
- exact DP: :func:`solve_average_cost_dp` (relative value iteration), :func:`solve_empirical_dp`
  (finite horizon, empirical demand law);
- training windows: :func:`review_window_demand`.

Policies (``fit(train, validation, problem) -> self``, ``act(obs) -> orders``):
:class:`NewsvendorPolicy`, :class:`BaseStockPolicy`, :class:`FeatureLinearBaseStockPolicy`,
:class:`CappedBaseStockPolicy`, :class:`ConstantOrderPolicy`, :class:`MyopicPolicy`,
:class:`QuantileRegressionNewsvendorPolicy`, :class:`GradientBoostingNewsvendorPolicy`,
:class:`WeightedSAANewsvendorPolicy`, :class:`DynamicProgrammingPolicy`,
:class:`EmpiricalDPPolicy`. See docs/heuristics.md for the formulas.
"""

from orkit.heuristics._training import review_window_demand
from orkit.heuristics.base_stock import (
    BaseStockPolicy,
    FeatureLinearBaseStockPolicy,
    base_stock_cost,
    base_stock_level,
    optimize_base_stock_level,
)
from orkit.heuristics.constant_order import ConstantOrderPolicy, optimize_constant_order
from orkit.heuristics.contextual import (
    GradientBoostingNewsvendorPolicy,
    QuantileRegressionNewsvendorPolicy,
    WeightedSAANewsvendorPolicy,
)
from orkit.heuristics.distributions import (
    DemandDistribution,
    Discrete,
    Empirical,
    Gamma,
    NegativeBinomial,
    Normal,
    Poisson,
    as_distribution,
    mixture_ppf,
)
from orkit.heuristics.average_cost_dp import (
    AverageCostSolution,
    DynamicProgrammingPolicy,
    count_dp_states,
    solve_average_cost_dp,
)
from orkit.heuristics.empirical_dp import EmpiricalDPPolicy, FiniteHorizonSolution, solve_empirical_dp
from orkit.heuristics.lost_sales import (
    CappedBaseStockPolicy,
    MyopicPolicy,
    myopic_order,
    optimize_capped_base_stock,
)
from orkit.heuristics.newsvendor import NewsvendorPolicy, critical_ratio, newsvendor_cost, newsvendor_quantity

__all__ = [
    "AverageCostSolution",
    "BaseStockPolicy",
    "CappedBaseStockPolicy",
    "ConstantOrderPolicy",
    "DemandDistribution",
    "Discrete",
    "DynamicProgrammingPolicy",
    "Empirical",
    "EmpiricalDPPolicy",
    "FeatureLinearBaseStockPolicy",
    "FiniteHorizonSolution",
    "Gamma",
    "GradientBoostingNewsvendorPolicy",
    "MyopicPolicy",
    "NegativeBinomial",
    "NewsvendorPolicy",
    "Normal",
    "Poisson",
    "QuantileRegressionNewsvendorPolicy",
    "WeightedSAANewsvendorPolicy",
    "as_distribution",
    "base_stock_cost",
    "base_stock_level",
    "count_dp_states",
    "critical_ratio",
    "mixture_ppf",
    "myopic_order",
    "newsvendor_cost",
    "newsvendor_quantity",
    "optimize_base_stock_level",
    "optimize_capped_base_stock",
    "optimize_constant_order",
    "review_window_demand",
    "solve_average_cost_dp",
    "solve_empirical_dp",
]
