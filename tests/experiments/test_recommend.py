"""Recommendation mode: SKUs matched by id, today's state built from the sales history, and the
same orders the simulator would place in that state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orkit.core import DataError, InventoryProblem, ValidationError
from orkit.data import Dataset, generate
from orkit.experiments.recommend import build_state, check_state, recommend
from orkit.heuristics import BaseStockPolicy, NewsvendorPolicy
from orkit.rl import DSPolicy
from orkit.sim import simulate

PROBLEM = InventoryProblem(lead_time=2, review_period=1)
TODAY = 59  # the history holds demand for periods 0..58


@pytest.fixture(scope="module")
def history():
    """A sales extract: 12 SKUs with features; today's rows carry the features, not the demand."""
    data = generate("contextual", n_skus=12, n_periods=TODAY + 1, seed=3, split_sizes=None)
    frame = data.to_frame().drop(columns=list(data.attributes.columns))
    frame.attrs = {}
    frame.loc[frame.period == TODAY, "demand"] = np.nan
    return frame


@pytest.fixture(scope="module")
def past(history):
    return Dataset.from_frame(history[history.period < TODAY])


@pytest.fixture(scope="module")
def stock(past):
    rng = np.random.default_rng(0)
    ids = past.sku_ids.astype(str)
    on_hand = pd.DataFrame({"sku": ids, "on_hand": rng.integers(-5, 40, len(ids)).astype(float)})
    open_orders = pd.DataFrame({"sku": [ids[1], ids[1], ids[4]], "arrival": [TODAY + 1, TODAY + 2, TODAY + 1],
                                "quantity": [7.0, 3.0, 12.0]})
    return on_hand, open_orders


@pytest.fixture(scope="module")
def state(history, stock):
    return build_state(history, *stock, problem=PROBLEM)


def _fitted(past):
    return {
        "base-stock per SKU": BaseStockPolicy(per_sku=True).fit(past, past, PROBLEM),
        "newsvendor": NewsvendorPolicy().fit(past, past, PROBLEM),
        "ds": DSPolicy("base", max_epochs=2, seed=0, features="all").fit(past, past, PROBLEM),
    }


@pytest.fixture(scope="module")
def policies(past):
    return _fitted(past)


def test_the_state_holds_what_the_history_and_stock_say(state, past, stock):
    on_hand, _ = stock
    ids = past.sku_ids.astype(str)
    assert state.sku.tolist() == ids.tolist()
    assert (state.period == TODAY).all()  # counted from the history's first period, 0 here
    np.testing.assert_array_equal(state.on_hand, on_hand.on_hand)
    assert state.loc[1, "pipeline_1"] == 7.0 and state.loc[1, "pipeline_2"] == 3.0
    assert state.loc[4, "pipeline_1"] == 12.0 and state.pipeline_1.sum() == 19.0
    np.testing.assert_array_equal(state.demand_lag_1, past.demand[:, -1])  # yesterday
    np.testing.assert_array_equal(state.demand_lag_28, past.demand[:, -28])
    assert set(past.feature_names) <= set(state.columns)


@pytest.mark.parametrize("name", ["base-stock per SKU", "newsvendor", "ds"])
def test_shuffled_state_rows_give_identical_orders_per_sku(policies, state, name):
    policy = policies[name]
    orders = recommend(policy, state, PROBLEM)
    shuffled = state.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again = recommend(policy, shuffled, PROBLEM)
    assert again.sku.tolist() == shuffled.sku.tolist()  # output rows follow the state's rows
    pd.testing.assert_frame_equal(again.set_index("sku").loc[orders.sku], orders.set_index("sku"))


def test_a_per_sku_policy_is_matched_by_id_not_by_row(policies, state, past):
    policy = policies["base-stock per SKU"]
    levels = dict(zip(policy.sku_ids_, np.asarray(policy.level_)))
    assert len(set(levels.values())) > 1  # the SKUs really differ
    table = recommend(policy, state.iloc[::-1].reset_index(drop=True), PROBLEM)
    for row in table.itertuples():
        assert row.target_level == pytest.approx(levels[row.sku])


def test_missing_unknown_and_duplicated_skus_are_named(policies, state):
    policy = policies["base-stock per SKU"]
    with pytest.raises(DataError, match=r"state is missing SKU\(s\) the policy was fitted on: 'sku_0003' \(1 SKU\)"):
        recommend(policy, state[state.sku != "sku_0003"], PROBLEM)
    stranger = pd.concat([state, state.iloc[[0]].assign(sku="NEW-1")], ignore_index=True)
    with pytest.raises(DataError, match=r"state has SKU\(s\) the policy was not fitted on: 'NEW-1' \(1 SKU\)"):
        recommend(policy, stranger, PROBLEM)
    twice = pd.concat([state, state.iloc[[2, 5]]], ignore_index=True)
    with pytest.raises(DataError, match=r"duplicated sku 'sku_0002', 'sku_0005' \(2 SKUs\)"):
        recommend(policies["newsvendor"], twice, PROBLEM)


def test_a_policy_that_reads_today_needs_the_period(policies, state):
    with pytest.raises(DataError, match="reads today's period, which the state does not give"):
        recommend(policies["ds"], state.drop(columns=["period"]), PROBLEM)
    # a policy that does not read it does not need it
    assert len(recommend(policies["newsvendor"], state.drop(columns=["period"]), PROBLEM)) == len(state)


def test_per_sku_values_without_ids_are_refused(state):
    policy = BaseStockPolicy(np.linspace(10, 40, len(state)))
    with pytest.raises(ValidationError, match="one value per SKU but no SKU ids"):
        recommend(policy, state, PROBLEM)


def test_recommend_from_history_equals_the_hand_built_state(policies, state, past, stock):
    on_hand, open_orders = stock
    ids = past.sku_ids.astype(str)
    hand = pd.DataFrame({"sku": ids, "on_hand": on_hand.on_hand.to_numpy(), "period": TODAY})
    hand["pipeline_1"] = [7.0 if i == 1 else 12.0 if i == 4 else 0.0 for i in range(len(ids))]
    hand["pipeline_2"] = [3.0 if i == 1 else 0.0 for i in range(len(ids))]
    for lag in range(1, 29):
        hand[f"demand_lag_{lag}"] = past.demand[:, -lag]
    today = generate("contextual", n_skus=12, n_periods=TODAY + 1, seed=3, split_sizes=None)
    for j, name in enumerate(today.feature_names):
        hand[name] = today.features[:, TODAY, j]
    for name, policy in policies.items():
        pd.testing.assert_frame_equal(recommend(policy, hand, PROBLEM), recommend(policy, state, PROBLEM), obj=name)


@pytest.mark.parametrize("name", ["base-stock per SKU", "newsvendor", "ds"])
def test_recommend_orders_what_the_simulator_orders_in_that_state(policies, past, name):
    """The state of period t read off a simulation (on-hand after arrivals, the pipeline, the
    demand before t) gives the order the simulator placed in t."""
    policy = policies[name]
    t = 40
    ledger = simulate(policy, past, PROBLEM)
    order, end = ledger.order.double().numpy(), ledger.on_hand.double().numpy()
    ids = past.sku_ids.astype(str)
    history = past.to_frame()
    history = history[history.period < t].drop(columns=list(past.attributes.columns))
    history.attrs = {}
    today_rows = past.to_frame()
    today_rows = today_rows[today_rows.period == t].drop(columns=list(past.attributes.columns)).assign(demand=np.nan)
    today_rows.attrs = {}
    on_hand = pd.DataFrame({"sku": ids, "on_hand": end[:, t - 1] + order[:, t - 2]})  # L = 2: placed in t-2
    open_orders = pd.DataFrame({"sku": ids, "arrival": t + 1, "quantity": order[:, t - 1]})
    state = build_state(pd.concat([history, today_rows]), on_hand, open_orders, problem=PROBLEM)
    table = recommend(policy, state, PROBLEM)
    np.testing.assert_allclose(table.order.to_numpy(), order[:, t], rtol=1e-5, atol=1e-4)


def test_a_sku_launched_inside_the_history_is_ordered_for_as_the_simulator_does(policies, past):
    """SKU 0 launched at period 30: the state built from the history says so (first_period), and
    DS (whose demand scale counts the SKU's lived periods only) orders what the simulator orders
    for it on day 40; without first_period it would count 28 periods of history, not 10."""
    policy, t = policies["ds"], 40
    frame = past.to_frame().drop(columns=list(past.attributes.columns))
    frame.attrs = {}
    frame = frame[~((frame.sku == past.sku_ids[0]) & (frame.period < 30))]
    young = Dataset.from_frame(frame)
    assert young.life[0][0] == 30
    ledger = simulate(policy, young, PROBLEM)
    order, end = ledger.order.double().numpy(), ledger.on_hand.double().numpy()
    ids = young.sku_ids.astype(str)
    history = frame[frame.period <= t].copy()
    history.loc[history.period == t, "demand"] = np.nan
    on_hand = pd.DataFrame({"sku": ids, "on_hand": end[:, t - 1] + order[:, t - 2]})
    open_orders = pd.DataFrame({"sku": ids, "arrival": t + 1, "quantity": order[:, t - 1]})
    state = build_state(history, on_hand, open_orders, problem=PROBLEM)
    assert state["first_period"].tolist() == [30] + [0] * (len(ids) - 1)
    table = recommend(policy, state, PROBLEM)
    np.testing.assert_allclose(table.order.to_numpy(), order[:, t], rtol=1e-5, atol=1e-4)
    unaware = recommend(policy, state.drop(columns=["first_period"]), PROBLEM)
    assert abs(float(unaware.order.iloc[0]) - order[0, t]) > 1e-3  # the launch matters for SKU 0


@pytest.mark.parametrize("change, message", [
    (lambda s: s.assign(first_period=s["period"] + 1), "state column 'first_period' must hold whole numbers from 0 "
                                                       "to today's period, got 60 for sku 'sku_0000'"),
    (lambda s: s.assign(on_hand=np.inf), "state column 'on_hand' must be finite, got inf"),
    (lambda s: s.assign(on_hand=np.nan), "state column 'on_hand' is missing a value for sku 'sku_0000'"),
    (lambda s: s.assign(pipeline_0=1.0), "state column 'pipeline_0': the number after pipeline_ counts periods from 1"),
    (lambda s: s.assign(demand_lag_0=1.0), "state column 'demand_lag_0': the number after demand_lag_ counts"),
    (lambda s: s.assign(pipeline_9=1.0), "'pipeline_9' holds units arriving in 9 periods, but orders take at most 2"),
    (lambda s: s.assign(period=np.arange(len(s))), "state column 'period' must be the same on every row"),
    (lambda s: s.assign(period=-1), "state column 'period' must hold a whole number >= 0, got -1"),
    (lambda s: s.assign(promotion="yes"), "state column 'promotion' must be numeric"),
    (lambda s: s.drop(columns=["on_hand"]), r"state table is missing column\(s\) \['on_hand'\]"),
    (lambda s: s.iloc[:0], "state table has no rows"),
    (lambda s: s.assign(lead_time=-1), "state column 'lead_time' must hold whole numbers >= 0, got -1.0"),
])
def test_bad_states_are_named(state, change, message):
    with pytest.raises(DataError, match=message):
        check_state(change(state), PROBLEM)


def test_nan_weights_are_an_error_not_a_blank_order(policies, state):
    history = Dataset.from_frame(pd.concat([state[["sku"]].assign(period=t, demand=1.0) for t in range(10)]))
    bad = BaseStockPolicy(per_sku=True).fit(history, history, PROBLEM)
    bad._level.value = np.full(len(state), np.nan)
    bad._level._cache.clear()
    with pytest.raises(DataError, match=r"gave a non-finite order \(NaN or inf\) for 'sku_0000'"):
        recommend(bad, state, PROBLEM)


@pytest.mark.parametrize("edit, message", [
    (lambda h, o, oo: (h, o.iloc[1:], oo), r"on-hand table is missing SKU\(s\) of the history: 'sku_0000'"),
    (lambda h, o, oo: (h, pd.concat([o, o.iloc[[0]].assign(sku="X")]), oo), r"on-hand table has SKU\(s\) that are not in the history: 'X'"),
    (lambda h, o, oo: (h, pd.concat([o, o.iloc[[0]]]), oo), "on-hand table has duplicated sku 'sku_0000'"),
    (lambda h, o, oo: (h, o.assign(on_hand="many"), oo), "on-hand column 'on_hand' must be a finite number, got 'many'"),
    (lambda h, o, oo: (h, o, oo.assign(arrival=TODAY)), "arrives in period 59, not after today"),
    (lambda h, o, oo: (h, o, oo.assign(arrival=TODAY + 5)), "arrives in 5 periods .* at most 2 period"),
    (lambda h, o, oo: (h, o, oo.assign(quantity=-1.0)), "open-orders column 'quantity' must be >= 0"),
    (lambda h, o, oo: (h, o, oo.assign(sku="ghost")), r"open-orders table has SKU\(s\) that are not in the history: 'ghost'"),
    (lambda h, o, oo: (h.assign(demand=h.demand.fillna(1.0)), o, oo), None),  # today = 60: fine
    (lambda h, o, oo: (pd.concat([h, h[h.period == TODAY].assign(period=TODAY + 3)]), o, oo), "rows after today"),
    (lambda h, o, oo: (h.drop(columns=["period"]), o, oo), r"history is missing column\(s\) \['period'\]"),
])
def test_bad_history_and_stock_tables_are_named(history, stock, edit, message):
    h, o, oo = edit(history, *stock)
    if message is None:
        assert build_state(h, o, oo.assign(arrival=TODAY + 2), problem=PROBLEM).period.iloc[0] == TODAY + 1
        return
    with pytest.raises(DataError, match=message):
        build_state(h, o, oo, problem=PROBLEM)


def test_today_with_known_demand_is_refused(history, stock):
    with pytest.raises(DataError, match=r"history has demand for today \(period 58\), .*today=59"):
        build_state(history[history.period < TODAY], *stock, today=TODAY - 1, problem=PROBLEM)


def test_without_todays_rows_the_state_has_no_features_and_a_feature_policy_says_so(history, stock, policies, caplog):
    with caplog.at_level("WARNING"):
        state = build_state(history[history.period < TODAY], *stock, problem=PROBLEM)
    assert "no rows for today (period 59)" in caplog.text
    assert "promotion" not in state.columns
    with pytest.raises(ValidationError, match="needs feature"):
        recommend(policies["ds"], state, PROBLEM)


# ------------------------------------------------------------------ every registered family
def _family_case(name, past, history, stock):
    """(policy fitted on the history, today's state, problem) for a registered family. The
    exact DP and the lost-sales heuristics need integer demand of a small lost-sales instance."""
    from orkit.experiments.registry import make_policy
    from testkit import LOST_SALES_ONLY, SMALL

    if name in LOST_SALES_ONLY:
        data = generate("iid-poisson", n_skus=8, n_periods=30, rate=3.0, seed=2)
        problem = InventoryProblem(lead_time=1, review_period=1, lost_sales=True)
        frame = data.to_frame().drop(columns=list(data.attributes.columns))
        frame.attrs = {}
        ids = data.sku_ids.astype(str)
        on_hand = pd.DataFrame({"sku": ids, "on_hand": np.arange(len(ids), dtype=float)})
        state = build_state(frame, on_hand, problem=problem)
        return make_policy(name).fit(data, data, problem), state, problem
    per_sku = {"per_sku": True} if name in ("base-stock", "constant-order", "newsvendor", "capped-base-stock") else {}
    policy = make_policy(name, **SMALL.get(name, {}), **per_sku).fit(past, past, PROBLEM)
    return policy, build_state(history, *stock, problem=PROBLEM), PROBLEM


@pytest.mark.parametrize("name", sorted(__import__("orkit.experiments.registry", fromlist=["POLICIES"]).POLICIES))
def test_every_family_orders_by_sku_and_reloads_through_the_cli(name, past, history, stock, tmp_path, capsys):
    """Shuffled state rows give every SKU the same order, and ``orkit recommend --load`` of the
    saved policy writes exactly the orders of the policy in memory."""
    from orkit.cli.main import main

    policy, state, problem = _family_case(name, past, history, stock)
    orders = recommend(policy, state, problem)
    shuffled = state.sample(frac=1.0, random_state=4).reset_index(drop=True)
    pd.testing.assert_frame_equal(recommend(policy, shuffled, problem).set_index("sku").loc[orders.sku],
                                  orders.set_index("sku"))

    policy.save(tmp_path / "policy")
    shuffled.to_csv(tmp_path / "state.csv", index=False)
    out = tmp_path / "orders.csv"
    flags = ["--lead-time", str(problem.lead_time)] + (["--lost-sales"] if problem.lost_sales else [])
    assert main(["recommend", "--state", str(tmp_path / "state.csv"), "--load", str(tmp_path / "policy"),
                 "--out", str(out), *flags]) == 0, capsys.readouterr().err
    written = pd.read_csv(out, dtype={"sku": str}).set_index("sku").loc[orders.sku]
    np.testing.assert_array_equal(written.order.to_numpy(np.float32), orders.order.to_numpy(np.float32))


def _dated(frame: pd.DataFrame, start: str = "2024-03-04", freq: str = "D") -> pd.DataFrame:
    """The history with its periods as dates (period 0 = ``start``), column ``day``."""
    step = pd.Timedelta(days=7 if freq == "W" else 1)
    days = pd.Timestamp(start) + frame["period"] * step
    return frame.drop(columns=["period"]).assign(day=days.dt.date.astype(str))


@pytest.mark.parametrize("freq", ["D", "W"])
def test_a_dated_history_gives_the_state_of_its_period_numbering(history, stock, freq):
    """The same sales with dates instead of period numbers (daily or weekly): the same state
    (period counted from the first date), open orders' arrival given as dates; today's
    calendar features from today's date."""
    on_hand, open_orders = stock
    step = pd.Timedelta(days=7 if freq == "W" else 1)
    expected = build_state(history, on_hand, open_orders, problem=PROBLEM)
    dated_orders = open_orders.assign(arrival=(pd.Timestamp("2024-03-04") + open_orders["arrival"] * step)
                                      .dt.date.astype(str))
    state = build_state(_dated(history, freq=freq), on_hand, dated_orders, problem=PROBLEM, date="day",
                        calendar=["weekday"])
    today = pd.Timestamp("2024-03-04") + TODAY * step
    assert (state["weekday"] == today.weekday()).all()
    pd.testing.assert_frame_equal(state.drop(columns=["weekday"]), expected)
    given = build_state(_dated(history, freq=freq), on_hand, dated_orders, problem=PROBLEM, date="day",
                        today=today.date().isoformat())
    pd.testing.assert_frame_equal(given, expected)


def test_a_dated_history_names_dates_in_its_errors(history, stock):
    on_hand, open_orders = stock
    dated = _dated(history, freq="W")
    early = open_orders.assign(arrival="2025-04-21")  # TODAY = 59 weeks after 2024-03-04 is 2025-04-21
    with pytest.raises(DataError, match=r"arrives in 2025-04-21, not after today \(2025-04-21\)"):
        build_state(dated, on_hand, early, problem=PROBLEM, date="day")
    with pytest.raises(DataError, match=r"open orders' arrival must be a date on the history's weekly grid from "
                                        r"2024-03-04, got '2025-04-23'"):
        build_state(dated, on_hand, open_orders.assign(arrival="2025-04-23"), problem=PROBLEM, date="day")
    with pytest.raises(DataError, match=r"today must be a date for a history with dates \(column 'day'\), got 'soon'"):
        build_state(dated, on_hand, None, problem=PROBLEM, date="day", today="soon")
    with pytest.raises(DataError, match=r"today must come after the history's first date 2024-03-04, got '2024'"):
        build_state(dated, on_hand, None, problem=PROBLEM, date="day", today="2024")  # read as 2024-01-01


def test_orkit_state_reads_a_dated_extract_with_a_column_mapping(history, stock, tmp_path, capsys):
    from orkit.cli.main import main

    on_hand, open_orders = stock
    extract = _dated(history).rename(columns={"sku": "item", "demand": "units"})
    extract.to_csv(tmp_path / "sales.csv", index=False)
    on_hand.to_csv(tmp_path / "stock.csv", index=False)
    open_orders.assign(arrival=(pd.Timestamp("2024-03-04") + pd.to_timedelta(open_orders["arrival"], unit="D"))
                       .dt.date.astype(str)).to_csv(tmp_path / "open.csv", index=False)
    assert main(["state", "--history", str(tmp_path / "sales.csv"), "--on-hand", str(tmp_path / "stock.csv"),
                 "--open-orders", str(tmp_path / "open.csv"), "--column", "sku=item", "--column", "date=day",
                 "--column", "demand=units", "--lead-time", "2", "--out", str(tmp_path / "state.csv")]) == 0
    state = pd.read_csv(tmp_path / "state.csv", dtype={"sku": str})
    expected = build_state(history, on_hand, open_orders, problem=PROBLEM)
    pd.testing.assert_frame_equal(state, expected, check_dtype=False)
    assert main(["state", "--history", str(tmp_path / "sales.csv"), "--on-hand", str(tmp_path / "stock.csv"),
                 "--column", "sku=item", "--column", "date=day", "--column", "demand=units", "--today", "2024-05-02",
                 "--out", str(tmp_path / "again.csv")]) == 0
    assert pd.read_csv(tmp_path / "again.csv")["period"].eq(TODAY).all()  # 2024-05-02 is 59 days after 2024-03-04
