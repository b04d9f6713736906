"""Classic inventory heuristics: pure vectorised functions and thin Policy classes."""

from orkit.heuristics.base_stock import BaseStockPolicy
from orkit.heuristics.constant_order import ConstantOrderPolicy

__all__ = ["BaseStockPolicy", "ConstantOrderPolicy"]
