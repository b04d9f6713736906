r"""The observation encoder: a review day's :class:`~orkit.core.Observation` as the network's input.

One network serves every SKU: the encoder shows it each SKU's state in units of that SKU's
**demand scale** :math:`s_i`, and the head (:mod:`orkit.rl.heads`) turns the output back into
units.

**Demand scale** :math:`s_i` (``input_scale``), recomputed on every review day from the
observation, so that it works for SKUs never seen in training:

- ``"recent"`` (default): the mean observed demand of the SKU, shrunk towards the mean training
  demand :math:`g` (over all training SKUs and periods) by ``scale_prior_periods`` = :math:`k`
  pseudo-periods,

  .. math:: s_i = \max\Big(\frac{\sum_{u \in W_t} d_{i,u} + k\,g}{|W_t| + k},\; 10^{-3} g\Big),

  where :math:`W_t` holds the periods of ``Observation.recent_demand`` that the SKU has lived
  (``Observation.observed_periods``: ``min(t - first_i, window)`` periods, ``first_i`` its
  launch; 28 by default). Early in a trajectory, and for a SKU just launched, :math:`s_i \approx
  g`; after a few weeks it is the SKU's own level;
- ``"global"``: :math:`s_i = g` for every SKU (homogeneous SKUs, as in the DeepStock settings);
- ``"none"``: :math:`s_i = 1` (raw units, the paper's literal formulas).

**Network input** (one row per SKU), in this order:

1. on-hand :math:`I^0 / s_i`;
2. the pipeline :math:`I^1 / s_i, \dots, I^{L_{max}} / s_i` (arriving in 1, 2, ... periods);
3. the inventory position :math:`\mathrm{tot}(I) / s_i`;
4. the last ``demand_lags`` observed demands :math:`d_{t-1} / s_i, \dots` (most recent first);
5. :math:`\log(s_i / g)`: the SKU's size relative to training, so that the network can also
   represent policies that are not proportional to the scale (e.g. a fixed base-stock level);
6. the dataset features ``features`` (default: all of them; ``"primary"``: the dataset's
   ``metadata["primary_features"]``, the paper's one feature x_t): *quantity* features (default
   the features of role ``quantity`` or ``forecast``) divided by :math:`s_i`; every other
   feature standardised with its training mean and standard deviation (or raw, with
   ``standardize_features=False``);
7. one-hot columns of the *categorical* features (default the features of role
   ``categorical`` or ``calendar``, e.g. the period index ``t // P`` of DeepStock setting 1),
   one per declared category (a calendar part: all its values) or, without declared
   categories, per value seen in training; any other value encodes as all zeros.

The roles are the dataset's :attr:`~orkit.data.Dataset.feature_roles` (:mod:`orkit.data.schema`),
the same whether the data was generated, built with ``from_frame`` or read from a file: the
encoder reads nothing else about the features (a bare array has no roles: every feature is
numeric unless named in ``quantity_features`` / ``categorical_features``).

Why one-hot: the order-up-to level of setting 1 is an arbitrary function of the period index
(each day's demand level is drawn at random). Fed as one number, an MLP must carve that
jagged function out of a scalar input, which it learns slowly and poorly; one-hot, each period
has its own input and the level is a lookup (figures in docs/results/deepstock-setting-1.md).

The head additionally receives :math:`s_i`, the raw inventory position and the Coeff features
divided by :math:`s_i` plus a constant 1 (the bias).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.problem import InventoryProblem
from orkit.rl.heads import RegularizationHead

__all__ = ["EncodedObservation", "ObservationEncoder", "INPUT_SCALES", "FEATURE_KEYWORDS", "resolve_features"]

INPUT_SCALES = ("recent", "global", "none")
FEATURE_KEYWORDS = ("all", "primary")
"""The keywords ``features`` accepts instead of names (a list names columns, even these)."""


def _feature_column(data: Any, name: str, names: tuple[str, ...]) -> np.ndarray:
    """Feature ``name`` of ``data``, (n_skus, T) float64: one column (a Dataset decodes only it
    when its features are coded)."""
    if hasattr(data, "feature"):
        return np.asarray(data.feature(name), dtype=np.float64)
    return np.asarray(data.features, dtype=np.float64)[:, :, names.index(name)]


def resolve_features(features: Sequence[str] | str | None, names: tuple[str, ...],
                     metadata: dict[str, Any]) -> tuple[str, ...]:
    """The feature names ``features`` selects among a dataset's ``names`` (see
    :attr:`NetworkConfig.features`): ``None`` or ``"all"`` all, ``"primary"`` the dataset's
    ``metadata["primary_features"]``, another string one name, a sequence those names."""
    if features is None or features == "all":
        return names
    if features == "primary":
        primary = metadata.get("primary_features")
        if not primary:
            raise ValidationError(
                "features='primary' needs a dataset whose metadata names its 'primary_features' (orkit.data's "
                f"generators do); this one does not: name the features instead, among {list(names)}")
        return tuple(primary)
    return (features,) if isinstance(features, str) else tuple(features)


@dataclass
class EncodedObservation:
    """A review day's state as the network and the head see it (tensors owned, not live).

    Attributes
    ----------
    inputs : Tensor of shape (n_skus, n_inputs)
        The network input (module docstring).
    scale : Tensor of shape (n_skus,)
        Demand scale [s_i].
    inventory_position : Tensor of shape (n_skus,)
        Raw inventory position [tot(I)], in units.
    coeff_features : Tensor of shape (n_skus, m')
        Coeff features divided by s_i, then the constant 1 when the head has a bias.
    time : Tensor of shape (n_skus,)
        Period index over the training horizon, ``t / T`` (critics use it: returns depend on the
        periods left).
    """

    inputs: torch.Tensor
    scale: torch.Tensor
    inventory_position: torch.Tensor
    coeff_features: torch.Tensor
    time: torch.Tensor

    FIELDS = ("inputs", "scale", "inventory_position", "coeff_features", "time")

    @property
    def n_skus(self) -> int:
        return self.inputs.shape[0]

    def apply(self, fn) -> "EncodedObservation":
        return EncodedObservation(*(fn(getattr(self, k)) for k in self.FIELDS))

    def __getitem__(self, index: Any) -> "EncodedObservation":
        return self.apply(lambda t: t[index])

    def to(self, device: torch.device | str) -> "EncodedObservation":
        return self.apply(lambda t: t.to(device))

    @staticmethod
    def stack(items: Sequence["EncodedObservation"], dim: int = 1) -> "EncodedObservation":
        return EncodedObservation(*(torch.stack([getattr(e, k) for e in items], dim) for k in EncodedObservation.FIELDS))

    def flatten(self) -> "EncodedObservation":
        """(n, K, ...) fields to (n * K, ...)."""
        return self.apply(lambda t: t.reshape(t.shape[0] * t.shape[1], *t.shape[2:]))


def _pipeline_width(problem: InventoryProblem, train: Any, n_skus: int) -> int:
    """The longest lead time the network must see: over every SKU a problem keyed by SKU id
    names (the SKUs of a SKU-random split's other parts included; the training SKUs must be
    among them), else over the training SKUs (per-SKU values by position must match them)."""
    if problem.sku_ids is not None:
        problem.for_data(train)  # a clear error for a training SKU the problem does not name
        return int(problem.lead_times(len(problem.sku_ids)).max())
    return int(problem.lead_times(max(n_skus, 1)).max())


class ObservationEncoder(nn.Module):
    """Turns an :class:`~orkit.core.Observation` into an :class:`EncodedObservation` (module docstring).

    Built by :meth:`fit` from the training data; its statistics are buffers, saved with the
    network's weights.
    """

    def __init__(
        self,
        *,
        input_features: Sequence[str],
        quantity_features: Sequence[str],
        coeff_features: Sequence[str],
        coeff_bias: bool,
        pipeline_width: int,
        demand_lags: int,
        input_scale: str,
        scale_prior_periods: float,
        horizon: int,
        categorical_levels: dict[str, Sequence[float]] | None = None,
    ) -> None:
        super().__init__()
        # categorical features are one-hot columns, not numeric ones
        self.categorical_levels = {k: [float(v) for v in vals] for k, vals in (categorical_levels or {}).items()}
        self.categorical_features = tuple(self.categorical_levels)
        self.all_input_features = tuple(input_features)
        input_features = [f for f in input_features if f not in self.categorical_levels]
        self.input_features = tuple(input_features)
        self.quantity_features = tuple(quantity_features)
        self.coeff_feature_names = tuple(coeff_features)
        self.coeff_bias = bool(coeff_bias)
        self.pipeline_width = int(pipeline_width)
        self.demand_lags = int(demand_lags)
        self.input_scale = input_scale
        self.scale_prior_periods = float(scale_prior_periods)
        self.horizon = max(int(horizon), 1)
        n = len(self.input_features)
        self.register_buffer("feature_mean", torch.zeros(n))
        self.register_buffer("feature_std", torch.ones(n))
        self.register_buffer("global_scale", torch.ones(()))
        quantity = [f in set(self.quantity_features) for f in self.input_features]
        self.register_buffer("is_quantity", torch.tensor(quantity, dtype=torch.bool), persistent=False)
        levels = [v for f in self.categorical_features for v in self.categorical_levels[f]]
        self.register_buffer("category_values", torch.tensor(levels, dtype=torch.float64), persistent=False)
        self.register_buffer("category_column", torch.tensor(
            [j for j, f in enumerate(self.categorical_features) for _ in self.categorical_levels[f]],
            dtype=torch.long), persistent=False)
        self._index_cache: dict[tuple, torch.Tensor] = {}

    @property
    def n_inputs(self) -> int:
        return (3 + self.pipeline_width + self.demand_lags + len(self.input_features)
                + int(self.category_values.numel()))

    @classmethod
    def fit(
        cls,
        train: Any,
        problem: InventoryProblem,
        head: RegularizationHead,
        *,
        features: Sequence[str] | None = None,
        quantity_features: Sequence[str] | None = None,
        demand_lags: int = 0,
        input_scale: str = "recent",
        scale_prior_periods: float = 7.0,
        standardize_features: bool = True,
        categorical_features: Sequence[str] | None = None,
    ) -> "ObservationEncoder":
        """An encoder with statistics from ``train`` (a Dataset, or anything with ``demand``,
        ``features`` and ``feature_names``)."""
        names = tuple(getattr(train, "feature_names", ()))
        metadata = dict(getattr(train, "metadata", {}) or {})
        roles = dict(getattr(train, "feature_roles", {}) or {})
        keyword_hint = isinstance(features, str)
        features = resolve_features(features, names, metadata)
        missing = [f for f in features if f not in names]
        if missing:
            hint = f" (or one of the keywords {list(FEATURE_KEYWORDS)})" if keyword_hint else ""
            raise ValidationError(f"feature {missing[0]!r} is not in the training data; it has {list(names)}{hint}")
        if quantity_features is None:
            quantity_features = tuple(f for f in names if f in roles and roles[f].demand_units)
        else:
            quantity_features = tuple([quantity_features] if isinstance(quantity_features, str) else quantity_features)
            bad = [f for f in quantity_features if f not in names]
            if bad:
                raise ValidationError(f"quantity feature {bad[0]!r} is not in the training data; it has {list(names)}")
        if categorical_features is None:
            categorical_features = tuple(f for f in features if f in roles and roles[f].one_hot)
        else:
            categorical_features = tuple([categorical_features] if isinstance(categorical_features, str)
                                         else categorical_features)
            bad = [f for f in categorical_features if f not in features]
            if bad:
                raise ValidationError(
                    f"categorical feature {bad[0]!r} is not among the network's features {list(features)}")
        # statistics over the periods each SKU lives (no zeros outside a life): (n_skus, T) bool or None
        lived = None if getattr(train, "full_lives", True) else train.alive().T
        levels = {}
        for f in categorical_features:
            declared = roles[f].levels if f in roles else None
            if declared is not None:
                levels[f] = list(declared)
            else:
                column = _feature_column(train, f, names)
                levels[f] = np.unique(column if lived is None else column[lived]).tolist()
            if len(levels[f]) > 1000:
                raise ValidationError(
                    f"categorical feature {f!r} has {len(levels[f])} distinct training values; at most 1000 "
                    "can be encoded one-hot (is it a quantity?)")
        demand = np.asarray(train.demand, dtype=np.float64)
        n_skus = demand.shape[0]
        encoder = cls(
            input_features=features,
            quantity_features=quantity_features,
            coeff_features=head.feature_names,
            coeff_bias=bool(getattr(head, "bias", False)),
            pipeline_width=_pipeline_width(problem, train, n_skus),
            demand_lags=demand_lags,
            input_scale=input_scale,
            scale_prior_periods=scale_prior_periods,
            horizon=demand.shape[1],
            categorical_levels=levels,
        )
        if lived is not None:  # SKUs that start or end inside the horizon: their lived periods only
            g = float(demand[lived].mean()) if lived.any() else 1.0
        else:
            g = float(demand.mean()) if demand.size else 1.0
        encoder.global_scale.fill_(g if g > 0 and math.isfinite(g) else 1.0)
        numeric = encoder.input_features
        if numeric and standardize_features:
            x = np.stack([_feature_column(train, f, names) for f in numeric], axis=2)
            x = x.reshape(-1, len(numeric)) if lived is None else x[lived]
            mean, std = x.mean(0), x.std(0)
            std = np.where(std > 1e-8, std, 1.0)
            encoder.feature_mean.copy_(torch.as_tensor(mean))
            encoder.feature_std.copy_(torch.as_tensor(std))
        return encoder

    def config(self) -> dict[str, Any]:
        return {
            "input_features": list(self.input_features),
            "quantity_features": list(self.quantity_features),
            "coeff_features": list(self.coeff_feature_names),
            "coeff_bias": self.coeff_bias,
            "pipeline_width": self.pipeline_width,
            "demand_lags": self.demand_lags,
            "input_scale": self.input_scale,
            "scale_prior_periods": self.scale_prior_periods,
            "horizon": self.horizon,
            "categorical_levels": {k: list(v) for k, v in self.categorical_levels.items()},
        }

    def _columns(self, obs: Observation, names: tuple[str, ...]) -> torch.Tensor:
        """Feature columns ``names`` of the observation, shape (n_skus, len(names))."""
        if not names:
            return obs.on_hand.new_zeros(obs.n_skus, 0)
        key = (obs.feature_names, names, obs.on_hand.device)
        index = self._index_cache.get(key)
        if index is None:
            missing = [n for n in names if n not in obs.feature_names]
            if missing:
                raise ValidationError(
                    f"the policy needs feature {missing[0]!r}; the observation has {list(obs.feature_names)}"
                )
            index = torch.tensor([obs.feature_names.index(n) for n in names], device=obs.on_hand.device)
            self._index_cache[key] = index
        return obs.features.index_select(1, index)

    def scale(self, obs: Observation, dtype: torch.dtype) -> torch.Tensor:
        """Demand scale s_i of every SKU (module docstring)."""
        n = obs.n_skus
        g = self.global_scale.to(dtype)
        if self.input_scale == "none":
            return torch.ones(n, dtype=dtype, device=obs.on_hand.device)
        if self.input_scale == "global":
            return g.expand(n).clone()
        recent = obs.recent_demand.to(dtype)
        weight = obs.observed_periods(recent.shape[1]).to(dtype) + self.scale_prior_periods
        s = (recent.sum(1) + self.scale_prior_periods * g) / weight.clamp(min=1e-12)
        return torch.maximum(torch.where(weight > 0, s, g), 1e-3 * g)

    def forward(self, obs: Observation) -> EncodedObservation:
        dtype = self.feature_mean.dtype
        on_hand = obs.on_hand.to(dtype)
        ip = obs.inventory_position.to(dtype)
        s = self.scale(obs, dtype)
        parts = [on_hand.unsqueeze(1)]
        if self.pipeline_width:
            pipe = obs.pipeline.to(dtype)
            if pipe.shape[1] != self.pipeline_width:  # fewer lead periods than in training: pad
                pipe = torch.nn.functional.pad(pipe, (0, max(self.pipeline_width - pipe.shape[1], 0)))[:, : self.pipeline_width]
            parts.append(pipe)
        parts.append(ip.unsqueeze(1))
        if self.demand_lags:
            recent = obs.recent_demand.to(dtype)
            if recent.shape[1] < self.demand_lags:
                raise ValidationError(
                    f"demand_lags={self.demand_lags} needs a demand window of at least {self.demand_lags} periods, "
                    f"got {recent.shape[1]}"
                )
            parts.append(recent[:, -self.demand_lags:].flip(1))
        quantities = torch.cat(parts, 1) / s.unsqueeze(1)
        columns = [quantities, torch.log(s / self.global_scale.to(dtype)).unsqueeze(1)]
        if self.input_features:
            x = self._columns(obs, self.input_features).to(dtype)
            standardised = (x - self.feature_mean) / self.feature_std
            columns.append(torch.where(self.is_quantity, x / s.unsqueeze(1), standardised))
        if self.categorical_features:
            x = self._columns(obs, self.categorical_features).to(dtype)
            columns.append((x[:, self.category_column] == self.category_values.to(dtype)).to(dtype))
        coeff = self._columns(obs, self.coeff_feature_names).to(dtype) / s.unsqueeze(1)
        if self.coeff_bias:
            coeff = torch.cat([coeff, torch.ones_like(s).unsqueeze(1)], 1)
        time = torch.full_like(s, obs.period / self.horizon)
        return EncodedObservation(torch.cat(columns, 1), s, ip.clone(), coeff, time)
