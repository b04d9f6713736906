r"""Warm start: pre-train a policy network to imitate any orkit Policy (behaviour cloning).

1. **Record.** Simulate the *teacher* on the training trajectories with a recording wrapper:
   on every review day keep the network's encoding of the observation and the teacher's
   order :math:`q^*` (clipped to ``[0, max_order]`` as the simulator clips it: to each SKU's
   own cap where the problem gives one per SKU, ``obs.max_order``; such targets are then fitted
   without the censoring at :math:`q_{max}` below, the network holding no per-SKU cap).
2. **Regress.** Fit the network so that its order matches :math:`q^*` on those states, with
   full-batch Adam and then L-BFGS on a *censored* squared error in demand scales. With
   :math:`u = \tilde q / s` the head's order before clipping (e.g. :math:`\mu - \mathrm{tot}(I)`
   for Base) and :math:`v = q^* / s`:

   .. math::

      \ell = \begin{cases} \max(u, 0)^2 & q^* = 0 \\
                          \max(q_{max}/s - u, 0)^2 & q^* = q_{max} \\
                          (u - v)^2 & \text{otherwise,} \end{cases}

   so that a teacher order of 0 only asks the network not to order (any level below the
   position is right), and the gradient never vanishes behind the clip.

The teacher is any object with ``act(obs)``; orkit.rl never imports the heuristics, the
caller passes e.g. a fitted ``BaseStockPolicy``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.rl.encoder import EncodedObservation
from orkit.rl.networks import PolicyNetwork
from orkit.rl.rollout import record_rollout

__all__ = ["record_teacher", "imitate", "imitation_loss"]

log = logging.getLogger(__name__)


def record_teacher(teacher: Any, network: PolicyNetwork, data: Any, problem: InventoryProblem) -> tuple[EncodedObservation, torch.Tensor]:
    """The teacher's review-day states (encoded for ``network``) and orders, flattened over SKUs and days."""
    if not hasattr(teacher, "act"):
        raise ValidationError(f"warm_start must be a policy with an act(obs) method, got {type(teacher).__name__}")
    max_order = network.max_order

    def step(obs):
        with torch.no_grad():
            encoded = network.encoder(obs)
        q = torch.as_tensor(teacher.act(obs), dtype=obs.on_hand.dtype, device=obs.on_hand.device)
        q = q.expand(obs.n_skus) if q.ndim == 0 else q
        cap = obs.max_order if obs.max_order is not None else max_order  # per SKU, or the network's
        clipped = q.clamp(min=0) if cap is None else q.clamp(min=0).clamp(max=cap)
        return q, {"encoded": encoded, "order": clipped.to(encoded.scale.dtype).clone()}

    rollout = record_rollout(step, data, problem)
    keep = rollout.is_review.reshape(-1)
    encoded = rollout.records["encoded"].flatten()[keep]
    return encoded, rollout.records["order"].reshape(-1)[keep]


def imitation_loss(network: PolicyNetwork, encoded: EncodedObservation, target: torch.Tensor) -> torch.Tensor:
    """The censored squared error of the module docstring, averaged over samples."""
    s = encoded.scale
    u = network.head.unclipped_order(network.output(encoded), encoded) / s
    v = target / s
    at_zero = target <= 0
    at_max = torch.zeros_like(at_zero) if network.max_order is None else target >= network.max_order
    upper = (network.max_order if network.max_order is not None else 0.0) / s
    error = torch.where(at_zero, u.clamp(min=0), torch.where(at_max, (upper - u).clamp(min=0), u - v))
    return error.square().mean()


def imitate(
    network: PolicyNetwork,
    teacher: Any,
    train: Any,
    problem: InventoryProblem,
    *,
    epochs: int = 500,
    learning_rate: float = 3e-3,
    polish_iterations: int = 200,
    tolerance: float = 1e-9,
) -> list[float]:
    """Train ``network`` in place to imitate ``teacher`` on ``train``; returns the loss per epoch.

    Parameters
    ----------
    network : PolicyNetwork
    teacher : Policy
    train : Dataset or SimulationInput
        Training trajectories (on the network's device).
    problem : InventoryProblem
    epochs : int, default=500
        Full-batch Adam steps (stops early below ``tolerance``).
    learning_rate : float, default=3e-3
        Adam step size.
    polish_iterations : int, default=200
        L-BFGS iterations after Adam, for a precise fit (0: none).
    tolerance : float, default=1e-9
        Stop when the imitation loss is below this.
    """
    encoded, target = record_teacher(teacher, network, train, problem)
    if target.numel() == 0:
        raise ValidationError("warm start found no review day in the training trajectories")
    # Adam finds the basin; L-BFGS (full batch, strong Wolfe line search) then fits precisely
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    losses: list[float] = []
    for _ in range(epochs):
        loss = imitation_loss(network, encoded, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if losses[-1] < tolerance:
            break
    if polish_iterations and losses[-1] >= tolerance:
        lbfgs = torch.optim.LBFGS(network.parameters(), lr=1.0, max_iter=polish_iterations,
                                  tolerance_grad=1e-12, tolerance_change=1e-14, line_search_fn="strong_wolfe")

        def closure():
            lbfgs.zero_grad()
            value = imitation_loss(network, encoded, target)
            value.backward()
            return value

        lbfgs.step(closure)
        with torch.no_grad():
            losses.append(imitation_loss(network, encoded, target).item())
    log.info("warm start: %d states, imitation loss %.3g after %d epochs", target.numel(), losses[-1], len(losses))
    return losses
