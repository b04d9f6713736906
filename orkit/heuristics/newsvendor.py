r"""The newsvendor: one order against uncertain demand, and its use as an order-up-to policy.

Order :math:`Q` units before demand :math:`D` is seen; pay :math:`h` per unit left over and
:math:`b` per unit short. The expected cost and its minimiser are

.. math::

    C(Q) = h\,E[(Q - D)^+] + b\,E[(D - Q)^+] = h\,(Q - E[D]) + (h + b)\,n(Q),
    \qquad Q^* = F^{-1}\!\left(\frac{b}{b + h}\right),

with :math:`n(Q) = E[(D - Q)^+]` the first-order loss function and :math:`b/(b+h)` the
*critical ratio* (Arrow, Harris & Marschak 1951; Snyder & Shen 2019, *Fundamentals of Supply
Chain Theory*, 2nd ed., sec. 4.3). For discrete demand :math:`Q^*` is the smallest integer with
:math:`F(Q^*) \ge b/(b+h)`. For normal demand :math:`Q^* = \mu + z_\alpha\sigma` and
:math:`C(Q^*) = (h + b)\,\sigma\,\varphi(z_\alpha)`.

Everything here is vectorised: a distribution with one parameter per SKU gives one quantity per
SKU in a single numpy call (see :mod:`orkit.heuristics.distributions`).

:class:`NewsvendorPolicy` turns the newsvendor into an order-up-to policy for the periodic
review problem: it fits the law of the demand over the periods an order covers (see
:func:`~orkit.heuristics.review_window_demand`) and orders up to its critical-ratio quantile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.skus import check_sku_count, sku_ids_of
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_choice
from orkit.heuristics._params import SkuParameter
from orkit.heuristics._training import check_lived_windows, lived_review_windows, scalar_timing
from orkit.heuristics.distributions import (
    DemandDistribution,
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

__all__ = ["critical_ratio", "newsvendor_quantity", "newsvendor_cost", "NewsvendorPolicy", "FAMILIES"]

#: Demand families :class:`NewsvendorPolicy` can fit, by name.
FAMILIES: dict[str, type[DemandDistribution]] = {
    "normal": Normal,
    "poisson": Poisson,
    "negative-binomial": NegativeBinomial,
    "geometric": Geometric,
    "gamma": Gamma,
    "lognormal": LogNormal,
    "empirical": Empirical,
}


def _costs(holding_cost: Any, shortage_cost: Any) -> tuple[np.ndarray, np.ndarray]:
    h = np.asarray(holding_cost, dtype=np.float64)
    b = np.asarray(shortage_cost, dtype=np.float64)
    for name, v in (("holding_cost", h), ("shortage_cost", b)):
        if not np.all(np.isfinite(v)) or (v.size and v.min() < 0):
            raise ValidationError(f"{name} must be finite and >= 0, got {v.min() if v.size else v!r}")
    if np.any(h + b <= 0):
        raise ValidationError("holding_cost + shortage_cost must be > 0")
    return h, b


def critical_ratio(holding_cost: Any, shortage_cost: Any) -> np.ndarray:
    r"""The newsvendor critical ratio :math:`b / (b + h)` (0.9 in DeepStock's settings).

    Parameters
    ----------
    holding_cost : float or array
        Cost per unit left over [h] >= 0.
    shortage_cost : float or array
        Cost per unit short [b] >= 0.

    Examples
    --------
    >>> float(critical_ratio(0.1, 0.9))
    0.9
    """
    h, b = _costs(holding_cost, shortage_cost)
    return b / (b + h)


def newsvendor_quantity(holding_cost: Any, shortage_cost: Any, demand: Any) -> np.ndarray:
    r"""Optimal newsvendor quantity :math:`Q^* = F^{-1}(b / (b + h))` for every SKU.

    Parameters
    ----------
    holding_cost : float or array
        Cost per unit left over [h].
    shortage_cost : float or array
        Cost per unit short [b].
    demand : DemandDistribution, frozen scipy distribution or array of samples
        Demand law [D], one per SKU (batch); samples are read as the empirical law (SAA).

    Returns
    -------
    ndarray
        One quantity per SKU (integers for discrete demand).

    Examples
    --------
    Snyder & Shen (2019), Example 4.3: h = 0.18, p = 0.70, D ~ N(50, 8^2).

    >>> from orkit.heuristics import Normal
    >>> round(float(newsvendor_quantity(0.18, 0.70, Normal(50, 8))), 4)
    56.604
    """
    return as_distribution(demand).ppf(critical_ratio(holding_cost, shortage_cost))


def newsvendor_cost(quantity: Any, holding_cost: Any, shortage_cost: Any, demand: Any) -> np.ndarray:
    r"""Expected newsvendor cost :math:`C(Q) = h(Q - E[D]) + (h + b)\,n(Q)`, exact for every law.

    Parameters
    ----------
    quantity : float or array
        Units stocked [Q], one per SKU or broadcast.
    holding_cost, shortage_cost : float or array
        [h] and [b].
    demand : DemandDistribution, frozen scipy distribution or array of samples

    Examples
    --------
    >>> from orkit.heuristics import Normal
    >>> round(float(newsvendor_cost(56.604, 0.18, 0.70, Normal(50, 8))), 4)
    1.9976
    """
    h, b = _costs(holding_cost, shortage_cost)
    dist = as_distribution(demand)
    q = np.asarray(quantity, dtype=np.float64)
    return h * (q - dist.mean) + (h + b) * dist.loss(q)


def fit_window_distributions(
    windows: np.ndarray, family: str, per_sku: bool, valid: np.ndarray | None = None
) -> list[DemandDistribution]:
    """One law per window length ``j`` fitted to ``windows`` (n_skus, n_reviews, P) by moments;
    ``valid`` (n_skus, n_reviews) keeps only the windows inside each SKU's life (a mask: the
    others are left out, never read as demand; :func:`~orkit.heuristics._training.lived_review_windows`)."""
    cls = FAMILIES[family]
    P = windows.shape[2]
    if valid is not None and valid.all():
        valid = None
    mask = None if valid is None else (valid if per_sku else valid.reshape(1, -1))
    out = []
    for j in range(P):
        samples = windows[:, :, j] if per_sku else windows[:, :, j].reshape(1, -1)
        if samples.shape[-1] == 0 or (mask is not None and not mask.any()):
            raise ValidationError("the training trajectories are too short: no complete review window")
        if family == "empirical":
            out.append(cls(samples) if mask is None else cls(samples, weights=mask.astype(np.float64)))
        else:
            out.append(cls.fit(samples, axis=-1) if mask is None else cls.fit(samples, axis=-1, where=mask))
    return out


class NewsvendorPolicy(SavablePolicy):
    r"""Order up to the critical-ratio quantile of a fitted demand law [S = F^{-1}(b/(b+h))].

    ``fit`` collects, from the training trajectories, the demand over the periods each order
    covers (``L + 1 + j`` periods from the review day, ``j = 0..P-1``), fits the chosen family to
    each window length by moments (or keeps the samples: ``"empirical"``, the SAA), and sets the
    level to the quantile of their equal-weight mixture, the exact minimiser of the per-period
    cost under backorders (see :func:`~orkit.heuristics.base_stock_level`). Working on window
    sums needs no independence between periods: it is exact for DeepStock setting 4, whose
    demand falls on one day per cycle.

    Parameters
    ----------
    distribution : {"normal", "poisson", "negative-binomial", "geometric", "gamma", "lognormal", "empirical"}, default="normal"
        Family fitted to the window demand (by moments; "geometric" by the mean).
    per_sku : bool, default=False
        ``False``: one level shared by all SKUs (trajectories are draws of one process, as in
        DeepStock). ``True``: one level per SKU; the policy then serves the same SKUs, in the
        same order, as the training data. With per-SKU holding or shortage costs each training
        SKU gets the quantile of its own critical ratio ``b_i / (b_i + h_i)`` (of the pooled
        law when ``per_sku`` is False), so the fitted policy serves its training SKUs only.

    Attributes
    ----------
    level_ : ndarray
        Order-up-to level, shape () or (n_skus,).
    distributions_ : list of DemandDistribution
        The fitted law of each window length ``L + 1 + j``.
    per_sku_ : bool
        Whether ``level_`` holds one level per SKU (``per_sku``).
    sku_ids_ : ndarray of str or None
        The training SKUs of a per-SKU fit, in the order of ``level_`` (see
        :mod:`orkit.core.policy`).

    Examples
    --------
    >>> import numpy as np
    >>> from orkit.core import InventoryProblem
    >>> demand = np.random.default_rng(0).poisson(10.0, size=(50, 60))
    >>> policy = NewsvendorPolicy("poisson").fit(demand, None, InventoryProblem(lead_time=1, review_period=1))
    >>> float(policy.level_)   # the 0.9-quantile of the fitted Poisson law of D_2 (mean about 20)
    26.0
    """

    policy_name = "newsvendor"
    _saved_attributes = ("level_", "distributions_")

    def __init__(self, distribution: str = "normal", *, per_sku: bool = False) -> None:
        self.distribution = distribution
        self.per_sku = per_sku

    def fit(self, train: Any, validation: Any, problem: InventoryProblem) -> "NewsvendorPolicy":
        """Fit the window-demand law on ``train`` (``validation`` is not used)."""
        check_choice("distribution", self.distribution, tuple(FAMILIES))
        problem = problem.for_data(train)
        L, P = scalar_timing(problem, "NewsvendorPolicy")
        # each SKU's windows inside its life only (SKUs that start or end inside the horizon)
        windows, valid = lived_review_windows(train, L, P)
        if self.per_sku:
            check_lived_windows(valid, train, "NewsvendorPolicy(per_sku=True)")
        self.distributions_ = fit_window_distributions(windows, self.distribution, bool(self.per_sku), valid)
        q = problem.critical_ratio  # one per SKU where a cost is given per SKU
        if self.distribution == "empirical":
            samples = np.concatenate([d.samples for d in self.distributions_], axis=-1)
            if valid is None or valid.all():
                level = Empirical(samples).ppf(q)
            else:  # each law's weights sum to 1: the equal-weight mixture of the P window lengths
                level = Empirical(samples, np.concatenate([d.weights for d in self.distributions_], axis=-1)).ppf(q)
        else:
            level = mixture_ppf(self.distributions_, q)
        # per-SKU costs give each training SKU its own level (of the pooled law unless per_sku)
        per_sku = bool(self.per_sku) or np.ndim(q) == 1
        self.level_ = level if per_sku else np.asarray(level).reshape(())
        self.per_sku_ = per_sku
        self.sku_ids_ = sku_ids_of(train) if per_sku else None
        self._level = SkuParameter("level", self.level_, minimum=None)
        return self

    def _saved_state(self) -> dict[str, Any]:
        state = super()._saved_state()
        state["distributions_"] = [distribution_parameters(d) for d in self.distributions_]
        return state

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self.distributions_ = [distribution_from_parameters(d) for d in self.distributions_]
        self._level = SkuParameter("level", self.level_, minimum=None)
        check_sku_count("level_", self.level_, self.sku_ids_)

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("level_",))
        return torch.clamp(self._level.like(obs.inventory_position) - obs.inventory_position, min=0)


# the constructor arguments of each family, read back from a fitted law (for saving)
_FAMILY_PARAMETERS = {
    "normal": ("_mean", "_std"),
    "poisson": ("_mean",),
    "negative-binomial": ("_n", "_p"),
    "geometric": ("mean",),
    "gamma": ("_shape", "_scale"),
    "lognormal": ("_mu", "_sigma"),
    "empirical": ("_samples", "_weights"),
}


def distribution_parameters(distribution: DemandDistribution) -> dict[str, Any]:
    """A fitted law of :data:`FAMILIES` as ``{"family": name, "parameters": [arrays]}``."""
    for family, cls in FAMILIES.items():
        if type(distribution) is cls:
            return {"family": family, "parameters": [getattr(distribution, a) for a in _FAMILY_PARAMETERS[family]]}
    raise ValidationError(f"distribution must be one of the families {', '.join(FAMILIES)}, got {type(distribution).__name__}")


def distribution_from_parameters(saved: Any) -> DemandDistribution:
    """Inverse of :func:`distribution_parameters`; only the classes of :data:`FAMILIES` are built."""
    family = saved.get("family") if isinstance(saved, dict) else None
    if family not in FAMILIES:
        raise ValidationError(f"distributions_ family must be one of {', '.join(FAMILIES)}, got {family!r}")
    parameters = saved.get("parameters")
    if not isinstance(parameters, list) or len(parameters) != len(_FAMILY_PARAMETERS[family]):
        raise ValidationError(f"a saved {family} law needs {len(_FAMILY_PARAMETERS[family])} parameter arrays, got {parameters!r}")
    law = FAMILIES[family](*parameters)
    if family == "empirical":  # the weights are stored already sorted with the samples
        law._weights = np.asarray(parameters[1], dtype=np.float64)
        law._cum = np.cumsum(law._weights, axis=-1)
    return law
