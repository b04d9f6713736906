r"""The policy network: encoder, MLP body and regularization head, and the configuration they share.

:class:`PolicyNetwork` is ``head(mu(encoder(obs)))``: the encoder (:mod:`orkit.rl.encoder`)
turns a review day's observation into the network input in units of each SKU's demand scale
:math:`s_i`; the MLP body's raw output :math:`z` is in fractions of the action range :math:`R`;
the head (:mod:`orkit.rl.heads`) turns :math:`\mu` into orders. The head additionally receives
:math:`s_i`, the raw inventory position and the Coeff features divided by :math:`s_i` plus a
constant 1 (the bias). :class:`NetworkConfig` holds the fields every learner shares.
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
from orkit.rl.encoder import FEATURE_KEYWORDS, INPUT_SCALES, EncodedObservation, ObservationEncoder
from orkit.rl.heads import RegularizationHead, head_from_config

__all__ = [
    "NetworkConfig",
    "PolicyNetwork",
    "mlp",
    "build_network",
    "config_to_dict",
    "config_from_dict",
]

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}
OUTPUT_ACTIVATIONS = ("relu", "identity")


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
    """Range of the network output in demand scales; ``None``: max_order / g with a max order
    (the largest cap where each SKU has its own), else 2 (L + P) (twice the mean demand over
    the protection interval)."""
    input_scale: str = "recent"
    """Per-SKU demand scale s_i dividing every quantity: "recent", "global" or "none" (:mod:`orkit.rl.encoder`)."""
    scale_prior_periods: float = 7.0
    """Pseudo-periods k of the training mean demand g in the "recent" scale (shrinkage)."""
    features: tuple[str, ...] | str | None = None
    """Dataset features the network sees: names, ``"primary"`` (the dataset's
    ``metadata["primary_features"]``: the one feature x_t of each DeepStock setting, as the
    paper's networks see) or ``"all"``; ``None``: all of them."""
    quantity_features: tuple[str, ...] | None = None
    """Features measured in demand units (divided by s_i instead of standardised); ``None``:
    the dataset's features of role ``quantity`` or ``forecast`` (:mod:`orkit.data.schema`)."""
    demand_lags: int = 0
    """Most recent observed demands fed to the network (0: only the dataset features)."""
    categorical_features: tuple[str, ...] | None = None
    """Features encoded one-hot (categories, the period index of DeepStock setting 1), over
    their declared categories or else the values seen in training; ``None``: the network's
    features of role ``categorical`` or ``calendar`` (:mod:`orkit.data.schema`); ``()``: none.
    They must be among ``features``."""
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
    setting. One suits DS's and DDPG's small networks; two can speed up PPO's [256, 256] updates
    on an idle machine, with other last bits (measurements in docs/benchmarks.md)."""

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


LITERAL_INPUTS = MappingProxyType({"features": "primary", "categorical_features": (), "input_scale": "none",
                                   "standardize_features": False})
"""Network settings that take the paper's formulas literally: the network sees (I_t, x_t) with
the setting's one feature x_t as a raw number (the period index of setting 1 not one-hot) and
every quantity in raw units (no per-SKU scale). ``DSPolicy("base", **LITERAL_INPUTS)``."""

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


# ------------------------------------------------------------------------- encoding# ------------------------------------------------------------------------- the network
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
        Orders are clipped to ``[0, max_order]`` [q_max]. A problem with one cap per SKU
        builds the network with None: the simulator clips each SKU's orders to its own cap.
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
    if problem.max_order is not None:  # one cap per SKU: the largest, so every SKU can reach its own
        return float(np.max(problem.max_order)) / unit
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
    head = head.resolve(tuple(getattr(train, "feature_names", ())), dict(getattr(train, "feature_roles", {}) or {}))
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
    # per-SKU values keyed by SKU id: those of the training SKUs (a SKU-random split's part)
    action_range = default_action_range(config, problem.for_data(train), train.demand.shape[0], float(encoder.global_scale))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = PolicyNetwork(
            encoder,
            head,
            hidden_sizes=config.hidden_sizes,
            activation=config.activation,
            output_activation=config.output_activation,
            # one cap per SKU: the simulator clips each SKU's orders to its own (the network serves
            # any SKU, so it holds no per-SKU values)
            max_order=problem.max_order if np.ndim(problem.max_order) == 0 else None,
            action_range=action_range,
            initial_action_bias=config.initial_action_bias,
        )
    return network.to(device)
