"""Metrics from the ledger; evaluate one policy or compare several on the same data; backtests
over time (:mod:`orkit.evaluation.backtesting`)."""

from orkit.evaluation.backtesting import backtest, score_window
from orkit.evaluation.evaluate import compare, evaluate
from orkit.evaluation.metrics import METRICS, metrics_from_ledger, per_sku_costs, per_sku_loss

__all__ = ["METRICS", "backtest", "compare", "evaluate", "metrics_from_ledger", "per_sku_costs", "per_sku_loss", "score_window"]
