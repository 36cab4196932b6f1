"""
hunter-rs: a drop-in, Rust-powered re-implementation of hunter, the flexible code tracing toolkit.

This module holds the thin Python API (``trace``, ``Q`` and friends, configuration and environment activation);
the tracer, events and predicates are native classes from ``hunter._hunter``.

``hunter.pth`` imports this module at interpreter start-up when ``PYTHONHUNTER`` is set, so keep its imports light:
anything heavy is imported inside the function that needs it.
"""

import atexit
import importlib  # also names the frozen import machinery `importlib._bootstrap` (hunter imports it too)
import os
import sys

from ._hunter import And as _And
from ._hunter import Backlog as _Backlog
from ._hunter import Event
from ._hunter import ExpressionError
from ._hunter import From as _From
from ._hunter import Not as _Not
from ._hunter import Or as _Or
from ._hunter import Query
from ._hunter import Tracer
from ._hunter import When
from ._hunter import evaluate_arguments as _evaluate_expression_arguments
from ._hunter import __version__
from ._hunter import _stop_all_tracers
from .actions import Action
from .actions import CallPrinter
from .actions import CodePrinter
from .actions import Debugger
from .actions import ErrorSnooper
from .actions import Manhole
from .actions import Profile
from .actions import StackPrinter
from .actions import Timeline
from .actions import TreePrinter
from .actions import VarsPrinter
from .actions import VarsSnooper
from .config import say_on_stderr as _say_on_stderr

# As in hunter, `import hunter` makes the public submodules attributes of the package (`hunter.predicates.Query`);
# these three only re-export native classes. `hunter.const` reads the interpreter's paths, so it comes on first use
# (`__getattr__` below).
from . import event
from . import predicates
from . import tracer

__all__ = (
    'And',
    'Backlog',
    'CallPrinter',
    'CodePrinter',
    'Debugger',
    'ErrorSnooper',
    'From',
    'Manhole',
    'Not',
    'Or',
    'Profile',
    'Q',
    'Query',
    'StackPrinter',
    'Timeline',
    'TreePrinter',
    'VarsPrinter',
    'VarsSnooper',
    'When',
    'stop',
    'trace',
)

THREADING_SUPPORT_ALIASES = (
    'threading_support',
    'threads_support',
    'thread_support',
    'threadingsupport',
    'threadssupport',
    'threadsupport',
    'threading',
    'threads',
    'thread',
)
TRACER_OPTION_NAMES = THREADING_SUPPORT_ALIASES + ('clear_env_var', 'profile', 'backend')

# Options of the actions (read through ``config.Default``) that PYTHONHUNTERCONFIG may set.
_ACTION_CONFIG_KEYS = (
    'klass',
    'stream',
    'force_colors',
    'force_pid',
    'filename_alignment',
    'thread_alignment',
    'pid_alignment',
    'repr_limit',
    'repr_func',
)

#: Where actions write when no stream is given, and where tracer failures are reported. ``hunter.remote`` swaps it.
_default_stream = sys.stderr
#: Action defaults set by PYTHONHUNTERCONFIG. Cleared and refilled in place, so references to it stay valid.
_default_config = {}
#: ``(predicates, options)`` that every ``trace()`` call adds, or None to add nothing.
_default_trace_args = None
#: The tracer started by the latest ``trace()`` call; ``stop()`` stops it.
_last_tracer = None
#: Whether ``_embed_via_environment()`` already ran.
_embedded = False
#: Whether the ``[tool.hunter]`` table of pyproject.toml is still to be put under the PYTHONHUNTERCONFIG defaults.
_pyproject_pending = False


def _not_callable(role, value):
    """hunter's "X is not callable." error; for a string (typically a quoting slip in ``PYTHONHUNTER``, upstream
    issue #70) it goes on to say what a filter or an action looks like."""
    message = f'{role} {value!r} is not callable.'
    if isinstance(value, str) and role == 'Predicate':
        from .predicates import ALLOWED_KEYS

        message += (
            f' A string is not a filter: give a field and a value, such as Q(module={value!r}) or'
            f' Q(function={value!r}). Fields: {", ".join(ALLOWED_KEYS)}.'
        )
    elif isinstance(value, str):
        message += ' An action is a callable, such as CallPrinter, CodePrinter, VarsPrinter(\'name\') or a function.'
    return TypeError(message)


def Q(*predicates, **query):
    """
    Build a predicate: a :class:`Query` from the keyword arguments, ANDed with the positional predicates.
    ``action=`` / ``actions=`` turn the result into a :class:`When` that runs them on every match.
    """
    # A copy: hunter appends ``action`` to (and removes printers from) the list the caller passed as ``actions``.
    optional_actions = list(query.pop('actions', ()))
    if 'action' in query:
        optional_actions.append(query.pop('action'))

    for predicate in predicates:
        if not callable(predicate):
            raise _not_callable('Predicate', predicate)
    for action in optional_actions:
        if not callable(action):
            raise _not_callable('Action', action)

    predicates = tuple(
        predicate() if isinstance(predicate, type) and issubclass(predicate, Action) else predicate
        for predicate in predicates
    )
    # A printer given as the predicate already prints every event, so a printer action would print it twice.
    # Unlike hunter, this removes every such action, not every other one.
    if any(isinstance(predicate, (CallPrinter, CodePrinter)) for predicate in predicates):
        optional_actions = [action for action in optional_actions if not _is_printer(action)]

    if predicates:
        result = And(*predicates, Query(**query)) if query else And(*predicates)
    else:
        result = Query(**query)

    if optional_actions:
        result = When(result, *optional_actions)
    return result


def _is_printer(action):
    # Only the two classes themselves: an action class deriving from them may print something else.
    return action is CallPrinter or action is CodePrinter or isinstance(action, (CallPrinter, CodePrinter))


def _flatten(cls, predicate, *predicates):
    """Combine the predicates with ``cls``, splicing in the members of any top-level ``cls`` instance."""
    if not predicates:
        return predicate
    members = []
    for item in (predicate, *predicates):
        if isinstance(item, cls):
            members.extend(item.predicates)
        else:
            members.append(item)
    return cls(*members)


def And(*predicates, **kwargs):
    """All the predicates must match. The keyword arguments become one more :class:`Query`."""
    if kwargs:
        predicates += (Query(**kwargs),)
    return _flatten(_And, *predicates)


def Or(*predicates, **kwargs):
    """Any of the predicates must match. Each keyword argument becomes its own :class:`Query`."""
    if kwargs:
        predicates += tuple(Query(**{key: value}) for key, value in kwargs.items())
    return _flatten(_Or, *predicates)


def Not(*predicates, **kwargs):
    """Negates the predicates (ANDed together). The keyword arguments become one more :class:`Query`."""
    if kwargs:
        predicates += (Query(**kwargs),)
    if len(predicates) > 1:
        return _Not(_flatten(_And, *predicates))
    return _Not(*predicates)


def From(condition=None, predicate=None, watermark=0, **kwargs):
    """
    Match ``predicate`` on everything after ``condition`` matched, with depth and calls relative to that point.
    Without positional arguments, ``depth*``/``calls*`` keyword arguments filter the events after the match and
    all the others make the condition.
    """
    if condition is None and predicate is None:
        condition_query = {}
        predicate_query = {}
        for key, value in kwargs.items():
            target = predicate_query if key.startswith(('depth', 'calls')) else condition_query
            target[key] = value
        return _From(Q(**condition_query), Q(**predicate_query), watermark)
    if kwargs:
        # hunter's message, then a hint.
        filters = ', '.join(f'{key}={value!r}' for key, value in kwargs.items())
        raise TypeError(
            f"Unexpected arguments {kwargs.keys()}. Don't combine positional with keyword arguments. Put the keyword"
            f' filters in a predicate, such as Q({filters}).'
        )
    return _From(condition, predicate, watermark)


def Backlog(*conditions, **kwargs):
    """Keep the last ``size`` events and replay them (with up to ``stack`` parent frames) when the condition matches."""
    action = kwargs.pop('action', CallPrinter)
    filter = kwargs.pop('filter', None)
    size = kwargs.pop('size', 100)
    stack = kwargs.pop('stack', 10)
    strip = kwargs.pop('strip', True)
    vars = kwargs.pop('vars', False)
    if not conditions and not kwargs:
        raise TypeError(
            "Backlog needs at least 1 condition "
            "(it doesn't have any effect without one besides making everything incredibly slow)."
        )
    condition = _merge(*conditions, **kwargs)
    return _Backlog(condition, size=size, stack=stack, vars=vars, strip=strip, action=action, filter=filter)


def _merge(*predicates, **query):
    if predicates:
        if query:
            predicates += (Query(**query),)
        return And(*predicates)
    return Query(**query)


class Stop(Action):
    """An action that stops tracing, e.g. ``~Q(calls_gt=1000, action=Stop)``."""

    def __call__(self, event):
        stop()


def _prepare_predicate(*predicates, **options):
    if 'action' not in options and 'actions' not in options:
        options['action'] = CallPrinter
    return Q(*predicates, **options)


def _apply_config(predicates, options):
    _merge_pyproject_config()
    if _default_trace_args is None:
        return predicates, options
    config_predicates, config_options = _default_trace_args
    return predicates + tuple(config_predicates), dict(config_options, **options)


def trace(*predicates, **options):
    """
    Start tracing, printing every event the predicates match (with :class:`CallPrinter` unless ``action=`` or
    ``actions=`` is given). Returns the :class:`Tracer`, which can also be used as a context manager.

    Tracer options: ``profile=True`` (use ``sys.setprofile``), ``threading_support`` (or one of its aliases),
    ``clear_env_var=True`` (remove ``PYTHONHUNTER`` so that child processes are not traced) and ``backend``
    (``'auto'``, ``'monitoring'`` or ``'settrace'``; default from ``PYTHONHUNTERBACKEND``, else ``'auto'``).
    """
    global _last_tracer
    predicate, tracer, clear_env_var = _tracer_and_predicate(predicates, options)
    if clear_env_var:
        os.environ.pop('PYTHONHUNTER', None)
    _last_tracer = tracer
    return tracer.trace(predicate)


def _tracer_and_predicate(predicates, options):
    """What ``trace(*predicates, **options)`` starts, made but not started: ``(predicate, tracer, clear_env_var)``.
    Raises what bad arguments raise (hunter-trace checks its query with it before it disturbs the target)."""
    predicates, options = _apply_config(predicates, dict(options))
    clear_env_var = options.pop('clear_env_var', False)
    threading_support = None
    for alias in THREADING_SUPPORT_ALIASES:
        if alias in options:
            threading_support = options.pop(alias)
    profiling_mode = options.pop('profile', False)
    backend = options.pop('backend', None)
    predicate = _prepare_predicate(*predicates, **options)
    tracer = Tracer(threading_support=threading_support, profiling_mode=profiling_mode, backend=backend)
    return predicate, tracer, clear_env_var



def stop():
    """Stop the tracer started by the latest :func:`trace` call, restoring the previous one."""
    global _last_tracer
    if _last_tracer is None:
        try:
            import warnings
        except ImportError:
            # At interpreter exit (a finalizer calling stop()), when nothing can be imported any more.
            return
        warnings.warn('There is no tracer to stop.', stacklevel=2)
    else:
        _last_tracer.stop()
        _last_tracer = None


def wrap(function_to_trace=None, **trace_options):
    """
    Trace every call of the decorated function (plain, generator, coroutine or async generator), starting at its
    call event and with depths relative to it. ``local=True`` leaves out what its callees' callees do.
    Usable as ``@wrap`` or ``@wrap(**trace_options)``.
    """
    local = trace_options.pop('local', False)

    def tracing_decorator(func):
        import functools
        import inspect

        # Read as the function is decorated: something without a name (a functools.partial) fails there, as in hunter.
        function_name = func.__name__

        def start_tracing(wrapper_code):
            # Fresh predicates for every call: hunter builds them once per decoration, so a From left active by
            # one call makes the next call also print the wrapper's own lines.
            tracer = None

            def stop_this_tracer(event):
                # Not ``Stop``, which stops the last tracer started: with nested wrapped calls that is another one.
                tracer.stop()

            predicates = [Query(depth_lt=2)] if local else []
            predicates.append(
                From(
                    Query(kind='call', function=function_name),
                    Not(When(Query(calls_gt=0, depth=0) & Not(Query(kind='return')), stop_this_tracer)),
                    watermark=-1,
                )
            )
            # Last, after From has seen every event: the wrapper's own frame, running as tracing starts, is traced
            # too (difference 15), and a generator wrapper's suspensions are returns of it.
            predicates.append(Not(Query(code=wrapper_code)))
            tracer = trace(*predicates, **trace_options)
            return tracer

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def tracing_wrapper(*args, **kwargs):
                tracer = start_tracing(tracing_wrapper.__code__)
                try:
                    # Forwards asend()/athrow()/aclose() to the wrapped generator, unlike a plain ``async for``.
                    generator = func(*args, **kwargs)
                    try:
                        item = await generator.__anext__()
                        while True:
                            try:
                                sent = yield item
                            except GeneratorExit:
                                await generator.aclose()
                                raise
                            except BaseException as exc:
                                item = await generator.athrow(exc)
                            else:
                                item = await generator.asend(sent)
                    except StopAsyncIteration:
                        return
                finally:
                    tracer.stop()

        elif inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def tracing_wrapper(*args, **kwargs):
                tracer = start_tracing(tracing_wrapper.__code__)
                try:
                    return await func(*args, **kwargs)
                finally:
                    tracer.stop()

        elif inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def tracing_wrapper(*args, **kwargs):
                tracer = start_tracing(tracing_wrapper.__code__)
                try:
                    # Unlike hunter, keeps the generator's return value.
                    return (yield from func(*args, **kwargs))
                finally:
                    tracer.stop()

        else:

            @functools.wraps(func)
            def tracing_wrapper(*args, **kwargs):
                tracer = start_tracing(tracing_wrapper.__code__)
                try:
                    return func(*args, **kwargs)
                finally:
                    tracer.stop()

        return tracing_wrapper

    if function_to_trace is None:
        return tracing_decorator
    return tracing_decorator(function_to_trace)


def _prepare_config(*args, **kwargs):
    """
    Sort ``PYTHONHUNTERCONFIG`` arguments into action defaults (stored in ``_default_config``), tracer options and
    filters (returned as options) and extra predicates (returned), reporting and dropping anything unusable.
    """
    return _sort_config(args, kwargs, 'PYTHONHUNTERCONFIG')


def _sort_config(args, kwargs, source_name):
    """:func:`_prepare_config` of the configuration from ``source_name``."""
    kwargs = {key.lower(): value for key, value in kwargs.items()}
    _default_config.clear()
    # Action defaults go in first: checking the other options below may construct actions (``action=...``).
    _default_config.update((key, value) for key, value in kwargs.items() if key in _ACTION_CONFIG_KEYS)

    options = {}
    for key, value in kwargs.items():
        if key in _ACTION_CONFIG_KEYS:
            continue
        if key not in TRACER_OPTION_NAMES:
            try:
                Q(**{key: value})
            except TypeError:
                _say_on_stderr(
                    f'Discarded config from {source_name} {key}={value!r}: Unknown option{_config_key_hint(key)}\n'
                )
                continue
        elif key == 'backend':
            # hunter has no such option (it would discard it as unknown): a bad one is discarded, not every trace().
            try:
                Tracer(backend=value)
            except (TypeError, ValueError) as exc:
                _say_on_stderr(f'Discarded config from {source_name} {key}={value!r}: {exc}\n')
                continue
        options[key] = value

    predicates = []
    for position, predicate in enumerate(args):
        if callable(predicate):
            predicates.append(predicate)
        else:
            _say_on_stderr(
                f'Discarded config from {source_name} {predicate} (position {position}): Not a callable\n'
            )
    return predicates, options


def _config_key_hint(key):
    """``. Did you mean 'X'?`` with the config key (an action option, tracer option or filter) closest to ``key``."""
    from ._hunter import _closest_name
    from .predicates import ALLOWED_KEYS
    from .predicates import ALLOWED_OPERATORS

    filters = ALLOWED_KEYS + tuple(f'{field}_{operator}' for field in ALLOWED_KEYS for operator in ALLOWED_OPERATORS)
    match = _closest_name(key, [*_ACTION_CONFIG_KEYS, *TRACER_OPTION_NAMES, *filters])
    return f". Did you mean '{match}'?" if match else ''


def load_config(*args, **kwargs):
    """
    Set the defaults that every :func:`trace` call uses, from the arguments, or without arguments from the
    ``PYTHONHUNTERCONFIG`` environment variable (an argument list in the language of ``PYTHONHUNTER``), over the
    ``[tool.hunter]`` table of the nearest pyproject.toml (merged in when tracing starts).
    """
    global _default_trace_args, _pyproject_pending
    _pyproject_pending = not (args or kwargs)
    if args or kwargs:
        _default_trace_args = _prepare_config(*args, **kwargs)
        return
    config_source = os.environ.get('PYTHONHUNTERCONFIG', '')
    try:
        # Positional literals are reported by _prepare_config as "Not a callable", as hunter does.
        args, kwargs = _evaluate_arguments(config_source, 'PYTHONHUNTERCONFIG', predicates_only=False)
        _default_trace_args = _prepare_config(*args, **kwargs)
    except ExpressionError as exc:
        _say_on_stderr(f'hunter: {exc}\n')
        _default_trace_args = (), ()
    except Exception as exc:
        _say_on_stderr(f'Failed to load hunter config from PYTHONHUNTERCONFIG {config_source!r}: {exc!r}\n')
        _default_trace_args = (), ()


def _merge_pyproject_config():
    """
    Put the ``[tool.hunter]`` table of the nearest pyproject.toml under the PYTHONHUNTERCONFIG defaults, once per
    :func:`load_config`: at the first trace or action, so that ``import hunter`` reads no file.
    """
    global _default_trace_args, _pyproject_pending
    if not _pyproject_pending:
        return
    _pyproject_pending = False
    from .config import pyproject_table

    found = pyproject_table()
    if found is None:
        return
    source_name, table = found
    # What PYTHONHUNTERCONFIG set (and python -m hunter's -o) wins.
    overriding_defaults = dict(_default_config)
    predicates, overriding_options = _default_trace_args or ((), {})
    try:
        _, options = _sort_config((), table, source_name)
    except Exception as exc:
        # As a PYTHONHUNTERCONFIG that fails: the table is dropped, tracing goes on (this runs in every trace()).
        _say_on_stderr(f'Failed to load hunter config from {source_name}: {exc!r}\n')
        options = {}
        _default_config.clear()
    _default_config.update(overriding_defaults)
    options.update(overriding_options)
    _default_trace_args = predicates, options


#: The names that PYTHONHUNTER, PYTHONHUNTERCONFIG and the command line queries may use: the public filters and
#: actions, and ``Stop`` (the cookbook's ``~Q(calls_gt=1000, action=Stop)``); not the ``trace``/``stop`` functions.
_EXPRESSION_NAMES = tuple(name for name in __all__ if name not in ('stop', 'trace')) + ('Stop',)


def _evaluate_arguments(text, source_name, predicates_only=True):
    """
    ``(args, kwargs)`` of the argument list ``text``, parsed (never ``eval``-ed) in the language of PYTHONHUNTER.
    Raises :class:`ExpressionError` naming ``source_name`` and the position when it cannot be parsed or evaluated.
    """
    namespace = {name: globals()[name] for name in _EXPRESSION_NAMES}
    # Whole dotted names (there is no attribute access), for ``stream=sys.stdout``.
    namespace.update({'sys.stdout': sys.stdout, 'sys.stderr': sys.stderr})
    return _evaluate_expression_arguments(text, namespace, source_name, predicates_only)


def _embed_via_environment():
    """Start tracing with ``trace(<PYTHONHUNTER>)`` if that variable is set (even to an empty string)."""
    global _embedded
    # Once: site runs hunter.pth twice when site-packages is also reached through a symlink (a venv's lib64), and
    # a second tracer would replace the first, which comes back (with its own counters) when the second stops.
    if 'PYTHONHUNTER' not in os.environ or _embedded:
        return
    _embedded = True
    trace_arguments = os.environ['PYTHONHUNTER']
    try:
        args, kwargs = _evaluate_arguments(trace_arguments, 'PYTHONHUNTER')
        trace(*args, **kwargs)
    except ExpressionError as exc:
        _say_on_stderr(f'hunter: {exc}\n')
    except Exception as exc:
        _say_on_stderr(f'Failed to load hunter from PYTHONHUNTER environ variable {trace_arguments!r}: {exc!r}\n')


def _other_hunter_distribution():
    """The ``.dist-info``/``.egg-info`` folder of another installed distribution (the real hunter from PyPI) whose
    files share our ``hunter/`` folder, or None. Cheap, as it runs on every import: one listing of the folder that
    holds ``hunter/``, and one metadata file read only when a ``hunter-<version>`` entry is there."""
    site_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        names = os.listdir(site_dir)
    except OSError:
        return None
    prefix = 'hunter-'  # ``hunter-3.9.0.dist-info``, ``hunter-3.9.0-py3.12.egg-info``; ours is ``hunter_rs-...``
    for name in names:
        if not (name.startswith(prefix) and name[len(prefix) :][:1].isdigit()):
            continue
        metadata_dir = os.path.join(site_dir, name)
        if name.endswith('.dist-info'):
            listing, owns_package = 'RECORD', lambda line: line.startswith('hunter/__init__.py,')
        elif name.endswith('.egg-info'):
            listing, owns_package = 'top_level.txt', lambda line: line.strip() == 'hunter'
        else:
            continue
        try:
            with open(os.path.join(metadata_dir, listing), encoding='utf-8') as file:
                if any(owns_package(line) for line in file):
                    return metadata_dir
        except OSError:
            continue
    return None


def _warn_about_other_hunter():
    other = _other_hunter_distribution()
    if other is None:
        return
    import warnings

    # ``hunter-3.9.0.dist-info``, ``hunter-3.9.0-py3.12.egg-info``
    other_version = os.path.splitext(os.path.basename(other))[0].split('-')[1]
    warnings.warn(
        f'hunter-rs and hunter {other_version} (the hunter from PyPI) are both installed in {os.path.dirname(other)}:'
        ' they share its hunter/ folder, so the one installed last overwrote the other\'s files, and uninstalling'
        ' either one breaks the other. To keep hunter-rs only, run:'
        ' pip uninstall -y hunter hunter-rs && pip install hunter-rs',
        RuntimeWarning,
        stacklevel=1,
    )


_warn_about_other_hunter()
load_config()


def _stop_tracers_at_exit():
    """Stops every running tracer before the interpreter shuts down, and waits (briefly) until no other thread is
    inside a tracer callback: before 3.14 CPython ends daemon threads during finalization by unwinding their stacks
    (``pthread_exit``), which must not happen inside hunter's native code. Then closes the files actions opened."""
    from .actions import ColorStreamAction

    _stop_all_tracers()
    ColorStreamAction._close_opened_paths()


atexit.register(_stop_tracers_at_exit)


def __getattr__(name):
    """``hunter.const``, imported on first use like any of hunter's submodules would be."""
    if name == 'const':
        return importlib.import_module('.const', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
