"""The batched, differentiable inventory simulator, its ledger and the period it repeats."""

from orkit.sim.dynamics import Entries, Rules, State, Timing, is_review_day, period, review_days
from orkit.sim.ledger import SUM_FIELDS, LeanLedger, Ledger
from orkit.sim.simulator import CodedFeatures, SimulationInput, decode_features, prepare_input, simulate

__all__ = [
    "Ledger", "LeanLedger", "SUM_FIELDS", "SimulationInput", "CodedFeatures", "decode_features", "prepare_input",
    "simulate",
    "State", "Entries", "Timing", "Rules", "period", "is_review_day", "review_days",
]
