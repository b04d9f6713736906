"""The estimator protocol of orkit.core: get_params / set_params / clone / repr, as scikit-learn has them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone as sklearn_clone
from sklearn.linear_model import Ridge

from orkit.core import Estimator, ValidationError, clone


class Inner(Estimator):
    def __init__(self, depth=3, *, rate=0.1):
        self.depth = depth
        self.rate = rate


class Outer(Estimator):
    def __init__(self, inner=None, level=None, *, name="outer", teacher=None):
        self.inner = inner
        self.level = level
        self.name = name
        self.teacher = teacher


class Sharing(Outer):
    _shared_parameters = ("teacher",)


class Converting(Estimator):
    def __init__(self, values=(1, 2)):
        self.values = list(values)  # breaks the rule: the constructor must store its argument as given


def test_get_params_lists_the_signature_and_nested_estimators():
    outer = Outer(Inner(depth=5), name="x")
    assert outer.get_params(deep=False) == {"inner": outer.inner, "level": None, "name": "x", "teacher": None}
    deep = outer.get_params()
    assert deep["inner__depth"] == 5 and deep["inner__rate"] == 0.1 and deep["inner"] is outer.inner


def test_set_params_sets_top_level_and_nested_values():
    outer = Outer(Inner())
    assert outer.set_params(name="y", inner__rate=0.5) is outer
    assert outer.name == "y" and outer.inner.rate == 0.5


@pytest.mark.parametrize("params, message", [
    ({"colour": 1}, "Outer has no parameter 'colour'; its parameters are inner, level, name, teacher"),
    ({"level__depth": 1}, "Outer parameter 'level' holds NoneType, which has no parameters to set"),
    ({"inner__width": 1}, "Inner has no parameter 'width'"),
])
def test_set_params_refuses_unknown_names(params, message):
    with pytest.raises(ValidationError, match=message):
        Outer(Inner()).set_params(**params)


def test_set_params_calls_the_change_hook_with_the_names_it_changed():
    seen = []

    class Hooked(Outer):
        def _parameters_changed(self, names):
            seen.append(names)

    Hooked(Inner()).set_params(name="z", inner__depth=1)
    assert seen == [{"name", "inner"}]


def test_repr_shows_what_differs_from_the_defaults_with_arrays_summarised():
    assert repr(Outer()) == "Outer()"
    assert repr(Outer(Inner(depth=4), name="x")) == "Outer(inner=Inner(depth=4), name='x')"
    assert repr(Outer(level=np.arange(50.0))) == "Outer(level=<50 values>)"
    assert repr(Outer(level=torch.zeros(3, 2))) == "Outer(level=<array of shape (3, 2)>)"
    assert repr(Outer(level=np.float64(2.5))) == "Outer(level=2.5)"
    assert repr(Outer(level=list(range(20)))) == "Outer(level=<20 values>)"
    assert repr(Outer(level=float("nan"))) == "Outer(level=nan)"


@pytest.mark.parametrize("clone_function", [clone, sklearn_clone], ids=["orkit", "sklearn"])
def test_clone_gives_an_unfitted_copy_with_copied_parameters(clone_function):
    level = np.arange(3.0)
    outer = Outer(Inner(depth=7), level, teacher=Inner())
    outer.fitted_ = 1.0
    twin = clone_function(outer)
    assert type(twin) is Outer and not hasattr(twin, "fitted_")
    assert twin.inner is not outer.inner and twin.inner.depth == 7
    assert twin.level is not level and np.array_equal(twin.level, level)
    assert twin.teacher is not outer.teacher  # cloned, unless the class shares it


@pytest.mark.parametrize("clone_function", [clone, sklearn_clone], ids=["orkit", "sklearn"])
def test_clone_passes_shared_parameters_on_as_they_are(clone_function):
    teacher = Inner()
    teacher.fitted_ = True
    twin = clone_function(Sharing(teacher=teacher))
    assert twin.teacher is teacher


def test_clone_refuses_a_constructor_that_converts_its_arguments():
    with pytest.raises(RuntimeError, match="does not store parameter 'values' as given"):
        clone(Converting())


def test_clone_handles_containers_and_scikit_learn_estimators():
    ridge = Ridge(alpha=2.0).fit([[0.0], [1.0]], [0.0, 1.0])
    copies = clone([Inner(depth=2), {"model": ridge}])
    assert copies[0].depth == 2 and copies[1]["model"].alpha == 2.0 and not hasattr(copies[1]["model"], "coef_")
    with pytest.raises(ValidationError, match="must have get_params"):
        clone(object())
    assert clone([1, "a"], safe=False) == [1, "a"]


def test_a_scikit_learn_meta_estimator_holds_an_orkit_estimator():
    outer = Outer(Ridge(alpha=3.0))
    assert outer.get_params()["inner__alpha"] == 3.0
    assert sklearn_clone(outer).inner.alpha == 3.0
