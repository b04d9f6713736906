"""Datasets, splits, generators and file I/O (layer: data; imports orkit.core only).

- :class:`Dataset`: demand (n_skus, T), features (n_skus, T, F), per-SKU attributes and split
  labels, a calendar, SKU lives and a stock-out flag; built from / written to a long table in
  CSV or Parquet (the files: :mod:`orkit.data.files`, :func:`read_long_table`; tables into
  arrays, pandas or streamed Parquet: :mod:`orkit.data.ingest`; dates: :mod:`orkit.data.calendar`;
  features held as codes of their distinct values: :mod:`orkit.data.coded`).
- Feature roles (:mod:`orkit.data.schema`): how each feature is used (numeric, quantity,
  forecast, categorical, calendar), :attr:`Dataset.feature_roles`, the one schema the learners,
  the contextual heuristics and the two-stage forecaster read.
- Splits over time (:mod:`orkit.data.windows`): :class:`TimeSplit` (train, validation, test
  windows on the same SKUs, each later window starting from the state its history leaves) and
  :class:`RollingOrigin` (k folds); SKU-random splits: :meth:`Dataset.random_split`.
- Generators: the four DeepStock synthetic settings, IID normal and Poisson demand, and a
  contextual generator whose features carry real signal; :func:`generate` runs one by name.
- Shipped real data: :func:`load` reads a dataset that ships with orkit by name (``"bakery"``:
  105 daily series with dates, holidays, weather and promotions; :mod:`orkit.data.datasets`).
"""

from orkit.data.dataset import SPLIT_NAMES, Dataset
from orkit.data.datasets import DATASETS, load
from orkit.data.files import read_long_table
from orkit.data.schema import CALENDAR_PARTS, FEATURE_ROLES, FeatureRole
from orkit.data.windows import RollingOrigin, TimeSplit, time_splits
from orkit.data.generators import (
    COEFF_FEATURES,
    CONTEXTUAL_FEATURES,
    DEEPSTOCK_PROBLEM,
    GENERATORS,
    contextual,
    deepstock_setting,
    generate,
    iid_normal,
    iid_poisson,
)

__all__ = [
    "CALENDAR_PARTS",
    "COEFF_FEATURES",
    "CONTEXTUAL_FEATURES",
    "DATASETS",
    "DEEPSTOCK_PROBLEM",
    "Dataset",
    "FEATURE_ROLES",
    "FeatureRole",
    "GENERATORS",
    "SPLIT_NAMES",
    "contextual",
    "deepstock_setting",
    "generate",
    "iid_normal",
    "iid_poisson",
    "load",
    "read_long_table",
    "RollingOrigin",
    "TimeSplit",
    "time_splits",
]
