r"""Rollouts on the batched simulator: record what a policy saw and did, and the RL rewards.

A rollout is one :func:`~orkit.sim.simulate` run of a *recording policy* over a batch of
trajectories: on every review day it encodes the observation, decides, and keeps (clones of)
what the learner needs. One RL step is one review period.

**Reward** (paper.md section 4). The order placed on review day :math:`t` influences the days
:math:`[t + L, t + L + P)`; its reward is minus the weighted loss over those (counted) days,
read from the ledger,

.. math:: r_t = -\frac{1}{s_i} \sum_{u = t+L}^{t+L+P-1} \big(h\,y_u^+ + b\,\mathrm{short}_u\big),

divided by the SKU's demand scale :math:`s_i` at decision time (so that returns are comparable
across SKUs of any size; :math:`s_i = 1` with ``input_scale="none"``). With the default warm-up
:math:`L + P` the windows of the review days tile the counted days, so
:math:`\sum_t s_i\, r_t = -|C_i| \cdot \mathrm{loss}_i` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.problem import InventoryProblem
from orkit.rl.encoder import EncodedObservation
from orkit.sim import Ledger, SimulationInput, simulate

__all__ = ["RecordingPolicy", "Rollout", "check_rollout_lives", "next_review_steps", "record_rollout", "review_window_costs", "subset_input",
           "subset_problem", "scalar_timing"]

StepFunction = Callable[[Observation], "tuple[torch.Tensor, dict[str, Any]]"]


class RecordingPolicy:
    """A policy that calls ``step(obs) -> (orders, record)`` and keeps every record.

    ``record`` maps names to tensors (or :class:`EncodedObservation`) the step owns: the
    observation's tensors are live simulator state, so anything kept must be a copy.
    """

    def __init__(self, step: StepFunction) -> None:
        self.step = step
        self.records: list[dict[str, Any]] = []
        self.periods: list[int] = []
        self.is_review: list[torch.Tensor | None] = []

    def act(self, obs: Observation) -> torch.Tensor:
        orders, record = self.step(obs)
        self.records.append(record)
        self.periods.append(int(obs.period))
        self.is_review.append(None if obs.is_review is None else obs.is_review.clone())
        return orders


@dataclass
class Rollout:
    """A recorded simulation: ledger plus one record per review day, stacked to (n_skus, K, ...).

    Attributes
    ----------
    ledger : Ledger
    periods : list of int
        The K review days.
    records : dict
        Each recorded name, stacked along dimension 1.
    is_review : Tensor of shape (n_skus, K), bool
        Which SKUs actually ordered on each recorded day (all, with one timing for every SKU).
    """

    ledger: Ledger
    periods: list[int]
    records: dict[str, Any]
    is_review: torch.Tensor


def subset_input(inp: SimulationInput, index: torch.Tensor) -> SimulationInput:
    """The trajectories ``index`` of a prepared input (repeats allowed)."""
    index = index.to(inp.demand.device)
    features = None if inp.features is None else inp.features.index_select(0, index)
    life = None if inp.life is None else tuple(v.index_select(0, index) for v in inp.life)
    sku_ids = None if inp.sku_ids is None else np.asarray(inp.sku_ids)[index.cpu().numpy()]
    return SimulationInput(demand=inp.demand.index_select(1, index), features=features, feature_names=inp.feature_names,
                           life=life, sku_ids=sku_ids)


def subset_problem(problem: InventoryProblem, index: torch.Tensor, n_skus: int) -> InventoryProblem:
    """``problem`` for the trajectories ``index`` (per-SKU lead times, review periods and costs follow them)."""
    if problem.n_skus is None or problem.sku_ids is not None:
        return problem  # scalar, or keyed by SKU id (simulate picks the input's SKUs by id)
    problem.lead_times(n_skus)  # a clear error where the per-SKU values do not match the data
    return problem.subset(index.cpu().numpy())


def record_rollout(step: StepFunction, data: Any, problem: InventoryProblem, *, lead_time: int | None = None) -> Rollout:
    """Simulate ``data`` with a :class:`RecordingPolicy` around ``step`` (full ledger, no gradients).

    With ``lead_time``, review days whose order would arrive after the horizon (``t + L >= T``,
    no influence on any cost) are dropped from the records.
    """
    recorder = RecordingPolicy(step)
    ledger = simulate(recorder, data, problem, ledger="full")
    n = ledger.n_skus
    if lead_time is not None:
        keep = sum(1 for t in recorder.periods if t + lead_time < ledger.n_periods)
        recorder.records, recorder.periods = recorder.records[:keep], recorder.periods[:keep]
        recorder.is_review = recorder.is_review[:keep]
    if not recorder.records:
        raise ValidationError("the trajectories are too short to contain a review day")
    stacked: dict[str, Any] = {}
    for key, first in recorder.records[0].items():
        items = [r[key] for r in recorder.records]
        if isinstance(first, EncodedObservation):
            stacked[key] = EncodedObservation.stack(items, dim=1)
        else:
            stacked[key] = torch.stack(items, 1)
    device = ledger.on_hand.device
    masks = [torch.ones(n, dtype=torch.bool, device=device) if m is None else m for m in recorder.is_review]
    return Rollout(ledger, recorder.periods, stacked, torch.stack(masks, 1))


def review_window_costs(ledger: Ledger, periods: list[int], lead_time: int, review_period: int) -> torch.Tensor:
    """Counted cost of the days ``[t + L, t + L + P)`` for each review day ``t``, shape (n_skus, K)."""
    cost = ledger.cost * ledger.counted.to(ledger.on_hand.dtype)
    T = cost.shape[1]
    cumulative = torch.nn.functional.pad(cost.cumsum(1), (1, 0))  # [:, u] = cost of days < u
    t = torch.as_tensor(periods, device=cost.device)
    start = (t + lead_time).clamp(max=T)
    end = (t + lead_time + review_period).clamp(max=T)
    return cumulative[:, end] - cumulative[:, start]


def scalar_timing(problem: InventoryProblem, learner: str) -> tuple[int, int]:
    """``(L, P)`` of a problem with one lead time and review period, else a clear error."""
    if problem.per_sku:
        raise ValidationError(
            f"{learner} needs one lead_time and review_period for every SKU (one RL step = one review period), "
            "got per-SKU values; DS supports per-SKU timing"
        )
    return int(problem.lead_time), int(problem.review_period)


def next_review_steps(is_review: torch.Tensor) -> torch.Tensor:
    """For each SKU and recorded step ``k``, the index of the SKU's next step that is one of its
    review days, or -1 when none follows (shape (n_skus, K), int64).

    With SKUs that start or end inside the horizon (or per-SKU timing), a recorded step is a
    review day of some SKUs only (``Rollout.is_review``): a SKU's transitions and returns run
    from one of its review days to its next one, and end after its last (its life or the horizon
    ends there)."""
    n, K = is_review.shape
    following = torch.full((n,), -1, dtype=torch.int64, device=is_review.device)
    out = torch.empty((n, K), dtype=torch.int64, device=is_review.device)
    for k in reversed(range(K)):
        out[:, k] = following
        following = torch.where(is_review[:, k], k, following)
    return out


def check_rollout_lives(train: Any, learner: str, why: str, instead: str) -> None:
    """A clear error when ``train`` holds SKUs that start or end inside the horizon and the
    learner's configuration cannot take them (``why``; ``instead`` says what to do)."""
    if hasattr(train, "check_full_lives"):
        train.check_full_lives(doing=f"training {learner} on", why=why, instead=instead)
