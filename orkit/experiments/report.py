"""The study report: results.csv into report.md with comparison tables and plots.

Besides ``results.csv`` (one row per cell and split) the report reads what the runner writes
per cell: ``per_sku/<cell>-seed<k>.csv`` (each test SKU's loss, holding and shortage units,
demand profile and money attributes) for the paired comparison over SKUs, the table by segment
(fast, slow and intermittent movers, :mod:`orkit.experiments.segments`) and the money table;
``paths/<cell>.csv`` (the ledger of a fast, a slow and an intermittent test SKU) for the path
plot. Intervals are Student-t intervals of a mean (``scipy.stats.t``): over seeds in the main
table, over SKUs (paired by SKU) in the comparison and segment tables.
"""

from __future__ import annotations

import errno
import json
import math
import statistics
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from orkit.core.errors import ConfigError, DataError
from orkit.core.files import atomic_write_text, atomic_write_with
from orkit.experiments.runner import OutputError, read_results
from orkit.experiments.segments import INTERMITTENT_ZERO_SHARE, SEGMENTS, assign_segments

__all__ = ["write_report", "summarize", "fold_summary", "ci95", "read_per_sku", "paired_comparison", "segment_table",
           "money_table"]

#: Periods of the test horizon the path plot shows (its last ones): 8 weeks of days.
PATH_WINDOW = 56


def ci95(values: Sequence[float]) -> float:
    """Half-width of the 95% Student-t interval of the mean of ``values``.

    ``t_{0.975, n-1} * s / sqrt(n)`` with the sample standard deviation ``s`` and the t
    quantile from ``scipy.stats.t`` for any ``n``; NaN for fewer than two values (one value
    has no spread to measure).

    Examples
    --------
    >>> round(ci95([1.0, 2.0, 3.0]), 4)  # t_{0.975, 2} = 4.3027, s = 1
    2.4841
    """
    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, n - 1)) * statistics.stdev(values) / math.sqrt(n)




def summarize(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One line per method: test loss mean, 95% CI over seeds (NaN with one seed), median-seed
    run and metrics."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for col in ("loss", "fill_rate", "stockout_rate", "turnover_days", "train_seconds", "seed"):
        frame[col] = pd.to_numeric(frame[col])
    out = []
    if "dataset" in frame.columns and frame["dataset"].nunique() > 1:
        parts = {name: summarize(group.to_dict("records")) for name, group in frame.groupby("dataset", sort=False)}
        return pd.concat(parts, names=["dataset", "method"])
    for label, group in frame.groupby("label", sort=False):
        test = group[group.split == "test"].sort_values("seed")
        val = group[group.split == "validation"].sort_values("seed")
        # the median-seed run by validation loss (paper.md section 4)
        order = val.sort_values(["loss", "seed"]).seed.tolist()
        median_seed = order[(len(order) - 1) // 2] if order else None
        median_test = test[test.seed == median_seed].loss.iloc[0] if median_seed is not None else float("nan")
        losses = test.loss.tolist()
        out.append({
            "method": label,
            "test loss": statistics.fmean(losses),
            "± 95% CI": ci95(losses),
            "median-seed test loss": median_test,
            "validation loss": statistics.fmean(val.loss.tolist()) if len(val) else float("nan"),
            "fill rate": test.fill_rate.mean(),
            "stockout rate": test.stockout_rate.mean(),
            "turnover days": test.turnover_days.mean(),
            "train s": test.train_seconds.mean(),
            "seeds": len(losses),
        })
    table = pd.DataFrame(out).set_index("method")
    table["seeds"] = table["seeds"].astype(int).astype(str)  # a count, not a measurement
    return table


def fold_summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A rolling-origin backtest (datasets ``<name>/fold<k>``) in one table: per dataset and
    method, the test loss of each fold (mean over seeds), their mean and the half-width of the
    95% t-interval over folds. Empty when no dataset has folds."""
    frame = pd.DataFrame(rows)
    if frame.empty or "dataset" not in frame.columns:
        return pd.DataFrame()
    test = frame[(frame["split"] == "test") & frame["dataset"].str.contains(r"/fold\d+$", regex=True)].copy()
    if test.empty:
        return test
    test["loss"] = pd.to_numeric(test["loss"])
    test[["base", "fold"]] = test["dataset"].str.rsplit("/", n=1, expand=True)
    by_fold = test.groupby(["base", "label", "fold"], sort=False)["loss"].mean().unstack("fold")
    by_fold = by_fold[sorted(by_fold.columns, key=lambda f: int(f.removeprefix("fold")))]
    out = pd.DataFrame({"test loss (mean over folds)": by_fold.mean(axis=1),
                        "± 95% CI over folds": by_fold.apply(lambda r: ci95(r.dropna().tolist()), axis=1)})
    out = pd.concat([out, by_fold], axis=1)
    out.index.names = ["dataset", "method"]
    return out if test["base"].nunique() > 1 else out.droplevel("dataset")


def _plot_losses(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in table.index]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.5))
    ax.barh(labels[::-1], table["test loss"][::-1], xerr=table["± 95% CI"][::-1], color="#4878a8")
    ax.set_xlabel("test loss (weighted holding + shortage cost per period)")
    ax.set_title("Test loss by method (mean and 95% CI over seeds)")
    fig.tight_layout()
    _save_figure(fig, path, dpi=110)


def _save_figure(fig: Any, path: Path, dpi: int) -> None:
    """Save a figure atomically (a temporary file renamed over ``path``: a full disk or a kill
    leaves the previous plot or none, never a torn one) and free it."""
    import matplotlib.pyplot as plt

    try:
        atomic_write_with(path, lambda temporary: fig.savefig(temporary, dpi=dpi))
    finally:
        plt.close(fig)


def _by_dataset(files: list[Path], datasets: list[str] | None) -> dict[str, list[Path]]:
    """Per-cell files (named ``<dataset>-<method>``) grouped by dataset; ``""`` holds the files
    of a one-dataset study (named by method only)."""
    from orkit.experiments.runner import _slug

    groups: dict[str, list[Path]] = {}
    names = sorted(datasets or [], key=len, reverse=True)  # "setting-4-N5-H2" before "setting-4"
    for f in files:
        owner = next((d for d in names if f.stem.startswith(_slug(d) + "-")), "")
        groups.setdefault(owner, []).append(f)
    return groups


def _labels(folder: Path) -> dict[str, str]:
    """Folder slug -> the study's method label (from ``results.csv``)."""
    from orkit.experiments.runner import _slug

    if not (folder / "results.csv").exists():
        return {}
    labels = pd.read_csv(folder / "results.csv", usecols=lambda c: c == "label").get("label")
    return {_slug(str(label)): str(label) for label in (labels.dropna().unique() if labels is not None else [])}


def _path_window(first: int, last: int, window: int) -> int:
    """The first period the path plot shows: the whole horizon when it is at most 1.5 windows
    long (hiding a few periods helps no one), else the last ``window`` periods."""
    return first if last - first + 1 <= 1.5 * window else last - window + 1


def _off_scale_limits(series: dict[str, np.ndarray], base: np.ndarray) -> tuple[float, float, list[str]]:
    """y-limits that keep every method in view but one that runs away: a method whose range
    (with 0 and ``base``, the demand) is over 5 times the median method's is left off scale
    (and named), so a diverging policy does not flatten the others' lines to nothing."""
    floor = min(0.0, float(base.min(initial=0.0)))
    ceiling = max(0.0, float(base.max(initial=0.0)))
    spans = {name: (min(floor, float(v.min(initial=0.0))), max(ceiling, float(v.max(initial=0.0))))
             for name, v in series.items()}
    extents = [high - low for low, high in spans.values()]
    limit = 5 * float(np.median(extents)) if extents else 0.0
    kept = [span for span in spans.values() if span[1] - span[0] <= limit] or [(floor, ceiling)]
    off = [name for name, span in spans.items() if span[1] - span[0] > limit]
    low, high = min(s[0] for s in kept), max(s[1] for s in kept)
    pad = 0.06 * (high - low or 1.0)
    return low - (pad if low < 0 else 0.0), high + pad, off


def _path_panel(ax: Any, shown: pd.DataFrame, lines: dict[str, pd.DataFrame], column: str,
                colours: dict[str, str], *, runaway: bool) -> None:
    """One panel of the path plot: demand bars, warm-up shading, one step line per method
    (with ``runaway``, a method that runs away is left off scale: :func:`_off_scale_limits`)."""
    ax.bar(shown.period, shown.demand, width=0.85, color="0.82", zorder=1)
    if "counted" in shown.columns:
        for period in shown.period[shown.counted == 0]:
            ax.axvspan(period - 0.5, period + 0.5, color="#f2d7a6", alpha=0.6, lw=0, zorder=0)
    for name, rows in lines.items():
        ax.plot(rows.period, rows[column], drawstyle="steps-mid", color=colours[name], lw=1.4, zorder=3)
    if runaway:
        low, high, off = _off_scale_limits({n: rows[column].to_numpy() for n, rows in lines.items()},
                                           shown.demand.to_numpy())
        ax.set_ylim(low, high)
    if runaway and off:
        ax.text(0.01, 0.97, "off scale: " + ", ".join(off), transform=ax.transAxes, fontsize=7, va="top",
                color="0.3", bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
    ax.grid(axis="y", color="0.92", zorder=0)
    ax.set_xlim(int(shown.period.min()) - 0.6, int(shown.period.max()) + 0.6)
    if "date" in shown.columns and shown.date.notna().all():  # a dated dataset: dates on the axis
        ticks = shown.drop_duplicates("period").iloc[::max(1, len(shown.period.unique()) // 6)]
        ax.set_xticks(ticks.period.to_numpy(), [str(d) for d in ticks.date], fontsize=7, rotation=30, ha="right")
        ax.set_xlabel("date")
    else:
        ax.set_xlabel("period")


def _plot_paths(folder: Path, path: Path, datasets: list[str] | None = None, *,
                window: int = PATH_WINDOW) -> str | None:
    """On-hand, orders and demand of the sample test SKUs, one colour per method.

    One row per SKU (its segment, mean demand and zero share in the row's title), two panels:
    end-of-period on-hand (units of stock; below 0, backlog) and orders (units per period);
    demand drawn as grey bars in both, warm-up periods (not scored) shaded, one legend for the
    figure. A horizon longer than 1.5 ``window`` shows its last ``window`` periods. A method
    whose on-hand runs away (a range over 5 times the median method's) is left off scale and
    named in the panel. In a study with several datasets only the first dataset's methods are drawn
    (their SKUs differ). Returns the dataset drawn (``""`` for a one-dataset study), or None
    when there are no paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from orkit.experiments.runner import _slug

    files = sorted((folder / "paths").glob("*.csv")) if (folder / "paths").exists() else []
    if not files:
        return None
    shown = ""
    if datasets:
        groups = _by_dataset(files, datasets)
        shown = next((d for d in datasets if d in groups), "")
        files = groups.get(shown, files)
    names = _labels(folder)
    frames = {}
    for f in files:
        stem = f.stem[len(_slug(shown)) + 1:] if shown else f.stem
        frames[names.get(stem, stem)] = pd.read_csv(f, dtype={"sku": str})
    first = next(iter(frames.values()))
    skus = list(dict.fromkeys(first.sku))[:6]
    colours = {name: f"C{i % 10}" for i, name in enumerate(frames)}
    begin, last = int(first.period.min()), int(first.period.max())
    start = _path_window(begin, last, window)
    fig = plt.figure(figsize=(12, 3.1 * len(skus) + 0.9), layout="constrained")
    for row, sku in zip(np.atleast_1d(fig.subfigures(len(skus), 1)), skus):
        demand = first[(first.sku == sku) & (first.period >= start)]
        lines = {name: frame[(frame.sku == sku) & (frame.period >= start)] for name, frame in frames.items()}
        on_hand_ax, order_ax = row.subplots(1, 2)
        _path_panel(on_hand_ax, demand, lines, "on_hand", colours, runaway=True)
        _path_panel(order_ax, demand, lines, "order", colours, runaway=False)  # a spike is news, not noise
        on_hand_ax.axhline(0, color="0.4", lw=0.7, zorder=2)
        on_hand_ax.set_ylabel("units of stock")
        order_ax.set_ylabel("units per period")
        backlog = any((rows.on_hand < 0).any() for rows in lines.values())  # never under lost sales
        on_hand_ax.set_title("end-of-period on-hand" + (" (below 0: backlog)" if backlog else ""), fontsize=9)
        order_ax.set_title("orders placed", fontsize=9)
        whole = first[first.sku == sku]
        segment = str(whole.segment.iloc[0]) if "segment" in whole.columns else "nan"
        row.suptitle(f"{segment + ' mover, ' if segment != 'nan' else ''}SKU {sku}: mean demand "
                     f"{whole.demand.mean():.2f} units per period, {(whole.demand == 0).mean():.0%} of periods "
                     "without demand", fontsize=10, x=0.01, ha="left", fontweight="bold")
    handles = [Line2D([], [], color=colours[name], lw=1.6, label=name) for name in frames]
    handles.append(Patch(color="0.82", label="demand (units per period)"))
    dated = "date" in first.columns and first.date.notna().all()
    date_of = dict(zip(first.period, first.date)) if dated else {}
    span = (f"{date_of[start]} to {date_of[last]}" if dated else f"periods {start}-{last}") + (
        f" (the last {window} periods of the test horizon)" if start > begin else " (the test horizon)")
    if "counted" in first.columns:
        warmup = first[(first.sku == skus[0]) & (first.counted == 0)].period
        if len(warmup) and int(warmup.max()) >= start:
            handles.append(Patch(color="#f2d7a6", label="warm-up (not scored)"))
        elif len(warmup):
            span += f"; warm-up (not scored): periods {int(warmup.min())}-{int(warmup.max())}, not shown"
    fig.suptitle(f"Sample test SKUs, first seed: {span}", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), fontsize=9, frameon=False)
    _save_figure(fig, path, dpi=110)
    return shown


def _draw_panels(keys: Any, datasets: list[str] | None, draw: Callable[[Any, str], None], *, title: str,
                 axis_labels: tuple[str, str], untitled: str, path: Path, panel_size: tuple[float, float]) -> int:
    """One panel per dataset of ``keys`` (the study's datasets in order, then ``""``, the
    one-dataset study, titled ``untitled``), at most three a row; ``draw(ax, dataset)`` plots a
    panel's labelled lines. Saves the figure to ``path`` and returns the panels drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [d for d in (datasets or []) if d in keys] + ([""] if "" in keys else [])
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    width, height = panel_size
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns + 1, height * rows + 0.6), squeeze=False)
    for ax, name in zip(axes.flat, panels):
        draw(ax, name)
        ax.set_title(name or untitled, fontsize=9)
        ax.set_xlabel(axis_labels[0], fontsize=8)
        ax.set_ylabel(axis_labels[1], fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    _save_figure(fig, path, dpi=100)
    return len(panels)


def _plot_tuning(folder: Path, path: Path, datasets: list[str] | None = None) -> int:
    """Best-so-far validation loss against trials; one panel per dataset when there are several.
    Returns the number of panels drawn (0: no tuned cell)."""
    from orkit.experiments.runner import _slug

    files = sorted((folder / "tuning").glob("*.json")) if (folder / "tuning").exists() else []
    if not files:
        return 0
    groups = _by_dataset(files, datasets)

    def draw(ax: Any, name: str) -> None:
        for f in groups[name]:
            curve = json.loads(f.read_text()).get("best_so_far", [])
            label = f.stem[len(_slug(name)) + 1:] if name else f.stem
            ax.plot(range(1, len(curve) + 1), curve, label=label)

    return _draw_panels(groups, datasets, draw, title="Best-so-far validation loss against tuning trials",
                        axis_labels=("tuning trials", "best validation loss"), untitled="best-so-far",
                        path=path, panel_size=(4.2, 3.2))


def training_curves(folder: Path, datasets: list[str] | None = None) -> dict[str, dict[str, list[tuple[int, pd.DataFrame]]]]:
    """The learners' saved histories (``policies/<cell>-seed<n>/history.csv`` with ``seconds``
    and ``validation_loss``), as ``{dataset: {method label: [(seed, history), ...]}}``: ``""``
    is the dataset of a one-dataset study, labels are the study's (from ``results.csv``, else
    the folder's), seeds ascending. Policies without a history (heuristics) are left out."""
    from orkit.experiments.runner import _slug

    root = folder / "policies"
    frames: dict[Path, pd.DataFrame] = {}
    for run in sorted(p.parent for p in root.glob("*/history.csv")) if root.exists() else []:
        history = pd.read_csv(run / "history.csv")
        if {"seconds", "validation_loss"} <= set(history.columns):
            history = history.dropna(subset=["validation_loss"])
            if len(history):
                frames[run] = history
    names = _labels(folder) if frames else {}  # folder slug -> the study's method label
    curves: dict[str, dict[str, list[tuple[int, pd.DataFrame]]]] = {}
    for dataset, runs in _by_dataset(list(frames), datasets).items():
        for run in runs:
            label, _, seed = run.name.rpartition("-seed")
            label = label[len(_slug(dataset)) + 1:] if dataset else label
            curves.setdefault(dataset, {}).setdefault(names.get(label, label), []).append(
                (int(seed) if seed.isdigit() else 0, frames[run]))
    for methods in curves.values():
        for seeds in methods.values():
            seeds.sort(key=lambda pair: pair[0])
    return curves


def _plot_training(folder: Path, path: Path, datasets: list[str] | None = None) -> int:
    """Validation loss at each evaluation against training seconds (:func:`training_curves`):
    one colour per method, the first seed solid, the others faint; one panel per dataset.
    Returns the panels drawn."""
    curves = training_curves(folder, datasets)
    if not curves:
        return 0

    def draw(ax: Any, name: str) -> None:
        losses = [h.validation_loss for seeds in curves[name].values() for _, h in seeds]
        lowest, highest = min(float(v.min()) for v in losses), max(float(v.max()) for v in losses)
        for i, (label, seeds) in enumerate(sorted(curves[name].items())):
            for j, (_, h) in enumerate(seeds):
                ax.plot(h.seconds, h.validation_loss, color=f"C{i % 10}", lw=1.3 if j == 0 else 0.7,
                        alpha=1.0 if j == 0 else 0.35, label=label if j == 0 else None)
        if lowest > 0 and highest > 2.5 * lowest:  # early or diverged evaluations would flatten the rest
            ax.set_ylim(0.97 * lowest, 2.5 * lowest)

    return _draw_panels(curves, datasets, draw, title="Validation loss during training (first seed solid)",
                        axis_labels=("training seconds", "validation loss"), untitled="training",
                        path=path, panel_size=(4.6, 3.4))


# ------------------------------------------------------------------ per-SKU tables
def read_per_sku(folder: str | Path, datasets: list[str] | None = None) -> pd.DataFrame:
    """Every ``per_sku/<cell>-seed<k>.csv`` of a study folder in one table.

    Columns: ``dataset`` (``""`` in a one-dataset study), ``label`` (the study's method label),
    ``seed``, then the files' columns (``sku``, ``loss``, ``holding_units``,
    ``shortage_units``, ``scored_periods``, ``demand_mean``, ``zero_share`` and the money
    attributes the data has). Empty when the folder has no such files (a run of an older
    version).
    """
    from orkit.experiments.runner import _slug

    folder = Path(folder)
    files = sorted((folder / "per_sku").glob("*-seed*.csv")) if (folder / "per_sku").exists() else []
    names = _labels(folder)
    parts = []
    for dataset, group in _by_dataset(files, datasets).items():
        for f in group:
            cell, _, seed = f.stem.rpartition("-seed")
            if not seed.isdigit():
                continue
            label = cell[len(_slug(dataset)) + 1:] if dataset else cell
            frame = pd.read_csv(f, dtype={"sku": str})
            frame.insert(0, "seed", int(seed))
            frame.insert(0, "label", names.get(label, label))
            frame.insert(0, "dataset", dataset)
            parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _by_sku(per_sku: pd.DataFrame) -> pd.DataFrame:
    """Per-SKU loss of each method averaged over its seeds: rows SKUs, columns labels."""
    return per_sku.groupby(["sku", "label"], sort=False).loss.mean().unstack("label")


def paired_comparison(per_sku: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Each method's per-SKU test loss against a reference method's, paired by SKU.

    Parameters
    ----------
    per_sku : DataFrame
        One dataset's rows of :func:`read_per_sku` (at least ``label``, ``seed``, ``sku``,
        ``loss``). A method's loss on a SKU is its mean over the method's seeds.
    reference : str, optional
        The method label to compare against; default: the method with the lowest mean loss.

    Returns
    -------
    DataFrame
        Indexed by method (best mean loss first): ``test loss`` (mean over SKUs),
        ``± 95% CI`` (its t-interval over SKUs), ``difference`` (mean over SKUs of the
        method's loss minus the reference's on the same SKU), ``± 95% CI of difference``
        (paired t-interval over SKUs), ``better on`` (share of SKUs where the method's loss is
        below the reference's), ``SKUs``. ``attrs["reference"]`` names the reference.

    Raises
    ------
    ConfigError
        ``reference`` is not one of the methods.
    """
    wide = _by_sku(per_sku)
    means = wide.mean().sort_values(kind="stable")
    if reference is None:
        reference = str(means.index[0])
    elif reference not in wide.columns:
        raise ConfigError(f"report.reference must be one of the methods ({', '.join(map(repr, wide.columns))}), "
                          f"got {reference!r}")
    out = []
    for label in means.index:
        difference = (wide[label] - wide[reference]).dropna()  # the SKUs both were scored on
        column = wide[label].dropna()
        out.append({"method": label, "test loss": column.mean(), "± 95% CI": ci95(column),
                    "difference": difference.mean(), "± 95% CI of difference": ci95(difference),
                    "better on": float((difference < 0).mean()) if len(difference) else float("nan"),
                    "SKUs": len(column)})
    table = pd.DataFrame(out).set_index("method")
    table.attrs["reference"] = reference
    return table


def _segments(per_sku: pd.DataFrame) -> pd.Series:
    """The segment of each SKU (index: sku) from its demand profile."""
    profile = per_sku.drop_duplicates("sku").set_index("sku")[["demand_mean", "zero_share"]]
    return pd.Series(assign_segments(profile.demand_mean, profile.zero_share), index=profile.index)


def segment_table(per_sku: pd.DataFrame) -> pd.DataFrame:
    """Mean test loss of each method per segment (fast, slow, intermittent movers), with its
    t-interval over the segment's SKUs.

    Parameters
    ----------
    per_sku : DataFrame
        One dataset's rows of :func:`read_per_sku` (``label``, ``seed``, ``sku``, ``loss``,
        ``demand_mean``, ``zero_share``).

    Returns
    -------
    DataFrame
        One row per method and non-empty segment: ``method``, ``segment``, ``SKUs``,
        ``test loss`` (mean over the segment's SKUs of the seed-averaged loss) and ``± 95% CI``.
    """
    wide = _by_sku(per_sku)
    segment = _segments(per_sku).reindex(wide.index)
    out = []
    for label in wide.mean().sort_values(kind="stable").index:
        for name in SEGMENTS:
            losses = wide.loc[segment == name, label].dropna()
            if len(losses):
                out.append({"method": label, "segment": name, "SKUs": len(losses), "test loss": losses.mean(),
                            "± 95% CI": ci95(losses)})
    return pd.DataFrame(out, columns=["method", "segment", "SKUs", "test loss", "± 95% CI"])


def money_table(per_sku: pd.DataFrame) -> pd.DataFrame:
    """Money per period over the test SKUs, when the data gives unit costs (else empty).

    Read from the ledger's units and the SKUs' attributes, per SKU ``i`` with ``C_i`` scored
    periods, summed over SKUs and averaged over seeds:

    - ``inventory value``: ``sum_i unit_cost_i * holding_units_i / C_i``, the value of the
      average end-of-period stock;
    - ``holding cost`` (with a ``holding_rate`` attribute, a share of the unit cost per period):
      ``sum_i holding_rate_i * unit_cost_i * holding_units_i / C_i``;
    - ``shortage margin`` (with a ``margin`` attribute, money per unit):
      ``sum_i margin_i * shortage_units_i / C_i``: under lost sales the margin lost, under
      backorders the margin of the backlogged units, per period they wait;
    - ``fixed cost`` (where the problem charges a fixed cost per order): the ledger's
      ``sum_i K_i * orders_i / C_i``.

    These are the ledger's own costs: a study on data with these attributes takes its problem's
    per-SKU rates from them (``h_i = holding_rate_i * unit_cost_i``, ``b_i = margin_i``,
    :meth:`~orkit.core.InventoryProblem.with_attributes`), so a SKU's holding cost, shortage
    margin and fixed cost sum to its weighted loss (its mean cost per scored period).

    Returns
    -------
    DataFrame
        Indexed by method (best weighted loss first): ``weighted loss`` and the columns above
        that the attributes allow; empty without a ``unit_cost`` column.
    """
    if "unit_cost" not in per_sku.columns or per_sku.unit_cost.isna().all():
        return pd.DataFrame()
    frame = per_sku.copy()
    per_period = frame.holding_units / frame.scored_periods.clip(lower=1)
    frame["inventory value"] = frame.unit_cost * per_period
    columns = ["inventory value"]
    if "holding_rate" in frame.columns:
        frame["holding cost"] = frame.holding_rate * frame.unit_cost * per_period
        columns.append("holding cost")
    if "margin" in frame.columns:
        frame["shortage margin"] = frame.margin * frame.shortage_units / frame.scored_periods.clip(lower=1)
        columns.append("shortage margin")
    if "fixed_cost" in frame.columns and frame.fixed_cost.notna().any():
        frame["fixed cost"] = frame.fixed_cost / frame.scored_periods.clip(lower=1)
        columns.append("fixed cost")
    by_seed = frame.groupby(["label", "seed"], sort=False).agg(
        **{"weighted loss": ("loss", "mean")}, **{c: (c, "sum") for c in columns})
    table = by_seed.groupby(level="label", sort=False).mean().sort_values("weighted loss", kind="stable")
    table.index.name = "method"
    return table


def _number(value: float, form: str = ".4f") -> str:
    return "n/a" if value != value else format(value, form)


def _paired_markdown(table: pd.DataFrame) -> str:
    reference = table.attrs["reference"]
    rows = []
    for label, r in table.iterrows():
        mine = label == reference
        rows.append({"method": label, "test loss": _number(r["test loss"]), "± 95% CI": _number(r["± 95% CI"]),
                     f"difference vs {reference}": "reference" if mine else _number(r["difference"], "+.4f"),
                     "± 95% CI of difference": "" if mine else _number(r["± 95% CI of difference"]),
                     "better on": "" if mine else _number(r["better on"], ".0%"), "SKUs": str(int(r["SKUs"]))})
    shown = pd.DataFrame(rows).set_index("method")
    return shown.to_markdown(colalign=("left",) + ("right",) * len(shown.columns), disable_numparse=True)


def _segment_markdown(table: pd.DataFrame) -> str:
    counts = table.drop_duplicates("segment").set_index("segment").SKUs
    cells = table.assign(cell=[f"{loss:.4f} ± {_number(ci)}"
                               for loss, ci in zip(table["test loss"], table["± 95% CI"])])
    wide = cells.pivot(index="method", columns="segment", values="cell")
    order = [s for s in SEGMENTS if s in wide.columns]
    wide = wide.reindex(index=list(dict.fromkeys(table.method)), columns=order)
    wide.columns = [f"{s} ({counts[s]} SKU{'s' if counts[s] != 1 else ''})" for s in order]
    return wide.fillna("").to_markdown(colalign=("left",) + ("right",) * len(order), disable_numparse=True)


def _per_sku_sections(per_sku: pd.DataFrame, reference: str | None, heading: str) -> list[str]:
    """The paired comparison, segment and money sections of one dataset (``heading`` names it)."""
    lines: list[str] = []
    try:
        paired = paired_comparison(per_sku, reference)
    except ConfigError:
        paired = paired_comparison(per_sku)  # the named method is not in this dataset
    ref = paired.attrs["reference"]
    lines += [f"## Paired comparison over SKUs{heading}", "",
              f"Each method's test loss per SKU (mean over its seeds) against **{ref}** on the same SKU and "
              "trajectory: the mean difference over SKUs with its paired 95% t-interval (an interval that "
              "excludes 0 is a difference the SKUs support; negative is better than the reference), and the "
              "share of SKUs on which the method is better. `test loss` is the mean over SKUs with its "
              "95% t-interval over SKUs, which, unlike the interval over seeds, measures how much the "
              "result depends on which SKUs were drawn (deterministic heuristics included).", "",
              _paired_markdown(paired), ""]
    segments = segment_table(per_sku)
    if len(segments):
        profile = per_sku.drop_duplicates("sku")
        rest = profile.demand_mean[profile.zero_share < INTERMITTENT_ZERO_SHARE]
        median = f"{rest.median():.3g}" if len(rest) else "n/a"
        lines += [f"## Test loss by segment{heading}", "",
                  f"Movers by their demand over the test horizon: **intermittent**: at least "
                  f"{INTERMITTENT_ZERO_SHARE:.0%} of periods without demand; of the others, **fast**: mean demand "
                  f">= {median} units per period (their median), **slow**: below it. Each cell: mean over the "
                  "segment's SKUs of the test loss (mean over seeds) ± the 95% t-interval over those SKUs.", "",
                  _segment_markdown(segments), ""]
    money = money_table(per_sku)
    if len(money):
        known = ", ".join(c for c in ("unit_cost", "holding_rate", "margin") if c in per_sku.columns)
        lines += [f"## Money{heading}", "",
                  f"From the SKUs' attributes ({known}) and the ledger's units, in the data's currency per "
                  "period, summed over the test SKUs (mean over seeds): inventory value = unit cost x average "
                  "on-hand; holding cost = holding rate x that value; shortage margin = margin x units short "
                  "(lost, or backlogged per period of wait); fixed cost = K x orders placed. With a holding rate "
                  "and a margin the problem's costs are those rates (h = holding rate x unit cost, b = margin), "
                  "so the weighted loss is in money too: the mean over SKUs of what the other columns sum.", "",
                  money.to_markdown(floatfmt=".2f"), ""]
    return lines


def write_report(folder: str | Path, *, title: str | None = None, notes: str = "",
                 reference: str | None = None) -> Path:
    """Write ``report.md`` (and its plots) from the results in ``folder``.

    ``reference`` names the method the paired comparison over SKUs measures the others
    against (default: the study's ``report.reference`` when it has one, else the method with
    the lowest mean test loss, per dataset).

    Every file is written atomically (a temporary file renamed over the old one), so a full
    disk or a kill leaves the previous report or none, never a torn one.

    Raises
    ------
    OutputError
        The disk is full; the results are untouched, and writing the report again (``orkit
        run`` on the finished folder) completes it.
    DataError
        ``results.csv`` is torn or not a results table, or ``study.json`` is not JSON.
    """
    folder = Path(folder)
    try:
        return _write_report(folder, title=title, notes=notes, reference=reference)
    except OSError as exc:
        if isinstance(exc, OutputError) or exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise
        raise OutputError(f"report: no space left on the disk of {folder} ({exc.strerror}); the results are "
                          "complete in results.csv: free some space and run the same command again to write "
                          "the report") from exc


def _write_report(folder: Path, *, title: str | None, notes: str, reference: str | None) -> Path:
    rows = read_results(folder / "results.csv")
    table = summarize(rows)
    study = _read_study(folder / "study.json")
    lines = [f"# {title or study.get('name', folder.name)}", ""]
    if notes:
        lines += [notes, ""]
    if table.empty:
        lines.append("No finished cells yet.")
    else:
        lines += ["Losses and metrics on the test trajectories, from the simulator's ledger; mean over seeds "
                  "with the half-width of the 95% t-interval over seeds (0 for a method whose fit does not depend "
                  "on the seed, nan with one seed: the paired comparison over SKUs below measures those); the "
                  "median-seed run is the seed with the median validation loss.", "",
                  table.to_markdown(floatfmt=".4f"), ""]
        _plot_losses(table, folder / "test_loss.png")
        lines += ["![test loss by method](test_loss.png)", ""]
        folds = fold_summary(rows)
        if len(folds):
            lines += ["## Rolling origin: every fold", "",
                      "Each fold's test loss (mean over seeds) on its own test window, the folds' windows disjoint "
                      "and each fold fitted on the periods before its validation window; their mean and the "
                      "half-width of the 95% t-interval over folds (nan with one fold).", "",
                      folds.to_markdown(floatfmt=".4f"), ""]
    datasets = [d.get("name") for d in study.get("study", {}).get("datasets", []) if d.get("name")]
    per_sku = read_per_sku(folder, datasets if len(datasets) > 1 else None)
    if len(per_sku):
        reference = reference or (study.get("study", {}).get("report") or {}).get("reference")
        present = set(per_sku.dataset)
        for dataset in [d for d in datasets if d in present] + ([""] if "" in present else []):
            lines += _per_sku_sections(per_sku[per_sku.dataset == dataset], reference,
                                       f": {dataset}" if dataset else "")
    shown = _plot_paths(folder, folder / "paths.png", datasets if len(datasets) > 1 else None)
    if shown is not None:
        where = f", dataset {shown} (the others' paths are in paths/)" if shown else ""
        lines += [f"## Inventory, orders and demand of sample test SKUs (first seed{where})", "",
                  "A fast, a slow and an intermittent mover of the test split (the segments above), the same SKUs "
                  "for every method; end-of-period on-hand and orders in units, demand as grey bars, warm-up periods "
                  "(not scored) shaded.", "", "![paths](paths.png)", ""]
    if _plot_tuning(folder, folder / "tuning.png", datasets if len(datasets) > 1 else None):
        lines += ["## Tuning", "", "![best-so-far validation loss](tuning.png)", ""]
    if _plot_training(folder, folder / "training.png", datasets if len(datasets) > 1 else None):
        lines += ["## Training curves", "", "Validation loss at each evaluation of the learners' reported runs "
                  "against training seconds (one colour per method, the first seed solid); the losses kept are "
                  "each run's best.", "", "![validation loss during training](training.png)", ""]
    problem = study.get("study", {}).get("problem_spec")
    if problem is not None:
        data = [{k: v for k, v in d.items() if v not in (None, {}, "")} for d in study["study"].get("datasets", [])]
        lines += ["## Set-up", "", f"- problem: `{problem}`", f"- data: `{data}`",
                  f"- seeds: {study['study'].get('seeds')}", f"- tuning: `{study['study'].get('tuning')}`", ""]
    return atomic_write_text(folder / "report.md", "\n".join(lines))


def _read_study(path: Path) -> dict[str, Any]:
    """The study recorded next to its results (``{}`` when there is none)."""
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_bytes() or b"{}")
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
