"""Classic inventory heuristics: pure vectorised functions and thin Policy classes.

Functions (one call serves every SKU):

- demand laws: :class:`Normal`, :class:`LogNormal`, :class:`Poisson`, :class:`NegativeBinomial`,
  :class:`Geometric`, :class:`Gamma`,
  :class:`Discrete`, :class:`Empirical` (cdf, quantile, loss function, multi-period sums);
- newsvendor: :func:`critical_ratio`, :func:`newsvendor_quantity`, :func:`newsvendor_cost`;
- a service-level target instead of a shortage cost: :func:`fill_rate_base_stock_level`,
  :class:`FillRateBaseStockPolicy`;
- base-stock: :func:`base_stock_level`, :func:`base_stock_cost` (periodic review, lead time,
  backorders; random lead times with crossing orders through :func:`outstanding_orders`),
  :func:`optimize_base_stock_level` (by simulation; lost sales, non-stationary);
- lost sales: :func:`optimize_capped_base_stock`, :func:`optimize_constant_order`,
  :func:`myopic_order`, :func:`myopic2_order`, :func:`vector_base_stock_order` (with
  :func:`standard_vector_base_stock_levels`), :func:`dual_balancing_order`;
- exact evaluation of a given policy: :func:`evaluate_stationary_policy` (Markov chain);
- fixed ordering costs: :func:`economic_order_quantity`,
  :func:`economic_order_quantity_with_backorders`, :func:`economic_production_quantity`,
  :func:`power_approximation`, :func:`ss_policy_cost`, :func:`zheng_federgruen` (optimal (s, S)),
  :func:`rq_policy_cost`, :func:`optimize_ss_policy`, :func:`optimize_rq_policy` (by simulation);
- exact DP: :func:`solve_average_cost_dp` (relative value iteration), :func:`solve_empirical_dp`
  (finite horizon, empirical demand law);
- training windows: :func:`review_window_demand`, and :func:`lived_review_windows` for SKUs
  that start or end inside the horizon (each SKU's windows inside its life, with their mask).

Policies (``fit(train, validation, problem) -> self``, ``act(obs) -> orders``):
:class:`NewsvendorPolicy`, :class:`BaseStockPolicy`, :class:`FeatureLinearBaseStockPolicy`,
:class:`CappedBaseStockPolicy`, :class:`ConstantOrderPolicy`, :class:`SSPolicy`, :class:`RQPolicy`, :class:`MyopicPolicy`,
:class:`QuantileRegressionNewsvendorPolicy`, :class:`GradientBoostingNewsvendorPolicy`,
:class:`WeightedSAANewsvendorPolicy`, :class:`DynamicProgrammingPolicy`,
:class:`EmpiricalDPPolicy`. See docs/heuristics.md for the formulas.
"""

from orkit.heuristics._training import lived_review_windows, review_window_demand
from orkit.heuristics.base_stock import (
    BaseStockPolicy,
    FeatureLinearBaseStockPolicy,
    base_stock_cost,
    base_stock_level,
    optimize_base_stock_level,
    outstanding_orders,
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
    Geometric,
    LogNormal,
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
from orkit.heuristics.fixed_cost import (
    EOQBackorderSolution,
    EOQSolution,
    RQPolicy,
    SSPolicy,
    SSSolution,
    economic_order_quantity,
    economic_order_quantity_with_backorders,
    economic_production_quantity,
    optimize_rq_policy,
    optimize_ss_policy,
    power_approximation,
    rq_policy_cost,
    ss_policy_cost,
    zheng_federgruen,
)
from orkit.heuristics.empirical_dp import EmpiricalDPPolicy, FiniteHorizonSolution, solve_empirical_dp
from orkit.heuristics.lost_sales import (
    BetterVectorBaseStockPolicy,
    CappedBaseStockPolicy,
    DualBalancingPolicy,
    Myopic2Policy,
    MyopicPolicy,
    VectorBaseStockPolicy,
    dual_balancing_order,
    myopic2_order,
    myopic_order,
    optimize_capped_base_stock,
    standard_vector_base_stock_levels,
    vector_base_stock_order,
)
from orkit.heuristics.policy_evaluation import PolicyEvaluation, evaluate_stationary_policy
from orkit.heuristics.newsvendor import NewsvendorPolicy, critical_ratio, newsvendor_cost, newsvendor_quantity
from orkit.heuristics.service_level import FillRateBaseStockPolicy, fill_rate_base_stock_level

__all__ = [
    "AverageCostSolution",
    "BetterVectorBaseStockPolicy",
    "DualBalancingPolicy",
    "Myopic2Policy",
    "PolicyEvaluation",
    "VectorBaseStockPolicy",
    "dual_balancing_order",
    "evaluate_stationary_policy",
    "myopic2_order",
    "standard_vector_base_stock_levels",
    "vector_base_stock_order",
    "BaseStockPolicy",
    "CappedBaseStockPolicy",
    "ConstantOrderPolicy",
    "DemandDistribution",
    "Discrete",
    "DynamicProgrammingPolicy",
    "EOQBackorderSolution",
    "EOQSolution",
    "Empirical",
    "EmpiricalDPPolicy",
    "FeatureLinearBaseStockPolicy",
    "FiniteHorizonSolution",
    "Gamma",
    "Geometric",
    "GradientBoostingNewsvendorPolicy",
    "LogNormal",
    "MyopicPolicy",
    "NegativeBinomial",
    "NewsvendorPolicy",
    "FillRateBaseStockPolicy",
    "fill_rate_base_stock_level",
    "Normal",
    "Poisson",
    "QuantileRegressionNewsvendorPolicy",
    "RQPolicy",
    "SSPolicy",
    "SSSolution",
    "WeightedSAANewsvendorPolicy",
    "as_distribution",
    "base_stock_cost",
    "base_stock_level",
    "count_dp_states",
    "critical_ratio",
    "economic_order_quantity",
    "economic_order_quantity_with_backorders",
    "economic_production_quantity",
    "mixture_ppf",
    "myopic_order",
    "newsvendor_cost",
    "newsvendor_quantity",
    "optimize_base_stock_level",
    "outstanding_orders",
    "optimize_capped_base_stock",
    "optimize_constant_order",
    "optimize_rq_policy",
    "optimize_ss_policy",
    "power_approximation",
    "review_window_demand",
    "lived_review_windows",
    "rq_policy_cost",
    "solve_average_cost_dp",
    "solve_empirical_dp",
    "ss_policy_cost",
    "zheng_federgruen",
]
