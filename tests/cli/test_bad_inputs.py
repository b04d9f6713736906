"""Every bad input is one clear line: the parameter or file, the rule and the value; exit
status 2; no traceback; nothing the user wrote is changed and nothing half-written is left.

One row per kind of bad input, run through the real command line (``main``) in a folder that
holds a small, valid set of files (a dataset, a state, stock tables, a study); each row may
add or spoil a file first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orkit.cli.main import main
from orkit.data import generate

DATA = generate("iid-poisson", n_skus=6, n_periods=40, rate=6.0, seed=0, split_sizes=(4, 1, 1))
NO_SPLIT = generate("iid-poisson", n_skus=5, n_periods=40, rate=6.0, seed=1)
STUDY = """name = "tiny"
[data]
generator = "iid-poisson"
params = {{ n_skus = 8, n_periods = 30, rate = 5.0 }}
{extra_data}
[[methods]]
name = "base-stock"
label = "base"
params = {{ level = 20.0 }}
{extra}
"""
#: a study with one tuned method (a few cheap trials)
TUNED = """name = "tuned-study"
[data]
generator = "iid-poisson"
params = {{ n_skus = 8, n_periods = 30, rate = 5.0 }}
[tuning]
trials = 3
top_k = 1
[[methods]]
name = "constant-order"
label = "tuned"
search = {{ quantity = {{ low = {low}, high = {high} }} }}
"""


def _write(folder: Path, name: str, content: str | bytes) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _base_files(folder: Path) -> None:
    DATA.write(folder / "data.csv")
    DATA.write(folder / "data.parquet")
    NO_SPLIT.write(folder / "nosplit.csv")
    ids = NO_SPLIT.sku_ids.astype(str)
    state = pd.DataFrame({"sku": ids, "on_hand": 5.0, "pipeline_1": 2.0, "period": 40})
    state.to_csv(folder / "state.csv", index=False)
    pd.DataFrame({"sku": ids, "on_hand": 5.0}).to_csv(folder / "stock.csv", index=False)
    pd.DataFrame({"sku": ids[:2], "arrival": 41, "quantity": 3.0}).to_csv(folder / "open.csv", index=False)
    _write(folder, "study.toml", STUDY.format(extra="", extra_data=""))
    _write(folder, "orders.csv", "precious\n")


def _spoil_csv(name: str, edit):
    """A setup that writes ``name`` as DATA's long table after ``edit(frame)``, without the header."""

    def setup(folder: Path) -> None:
        frame = edit(DATA.to_frame())
        frame.to_csv(folder / name, index=False)

    return setup


def _text(name: str, content: str | bytes):
    return lambda folder: _write(folder, name, content)


def _state(edit):
    def setup(folder: Path) -> None:
        frame = pd.read_csv(folder / "state.csv")
        edit(frame).to_csv(folder / "bad_state.csv", index=False)

    return setup


def _study(extra: str = "", extra_data: str = "", name: str | None = None):
    def setup(folder: Path) -> None:
        text = STUDY.format(extra=extra, extra_data=extra_data)
        if name is not None:
            text = text.replace('name = "tiny"', f"name = {json.dumps(name)}", 1)
        _write(folder, "bad_study.toml", text)

    return setup


def _header(content: str):
    """A CSV in the older format, whose first line is the orkit header: ``content``."""
    def setup(folder: Path) -> None:
        body = DATA.to_frame().to_csv(index=False, lineterminator="\n")
        _write(folder, "bad.csv", content + "\n" + body)

    return setup


def _extract(edit=lambda rows: rows, name: str = "extract.csv"):
    """A sales extract (columns item, day, units, oos): SKUs A and B, 2024-01-01 to 2024-01-08
    (Mondays), after ``edit(rows)``."""
    def setup(folder: Path) -> None:
        days = pd.date_range("2024-01-01", periods=8).strftime("%Y-%m-%d")
        rows = pd.DataFrame({"item": np.repeat(["A", "B"], 8), "day": np.tile(days, 2), "units": 3.0, "oos": 0})
        edit(rows).to_csv(folder / name, index=False)

    return setup


EXTRACT = ["--column", "sku=item", "--column", "date=day", "--column", "demand=units"]


def _saved(tamper):
    """A setup that saves a per-SKU base-stock policy fitted on NO_SPLIT to ``saved/``, then
    ``tamper(folder)``s it."""

    def setup(folder: Path) -> None:
        from orkit.core import InventoryProblem
        from orkit.heuristics import BaseStockPolicy

        policy = BaseStockPolicy(per_sku=True).fit(NO_SPLIT, NO_SPLIT, InventoryProblem())
        tamper(policy.save(folder / "saved"))

    return setup


def _rewrite_manifest(edit):
    def tamper(saved: Path) -> None:
        manifest = json.loads((saved / "policy.json").read_text())
        edit(manifest, saved)
        (saved / "policy.json").write_text(json.dumps(manifest))

    return tamper


def _nan_level(manifest: dict, saved: Path) -> None:
    """NaN levels, with a checksum that matches them (a careful forger)."""
    from safetensors.numpy import save_file

    save_file({"state.level_": np.full(NO_SPLIT.n_skus, np.nan)}, str(saved / "arrays.safetensors"))
    manifest["files"]["arrays.safetensors"]["sha256"] = hashlib.sha256((saved / "arrays.safetensors").read_bytes()).hexdigest()


def _pickled(saved: Path) -> None:
    import pickle

    (saved / "arrays.safetensors").write_bytes(pickle.dumps({"level": [1.0, 2.0]}))


EVAL = ["evaluate", "--policy", "base-stock", "--param", "level=20"]
REC = ["recommend", "--out", "new_orders.csv", "--policy", "base-stock", "--param", "level=20"]

CASES = [
    # ---- data files
    ("empty csv", _text("empty.csv", b""), [*EVAL, "empty.csv"], r"dataset file 'empty.csv' is empty \(0 bytes\)"),
    ("random bytes parquet", _text("junk.parquet", bytes(range(256)) * 4), [*EVAL, "junk.parquet"],
     r"dataset file 'junk.parquet' is not a readable Parquet file"),
    ("malformed header line", _header("# orkit-dataset {not json"), [*EVAL, "bad.csv"],
     r"dataset file 'bad.csv': its first line must hold the orkit header as JSON"),
    ("header not an object", _header('# orkit-dataset [1, 2]'), [*EVAL, "bad.csv"], r"must hold a JSON object"),
    ("missing dataset", None, [*EVAL, "missing.csv"], r"dataset file 'missing.csv' does not exist"),
    ("dataset is a folder", lambda f: (f / "folder.csv").mkdir(), [*EVAL, "folder.csv"], r"'folder.csv' is a folder"),
    ("wrong suffix", _text("data.txt", "sku,period,demand\n"), [*EVAL, "data.txt"], r"suffix must be one of '.csv', '.parquet', got '.txt'"),
    ("header row only", _text("head.csv", "sku,period,demand\n"), [*EVAL, "head.csv"], r"at least one row"),
    ("no demand column", _spoil_csv("bad.csv", lambda f: f.drop(columns=["demand"])), [*EVAL, "bad.csv"],
     r"missing column\(s\) 'demand' \(demand\)"),
    ("negative demand", _spoil_csv("bad.csv", lambda f: f.assign(demand=f.demand.where(f.index != 7, -3.0))),
     [*EVAL, "bad.csv"], r"demand .*>= 0"),
    ("blank demand", _spoil_csv("bad.csv", lambda f: f.assign(demand=f.demand.where(f.index != 7, np.nan))),
     [*EVAL, "bad.csv"], r"demand"),
    ("duplicate rows", _spoil_csv("bad.csv", lambda f: pd.concat([f, f.iloc[[3]]])), [*EVAL, "bad.csv"],
     r"duplicate \(sku, period\) rows"),
    ("ragged periods", _spoil_csv("bad.csv", lambda f: f.drop(index=[5])), [*EVAL, "bad.csv"], r"periods are ragged"),
    ("fractional period", _spoil_csv("bad.csv", lambda f: f.assign(period=f.period.astype(float).where(f.index != 2, 1.5))),
     [*EVAL, "bad.csv"], r"period column 'period' must hold integers, got 1.5"),
    ("stray word in a feature", _spoil_csv("bad.csv", lambda f: f.assign(
        demand_mean_past_7=f.demand_mean_past_7.astype(object).where(f.index != 9, "yes"))),
     [*EVAL, "bad.csv"], r"column 'demand_mean_past_7' is numeric but for 1 value\(s\): first 'yes'"),
    ("text column", _spoil_csv("bad.csv", lambda f: f.assign(product=np.where(f.index % 2, "bread", "milk"))),
     [*EVAL, "bad.csv"], r"column 'product' holds text"),
    ("not utf-8", _text("latin.csv", "sku,period,demand\nCaf\xe9,0,1\n".encode("latin-1")), [*EVAL, "latin.csv"],
     r"not a .*UTF-8|not a readable CSV"),
    ("split varies within a sku", _spoil_csv("bad.csv", lambda f: f.assign(split=np.where(f.index == 3, "test", f.split))),
     [*EVAL, "bad.csv"], r"split column 'split' must be constant within each SKU"),
    ("all train scored on test", _spoil_csv("bad.csv", lambda f: f.assign(split="train")), [*EVAL, "bad.csv"],
     r"--split test: bad.csv has no SKU in that split \(labels: train 6\)"),
    # ---- reading a sales extract (--column, --freq, --fill-missing, --lives)
    ("unknown column", None, [*EVAL, "data.csv", "--column", "sku=item"],
     r"dataset file 'data.csv' is missing column\(s\) 'item' \(sku\); available columns: \['sku', 'period'"),
    ("unknown column role", None, [*EVAL, "data.csv", "--column", "colour=red"],
     r"--column role must be one of sku, period, date, .*got 'colour' in 'colour=red'"),
    ("column without a name", None, [*EVAL, "data.csv", "--column", "sku"],
     r"--column must look like ROLE=COLUMN \(e.g. sku=item\), got 'sku'"),
    ("column role twice", None, [*EVAL, "data.csv", "--column", "sku=a", "--column", "sku=b"],
     r"--column sku=... is given twice \('a' and 'b'\)"),
    ("date that does not parse", _extract(lambda r: r.assign(day=r.day.where(r.index != 3, "2024-13-45"))),
     [*EVAL, "extract.csv", *EXTRACT], r"date column 'day' must hold ISO dates such as 2024-01-31, got '2024-13-45' at "
     r"row 3 \(sku 'A'\)"),
    ("dates with a time of day", _extract(lambda r: r.assign(day=r.day + " 12:00")), [*EVAL, "extract.csv", *EXTRACT],
     r"date column 'day' must hold whole days \(no time of day\), got '2024-01-01 12:00'"),
    ("weekly dates on different weekdays", _extract(lambda r: r[(r.index % 8 == 0) | (r.index == 10)]),
     [*EVAL, "extract.csv", *EXTRACT, "--freq", "W"],
     r"must fall on a weekly grid \(freq='W': every date a Monday, like 2024-01-01\), got 2024-01-03, a Wednesday"),
    ("freq not inferable", _extract(lambda r: r[r.index % 8 == 0]), [*EVAL, "extract.csv", *EXTRACT],
     r"freq cannot be inferred from one date \(2024-01-01 in date column 'day'\)"),
    ("unknown freq", None, [*EVAL, "data.csv", "--freq", "M"], r"argument --freq: invalid choice: 'M'"),
    ("freq for integer periods", None, [*EVAL, "data.csv", "--freq", "D"], r"freq applies to a date column"),
    ("period and date together", _extract(lambda r: r.assign(period=0)), [*EVAL, "extract.csv", *EXTRACT,
                                                                          "--column", "period=period"],
     r"give the time column as period=... \(integer periods\) or date=... \(dates\), not both"),
    ("missing day", _extract(lambda r: r.drop(index=[4, 5])), [*EVAL, "extract.csv", *EXTRACT],
     r"periods are ragged: sku 'A' has no row for date\(s\) 2024-01-05, 2024-01-06 .* pass fill_missing='zero' "
     r"\(orkit: --fill-missing zero\)"),
    ("unknown fill", None, [*EVAL, "data.csv", "--fill-missing", "mean"], r"argument --fill-missing: invalid choice"),
    ("fitting the empirical DP on a sku that starts late", _extract(lambda r: r.drop(index=[8, 9])),
     ["evaluate", "--policy", "empirical-dp", "extract.csv", *EXTRACT, "--fit", "extract.csv"],
     r"has 1 SKU\(s\) that do not live the whole horizon \(2024-01-01..2024-01-08\): 'B' \(2024-01-03..2024-01-08\); "
     r"fitting the empirical DP on SKUs that start or end inside the horizon is not supported \(its recursion"),
    ("stock-out flag not true/false", _extract(lambda r: r.assign(oos=np.where(r.index == 6, "perhaps", "no"))),
     [*EVAL, "extract.csv", *EXTRACT, "--column", "stockout=oos"],
     r"stockout column 'oos' must hold true/false or 1/0 on every row, got 'perhaps' at sku 'A' date 2024-01-07"),
    ("text column taken as a feature", _extract(lambda r: r.assign(oos="no")), [*EVAL, "extract.csv", *EXTRACT],
     r"column 'oos' holds text .* choose the feature columns with features=\[...\]"),
    ("reading flags for recommend without --fit", None, [*REC, "--state", "state.csv", "--column", "sku=item"],
     r"--column describe\(s\) the columns of --history FILE and --fit FILE; give one, or leave it out"),
    # ---- feature roles and calendar features (--feature-role, --calendar)
    ("feature role without a role", None, [*EVAL, "data.csv", "--feature-role", "price"],
     r"--feature-role must look like NAME=ROLE \(e.g. price=numeric"),
    ("unknown feature role", None, [*EVAL, "data.csv", "--feature-role", "demand_mean_past_7=price-like"],
     r"feature_roles\['demand_mean_past_7'\]: feature role must be one of 'numeric', 'quantity'"),
    ("feature role of no feature", None, [*EVAL, "data.csv", "--feature-role", "price=numeric"],
     r"feature_roles names 'price', which is not a feature; the features are \['demand_mean_past_28'"),
    ("category outside the declared ones", _extract(lambda r: r.assign(oos=np.where(r.index == 6, 2, 0))),
     [*EVAL, "extract.csv", *EXTRACT, "--feature-role", "oos=categorical:0,1"],
     r"feature 'oos' must be one of its categorical values \{0, 1\}, got 2.0 at sku 'A' date 2024-01-07"),
    ("calendar without dates", None, [*EVAL, "data.csv", "--calendar", "weekday"],
     r"has no dates, so calendar features cannot be derived"),
    ("unknown calendar part", _extract(), [*EVAL, "extract.csv", *EXTRACT, "--calendar", "weekday,season"],
     r"calendar part must be one of 'weekday', 'month'.*got 'season'"),
    # ---- problem and CLI parameters
    ("warm-up beyond horizon", None, [*EVAL, "data.csv", "--warmup", "1000"],
     r"--warmup 1000 must be shorter than the data's 40 periods"),
    ("lead time beyond horizon", None, [*EVAL, "data.csv", "--lead-time", "1000000"],
     r"the warm-up L \+ P = 1000001 .* must be shorter than the data's 40 periods"),
    ("negative lead time", None, [*EVAL, "data.csv", "--lead-time", "-1"], r"lead_time must be >= 0, got -1"),
    ("zero review period", None, [*EVAL, "data.csv", "--review-period", "0"], r"review_period must be >= 1, got 0"),
    ("negative holding cost", None, [*EVAL, "data.csv", "--holding-cost", "-0.1"], r"holding_cost must be >= 0"),
    ("negative max order", None, [*EVAL, "data.csv", "--max-order", "-5"], r"max_order"),
    ("not a number", None, [*EVAL, "data.csv", "--lead-time", "two"],
     r"argument --lead-time: must be a whole number L or a law VALUE:PROBABILITY,.*got 'two'"),
    ("lead-time law not a law", None, [*EVAL, "data.csv", "--lead-time", "1:0.5,2"],
     r"argument --lead-time: must be a whole number L or a law VALUE:PROBABILITY,.*got '1:0.5,2'"),
    ("lead-time law not summing to 1", None, [*EVAL, "data.csv", "--lead-time", "1:0.5,2:0.6"],
     r"lead_time probabilities must sum to 1, got 1.1"),
    ("lead-time seed without a law", None, [*EVAL, "data.csv", "--lead-time", "2", "--lead-time-seed", "3"],
     r"--lead-time-seed seeds a random lead time: give the law too"),
    ("unknown split", None, [*EVAL, "data.csv", "--split", "holdout"], r"argument --split: invalid choice: 'holdout'"),
    ("unknown policy", None, ["evaluate", "data.csv", "--policy", "magic"], r"policy must be one of .*got 'magic'"),
    ("unknown policy parameter", None, ["evaluate", "data.csv", "--policy", "base-stock", "--param", "lvl=3"],
     r"bad parameters for policy 'base-stock'"),
    ("param without value", None, ["evaluate", "data.csv", "--policy", "base-stock", "--param", "level"],
     r"--param must look like NAME=VALUE, got 'level'"),
    ("nan level", None, ["evaluate", "data.csv", "--policy", "base-stock", "--param", "level=nan"], r"level must be"),
    ("unknown command", None, ["forecast"], r"argument COMMAND: invalid choice: 'forecast'"),
    ("generate unknown setting", None, ["generate", "nope", "--out", "x.csv"], r"name must be one of"),
    ("generate bad parameter", None, ["generate", "iid-poisson", "--out", "x.csv", "--param", "n_skus=-1",
                                      "--param", "n_periods=5", "--param", "rate=2"], r"n_skus must be >= 1"),
    ("generate over a file", None, ["generate", "iid-normal", "--out", "orders.csv"], r"--out orders.csv exists"),
    ("evaluate fit file missing", None, ["evaluate", "data.csv", "--policy", "newsvendor", "--fit", "nofile.csv"],
     r"dataset file 'nofile.csv' does not exist"),
    # ---- recommend and state
    ("recommend over a file", None, ["recommend", "--state", "state.csv", "--out", "orders.csv", "--policy",
                                     "base-stock", "--param", "level=20"], r"--out orders.csv exists; pass --force"),
    ("recommend output suffix", None, [*REC[:1], "--state", "state.csv", "--out", "orders.xlsx", *REC[3:]],
     r"--out must end in .csv, got 'orders.xlsx'"),
    ("recommend without a policy", None, ["recommend", "--state", "state.csv", "--out", "new.csv"],
     r"give --policy NAME \(with --param/--fit\) or --load FOLDER"),
    ("recommend a learner without data", None, ["recommend", "--state", "state.csv", "--out", "new.csv",
                                                "--policy", "newsvendor"], r"learns from data: give --fit DATASET"),
    ("recommend fit for a given level", None, [*REC, "--state", "state.csv", "--fit", "data.csv"],
     r"--fit data.csv: policy 'base-stock' has all its parameters given"),
    ("state and history", None, [*REC, "--state", "state.csv", "--history", "nosplit.csv", "--on-hand", "stock.csv"],
     r"give today's state as --state FILE, or as --history FILE"),
    ("stock flags with state", None, [*REC, "--state", "state.csv", "--on-hand", "stock.csv"],
     r"--on-hand, --open-orders and --today build the state from --history"),
    ("history without on-hand", None, [*REC, "--history", "nosplit.csv"], r"--history needs --on-hand FILE"),
    ("empty state", _text("bad_state.csv", b""), [*REC, "--state", "bad_state.csv"], r"state file 'bad_state.csv' is empty"),
    ("state without sku", _state(lambda s: s.drop(columns=["sku"])), [*REC, "--state", "bad_state.csv"],
     r"state table is missing column\(s\) \['sku'\]"),
    ("duplicated sku", _state(lambda s: pd.concat([s, s.iloc[[1]]])), [*REC, "--state", "bad_state.csv"],
     r"state table has duplicated sku 'sku_0001' \(1 SKU\)"),
    ("infinite on-hand", _state(lambda s: s.assign(on_hand=np.where(s.index == 0, np.inf, s.on_hand))),
     [*REC, "--state", "bad_state.csv"], r"state column 'on_hand' must be finite, got inf for sku 'sku_0000'"),
    ("text on-hand", _state(lambda s: s.assign(on_hand=np.where(s.index == 0, "ten", s.on_hand))),
     [*REC, "--state", "bad_state.csv"], r"state column 'on_hand' must be numeric, .*'ten'"),
    ("pipeline_0", _state(lambda s: s.assign(pipeline_0=1.0)), [*REC, "--state", "bad_state.csv"],
     r"state column 'pipeline_0': the number after pipeline_ counts periods from 1"),
    ("pipeline beyond the lead time", _state(lambda s: s.assign(pipeline_4=1.0)), [*REC, "--state", "bad_state.csv"],
     r"'pipeline_4' holds units arriving in 4 periods, but orders take at most 1"),
    ("negative pipeline", _state(lambda s: s.assign(pipeline_1=-2.0)), [*REC, "--state", "bad_state.csv"],
     r"state column 'pipeline_1' must be >= 0, got -2.0"),
    ("period varies", _state(lambda s: s.assign(period=s.index)), [*REC, "--state", "bad_state.csv"],
     r"state column 'period' must be the same on every row"),
    ("on-hand misses a sku", _text("short_stock.csv", "sku,on_hand\nsku_0000,4\n"),
     [*REC, "--history", "nosplit.csv", "--on-hand", "short_stock.csv"],
     r"on-hand table is missing SKU\(s\) of the history: 'sku_0001', .* \(4 SKUs\)"),
    ("open order already due", _text("late.csv", "sku,arrival,quantity\nsku_0000,40,3\n"),
     [*REC, "--history", "nosplit.csv", "--on-hand", "stock.csv", "--open-orders", "late.csv"],
     r"open order of sku 'sku_0000' arrives in period 40, not after today \(period 40\)"),
    ("today inside the history", None, [*REC, "--history", "nosplit.csv", "--on-hand", "stock.csv", "--today", "20"],
     r"history has rows after today \(period 20\)"),
    # ---- studies
    ("study file missing", None, ["run", "nostudy.toml"], r"study 'nostudy.toml' is neither a file nor a shipped study"),
    ("study not toml", _text("bad_study.toml", "name = \n"), ["run", "bad_study.toml"], r"not valid TOML"),
    ("study unknown method", _study(extra='[[methods]]\nname = "magic"'), ["run", "bad_study.toml"],
     r"methods\[1\].name: must be one of"),
    ("study unknown key", _study(extra_data="colour = 'red'"), ["run", "bad_study.toml"], r"data.colour: unknown key; allowed keys are"),
    ("study name escapes runs/", _study(name="../../escape"), ["run", "bad_study.toml"],
     r"name: must be letters, digits, .*got '../../escape'"),
    ("study data file missing", _text("bad_study.toml", 'name = "t"\n[data]\nfile = "nothere.csv"\n[[methods]]\nname = "base-stock"\n'
                             'params = { level = 3.0 }\n'), ["run", "bad_study.toml"], r"data.file: .*nothere.csv does not exist"),
    ("study a folder", lambda f: (f / "folder.toml").mkdir(), ["run", "folder.toml"], r"is a folder"),
    ("study trials all fail", _text("bad_study.toml", TUNED.format(low=-9.0, high=-1.0)),
     ["run", "bad_study.toml", "--output", "out", "--no-progress"],
     r"methods\[tuned\]: \d+ tuning trials failed and none finished; last error: quantity must be >= 0", "out/"),
    ("bad storage URL", _text("bad_study.toml", TUNED.format(low=1.0, high=9.0)),
     ["run", "bad_study.toml", "--output", "out", "--storage", "nosuchdb://x/y"],
     r"cannot open the tuning database 'nosuchdb://x/y': unknown database dialect", "out/"),
    ("study output is a file", None, ["run", "study.toml", "--output", "orders.csv"], r"orders.csv"),
    ("tune unknown method", None, ["tune", "study.toml", "--method", "nope", "--storage", "sqlite:///t.db"],
     r"--method must be one of"),
    # ---- saved policies
    ("load a missing folder", None, [*REC[:3], "--state", "state.csv", "--load", "nowhere"],
     r"--load must be a folder holding a saved policy, got 'nowhere'"),
    ("load an empty folder", lambda f: (f / "empty_policy").mkdir(), [*REC[:3], "--state", "state.csv", "--load",
                                                                      "empty_policy"], r"holds no policy"),
    ("load truncated arrays", _saved(lambda d: (d / "arrays.safetensors").write_bytes(
        (d / "arrays.safetensors").read_bytes()[:40])), [*REC[:3], "--state", "state.csv", "--load", "saved"],
     r"arrays.safetensors"),
    ("load a pickle renamed", _saved(_pickled), [*REC[:3], "--state", "state.csv", "--load", "saved"],
     r"arrays.safetensors.*pickle|pickle.*arrays.safetensors"),
    ("load NaN levels", _saved(_rewrite_manifest(_nan_level)), [*REC[:3], "--state", "state.csv", "--load", "saved"],
     r"NaN|finite"),
    ("load a file outside the folder", _saved(_rewrite_manifest(
        lambda m, d: m["files"].update({"../../etc/passwd": m["files"].pop("arrays.safetensors")}))),
     [*REC[:3], "--state", "state.csv", "--load", "saved"], r"\.\./\.\./etc/passwd"),
    ("load an unknown policy", _saved(_rewrite_manifest(lambda m, d: m.update(policy="os.system"))),
     [*REC[:3], "--state", "state.csv", "--load", "saved"], r"os.system"),
    ("load a manifest that is not JSON", _saved(lambda d: (d / "policy.json").write_text("{oops")),
     [*REC[:3], "--state", "state.csv", "--load", "saved"], r"policy.json"),
    ("load with policy flags", lambda f: (f / "empty_policy").mkdir(),
     [*REC, "--state", "state.csv", "--load", "empty_policy"], r"--load FOLDER is a saved, fitted policy"),
]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("setup, argv, message, may_create", [(*c[1:4], c[4] if len(c) > 4 else None) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(setup, argv, message, may_create, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _base_files(tmp_path)
    if setup is not None:
        setup(tmp_path)
    before = _snapshot(tmp_path)
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse
        status = exit_.code
    captured = capsys.readouterr()
    err = captured.err
    assert status == 2, (status, err, captured.out)
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("orkit: error: "), err
    import re

    assert re.search(message, err), err
    after = _snapshot(tmp_path)
    if may_create:  # a study's own run folder (its tuning database, study.json)
        after = {k: v for k, v in after.items() if not k.startswith(may_create) or k in before}
    assert after == before  # nothing written, nothing overwritten


def test_the_table_is_large():
    """The issue asks for the listed cases plus at least 30 more kinds."""
    assert len(CASES) >= 45
