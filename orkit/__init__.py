"""orkit: inventory decisions, from textbook heuristics to policy-regularized deep RL.

Every method implements one :class:`~orkit.core.Policy` interface and is scored by one
batched simulator (:func:`orkit.sim.simulate`) and one set of metrics
(:mod:`orkit.evaluation`).
"""

__version__ = "0.1.0"
