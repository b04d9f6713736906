r"""The policy network: per-SKU input normalisation, an MLP body, and a regularization head.

One network serves every SKU: it sees each SKU's state in units of that SKU's **demand scale**
:math:`s_i` and its output is turned back into units by the head (:mod:`orkit.rl.heads`).

**Demand scale** :math:`s_i` (``input_scale``), recomputed on every review day from the
observation, so that it works for SKUs never seen in training:

- ``"recent"`` (default): the mean observed demand of the SKU, shrunk towards the mean training
  demand :math:`g` (over all training SKUs and periods) by ``scale_prior_periods`` = :math:`k`
  pseudo-periods,

  .. math:: s_i = \max\Big(\frac{\sum_{u \in W_t} d_{i,u} + k\,g}{|W_t| + k},\; 10^{-3} g\Big),

  where :math:`W_t` holds the periods of ``Observation.recent_demand`` that have been observed
  (``min(t, window)`` periods; 28 by default). Early in a trajectory :math:`s_i \approx g`; after
  a few weeks it is the SKU's own level;
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
   ``metadata["primary_features"]``, the paper's one feature x_t): *quantity* features (demand-like,
   default the dataset's ``metadata["coeff_features"]``) divided by :math:`s_i`; every other
   feature standardised with its training mean and standard deviation (or raw, with
   ``standardize_features=False``);
7. one-hot columns of the *categorical* features (default the dataset's
   ``metadata["categorical_features"]``, e.g. the period index ``t // P`` of DeepStock
   setting 1), one per value seen in training; an unseen value encodes as all zeros.

Why one-hot: the order-up-to level of setting 1 is an arbitrary function of the period index
(each day's demand level is drawn at random). Fed as one number, an MLP must carve that
jagged function out of a scalar input, which it learns slowly and poorly (test loss 12-19%
above the DP benchmark); one-hot, each period has its own input and the level is a lookup
(DS Base within 2% of the DP in a fraction of the time).

The head additionally receives :math:`s_i`, the raw inventory position and the Coeff features
divided by :math:`s_i` plus a constant 1 (the bias).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from orkit.core.errors import ValidationError
from orkit.core.policy import Observation
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_choice, check_float, check_int
from orkit.rl.heads import RegularizationHead, head_from_config

__all__ = [
    "NetworkConfig",
    "EncodedObservation",
    "ObservationEncoder",
    "PolicyNetwork",
    "mlp",
    "build_network",
    "config_to_dict",
    "config_from_dict",
]

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}
OUTPUT_ACTIVATIONS = ("relu", "identity")
INPUT_SCALES = ("recent", "global", "none")


@dataclass
class NetworkConfig:
    """What every learner shares: the network's shape, its initialisation and how it sees a state."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """Units of each hidden layer of the policy MLP (paper search space: [32,32], [64,64], [128,128])."""
    activation: str = "elu"
    """Hidden-layer activation: "elu" (DS, paper), "tanh" or "relu"."""
    output_activation: str = "relu"
    """Activation of the network output [mu]: "relu" (DS, paper: ReLU output) or "identity"."""
    initial_action_bias: float = 0.5
    """Output bias at initialisation, as a fraction of ``action_range`` (paper: U[0.2, 0.7])."""
    action_range: float | None = None
    """Range of the network output in demand scales; ``None``: max_order / g with a max order,
    else 2 (L + P) (twice the mean demand over the protection interval)."""
    input_scale: str = "recent"
    """Per-SKU demand scale s_i dividing every quantity: "recent", "global" or "none" (module docstring)."""
    scale_prior_periods: float = 7.0
    """Pseudo-periods k of the training mean demand g in the "recent" scale (shrinkage)."""
    features: tuple[str, ...] | str | None = None
    """Dataset features the network sees: names, ``"primary"`` (the dataset's
    ``metadata["primary_features"]``: the one feature x_t of each DeepStock setting, as the
    paper's networks see) or ``"all"``; ``None``: all of them."""
    quantity_features: tuple[str, ...] | None = None
    """Features measured in demand units (divided by s_i instead of standardised); ``None``:
    the dataset's ``metadata["coeff_features"]``."""
    demand_lags: int = 0
    """Most recent observed demands fed to the network (0: only the dataset features)."""
    categorical_features: tuple[str, ...] | None = None
    """Features encoded one-hot over the values seen in training (categories, the period index
    of DeepStock setting 1); ``None``: the dataset's ``metadata["categorical_features"]``;
    ``()``: none. They must be among ``features``."""
    standardize_features: bool = True
    """Standardise the non-quantity features with their training mean and standard deviation;
    ``False`` feeds them raw (e.g. the period index t // P as it is, which trains faster)."""
    warm_start_epochs: int = 500
    """Full-batch Adam steps of the imitation when a ``warm_start`` teacher is given (then up
    to 200 L-BFGS iterations); 0 disables the warm start."""
    warm_start_learning_rate: float = 3e-3
    """Adam step size of the imitation."""
    seed: int = 0
    """Seed of the network initialisation and of every random draw of training."""
    device: str | None = None
    """Where to train ("cpu", "cuda", ...); ``None``: CUDA when available, else CPU."""
    num_threads: int | None = 1
    """CPU threads of torch during training (restored afterwards); ``None`` leaves torch's
    setting. One is fastest for DS's and DDPG's small networks, by far on a busy machine; two
    speed up PPO's [256, 256] updates on an idle 2-core machine (about 1.25x, with other bits)."""

    def check(self) -> None:
        """Raise :class:`ValidationError` naming the first field that breaks a rule."""
        check_network_config(self)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON types (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Inverse of :func:`config_to_dict`; unknown keys raise a clear error."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValidationError(f"{cls.__name__} has no hyper-parameter {unknown[0]!r}; it has {sorted(names)}")
    converted = {}
    for k, v in values.items():
        default = names[k].default
        if isinstance(v, list) and (isinstance(default, tuple) or default is None):
            v = tuple(v)
        converted[k] = v
    return cls(**converted)


FEATURE_KEYWORDS = ("all", "primary")
"""The keywords ``features`` accepts instead of names (a list names columns, even these)."""

LITERAL_INPUTS = MappingProxyType({"features": "primary", "categorical_features": (), "input_scale": "none",
                                   "standardize_features": False})
"""Network settings that take the paper's formulas literally: the network sees (I_t, x_t) with
the setting's one feature x_t as a raw number (the period index of setting 1 not one-hot) and
every quantity in raw units (no per-SKU scale). ``DSPolicy("base", **LITERAL_INPUTS)``."""


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


def check_network_config(config: NetworkConfig) -> None:
    """Raise :class:`ValidationError` naming the first field that breaks a rule."""
    features = config.features
    if not (features is None or isinstance(features, str)
            or (isinstance(features, (tuple, list)) and all(isinstance(f, str) for f in features))):
        raise ValidationError(
            f"features must be None, {' or '.join(repr(k) for k in FEATURE_KEYWORDS)}, or a sequence of feature "
            f"names, got {features!r}")
    sizes = config.hidden_sizes
    if isinstance(sizes, int) or not all(isinstance(h, (int, np.integer)) and h >= 1 for h in sizes):
        raise ValidationError(f"hidden_sizes must be a sequence of integers >= 1, got {sizes!r}")
    check_choice("activation", config.activation, tuple(ACTIVATIONS))
    check_choice("output_activation", config.output_activation, OUTPUT_ACTIVATIONS)
    check_float("initial_action_bias", config.initial_action_bias, minimum=0)
    if config.action_range is not None:
        check_float("action_range", config.action_range, minimum=0, strict_minimum=True)
    check_choice("input_scale", config.input_scale, INPUT_SCALES)
    check_float("scale_prior_periods", config.scale_prior_periods, minimum=0)
    check_int("demand_lags", config.demand_lags, minimum=0)
    if not isinstance(config.standardize_features, bool):
        raise ValidationError(f"standardize_features must be True or False, got {config.standardize_features!r}")
    check_int("warm_start_epochs", config.warm_start_epochs, minimum=0)
    check_float("warm_start_learning_rate", config.warm_start_learning_rate, minimum=0, strict_minimum=True)
    check_int("seed", config.seed, minimum=0)
    if config.num_threads is not None:
        check_int("num_threads", config.num_threads, minimum=1)


def resolve_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValidationError(f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}") from None


# ------------------------------------------------------------------------- encoding
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
        keyword_hint = isinstance(features, str)
        features = resolve_features(features, names, metadata)
        missing = [f for f in features if f not in names]
        if missing:
            hint = f" (or one of the keywords {list(FEATURE_KEYWORDS)})" if keyword_hint else ""
            raise ValidationError(f"feature {missing[0]!r} is not in the training data; it has {list(names)}{hint}")
        if quantity_features is None:
            quantity_features = tuple(f for f in metadata.get("coeff_features", ()) if f in names)
        else:
            quantity_features = tuple([quantity_features] if isinstance(quantity_features, str) else quantity_features)
            bad = [f for f in quantity_features if f not in names]
            if bad:
                raise ValidationError(f"quantity feature {bad[0]!r} is not in the training data; it has {list(names)}")
        if categorical_features is None:
            categorical_features = tuple(f for f in metadata.get("categorical_features", ()) if f in features)
        else:
            categorical_features = tuple([categorical_features] if isinstance(categorical_features, str)
                                         else categorical_features)
            bad = [f for f in categorical_features if f not in features]
            if bad:
                raise ValidationError(
                    f"categorical feature {bad[0]!r} is not among the network's features {list(features)}")
        levels = {}
        for f in categorical_features:
            column = np.asarray(train.features, dtype=np.float64)[:, :, names.index(f)]
            levels[f] = np.unique(column).tolist()
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
            pipeline_width=int(problem.lead_times(max(n_skus, 1)).max()),
            demand_lags=demand_lags,
            input_scale=input_scale,
            scale_prior_periods=scale_prior_periods,
            horizon=demand.shape[1],
            categorical_levels=levels,
        )
        g = float(demand.mean()) if demand.size else 1.0
        encoder.global_scale.fill_(g if g > 0 and math.isfinite(g) else 1.0)
        numeric = encoder.input_features
        if numeric and standardize_features:
            x = np.asarray(train.features, dtype=np.float64)[:, :, [names.index(f) for f in numeric]]
            x = x.reshape(-1, len(numeric))
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
        observed = min(int(obs.period), recent.shape[1])
        k = self.scale_prior_periods
        if observed + k <= 0:
            return g.expand(n).clone()
        s = (recent.sum(1) + k * g) / (observed + k)
        return torch.maximum(s, 1e-3 * g)

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


# ------------------------------------------------------------------------- the network
def mlp(n_inputs: int, hidden_sizes: Sequence[int], n_outputs: int, activation: str = "elu") -> nn.Sequential:
    """``Linear -> activation`` per hidden layer, then a linear output layer."""
    layers: list[nn.Module] = []
    width = n_inputs
    for h in hidden_sizes:
        layers += [nn.Linear(width, int(h)), ACTIVATIONS[activation]()]
        width = int(h)
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class PolicyNetwork(nn.Module):
    """Encoder, MLP body and regularization head: ``forward(obs) -> orders``.

    Parameters
    ----------
    encoder : ObservationEncoder
    head : RegularizationHead
        Resolved against the training data (Coeff features named).
    hidden_sizes, activation, output_activation
        See :class:`NetworkConfig`.
    max_order : float or None
        Orders are clipped to ``[0, max_order]`` [q_max].
    action_range : float
        Range of the output in demand scales [R]: the MLP's raw output [z] is in fractions of
        it (``mu = act(z) * head.output_unit(R)``, see :mod:`orkit.rl.heads`).
    initial_action_bias : float
        Initial bias of the last layer, whose weights start near zero: the first outputs are
        ``initial_action_bias * R`` demand scales whatever the state (paper: output bias
        ``initial_action_bias * range``).
    """

    def __init__(
        self,
        encoder: ObservationEncoder,
        head: RegularizationHead,
        *,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "elu",
        output_activation: str = "relu",
        max_order: float | None = None,
        action_range: float = 1.0,
        initial_action_bias: float = 0.5,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.activation = activation
        self.output_activation = output_activation
        self.max_order = None if max_order is None else float(max_order)
        self.action_range = float(action_range)
        self.initial_action_bias = float(initial_action_bias)
        self.body = mlp(encoder.n_inputs, self.hidden_sizes, head.n_outputs(), activation)
        self.output_unit = float(head.output_unit(self.action_range))
        last = self.body[-1]
        with torch.no_grad():
            # small output weights: the first orders are set by the bias, whatever the state
            bound = 0.01 / math.sqrt(last.in_features)
            last.weight.uniform_(-bound, bound)
            last.bias.fill_(self.initial_action_bias)

    @property
    def n_outputs(self) -> int:
        return self.head.n_outputs()

    def raw(self, encoded: EncodedObservation) -> torch.Tensor:
        """The MLP's output [z], in fractions of the action range, shape (n_skus, m).

        PPO's Gaussian and DDPG's actions live in this space."""
        return self.body(encoded.inputs)

    def output_from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        """The head input [mu] = output activation of ``raw`` times the head's output unit."""
        out = torch.relu(raw) if self.output_activation == "relu" else raw
        return out * self.output_unit

    def output(self, encoded: EncodedObservation) -> torch.Tensor:
        """Network output [mu] before the head, shape (n_skus, m)."""
        return self.output_from_raw(self.raw(encoded))

    def orders(self, output: torch.Tensor, encoded: EncodedObservation) -> torch.Tensor:
        """The head: orders in units, clipped to ``[0, max_order]``, shape (n_skus,)."""
        return self.head(output, encoded, self.max_order)

    def forward(self, obs: Observation) -> torch.Tensor:
        encoded = self.encoder(obs)
        return self.orders(self.output(encoded), encoded)

    def explain(self, obs: Observation) -> dict[str, torch.Tensor]:
        """The head's reasons behind the orders (target level, coefficients), per SKU."""
        encoded = self.encoder(obs)
        return self.head.explain(self.output(encoded), encoded)

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the network (weights aside), as JSON types."""
        return {
            "encoder": self.encoder.config(),
            "head": self.head.to_config(),
            "hidden_sizes": list(self.hidden_sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "max_order": self.max_order,
            "action_range": self.action_range,
            "initial_action_bias": self.initial_action_bias,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PolicyNetwork":
        config = dict(config)
        encoder = ObservationEncoder(**config.pop("encoder"))
        head = head_from_config(config.pop("head"))
        with torch.random.fork_rng(devices=[]):  # the weights are about to be loaded: leave the global RNG alone
            return cls(encoder, head, **config)


def default_action_range(config: NetworkConfig, problem: InventoryProblem, n_skus: int, global_scale: float) -> float:
    """``config.action_range``, or its default (see :class:`NetworkConfig`)."""
    if config.action_range is not None:
        return float(config.action_range)
    unit = 1.0 if config.input_scale == "none" else global_scale
    if problem.max_order is not None:
        return float(problem.max_order) / unit
    n = max(n_skus, 1)
    protection = int((problem.lead_times(n) + problem.review_periods(n)).max())
    return 2.0 * protection * global_scale / unit


def build_network(
    train: Any,
    problem: InventoryProblem,
    head: RegularizationHead,
    config: NetworkConfig,
    *,
    device: torch.device | str = "cpu",
) -> PolicyNetwork:
    """A freshly initialised network for ``train`` (seeded by ``config.seed``; the global RNG is untouched)."""
    head = head.resolve(tuple(getattr(train, "feature_names", ())), dict(getattr(train, "metadata", {}) or {}))
    encoder = ObservationEncoder.fit(
        train,
        problem,
        head,
        features=config.features,
        quantity_features=config.quantity_features,
        demand_lags=config.demand_lags,
        input_scale=config.input_scale,
        scale_prior_periods=config.scale_prior_periods,
        standardize_features=config.standardize_features,
        categorical_features=config.categorical_features,
    )
    action_range = default_action_range(config, problem, train.demand.shape[0], float(encoder.global_scale))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = PolicyNetwork(
            encoder,
            head,
            hidden_sizes=config.hidden_sizes,
            activation=config.activation,
            output_activation=config.output_activation,
            max_order=problem.max_order,
            action_range=action_range,
            initial_action_bias=config.initial_action_bias,
        )
    return network.to(device)
