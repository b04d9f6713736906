"""The exact DP's default state bound: Morton's bound on the optimal post-order position."""

from __future__ import annotations

import numpy as np
import pytest

from orkit.core import StateSpaceError
from orkit.heuristics import Discrete, NegativeBinomial, Poisson, solve_average_cost_dp


@pytest.mark.parametrize("law, lead_time, p", [(Poisson(5.0), 2, 9.0), (NegativeBinomial(1, 1 / 6), 2, 39.0)])
def test_default_bound_is_mortons_and_does_not_cut_off_the_optimum(law, lead_time, p):
    pmf = law.truncate().pmf
    S = int(Discrete(pmf).sum_of(lead_time + 1).ppf(p / (p + 1.0)))
    default = solve_average_cost_dp(law, holding_cost=1.0, shortage_cost=p, lead_time=lead_time)
    wider = solve_average_cost_dp(law, holding_cost=1.0, shortage_cost=p, lead_time=lead_time,
                                  max_inventory_position=S + 6)
    assert default.max_inventory_position == S
    assert default.average_cost == pytest.approx(wider.average_cost, abs=1e-7)
    # Morton (1969): the optimal lost-sales order never lifts the position above S*
    post = wider.states.sum(axis=1) + wider.orders
    assert post[wider.orders > 0].max() <= S


def test_state_space_errors_say_what_to_set():
    with pytest.raises(StateSpaceError, match=r"set max_states=[\d,]+ or more"):
        solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=9.0, lead_time=3, max_states=100)
    with pytest.raises(StateSpaceError, match=r"set max_transitions=[\d,]+ or more"):
        solve_average_cost_dp(Poisson(5.0), holding_cost=1.0, shortage_cost=9.0, lead_time=2, max_transitions=1000)


@pytest.mark.slow
def test_geometric_demand_with_lead_time_four_solves_with_the_default_bound():
    """Zipkin's (2008) hardest cells: geometric demand with mean 5, L = 4 (here p = 9)."""
    sol = solve_average_cost_dp(NegativeBinomial(1, 1 / 6), holding_cost=1.0, shortage_cost=9.0, lead_time=4)
    assert np.isfinite(sol.average_cost) and sol.upper_bound - sol.lower_bound < 1e-6
