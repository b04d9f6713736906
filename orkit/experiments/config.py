"""Study files: one TOML document describes a whole comparison.

A study names the problem, the data (a generator with its parameters, a dataset shipped with
orkit such as ``dataset = "bakery"``, or a CSV/Parquet file with a column mapping), the methods
(fixed hyper-parameters or search spaces), the seeds, the tuning budget and the output folder.
Every error names the offending key, e.g. ``methods[1].search.lr: low must be < high, got low=0.1 high=0.01``.

Example::

    name = "my-study"
    output = "runs/my-study"
    seeds = [0, 1, 2]

    [problem]
    lead_time = 1
    review_period = 2

    [data]
    generator = "contextual"
    params = { n_skus = 200, n_periods = 120 }

    [[methods]]
    name = "base-stock"
    params = { level = 40.0 }

    [[methods]]
    name = "ds"
    label = "DS Base"
    params = { regularization = "base" }
    search = { lr = { low = 4e-4, high = 0.1, log = true }, batch_size = { choices = [5, 10] } }

    [tuning]
    trials = 20
    startup_trials = 5
    top_k = 3
    pruner = "median"   # optional: stop poor trials early ("none" by default)

    [split]             # optional; default kind = "sku": SKU-random, [data] split sizes
    kind = "time"       # train, validation, test windows over time on the same SKUs
    validation = 60     # periods (or validation_start = "2018-11-01")
    test = 90           # periods (or test_start = "2019-01-31")

A ``kind = "rolling"`` split takes ``folds``, ``test`` and ``validation`` (periods) and
optionally ``step``: each fold is a dataset of its own (``<name>/fold1``, ...), fitted, tuned
and scored on its windows alone. Validation and test windows start from the state their
history leaves (:mod:`orkit.data.windows`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from orkit.core.errors import ConfigError, OrkitError
from orkit.core.problem import InventoryProblem

__all__ = ["StudyConfig", "MethodSpec", "DataSpec", "TuningSpec", "SPLIT_KINDS", "load_study", "shipped_studies"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_TOP_KEYS = {"name", "output", "seeds", "problem", "data", "datasets", "methods", "tuning", "description", "report",
             "split"}

#: Values of ``split.kind``: SKU-random (the default), one split over time, rolling origin.
SPLIT_KINDS = ("sku", "time", "rolling")
_SPLIT_KEYS = {"sku": {"kind"},
               "time": {"kind", "validation", "test", "validation_start", "test_start", "train_start", "stop"},
               "rolling": {"kind", "folds", "test", "validation", "step", "train_start", "stop"}}


@dataclass(frozen=True)
class Distribution:
    """One hyper-parameter search space: a float/int range (optionally log) or a choice."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple | None = None


@dataclass(frozen=True)
class MethodSpec:
    """A method of the study: a registered policy name, fixed parameters and a search space."""

    name: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Distribution] = field(default_factory=dict)
    datasets: tuple[str, ...] | None = None  # run only on these datasets (default: all)
    # "train": fit on train, select on validation; "test": fit and select on the test split, an
    # in-sample bound (paper.md section 5: DS trained on the test set), never a method to deploy
    fit_on: str = "train"

    def applies_to(self, dataset: str) -> bool:
        return self.datasets is None or dataset in self.datasets

    @property
    def tuned(self) -> bool:
        return bool(self.search)


@dataclass(frozen=True)
class DataSpec:
    name: str = "data"
    generator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # of the generator or the shipped dataset
    dataset: str | None = None  # a dataset shipped with orkit (orkit.data.load), e.g. "bakery"
    file: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    split_seed: int = 0
    problem: dict[str, Any] = field(default_factory=dict)  # overrides of the study's problem
    # a split over time (orkit.data.TimeSplit or RollingOrigin) instead of the SKU-random split;
    # with RollingOrigin, ``fold`` (1, 2, ...) picks this dataset's fold
    time_split: Any = None
    fold: int | None = None


#: Values of ``tuning.pruner``.
PRUNERS = ("none", "median", "halving")


@dataclass(frozen=True)
class TuningSpec:
    trials: int = 20
    startup_trials: int = 5
    top_k: int = 3
    storage: str | None = None  # Optuna RDB URL; default: SQLite in the output folder
    seed: int = 0
    # "median": stop a trial whose best validation loss at a tenth of its budget is worse than
    # the median of earlier trials at the same point (Optuna MedianPruner); "halving":
    # successive halving (Optuna SuccessiveHalvingPruner), only the best third of the trials
    # continue past 10%, 30% and 90% of their budget; "none": run all
    pruner: str = "none"
    # a worker sharing a database server (PostgreSQL, MySQL) records a heartbeat this often;
    # a trial whose worker has been silent for three times as long was killed: it is marked
    # failed and run again (Optuna's heartbeat and RetryFailedTrialCallback)
    heartbeat_seconds: float = 30.0


@dataclass(frozen=True)
class StudyConfig:
    name: str
    output: Path
    seeds: tuple[int, ...]
    problem: InventoryProblem | None
    problem_spec: dict[str, Any]
    datasets: tuple[DataSpec, ...]
    methods: tuple[MethodSpec, ...]
    tuning: TuningSpec
    report: dict[str, Any]
    source: dict[str, Any]

    @property
    def data(self) -> DataSpec:
        """The first (often the only) dataset."""
        return self.datasets[0]

    @property
    def fingerprint(self) -> str:
        """Hash of the study's content (not its output folder): which study owns a folder."""
        content = {k: v for k, v in self.source.items() if k != "output"}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"{key}: {message}")


def _table(value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(key, f"must be a table, got {type(value).__name__}")
    return value


def _unknown(table: dict, allowed: set[str], key: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise _fail(f"{key}.{extra[0]}" if key else extra[0],
                    f"unknown key; allowed keys are {', '.join(sorted(allowed))}")


def _int(value: Any, key: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _fail(key, f"must be >= {minimum}, got {value}")
    return value


def _distribution(value: Any, key: str) -> Distribution:
    table = _table(value, key)
    _unknown(table, {"low", "high", "log", "int", "choices"}, key)
    if "choices" in table:
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise _fail(f"{key}.choices", f"must be a non-empty list, got {choices!r}")
        if set(table) - {"choices"}:
            raise _fail(key, "give either choices or low/high, not both")
        return Distribution(choices=tuple(tuple(c) if isinstance(c, list) else c for c in choices))
    for bound in ("low", "high"):
        if bound not in table:
            raise _fail(key, f"needs {bound!r} (or a 'choices' list)")
        if isinstance(table[bound], bool) or not isinstance(table[bound], (int, float)):
            raise _fail(f"{key}.{bound}", f"must be a number, got {table[bound]!r}")
    low, high = table["low"], table["high"]
    if not low < high:
        raise _fail(key, f"low must be < high, got low={low} high={high}")
    log = bool(table.get("log", False))
    if log and low <= 0:
        raise _fail(f"{key}.low", f"must be > 0 for a log scale, got {low}")
    return Distribution(low=low, high=high, log=log, integer=bool(table.get("int", False)))


def _method(value: Any, index: int, known: set[str] | None) -> MethodSpec:
    key = f"methods[{index}]"
    table = _table(value, key)
    _unknown(table, {"name", "label", "params", "search", "datasets", "fit_on"}, key)
    if "name" not in table:
        raise _fail(key, "needs a 'name' (a registered method)")
    name = table["name"]
    if known is not None and name not in known:
        raise _fail(f"{key}.name", f"must be one of {', '.join(sorted(known))}, got {name!r}")
    params = dict(_table(table.get("params", {}), f"{key}.params"))
    search = {k: _distribution(v, f"{key}.search.{k}") for k, v in _table(table.get("search", {}), f"{key}.search").items()}
    both = sorted(set(params) & set(search))
    if both:
        raise _fail(f"{key}.search.{both[0]}", "is both fixed in params and searched")
    label = table.get("label") or name + (f" {params['regularization']}" if "regularization" in params else "")
    only = table.get("datasets")
    if only is not None and (not isinstance(only, list) or not all(isinstance(x, str) for x in only)):
        raise _fail(f"{key}.datasets", f"must be a list of dataset names, got {only!r}")
    fit_on = table.get("fit_on", "train")
    if fit_on not in ("train", "test"):
        raise _fail(f"{key}.fit_on", f"must be 'train' or 'test' (an in-sample bound), got {fit_on!r}")
    return MethodSpec(name=name, label=str(label), params=params, search=search,
                      datasets=tuple(only) if only is not None else None, fit_on=fit_on)


def parse_study(document: dict, *, base: Path | None = None, known_methods: set[str] | None = None) -> StudyConfig:
    """Validate a parsed TOML document; ``base`` anchors relative paths (the file's folder)."""
    _unknown(document, _TOP_KEYS, "")
    if "name" not in document or not isinstance(document["name"], str) or not document["name"]:
        raise _fail("name", "must be a non-empty string")
    name = document["name"]
    if not _SAFE_NAME.fullmatch(name):
        # the name is the default output folder runs/<name>: "../../x" would write outside runs/
        raise _fail("name", "must be letters, digits, '-', '_' or '.' (not starting with '.'); it names the output "
                            f"folder runs/<name>, got {name!r}")
    output = document.get("output", f"runs/{name}")
    if not isinstance(output, str) or not output.strip():
        raise _fail("output", f"must be a folder path (a non-empty string), got {output!r}")
    output = Path(output)
    seeds = document.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise _fail("seeds", f"must be a non-empty list of integers, got {seeds!r}")
    seeds = tuple(_int(s, f"seeds[{i}]", 0) for i, s in enumerate(seeds))
    if len(set(seeds)) != len(seeds):
        raise _fail("seeds", f"must not repeat, got {list(seeds)}")

    problem_spec = dict(_table(document.get("problem", {}), "problem"))
    allowed = set(InventoryProblem.__dataclass_fields__) - {"_check"}
    _unknown(problem_spec, allowed, "problem")
    problem = None
    try:
        problem = InventoryProblem(**problem_spec)
    except OrkitError as exc:
        raise _fail("problem", str(exc)) from None

    if ("data" in document) == ("datasets" in document):
        raise _fail("data", "give either one [data] table or a list of [[datasets]]")
    if "data" in document:
        datasets = (_data(document["data"], "data", base, default_name="data"),)
    else:
        entries = document["datasets"]
        if not isinstance(entries, list) or not entries:
            raise _fail("datasets", "must list at least one [[datasets]] table")
        datasets = tuple(_data(d, f"datasets[{i}]", base, default_name=None) for i, d in enumerate(entries))
        names = [d.name for d in datasets]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise _fail("datasets", f"names must be unique, {dup[0]!r} appears twice")

    datasets = _split(document, datasets)

    methods = document.get("methods")
    if not isinstance(methods, list) or not methods:
        raise _fail("methods", "must list at least one [[methods]] table")
    specs = tuple(_method(m, i, known_methods) for i, m in enumerate(methods))
    labels = [m.label for m in specs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise _fail("methods", f"labels must be unique, {dup[0]!r} appears twice (set 'label')")

    if known_methods is not None:
        from orkit.experiments.registry import parameter_names

        for i, m in enumerate(specs):
            allowed = parameter_names(m.name)
            for part, keys in (("params", m.params), ("search", m.search)):
                unknown = sorted(set(keys) - allowed) if allowed is not None else []
                if unknown:
                    raise _fail(f"methods[{i}].{part}.{unknown[0]}",
                                f"is not a parameter of {m.name!r}; it takes {', '.join(sorted(allowed))}")

    known_data = {d.name for d in datasets} | {d.name.rsplit("/fold", 1)[0] for d in datasets if d.fold is not None}
    for i, m in enumerate(specs):
        for d in m.datasets or ():
            if d not in known_data:
                raise _fail(f"methods[{i}].datasets", f"names an unknown dataset {d!r}; datasets are {sorted(known_data)}")
    if any(d.fold is not None for d in datasets):  # a method named for a dataset runs on its folds
        specs = tuple(m if m.datasets is None else replace(m, datasets=tuple(
            d.name for d in datasets if d.name in m.datasets or d.name.rsplit("/fold", 1)[0] in m.datasets))
            for m in specs)

    tuning = _table(document.get("tuning", {}), "tuning")
    _unknown(tuning, {"trials", "startup_trials", "top_k", "storage", "seed", "pruner", "heartbeat_seconds"}, "tuning")
    heartbeat = tuning.get("heartbeat_seconds", 30.0)
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)) or not 0.1 <= heartbeat <= 3600:
        raise _fail("tuning.heartbeat_seconds", f"must be a number of seconds from 0.1 to 3600, got {heartbeat!r}")
    pruner = tuning.get("pruner", "none")
    if pruner not in PRUNERS:
        raise _fail("tuning.pruner", f"must be one of {', '.join(map(repr, PRUNERS))}, got {pruner!r}")
    tuning_spec = TuningSpec(
        trials=_int(tuning.get("trials", 20), "tuning.trials", 1),
        startup_trials=_int(tuning.get("startup_trials", 5), "tuning.startup_trials", 0),
        top_k=_int(tuning.get("top_k", 3), "tuning.top_k", 1),
        storage=tuning.get("storage"),
        seed=_int(tuning.get("seed", 0), "tuning.seed", 0),
        pruner=pruner,
        heartbeat_seconds=float(heartbeat),
    )
    if tuning_spec.top_k > tuning_spec.trials:
        raise _fail("tuning.top_k", f"must be <= tuning.trials ({tuning_spec.trials}), got {tuning_spec.top_k}")
    report = dict(_table(document.get("report", {}), "report"))
    _unknown(report, {"sample_skus", "title", "reference"}, "report")
    return StudyConfig(
        name=name, output=output, seeds=seeds, problem=problem, problem_spec=problem_spec, datasets=datasets,
        methods=specs, tuning=tuning_spec, report=report, source=document,
    )


def _split(document: dict, datasets: tuple[DataSpec, ...]) -> tuple[DataSpec, ...]:
    """The study's ``[split]``: the datasets with their split over time (one dataset per fold
    for a rolling origin, named ``<name>/fold<k>``), or unchanged for the SKU-random split."""
    from orkit.core.errors import ValidationError
    from orkit.data.windows import RollingOrigin, TimeSplit

    table = _table(document.get("split", {}), "split")
    kind = table.get("kind", "sku")
    if kind not in SPLIT_KINDS:
        raise _fail("split.kind", f"must be one of {', '.join(map(repr, SPLIT_KINDS))}, got {kind!r}")
    _unknown(table, _SPLIT_KEYS[kind], "split")
    if kind == "sku":
        return datasets
    entries = [document["data"]] if "data" in document else list(document["datasets"])
    for i, entry in enumerate(entries):
        for key in ("split", "split_seed"):
            if key in entry:
                where = "data" if "data" in document else f"datasets[{i}]"
                raise _fail(f"{where}.{key}", f"sets the SKU-random split, which split.kind = {kind!r} replaces; "
                                              "remove it (or use split.kind = 'sku')")
    options = {k: v for k, v in table.items() if k != "kind"}
    for key, value in options.items():
        if isinstance(value, bool) or not isinstance(value, (int, str)) or isinstance(value, str) and not value:
            raise _fail(f"split.{key}", f"must be a whole number of periods or a date such as '2019-01-31', got "
                                        f"{value!r}")
        if key in ("validation", "test", "folds", "step") and not isinstance(value, int):
            raise _fail(f"split.{key}", f"must be a whole number of periods, got {value!r}")
    try:
        split = TimeSplit(**options) if kind == "time" else RollingOrigin(**options)
    except ValidationError as exc:
        raise _fail("split", str(exc)) from None
    if kind == "time":
        return tuple(replace(d, time_split=split) for d in datasets)
    return tuple(replace(d, name=f"{d.name}/fold{k}", time_split=split, fold=k)
                 for d in datasets for k in range(1, split.folds + 1))


def _data(value: Any, key: str, base: Path | None, default_name: str | None) -> DataSpec:
    data = _table(value, key)
    _unknown(data, {"name", "generator", "dataset", "params", "file", "columns", "split", "split_seed", "problem"}, key)
    sources = [k for k in ("generator", "dataset", "file") if k in data]
    if len(sources) != 1:
        raise _fail(key, f"give exactly one of 'generator', 'dataset' or 'file', got {sources or 'none'}")
    shipped = data.get("dataset")
    if shipped is not None:
        from orkit.data import DATASETS

        if shipped not in DATASETS:
            raise _fail(f"{key}.dataset", f"must be one of {', '.join(map(repr, sorted(DATASETS)))} (the datasets "
                                          f"shipped with orkit), got {shipped!r}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise _fail(f"{key}.name", f"must be a non-empty string, got {name!r}")
    file = data.get("file")
    if file is not None and not isinstance(file, str):
        raise _fail(f"{key}.file", f"must be a path (a string), got {file!r}")
    if file is not None and base is not None:
        if not Path(file).is_absolute():
            file = str((base / file).resolve())
        if not Path(file).is_file():  # before any cell runs or any output is written
            raise _fail(f"{key}.file", f"{file} does not exist")
    split = data.get("split", [0.6, 0.2, 0.2])
    if not (isinstance(split, list) and len(split) == 3 and all(isinstance(x, (int, float)) and x >= 0 for x in split)):
        raise _fail(f"{key}.split", f"must be three non-negative numbers (train, validation, test), got {split!r}")
    problem = dict(_table(data.get("problem", {}), f"{key}.problem"))
    _unknown(problem, set(InventoryProblem.__dataclass_fields__) - {"_check"}, f"{key}.problem")
    return DataSpec(
        name=name,
        generator=data.get("generator"),
        dataset=shipped,
        params=dict(_table(data.get("params", {}), f"{key}.params")),
        file=file,
        columns=dict(_table(data.get("columns", {}), f"{key}.columns")),
        split=tuple(float(x) for x in split),
        split_seed=_int(data.get("split_seed", 0), f"{key}.split_seed", 0),
        problem=problem,
    )


def shipped_studies() -> dict[str, Path]:
    """Studies that ship with orkit, by name (e.g. ``quickstart``)."""
    folder = resources.files("orkit.experiments") / "studies"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def load_study(path_or_name: str | Path, *, known_methods: set[str] | None = None,
               overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Read and validate a study file, or a shipped study by name.

    ``overrides`` replaces top-level keys of the document before validation; a table (such as
    ``{"tuning": {"trials": 10}}``) is merged key by key, except ``split``, which replaces the
    study's ``[split]`` whole. The overrides are part of the study's
    content, so a study run with a smaller budget is a different study (its own output folder).
    """
    path = Path(path_or_name)
    if not path.exists():
        shipped = shipped_studies()
        if str(path_or_name) in shipped:
            path = shipped[str(path_or_name)]
        else:
            raise ConfigError(
                f"study {str(path_or_name)!r} is neither a file nor a shipped study "
                f"({', '.join(sorted(shipped))})"
            )
    if path.is_dir():
        raise ConfigError(f"study {str(path)!r} is a folder; give a study file (.toml)")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) study file") from None
    for key, value in (overrides or {}).items():
        # a [split] replaces the study's whole (its keys depend on its kind)
        if isinstance(value, dict) and isinstance(document.get(key), dict) and key != "split":
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return parse_study(document, base=path.parent, known_methods=known_methods)


def to_json(config: StudyConfig) -> dict:
    """The study as plain JSON-able data (stored next to its results)."""
    out = asdict(config)
    out["output"] = str(config.output)
    out.pop("problem", None)
    out.pop("source", None)
    return out
