"""
``python -m hunter [QUERY ...] [-o FILE] [--timeline FILE] script.py [args]`` and ``python -m hunter [QUERY ...]
[-o FILE] [--timeline FILE] -m module [args]``: run a program as ``python script.py`` / ``python -m module`` would,
traced with ``hunter.trace(QUERY)``.
"""

import importlib.machinery
import importlib.util
import os
import sys
import types

import hunter

#: hunter's own files: their frames are not the program's.
OWN_PACKAGE = os.path.dirname(os.path.abspath(hunter.__file__)) + os.sep

USAGE = 'python -m hunter [-h] [-V] [QUERY ...] [-o FILE] [--timeline FILE] [--] (script.py | -m module) [args ...]'

#: The hunter release whose API, output and command line languages hunter-rs reproduces.
COMPATIBLE_HUNTER_VERSION = '3.9.0'

HELP = f"""usage: {USAGE}

Run a Python program traced by hunter, as `python script.py` or `python -m module` would run it
(same sys.argv, sys.path[0] and __main__), and exit with its exit code.

QUERY       arguments of hunter.trace(...), in the language of PYTHONHUNTER: keyword filters such as
            module="foo" or stdlib=False, predicates such as ~Q(kind="line") or Q(module="a") | Q(module="b"),
            and actions such as actions=[CodePrinter, VarsPrinter("x")]. Several QUERY arguments are
            joined with commas. Without any, every event is printed with CallPrinter.
-o FILE     write the trace to FILE instead of stderr
--timeline FILE
            record the matched calls with hunter.Timeline and write them to FILE (Chrome Trace Event Format,
            for the Perfetto UI) when the program ends; without an action in QUERY, nothing else is printed
-m module   run a module (or a package's __main__) instead of a script; what follows is its arguments
--          end of the QUERY arguments and options: what follows is the script (or -m module) and its arguments
-h, --help  show this help and exit
-V, --version
            show hunter-rs's version and exit

examples:
  python -m hunter script.py --its-own-option
  python -m hunter 'kind="call"' -- my-tool --its-own-option
  python -m hunter stdlib=False 'kind="call"' script.py
  python -m hunter '~Q(kind="line")' 'module_startswith="mypackage"' -o trace.log -m mypackage.cli arg
  python -m hunter 'Q(function="handle", action=VarsPrinter("request"))' -m http.server 8000
  python -m hunter --timeline out.json 'module_startswith="mypackage"' -m mypackage.cli
"""


class UsageError(Exception):
    pass


def version_text():
    """What ``--version`` prints: the hunter-rs version, and which hunter it stands in for."""
    return f'hunter-rs {hunter.__version__} (hunter {COMPATIBLE_HUNTER_VERSION} compatible)'


def parse_command_line(argv):
    """Split ``argv`` into ``(queries, output_path, timeline_path, module_name, script_path, program_args)``."""
    queries = []
    output_path = None
    timeline_path = None
    position = 0
    while position < len(argv):
        argument = argv[position]
        if argument in ('-h', '--help'):
            sys.stdout.write(HELP)
            sys.exit(0)
        if argument in ('-V', '--version'):
            sys.stdout.write(version_text() + '\n')
            sys.exit(0)
        if argument == '--':
            if position + 1 >= len(argv):
                raise UsageError('a script or -m module is required after --')
            # Whatever follows is the program, even when it looks like a query or an option of ours.
            return (queries, output_path, timeline_path, *_program(argv[position + 1 :]))
        if argument in ('-o', '--output'):
            if position + 1 >= len(argv):
                raise UsageError(f'argument {argument}: expected one argument')
            output_path = argv[position + 1]
            position += 2
            continue
        if argument == '--timeline' or argument.startswith('--timeline='):
            if '=' in argument:
                timeline_path = argument.partition('=')[2]
                position += 1
                continue
            if position + 1 >= len(argv):
                raise UsageError(f'argument {argument}: expected one argument')
            timeline_path = argv[position + 1]
            position += 2
            continue
        if argument.startswith('-o') and len(argument) > 2:
            output_path = argument[2:]
        elif argument.startswith('-m') or _is_script(argument):
            return (queries, output_path, timeline_path, *_program(argv[position:]))
        elif argument.startswith('-'):
            # No query starts with '-' (a negative number is no predicate): a misspelt option, or one of the program's
            # given before it.
            raise UsageError(f'unrecognized option {argument!r} (options of the program go after it)')
        else:
            queries.append(argument)
        position += 1
    raise UsageError('a script or -m module is required')


def _program(argv):
    """``(module_name, script_path, program_args)`` of ``argv``: ``-m module``/``-mmodule`` or a script, then its arguments."""
    if argv[0] == '-m':
        if len(argv) < 2:
            raise UsageError('argument -m: expected one argument')
        return argv[1], None, argv[2:]
    if argv[0].startswith('-m'):
        return argv[0][2:], None, argv[1:]
    return None, argv[0], argv[1:]


def _is_script(argument):
    # A query can never name an existing path nor end in .py (that would be attribute access, which it lacks). Any
    # path, as python runs /dev/stdin, a FIFO or a process substitution too.
    return argument.endswith('.py') or os.path.exists(argument)


class ProgramError(Exception):
    """The program cannot be started: ``python`` prints ``message`` after its own path, and exits with ``status``."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def _script_main(script_path):
    """``(code, globals)`` of ``script_path`` run as ``__main__``, with sys.path[0] as ``python script.py`` sets it."""
    # As python 3.9+ makes it: joined to the working directory, not normalized (sys.argv[0] stays as given).
    absolute_path = _joined_to_working_directory(script_path)
    if os.path.isdir(script_path) or script_path.endswith(('.zip', '.pyz')):
        # Directories and zip apps run their __main__.py with the archive or directory first on sys.path (looked up
        # there only: `__main__` itself is this runner).
        spec = importlib.machinery.PathFinder.find_spec('__main__', [absolute_path])
        if spec is None:
            raise ProgramError(f"can't find '__main__' module in {absolute_path!r}", 1)
        sys.path[0] = absolute_path
        return _main_of_spec(spec, '__main__')
    try:
        with open(script_path, 'rb') as file:
            source = file.read()
    except OSError as exc:
        raise ProgramError(f"can't open file {absolute_path!r}: [Errno {exc.errno}] {exc.strerror}", 2) from None
    code = compile(source, absolute_path, 'exec', dont_inherit=True)
    sys.path[0] = os.path.dirname(os.path.realpath(script_path))
    main_globals = {'__name__': '__main__', '__file__': absolute_path, '__cached__': None, '__package__': None, '__spec__': None}
    return code, main_globals


def _joined_to_working_directory(path):
    """``path`` joined to the working directory, or as it is where that is gone (deleted): as python runs it."""
    if os.path.isabs(path):
        return path
    try:
        return os.path.join(os.getcwd(), path)
    except OSError:
        return path


def _module_main(module_name):
    """``(code, globals)`` of module ``module_name`` (a package's ``__main__``) run as ``python -m`` would."""
    try:
        spec = importlib.util.find_spec(module_name)
    except ImportError as exc:
        raise ProgramError(f'Error while finding module specification for {module_name!r} ({type(exc).__name__}: {exc})', 1) from None
    if spec is None:
        raise ProgramError(f'No module named {module_name}', 1)
    if spec.submodule_search_locations is not None:
        if module_name.endswith('__main__'):
            raise ProgramError(f'{module_name} is a package and cannot be directly executed', 1)
        try:
            return _module_main(f'{module_name}.__main__')
        except ProgramError as exc:
            raise ProgramError(f"{exc}; '{module_name}' is a package and cannot be directly executed", 1) from None
    return _main_of_spec(spec, module_name)


def _main_of_spec(spec, module_name):
    """``(code, globals)`` of the module ``spec`` finds, run as ``__main__``."""
    code = spec.loader.get_code(spec.name)
    if code is None:
        raise ProgramError(f'No code object available for {module_name}', 1)
    main_globals = {
        '__name__': '__main__',
        '__file__': spec.origin,
        '__cached__': spec.cached,
        '__package__': spec.parent,
        '__spec__': spec,
        '__loader__': spec.loader,
    }
    return code, main_globals


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        queries, output_path, timeline_path, module_name, script_path, program_args = parse_command_line(argv)
        trace_args, trace_kwargs = hunter._evaluate_arguments(','.join(queries), 'the query')
        # Made as they are below (not started): a query that parses but cannot be made is a usage error too.
        hunter._tracer_and_predicate(trace_args, trace_kwargs)
    except (UsageError, hunter.ExpressionError, TypeError, ValueError) as exc:
        sys.stderr.write(f'usage: {USAGE}\npython -m hunter: error: {exc}\n')
        sys.exit(2)
    if timeline_path is not None:
        try:
            _add_timeline(trace_kwargs, hunter.Timeline(timeline_path))
        except OSError as exc:
            sys.stderr.write(f'python -m hunter: error: cannot write the timeline to {timeline_path!r}: {exc.strerror or exc}\n')
            sys.exit(2)

    if output_path is not None:
        try:
            # Line buffered, so that the trace is complete whenever and however the program ends.
            hunter._default_config['stream'] = open(output_path, 'w', buffering=1)  # noqa: SIM115
        except OSError as exc:
            sys.stderr.write(f'python -m hunter: error: cannot write the trace to {output_path!r}: {exc.strerror or exc}\n')
            sys.exit(2)

    # Hunter's own frames (this runner, trace() returning) are not part of the program. Started before the program is
    # found: `python -m pkg.mod` imports `pkg` as part of the program.
    tracer = hunter.trace(~hunter.Q(filename_startswith=OWN_PACKAGE), *trace_args, **trace_kwargs)
    try:
        if module_name is not None:
            # sys.path[0] is already the working directory, as for ``python -m module``.
            sys.argv = [module_name, *program_args]  # Then the module's path, as ``python -m`` sets it.
            code, main_globals = _module_main(module_name)
            sys.argv[0] = main_globals['__file__']
        else:
            sys.argv = [script_path, *program_args]
            code, main_globals = _script_main(script_path)
        _run_as_main(code, main_globals)
    except ProgramError as exc:
        tracer.stop()
        sys.stderr.write(f'{sys.executable}: {exc}\n')
        sys.exit(exc.status)
    except BaseException as exc:
        tracer.stop()
        if not isinstance(exc, SystemExit):
            _report_without_runner(exc)
        # The interpreter ends the program as it ends ``python script.py``: status 1, or killed by SIGINT for Ctrl-C.
        raise
    finally:
        tracer.stop()


def _add_timeline(trace_kwargs, timeline):
    """Adds ``timeline`` to the actions of ``hunter.trace(**trace_kwargs)`` (the only one when QUERY gave none)."""
    if 'actions' in trace_kwargs:
        trace_kwargs['actions'] = [*trace_kwargs['actions'], timeline]
    elif 'action' in trace_kwargs:
        trace_kwargs['actions'] = [trace_kwargs.pop('action'), timeline]
    else:
        trace_kwargs['action'] = timeline


def _run_as_main(code, main_globals):
    main_module = types.ModuleType('__main__')
    main_module.__dict__.update(main_globals, __builtins__=__builtins__)
    # The program's __main__ replaces this one, so that pickle, multiprocessing and ``import __main__`` find it.
    sys.modules['__main__'] = main_module
    exec(code, main_module.__dict__)


def _report_without_runner(exc):
    """Has the uncaught ``exc`` reported by the program's ``sys.excepthook`` as ``python script.py`` reports it:
    without this runner's frames, which lead its traceback (a program that does not compile has none left), nor
    runpy's, which it gains on its way out."""
    program_traceback = exc.__traceback__
    while program_traceback is not None and program_traceback.tb_frame.f_code.co_filename.startswith(OWN_PACKAGE):
        program_traceback = program_traceback.tb_next
    program_hook = sys.excepthook

    def excepthook(kind, value, traceback):
        sys.excepthook = program_hook
        if value is exc:
            traceback = program_traceback
            value.__traceback__ = program_traceback
        program_hook(kind, value, traceback)

    sys.excepthook = excepthook


if __name__ == '__main__':
    main()
