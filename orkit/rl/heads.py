r"""Policy regularizations: one head per reparameterisation of the action (paper.md section 3).

A network :math:`\mu(I, x)` is turned into an order by a *head*. The four heads of DeepStock:

=========  ==========================================================  ===================
name       order :math:`q_t` (before clipping to ``[0, max_order]``)    network outputs
=========  ==========================================================  ===================
``none``   :math:`q = \mu(I, x)`                                        1
``base``   :math:`q = \max(\mu(I, x) - \mathrm{tot}(I), 0)`             1
``coeff``  :math:`q = \mu(I, x)^\top \mathrm{feat}(x)`                  :math:`m'`
``both``   :math:`q = \max(\mu(I, x)^\top \mathrm{feat}(x) - \mathrm{tot}(I), 0)`  :math:`m'`
=========  ==========================================================  ===================

They restrict the functional form of the policy, not the orders it can reach (:math:`\mu`
sees the state): they are not penalty terms. Every order is then clipped to
``[0, max_order]`` (the simulator clips again; clipping twice changes nothing).

**Units.** The network works in units of the SKU's demand scale :math:`s_i` (see
:class:`~orkit.rl.encoder.ObservationEncoder`), so one network serves SKUs of any size, and its
last layer works in fractions of the action range :math:`R` (in demand scales; its bias starts
at ``initial_action_bias``). With :math:`o` the network output after its output activation:

- ``none`` / ``base``: :math:`\mu = s_i R\, o`; :math:`\mu` is an order (``none``) or an
  order-up-to level (``base``), in units;
- ``coeff`` / ``both``: the coefficients are :math:`\mu_j = C \cdot \mathrm{clip}(R\, o_j / (m' C), 0, 1)`
  with :math:`C = 28` (``coefficient_scale``), i.e. weights clipped to [0, 1] and scaled by 28
  as in the DeepStock code (weights on *daily* demand features: at most 28 days' worth each;
  equal outputs :math:`o` give about :math:`o R` demand scales when the features are near one
  scale); :math:`\mathrm{feat}(x)` is the named demand features of the dataset (DeepStock: past
  28- and 7-day mean demand, 7- and 28-day forecasts: the features of role ``quantity`` and
  ``forecast``, :mod:`orkit.data.schema`) plus a
  constant bias. The bias feature is 1 in units of :math:`s_i` (its value in units is
  :math:`s_i`), so that Coeff stays scale-free; with ``input_scale="none"`` (:math:`s_i = 1`)
  it is the literal constant 1 of the paper. Multiplying by the raw demand features restores
  the SKU's scale.

The pure functions :func:`none_order`, :func:`base_order`, :func:`coeff_order` and
:func:`both_order` are the formulas; the head classes add the units and the clipping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import torch

from orkit.core.errors import ValidationError
from orkit.core.validation import check_float
from orkit.data.schema import DEMAND_UNIT_ROLES

if TYPE_CHECKING:  # pragma: no cover
    from orkit.rl.encoder import EncodedObservation

__all__ = [
    "REGULARIZATIONS",
    "RegularizationHead",
    "NoneHead",
    "BaseHead",
    "CoeffHead",
    "BothHead",
    "make_head",
    "head_from_config",
    "none_order",
    "base_order",
    "coeff_order",
    "both_order",
    "coefficient_weights",
]

#: The regularization names, in the paper's order.
REGULARIZATIONS: tuple[str, ...] = ("none", "base", "coeff", "both")

#: DeepStock code: Coeff weights are clipped to [0, 1] and scaled by this constant [C].
DEFAULT_COEFFICIENT_SCALE = 28.0


# ------------------------------------------------------------------------- the formulas
def none_order(mu: torch.Tensor) -> torch.Tensor:
    """None: ``q = mu`` (an order per SKU)."""
    return mu


def base_order(mu: torch.Tensor, inventory_position: torch.Tensor) -> torch.Tensor:
    """Base: ``q = max(mu - tot(I), 0)`` (``mu`` is an order-up-to level)."""
    return (mu - inventory_position).clamp(min=0)


def coeff_order(weights: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
    """Coeff: ``q = mu^T feat`` per SKU; ``weights`` and ``feat`` have shape (n_skus, m')."""
    return (weights * feat).sum(-1)


def both_order(weights: torch.Tensor, feat: torch.Tensor, inventory_position: torch.Tensor) -> torch.Tensor:
    """Both: ``q = max(mu^T feat - tot(I), 0)``."""
    return (coeff_order(weights, feat) - inventory_position).clamp(min=0)


def coefficient_weights(output: torch.Tensor, coefficient_scale: float = DEFAULT_COEFFICIENT_SCALE) -> torch.Tensor:
    """Coeff weights from raw network outputs: ``C * clip(output, 0, 1)`` (DeepStock code)."""
    return coefficient_scale * output.clamp(0.0, 1.0)


def _clip(q: torch.Tensor, max_order: float | None) -> torch.Tensor:
    return q.clamp(min=0) if max_order is None else q.clamp(0.0, max_order)


# ------------------------------------------------------------------------- the heads
class RegularizationHead:
    """Maps the network output and the encoded observation to orders.

    Subclasses define :meth:`unclipped_order` (the paper's formula without the outer
    ``max(., 0)``); calling the head clips it to ``[0, max_order]``, which equals the formula
    followed by the order clip.
    """

    name: ClassVar[str] = ""

    def n_outputs(self) -> int:
        """Number of network outputs [m] the head needs."""
        return 1

    def unclipped_order(self, output: torch.Tensor, encoded: "EncodedObservation") -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, output: torch.Tensor, encoded: "EncodedObservation", max_order: float | None = None) -> torch.Tensor:
        """Orders per SKU, shape (n_skus,), in ``[0, max_order]``."""
        return _clip(self.unclipped_order(output, encoded), max_order)

    def output_unit(self, action_range: float) -> float:
        """The head input [mu] per unit of network output: the network's last layer works in
        fractions of the action range (its initial bias is ``initial_action_bias``)."""
        return action_range

    def explain(self, output: torch.Tensor, encoded: "EncodedObservation") -> dict[str, torch.Tensor]:
        """What stands behind the orders, for planners: nothing for None; the order-up-to level
        for Base and Both (``target_level``); the coefficients for Coeff and Both (``coefficient``)."""
        return {}

    # resolution against a dataset and (de)serialisation
    def resolve(self, feature_names: Sequence[str], roles: Mapping[str, Any]) -> "RegularizationHead":
        """A copy with everything that depends on the dataset filled in (``roles``: the
        dataset's :attr:`~orkit.data.Dataset.feature_roles`)."""
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the demand features the head multiplies (empty for None and Base)."""
        return ()

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_config() == self.to_config()

    def __hash__(self) -> int:
        return hash(repr(self.to_config()))


class NoneHead(RegularizationHead):
    """None: ``q = mu(I, x)`` with ``mu = s * output``."""

    name = "none"

    def unclipped_order(self, output: torch.Tensor, encoded: "EncodedObservation") -> torch.Tensor:
        return none_order(encoded.scale * output[:, 0])


class BaseHead(RegularizationHead):
    """Base: ``q = max(mu(I, x) - tot(I), 0)`` with the level ``mu = s * output``."""

    name = "base"

    def unclipped_order(self, output: torch.Tensor, encoded: "EncodedObservation") -> torch.Tensor:
        return encoded.scale * output[:, 0] - encoded.inventory_position

    def explain(self, output: torch.Tensor, encoded: "EncodedObservation") -> dict[str, torch.Tensor]:
        return {"target_level": encoded.scale * output[:, 0]}


class CoeffHead(RegularizationHead):
    """Coeff: ``q = mu(I, x)^T feat(x)``, ``mu = C * clip(output, 0, 1)``.

    Parameters
    ----------
    features : sequence of str or None, default=None
        Names of the demand features in ``feat`` (dataset feature columns, in units of demand
        per period). ``None``: the dataset's features of role ``quantity`` or ``forecast``
        (:attr:`~orkit.data.Dataset.feature_roles`).
    coefficient_scale : float, default=28.0
        The constant [C] that scales the clipped weights.
    bias : bool, default=True
        Append the constant bias feature (1 demand scale).
    """

    name = "coeff"

    def __init__(self, features: Sequence[str] | None = None, *, coefficient_scale: float = DEFAULT_COEFFICIENT_SCALE,
                 bias: bool = True) -> None:
        if isinstance(features, str):
            features = (features,)
        self.features = None if features is None else tuple(features)
        self.coefficient_scale = check_float("coefficient_scale", coefficient_scale, minimum=0, strict_minimum=True)
        if not isinstance(bias, bool):
            raise ValidationError(f"bias must be True or False, got {bias!r}")
        self.bias = bias
        if self.features is not None and not self.features and not bias:
            raise ValidationError("a Coeff head needs at least one feature or the bias, got neither")

    @property
    def feature_names(self) -> tuple[str, ...]:
        if self.features is None:
            raise ValidationError(f"{type(self).__name__} has no features yet: pass features= or resolve it on a dataset")
        return self.features

    def n_outputs(self) -> int:
        return len(self.feature_names) + int(self.bias)

    def weights(self, output: torch.Tensor) -> torch.Tensor:
        return coefficient_weights(output, self.coefficient_scale)

    def _feat(self, encoded: "EncodedObservation") -> torch.Tensor:
        """feat(x) in units: features (normalised by s in the encoding) times s."""
        return encoded.coeff_features * encoded.scale.unsqueeze(1)

    def unclipped_order(self, output: torch.Tensor, encoded: "EncodedObservation") -> torch.Tensor:
        return coeff_order(self.weights(output), self._feat(encoded))

    def explain(self, output: torch.Tensor, encoded: "EncodedObservation") -> dict[str, torch.Tensor]:
        return {"coefficient": self.weights(output)}

    def output_unit(self, action_range: float) -> float:
        # every feature is about one demand scale: equal outputs z give q = z * range scales
        return action_range / (self.n_outputs() * self.coefficient_scale)

    def resolve(self, feature_names: Sequence[str], roles: Mapping[str, Any]) -> "CoeffHead":
        features = self.features
        if features is None:
            features = [n for n in feature_names if getattr(roles.get(n), "role", roles.get(n)) in DEMAND_UNIT_ROLES]
            if not features:
                raise ValidationError(
                    f"the {self.name} regularization needs demand features: pass {type(self).__name__}(features=[...]) "
                    "or use a dataset with features of role 'quantity' or 'forecast' (orkit.data.schema; declare them "
                    "with feature_roles=..., orkit: --feature-role NAME=quantity)"
                )
        missing = [f for f in features if f not in feature_names]
        if missing:
            raise ValidationError(
                f"{self.name} feature {missing[0]!r} is not in the dataset; it has {list(feature_names)}"
            )
        return type(self)(tuple(features), coefficient_scale=self.coefficient_scale, bias=self.bias)

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "features": None if self.features is None else list(self.features),
                "coefficient_scale": self.coefficient_scale, "bias": self.bias}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(features={self.features}, coefficient_scale={self.coefficient_scale:g}, bias={self.bias})"


class BothHead(CoeffHead):
    """Both: ``q = max(mu(I, x)^T feat(x) - tot(I), 0)`` (parameters as :class:`CoeffHead`)."""

    name = "both"

    def unclipped_order(self, output: torch.Tensor, encoded: "EncodedObservation") -> torch.Tensor:
        return coeff_order(self.weights(output), self._feat(encoded)) - encoded.inventory_position

    def explain(self, output: torch.Tensor, encoded: "EncodedObservation") -> dict[str, torch.Tensor]:
        weights = self.weights(output)
        return {"target_level": coeff_order(weights, self._feat(encoded)), "coefficient": weights}


_HEADS: dict[str, type[RegularizationHead]] = {"none": NoneHead, "base": BaseHead, "coeff": CoeffHead, "both": BothHead}


def make_head(regularization: "str | RegularizationHead") -> RegularizationHead:
    """The head for a regularization name (``"none"``, ``"base"``, ``"coeff"``, ``"both"``) or a head itself."""
    if isinstance(regularization, RegularizationHead):
        return regularization
    if not isinstance(regularization, str) or regularization.lower() not in _HEADS:
        raise ValidationError(f"regularization must be one of {', '.join(map(repr, REGULARIZATIONS))}, got {regularization!r}")
    return _HEADS[regularization.lower()]()


def head_from_config(config: dict[str, Any]) -> RegularizationHead:
    """Inverse of :meth:`RegularizationHead.to_config`."""
    config = dict(config)
    name = config.pop("name")
    cls = _HEADS[name]
    if issubclass(cls, CoeffHead):
        features = config.pop("features", None)
        return cls(None if features is None else tuple(features), **config)
    return cls()
