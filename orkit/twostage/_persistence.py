"""The forecaster's regressor in a saved policy folder: skops with an explicit list of trusted types.

skops (``skops.io``) stores a fitted estimator as a zip of JSON and ``.npy`` arrays and, when
loading, constructs only the types it is told to trust: scikit-learn's estimators and plain
numpy / scipy containers by default, plus the list below, which names the fitted internals of
the regressors a forecaster is likely to hold (trees, tree predictors, neighbour indexes). A
file naming any other type is refused with the type named; a regressor that would need one is
refused at save. (orkit.heuristics keeps its own list: the families never import each other.)
"""

from __future__ import annotations

from typing import Any

from orkit.core.errors import PersistenceError, ValidationError
from orkit.core.persistence import ExternalFile, FileRef

__all__ = ["TRUSTED_TYPES", "skops_file", "load_skops"]

#: what the fitted models of orkit.twostage hold beyond skops' default trusted types
TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
]


def skops_file(name: str, model: Any) -> ExternalFile:
    """``model`` as the bytes of ``name`` (a ``.skops`` file), refusing types orkit does not trust."""
    import skops.io

    data = skops.io.dumps(model)
    untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ValidationError(
            f"{type(model).__name__} cannot be saved: loading it would need types orkit does not trust "
            f"({', '.join(untrusted)})"
        )
    return ExternalFile(name, data)


def load_skops(ref: Any, expected: tuple[type, ...], where: str) -> Any:
    """The model in ``ref`` (a :class:`FileRef`), which must be an instance of ``expected``."""
    import skops.io

    if not isinstance(ref, FileRef):
        raise PersistenceError(f"{where} must refer to a .skops file, got {ref!r}")
    model = ref.load(lambda data: skops.io.loads(data, trusted=TRUSTED_TYPES), "a scikit-learn model")
    if not isinstance(model, expected):
        raise PersistenceError(
            f"{ref.path} must hold a {' or '.join(t.__name__ for t in expected)}, got {type(model).__name__}"
        )
    return model
