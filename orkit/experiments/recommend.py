"""Recommendation mode: today's state per SKU in, order quantities (and their reasons) out.

This is how a replenishment system uses a policy: no simulation, one decision for every SKU.

**Today's state from the sales history** (:func:`build_state`, ``orkit state``): the history
(the long table a dataset is read from: ``sku, period, demand``, features), an on-hand table
(``sku, on_hand``) and, optionally, the open orders (``sku, arrival, quantity``) give the state
table below, so nobody assembles ``pipeline_1..k`` and ``demand_lag_1..28`` by hand.

**The state table** has one row per SKU:

===================  ==================================================================
column               meaning
===================  ==================================================================
``sku``              SKU id (matched to the policy's SKUs by id, never by row order)
``on_hand``          on-hand stock now, after today's arrivals (negative: backlog)
``pipeline_1`` ...   units arriving in 1, 2, ... periods (optional; 0 when absent;
                     ``k`` from 1 to the longest lead time)
``demand_lag_1`` ... demand 1, 2, ... periods ago (optional; ``recent_demand``)
``period``           today's period, counted like the periods of the data the policy was
                     fitted on (0 = its first period); the same on every row. Required by
                     policies that read it (two-stage, RL, finite-horizon DP): without it
                     they raise instead of assuming 0
``first_period``     the SKU's first period, in the numbering of ``period`` (optional;
                     default 0): a SKU launched within the window of ``demand_lag_*``
                     has a shorter history than ``period`` says (two-stage and RL read
                     it); ``orkit state --history`` writes it for SKUs that start late
``lead_time``,       per-SKU lead time [L] and review period [P] (optional; default the
``review_period``    problem's)
any other column     a feature of today, passed by name (numeric)
===================  ==================================================================

The output has ``sku`` and ``order`` in the state's row order and, when the policy can
explain itself (an ``explain(obs)`` method), its reasons: e.g. ``target_level`` for
base-stock-like (Base/Both) policies, ``coefficient_*`` for Coeff/Both policies.

**Matching by SKU.** A policy fitted per SKU records the SKU ids of its values
(``sku_ids_``); the state's rows are joined to them by id, and a SKU missing from the state,
a state SKU the policy does not know, or a duplicated id is an error naming them. Rows are
always handed to the policy sorted by id, so shuffling the state's rows changes nothing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from orkit.core.errors import DataError, ValidationError
from orkit.core.policy import Observation, Policy
from orkit.core.problem import InventoryProblem

__all__ = ["read_state", "check_state", "recommend", "state_observation", "build_state", "read_history",
           "history_dataset", "DEMAND_WINDOW"]

log = logging.getLogger(__name__)

_PIPE = re.compile(r"^pipeline_(\d+)$")
_LAG = re.compile(r"^demand_lag_(\d+)$")
_TIMING = ("lead_time", "review_period")
#: Periods of past demand a state built from history carries (the simulator's ``demand_window``).
DEMAND_WINDOW = 28


def _ids(values: Any, limit: int = 5) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(repr(v) for v in values[:limit])
    return f"{shown}{', ...' if len(values) > limit else ''} ({len(values)} SKU{'s' if len(values) != 1 else ''})"


def read_state(path: str | Path) -> pd.DataFrame:
    """Read a state table (CSV or Parquet) and check it (:func:`check_state`)."""
    from orkit.data.files import read_table

    return check_state(read_table(path, "state", dtype={"sku": str}))


def check_state(frame: pd.DataFrame, problem: InventoryProblem | None = None) -> pd.DataFrame:
    """Check a state table; return it unchanged. Errors name the column, the rule and the value.

    With ``problem``, ``pipeline_k`` columns are also checked against its longest lead time.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"state must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("sku", "on_hand") if c not in frame.columns]
    if missing:
        raise DataError(f"state table is missing column(s) {missing}; it has {list(frame.columns)}")
    if len(frame) == 0:
        raise DataError("state table has no rows: give one row per SKU to order for")
    if frame.columns.has_duplicates:
        raise DataError(f"state table has duplicated column names: {sorted(set(frame.columns[frame.columns.duplicated()]))}")
    if frame["sku"].isna().any():
        raise DataError(f"state column 'sku' is missing a value at row {int(np.flatnonzero(frame['sku'].isna())[0])}")
    skus = frame["sku"].astype(str)
    duplicated = skus[skus.duplicated(keep=False)].unique()
    if len(duplicated):
        raise DataError(f"state table has duplicated sku {_ids(duplicated)}: one row per SKU")
    for col in frame.columns:
        if col == "sku":
            continue
        if not (pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col])):
            bad = pd.to_numeric(frame[col], errors="coerce").isna() & frame[col].notna()
            where = f" (first non-numeric value {frame[col][bad].iloc[0]!r} for sku {skus[bad].iloc[0]!r})" if bad.any() else ""
            raise DataError(f"state column {col!r} must be numeric, got {frame[col].dtype}{where}")
        values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            raise DataError(f"state column {col!r} is missing a value for sku {skus[np.isnan(values)].iloc[0]!r}")
        if not np.isfinite(values).all():
            raise DataError(f"state column {col!r} must be finite, got {values[~np.isfinite(values)][0]} for sku "
                            f"{skus[~np.isfinite(values)].iloc[0]!r}")
    for col in frame.columns:
        match = _PIPE.match(col) or _LAG.match(col)
        if match and int(match.group(1)) < 1:
            raise DataError(f"state column {col!r}: the number after {col.rsplit('_', 1)[0]}_ counts periods "
                            f"from 1 (1 = next period / yesterday), got {match.group(1)}")
        if match and (frame[col] < 0).any():
            raise DataError(f"state column {col!r} must be >= 0, got {frame[col].min()} for sku "
                            f"{skus[frame[col] < 0].iloc[0]!r}")
    if "period" in frame.columns:
        periods = frame["period"].to_numpy(dtype=np.float64)
        if (periods != np.round(periods)).any() or (periods < 0).any():
            raise DataError(f"state column 'period' must hold a whole number >= 0, got {periods[(periods != np.round(periods)) | (periods < 0)][0]}")
        if len(np.unique(periods)) > 1:
            raise DataError(f"state column 'period' must be the same on every row (today), got {sorted(set(periods.astype(int)))[:5]}")
    if "first_period" in frame.columns:
        first = frame["first_period"].to_numpy(dtype=np.float64)
        bad = (first != np.round(first)) | (first < 0)
        if "period" in frame.columns:
            bad |= first > frame["period"].to_numpy(dtype=np.float64)
        if bad.any():
            raise DataError(f"state column 'first_period' must hold whole numbers from 0 to today's period, got "
                            f"{first[bad][0]:g} for sku {skus[bad].iloc[0]!r}")
    for col, low in zip(_TIMING, (0, 1)):
        if col in frame.columns:
            values = frame[col].to_numpy(dtype=np.float64)
            bad = (values != np.round(values)) | (values < low)
            if bad.any():
                raise DataError(f"state column {col!r} must hold whole numbers >= {low}, got {values[bad][0]} for sku "
                                f"{skus[bad].iloc[0]!r}")
    if problem is not None:
        width = _pipeline_width(frame, problem)
        for col in frame.columns:
            match = _PIPE.match(col)
            if match and int(match.group(1)) > width and (frame[col] != 0).any():
                raise DataError(
                    f"state column {col!r} holds units arriving in {match.group(1)} periods, but orders take at most "
                    f"{width} period(s) to arrive (lead time); an order placed today arrives in L periods"
                )
    return frame


def _pipeline_width(frame: pd.DataFrame, problem: InventoryProblem) -> int:
    if "lead_time" in frame.columns:
        return int(frame["lead_time"].max())
    return int(problem.max_lead_time)


def state_observation(frame: pd.DataFrame, problem: InventoryProblem) -> Observation:
    """The :class:`Observation` a policy would see for this state (rows in the frame's order).

    ``obs.period`` is the state's ``period`` column; without one, a policy that reads it
    raises :class:`~orkit.core.errors.DataError`.
    """
    n = len(frame)
    as_t = lambda values: torch.tensor(np.asarray(values, dtype=np.float32))  # noqa: E731
    pipes = sorted((int(m.group(1)), c) for c in frame.columns if (m := _PIPE.match(c)))
    lags = sorted((int(m.group(1)), c) for c in frame.columns if (m := _LAG.match(c)))
    width = _pipeline_width(frame, problem)
    pipeline = torch.zeros(n, width)
    for j, col in pipes:
        if j <= width:
            pipeline[:, j - 1] = as_t(frame[col])
    on_hand = as_t(frame["on_hand"])
    recent = torch.zeros(n, lags[-1][0] if lags else 0)
    for j, col in lags:  # oldest first, like the simulator's window; absent lags are 0
        recent[:, -j] = as_t(frame[col])
    skip = {"sku", "on_hand", "period", "first_period", *_TIMING} | {c for _, c in pipes} | {c for _, c in lags}
    names = tuple(str(c) for c in frame.columns if c not in skip)
    features = torch.stack([as_t(frame[c]) for c in names], 1) if names else torch.zeros(n, 0)
    period = int(frame["period"].iloc[0]) if "period" in frame.columns else None
    timing = {}
    for col, default in zip(_TIMING, (problem.lead_times(n), problem.review_periods(n))):
        values = frame[col].to_numpy(dtype=np.int64) if col in frame.columns else default
        timing[col] = torch.as_tensor(np.asarray(values, dtype=np.int64))
    first = frame["first_period"].to_numpy(dtype=np.int64) if "first_period" in frame.columns else np.zeros(n, np.int64)
    return Observation(
        period=period,
        on_hand=on_hand,
        inventory_position=on_hand + pipeline.sum(1),
        feature_names=names,
        features=features,
        pipeline=pipeline,
        recent_demand=recent,
        first_period=torch.as_tensor(np.array(first)),
        **timing,
    )


def _aligned(policy: Policy, state: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The state's rows in the order the policy serves them, and where each output row goes.

    A policy with per-SKU values (``sku_ids_``) gets exactly its SKUs in its order; any other
    policy gets the rows sorted by SKU id, so no result depends on the state's row order.
    """
    skus = state["sku"].astype(str).to_numpy()
    ids = getattr(policy, "sku_ids_", None)
    if ids is None:
        if getattr(policy, "per_sku_", False):
            raise ValidationError(
                f"{type(policy).__name__} has one value per SKU but no SKU ids, so it cannot be matched to the "
                "state's SKUs: fit it on a dataset (per_sku=True records the SKU ids) or give one value for all SKUs"
            )
        order = np.argsort(skus, kind="stable")
    else:
        ids = np.asarray(ids).astype(str)
        known = pd.Index(ids)
        unknown = skus[~pd.Index(skus).isin(known)]
        if len(unknown):
            raise DataError(f"state has SKU(s) the policy was not fitted on: {_ids(unknown)}; the policy knows "
                            f"{len(ids)} SKUs")
        missing = ids[~known.isin(skus)]
        if len(missing):
            raise DataError(f"state is missing SKU(s) the policy was fitted on: {_ids(missing)}; give a row for "
                            "each of the policy's SKUs")
        order = pd.Index(skus).get_indexer(ids)
    return state.iloc[order].reset_index(drop=True), order


def _caps(problem: InventoryProblem, aligned: pd.DataFrame) -> Any:
    """The order cap of each row of ``aligned`` (a float, a float32 tensor, or None)."""
    if np.ndim(problem.max_order) == 0:
        return problem.max_order
    if problem.sku_ids is None:
        raise ValidationError(
            "a per-SKU max_order in recommend must be keyed by SKU id (InventoryProblem(sku_ids=...) or "
            "with_attributes), so that each state row takes its own SKU's cap, not the cap at its row position"
        )
    ids = aligned["sku"].astype(str).to_numpy()
    caps = problem.for_data(SimpleNamespace(sku_ids=ids)).max_order
    return torch.tensor(caps, dtype=torch.float32)  # a copy: the problem's arrays are read-only


def recommend(policy: Policy, state: pd.DataFrame, problem: InventoryProblem) -> pd.DataFrame:
    """Orders (clipped to ``[0, max_order]``: each SKU's own cap where the problem gives one
    per SKU, keyed by SKU id) and explanations for every SKU of ``state``.

    Parameters
    ----------
    policy : Policy
        A fitted policy (or one whose parameters are all given).
    state : DataFrame
        Today's state, one row per SKU (module docstring; :func:`build_state` makes it).
    problem : InventoryProblem
        Its ``lead_time`` and ``review_period`` must be single values: per-SKU values go in
        the state's ``lead_time`` / ``review_period`` columns, matched by SKU id.

    Returns
    -------
    DataFrame
        ``sku``, ``order`` and the policy's explanations, in the state's row order.

    Raises
    ------
    DataError
        A malformed state, SKUs that do not match the policy's, a missing ``period`` for a
        policy that reads it, or a non-finite order (NaN parameters or weights).
    """
    state = check_state(state, problem)
    if np.ndim(problem.lead_time) or np.ndim(problem.review_period):
        raise ValidationError(
            "problem.lead_time and problem.review_period must be single values in recommend; give per-SKU values as "
            "state columns lead_time and review_period, which are matched by SKU id"
        )
    aligned, order = _aligned(policy, state)
    obs = state_observation(aligned, problem)
    with torch.no_grad():
        orders = torch.as_tensor(policy.act(obs)).reshape(-1).float()
        if orders.shape[0] != len(aligned):
            raise DataError(f"{type(policy).__name__} gave {orders.shape[0]} orders for {len(aligned)} SKUs")
        bad = ~torch.isfinite(orders)
        if bool(bad.any()):
            raise DataError(
                f"{type(policy).__name__} gave a non-finite order (NaN or inf) for {_ids(aligned['sku'][bad.numpy()])}: "
                "its parameters or weights, or today's state, hold NaN or inf"
            )
        orders = orders.clamp(min=0.0)
        cap = _caps(problem, aligned)
        if cap is not None:
            orders = orders.clamp(max=cap)
        out = pd.DataFrame({"sku": aligned["sku"].to_numpy(), "order": orders.cpu().numpy()})
        explain = getattr(policy, "explain", None)
        if callable(explain):
            for name, value in explain(obs).items():
                value = torch.as_tensor(value).detach().cpu()
                if value.ndim == 0:
                    value = value.expand(len(out))
                if value.ndim == 1:
                    out[name] = value.numpy()
                else:
                    for j in range(value.shape[1]):
                        out[f"{name}_{j}"] = value[:, j].numpy()
    # back to the state's row order
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return out.iloc[inverse].reset_index(drop=True)


# ------------------------------------------------------------------------ state from history
def read_history(path: str | Path, *, sku: str = "sku") -> pd.DataFrame:
    """The long sales table of ``path`` as :meth:`Dataset.read` reads it (orkit's header kept),
    today's rows with empty demand included (see :func:`build_state`)."""
    from orkit.data import read_long_table

    return read_long_table(path, sku=sku, role="history")


def history_dataset(frame: pd.DataFrame, *, demand: str = "demand", **options: Any) -> tuple[Any, str]:
    """The dataset a policy is fitted on from a sales history, and a note on what was left out.

    The last periods may be **today's** rows, with features and no demand yet (see
    :func:`build_state`): trailing periods (or dates) in which no SKU has demand are left out,
    and the note says so. Missing demand anywhere else is an error, as in
    :meth:`Dataset.from_frame`, which receives ``options`` (``sku``, ``period`` or ``date``,
    ``freq``, ``fill_missing``, ``features``, ...).
    """
    from orkit.data import Dataset

    time = options.get("date") or options.get("period", "period")
    if time in frame.columns and demand in frame.columns:
        times = pd.to_datetime(frame[time], errors="coerce") if options.get("date") else \
            pd.to_numeric(frame[time], errors="coerce")
        observed = pd.to_numeric(frame[demand], errors="coerce").notna()
        if observed.any() and not observed.all():
            later = times > times[observed].max()
            if later.any() and not observed[later].any():
                kept = frame[~later]
                first, last = times[later].min(), times[later].max()
                name = (lambda t: t.date().isoformat()) if options.get("date") else int  # noqa: E731
                span = f"{time} {name(first)}" if first == last else f"{time} {name(first)}..{name(last)}"
                return (Dataset.from_frame(kept, demand=demand, **options),
                        f"{int(later.sum())} rows of {span} have no demand yet (today's) and are left out")
    return Dataset.from_frame(frame, demand=demand, **options), ""


def build_state(
    history: Any,
    on_hand: pd.DataFrame,
    open_orders: pd.DataFrame | None = None,
    *,
    today: Any = None,
    window: int = DEMAND_WINDOW,
    problem: InventoryProblem | None = None,
    sku: str = "sku",
    period: str = "period",
    demand: str = "demand",
    **options: Any,
) -> pd.DataFrame:
    """Today's state table (see the module docstring) from the sales history and the stock.

    Parameters
    ----------
    history : DataFrame or Dataset
        The long table ``sku, period, demand`` plus feature columns (the format orkit reads
        datasets from; the file a policy was fitted on will do). Periods are whole numbers.
        Rows for **today** may be present with empty demand: they give today's features
        (prices, promotions planned), which a policy that uses features needs. Without them
        the state has no features (with a warning), and such a policy raises when it acts.
    on_hand : DataFrame
        ``sku, on_hand``: stock on hand now, after today's arrivals (negative: backlog); one
        row for every SKU of the history.
    open_orders : DataFrame, optional
        ``sku, arrival, quantity``: orders placed and not yet received, ``arrival`` in the
        history's period numbering, or a date for a dated history (after today; one or more
        rows per SKU, summed).
    today : int or date, optional
        Today's period (a date for a dated history); default the period after the last one
        with demand.
    window : int, default=28
        Periods of past demand in the state (``demand_lag_1`` = yesterday).
    problem : InventoryProblem, optional
        Checks open orders against its longest lead time.
    sku, period, demand : str
        Column names of the history.
    **options
        How to read the history, as :meth:`Dataset.from_frame <orkit.data.Dataset.from_frame>`
        reads a table: ``date`` (a dated history: periods are its days or weeks, counted from
        its first date), ``freq``, ``fill_missing``, ``lives``, ``features``, ...

    Returns
    -------
    DataFrame
        ``sku, period, on_hand, pipeline_1..k, demand_lag_1..window`` and today's features.
        ``period`` counts from the history's first period (the numbering a policy fitted on
        that history sees).
    """
    from orkit.core.validation import check_int
    from orkit.data import Dataset, calendar

    window = check_int("window", window, minimum=0)
    today_calendar: dict[str, float] = {}
    label = lambda p: f"period {p}"  # noqa: E731
    if options.get("date") is not None and isinstance(history, pd.DataFrame):
        history, today, open_orders, period, day, step = _dated_history(history, today, open_orders, sku, demand,
                                                                        options)
        label = lambda p: (day + (p - today) * step).date().isoformat()  # noqa: E731
        parts = options.get("calendar") or ()
        for part in [parts] if isinstance(parts, str) else parts:  # today's calendar features, as the reader makes them
            today_calendar[part] = float(calendar.calendar_part(np.array([calendar.to_day(day)]), part)[0])
        options = {k: v for k, v in options.items() if k not in ("date", "freq", "calendar")}
    if isinstance(history, Dataset):
        frame = history.to_frame().drop(columns=list(history.attributes.columns) + (["split"] if history.split is not None else []))
        frame.attrs = {}
        sku, period, demand = "sku", "period", "demand"
    elif isinstance(history, pd.DataFrame):
        frame = history
    else:
        raise ValidationError(f"history must be a DataFrame or a Dataset, got {type(history).__name__}")
    missing = [c for c in (sku, period, demand) if c not in frame.columns]
    if missing:
        raise DataError(f"history is missing column(s) {missing}; it has {list(frame.columns)}")
    frame = frame.drop(columns=[c for c in ("split",) if c in frame.columns and c not in (sku, period, demand)])
    periods = pd.to_numeric(frame[period], errors="coerce")
    if periods.isna().any() or (periods != periods.round()).any():
        row = int(np.flatnonzero((periods.isna() | (periods != periods.round())).to_numpy())[0])
        raise DataError(f"history column {period!r} must hold whole period numbers, got {frame[period].iloc[row]!r} "
                        f"at row {row}")
    demand_values = pd.to_numeric(frame[demand], errors="coerce")
    observed = demand_values.notna()
    if not observed.any():
        raise DataError(f"history has no demand: column {demand!r} is empty")
    last = int(periods[observed].max())
    today = last + 1 if today is None else check_int("today", today)
    if today <= int(periods.min()):
        raise DataError(f"today must come after the history's first period {int(periods.min())}, got {today}")
    later = periods > today
    if later.any():
        raise DataError(f"history has rows after today (period {today}): periods {int(periods[later].min())}.."
                        f"{int(periods[later].max())}; pass today= / --today, or drop those rows")
    is_today = (periods == today).to_numpy()
    if (observed.to_numpy() & is_today).any():
        raise DataError(f"history has demand for today (period {today}), which is not known when ordering: "
                        f"pass today={today + 1} / --today {today + 1} if that day is over, or blank those demands")
    past = Dataset.from_frame(frame[~is_today], sku=sku, period=period, demand=demand, **options)
    ids = past.sku_ids.astype(str)

    state = pd.DataFrame({"sku": ids, "period": today - past.period_start})
    if not past.full_lives:  # SKUs launched inside the history: their history is shorter
        state["first_period"] = past.life[0]
    state["on_hand"] = _per_sku_values(on_hand, "on-hand", "on_hand", ids)
    pipeline = _pipeline(open_orders, ids, today, problem, label)
    for k in range(pipeline.shape[1]):
        state[f"pipeline_{k + 1}"] = pipeline[:, k]
    if past.period_start + past.n_periods < today:
        raise DataError(f"history ends at period {past.period_start + past.n_periods - 1} but today is {today}: "
                        "the demand of the periods between is missing")
    recent = past.demand[:, max(0, past.n_periods - window):]
    for lag in range(1, window + 1):
        state[f"demand_lag_{lag}"] = recent[:, -lag] if lag <= recent.shape[1] else 0.0
    for name, value in today_calendar.items():
        state[name] = value
    if past.n_features:
        today_rows = frame[is_today]
        names = list(past.feature_names)
        if today_rows.empty:
            # a policy that reads features then says which one it misses; others need none
            log.warning("history has feature column(s) %s but no rows for today (%s) giving their values, so the "
                        "state has no features; for a policy that uses them, add one row per SKU for %s with the "
                        "features and an empty demand", ", ".join(names), label(today), label(today))
            return state
        table = today_rows.assign(**{sku: today_rows[sku].astype(str)})
        for name in names:
            state[name] = _per_sku_values(table[[sku, name]].rename(columns={sku: "sku"}),
                                          f"today's ({label(today)})", name, ids)
    return state


def _dated_history(frame: pd.DataFrame, today: Any, open_orders: pd.DataFrame | None, sku: str, demand: str,
                   options: dict[str, Any]) -> tuple[pd.DataFrame, int, pd.DataFrame | None, str, pd.Timestamp,
                                                     pd.Timedelta]:
    """A dated history in the period numbering of the dataset read from it (0 = its first
    date, the numbering a policy fitted on that history sees): the history with a ``period``
    column, today's period, the open orders' arrival dates as periods, the name of the period
    column, today's date and the length of a period."""
    from orkit.data import Dataset

    date = options["date"]
    missing = [c for c in (sku, date, demand) if c not in frame.columns]
    if missing:
        raise DataError(f"history is missing column(s) {missing}; it has {list(frame.columns)}")
    when = pd.to_datetime(frame[date], errors="coerce")
    observed = pd.to_numeric(frame[demand], errors="coerce").notna()
    if not observed.any():
        raise DataError(f"history has no demand: column {demand!r} is empty")
    if today is not None:
        day = pd.to_datetime(str(today), errors="coerce")
        if pd.isna(day):
            raise DataError(f"today must be a date for a history with dates (column {date!r}), got {today!r}")
        if not (when < day).any():
            raise DataError(f"today must come after the history's first date {when.min().date().isoformat()}, got "
                            f"{today!r}")
        past_rows = (when < day) | when.isna()
    else:
        past_rows = (when <= when[observed].max()) | when.isna()  # unreadable dates: reported by the reader
    past = Dataset.from_frame(frame[past_rows], sku=sku, demand=demand,
                              **{k: v for k, v in options.items() if k in ("date", "freq", "fill_missing", "lives")})
    step = pd.Timedelta(days=7 if past.freq == "W" else 1)

    def periods(values: pd.Series, what: str) -> np.ndarray:
        days = pd.to_datetime(values, errors="coerce")
        offsets = (days - past.start_date) / step
        bad = days.isna() | (offsets != offsets.round())
        if bad.any():
            value = values[bad].iloc[0]
            raise DataError(f"{what} must be a date on the history's {'weekly' if past.freq == 'W' else 'daily'} grid "
                            f"from {past.start_date.date().isoformat()}, got {value!r}")
        return offsets.round().to_numpy(dtype=np.int64)

    dated = frame.assign(period=np.where(when.isna(), -1, 0))
    dated.loc[when.notna(), "period"] = periods(frame.loc[when.notna(), date], f"history column {date!r}")
    dated = dated.drop(columns=[date])
    today_period = past.n_periods if today is None else int(periods(pd.Series([str(today)]), "today")[0])
    if open_orders is not None and len(open_orders) and "arrival" in open_orders.columns:
        open_orders = open_orders.assign(arrival=periods(open_orders["arrival"].astype(str), "open orders' arrival"))
    return dated, today_period, open_orders, "period", past.start_date + today_period * step, step


def _per_sku_values(table: pd.DataFrame, role: str, column: str, ids: np.ndarray) -> np.ndarray:
    """``table[column]`` matched to ``ids`` by the ``sku`` column; errors name missing,
    unknown and duplicated SKUs."""
    if not isinstance(table, pd.DataFrame):
        raise ValidationError(f"{role} table must be a DataFrame, got {type(table).__name__}")
    for needed in ("sku", column):
        if needed not in table.columns:
            raise DataError(f"{role} table is missing column {needed!r}; it has {list(table.columns)}")
    skus = table["sku"].astype(str)
    duplicated = skus[skus.duplicated(keep=False)].unique()
    if len(duplicated):
        raise DataError(f"{role} table has duplicated sku {_ids(duplicated)}: one row per SKU")
    unknown = skus[~skus.isin(ids)]
    if len(unknown):
        raise DataError(f"{role} table has SKU(s) that are not in the history: {_ids(unknown)}")
    missing = ids[~pd.Index(ids).isin(skus)]
    if len(missing):
        raise DataError(f"{role} table is missing SKU(s) of the history: {_ids(missing)}")
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(f"{role} column {column!r} must be a finite number, got {table[column].to_numpy()[bad][0]!r} "
                        f"for sku {skus[bad].iloc[0]!r}")
    return values[pd.Index(skus).get_indexer(ids)]


def _pipeline(open_orders: pd.DataFrame | None, ids: np.ndarray, today: int,
              problem: InventoryProblem | None, label: Callable[[int], str] = lambda p: f"period {p}") -> np.ndarray:
    """Units arriving in 1, 2, ... periods per SKU, from the open orders (``label`` names a
    period in errors: its number, or its date for a dated history)."""
    width = int(problem.max_lead_time) if problem is not None else 0
    if open_orders is None or len(open_orders) == 0:
        return np.zeros((len(ids), width))
    if not isinstance(open_orders, pd.DataFrame):
        raise ValidationError(f"open_orders must be a DataFrame, got {type(open_orders).__name__}")
    missing = [c for c in ("sku", "arrival", "quantity") if c not in open_orders.columns]
    if missing:
        raise DataError(f"open-orders table is missing column(s) {missing}; it has {list(open_orders.columns)}")
    skus = open_orders["sku"].astype(str)
    unknown = skus[~skus.isin(ids)].unique()
    if len(unknown):
        raise DataError(f"open-orders table has SKU(s) that are not in the history: {_ids(unknown)}")
    arrival = pd.to_numeric(open_orders["arrival"], errors="coerce").to_numpy(dtype=np.float64)
    quantity = pd.to_numeric(open_orders["quantity"], errors="coerce").to_numpy(dtype=np.float64)
    for name, values in (("arrival", arrival), ("quantity", quantity)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(f"open-orders column {name!r} must be a finite number, got "
                            f"{open_orders[name].to_numpy()[bad][0]!r} for sku {skus[bad].iloc[0]!r}")
    if (arrival != np.round(arrival)).any():
        raise DataError(f"open-orders column 'arrival' must hold whole period numbers, got "
                        f"{arrival[arrival != np.round(arrival)][0]}")
    if (quantity < 0).any():
        raise DataError(f"open-orders column 'quantity' must be >= 0, got {quantity[quantity < 0][0]} for sku "
                        f"{skus[quantity < 0].iloc[0]!r}")
    ahead = arrival.astype(np.int64) - today
    if (ahead < 1).any():
        row = int(np.flatnonzero(ahead < 1)[0])
        raise DataError(
            f"open order of sku {skus.iloc[row]!r} arrives in {label(int(arrival[row]))}, not after today "
            f"({label(today)}): what has arrived is on hand (count it in on_hand); a late order needs a new arrival "
            "period"
        )
    if problem is not None and (ahead > width).any():
        row = int(np.flatnonzero(ahead > width)[0])
        raise DataError(
            f"open order of sku {skus.iloc[row]!r} arrives in {int(ahead[row])} periods ({label(int(arrival[row]))}), "
            f"but orders take at most {width} period(s) to arrive (lead time {width})"
        )
    width = max(width, int(ahead.max()))
    pipeline = np.zeros((len(ids), width))
    np.add.at(pipeline, (pd.Index(ids).get_indexer(skus), ahead - 1), quantity)
    return pipeline
