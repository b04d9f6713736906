"""Every registered policy: a scikit-learn estimator in fact, and saved and loaded without pickle.

Parametrized over ``POLICIES``: a policy added to the registry is checked here without a new
test. Budgets are tiny (RL: a few hundred steps; heuristics: small generated data).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from sklearn.base import clone

from orkit.core import InventoryProblem, Observation, OrkitError, PersistenceError, ValidationError
from orkit.data import generate
from orkit.experiments.registry import POLICIES, load_policy, make_policy
from testkit import SMALL, review_day_observation

#: variants whose state is different in kind (random-forest weights, histogram boosting, a
#: per-SKU constraint, a given regressor, a non-default head)
VARIANTS = {
    "weighted-saa-newsvendor[forest]": ("weighted-saa-newsvendor", dict(weights="random-forest", n_estimators=5)),
    "gradient-boosting-newsvendor[histogram]": ("gradient-boosting-newsvendor", dict(histogram=True, n_estimators=10)),
    "feature-linear-base-stock[simulation]": ("feature-linear-base-stock", dict(method="simulation", n_epochs=3)),
    "two-stage[pack sizes]": ("two-stage", dict(n_scenarios=10, n_threads=1, pack_size=np.full(100, 2.0))),
    "ds[both]": ("ds", dict(regularization="both", max_epochs=1, hidden_sizes=(8,))),
}
PER_SKU = ["base-stock", "constant-order", "newsvendor", "capped-base-stock", "myopic", "s-S", "r-Q"]
ON_POISSON = {"dp-optimal", "myopic", "myopic2", "vector-base-stock", "better-vector-base-stock", "dual-balancing"}  # integer demand, lost sales, review period 1


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def poisson():
    data = generate("iid-poisson", n_skus=40, n_periods=30, rate=4.0, seed=0, split_sizes=(20, 10, 10))
    return (*data.splits(), InventoryProblem(lead_time=1, review_period=1, lost_sales=True))


def _data(name, setting_1, poisson):
    return poisson if name in ON_POISSON else setting_1


observation = review_day_observation


def _assert_same_orders(policy, loaded, obs):
    assert torch.equal(policy.act(obs), loaded.act(obs))
    if hasattr(policy, "explain"):
        mine, theirs = policy.explain(obs), loaded.explain(obs)
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def _no_pickle_in(folder):
    names = sorted(p.name for p in folder.iterdir())
    assert all(n == "policy.json" or n.endswith((".safetensors", ".skops")) for n in names), names
    for path in folder.iterdir():
        assert path.read_bytes()[:1] != b"\x80"


# ------------------------------------------------------------------------------ save and load
CASES = {name: (name, SMALL.get(name, {})) for name in POLICIES} | VARIANTS


@pytest.mark.parametrize("case", list(CASES))
def test_every_registered_policy_saves_and_loads_with_identical_orders(case, setting_1, poisson, tmp_path):
    name, params = CASES[case]
    train, validation, test, problem = _data(name, setting_1, poisson)
    policy = make_policy(name, **params).fit(train, validation, problem)
    obs = observation(test, problem)
    folder = policy.save(tmp_path / name)
    _no_pickle_in(folder)
    loaded = load_policy(folder)
    assert type(loaded) is type(policy) and repr(loaded) == repr(policy)
    assert loaded.per_sku_ == policy.per_sku_ and loaded.sku_ids_ is None
    _assert_same_orders(policy, loaded, obs)
    # saving what was loaded gives the same policy again
    _assert_same_orders(policy, load_policy(loaded.save(tmp_path / "again")), obs)


@pytest.mark.parametrize("name", PER_SKU)
def test_per_sku_policies_keep_their_sku_ids(name, setting_1, poisson, tmp_path):
    train, validation, test, problem = _data(name, setting_1, poisson)
    policy = make_policy(name, per_sku=True).fit(train, validation, problem)
    assert policy.per_sku_ is True
    assert policy.sku_ids_.dtype.kind == "U" and policy.sku_ids_.tolist() == train.sku_ids.tolist()
    loaded = load_policy(policy.save(tmp_path))
    assert loaded.per_sku_ is True and loaded.sku_ids_.tolist() == train.sku_ids.tolist()
    # a per-SKU policy serves its training SKUs: observe those
    _assert_same_orders(policy, loaded, observation(train, problem))


@pytest.mark.parametrize("name", PER_SKU)
def test_per_sku_fits_on_a_bare_array_have_no_ids(name, setting_1, poisson):
    train, validation, _, problem = _data(name, setting_1, poisson)
    policy = make_policy(name, per_sku=True).fit(np.asarray(train.demand), None, problem)
    assert policy.per_sku_ is True and policy.sku_ids_ is None


@pytest.mark.parametrize("name, params, per_sku", [
    ("base-stock", dict(level=10.0), False),
    ("base-stock", dict(level=np.arange(20.0)), True),
    ("constant-order", dict(quantity=[1.0, 2.0]), True),
    ("capped-base-stock", dict(level=10.0, cap=np.full(20, 4.0)), True),
])
def test_given_values_set_per_sku_without_ids(name, params, per_sku, tmp_path, setting_1):
    policy = make_policy(name, **params)
    assert policy.per_sku_ is per_sku and policy.sku_ids_ is None
    loaded = load_policy(policy.save(tmp_path))  # usable, and savable, without fit
    assert loaded.per_sku_ is per_sku and loaded.sku_ids_ is None and repr(loaded) == repr(policy)


def test_two_stage_per_sku_constraints_have_no_ids(setting_1):
    train, validation, _, problem = setting_1
    shared = make_policy("two-stage", n_scenarios=5, n_threads=1, pack_size=2.0).fit(train, validation, problem)
    given = make_policy("two-stage", n_scenarios=5, n_threads=1, capacity_usage=np.ones(20)).fit(train, validation, problem)
    assert (shared.per_sku_, shared.sku_ids_) == (False, None)
    assert (given.per_sku_, given.sku_ids_) == (True, None)


def test_two_stage_saves_a_given_regressor_and_refuses_an_untrusted_one(setting_1, tmp_path):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    train, validation, test, problem = setting_1
    policy = make_policy("two-stage", regressor=HistGradientBoostingRegressor(max_iter=5), n_scenarios=5,
                         n_threads=1).fit(train, validation, problem)
    loaded = load_policy(policy.save(tmp_path / "given"))
    assert (tmp_path / "given" / "regressor.skops").is_file() and loaded.regressor.max_iter == 5
    _assert_same_orders(policy, loaded, observation(test, problem))

    untrusted = make_pipeline(FunctionTransformer(_halve), HistGradientBoostingRegressor(max_iter=5))
    policy = make_policy("two-stage", regressor=untrusted, n_scenarios=5, n_threads=1).fit(train, validation, problem)
    with pytest.raises(ValidationError, match="Pipeline cannot be saved: loading it would need types orkit does not trust"):
        policy.save(tmp_path / "untrusted")
    assert not (tmp_path / "untrusted").exists()


def _halve(x):
    return x / 2


def test_saved_policies_leave_out_run_diagnostics(setting_1, tmp_path):
    train, validation, test, problem = setting_1
    policy = make_policy("two-stage", n_scenarios=5, n_threads=1).fit(train, validation, problem)
    policy.act(observation(test, problem))
    assert policy.act_log_
    document = json.loads((policy.save(tmp_path) / "policy.json").read_text())
    assert "act_log_" not in document["state"] and (tmp_path / "policy.json").stat().st_size < 20_000
    assert load_policy(tmp_path).act_log_ == []


def test_a_warm_start_teacher_is_not_saved_but_named(setting_1, tmp_path):
    train, validation, test, problem = setting_1
    teacher = make_policy("base-stock", level=20.0)
    policy = make_policy("ds", warm_start=teacher, max_epochs=1, hidden_sizes=(8,), warm_start_epochs=2)
    policy.fit(train, validation, problem)
    document = json.loads((policy.save(tmp_path) / "policy.json").read_text())
    assert document["unsaved_parameters"] == {"warm_start": "BaseStockPolicy(level=20.0)"}
    loaded = load_policy(tmp_path)
    assert loaded.warm_start is None
    _assert_same_orders(policy, loaded, observation(test, problem))


def test_older_bare_network_folders_still_load(setting_1, tmp_path):
    from orkit.rl import NeuralPolicy, save_policy

    train, validation, test, problem = setting_1
    fitted = make_policy("ds", max_epochs=1, hidden_sizes=(8,)).fit(train, validation, problem)
    save_policy(fitted, tmp_path, metadata={"learner": "ds"})
    assert json.loads((tmp_path / "policy.json").read_text())["format"] == "orkit-rl-policy/1"
    loaded = load_policy(tmp_path)
    assert isinstance(loaded, NeuralPolicy)
    _assert_same_orders(fitted, loaded, observation(test, problem))


# ------------------------------------------------------------------------------ tampered folders
def _manifest(folder):
    return json.loads((folder / "policy.json").read_text())


def _write_manifest(folder, document):
    (folder / "policy.json").write_text(json.dumps(document))


def _rehash(folder, name):
    """Record the current SHA-256 of ``name``: tampering by someone who also edits policy.json."""
    document = _manifest(folder)
    document["files"][name]["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    _write_manifest(folder, document)


def _edit(folder, change):
    document = _manifest(folder)
    change(document)
    _write_manifest(folder, document)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


UNPICKLED = []


class Payload:
    """Unpickling this calls ``UNPICKLED.append``: a loader that unpickles would be caught."""

    def __reduce__(self):
        return (UNPICKLED.append, ("unpickled",))


def _pickle_as(path):
    path.write_bytes(pickle.dumps(Payload()))


def _rewrite_arrays(folder, change, rehash=True):
    from safetensors.numpy import load, save

    arrays = dict(load((folder / "arrays.safetensors").read_bytes()))
    change(arrays)
    (folder / "arrays.safetensors").write_bytes(save(arrays))
    if rehash:
        _rehash(folder, "arrays.safetensors")


def _level_shape(folder):
    # a consistent manifest and file, but a level table the policy refuses
    _rewrite_arrays(folder, lambda a: a.update({"state.level_": np.zeros((4, 5))}))
    _edit(folder, lambda d: d["state"]["level_"].update(shape=[4, 5]))


def _nan_weight(folder):
    def poison(arrays):
        key = next(k for k in arrays if k.endswith("weight"))
        arrays[key] = arrays[key].copy()
        arrays[key].flat[0] = np.nan

    _rewrite_arrays(folder, poison)


def _wrong_weight_shape(folder):
    def reshape(arrays):
        key = next(k for k in arrays if k.endswith("body.0.weight"))
        arrays[key] = np.zeros((3, 3), dtype=arrays[key].dtype)

    _rewrite_arrays(folder, reshape)
    _edit(folder, lambda d: d["state"]["policy_"]["$dict"]["weights"]["$dict"]["body.0.weight"].update(shape=[3, 3]))


def _legacy_weights(value):
    return lambda folder: _edit(folder, lambda d: d.update(weights=value))


def _symlink_outside(folder):
    outside = folder.parent / "outside.safetensors"
    shutil.copy(folder / "arrays.safetensors", outside)
    (folder / "arrays.safetensors").unlink()
    (folder / "arrays.safetensors").symlink_to(outside)


# (saved policy, tampering, file named in the message, rule in the message)
TAMPERED = {
    "truncated arrays": ("base-stock", lambda f: _truncate(f / "arrays.safetensors"), "arrays.safetensors", "truncated"),
    "truncated policy.json": ("base-stock", lambda f: _truncate(f / "policy.json"), "policy.json", "not valid JSON"),
    "truncated skops": ("quantile-regression-newsvendor", lambda f: _truncate(f / "model_.skops"), "model_.skops",
                        "truncated"),
    "truncated legacy weights": ("legacy", lambda f: _truncate(f / "weights.safetensors"), "weights.safetensors",
                                 "truncated"),
    "changed arrays": ("base-stock", lambda f: _rewrite_arrays(f, lambda a: a.update({"state.level_": a["state.level_"] + 1}),
                                                               rehash=False), "arrays.safetensors", "SHA-256 must be"),
    "array shape unlike policy.json": ("base-stock", lambda f: _rewrite_arrays(
        f, lambda a: a.update({"state.level_": np.zeros((4, 5))})), "arrays.safetensors", "must have shape (10,)"),
    "array shape the policy refuses": ("base-stock", _level_shape, "arrays.safetensors",
                                       "level must be a scalar or one value per SKU, got shape (4, 5)"),
    "weights of the wrong shape": ("ds", _wrong_weight_shape, "arrays.safetensors", "size mismatch for body.0.weight"),
    "legacy weights of the wrong shape": ("legacy", lambda f: _save_torch(f, lambda s: s.update(
        {"body.0.weight": torch.zeros(3, 3)})), "weights.safetensors", "must fit the network"),
    "NaN weights": ("ds", _nan_weight, "arrays.safetensors", "must not hold NaN"),
    "NaN legacy weights": ("legacy", lambda f: _save_torch(f, lambda s: s["body.0.weight"].fill_(float("nan"))),
                           "weights.safetensors", "must not hold NaN"),
    "NaN parameter": ("base-stock", lambda f: (f / "policy.json").write_text(
        (f / "policy.json").read_text().replace('"n_candidates": 17', '"n_candidates": NaN')), "policy.json",
                      "must not hold NaN"),
    "NaN level": ("base-stock", lambda f: _rewrite_arrays(f, lambda a: a["state.level_"].__setitem__(0, np.nan)),
                  "arrays.safetensors", "must not hold NaN"),
    "pickle as .safetensors": ("base-stock", lambda f: _pickle_as(f / "arrays.safetensors"), "arrays.safetensors",
                               "pickle"),
    "pickle as legacy .safetensors": ("legacy", lambda f: _pickle_as(f / "weights.safetensors"), "weights.safetensors",
                                      "pickle"),
    "pickle as .skops": ("quantile-regression-newsvendor", lambda f: _pickle_as(f / "model_.skops"), "model_.skops",
                         "pickle"),
    "pickle as .json": ("base-stock", lambda f: _pickle_as(f / "policy.json"), "policy.json", "pickle"),
    "torch.save as .safetensors": ("base-stock", lambda f: torch.save({"x": torch.zeros(2)}, f / "arrays.safetensors"),
                                   "arrays.safetensors", "pickle"),
    "file reference leaving the folder": ("quantile-regression-newsvendor", lambda f: _edit(
        f, lambda d: d["state"].update(model_={"$file": "../../etc/x.skops"})), "policy.json", "plain file name"),
    "absolute file reference": ("quantile-regression-newsvendor", lambda f: _edit(
        f, lambda d: d["state"].update(model_={"$file": "/etc/passwd"})), "policy.json", "plain file name"),
    "files entry leaving the folder": ("base-stock", lambda f: _edit(
        f, lambda d: d["files"].update({"../x.safetensors": {"sha256": "0" * 64}})), "policy.json", "plain file name"),
    "legacy weights leaving the folder": ("legacy", _legacy_weights("../../etc/x"), "policy.json",
                                          "weights must be 'weights.safetensors' or 'weights.pt'"),
    "absolute legacy weights": ("legacy", _legacy_weights("/etc/passwd"), "policy.json",
                                "weights must be 'weights.safetensors' or 'weights.pt'"),
    "link to a file outside": ("base-stock", _symlink_outside, "arrays.safetensors", "inside the policy folder"),
    "unknown format": ("base-stock", lambda f: _edit(f, lambda d: d.update(format="orkit-policy/99")), "policy.json",
                       "format must be"),
    "unknown policy": ("base-stock", lambda f: _edit(f, lambda d: d.update(policy="os.system")), "policy.json",
                       "policy must be a registered policy"),
    "unknown class": ("two-stage", lambda f: _edit(f, lambda d: d.update({"class": "subprocess.Popen"})), "policy.json",
                      "class must be 'TwoStagePolicy' for policy 'two-stage', got 'subprocess.Popen'"),
    "class of another policy": ("base-stock", lambda f: _edit(f, lambda d: d.update({"class": "DSPolicy"})),
                                "policy.json", "class must be 'BaseStockPolicy'"),
    "unknown parameter": ("base-stock", lambda f: _edit(f, lambda d: d["parameters"].update(command="rm -rf")),
                          "policy.json", "parameters.command is not a parameter of BaseStockPolicy"),
    "unknown value tag": ("base-stock", lambda f: _edit(f, lambda d: d["parameters"].update(level={"$object": "x"})),
                          "policy.json", "must be a JSON value or an object tagged"),
    "missing state": ("base-stock", lambda f: _edit(f, lambda d: d["state"].pop("sku_ids_")), "policy.json",
                      "it lacks sku_ids_"),
    "missing arrays": ("base-stock", lambda f: (f / "arrays.safetensors").unlink(), "arrays.safetensors", "is missing"),
    "missing skops": ("quantile-regression-newsvendor", lambda f: (f / "model_.skops").unlink(), "model_.skops",
                      "is missing"),
    "missing legacy weights": ("legacy", lambda f: (f / "weights.safetensors").unlink(), "weights.safetensors",
                               "is missing"),
    "missing policy.json": ("base-stock", lambda f: (f / "policy.json").unlink(), "policy.json", "holds no policy"),
    "untrusted type in skops": ("quantile-regression-newsvendor", lambda f: _untrusted_skops(f), "model_.skops",
                                "Untrusted types"),
    "skops holding another model": ("quantile-regression-newsvendor", lambda f: _other_model(f), "model_.skops",
                                    "must hold a QuantileRegressor, got Ridge"),
    "per-SKU ids of the wrong length": ("base-stock", lambda f: _edit(f, lambda d: d["state"].update(
        sku_ids_={"$strings": ["a", "b"]})), "policy.json", "level_ has 10 values but sku_ids_ names 2 SKUs"),
}


def _save_torch(folder, change):
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "weights.safetensors"))
    change(state)
    save_file(state, str(folder / "weights.safetensors"))


def _replace_skops(folder, model):
    import skops.io

    (folder / "model_.skops").write_bytes(skops.io.dumps(model))
    _rehash(folder, "model_.skops")


def _untrusted_skops(folder):
    from sklearn.preprocessing import FunctionTransformer

    _replace_skops(folder, FunctionTransformer(_halve))


def _other_model(folder):
    from sklearn.linear_model import Ridge

    _replace_skops(folder, Ridge().fit([[0.0], [1.0]], [0.0, 1.0]))


@pytest.fixture(scope="module")
def saved(setting_1, tmp_path_factory):
    """One saved folder per kind: per-SKU base-stock, a skops model, DS weights, a legacy network."""
    from orkit.rl import save_policy

    train, validation, _, problem = setting_1
    root = tmp_path_factory.mktemp("saved")
    folders = {}
    for name, params in {"base-stock": dict(per_sku=True), "quantile-regression-newsvendor": {},
                         "two-stage": dict(n_scenarios=5, n_threads=1), "ds": SMALL["ds"]}.items():
        folders[name] = make_policy(name, **params).fit(train, validation, problem).save(root / name)
    ds = make_policy("ds", **SMALL["ds"]).fit(train, validation, problem)
    folders["legacy"] = save_policy(ds, root / "legacy")
    return folders


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_folder_is_a_clean_error_naming_the_file(case, saved, tmp_path):
    source, tamper, file_name, rule = TAMPERED[case]
    folder = tmp_path / "policy"
    shutil.copytree(saved[source], folder)
    tamper(folder)
    with pytest.raises(OrkitError) as info:
        load_policy(folder)
    message = str(info.value)
    assert file_name in message and rule in message, message
    assert isinstance(info.value, PersistenceError) or case == "missing policy.json"
    assert UNPICKLED == []


def test_the_untampered_folders_load(saved):
    for folder in saved.values():
        load_policy(folder)


@pytest.mark.parametrize("name", ["ds", "ppo", "ddpg"])
def test_rl_configuration_fields_are_parameters(name):
    policy = make_policy(name, learning_rate=0.5)
    params = policy.get_params()
    assert params["learning_rate"] == 0.5 and params["seed"] == 0 and "hidden_sizes" in params
    policy.set_params(seed=3, regularization="coeff")
    assert policy.hyperparameters == {"learning_rate": 0.5, "seed": 3}
    assert repr(policy) == f"{type(policy).__name__}(regularization='coeff', seed=3, learning_rate=0.5)"
    assert clone(policy).hyperparameters == {"learning_rate": 0.5, "seed": 3}


def test_two_stage_repr_shows_what_the_user_set():
    assert repr(make_policy("two-stage", n_scenarios=30, pack_size=6.0)) == "TwoStagePolicy(n_scenarios=30, pack_size=6.0)"
    assert repr(make_policy("two-stage", capacity_usage=np.ones(50))) == "TwoStagePolicy(capacity_usage=<50 values>)"
    assert repr(make_policy("base-stock", level=np.arange(50.0))) == "BaseStockPolicy(level=<50 values>)"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", ["base-stock", "ds"])
def test_a_policy_used_on_cuda_saves_and_loads_with_identical_orders(name, setting_1, tmp_path):
    train, validation, test, problem = setting_1
    policy = make_policy(name, **SMALL.get(name, {})).fit(train, validation, problem)
    cpu = observation(test, problem)
    obs = Observation(period=cpu.period, on_hand=cpu.on_hand.cuda(), inventory_position=cpu.inventory_position.cuda(),
                      pipeline=cpu.pipeline.cuda(), feature_names=cpu.feature_names, features=cpu.features.cuda(),
                      recent_demand=cpu.recent_demand.cuda(), lead_time=cpu.lead_time.cuda(),
                      review_period=cpu.review_period.cuda())
    orders = policy.act(obs)  # moves an RL network to the GPU
    loaded = load_policy(policy.save(tmp_path))
    assert orders.is_cuda and torch.equal(loaded.act(obs), orders)
