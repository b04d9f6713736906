"""The paper's findings (paper.md section 5), checked on a run of the `deepstock-synthetic` study.

Reads the run's ``results.csv`` and ``tuning/*.json`` and writes a markdown page with

- per setting 1-3: test loss of DS, PPO and DDPG with None and Base (mean and 95% CI over the
  seeds), the benchmarks, and whether Base beats None (the CI half-widths tell noise apart);
- best-so-far validation loss against tuning trials (setting 1), as a table and a plot;
- setting 3: DS's validation/test gap against PPO's and DDPG's (overfitting with few SKUs);
- setting 4: DS's gap to the analytic optimal base stock 100 + 1.2816 sigma against N and H
  (the analytic policy is scored here with the same simulator on the same test trajectories);
- DDPG's critic loss, None against Base: the selected configurations of setting 1 retrained
  here with ``--critic-seeds`` seeds (their histories record the critic loss at every
  evaluation), unless the run saved ``history.csv`` next to its DDPG policies.

    .venv/bin/python benchmarks/deepstock_findings.py runs/deepstock-synthetic \\
        --out docs/results/deepstock-synthetic.md

The wall time comes from the run's ``report.md`` (``--wall-time`` overrides it). Text written
by hand into the page, between the lines ``<!-- hand-written -->`` and
``<!-- end hand-written -->``, is carried over when the page is regenerated (it follows the
page's introduction); a page without those markers that would be overwritten is first copied
to ``<page>.md.orig``, so nothing written by hand is lost.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from pathlib import Path

import pandas as pd

from orkit.core import InventoryProblem
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.experiments.config import load_study
from orkit.experiments.registry import POLICIES
from orkit.experiments.report import ci95
from orkit.experiments.runner import _slug, fit_policy
from orkit.heuristics import BaseStockPolicy

LEARNERS = ("DS", "PPO", "DDPG")
HAND_WRITTEN = ("<!-- hand-written -->", "<!-- end hand-written -->")


def hand_written_block(page: Path) -> list[str] | None:
    """The lines of ``page`` between the hand-written markers, markers included; ``None`` when
    the page does not exist or has no such block."""
    if not page.exists():
        return None
    lines = page.read_text().splitlines()
    start, end = HAND_WRITTEN
    if start not in lines:
        return None
    i = lines.index(start)
    if end not in lines[i:]:
        raise SystemExit(f"{page}: '{start}' without a following '{end}'; close the block or remove the marker")
    j = lines.index(end, i)
    return lines[i:j + 1]


def run_provenance(run: Path) -> tuple[str, str]:
    """The run's wall time (in minutes, with its workers and cores) and its command line, as
    ``orkit run`` records them in ``report.md``; empty strings where the report does not say."""
    report = run / "report.md"
    text = report.read_text() if report.exists() else ""
    wall = re.search(r"Wall time of this run: ([0-9.]+) s( \(([^)]*)\))?", text)
    command = re.search(r"^Command: `([^`]*)`", text, re.M)
    wall_time = ""
    if wall:
        seconds = float(wall.group(1))
        wall_time = f"{seconds / 60:.0f} min ({seconds:,.0f} s" + (f"; {wall.group(3)}" if wall.group(3) else "") + ")"
    return wall_time, command.group(1) if command else ""


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (the study report's)."""
    return (statistics.fmean(values) if values else math.nan), ci95(values)


def losses(frame: pd.DataFrame, dataset: str, label: str, split: str = "test") -> list[float]:
    rows = frame[(frame.dataset == dataset) & (frame.label == label) & (frame.split == split)]
    return rows.sort_values("seed").loss.tolist()


def fmt(values: list[float]) -> str:
    if not values:
        return "not run"
    m, ci = mean_ci(values)
    return f"{m:.4f} ± {ci:.4f}"


def verdict(none: list[float], base: list[float]) -> str:
    """Base against None: better/worse when the means differ by more than both CI half-widths."""
    if not none or not base:
        return "n/a"
    (mn, cn), (mb, cb) = mean_ci(none), mean_ci(base)
    diff = (mb - mn) / mn * 100
    if mb + cb < mn - cn:
        return f"**Base better** ({diff:+.1f}%)"
    if mb - cb > mn + cn:
        return f"Base worse ({diff:+.1f}%)"
    return f"tie within CI ({diff:+.1f}%)"


def changed_since(study: dict) -> list[str]:
    """A paragraph naming what the shipped study file does differently from the run's
    (pruner, fixed method parameters, searched hyper-parameters), so the page does not pass an older protocol off as the
    current one; empty when they agree."""
    from orkit.experiments.config import load_study
    from orkit.experiments.registry import POLICIES

    shipped = load_study("deepstock-synthetic", known_methods=set(POLICIES))
    changes = []
    if shipped.tuning.pruner != study["tuning"].get("pruner"):
        changes.append(f"tunes with `pruner = \"{shipped.tuning.pruner}\"`")
    ran = {m["label"]: m.get("params", {}) for m in study["methods"]}
    for method in shipped.methods:
        extra = {k: v for k, v in method.params.items() if ran.get(method.label, {}).get(k) != v}
        if method.label in ran and extra:
            changes.append(f"gives {method.label} `{json.dumps(extra, sort_keys=True)}`")
    searched = {m["label"]: set(m.get("search") or {}) for m in study["methods"]}
    new_dimensions: dict[tuple[str, ...], list[str]] = {}
    for method in shipped.methods:
        added = tuple(sorted(set(method.search) - searched.get(method.label, set(method.search))))
        if added:
            new_dimensions.setdefault(added, []).append(method.label)
    for added, labels in new_dimensions.items():
        changes.append(f"also searches {', '.join(f'`{k}`' for k in added)} for {', '.join(labels)}")
    if not changes:
        return []
    return ["The shipped `deepstock-synthetic` study has changed since this run: it now " + "; ".join(changes)
            + ". The figures below are those of the run as it was.", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="output folder of `orkit run deepstock-synthetic`")
    parser.add_argument("--out", type=Path, required=True, help="markdown page to write")
    parser.add_argument("--wall-time", default="", help="the run's wall time, for the page (default: from its report.md)")
    parser.add_argument("--command", default="", help="the command that produced the run, for the page "
                        "(default: from its report.md)")
    parser.add_argument("--critic-seeds", type=int, default=3, help="seeds of the DDPG critic-loss retraining (0: skip)")
    args = parser.parse_args()

    frame = pd.read_csv(args.run / "results.csv")
    frame["loss"] = pd.to_numeric(frame.loss)
    study = json.loads((args.run / "study.json").read_text())["study"]
    kept = hand_written_block(args.out)
    recorded_wall_time, recorded_command = run_provenance(args.run)
    wall_time, command = args.wall_time or recorded_wall_time, args.command or recorded_command
    figures = args.out.parent / args.out.stem
    figures.mkdir(parents=True, exist_ok=True)
    seeds = sorted(frame.seed.unique())
    tuning = study["tuning"]
    lines = [
        "# DeepStock synthetic experiments (paper.md section 5) with orkit",
        "",
        f"Produced by `{command or 'orkit run deepstock-synthetic'}` and "
        f"`python benchmarks/deepstock_findings.py {args.run} --out {args.out}`.",
        "",
        f"**Budget:** {tuning['trials']} TPE trials per (setting, learner, regularization) cell "
        f"({tuning['startup_trials']} random), `pruner = \"{tuning['pruner']}\"`, the top {tuning['top_k']} "
        f"configurations re-run with {len(seeds)} seeds, selection on mean validation loss. The paper's "
        "protocol is 50 trials and the top 5 re-run with 5 seeds; this run is smaller so that it fits "
        "a 2-core machine in a working session." + (f" **Wall time:** {wall_time}." if wall_time else ""),
        "",
        *changed_since(study),
        "Test loss = weighted holding (h = 0.1) and shortage (b = 0.9) cost per SKU-period on the 100 "
        "test trajectories, from the simulator's ledger; mean ± half-width of the 95% t-interval "
        f"over the {len(seeds)} seeds of the selected configuration.",
        "",
    ]
    if kept:
        lines += [*kept, ""]

    # ---------------------------------------------------------------- settings 1-3
    lines += ["## Settings 1-3: Base against None", ""]
    header = "| setting | " + " | ".join(f"{l} None | {l} Base | {l}: Base vs None" for l in LEARNERS) + " |"
    lines += [header, "|" + "---|" * (1 + 3 * len(LEARNERS))]
    bench_lines = []
    summary = {}
    for k in (1, 2, 3):
        d = f"setting-{k}"
        cells = []
        for learner in LEARNERS:
            none, base = losses(frame, d, f"{learner} None"), losses(frame, d, f"{learner} Base")
            summary[(k, learner)] = (none, base)
            cells += [fmt(none), fmt(base), verdict(none, base)]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
        benches = sorted(set(frame[frame.dataset == d].label) - {f"{l} {r}" for l in LEARNERS for r in ("None", "Base")})
        bench_lines.append(f"| {k} | " + "; ".join(f"{b}: {fmt(losses(frame, d, b))}" for b in benches) + " |")
    lines += ["", "Benchmarks on the same test trajectories:", "", "| setting | benchmark test loss |", "|---|---|"]
    lines += bench_lines + [""]
    best = {}
    for k in (1, 2, 3):
        d = f"setting-{k}"
        scored = {l: statistics.fmean(summary[(k, l)][1]) for l in LEARNERS if summary[(k, l)][1]}
        best[k] = min(scored, key=scored.get) if scored else None
    wins = sum(verdict(*summary[key]).startswith("**Base better") for key in summary)
    losses_ = sum(verdict(*summary[key]).startswith("Base worse") for key in summary)
    lower = sum(1 for none, base in summary.values() if none and base and statistics.fmean(base) < statistics.fmean(none))
    lines += [f"Base is better than None beyond the seed noise (95% intervals apart) in {wins} of {len(summary)} "
              f"(setting, learner) pairs and worse in {losses_}; Base has the lower mean test loss in {lower} of "
              f"{len(summary)}. Best Base learner per "
              "setting: " + ", ".join(f"setting {k}: {best[k]}" for k in best) + ".", ""]

    # ---------------------------------------------------------------- best so far
    lines += ["## Best-so-far validation loss against tuning trials (setting 1)", ""]
    curves = {}
    for learner in LEARNERS:
        for reg in ("None", "Base"):
            path = args.run / "tuning" / f"{_slug('setting-1-' + learner + ' ' + reg)}.json"
            if path.exists():
                curves[f"{learner} {reg}"] = json.loads(path.read_text())["best_so_far"]
    if curves:
        n = max(len(c) for c in curves.values())
        marks = sorted({1, 2, 3, 5, 8, n} & set(range(1, n + 1)))
        lines += ["Best validation loss after the k-th completed trial (pruned trials do not complete):", "",
                  "| cell | " + " | ".join(f"k={m}" for m in marks) + " |", "|" + "---|" * (1 + len(marks))]
        for label, c in curves.items():
            lines.append(f"| {label} | " + " | ".join(f"{c[m - 1]:.4f}" if m <= len(c) else "" for m in marks) + " |")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for label, c in curves.items():
            ax.plot(range(1, len(c) + 1), c, label=label, ls="-" if "Base" in label else "--")
        ax.set_xlabel("completed tuning trials")
        ax.set_ylabel("best validation loss so far")
        ax.set_title("Setting 1: best-so-far validation loss")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(figures / "best_so_far.png", dpi=110)
        plt.close(fig)
        lines += ["", f"![best so far]({figures.name}/best_so_far.png)", ""]

    # ---------------------------------------------------------------- sensitivity
    lines += sensitivity_section(args.run, study["name"])

    # ---------------------------------------------------------------- setting 3 gap
    lines += ["## Setting 3 (5 training SKUs): validation against test", "",
              "| learner | validation loss | test loss | test - validation |", "|---|---|---|---|"]
    for learner in LEARNERS:
        for reg in ("None", "Base"):
            val, test = losses(frame, "setting-3", f"{learner} {reg}", "validation"), losses(frame, "setting-3", f"{learner} {reg}")
            if val and test:
                lines.append(f"| {learner} {reg} | {statistics.fmean(val):.4f} | {statistics.fmean(test):.4f} | "
                             f"{statistics.fmean(test) - statistics.fmean(val):+.4f} |")
    lines.append("")

    # ---------------------------------------------------------------- setting 4
    sweep = sorted({d for d in frame.dataset.unique() if d.startswith("setting-4-")},
                   key=lambda d: tuple(int(x) for x in re.findall(r"\d+", d[len("setting-4"):])))
    if sweep:
        lines += ["## Setting 4: DS against the optimal base stock, by N and H", "",
                  "Gap of the test loss to the analytic optimal base stock 100 + 1.2816 sigma_i (scored "
                  "here on the same test trajectories), in percent; the fitted feature-linear base stock "
                  "is the sample (SAA) version.", "",
                  "| N | H | optimal base stock loss | DS None gap | DS Base gap | feature-linear base stock gap |",
                  "|---|---|---|---|---|---|"]
        specs = {d["name"]: d for d in study["datasets"]}
        gaps = {}
        for d in sweep:
            params = dict(specs[d]["params"])
            data = generate(specs[d]["generator"], **params)
            problem = InventoryProblem(**data.metadata["problem"])
            test = data.splits()[2]
            optimum = evaluate(BaseStockPolicy(level=test.attributes["optimal_base_stock"].to_numpy()), test,
                               problem)["weighted_loss"]
            row = []
            for label in ("DS None", "DS Base", "base stock linear in sigma (analytic form)"):
                values = losses(frame, d, label)
                gap = (statistics.fmean(values) / optimum - 1) * 100 if values else math.nan
                gaps[(params["n_train"], params["horizon_cycles"], label)] = gap
                row.append(f"{gap:+.1f}%" if values else "not run")
            lines.append(f"| {params['n_train']} | {params['horizon_cycles']} | {optimum:.4f} | " + " | ".join(row) + " |")
        lines.append("")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
        for ax, label in zip(axes, ("DS None", "DS Base")):
            for n in sorted({k[0] for k in gaps}):
                hs = sorted({k[1] for k in gaps if k[0] == n})
                ax.plot(hs, [gaps[(n, h, label)] for h in hs], marker="o", label=f"N = {n}")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("H (review cycles per trajectory)")
            ax.set_title(label)
            ax.axhline(0, color="grey", lw=0.6)
            ax.legend(fontsize=8)
        axes[0].set_ylabel("test loss above the optimal base stock [%]")
        fig.tight_layout()
        fig.savefig(figures / "setting4_gap.png", dpi=110)
        plt.close(fig)
        lines += [f"![setting 4 gap]({figures.name}/setting4_gap.png)", ""]

    # ---------------------------------------------------------------- DDPG critic loss
    if args.critic_seeds > 0:
        lines += critic_section(args.run, study, figures, args.critic_seeds)

    if args.out.exists() and kept is None:
        backup = args.out.with_name(args.out.name + ".orig")
        backup.write_text(args.out.read_text())
        print(f"{args.out} has no hand-written block; its previous text is kept in {backup}")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}" + (f" (hand-written block of {len(kept) - 2} lines kept)" if kept else ""))


def sensitivity_section(run: Path, name: str) -> list[str]:
    """Validation loss over all completed trials of each cell: how much a learner depends on
    its hyper-parameters (the paper: Base makes every learner much less sensitive)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = f"sqlite:///{run / 'tuning.db'}"
    lines = ["## Sensitivity to hyper-parameters: validation loss over the tuning trials", "",
             "Every completed trial of the cell (its configuration drawn by TPE, fitted with the tuning "
             "seed); pruned trials are left out, so the upper quantiles are flattering for both. The last "
             "three columns take every trial at its first report (the best validation loss after a tenth of "
             "its budget, before any pruning): all configurations the search tried, at an equal budget.", "",
             "| setting | cell | completed | best | median | worst | all trials | median at 1/10 | worst at 1/10 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in (1, 2, 3):
        for learner in LEARNERS:
            for reg in ("None", "Base"):
                try:
                    study = optuna.load_study(study_name=f"{name}/setting-{k}/{learner} {reg}", storage=storage)
                except KeyError:
                    continue
                values = sorted(t.value for t in study.trials if t.value is not None
                                and t.state == optuna.trial.TrialState.COMPLETE)
                first = sorted(t.intermediate_values[min(t.intermediate_values)] for t in study.trials
                               if t.intermediate_values)
                if values:
                    # only where every trial reported: DS's budget is max_epochs (1000) and it usually
                    # stops early, before a tenth of it, so most DS trials never report
                    early = (f"{len(first)} | {statistics.median(first):.4f} | {first[-1]:.4f}"
                             if first and len(first) == len(study.trials) else "n/a | | ")
                    lines.append(f"| {k} | {learner} {reg} | {len(values)} | {values[0]:.4f} | "
                                 f"{statistics.median(values):.4f} | {values[-1]:.4f} | {early} |")
    return lines + [""]


def critic_section(run: Path, study: dict, figures: Path, n_seeds: int) -> list[str]:
    """DDPG's critic loss (mean squared Bellman error on replay minibatches) during training,
    None against Base, with each cell's selected configuration on setting 1."""
    config = load_study("deepstock-synthetic", known_methods=set(POLICIES))
    spec = next(d for d in config.datasets if d.name == "setting-1")
    data = generate(spec.generator, **spec.params)
    problem = InventoryProblem(**data.metadata["problem"])
    train, validation, _ = data.splits()
    histories = {}
    for reg in ("None", "Base"):
        path = run / "tuning" / f"{_slug('setting-1-DDPG ' + reg)}.json"
        if not path.exists():
            return []
        params = json.loads(path.read_text())["selected"]
        histories[reg] = []
        for seed in range(n_seeds):
            saved = run / "policies" / f"{_slug('setting-1-DDPG ' + reg)}-seed{seed}" / "history.csv"
            if saved.exists():
                histories[reg].append(pd.read_csv(saved))
                continue
            policy, _ = fit_policy("ddpg", params, seed, train, validation, problem)
            histories[reg].append(pd.DataFrame(policy.history_))
    lines = ["## DDPG critic loss, None against Base (setting 1)", "",
             "Mean squared Bellman error of the critic on its replay minibatches, at each evaluation, "
             f"for each cell's selected configuration ({n_seeds} seeds; rewards are per-SKU scaled costs, "
             "the same for both). The paper's explanation of Base: the best network output is nearly the "
             "same in every inventory state, so the critic's target is smoother.", "",
             "| cell | critic loss, median over training (mean over seeds) | at the end | validation loss at the end |",
             "|---|---|---|---|"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for reg, runs in histories.items():
        med = statistics.fmean(float(h.critic_loss.dropna().median()) for h in runs)
        end = statistics.fmean(float(h.critic_loss.dropna().iloc[-1]) for h in runs)
        val = statistics.fmean(float(h.validation_loss.iloc[-1]) for h in runs)
        lines.append(f"| DDPG {reg} | {med:.4g} | {end:.4g} | {val:.4f} |")
        for i, h in enumerate(runs):
            h = h.dropna(subset=["critic_loss"])
            ax.plot(h.timesteps, h.critic_loss, color="#c44e52" if reg == "None" else "#4878a8", alpha=0.7,
                    label=f"DDPG {reg}" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("critic loss")
    ax.set_title("Setting 1: DDPG critic loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(figures / "ddpg_critic_loss.png", dpi=110)
    plt.close(fig)
    return lines + ["", f"![critic loss]({figures.name}/ddpg_critic_loss.png)", ""]


if __name__ == "__main__":
    main()
