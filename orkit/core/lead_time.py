r"""Random lead times: a discrete law of the lead time [L], drawn per order with a seed.

An :class:`~orkit.core.InventoryProblem` whose ``lead_time`` is a :class:`LeadTimeDistribution`
has a random lead time: the order placed in period ``t`` for SKU ``i`` (if any) arrives at the
start of period ``t + L[t, i]``, where ``L[t, i]`` is drawn independently of everything else
(of the other periods, the other SKUs and the demand).

**The draws.** :meth:`LeadTimeDistribution.draw` fills a table ``L[t, i]`` for every period and
SKU of a run, from ``numpy.random.default_rng(seed)`` by inverse transform of one uniform
number per cell (row-major: period by period, SKU by SKU). The table depends only on the seed,
the number of periods and SKUs and the probabilities: not on the policy, on whether an order is
placed, nor on the path that runs (eager, compiled, differentiable, Gymnasium adapters). A
period without an order uses no draw of its own; the next period's draw is the same either way.

**Orders may cross.** Each order keeps its own draw, so an order placed later may arrive
earlier (placed in ``t`` with ``L = 3`` and in ``t + 1`` with ``L = 1``: the second arrives at
``t + 2``, the first at ``t + 3``). The pipeline is indexed by arrival period: slot ``j`` holds
everything that arrives in ``j + 1`` periods, up to the longest lead time with positive
probability; orders arriving in the same period are added together.

A distribution with one value is the fixed lead time (tests hold the runs equal).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orkit.core.errors import ValidationError
from orkit.core.validation import check_int

__all__ = ["LeadTimeDistribution", "RANDOM_LEAD_TIME_SUPPORT"]

#: What accepts a problem with random lead times (everything else refuses it, naming this list).
RANDOM_LEAD_TIME_SUPPORT = (
    "orkit.sim.simulate (every path), the Gymnasium adapters (one law for every path), policies "
    "that act on the observed state with given parameters (e.g. BaseStockPolicy(level=...)), "
    "the simulation-fitted heuristics (BaseStockPolicy.fit and the other policies fitted by "
    "simulated search) and base_stock_level(..., lead_time=LeadTimeDistribution(...))"
)


class LeadTimeDistribution:
    r"""A discrete law of the lead time [L], shared by every SKU or one per SKU.

    Parameters
    ----------
    values : sequence of int
        The possible lead times, distinct integers >= 0 (shared by every SKU).
    probabilities : array of shape (n_values,) or (n_skus, n_values)
        ``P(L = values[k])``: one law for every SKU (1-d), or one row per SKU (2-d; a value a SKU
        never takes has probability 0). Each row is >= 0 and sums to 1 (to 1e-9).
    seed : int, default=0
        The seed of the draws (:meth:`draw`): same seed, same lead times.

    Notes
    -----
    The law is used as it is: the lead time is never rounded, pooled or replaced by its mean.
    Code that needs a number for the lead time (``int(L)``, ``L + P``) gets a
    :class:`~orkit.core.errors.ValidationError` that names what supports random lead times.

    Examples
    --------
    >>> law = LeadTimeDistribution([1, 2, 4], [0.5, 0.3, 0.2], seed=7)
    >>> round(law.mean, 6), law.max_value
    (1.9, 4)
    >>> law.draw(2, 3).tolist()
    [[2, 4, 2], [1, 1, 4]]
    """

    __slots__ = ("values", "probabilities", "seed", "_cdf")

    def __init__(self, values: Any, probabilities: Any, *, seed: int = 0) -> None:
        vals = np.asarray(values)
        if vals.ndim != 1 or vals.size == 0:
            raise ValidationError(f"lead_time values must be a non-empty 1-d sequence of integers, got shape {vals.shape}")
        if vals.dtype.kind == "f" and np.all(np.isfinite(vals)) and np.all(vals == np.round(vals)):
            vals = vals.astype(np.int64)
        if vals.dtype.kind not in "iu":
            raise ValidationError(f"lead_time values must be integers, got {vals.tolist()}")
        vals = vals.astype(np.int64)
        if vals.min() < 0:
            raise ValidationError(f"lead_time values must be >= 0, got {int(vals.min())}")
        if len(np.unique(vals)) != vals.size:
            raise ValidationError(f"lead_time values must be distinct, got {vals.tolist()}")
        probs = np.asarray(probabilities, dtype=np.float64)
        if probs.ndim not in (1, 2) or probs.shape[-1] != vals.size:
            raise ValidationError(
                f"lead_time probabilities must have shape ({vals.size},) or (n_skus, {vals.size}) for "
                f"{vals.size} values, got shape {probs.shape}"
            )
        if not np.all(np.isfinite(probs)) or (probs.size and probs.min() < 0):
            raise ValidationError(f"lead_time probabilities must be finite and >= 0, got {probs.tolist()}")
        sums = probs.sum(-1)
        if np.any(np.abs(sums - 1.0) > 1e-9):
            i = int(np.argmax(np.abs(sums - 1.0)))
            at = "" if probs.ndim == 1 else f" at SKU index {i}"
            raise ValidationError(f"lead_time probabilities must sum to 1, got {float(np.ravel(sums)[i]):.12g}{at}")
        order = np.argsort(vals)
        vals, probs = vals[order], probs[..., order]
        self.values = vals
        self.probabilities = probs
        self.seed = check_int("seed", seed, minimum=0)
        cdf = np.cumsum(probs, axis=-1)
        # from the last value with positive probability on, +inf: a uniform draw in [0, 1) always
        # lands on a value with positive probability, whatever the rounding of the sums
        last = vals.size - 1 - np.argmax(probs[..., ::-1] > 0, axis=-1)
        cdf[np.arange(vals.size) >= np.expand_dims(last, -1)] = np.inf
        self._cdf = cdf
        for a in (self.values, self.probabilities, self._cdf):
            a.setflags(write=False)

    # ------------------------------------------------------------------ properties
    @property
    def per_sku(self) -> bool:
        """Whether each SKU has its own probabilities."""
        return self.probabilities.ndim == 2

    @property
    def n_skus(self) -> int | None:
        """The number of SKUs the probabilities are for (None when shared)."""
        return int(self.probabilities.shape[0]) if self.per_sku else None

    @property
    def mean(self) -> float | np.ndarray:
        """[E[L]]: a float, or one per SKU."""
        m = self.probabilities @ self.values.astype(np.float64)
        return float(m) if np.ndim(m) == 0 else m

    @property
    def max_value(self) -> int:
        """The longest lead time with positive probability (over every SKU): the pipeline's width."""
        return int(self.max_values(1 if not self.per_sku else self.n_skus).max())

    def max_values(self, n_skus: int) -> np.ndarray:
        """The longest lead time with positive probability, per SKU (int64, length ``n_skus``)."""
        probs = self._rows(n_skus)
        top = np.where(probs > 0, self.values, -1).max(-1)
        return top.astype(np.int64)

    def survival(self, n_skus: int | None = None) -> np.ndarray:
        """``P(L > k)`` for ``k = 0 .. max_value - 1``, shape (..., max_value) (per SKU when given)."""
        probs = self.probabilities if n_skus is None else self._rows(n_skus)
        k = np.arange(self.max_value)
        return (probs[..., None, :] * (self.values > k[:, None])).sum(-1)

    def _rows(self, n_skus: int) -> np.ndarray:
        if not self.per_sku:
            return np.broadcast_to(self.probabilities, (n_skus, self.values.size))
        if self.probabilities.shape[0] != n_skus:
            raise ValidationError(f"lead_time has {self.probabilities.shape[0]} per-SKU laws but the data has {n_skus} SKUs")
        return self.probabilities

    # ------------------------------------------------------------------ draws
    def draw(self, n_periods: int, n_skus: int) -> np.ndarray:
        """The lead time of an order placed in period ``t`` by SKU ``i``: shape (n_periods, n_skus).

        One uniform number per cell from ``numpy.random.default_rng(seed)`` (row-major, drawn
        period by period: memory of one period's SKUs besides the table), mapped through each
        SKU's cumulative probabilities: the same seed and shape give the same table. The dtype
        is uint8 where the longest value is below 256 (a quarter of float32 demand), else int32.
        """
        n_periods, n_skus = check_int("n_periods", n_periods, minimum=0), check_int("n_skus", n_skus, minimum=0)
        if self.per_sku:
            self._rows(n_skus)  # one law per SKU of the data
        values = self.values.astype(np.uint8 if self.values.max() < 256 else np.int32)
        table = np.empty((n_periods, n_skus), dtype=values.dtype)
        if (self.probabilities > 0).sum(-1).max() == 1:  # one value per SKU: no draw changes it
            table[:] = self.max_values(n_skus).astype(values.dtype)
            return table
        rng = np.random.default_rng(self.seed)
        # shared law: the index of the value is the number of finite cumulative probabilities
        # <= u (one comparison per value: cheaper than a binary search for a few values)
        bounds = self._cdf[np.isfinite(self._cdf)] if not self.per_sku else None
        for t in range(n_periods):
            u = rng.random(n_skus)
            if bounds is not None:
                index = np.zeros(n_skus, dtype=np.intp)
                for bound in bounds:
                    index += u >= bound
            else:
                index = (u[:, None] >= self._cdf).sum(-1)
            table[t] = values[index]
        return table

    def subset(self, index: Any) -> "LeadTimeDistribution":
        """The law of some SKUs (per-SKU probabilities indexed by ``index``; a shared law unchanged)."""
        if not self.per_sku:
            return self
        return LeadTimeDistribution(self.values, self.probabilities[index], seed=self.seed)

    def with_seed(self, seed: int) -> "LeadTimeDistribution":
        """The same law drawn with another seed."""
        return LeadTimeDistribution(self.values, self.probabilities, seed=seed)

    # ------------------------------------------------------------------ refusals, equality
    def _refuse(self, *_: Any) -> Any:
        raise ValidationError(
            f"lead_time is random ({self!r}): this needs a fixed lead time. Random lead times are "
            f"supported by {RANDOM_LEAD_TIME_SUPPORT}"
        )

    __int__ = __index__ = __float__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LeadTimeDistribution):
            return NotImplemented
        return (self.seed == other.seed and np.array_equal(self.values, other.values)
                and np.array_equal(self.probabilities, other.probabilities))

    def __hash__(self) -> int:
        return hash((self.seed, self.values.tobytes(), self.probabilities.tobytes()))

    def __repr__(self) -> str:
        probs = self.probabilities.tolist() if not self.per_sku else f"<{self.n_skus} SKUs x {self.values.size}>"
        return f"LeadTimeDistribution(values={self.values.tolist()}, probabilities={probs}, seed={self.seed})"
