"""The batched, differentiable inventory simulator and its ledger."""

from orkit.sim.ledger import SUM_FIELDS, LeanLedger, Ledger
from orkit.sim.simulator import SimulationInput, prepare_input, simulate

__all__ = ["Ledger", "LeanLedger", "SUM_FIELDS", "SimulationInput", "prepare_input", "simulate"]
