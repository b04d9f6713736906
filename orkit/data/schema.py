"""Feature roles: how each feature of a :class:`~orkit.data.Dataset` is used, generated or read.

Every feature column has one role, stored in the dataset (:attr:`Dataset.feature_roles`),
written to its files (the CSV sidecar, the Parquet schema metadata) and read back, so that a
dataset trains the same whether it was generated, loaded from a frame or read from a file.
The learners' input encoder, the contextual heuristics and the two-stage forecaster read only
the roles (never a generator's metadata keys):

``numeric``
    A plain number (a price, a temperature, a flag): standardised with its training mean and
    standard deviation by the networks, used as it is by the heuristics and the forecaster.
``quantity``
    Measured in demand units (a moving average of demand, a demand level): the networks divide
    it by each SKU's demand scale instead of standardising it, so that one network serves fast
    and slow movers; the Coeff head multiplies these (and the ``forecast`` features) by default.
``forecast``
    A demand forecast per period, in demand units: a ``quantity`` that the two-stage policy
    can use instead of its own forecaster (``TwoStagePolicy(forecast="column")``).
``categorical``
    A code naming a category (a store, a product group, DeepStock setting 1's period index):
    one-hot encoded over ``categories`` when they are declared, else over the values seen in
    training (an unseen value encodes as all zeros). Codes are numbers (a text column is
    refused when read: map it to codes first).
``calendar``
    A calendar part of the period's date, ``part`` one of :data:`CALENDAR_PARTS`
    (``weekday``: 0 = Monday ... 6 = Sunday, ``month``: 1-12, ``day_of_month``: 1-31,
    ``week_of_year``: ISO week 1-53, ``day_of_year``: 1-366), derived from the dates by
    :meth:`Dataset.with_calendar_features`. One-hot encoded over all the part's values; the
    two-stage forecaster reads it as the calendar of the periods it forecasts.

**Inference for undeclared columns.** A feature whose role is not declared is ``numeric``,
except in files written before roles existed, whose metadata keys ``coeff_features`` and
``categorical_features`` (orkit's generators set them) make those features ``quantity`` and
``categorical``. A role is declared with :class:`FeatureRole` or its short text form:
``"numeric"``, ``"quantity"``, ``"forecast"``, ``"categorical"``, ``"categorical:1,2,3"``
(with its categories), ``"calendar:weekday"`` (``"calendar"`` alone when the feature is named
after its part, e.g. ``weekday``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from orkit.core.errors import ValidationError

__all__ = ["CALENDAR_PARTS", "FEATURE_ROLES", "FeatureRole", "parse_role", "parse_roles"]

#: the roles a feature may have (module docstring)
FEATURE_ROLES: tuple[str, ...] = ("numeric", "quantity", "forecast", "categorical", "calendar")

#: the calendar parts, with the values each takes
CALENDAR_PARTS: dict[str, tuple[int, ...]] = {
    "weekday": tuple(range(7)),
    "month": tuple(range(1, 13)),
    "day_of_month": tuple(range(1, 32)),
    "week_of_year": tuple(range(1, 54)),
    "day_of_year": tuple(range(1, 367)),
}

#: roles whose values are in demand units (divided by the demand scale in the networks)
DEMAND_UNIT_ROLES: tuple[str, ...] = ("quantity", "forecast")


@dataclass(frozen=True)
class FeatureRole:
    """How one feature is used (module docstring).

    Parameters
    ----------
    role : {"numeric", "quantity", "forecast", "categorical", "calendar"}
    categories : sequence of float, optional
        ``categorical`` only: the category codes, one-hot encoded in sorted order. ``None``:
        the values seen in training.
    part : str, optional
        ``calendar`` only (required): one of :data:`CALENDAR_PARTS`.

    Examples
    --------
    >>> FeatureRole("categorical", categories=(3, 1)).categories
    (1.0, 3.0)
    >>> parse_role("calendar:weekday", "wd")
    FeatureRole(role='calendar', categories=None, part='weekday')
    """

    role: str
    categories: tuple[float, ...] | None = None
    part: str | None = None

    def __post_init__(self) -> None:
        if self.role not in FEATURE_ROLES:
            raise ValidationError(f"feature role must be one of {', '.join(map(repr, FEATURE_ROLES))}, got {self.role!r}")
        if self.categories is not None:
            if self.role != "categorical":
                raise ValidationError(f"categories apply to the categorical role only, got role {self.role!r}")
            values = np.asarray(list(self.categories), dtype=object)
            try:
                numbers = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValidationError(f"categories must be numbers (category codes), got {list(self.categories)!r}") \
                    from None
            if numbers.ndim != 1 or numbers.size == 0 or not np.isfinite(numbers).all():
                raise ValidationError(f"categories must be a non-empty list of finite numbers, got "
                                      f"{list(self.categories)!r}")
            unique = np.unique(numbers)
            if unique.size != numbers.size:
                raise ValidationError(f"categories must be distinct, got {list(self.categories)!r}")
            object.__setattr__(self, "categories", tuple(float(v) for v in unique))
        if self.role == "calendar":
            if self.part not in CALENDAR_PARTS:
                raise ValidationError(f"calendar part must be one of {', '.join(map(repr, CALENDAR_PARTS))}, "
                                      f"got {self.part!r}")
        elif self.part is not None:
            raise ValidationError(f"part applies to the calendar role only, got role {self.role!r}")

    @property
    def levels(self) -> tuple[float, ...] | None:
        """The values one-hot encoded: the declared categories, every value of a calendar part,
        or ``None`` (a numeric role, or categories taken from the training data)."""
        if self.role == "calendar":
            return tuple(float(v) for v in CALENDAR_PARTS[self.part])  # type: ignore[index]
        return self.categories

    @property
    def one_hot(self) -> bool:
        """Whether the networks encode the feature one-hot (categorical and calendar)."""
        return self.role in ("categorical", "calendar")

    @property
    def demand_units(self) -> bool:
        """Whether the feature is measured in demand units (quantity and forecast)."""
        return self.role in DEMAND_UNIT_ROLES

    def to_json(self) -> Any:
        """The role as written in dataset files: its name, or a dict with its categories or part."""
        if self.categories is None and self.part is None:
            return self.role
        out: dict[str, Any] = {"role": self.role}
        if self.categories is not None:
            out["categories"] = [int(v) if float(v).is_integer() else v for v in self.categories]
        if self.part is not None:
            out["part"] = self.part
        return out

    def __str__(self) -> str:
        if self.categories is not None:
            return f"categorical:{','.join(str(int(v)) if v.is_integer() else str(v) for v in self.categories)}"
        return f"calendar:{self.part}" if self.part is not None else self.role


def parse_role(value: Any, feature: str) -> FeatureRole:
    """A :class:`FeatureRole` from a role, its text form (``"categorical:1,2"``,
    ``"calendar:weekday"``) or its JSON form (``{"role": ..., "categories": ...}``);
    ``feature`` names the feature in errors (and is the calendar part of ``"calendar"`` alone)."""
    try:
        if isinstance(value, FeatureRole):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"role", "categories", "part"})
            if unknown or "role" not in value:
                raise ValidationError(f"a role as a dict holds 'role' and optionally 'categories' or 'part', got "
                                      f"{dict(value)!r}")
            categories = value.get("categories")
            return FeatureRole(str(value["role"]), None if categories is None else tuple(categories), value.get("part"))
        if not isinstance(value, str):
            raise ValidationError(f"a role must be a string such as 'numeric' or 'categorical:1,2,3', got {value!r}")
        role, _, detail = value.strip().partition(":")
        role = role.strip()
        if role == "categorical" and detail.strip():
            try:
                categories = tuple(float(v) for v in detail.split(","))
            except ValueError:
                raise ValidationError(f"categories must be numbers separated by commas, got {detail!r}") from None
            return FeatureRole("categorical", categories)
        if role == "calendar":
            part = detail.strip() or feature
            if part not in CALENDAR_PARTS:
                raise ValidationError(f"a calendar role names its part, e.g. 'calendar:weekday' (parts: "
                                      f"{', '.join(CALENDAR_PARTS)}), got {value!r}")
            return FeatureRole("calendar", part=part)
        if detail.strip():
            raise ValidationError(f"only the categorical and calendar roles take a ':' detail, got {value!r}")
        return FeatureRole(role)
    except ValidationError as exc:
        raise ValidationError(f"feature_roles[{feature!r}]: {exc}") from None


def parse_roles(roles: Any, names: tuple[str, ...] | None = None) -> dict[str, FeatureRole]:
    """``{feature: FeatureRole}`` from a mapping of feature names to roles (any form of
    :func:`parse_role`) or a sequence of ``"name=role"`` texts (the command line's form); with
    ``names``, every key must be one of them (a ValidationError naming the others otherwise)."""
    if roles is None:
        return {}
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, Mapping):
        pairs: dict[str, Any] = {}
        for text in roles:
            if not isinstance(text, str) or "=" not in text:
                raise ValidationError(f"feature roles must be given as NAME=ROLE (e.g. price=numeric), got {text!r}")
            name, _, role = text.partition("=")
            pairs[name.strip()] = role.strip()
        roles = pairs
    parsed = {str(name): parse_role(role, str(name)) for name, role in roles.items()}
    if names is not None:
        unknown = [n for n in parsed if n not in names]
        if unknown:
            raise ValidationError(f"feature_roles names {unknown[0]!r}, which is not a feature; the features are "
                                  f"{list(names)}")
    return parsed


def infer_roles(names: tuple[str, ...], declared: Mapping[str, FeatureRole],
                metadata: Mapping[str, Any]) -> dict[str, FeatureRole]:
    """The role of every feature: declared, else from the legacy metadata keys, else numeric."""
    quantity = set(metadata.get("coeff_features") or ()) if isinstance(metadata.get("coeff_features"), (list, tuple)) \
        else set()
    categorical = set(metadata.get("categorical_features") or ()) \
        if isinstance(metadata.get("categorical_features"), (list, tuple)) else set()
    roles = {}
    for name in names:
        if name in declared:
            roles[name] = declared[name]
        elif name in categorical:
            roles[name] = FeatureRole("categorical")
        elif name in quantity:
            roles[name] = FeatureRole("quantity")
        else:
            roles[name] = FeatureRole("numeric")
    return roles
