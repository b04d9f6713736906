"""Datasets shipped with orkit: real sales histories to learn and test on, loaded by name.

>>> from orkit.data import load
>>> bakery = load("bakery")
>>> bakery.n_skus, bakery.n_periods, str(bakery.start_date.date()), bakery.freq
(105, 1215, '2016-01-02', 'D')

``bakery``
    Daily demand of 3 bakery products in 35 stores (105 series), 2016-01-02 to 2019-04-30,
    from the ddop package (Philippi et al., BSD-3-Clause; licence in ``LICENSE-ddop`` beside
    the file). About 12% of the days have zero demand (most of them Sundays, when most stores
    are closed). See :func:`bakery` and ``README.md`` in this folder for what was changed and why.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np

from orkit.core.errors import ValidationError
from orkit.data.dataset import Dataset

__all__ = ["BAKERY_FEATURES", "DATASETS", "bakery", "dataset_path", "load"]

#: the holiday, promotion and weather columns of the bakery file, as they are there
BAKERY_FILE_FEATURES = (
    "is_holiday", "is_holiday_next2days", "is_schoolholiday", "promotion_currentweek", "promotion_lastweek",
    "rain", "temperature",
)
#: trailing demand features the loader computes (demand units; only days before t)
BAKERY_DEMAND_FEATURES = ("demand_mean_7", "demand_mean_28", "demand_same_weekday_4")
#: every feature of ``load("bakery")``, in order
BAKERY_FEATURES = (*BAKERY_FILE_FEATURES, "weekday", *BAKERY_DEMAND_FEATURES)

_SOURCE = {
    "name": "ddop bakery dataset",
    "package": "ddop 0.7.6 (https://pypi.org/project/ddop/0.7.6/), ddop/datasets/data/bakery_data.csv and "
               "bakery_target.csv",
    "licence": "BSD-3-Clause, Copyright (c) 2007-2020 The ddop developers (orkit/data/datasets/LICENSE-ddop)",
    "changes": "data and target joined; the weekday column dropped (it is the weekday of the day before 'date' on "
               "every row); month and year dropped (they follow from 'date'); sku = S<store>-P<product>",
}


def dataset_path(name: str) -> Path:
    """The file of the shipped dataset ``name`` inside the installed package."""
    if name not in DATASETS:
        raise ValidationError(f"name must be one of {', '.join(map(repr, sorted(DATASETS)))}, got {name!r}")
    return Path(str(resources.files(__name__) / f"{name}.parquet"))


def _trailing_mean(demand: np.ndarray, window: int, step: int = 1) -> np.ndarray:
    """Mean of ``demand[:, t - step], demand[:, t - 2 step], ...`` (up to ``window`` values, the
    ones before ``t`` only) for every period ``t``; 0 where there is none (the first period)."""
    n_skus, n_periods = demand.shape
    sums = np.zeros((n_skus, n_periods))
    counts = np.zeros(n_periods)
    for k in range(1, window + 1):
        lag = k * step
        if lag >= n_periods:
            break
        sums[:, lag:] += demand[:, :-lag]
        counts[lag:] += 1
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


def bakery(*, demand_features: bool = True, start: Any = None, stop: Any = None) -> Dataset:
    """The ddop bakery data: 105 daily demand series (35 stores x products 101, 109, 110).

    Days 2016-01-02 to 2019-04-30 (1215 per series, none missing), demand in units per day
    [d_{i,t}]; 12.07% of the days have zero demand.

    **The weekday.** ddop's ``weekday`` column is *not* used: on every row it names the day
    before ``date`` (2016-01-02, a Saturday, is labelled ``FRI``). The dates are right: the
    holiday flags fall on the German public holidays of those dates (Good Friday 2016-03-25,
    Easter Monday 2016-03-28, 2016-10-03, 2016-12-25/26, ...), demand is zero on 2016-12-25 and
    26 (closed), most stores sell nothing on the dates that are Sundays, and Saturday is the
    busiest day (mean 145 units against 85 on Tuesday). The file orkit ships leaves the column
    out; the ``weekday`` feature here is computed from the dates (role ``calendar:weekday``,
    which the dataset checks against its dates).

    Parameters
    ----------
    demand_features : bool, default=True
        Add three trailing demand features (demand units, from days before ``t`` only, so
        nothing is known before it happens; a time window cut later keeps the history's
        values): ``demand_mean_7`` and ``demand_mean_28``, the mean demand of the last 7 and 28
        days, and ``demand_same_weekday_4``, the mean of the same weekday over the last 4 weeks
        (``d_{t-7}, d_{t-14}, d_{t-21}, d_{t-28}``). They are the ``coeff_features`` of the DS
        Coeff head (role ``quantity``). In the first 28 days they average the days there are
        (0 on the first day).
    start, stop : date, optional
        Keep the days from ``start`` up to, not including, ``stop`` (e.g. ``"2018-07-01"``):
        a shorter history for quick runs. The demand features are computed before the cut, so
        the first kept days average the days before them.

    Returns
    -------
    Dataset
        Named ``"bakery"``, daily calendar from 2016-01-02; SKU ids ``S02-P101``, ...;
        attributes ``store`` and ``product``. Features, in this order, with their roles
        (:attr:`Dataset.feature_roles <orkit.data.Dataset.feature_roles>`,
        :mod:`orkit.data.schema`):

        - ``is_holiday``, ``is_holiday_next2days``, ``is_schoolholiday`` (``numeric``): 0/1
          flags of the file (a public holiday that day / in the next two days, school holidays);
        - ``promotion_currentweek``, ``promotion_lastweek`` (``numeric``): 0/1, a promotion
          this / last week;
        - ``rain`` (mm) and ``temperature`` (degrees Celsius) (``numeric``): the day's weather
          at the store (observed, not forecast: a model using them knows the day's weather
          when it orders);
        - ``weekday`` (``calendar:weekday``): 0 = Monday ... 6 = Sunday, from the date;
        - the demand features above (``quantity``), if ``demand_features``.

        ``metadata`` records the source, licence and changes (``"source"``) and the weekday
        finding (``"weekday_column"``).

    Examples
    --------
    >>> data = bakery()
    >>> data.feature("weekday")[0, :3].tolist()   # 2016-01-02 was a Saturday
    [5.0, 6.0, 0.0]
    >>> str(data.feature_roles["weekday"]), str(data.feature_roles["demand_mean_7"])
    ('calendar:weekday', 'quantity')
    """
    if not isinstance(demand_features, bool):
        raise ValidationError(f"demand_features must be True or False, got {demand_features!r}")
    metadata: dict[str, Any] = {
        "source": dict(_SOURCE),
        "weekday_column": "dropped: ddop's weekday names the day before 'date' on every row (2016-01-02, a Saturday, "
                          "is labelled FRI); the weekday feature is computed from the dates (0 = Monday)",
    }
    data = Dataset.read(dataset_path("bakery"), date="date", freq="D", attributes=["store", "product"],
                        features=list(BAKERY_FILE_FEATURES), calendar=["weekday"], name="bakery", metadata=metadata,
                        feature_roles={name: "numeric" for name in BAKERY_FILE_FEATURES})
    if demand_features:
        demand = data.demand.astype(np.float64)
        values = np.stack([_trailing_mean(demand, 7), _trailing_mean(demand, 28),
                           _trailing_mean(demand, 4, step=7)], axis=2)
        data = data.with_features(BAKERY_DEMAND_FEATURES, values, roles="quantity")
    if start is not None or stop is not None:
        data = data.window(0 if start is None else start, stop)  # metadata["window"] records the cut
    return data


#: name -> loader of each shipped dataset
DATASETS: dict[str, Callable[..., Dataset]] = {"bakery": bakery}


def load(name: str, **options: Any) -> Dataset:
    """A dataset shipped with orkit, by name (``"bakery"``), with real dates.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    **options
        Passed to the dataset's loader (for ``"bakery"``: ``demand_features``, see :func:`bakery`).

    Raises
    ------
    ValidationError
        An unknown name or option.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValidationError(f"name must be one of {', '.join(map(repr, sorted(DATASETS)))} (the datasets shipped "
                              f"with orkit), got {name!r}")
    loader = DATASETS[name]
    try:
        return loader(**options)
    except TypeError as exc:
        raise ValidationError(f"bad options for dataset {name!r}: {exc}") from None
