r"""Data-driven (contextual) newsvendors: order up to a predicted quantile of demand.

All three policies learn, from the training trajectories, the conditional
:math:`b/(b+h)`-quantile of the demand over the periods an order covers given the features
:math:`x_r` seen on the review day :math:`r`, and order up to it:
:math:`q_r = \max(\hat S(x_r) - \mathrm{tot}(I_r), 0)`.

Training rows: every review day :math:`r` of every training trajectory gives :math:`P` rows with
features :math:`x_r` and targets :math:`D[r..r+L+j]`, :math:`j = 0..P-1` (the demand each
covered period's end-of-period inventory depends on; see
:func:`~orkit.heuristics.review_window_demand`). Minimising the pinball (quantile) loss over
these rows minimises the sample backorder cost of every covered period.

- :class:`QuantileRegressionNewsvendorPolicy`: linear quantile regression (Koenker & Bassett
  1978), solved exactly as a linear program by HiGHS through
  ``sklearn.linear_model.QuantileRegressor``; the "big data newsvendor" of Ban & Rudin (2019,
  *Oper. Res.* 67(1)).
- :class:`GradientBoostingNewsvendorPolicy`: gradient-boosted trees with the pinball loss
  (``sklearn.ensemble.GradientBoostingRegressor(loss="quantile")``, or the histogram variant).
- :class:`WeightedSAANewsvendorPolicy`: weighted sample average approximation (Bertsimas &
  Kallus 2020, "From predictive to prescriptive analytics", *Manag. Sci.* 66(3)): the quantile
  of the training targets weighted by their similarity to :math:`x_r`, with k-nearest-neighbour
  weights (equal weight on the :math:`k` closest review days, features standardised) or
  random-forest weights :math:`w_i(x) = \frac{1}{T}\sum_t 1\{\ell_t(x_i) = \ell_t(x)\} /
  |\ell_t(x)|` (Meinshausen 2006, quantile regression forests).

**Features and their roles.** The features are read as the dataset's schema says
(:attr:`Dataset.feature_roles <orkit.data.Dataset.feature_roles>`): a feature of role
``categorical`` or ``calendar`` becomes one 0/1 input per category (its declared categories,
the calendar part's values, or else the values seen in training; another value reads as all
zeros), so a store code or a weekday is not taken as a quantity; every other feature is used as
it is (the k-nearest-neighbour weights standardise every input). ``feature_names_`` names the
model's inputs (``weekday=5`` for a one-hot column), ``categories_`` the one-hot levels.

scikit-learn is imported when a policy is fitted, not when orkit is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from orkit.core.errors import ValidationError
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_choice, check_float, check_int
from orkit.core.persistence import load_skops, skops_file
from orkit.heuristics._training import observation_features, shared_critical_ratio, training_samples
from orkit.heuristics.distributions import Empirical

__all__ = [
    "QuantileRegressionNewsvendorPolicy",
    "GradientBoostingNewsvendorPolicy",
    "WeightedSAANewsvendorPolicy",
]


def _one_hot_inputs(train: Any, X: np.ndarray, names: tuple[str, ...], demand_lags: int
                    ) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], dict[str, list[float]]]:
    """The training rows with categorical and calendar features one-hot (module docstring):
    (X, input names, feature columns read from observations, categories)."""
    lags = check_int("demand_lags", demand_lags, minimum=0)
    columns = names[: len(names) - lags]
    roles = dict(getattr(train, "feature_roles", {}) or {})
    categories: dict[str, list[float]] = {}
    for j, name in enumerate(columns):
        role = roles.get(name)
        if role is not None and role.one_hot:
            levels = role.levels if role.levels is not None else np.unique(X[:, j]).tolist()
            if len(levels) > 1000:
                raise ValidationError(f"categorical feature {name!r} has {len(levels)} distinct training values; at most "
                                      "1000 can be encoded one-hot (is it a quantity? declare its role numeric)")
            categories[name] = [float(v) for v in levels]
    return _encode(X, columns, categories), _input_names(columns, categories) + names[len(columns):], columns, \
        categories


def _input_names(columns: tuple[str, ...], categories: dict[str, list[float]]) -> tuple[str, ...]:
    return tuple(n for c in columns for n in ([f"{c}={v:g}" for v in categories[c]] if c in categories else [c]))


def _encode(X: np.ndarray, columns: tuple[str, ...], categories: dict[str, list[float]]) -> np.ndarray:
    """``X`` (rows, len(columns) + lags) with each categorical column replaced by its one-hot columns."""
    if not categories:
        return X
    parts = []
    for j, name in enumerate(columns):
        if name in categories:
            parts.append((X[:, j, None] == np.asarray(categories[name])[None, :]).astype(X.dtype))
        else:
            parts.append(X[:, j, None])
    parts.append(X[:, len(columns):])
    return np.concatenate(parts, axis=1)


def _feature_columns(names: tuple[str, ...], categories: Any) -> tuple[str, ...]:
    """The feature columns of the input names ``names`` (without demand lags) and ``categories``."""
    if not isinstance(categories, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and len(v) for k, v in categories.items()):
        raise ValidationError(f"categories_ must map feature names to their one-hot levels, got {categories!r}")
    columns, i = [], 0
    while i < len(names):
        for name, levels in categories.items():
            width = len(levels)
            if names[i: i + width] == tuple(f"{name}={float(v):g}" for v in levels):
                columns.append(name)
                i += width
                break
        else:
            columns.append(names[i])
            i += 1
    missing = [c for c in categories if c not in columns]
    if missing:
        raise ValidationError(f"feature_names_ must hold the one-hot inputs of {missing[0]!r}, got {names!r}")
    return tuple(columns)


class _ContextualNewsvendor(SavablePolicy):
    """Shared fit / act / save: subclasses implement ``_fit_model(X, y, q)`` and ``_predict(X)``.

    The model is saved with skops (``model_.skops``), read back with the trusted types of
    :mod:`orkit.heuristics._persistence`; it must be one of ``_model_classes()``.
    """

    features: Any
    demand_lags: int
    _saved_attributes = ("feature_names_", "model_", "categories_")

    def fit(self, train: Any, validation: Any, problem: InventoryProblem):
        """Fit the quantile model on ``train`` (``validation`` is not used)."""
        problem = problem.for_data(train)
        q = shared_critical_ratio(problem, type(self).__name__)
        X, y, names = training_samples(train, problem, self.features, self.demand_lags, type(self).__name__)
        X, self.feature_names_, self._columns, self.categories_ = _one_hot_inputs(train, X, names, self.demand_lags)
        self._fit_model(X, y, q, problem.review_period)
        self.model_ = self._model
        self.per_sku_, self.sku_ids_ = False, None  # one model serves every SKU
        return self

    @staticmethod
    def _model_classes() -> tuple[type, ...]:
        raise NotImplementedError

    def _saved_state(self) -> dict[str, Any]:
        state = super()._saved_state()
        state["model_"] = skops_file("model_.skops", self.model_)
        return state

    def _restore_state(self, state: dict[str, Any]) -> None:
        super()._restore_state(state)
        self.model_ = self._model = load_skops(self.model_, self._model_classes(), "state.model_")
        names = self.feature_names_
        if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
            raise ValidationError(f"feature_names_ must be a tuple of str, got {names!r}")
        lags = check_int("demand_lags", self.demand_lags, minimum=0)
        if lags > len(names):
            raise ValidationError(f"feature_names_ must hold the {lags} demand lags, got {names!r}")
        self._columns = _feature_columns(names[: len(names) - lags], self.categories_)
        n_inputs = getattr(self._model, "n_features_in_", len(names))
        if n_inputs != len(names):
            raise ValidationError(f"model_ must read one input per feature name ({len(names)}), got {n_inputs}")

    def level(self, obs: Observation) -> torch.Tensor:
        """Predicted order-up-to level of every SKU on this review day."""
        check_is_fitted(self, ("model_",))
        x = observation_features(obs, self._columns, self.demand_lags)
        pred = self._predict(_encode(x.detach().cpu().numpy().astype(np.float64), self._columns, self.categories_))
        return torch.as_tensor(pred, dtype=obs.inventory_position.dtype, device=obs.inventory_position.device)

    def act(self, obs: Observation) -> torch.Tensor:
        return torch.clamp(self.level(obs) - obs.inventory_position, min=0)

    def _fit_model(self, X: np.ndarray, y: np.ndarray, q: float, review_period: Any) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class QuantileRegressionNewsvendorPolicy(_ContextualNewsvendor):
    r"""Linear quantile regression newsvendor: :math:`\hat S(x) = a + \beta^\top x`.

    Parameters
    ----------
    features : str or sequence of str, optional
        Dataset features used as regressors; default: all of them.
    demand_lags : int, default=0
        Also use the demand of the last ``demand_lags`` periods (most recent first).
    alpha : float, default=0.0
        L1 penalty on :math:`\beta` (``QuantileRegressor(alpha=...)``); 0 is plain SAA.

    Attributes
    ----------
    model_ : sklearn.linear_model.QuantileRegressor
    feature_names_ : tuple of str
    """

    policy_name = "quantile-regression-newsvendor"

    def __init__(self, features: Any = None, *, demand_lags: int = 0, alpha: float = 0.0) -> None:
        self.features = features
        self.demand_lags = demand_lags
        self.alpha = alpha

    @staticmethod
    def _model_classes() -> tuple[type, ...]:
        from sklearn.linear_model import QuantileRegressor

        return (QuantileRegressor,)

    def _fit_model(self, X: np.ndarray, y: np.ndarray, q: float, review_period: Any) -> None:
        from sklearn.linear_model import QuantileRegressor

        self._model = QuantileRegressor(quantile=q, alpha=self.alpha, solver="highs").fit(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._model.predict(X)


class GradientBoostingNewsvendorPolicy(_ContextualNewsvendor):
    """Gradient-boosted quantile regression newsvendor (trees fitted to the pinball loss).

    Uses ``sklearn.ensemble.GradientBoostingRegressor(loss="quantile")``: single-threaded and
    deterministic, fast for the thousands of rows of a typical training set. ``histogram=True``
    switches to ``HistGradientBoostingRegressor(loss="quantile")`` (multi-threaded, for
    millions of rows).

    Parameters
    ----------
    features : str or sequence of str, optional
    demand_lags : int, default=0
    n_estimators : int, default=200
        Boosting iterations.
    learning_rate : float, default=0.1
    max_leaf_nodes : int, default=15
    min_samples_leaf : int, default=20
    histogram : bool, default=False
    random_state : int, default=0

    Attributes
    ----------
    model_ : sklearn.ensemble.GradientBoostingRegressor or HistGradientBoostingRegressor
    """

    policy_name = "gradient-boosting-newsvendor"

    def __init__(
        self,
        features: Any = None,
        *,
        demand_lags: int = 0,
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        histogram: bool = False,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.demand_lags = demand_lags
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.histogram = histogram
        self.random_state = random_state

    def _model_classes(self) -> tuple[type, ...]:
        from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor

        return (HistGradientBoostingRegressor,) if self.histogram else (GradientBoostingRegressor,)

    def _fit_model(self, X: np.ndarray, y: np.ndarray, q: float, review_period: Any) -> None:
        if self.histogram:
            from sklearn.ensemble import HistGradientBoostingRegressor

            model = HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                max_iter=self.n_estimators,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                early_stopping=False,
                random_state=self.random_state,
            )
        else:
            from sklearn.ensemble import GradientBoostingRegressor

            model = GradientBoostingRegressor(
                loss="quantile",
                alpha=q,
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                random_state=self.random_state,
            )
        self._model = model.fit(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._model.predict(X)


class WeightedSAANewsvendorPolicy(_ContextualNewsvendor):
    """Weighted SAA newsvendor with k-nearest-neighbour or random-forest weights.

    Parameters
    ----------
    features : str or sequence of str, optional
    demand_lags : int, default=0
    weights : {"knn", "random-forest"}, default="knn"
    n_neighbors : int, default=20
        Review days whose targets form the kNN sample (each contributes its ``P`` targets).
    n_estimators : int, default=100
        Trees of the random forest.
    min_samples_leaf : int, default=10
        Smallest leaf of the random forest (larger leaves give smoother weights).
    random_state : int, default=0

    Attributes
    ----------
    model_ : sklearn.neighbors.NearestNeighbors or sklearn.ensemble.RandomForestRegressor
    """

    policy_name = "weighted-saa-newsvendor"
    _saved_attributes = ("feature_names_", "model_", "categories_", "quantile_", "targets_", "feature_mean_",
                         "feature_scale_",
                         "leaf_offsets_", "leaf_membership_")

    def __init__(
        self,
        features: Any = None,
        *,
        demand_lags: int = 0,
        weights: str = "knn",
        n_neighbors: int = 20,
        n_estimators: int = 100,
        min_samples_leaf: int = 10,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.demand_lags = demand_lags
        self.weights = weights
        self.n_neighbors = n_neighbors
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    @classmethod
    def _fitted_attributes(cls) -> tuple[str, ...]:
        return ("feature_names_", "model_", "per_sku_", "sku_ids_")

    def _model_classes(self) -> tuple[type, ...]:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.neighbors import NearestNeighbors

        return (NearestNeighbors,) if self.weights == "knn" else (RandomForestRegressor,)

    def _saved_state(self) -> dict[str, Any]:
        knn = self.weights == "knn"
        membership = None if knn else {
            "data": self._membership.data, "indices": self._membership.indices,
            "indptr": self._membership.indptr, "shape": list(self._membership.shape),
        }
        return {
            "feature_names_": self.feature_names_,
            "model_": skops_file("model_.skops", self.model_),
            "categories_": self.categories_,
            "quantile_": self._q,
            "targets_": self._targets,
            "feature_mean_": self._mean if knn else None,
            "feature_scale_": self._scale if knn else None,
            "leaf_offsets_": None if knn else self._leaf_offsets,
            "leaf_membership_": membership,
            "per_sku_": self.per_sku_,
            "sku_ids_": self.sku_ids_,
        }

    def _restore_state(self, state: dict[str, Any]) -> None:
        check_choice("weights", self.weights, ("knn", "random-forest"))
        state = dict(state)
        self._q = check_float("quantile_", state.pop("quantile_"), minimum=0, maximum=1)
        self._targets = np.asarray(state.pop("targets_"), dtype=np.float64)
        mean, scale = state.pop("feature_mean_"), state.pop("feature_scale_")
        offsets, membership = state.pop("leaf_offsets_"), state.pop("leaf_membership_")
        super()._restore_state(state)
        if self.weights == "knn":
            self._mean, self._scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
            shapes = {self._mean.shape, self._scale.shape, (len(self.feature_names_),)}
            if len(shapes) != 1 or self._targets.ndim != 2:
                raise ValidationError(
                    f"feature_mean_ and feature_scale_ must have one value per feature, and targets_ shape "
                    f"(n_reviews, P); got {self._mean.shape}, {self._scale.shape} and {self._targets.shape}"
                )
        else:
            import scipy.sparse as sp

            self._leaf_offsets = np.asarray(offsets)
            self._membership = sp.csr_matrix(
                (membership["data"], membership["indices"], membership["indptr"]), shape=tuple(membership["shape"])
            )
            if self._membership.shape != (self._targets.shape[0], int(self._leaf_offsets[-1])):
                raise ValidationError(
                    f"leaf_membership_ must have shape (targets, leaves) = ({self._targets.shape[0]}, "
                    f"{int(self._leaf_offsets[-1])}), got {self._membership.shape}"
                )

    def _fit_model(self, X: np.ndarray, y: np.ndarray, q: float, review_period: Any) -> None:
        check_choice("weights", self.weights, ("knn", "random-forest"))
        self._q = q
        P = int(review_period)
        if self.weights == "knn":
            from sklearn.neighbors import NearestNeighbors

            rows = X[::P]  # one row per review day; its P targets follow in y
            self._mean = rows.mean(axis=0)
            self._scale = np.where(rows.std(axis=0) > 0, rows.std(axis=0), 1.0)
            k = check_int("n_neighbors", self.n_neighbors, minimum=1)
            if k > rows.shape[0]:
                raise ValidationError(f"n_neighbors must be <= the number of training review days ({rows.shape[0]}), got {k}")
            self._targets = y.reshape(-1, P)
            self._model = NearestNeighbors(n_neighbors=k).fit((rows - self._mean) / self._scale)
        else:
            from sklearn.ensemble import RandomForestRegressor

            self._model = RandomForestRegressor(
                n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state
            ).fit(X, y)
            # leaf-membership matrix with rows in ascending target order: A[i, (t, leaf)] = 1 / |leaf|
            order = np.argsort(y, kind="stable")
            self._targets = y[order]
            self._leaf_offsets, self._membership = self._leaf_matrix(X[order], normalise=True)

    def _leaf_matrix(self, X: np.ndarray, normalise: bool):
        """Sparse one-hot matrix of the leaf each row reaches in each tree (columns: tree, leaf)."""
        import scipy.sparse as sp

        leaves = self._model.apply(X)  # (rows, n_trees) node ids
        if normalise:
            sizes = [np.bincount(leaves[:, t]) for t in range(leaves.shape[1])]
            offsets = np.concatenate([[0], np.cumsum([s.size for s in sizes])])
            values = np.concatenate([1.0 / sizes[t][leaves[:, t]] for t in range(leaves.shape[1])])
        else:
            offsets = self._leaf_offsets
            values = np.ones(leaves.size)
        rows = np.tile(np.arange(leaves.shape[0]), leaves.shape[1])
        cols = (leaves + offsets[:-1][None, :]).T.reshape(-1)
        matrix = sp.csr_matrix((values, (rows, cols)), shape=(leaves.shape[0], int(offsets[-1])))
        return offsets, matrix

    def weights_for(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Samples and weights of the weighted SAA for rows ``X``, each of shape (m, n_samples)."""
        if self.weights == "knn":
            idx = self._model.kneighbors((X - self._mean) / self._scale, return_distance=False)
            samples = self._targets[idx].reshape(X.shape[0], -1)
            return samples, np.ones_like(samples)
        _, query = self._leaf_matrix(X, normalise=False)
        # w_i(x) = (1/T) sum_t 1{leaf_t(x_i) = leaf_t(x)} / |leaf_t(x)|, one sparse product for all trees
        w = np.asarray((query @ self._membership.T).todense()) / self._model.n_estimators
        return np.broadcast_to(self._targets, w.shape), w

    def _predict(self, X: np.ndarray) -> np.ndarray:
        samples, w = self.weights_for(X)
        if self.weights == "knn":
            return Empirical(samples, w).ppf(self._q)
        # targets are sorted once at fit: the weighted quantile is a cumulative sum away
        cum = np.cumsum(w, axis=1)
        reached = cum >= self._q * cum[:, -1:] - 1e-12
        return self._targets[np.argmax(reached, axis=1)]
