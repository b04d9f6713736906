"""orkit.core.persistence: values round-trip exactly, nothing is a pickle, damaged folders are refused."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from orkit.core import NotFittedError, PersistenceError, SavablePolicy, ValidationError
from orkit.core import persistence
from orkit.core.persistence import ExternalFile, FileRef


class Toy(SavablePolicy):
    """Every kind of value the codec writes, in parameters and fitted state."""

    policy_name = "toy"
    _saved_attributes = ("level_", "table_", "weights_", "notes_", "blob_")

    def __init__(self, level=None, *, name="toy", periods=(7,), scale=1.0, options=None):
        self.level = level
        self.name = name
        self.periods = periods
        self.scale = scale
        self.options = options

    def fit(self, sku_ids=None):
        self.level_ = np.array([1.5, -2.0, np.inf]) if self.level is None else self.level
        self.table_ = np.arange(6, dtype=np.int64).reshape(2, 3)
        self.weights_ = torch.tensor([0.25, 0.5], dtype=torch.float32)
        self.notes_ = {"names": ("a", "b"), "count": 3, "low": float("-inf"), "flags": [True, None]}
        self.blob_ = b"\x00\x01payload"
        self.per_sku_ = sku_ids is not None
        self.sku_ids_ = None if sku_ids is None else np.array(sku_ids, dtype=str)
        return self

    def _saved_state(self):
        state = super()._saved_state()
        state["blob_"] = ExternalFile("blob_.skops", _zip(self.blob_))
        return state

    def _restore_state(self, state):
        super()._restore_state(state)
        self.blob_ = self.blob_.load(_unzip, "the blob")


def _zip(payload: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload", payload)
    return buffer.getvalue()


def _unzip(data: bytes) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("payload")


def test_values_round_trip_exactly(tmp_path):
    policy = Toy(level=np.array([3.0, 4.0]), periods=(7, 28), options={"mode": "fast"}).fit(sku_ids=["x", "y"])
    folder = policy.save(tmp_path / "toy")
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.safetensors", "blob_.skops", "policy.json"]
    loaded = Toy.load(folder)
    assert loaded.get_params() == {**policy.get_params(), "level": loaded.level}
    assert np.array_equal(loaded.level, policy.level) and loaded.periods == (7, 28)
    assert np.array_equal(loaded.level_, policy.level_) and loaded.level_.dtype == np.float64
    assert np.array_equal(loaded.table_, policy.table_) and loaded.table_.dtype == np.int64
    assert isinstance(loaded.weights_, torch.Tensor) and torch.equal(loaded.weights_, policy.weights_)
    assert loaded.notes_ == policy.notes_ and loaded.blob_ == policy.blob_
    assert loaded.per_sku_ is True and loaded.sku_ids_.tolist() == ["x", "y"] and loaded.sku_ids_.dtype.kind == "U"


def test_the_manifest_is_plain_json_with_a_checksum_per_file(tmp_path):
    folder = Toy().fit().save(tmp_path)
    document = json.loads((folder / "policy.json").read_text())
    assert document["format"] == "orkit-policy/1" and document["policy"] == "toy" and document["class"] == "Toy"
    assert document["parameters"]["periods"] == {"$tuple": [7]}
    assert document["state"]["sku_ids_"] is None and document["state"]["per_sku_"] is False
    for name, entry in document["files"].items():
        assert entry["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_save_needs_a_fitted_policy(tmp_path):
    with pytest.raises(NotFittedError, match="Toy is not fitted yet .*level_.*call fit before save"):
        Toy().save(tmp_path)


@pytest.mark.parametrize("value, message", [
    (object(), "parameters.options cannot be saved: object is not a number, string, array"),
    (float("nan"), "parameters.options is NaN"),
    (np.array([1.0, np.nan]), "parameters.options holds NaN"),
    ({1: "a"}, "its keys must be strings"),
    (np.array([1 + 2j]), "arrays must be of"),
])
def test_values_orkit_cannot_save_are_refused_before_anything_is_written(tmp_path, value, message):
    with pytest.raises(ValidationError, match=message):
        Toy(options=value).fit().save(tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_a_save_interrupted_between_files_is_refused_not_mixed(tmp_path, monkeypatch):
    folder = Toy(level=np.array([1.0, 2.0])).fit().save(tmp_path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence, "atomic_write_text", crash)  # dies before policy.json
    with pytest.raises(KeyboardInterrupt):
        Toy(level=np.array([5.0, 6.0])).fit().save(folder)
    monkeypatch.undo()
    with pytest.raises(PersistenceError, match="arrays.safetensors: SHA-256 must be .* a save was interrupted"):
        Toy.load(folder)


def test_load_checks_the_class(tmp_path):
    class Other(Toy):
        pass

    folder = Toy().fit().save(tmp_path)
    with pytest.raises(PersistenceError, match="Other.load reads policy 'toy' of class 'Other', got policy 'toy' of class 'Toy'"):
        Other.load(folder)


def test_file_refs_wrap_reader_failures_with_the_file_name(tmp_path):
    ref = FileRef(tmp_path / "model_.skops", b"junk")
    with pytest.raises(PersistenceError, match="model_.skops: cannot read the model: ValueError: bad"):
        ref.load(lambda data: (_ for _ in ()).throw(ValueError("bad")), "the model")


def test_a_pickle_manifest_is_never_unpickled(tmp_path):
    import pickle

    (tmp_path / "policy.json").write_bytes(pickle.dumps({"format": "orkit-policy/1"}))
    with pytest.raises(PersistenceError, match="policy.json is a pickle file, not JSON"):
        persistence.read_manifest(tmp_path)
