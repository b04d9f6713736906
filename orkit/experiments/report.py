"""The study report: results.csv into report.md with a comparison table and plots."""

from __future__ import annotations

import errno
import json
import math
import statistics
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from orkit.core.errors import DataError
from orkit.core.files import atomic_write_text, atomic_write_with
from orkit.experiments.runner import OutputError, read_results

__all__ = ["write_report", "summarize"]

_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def _ci95(values: list[float]) -> float:
    """Half-width of the 95% t-interval of the mean (0 for a single seed)."""
    if len(values) < 2:
        return 0.0
    t = _T95.get(len(values) - 1, 1.96)
    return t * statistics.stdev(values) / math.sqrt(len(values))


def summarize(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One line per method: test loss mean, 95% CI over seeds, median-seed run and metrics."""
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
            "± 95% CI": _ci95(losses),
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


def _plot_paths(folder: Path, path: Path, datasets: list[str] | None = None) -> str | None:
    """Inventory and order paths of sample test SKUs, one line per method. In a study with
    several datasets only the first dataset's methods are drawn (their SKUs differ). Returns
    the dataset drawn ("" for a one-dataset study), or None when there are no paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from orkit.experiments.runner import _slug

    files = sorted((folder / "paths").glob("*.csv")) if (folder / "paths").exists() else []
    if not files:
        return None
    shown = ""
    if datasets:
        groups = _by_dataset(files, datasets)
        shown = next((d for d in datasets if d in groups), "")
        files = groups.get(shown, files)
    frames = {(f.stem[len(_slug(shown)) + 1:] if shown else f.stem): pd.read_csv(f) for f in files}
    skus = sorted(next(iter(frames.values())).sku.unique())[:3]
    fig, axes = plt.subplots(len(skus), 2, figsize=(11, 2.6 * len(skus)), squeeze=False)
    for i, sku in enumerate(skus):
        for name, frame in frames.items():
            rows = frame[frame.sku == sku]
            axes[i, 0].plot(rows.period, rows.on_hand, label=name)
            axes[i, 1].step(rows.period, rows.order, where="post", label=name)
        axes[i, 0].set_ylabel(f"SKU {sku}")
        axes[i, 0].axhline(0, color="grey", lw=0.6)
    axes[0, 0].set_title("end-of-period on-hand")
    axes[0, 1].set_title("orders")
    axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
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
    names: dict[str, str] = {}  # folder slug -> the study's method label
    if frames and (folder / "results.csv").exists():
        labels = pd.read_csv(folder / "results.csv", usecols=lambda c: c == "label").get("label")
        names = {_slug(str(label)): str(label) for label in (labels.dropna().unique() if labels is not None else [])}
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


def write_report(folder: str | Path, *, title: str | None = None, notes: str = "") -> Path:
    """Write ``report.md`` (and its plots) from the results in ``folder``.

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
        return _write_report(folder, title=title, notes=notes)
    except OSError as exc:
        if isinstance(exc, OutputError) or exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise
        raise OutputError(f"report: no space left on the disk of {folder} ({exc.strerror}); the results are "
                          "complete in results.csv: free some space and run the same command again to write "
                          "the report") from exc


def _write_report(folder: Path, *, title: str | None, notes: str) -> Path:
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
                  "with the half-width of the 95% t-interval; the median-seed run is the seed with the median "
                  "validation loss.", "", table.to_markdown(floatfmt=".4f"), ""]
        _plot_losses(table, folder / "test_loss.png")
        lines += ["![test loss by method](test_loss.png)", ""]
    datasets = [d.get("name") for d in study.get("study", {}).get("datasets", []) if d.get("name")]
    shown = _plot_paths(folder, folder / "paths.png", datasets if len(datasets) > 1 else None)
    if shown is not None:
        where = f", dataset {shown} (the others' paths are in paths/)" if shown else ""
        lines += [f"## Inventory and order paths of sample test SKUs (first seed{where})", "", "![paths](paths.png)", ""]
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
