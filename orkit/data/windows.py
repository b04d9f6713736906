"""Splits over time: train, validation and test windows on the same SKUs, and rolling origin.

A backtest over time fits a policy on the periods before a point and scores it on the periods
after, on the same SKUs. Each later window starts from the state the history leaves: the
policy under test is simulated through every earlier period (on-hand, pipeline and recent
demand carry over) and the window is scored from its first period
(:meth:`Dataset.window <orkit.data.Dataset.window>` with ``history=True``; the warm-up rule is
:meth:`InventoryProblem.warmups <orkit.core.problem.InventoryProblem.warmups>`).

- :class:`TimeSplit`: one train / validation / test split, by window lengths (periods at the
  end of the data) or by the dates (or positions) where validation and test start.
- :class:`RollingOrigin`: ``folds`` test windows of ``test`` periods, disjoint and ending at
  the end of the data; each fold trains on everything before its validation window
  (expanding window).

Nothing after a window's end reaches what is fitted on it: the train window is a dataset of
its own periods only (:meth:`TimeSplit.datasets`), so features and lags a policy computes
while fitting read the train window alone. Features stored in the data are taken as they are:
a feature computed from later demand (a centred moving average, a total over the year) leaks
whatever the split; compute lags from earlier periods only.

Examples
--------
>>> from orkit.data import Dataset
>>> data = Dataset([list(range(10))], sku_ids=["A"])
>>> TimeSplit(validation=2, test=3).windows(data)
{'train': (0, 5), 'validation': (5, 7), 'test': (7, 10)}
>>> [f.windows(data)["test"] for f in RollingOrigin(folds=3, test=2, validation=1).splits(data)]
[(4, 6), (6, 8), (8, 10)]
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from orkit.core.errors import ValidationError
from orkit.data.dataset import SPLIT_NAMES, Dataset

__all__ = ["TimeSplit", "RollingOrigin", "time_splits"]

Point = int | str  # a position (0 = the first period) or a date of the dataset's calendar


def _length(name: str, value: Any, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{name} must be a whole number of periods, got {value!r}")
    if value < minimum:
        raise ValidationError(f"{name} must be >= {minimum} periods, got {value}")
    return int(value)


def _point(name: str, value: Any) -> Point | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(f"{name} must be a period position or a date, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    return value


@dataclass(frozen=True)
class TimeSplit:
    """Train, validation and test windows over time, in this order, on the same SKUs.

    Each window is given by its length (periods) or by where it starts (a position, 0 = the
    first period, or a date of the dataset's calendar); a window ends where the next starts.

    Parameters
    ----------
    validation, test : int, optional
        Lengths in periods: the test window is the last ``test`` periods before ``stop``, the
        validation window the ``validation`` periods before it.
    validation_start, test_start : int or date, optional
        Where the validation and test windows start (instead of their lengths).
    train_start : int or date, default=0
        Where the train window starts (earlier periods are left out of everything).
    stop : int or date, optional
        The first period after the test window (default: the end of the data).

    Raises
    ------
    ValidationError
        A window given both by length and by start, or by neither; when resolved on a dataset
        (:meth:`windows`): a point outside the data, windows out of order (overlapping) or
        empty.
    """

    validation: int | None = None
    test: int | None = None
    validation_start: Point | None = None
    test_start: Point | None = None
    train_start: Point = 0
    stop: Point | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("validation", "test"):
            set_(self, name, _length(name, getattr(self, name)))
        for name in ("validation_start", "test_start", "train_start", "stop"):
            set_(self, name, _point(name, getattr(self, name)))
        for window in ("validation", "test"):
            given = (getattr(self, window) is not None, getattr(self, f"{window}_start") is not None)
            if given[0] == given[1]:
                raise ValidationError(f"the {window} window needs either its length ({window}=periods) or its start "
                                      f"({window}_start=position or date), {'not both' if given[0] else 'got neither'}")

    def windows(self, dataset: Dataset) -> dict[str, tuple[int, int]]:
        """``{"train": (start, stop), "validation": ..., "test": ...}`` as positions in ``dataset``.

        Raises
        ------
        ValidationError
            Naming the key: a point outside the data or off its calendar, windows out of order
            (they would overlap) or empty.
        """
        stop = dataset.n_periods if self.stop is None else dataset.period_index(self.stop, "stop")
        test_start = (stop - self.test if self.test is not None
                      else dataset.period_index(self.test_start, "test_start"))
        validation_start = (test_start - self.validation if self.validation is not None
                            else dataset.period_index(self.validation_start, "validation_start"))
        train_start = dataset.period_index(self.train_start, "train_start")
        points = (("train_start", train_start), ("validation_start", validation_start), ("test_start", test_start),
                  ("stop", stop))
        for name, a in points:
            if a < 0:
                raise ValidationError(f"time split: the {name.removesuffix('_start')} window would start before the "
                                      f"data's first period (position {a}): the windows need more periods than the "
                                      f"dataset's {dataset.n_periods}")
        for (before, a), (after, b) in zip(points[:-1], points[1:]):
            if a >= b:
                window = before.removesuffix("_start")
                raise ValidationError(
                    f"time split: the {window} window is {'empty' if a == b else 'out of order'}: {before} (position "
                    f"{a}, {self._label(dataset, a)}) must come before {after} (position {b}, "
                    f"{self._label(dataset, b)}); windows are train, validation, test in this order and must not "
                    "overlap")
        return {"train": (train_start, validation_start), "validation": (validation_start, test_start),
                "test": (test_start, stop)}

    @staticmethod
    def _label(dataset: Dataset, position: int) -> str:
        if position >= dataset.n_periods:
            return "the end"
        dates = dataset.dates
        return str(dates[position].date()) if dates is not None else f"period {dataset.period_start + position}"

    def datasets(self, dataset: Dataset) -> dict[str, Dataset]:
        """The split's datasets: ``train`` holds its window's periods only (what a policy is
        fitted on); ``validation`` and ``test`` hold every period up to their window's end with
        the earlier ones as history (:meth:`Dataset.window` with ``history=True``: the state
        carried over, the window scored from its first period). Each is named
        ``<dataset>/<window>``."""
        windows = self.windows(dataset)
        parts = {}
        for name in SPLIT_NAMES:
            start, stop = windows[name]
            part = dataset.window(start, stop, history=name != "train")
            parts[name] = part._replace(name=f"{dataset.name}/{name}")
        return parts

    def describe(self, dataset: Dataset) -> str:
        """One line: ``train 2016-01-02..2018-09-30 (1003 periods), validation ...`` (period
        numbers for a dataset without dates)."""
        def label(position: int) -> str:
            text = self._label(dataset, position)
            return text.removeprefix("period ")

        return ", ".join(f"{name} {label(a)}..{label(b - 1)} ({b - a} periods)"
                         for name, (a, b) in self.windows(dataset).items())


@dataclass(frozen=True)
class RollingOrigin:
    """Rolling-origin backtest: ``folds`` disjoint test windows of ``test`` periods.

    The last test window ends at ``stop`` (default: the end of the data); each earlier one
    starts ``step`` periods before the next. Fold ``k`` validates on the ``validation``
    periods before its test window and trains on every period before that (from
    ``train_start``): an expanding window. Every fold is a :class:`TimeSplit`.

    Parameters
    ----------
    folds : int
        Number of folds (test windows), >= 1.
    test : int
        Periods per test window, >= 1.
    validation : int
        Periods of each fold's validation window, >= 1.
    step : int, optional
        Periods between two test windows' starts (default ``test``: back to back); at least
        ``test``, so that test windows never overlap.
    train_start : int or date, default=0
    stop : int or date, optional
    """

    folds: int
    test: int
    validation: int
    step: int | None = None
    train_start: Point = 0
    stop: Point | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "folds", _length("folds", self.folds))
        set_(self, "test", _length("test", self.test))
        set_(self, "validation", _length("validation", self.validation))
        set_(self, "step", self.test if self.step is None else _length("step", self.step))
        if self.step < self.test:
            raise ValidationError(f"step must be >= test ({self.test}) so that test windows do not overlap, got "
                                  f"{self.step}")
        for name in ("train_start", "stop"):
            set_(self, name, _point(name, getattr(self, name)))

    def splits(self, dataset: Dataset) -> list[TimeSplit]:
        """The folds as :class:`TimeSplit` objects with positions, oldest first.

        Raises
        ------
        ValidationError
            The folds do not fit in the data (the first fold's train window would be empty).
        """
        stop = dataset.n_periods if self.stop is None else dataset.period_index(self.stop, "stop")
        train_start = dataset.period_index(self.train_start, "train_start")
        folds = []
        for k in range(self.folds):
            test_stop = stop - (self.folds - 1 - k) * self.step
            test_start = test_stop - self.test
            if test_start - self.validation <= train_start:
                raise ValidationError(
                    f"rolling origin: {self.folds} folds of test {self.test} (step {self.step}) and validation "
                    f"{self.validation} periods leave fold {k + 1} no train period (its validation would start at "
                    f"position {test_start - self.validation}, the data from {train_start} to {stop}); use fewer or "
                    "shorter folds")
            folds.append(TimeSplit(validation_start=test_start - self.validation, test_start=test_start,
                                   train_start=train_start, stop=test_stop))
        return folds


def time_splits(split: TimeSplit | RollingOrigin, dataset: Dataset) -> list[dict[str, Dataset]]:
    """The datasets of each fold (one for a :class:`TimeSplit`), see :meth:`TimeSplit.datasets`."""
    if hasattr(split, "splits"):  # a RollingOrigin (by what it does: modules may be imported twice)
        return [fold.datasets(dataset) for fold in split.splits(dataset)]
    if hasattr(split, "datasets"):
        return [split.datasets(dataset)]
    raise ValidationError(f"split must be a TimeSplit or a RollingOrigin, got {type(split).__name__}")
