"""scikit-learn's estimator protocol without scikit-learn: parameters, clone and repr.

Every orkit policy is a scikit-learn estimator in fact: ``get_params``, ``set_params``,
``sklearn.base.clone`` and the repr follow scikit-learn's rules (``BaseEstimator``), so tuning
and model-selection tools work on them. orkit.core may not import scikit-learn, so the protocol
is written out here, in :class:`Estimator`:

- the constructor stores each argument unchanged under its own name (validation happens in
  ``fit``, or at once for values a policy uses without ``fit``, such as a given level);
- ``get_params(deep=True)`` lists the ``__init__`` parameters, and those of nested estimators
  as ``name__sub``;
- ``set_params(name=value, name__sub=value)`` changes them; an unknown name raises
  :class:`~orkit.core.errors.ValidationError`;
- :func:`clone` (and ``sklearn.base.clone``, which delegates to ``__sklearn_clone__``) builds
  a new, unfitted estimator with copies of the same parameters;
- the repr shows the parameters that differ from their defaults, arrays summarised
  (``BaseStockPolicy(level=<50 values>)``).
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, ClassVar

import numpy as np
import torch

from orkit.core.errors import ValidationError

__all__ = ["Estimator", "clone"]

_NO_DEFAULT = inspect.Parameter.empty
_LONG_SEQUENCE = 8  # longer lists and tuples of numbers are summarised in a repr


class Estimator:
    """Mixin giving a class scikit-learn's ``get_params`` / ``set_params`` / clone / repr.

    The parameters are the named arguments of ``__init__`` (``self`` and ``**kwargs`` aside);
    the constructor must store each one unchanged as an attribute of the same name.

    Subclasses may set:

    - ``_shared_parameters``: parameters :func:`clone` passes on as they are instead of
      cloning them (a fitted teacher policy, a callback), as scikit-learn does for callbacks;
    - ``_parameters_changed(names)``: called by :meth:`set_params` with the names it changed,
      for classes whose constructor prepares state from a parameter.

    Examples
    --------
    >>> class Smoother(Estimator):
    ...     def __init__(self, alpha=0.5, *, window=7):
    ...         self.alpha = alpha
    ...         self.window = window
    >>> Smoother(window=14)
    Smoother(window=14)
    >>> Smoother().set_params(alpha=0.2).get_params()
    {'alpha': 0.2, 'window': 7}
    >>> Smoother().set_params(beta=1)
    Traceback (most recent call last):
    ...
    orkit.core.errors.ValidationError: Smoother has no parameter 'beta'; its parameters are alpha, window
    """

    _shared_parameters: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ parameter names
    @classmethod
    def _init_parameters(cls) -> list[inspect.Parameter]:
        if cls.__init__ is object.__init__:
            return []
        parameters = []
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name == "self" or p.kind is p.VAR_KEYWORD:
                continue
            if p.kind is p.VAR_POSITIONAL:
                # scikit-learn's rule: clone and set_params need every parameter by name
                raise TypeError(f"{cls.__name__}.__init__ must not take *{p.name}: parameters are named")
            parameters.append(p)
        return parameters

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, in signature order."""
        return [p.name for p in cls._init_parameters()]

    def _param_defaults(self) -> dict[str, Any]:
        """Default of every parameter (``inspect.Parameter.empty`` when it has none)."""
        return {p.name: p.default for p in self._init_parameters()}

    def _params(self) -> dict[str, Any]:
        """Every parameter and its value (``get_params(deep=False)``)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def _set_param(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def _parameters_changed(self, names: set[str]) -> None:
        """Hook: :meth:`set_params` changed ``names`` (nothing to do by default)."""

    # ------------------------------------------------------------------ the protocol
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters of this estimator (scikit-learn's ``get_params``).

        Parameters
        ----------
        deep : bool, default=True
            Also list the parameters of nested estimators as ``name__parameter``.

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {}
        for name, value in self._params().items():
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{key}", sub) for key, sub in value.get_params(deep=True).items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> "Estimator":
        """Set parameters (scikit-learn's ``set_params``); ``name__sub`` reaches a nested estimator.

        Fitted state is left as it is: fit again for the new values to take effect (a value
        used without fit, such as a given level, takes effect at once).

        Returns
        -------
        self

        Raises
        ------
        ValidationError
            A name that is not a parameter (or a ``name__sub`` whose ``name`` holds no estimator).
        """
        if not params:
            return self
        current = self._params()
        nested: dict[str, dict[str, Any]] = {}
        changed: set[str] = set()
        for key, value in params.items():
            name, separator, sub = key.partition("__")
            if name not in current:
                raise ValidationError(
                    f"{type(self).__name__} has no parameter {name!r}; its parameters are {', '.join(current)}"
                )
            if separator:
                nested.setdefault(name, {})[sub] = value
            else:
                self._set_param(name, value)
                current[name] = value
                changed.add(name)
        for name, sub_params in nested.items():
            target = current[name]
            if not hasattr(target, "set_params"):
                raise ValidationError(
                    f"{type(self).__name__} parameter {name!r} holds {type(target).__name__}, which has no "
                    f"parameters to set; got {', '.join(f'{name}__{k}' for k in sub_params)}"
                )
            target.set_params(**sub_params)
            changed.add(name)
        self._parameters_changed(changed)
        return self

    def _clone_params(self) -> dict[str, Any]:
        """The arguments a clone is built with (``get_params(deep=False)`` by default)."""
        return self._params()

    def __sklearn_clone__(self) -> "Estimator":
        """A new unfitted estimator with copies of the same parameters (see :func:`clone`)."""
        given = {
            name: value if name in self._shared_parameters else clone(value, safe=False)
            for name, value in self._clone_params().items()
        }
        new = type(self)(**given)
        stored = new._params()
        for name, value in given.items():
            if stored[name] is not value:
                # scikit-learn's sanity check: a constructor that converts its arguments breaks clone
                raise RuntimeError(
                    f"cannot clone {type(self).__name__}: its constructor does not store parameter {name!r} as given"
                )
        return new

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        shown = [
            f"{name}={_summary(value)}"
            for name, value in self._params().items()
            if _differs(value, defaults.get(name, _NO_DEFAULT))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


def clone(estimator: Any, *, safe: bool = True) -> Any:
    """A new unfitted estimator with the same parameters (``sklearn.base.clone``'s rules).

    Lists, tuples, sets and dicts are cloned element by element; an object with
    ``__sklearn_clone__`` (every orkit policy, every scikit-learn estimator) clones itself;
    anything else is deep-copied when ``safe=False`` and refused otherwise.

    Parameters
    ----------
    estimator : estimator, or a list, tuple, set or dict of them
    safe : bool, default=True
        Refuse objects that are not estimators (``False``: deep-copy them).

    Examples
    --------
    >>> class Level(Estimator):
    ...     def __init__(self, level=None):
    ...         self.level = level
    >>> fitted = Level(10.0)
    >>> fitted.level_ = 10.0
    >>> twin = clone(fitted)
    >>> twin, hasattr(twin, "level_")
    (Level(level=10.0), False)
    """
    kind = type(estimator)
    if kind is dict:
        return {k: clone(v, safe=safe) for k, v in estimator.items()}
    if kind in (list, tuple, set, frozenset):
        return kind(clone(e, safe=safe) for e in estimator)
    if isinstance(estimator, type) or not hasattr(estimator, "get_params"):
        if not safe:
            return copy.deepcopy(estimator)
        raise ValidationError(
            f"estimator must have get_params to be cloned, got {type(estimator).__name__}"
        )
    if hasattr(estimator, "__sklearn_clone__"):
        return estimator.__sklearn_clone__()
    given = {name: clone(value, safe=False) for name, value in estimator.get_params(deep=False).items()}
    return type(estimator)(**given)


# ---------------------------------------------------------------------------------- repr helpers
def _is_array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor))


def _differs(value: Any, default: Any) -> bool:
    """Whether a parameter value differs from its default (arrays always do)."""
    if default is _NO_DEFAULT:
        return True
    if value is default:
        return False
    if _is_array(value) or _is_array(default):
        return True
    if isinstance(value, float) and isinstance(default, float) and math.isnan(value) and math.isnan(default):
        return False
    try:
        return bool(value != default)
    except Exception:  # objects whose comparison is not a plain bool
        return True


def _summary(value: Any) -> str:
    """A short text for a parameter value: arrays and long number sequences summarised."""
    if _is_array(value):
        if value.ndim == 0:
            return repr(value.item())
        if value.ndim == 1:
            return f"<{value.shape[0]} values>"
        return f"<array of shape {tuple(value.shape)}>"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, (list, tuple)) and len(value) > _LONG_SEQUENCE and all(
        isinstance(v, (int, float, np.number)) for v in value
    ):
        return f"<{len(value)} values>"
    return repr(value)
