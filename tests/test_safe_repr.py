import collections
import types
from pathlib import Path

import pytest
import safe_repr_corpus
import safe_repr_large_values
import safe_repr_random_values
from reference import run_on_both

from hunter.util import safe_repr

CORPUS_SCRIPT = Path(safe_repr_corpus.__file__)
RANDOM_VALUES_SCRIPT = Path(safe_repr_random_values.__file__)
LARGE_VALUES_SCRIPT = Path(safe_repr_large_values.__file__)


@pytest.fixture(scope='module')
def corpus_outputs():
    """``(reference, ours)``: the corpus rendered by the real hunter and by us, each in a fresh process."""
    return run_on_both(CORPUS_SCRIPT)


def test_corpus_has_the_same_cases(corpus_outputs):
    reference, ours = corpus_outputs
    assert sorted(ours) == sorted(reference)
    assert len(reference) > 90


@pytest.mark.parametrize('label', [*safe_repr_corpus.build_corpus(), 'user code calls', *(f'maxdepth={depth}' for depth in range(4))])
def test_matches_real_hunter(corpus_outputs, label):
    reference, ours = corpus_outputs
    assert ours[label] == reference[label]


@pytest.mark.parametrize('seed', range(3))
def test_random_values_and_their_clipping_match_real_hunter(seed):
    reference, ours = run_on_both(RANDOM_VALUES_SCRIPT, str(seed), '200')
    assert len(ours) == len(reference) == 200
    for index, (expected, actual) in enumerate(zip(reference, ours)):
        assert actual == expected, f'value #{index} of seed {seed}'


@pytest.fixture(scope='module')
def large_values_outputs():
    """``(reference, ours)``: the clipped reprs of large values by the real hunter and by us."""
    return run_on_both(LARGE_VALUES_SCRIPT)


@pytest.mark.parametrize('label', list(safe_repr_large_values.build_values()))
def test_large_values_clip_as_real_hunter(large_values_outputs, label):
    reference, ours = large_values_outputs
    assert ours[label] == reference[label]


# Below: where we deliberately differ from hunter, which would run user code through repr() in these cases.


class UserRepr:
    calls = 0

    def __repr__(self):
        UserRepr.calls += 1
        return 'USER'


class ClaimsToBeBuiltin:
    __module__ = 'builtins'

    def __repr__(self):
        UserRepr.calls += 1
        return 'USER'


@pytest.fixture
def no_user_repr_calls():
    UserRepr.calls = 0
    yield
    assert UserRepr.calls == 0


def object_repr(obj):
    return object.__repr__(obj)


def test_class_claiming_a_trusted_module_gets_the_default_repr(no_user_repr_calls):
    obj = ClaimsToBeBuiltin()
    assert safe_repr(obj) == object_repr(obj)


@pytest.mark.parametrize(
    'wrapper',
    [
        lambda user: {'k': user}.values(),
        lambda user: {'k': user}.items(),
        lambda user: {user: 1}.keys(),
        lambda user: collections.OrderedDict(k=user).values(),
        lambda user: types.MappingProxyType({'k': [user]}),
        lambda user: slice(user),
        lambda user: staticmethod(user),
        lambda user: classmethod(user),
    ],
    ids=['dict values', 'dict items', 'dict keys', 'OrderedDict values', 'mappingproxy', 'slice', 'staticmethod', 'classmethod'],
)
def test_builtin_wrappers_of_user_objects_get_the_default_repr(no_user_repr_calls, wrapper):
    obj = wrapper(UserRepr())
    assert safe_repr(obj) == object_repr(obj)


def test_plain_data_in_builtin_wrappers_is_shown():
    assert safe_repr({'a': [1, (2,)]}.items()) == "dict_items([('a', [1, (2,)])])"
    assert safe_repr(slice(1, None, 'x')) == "slice(1, None, 'x')"


def test_default_maxdepth_is_five():
    value = [[[[[[1]]]]]]
    assert safe_repr(value) == safe_repr(value, 5) == '[[[[[...]]]]]'
    assert safe_repr(value, maxdepth=0) == '...'


def test_negative_maxdepth_has_no_depth_limit_but_stops_on_cycles():
    assert safe_repr([[[[[[[1]]]]]]], -1) == '[[[[[[[1]]]]]]]'
    cycle = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        safe_repr(cycle, -1)


def test_default_repr_follows_class_renames_and_moves():
    # Heads of object reprs are remembered per class; renaming or moving the class must show at once.
    class Widget:
        def method(self):
            return self

    widget = Widget().method()
    address = f'{id(widget):#x}'
    assert safe_repr(widget) == f'<{__name__}.test_default_repr_follows_class_renames_and_moves.<locals>.Widget object at {address}>'
    Widget.__qualname__ = 'Gadget'
    widget.method()
    assert safe_repr(widget) == f'<{__name__}.Gadget object at {address}>'
    Widget.__module__ = 'elsewhere'
    assert safe_repr(widget) == f'<elsewhere.Gadget object at {address}>'
    assert safe_repr([widget, widget]) == f'[<elsewhere.Gadget object at {address}>, <elsewhere.Gadget object at {address}>]'


def test_default_repr_of_many_classes_names_each():
    classes = [type(f'Class{index}', (), {'__module__': f'module{index}'}) for index in range(200)]
    objects = [cls() for cls in classes]
    for _ in range(2):
        for index, obj in enumerate(objects):
            assert safe_repr(obj) == f'<module{index}.Class{index} object at {id(obj):#x}>'


def test_default_repr_of_instances_of_classes_with_a_metaclass():
    # object.__repr__'s text, read without running metaclass code, also after the class is renamed.
    import abc

    class Meta(type):
        def __getattribute__(cls, name):
            raise AssertionError(f'metaclass code ran for {name}')

    for metaclass in (abc.ABCMeta, Meta):
        cls = metaclass('Shape', (), {'__module__': 'geometry', '__qualname__': 'Shape'})
        shape = cls()
        assert safe_repr(shape) == object.__repr__(shape) == f'<geometry.Shape object at {id(shape):#x}>'
        type.__setattr__(cls, '__qualname__', 'Outer.Shape')
        assert safe_repr([shape]) == f'[<geometry.Outer.Shape object at {id(shape):#x}>]'
        type.__setattr__(cls, '__module__', 'builtins')
        assert safe_repr(shape) == object.__repr__(shape) == f'<Shape object at {id(shape):#x}>'


def test_float_reprs_stay_exact_when_shown_again():
    # Float reprs are remembered by their bits in a small table: values shown again, values that evict one
    # another and values of equal magnitude but another sign must all still show as repr() does.
    import random

    rng = random.Random(7)
    values = [rng.uniform(-1e6, 1e6) for _ in range(1500)] + [rng.random() * 10.0 ** rng.randint(-30, 30) for _ in range(1500)]
    values += [0.0, -0.0, 1e16, -1e16, 1e-5, 0.1, 0.30000000000000004, float('inf'), float('-inf'), float('nan')]
    for _ in range(3):
        for value in values:
            assert safe_repr(value) == repr(value)
        assert safe_repr(values[:20]) == repr(values[:20])
        rng.shuffle(values)


def test_classes_and_functions_show_as_their_repr():
    # Class and function reprs are built natively; renamed and moved ones must still match repr().
    class Plain:
        def method(self):
            pass

    class Moved:
        pass

    class ClaimsBuiltins:
        pass

    class NumberModule:
        pass

    class Label(str):
        pass

    class LabelModule:
        pass

    class Renamed:
        pass

    def function():
        pass

    def renamed():
        pass

    Moved.__module__ = 'elsewhere.deep'
    ClaimsBuiltins.__module__ = 'builtins'
    NumberModule.__module__ = 42
    LabelModule.__module__ = Label('labelled')
    Renamed.__qualname__ = 'Other.Näme\nwith a newline'
    renamed.__qualname__ = 'Ünïcode.name'
    made = type('Made', (), {})
    values = [Plain, Moved, ClaimsBuiltins, NumberModule, LabelModule, Renamed, made, int, collections.OrderedDict,
              types.SimpleNamespace, type, object, function, renamed, Plain.method, (lambda: 0)]
    for value in values:
        assert safe_repr(value) == repr(value)
    assert safe_repr(values) == repr(values)


def test_a_list_still_being_built_is_an_error_not_a_crash():
    # C code fills a new list after creating it; meanwhile gc.get_objects() can hand it out, NULL items and all.
    import ctypes

    new_list = ctypes.pythonapi.PyList_New
    new_list.restype = ctypes.py_object
    new_list.argtypes = [ctypes.c_ssize_t]
    unfilled = new_list(2)
    with pytest.raises(SystemError, match='item 0 is NULL'):
        safe_repr(unfilled)
    with pytest.raises(SystemError, match='item 0 is NULL'):
        safe_repr([1, (unfilled,)])
    ctypes.pythonapi.PyList_SetItem.argtypes = [ctypes.py_object, ctypes.c_ssize_t, ctypes.py_object]
    for index in range(2):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(index))  # PyList_SetItem steals a reference
        ctypes.pythonapi.PyList_SetItem(unfilled, index, index)
    assert safe_repr(unfilled) == '[0, 1]'
