"""The policy interface every method implements, and the observation it receives.

A policy maps the state of all SKUs on a review day to their orders in one tensor operation::

    class Policy(Protocol):
        def act(self, obs: Observation) -> torch.Tensor: ...   # (n_skus,) orders >= 0

Policies that learn also have ``fit(train, validation, problem) -> self`` (scikit-learn style:
the constructor stores its arguments only, learned state ends in ``_``, and using an unfitted
policy raises :class:`~orkit.core.errors.NotFittedError`). Every registered policy is also a
scikit-learn estimator in fact (``get_params``, ``set_params``, ``sklearn.base.clone``, repr; see
:mod:`orkit.core.estimator`) and saves to a folder and loads back without pickle (see
:mod:`orkit.core.persistence`).

**Per-SKU state and SKU ids.** After ``fit`` (or construction with given values) every policy
sets ``per_sku_`` (bool): whether its state holds one value per SKU, so that it serves the
SKUs it was fitted on, in their order, and no others. A policy fitted per SKU also sets
``sku_ids_``: the training dataset's ``sku_ids`` (numpy array of str) in the order of its
values, or None when it was fitted on a bare demand array. A policy given per-SKU arrays in its
constructor (a ``level`` array, the two-stage ``capacity_usage``) has ``per_sku_ = True`` and
``sku_ids_ = None``: its values belong to SKUs by row position only, and code that matches SKUs
by id (recommendations) must refuse it rather than guess. A policy whose state is shared by all
SKUs has ``per_sku_ = False`` and ``sku_ids_ = None``. Saving and loading keep both.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import torch

from orkit.core.errors import DataError, NotFittedError

__all__ = ["Observation", "Policy", "FittablePolicy", "check_is_fitted", "is_fitted", "as_sku_tensor"]


class Observation:
    """What a policy sees on a review day, for every SKU at once.

    Tensors share the simulator's device and dtype. Expensive views (``pipeline``,
    ``recent_demand``) are computed only when a policy reads them.

    The tensors are the simulator's live state: they are valid during ``act`` and change
    afterwards. A policy that keeps anything (a rollout buffer, say) must ``clone()`` it.

    Attributes
    ----------
    period : int
        Period index ``t`` (0-based) of the review day. An observation built for a
        recommendation may not know it (``period=None``); a policy that reads it then raises
        :class:`~orkit.core.errors.DataError` instead of silently taking period 0.
    on_hand : Tensor of shape (n_skus,)
        On-hand inventory after this period's arrivals [I^0]; negative values are backlog.
    inventory_position : Tensor of shape (n_skus,)
        On-hand plus all outstanding orders, before today's order [tot(I)].
    pipeline : Tensor of shape (n_skus, max_lead_time)
        ``pipeline[:, j]`` holds the units arriving in ``j + 1`` periods [I^{j+1}].
    features : Tensor of shape (n_skus, n_features)
        Exogenous features of period ``t`` [x_t], columns named by ``feature_names``.
    feature_names : tuple of str
    recent_demand : Tensor of shape (n_skus, window)
        Observed demand of the ``window`` periods before ``t`` (oldest first; zero-padded at
        the start of the horizon).
    lead_time, review_period : Tensor of shape (n_skus,)
        Per-SKU lead time [L] and review period [P].
    is_review : Tensor of shape (n_skus,), bool
        Which SKUs may order today (all of them when P is the same for every SKU). Orders of
        other SKUs are ignored by the simulator.
    costs : tuple (holding, shortage, fixed) of Tensors of shape (n_skus,), or None
        Each SKU's cost rates [h_i, b_i, K_i] where the problem gives costs per SKU (a policy
        that solves a model per review day, as the two-stage policy, uses them); None where
        every SKU has the problem's costs.
    max_order : Tensor of shape (n_skus,), or None
        Each SKU's order cap [q_max_i] where the problem gives one per SKU (the simulator clips
        every order to it; a policy that solves a model per review day bounds its orders by
        it); None where every SKU has the problem's cap (or none).
    first_period : Tensor of shape (n_skus,), int64
        Each SKU's first period (its launch, counted like ``period``; 0 for a SKU that lives
        from the start): ``recent_demand`` before it is not history but zeros. A policy that
        weighs the length of a SKU's history reads :meth:`observed_periods`.
    """

    def __init__(
        self,
        *,
        period: int | None,
        on_hand: torch.Tensor,
        inventory_position: torch.Tensor,
        feature_names: tuple[str, ...] = (),
        features: torch.Tensor | Callable[[], torch.Tensor] | None = None,
        pipeline: torch.Tensor | Callable[[], torch.Tensor] | None = None,
        recent_demand: torch.Tensor | Callable[[], torch.Tensor] | None = None,
        lead_time: torch.Tensor | None = None,
        review_period: torch.Tensor | None = None,
        is_review: torch.Tensor | None = None,
        costs: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        max_order: torch.Tensor | None = None,
        first_period: torch.Tensor | None = None,
    ) -> None:
        self._period = period
        self.on_hand = on_hand
        self.inventory_position = inventory_position
        self.feature_names = tuple(feature_names)
        self._features = features
        self._pipeline = pipeline
        self._recent_demand = recent_demand
        n = on_hand.shape[0]
        self.lead_time = lead_time if lead_time is not None else torch.zeros(n, dtype=torch.long, device=on_hand.device)
        self.review_period = (
            review_period if review_period is not None else torch.ones(n, dtype=torch.long, device=on_hand.device)
        )
        self.is_review = is_review
        self.costs = costs
        self.max_order = max_order
        self.first_period = (first_period if first_period is not None
                             else torch.zeros(n, dtype=torch.long, device=on_hand.device))

    @staticmethod
    def _resolve(value: Any, default: Callable[[], torch.Tensor]) -> torch.Tensor:
        if value is None:
            return default()
        return value() if callable(value) else value

    @property
    def period(self) -> int:
        if self._period is None:
            raise DataError(
                "this policy reads today's period, which the state does not give: add a 'period' column "
                "(today's period, counted like the periods of the data the policy was fitted on), or build "
                "the state from the sales history (orkit state --history ...)"
            )
        return self._period

    @property
    def n_skus(self) -> int:
        return self.on_hand.shape[0]

    # computed on first read and kept (not functools.cached_property: its lock in Python 3.11
    # stops torch.compile, which traces policies into compiled simulations)
    @property
    def features(self) -> torch.Tensor:
        self._features = self._resolve(self._features, lambda: self.on_hand.new_zeros(self.n_skus, 0))
        return self._features

    @property
    def pipeline(self) -> torch.Tensor:
        self._pipeline = self._resolve(self._pipeline, lambda: self.on_hand.new_zeros(self.n_skus, 0))
        return self._pipeline

    @property
    def recent_demand(self) -> torch.Tensor:
        self._recent_demand = self._resolve(self._recent_demand, lambda: self.on_hand.new_zeros(self.n_skus, 0))
        return self._recent_demand

    def observed_periods(self, window: int) -> torch.Tensor:
        """How many of the last ``window`` periods each SKU has lived before today, (n_skus,)
        int64: ``clamp(period - first_period, 0, window)``."""
        return (self.period - self.first_period).clamp(0, window)

    def feature(self, name: str) -> torch.Tensor:
        """The column of feature ``name``, shape (n_skus,)."""
        try:
            j = self.feature_names.index(name)
        except ValueError:
            raise KeyError(f"feature {name!r} is not in the observation; it has {list(self.feature_names)}") from None
        return self.features[:, j]

    def __repr__(self) -> str:
        return (
            f"Observation(period={self._period}, n_skus={self.n_skus}, "
            f"feature_names={self.feature_names})"
        )


@runtime_checkable
class Policy(Protocol):
    """Anything with ``act(obs) -> orders``; orders are clipped to ``[0, max_order]`` by the simulator."""

    def act(self, obs: Observation) -> torch.Tensor: ...


@runtime_checkable
class FittablePolicy(Policy, Protocol):
    """A policy that learns from training (and validation) trajectories."""

    def fit(self, train: Any, validation: Any, problem: Any) -> "FittablePolicy": ...


def check_is_fitted(policy: object, attributes: tuple[str, ...]) -> None:
    """Raise :class:`NotFittedError` unless every attribute in ``attributes`` is set."""
    missing = [a for a in attributes if getattr(policy, a, None) is None]
    if missing:
        raise NotFittedError(
            f"{type(policy).__name__} is not fitted yet (missing {', '.join(missing)}); call fit first"
        )


def is_fitted(policy: object) -> bool:
    """Whether ``policy`` can act without :meth:`fit`: it has no ``fit``, or it holds learned
    state (a public attribute ending in ``_``, set by ``fit`` or by a constructor given every
    parameter, like ``BaseStockPolicy(level=40)``), or its ``__sklearn_is_fitted__()`` says so.

    Examples
    --------
    >>> class Level:
    ...     def __init__(self, level=None):
    ...         if level is not None:
    ...             self.level_ = level
    ...     def fit(self, train, validation, problem):
    ...         self.level_ = 10.0
    ...         return self
    >>> is_fitted(Level()), is_fitted(Level(40.0))
    (False, True)
    """
    if not hasattr(policy, "fit"):
        return True
    check = getattr(policy, "__sklearn_is_fitted__", None)
    if callable(check):
        return bool(check())
    return any(k.endswith("_") and not k.startswith("_") and v is not None for k, v in vars(policy).items())


def as_sku_tensor(value: Any, like: torch.Tensor, name: str = "value") -> torch.Tensor:
    """``value`` (scalar or per-SKU) as a tensor on ``like``'s device and dtype.

    Broadcasts a scalar; checks that a vector has one entry per SKU.
    """
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.ndim == 1 and t.shape[0] != like.shape[0]:
        from orkit.core.errors import ValidationError

        raise ValidationError(f"{name} has {t.shape[0]} values but there are {like.shape[0]} SKUs")
    return t

