"""Saving a fitted policy to a folder and loading it back, without pickle.

A saved policy is a folder::

    policy.json          what the policy is: format, registered name, class, constructor
                         parameters, fitted numbers and strings, and the SHA-256 of every
                         other file
    arrays.safetensors   every array: constructor arrays (a per-SKU level, pack sizes) and
                         fitted ones (levels, lookup tables, residuals, network weights)
    <name>.skops         scikit-learn models (the contextual newsvendors, the two-stage
                         forecaster), written with skops (:func:`skops_file`)

No file is a pickle and loading never unpickles: JSON holds plain values, safetensors raw
arrays, and skops files are read with an explicit list of trusted types
(:data:`SKOPS_TRUSTED_TYPES`, type names only: orkit.core never imports scikit-learn). Loading constructs the class policy.json names only
after :func:`orkit.experiments.registry.load_policy` has checked that it is the class registered
under the saved name, and then only the fixed helper classes that family builds.

Every file goes through :mod:`orkit.core.files` (atomic: a crash leaves the old file or none),
data files first and policy.json last. policy.json records the SHA-256 of each data file, so a
folder left half-rewritten by an interrupted save is refused rather than read as a mix of two
policies.

A damaged or tampered folder raises :class:`~orkit.core.errors.PersistenceError` naming the
file, the rule and the value: a missing or truncated file, a pickle under any of these names,
an array whose shape or type differs from what policy.json says, NaN in a parameter or array, a
file reference that is not a plain file name inside the folder, an unknown format, class or
parameter, or a saved value the policy's own checks refuse.

Values in policy.json are JSON scalars and lists, or one-key objects that say what they hold:
``{"$tuple": [...]}``, ``{"$dict": {...}}``, ``{"$float": "inf"}``, ``{"$strings": [...]}`` (a
numpy array of str, such as ``sku_ids_``), ``{"$array": key, "dtype": ..., "shape": [...],
"kind": "numpy" | "torch"}`` (an entry of arrays.safetensors) and ``{"$file": name}`` (a file a
family reads itself).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Callable, ClassVar, Iterable

import numpy as np
import torch

from orkit.core.errors import NotFittedError, OrkitError, PersistenceError, ValidationError
from orkit.core.estimator import Estimator
from orkit.core.files import atomic_write_bytes, atomic_write_text

__all__ = [
    "FORMAT",
    "MANIFEST",
    "ARRAYS",
    "SavablePolicy",
    "ExternalFile",
    "FileRef",
    "read_manifest",
    "check_file_name",
    "check_safetensors_bytes",
    "SKOPS_TRUSTED_TYPES",
    "skops_file",
    "load_skops",
]

FORMAT = "orkit-policy/1"
MANIFEST = "policy.json"
ARRAYS = "arrays.safetensors"

#: a file policy.json refers to: a plain name in the policy folder (no folder, no "..")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
#: what a family may write beside policy.json with :class:`ExternalFile`
_EXTERNAL_SUFFIXES = (".skops",)
_ARRAY_DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64"})
_TAGS = ("$tuple", "$dict", "$float", "$strings", "$array", "$file")


# ---------------------------------------------------------------------------------- files
@dataclass(frozen=True)
class ExternalFile:
    """A file a family writes beside policy.json (a skops model): its name and its bytes.

    Returned by a policy's ``_saved_state`` (or ``_saved_parameters``) in place of an object
    the codec cannot write itself; loading hands the family a :class:`FileRef` in its place.
    """

    name: str
    data: bytes


class FileRef:
    """A file policy.json refers to, already checked (a plain name in the folder, not a pickle,
    its SHA-256 as recorded) and read into memory, so that what is checked is what is parsed.

    Attributes
    ----------
    path : Path
    data : bytes
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data

    def load(self, reader: Callable[[bytes], Any], what: str) -> Any:
        """``reader(data)``; any failure becomes a :class:`PersistenceError` naming the file."""
        try:
            return reader(self.data)
        except PersistenceError:
            raise
        except Exception as exc:  # parsers of damaged files raise anything (zip, json, key errors)
            raise PersistenceError(f"{self.path}: cannot read {what}: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"FileRef({str(self.path)!r})"


def check_file_name(name: Any, where: str, manifest: Path, suffixes: Iterable[str]) -> str:
    """``name`` if it is a plain file name with one of ``suffixes``, else a PersistenceError."""
    suffixes = tuple(suffixes)
    if not isinstance(name, str) or not _FILE_NAME.match(name) or ".." in name or name == MANIFEST:
        raise PersistenceError(
            f"{manifest}: {where} must be a plain file name inside the policy folder (no folder, no '..'), "
            f"got {name!r}"
        )
    if not name.endswith(suffixes):
        raise PersistenceError(f"{manifest}: {where} must end in {' or '.join(suffixes)}, got {name!r}")
    return name


def _looks_like_pickle(data: bytes) -> bool:
    # protocol >= 2 pickles start with PROTO (0x80); torch.save writes a zip holding data.pkl
    return data[:1] == b"\x80" or (data[:2] == b"PK" and b"data.pkl" in data[:4096])


def check_safetensors_bytes(path: Path, data: bytes) -> None:
    """Raise a PersistenceError unless ``data`` is a complete safetensors file (header and arrays)."""
    if _looks_like_pickle(data):
        raise PersistenceError(f"{path} is a pickle file, not safetensors; orkit never loads pickles")
    if len(data) < 9:
        raise PersistenceError(f"{path} is truncated: a safetensors file has at least 9 bytes, got {len(data)}")
    size = int.from_bytes(data[:8], "little")
    if data[8:9] != b"{":
        raise PersistenceError(f"{path} is not a safetensors file (it must start with a JSON header)")
    if 8 + size > len(data):
        raise PersistenceError(f"{path} is truncated: its header needs {8 + size} bytes, the file has {len(data)}")
    try:
        header = json.loads(data[8 : 8 + size])
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise PersistenceError(f"{path} is not a safetensors file (its header is not a table of arrays)") from None
    if 8 + size + end > len(data):
        raise PersistenceError(
            f"{path} is truncated: its arrays need {8 + size + end} bytes, the file has {len(data)}"
        )


def _check_zip_bytes(path: Path, data: bytes) -> None:
    if _looks_like_pickle(data):
        raise PersistenceError(f"{path} is a pickle file, not skops; orkit never loads pickles")
    if data[:4] != b"PK\x03\x04":
        raise PersistenceError(f"{path} is not a skops file (a skops file is a zip archive)")
    if data.rfind(b"PK\x05\x06") == -1:  # the end-of-archive record is the last thing written
        raise PersistenceError(f"{path} is truncated: the zip archive has no end record")


_SNIFFERS: dict[str, Callable[[Path, bytes], None]] = {".safetensors": check_safetensors_bytes, ".skops": _check_zip_bytes}


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)


class _NonFinite(Exception):
    pass


def read_manifest(folder: str | Path, formats: Iterable[str] | None = None) -> dict[str, Any]:
    """The parsed policy.json of a saved policy folder.

    Parameters
    ----------
    folder : str or Path
    formats : iterable of str, optional
        Accepted values of ``"format"``; ``None`` accepts any.

    Raises
    ------
    PersistenceError
        policy.json missing, a pickle, not JSON (truncated), NaN or infinities in it, not an
        object, or a format outside ``formats``.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise PersistenceError(f"{path} is missing: a saved policy folder holds policy.json")
    data = path.read_bytes()
    if _looks_like_pickle(data):
        raise PersistenceError(f"{path} is a pickle file, not JSON; orkit never loads pickles")
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except _NonFinite as exc:
        raise PersistenceError(f"{path} must not hold {exc.args[0]}: a saved policy holds finite numbers only") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PersistenceError(f"{path} is not valid JSON (truncated or damaged): {exc}") from None
    if not isinstance(document, dict):
        raise PersistenceError(f"{path} must hold a JSON object, got {type(document).__name__}")
    if formats is not None:
        formats = tuple(formats)
        if document.get("format") not in formats:
            raise PersistenceError(
                f"{path}: format must be {' or '.join(map(repr, formats))}, got {document.get('format')!r}"
            )
    return document


def _check_document(document: dict[str, Any], manifest: Path) -> None:
    """The keys of an ``orkit-policy/1`` manifest and their JSON types."""
    for key, kind in (("policy", str), ("class", str), ("parameters", dict), ("state", dict), ("files", dict)):
        if not isinstance(document.get(key), kind):
            raise PersistenceError(
                f"{manifest}: {key} must be a JSON {'string' if kind is str else 'object'}, got {document.get(key)!r}"
            )
    for name, entry in document["files"].items():
        check_file_name(name, f"files entry {name!r}", manifest, (".safetensors", *_EXTERNAL_SUFFIXES))
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise PersistenceError(f"{manifest}: files entry {name!r} must give a sha256 of 64 hex digits, got {entry!r}")


# ---------------------------------------------------------------------------------- encoding
class _Encoder:
    """Turns parameter and state values into JSON, collecting arrays and external files."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.files: dict[str, bytes] = {}
        self._seen: dict[int, tuple[Any, dict[str, Any]]] = {}  # one array saved once (and kept alive)

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            number = float(value)
            if math.isnan(number):
                raise ValidationError(f"{where} is NaN; a saved policy holds no NaN")
            if math.isinf(number):
                return {"$float": "inf" if number > 0 else "-inf"}
            return number
        if isinstance(value, PurePath):
            return str(value)
        if isinstance(value, ExternalFile):
            check_file_name(value.name, where, Path(MANIFEST), _EXTERNAL_SUFFIXES)
            if value.name in self.files:
                raise ValidationError(f"{where}: file {value.name!r} is written twice")
            self.files[value.name] = value.data
            return {"$file": value.name}
        if isinstance(value, (np.ndarray, torch.Tensor)):
            return self._array(value, where)
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise ValidationError(f"{where} cannot be saved: its keys must be strings, got {bad[0]!r}")
            return {"$dict": {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}}
        raise ValidationError(
            f"{where} cannot be saved: {type(value).__name__} is not a number, string, array or container of them"
        )

    def _array(self, value: np.ndarray | torch.Tensor, where: str) -> dict[str, Any]:
        seen = self._seen.get(id(value))
        if seen is not None:
            return dict(seen[1])
        kind = "torch" if isinstance(value, torch.Tensor) else "numpy"
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        if array.dtype.kind in "US":
            if array.ndim != 1:
                raise ValidationError(f"{where} cannot be saved: arrays of strings must be 1-d, got shape {array.shape}")
            reference: dict[str, Any] = {"$strings": [str(s) for s in array.tolist()]}
        else:
            if array.dtype.name not in _ARRAY_DTYPES:
                raise ValidationError(
                    f"{where} cannot be saved: arrays must be of {', '.join(sorted(_ARRAY_DTYPES))}, got {array.dtype}"
                )
            if array.dtype.kind == "f" and np.isnan(array).any():
                raise ValidationError(f"{where} holds NaN; a saved policy holds no NaN")
            self.arrays[where] = np.array(array, order="C", copy=True)  # (ascontiguousarray makes 0-d arrays 1-d)
            reference = {"$array": where, "dtype": array.dtype.name, "shape": list(array.shape), "kind": kind}
        self._seen[id(value)] = (value, reference)
        return dict(reference)


class _Decoder:
    """Reads the values of an ``orkit-policy/1`` manifest back, checking every file it names."""

    def __init__(self, folder: Path, document: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = folder / MANIFEST
        self.files = document["files"]
        self._arrays: dict[str, np.ndarray] | None = None

    @property
    def sources(self) -> str:
        """The files the decoded values came from, for error messages."""
        return MANIFEST if self._arrays is None else f"{MANIFEST} and {ARRAYS}"

    def file(self, name: Any, where: str, suffixes: Iterable[str]) -> FileRef:
        name = check_file_name(name, where, self.manifest, suffixes)
        entry = self.files.get(name)
        if entry is None:
            raise PersistenceError(f"{self.manifest}: {where} names {name!r}, which the files list of policy.json lacks")
        path = self.folder / name
        if not path.exists():
            raise PersistenceError(f"{path} is missing (policy.json names it in {where})")
        real = path.resolve()
        if real.parent != self.folder.resolve() or not real.is_file():
            raise PersistenceError(f"{path} must be a regular file inside the policy folder, got {real}")
        data = path.read_bytes()
        _SNIFFERS[Path(name).suffix](path, data)
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise PersistenceError(
                f"{path}: SHA-256 must be {entry['sha256'][:16]}... as policy.json records, got {digest[:16]}... "
                "(the file was changed, or a save was interrupted)"
            )
        return FileRef(path, data)

    def arrays(self, where: str) -> dict[str, np.ndarray]:
        if self._arrays is None:
            from safetensors.numpy import load

            ref = self.file(ARRAYS, where, (".safetensors",))
            self._arrays = ref.load(load, "the arrays")
        return self._arrays

    def decode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict) or len(value) == 0 or next(iter(value)) not in _TAGS:
            raise PersistenceError(
                f"{self.manifest}: {where} must be a JSON value or an object tagged {', '.join(_TAGS)}, got {value!r}"
            )
        tag = next(iter(value))
        body = value[tag]
        if tag == "$tuple" and isinstance(body, list) and len(value) == 1:
            return tuple(self.decode(v, f"{where}[{i}]") for i, v in enumerate(body))
        if tag == "$dict" and isinstance(body, dict) and len(value) == 1:
            return {k: self.decode(v, f"{where}.{k}") for k, v in body.items()}
        if tag == "$float" and body in ("inf", "-inf") and len(value) == 1:
            return float(body)
        if tag == "$strings" and isinstance(body, list) and all(isinstance(s, str) for s in body) and len(value) == 1:
            return np.array(body, dtype=str) if body else np.array([], dtype=str)
        if tag == "$file" and len(value) == 1:
            return self.file(body, where, _EXTERNAL_SUFFIXES)
        if tag == "$array" and set(value) == {"$array", "dtype", "shape", "kind"}:
            return self._array(value, where)
        raise PersistenceError(f"{self.manifest}: {where} is a malformed {tag} value: {value!r}")

    def _array(self, value: dict[str, Any], where: str) -> np.ndarray | torch.Tensor:
        key, dtype, shape, kind = value["$array"], value["dtype"], value["shape"], value["kind"]
        if (dtype not in _ARRAY_DTYPES or kind not in ("numpy", "torch") or not isinstance(shape, list)
                or not all(isinstance(n, int) and n >= 0 for n in shape)):
            raise PersistenceError(f"{self.manifest}: {where} is a malformed $array value: {value!r}")
        arrays = self.arrays(where)
        path = self.folder / ARRAYS
        if key not in arrays:
            raise PersistenceError(f"{path} lacks array {key!r}, which policy.json names in {where}")
        array = arrays[key]
        if array.dtype.name != dtype:
            raise PersistenceError(f"{path}: array {key!r} must be {dtype} as policy.json says, got {array.dtype}")
        if list(array.shape) != shape:
            raise PersistenceError(
                f"{path}: array {key!r} must have shape {tuple(shape)} as policy.json says, got {tuple(array.shape)}"
            )
        if array.dtype.kind == "f" and np.isnan(array).any():
            raise PersistenceError(
                f"{path}: array {key!r} must not hold NaN, got {int(np.isnan(array).sum())} NaN value(s)"
            )
        array = np.array(array, copy=True)  # writable, and owned by the policy
        return torch.from_numpy(array) if kind == "torch" else array


# ---------------------------------------------------------------------------------- the mixin
class SavablePolicy(Estimator):
    """Mixin: ``save(folder)`` and ``load(folder)`` for a registered policy (module docstring).

    A subclass names its registered name and its fitted attributes; the default hooks save
    the constructor parameters and those attributes through the codec, and load them back by
    calling the constructor and setting the attributes.

    Class attributes
    ----------------
    policy_name : str
        The name the policy is registered under (``orkit.experiments.registry.POLICIES``).
    _saved_attributes : tuple of str
        Fitted attributes saved besides ``per_sku_`` and ``sku_ids_``. Run diagnostics
        (timing logs, training histories) are left out on purpose.
    _unsaved_parameters : tuple of str
        Parameters that only matter while fitting and cannot be written (a teacher policy, a
        callback): saved as their repr in ``unsaved_parameters``, loaded as their default.

    Hooks
    -----
    ``_saved_parameters()``, ``_loaded_parameters(params)`` (class method),
    ``_saved_state()``, ``_restore_state(state)``: override to write objects the codec does
    not know (return an :class:`ExternalFile`; loading then gives a :class:`FileRef`).
    """

    policy_name: ClassVar[str] = ""
    _saved_attributes: ClassVar[tuple[str, ...]] = ()
    _unsaved_parameters: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ hooks
    def _saved_parameters(self) -> dict[str, Any]:
        return {k: v for k, v in self._params().items() if k not in self._unsaved_parameters}

    @classmethod
    def _loaded_parameters(cls, params: dict[str, Any]) -> dict[str, Any]:
        return params

    @classmethod
    def _loadable_parameter_names(cls) -> set[str]:
        return set(cls._get_param_names()) - set(cls._unsaved_parameters)

    @classmethod
    def _state_names(cls) -> tuple[str, ...]:
        return (*cls._saved_attributes, "per_sku_", "sku_ids_")

    @classmethod
    def _fitted_attributes(cls) -> tuple[str, ...]:
        """Attributes a policy must have to be saved (the saved state's names by default)."""
        return cls._state_names()

    def __sklearn_is_fitted__(self) -> bool:
        """Whether the policy can act and be saved (scikit-learn's fitted-state protocol)."""
        return all(hasattr(self, name) for name in self._fitted_attributes())

    def _saved_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._state_names()}

    def _restore_state(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ save
    def save(self, folder: str | Path) -> Path:
        """Write the policy to the folder ``folder`` (created if needed); return the folder.

        ``folder/policy.json`` names the policy, its parameters and its fitted numbers; arrays
        go to ``arrays.safetensors``, scikit-learn models to ``*.skops`` files. No pickle.
        Load it back with :meth:`load` or :func:`orkit.experiments.registry.load_policy`.

        Raises
        ------
        NotFittedError
            The policy needs ``fit`` first.
        ValidationError
            A parameter or fitted value orkit cannot write (the message names it).
        """
        cls = type(self)
        if not cls.policy_name:
            raise ValidationError(f"{cls.__name__} has no registered name (policy_name), so it cannot be saved")
        missing = [name for name in self._fitted_attributes() if not hasattr(self, name)]
        if missing:
            raise NotFittedError(f"{cls.__name__} is not fitted yet (missing {', '.join(missing)}); call fit before save")
        encoder = _Encoder()
        # everything is encoded before the first byte is written: a value orkit cannot save
        # leaves the folder as it was
        parameters = {k: encoder.encode(v, f"parameters.{k}") for k, v in self._saved_parameters().items()}
        state = {k: encoder.encode(v, f"state.{k}") for k, v in self._saved_state().items()}
        self._check_sku_state()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, str]] = {}
        if encoder.arrays:
            from safetensors.numpy import save

            data = save(encoder.arrays, metadata={"format": FORMAT})
            atomic_write_bytes(folder / ARRAYS, data)
            files[ARRAYS] = {"sha256": hashlib.sha256(data).hexdigest()}
        for name, data in encoder.files.items():
            atomic_write_bytes(folder / name, data)
            files[name] = {"sha256": hashlib.sha256(data).hexdigest()}
        document: dict[str, Any] = {
            "format": FORMAT,
            "policy": cls.policy_name,
            "class": cls.__name__,
            "parameters": parameters,
            "state": state,
            "files": files,
        }
        unsaved = {k: repr(v) for k, v in self._params().items() if k in self._unsaved_parameters and v is not None}
        if unsaved:
            document["unsaved_parameters"] = unsaved
        atomic_write_text(folder / MANIFEST, json.dumps(document, indent=2, allow_nan=False) + "\n")
        return folder

    # ------------------------------------------------------------------ load
    @classmethod
    def load(cls, folder: str | Path) -> "SavablePolicy":
        """The policy :meth:`save` wrote to ``folder``: same parameters, same orders.

        Raises
        ------
        PersistenceError
            The folder is damaged or tampered with (module docstring); the message names the
            file, the rule and the value.
        """
        folder = Path(folder)
        manifest = folder / MANIFEST
        document = read_manifest(folder, (FORMAT,))
        _check_document(document, manifest)
        if document["class"] != cls.__name__ or (cls.policy_name and document["policy"] != cls.policy_name):
            raise PersistenceError(
                f"{manifest}: {cls.__name__}.load reads policy {cls.policy_name!r} of class {cls.__name__!r}, "
                f"got policy {document['policy']!r} of class {document['class']!r}"
            )
        decoder = _Decoder(folder, document)
        known = cls._loadable_parameter_names()
        unknown = sorted(set(document["parameters"]) - known)
        if unknown:
            raise PersistenceError(
                f"{manifest}: parameters.{unknown[0]} is not a parameter of {cls.__name__}; "
                f"its parameters are {', '.join(sorted(known))}"
            )
        expected = set(cls._state_names())
        if set(document["state"]) != expected:
            extra = sorted(set(document["state"]) - expected)
            lacking = sorted(expected - set(document["state"]))
            raise PersistenceError(
                f"{manifest}: state must hold exactly {', '.join(sorted(expected))}; "
                + (f"it lacks {', '.join(lacking)}" if lacking else f"{extra[0]} is unknown")
            )
        params = {k: decoder.decode(v, f"parameters.{k}") for k, v in document["parameters"].items()}
        state = {k: decoder.decode(v, f"state.{k}") for k, v in document["state"].items()}
        try:
            policy = cls(**cls._loaded_parameters(params))
            policy._restore_state(state)
            policy._check_sku_state()
        except PersistenceError:
            raise
        except (OrkitError, ValueError, TypeError, KeyError, IndexError, RuntimeError, AttributeError) as exc:
            raise PersistenceError(
                f"{folder}: the {cls.__name__} saved in {decoder.sources} breaks a rule: {exc}"
            ) from None
        return policy

    def _check_sku_state(self) -> None:
        """``per_sku_`` is a bool; ``sku_ids_`` is None or unique str ids of a per-SKU policy."""
        per_sku, ids = self.per_sku_, self.sku_ids_
        if not isinstance(per_sku, (bool, np.bool_)):
            raise ValidationError(f"per_sku_ must be True or False, got {per_sku!r}")
        if ids is None:
            return
        if not isinstance(ids, np.ndarray) or ids.ndim != 1 or ids.dtype.kind != "U":
            raise ValidationError(f"sku_ids_ must be None or a 1-d numpy array of str, got {ids!r}")
        if not per_sku:
            raise ValidationError("sku_ids_ must be None when per_sku_ is False (the state is shared by all SKUs)")
        if np.unique(ids).shape[0] != ids.shape[0]:
            raise ValidationError(f"sku_ids_ must be unique, got {ids.shape[0] - np.unique(ids).shape[0]} duplicate(s)")


# ---------------------------------------------------------------- scikit-learn models (skops)
#: the fitted internals of the scikit-learn models orkit's families hold (trees, tree predictors,
#: neighbour indexes), trusted beyond skops' defaults. Names only: orkit.core never imports
#: scikit-learn; skops is imported when a model is saved or loaded.
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
]


def skops_file(name: str, model: Any) -> ExternalFile:
    """``model`` as the bytes of ``name`` (a ``.skops`` file), refusing types orkit does not trust."""
    import skops.io

    data = skops.io.dumps(model)
    untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(SKOPS_TRUSTED_TYPES))
    if untrusted:
        raise ValidationError(
            f"{type(model).__name__} cannot be saved: loading it would need types orkit does not trust "
            f"({', '.join(untrusted)})"
        )
    return ExternalFile(name, data)


def load_skops(ref: Any, expected: tuple[type, ...], where: str) -> Any:
    """The model in ``ref`` (a :class:`FileRef`), which must be an instance of ``expected``."""
    import skops.io

    if not isinstance(ref, FileRef):
        raise PersistenceError(f"{where} must refer to a .skops file, got {ref!r}")
    model = ref.load(lambda data: skops.io.loads(data, trusted=SKOPS_TRUSTED_TYPES), "a scikit-learn model")
    if not isinstance(model, expected):
        raise PersistenceError(
            f"{ref.path} must hold a {' or '.join(t.__name__ for t in expected)}, got {type(model).__name__}"
        )
    return model
