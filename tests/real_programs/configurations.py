"""The hunter configurations every real program runs under, shared by the driver and the test.

A code configuration is the argument list of one ``hunter.trace(...)`` call, as source text evaluated in a namespace
holding hunter's public names, ``OUT`` (the configuration's own stream) and the program's facts below (``LIB``,
``WORKLOAD``, ``FOCUS``, ``FUNCTIONS``, ``NAMES``, ``SUFFIX``, ``RAISERS``). An environment configuration is the value of
``PYTHONHUNTER`` (``{lib}`` and ``{focus}`` are filled in), activated at interpreter start-up by ``hunter.pth``.

hunter's own frames are kept out (their file names and line numbers differ between the two implementations by
construction), and so is what a README deliberate difference names: CallPrinter runs only where every ``return``
event of the frames it prints is seen (difference 3, its indentation), so Backlog replays and a From that ends
before its start's return go to CodePrinter; where stdlib code can show, ``<frozen ...>`` modules are kept out
(difference 2: hunter-rs reads their source and counts them as stdlib). ``hunter.wrap`` is not used: a wrapped
function called more than once prints differently by design (difference 7).

Every action runs except ``Debugger`` and ``Manhole``, which are interactive (a pdb prompt, a manhole socket).
"""

import collections

Program = collections.namedtuple('Program', 'workload lib focus functions names suffix raisers')

# One entry per library: the workload module (in this folder), the library's top-level module, a function it calls
# often and nests (FOCUS), a few of its functions, local names its functions use, the end of one of its files, and
# functions where exceptions are raised or pass through (RAISERS: few enough to keep ErrorSnooper, which is slow in
# hunter 3.9.0, fast).
PROGRAMS = {
    'markdown': Program(
        workload='markdown_workload',
        lib='markdown',
        focus='run',
        functions=['convert', 'parseChunk', 'parseBlocks', 'test', 'handleMatch'],
        names=['self.__class__.__name__', 'block', 'text', 'parent.tag'],
        suffix='inlinepatterns.py',
        raisers=['run'],
    ),
    'pyparsing': Program(
        workload='pyparsing_workload',
        lib='pyparsing',
        focus='_parseNoCache',
        functions=['parse_string', '_parseNoCache', 'parseImpl', 'postParse', '_fold'],
        names=['loc', 'instring[loc:]', 'doActions', 'self.__class__.__name__'],
        suffix='results.py',
        raisers=['parse_string', 'scan_string', 'parseImpl_regex'],
    ),
    'tomli': Program(
        workload='tomli_workload',
        lib='tomli',
        focus='parse_value',
        functions=['loads', 'parse_value', 'parse_array', 'parse_inline_table', 'parse_basic_str'],
        names=['pos', 'src[pos:pos + 8]', 'char', 'parse_float'],
        suffix='_re.py',
        raisers=['loads', 'parse_array', 'skip_chars'],
    ),
}

NOT_HUNTER = "~Q(module_startswith='hunter')"
NOT_FROZEN = "~Q(filename_startswith='<frozen')"
IN_LIB = 'Q(module_startswith=LIB)'

CODE_CONFIGURATIONS = {
    # --- every action (the first two print every event of the library)
    'call_printer': f'{IN_LIB}, action=CallPrinter(stream=OUT)',
    'code_printer': f'{IN_LIB}, action=CodePrinter(stream=OUT)',
    'code_printer_narrow_filenames': "Q(module_startswith=LIB, kind_in=['call', 'return']), action=CodePrinter(stream=OUT, filename_alignment=20)",
    'vars_printer': "Q(module_startswith=LIB, function=FOCUS), action=VarsPrinter(*NAMES, stream=OUT)",
    'vars_snooper': "Q(module_startswith=LIB, function=FOCUS), action=VarsSnooper(stream=OUT)",
    'error_snooper': "Q(module_startswith=LIB, function_in=RAISERS), action=ErrorSnooper(stream=OUT)",
    'error_snooper_bounded': "Q(module_startswith=LIB, function_in=RAISERS), action=ErrorSnooper(max_backlog=3, max_events=6, max_depth=2, stream=OUT)",
    'stack_printer': "Q(module_startswith=LIB, function=FOCUS, kind='call'), action=StackPrinter(depth=4, limit=3, stream=OUT)",
    'several_actions': "Q(module_startswith=LIB, function_in=FUNCTIONS, kind='return'), actions=[CallPrinter(stream=OUT), VarsPrinter(*NAMES, stream=OUT)]",
    'colours': "Q(module_startswith=LIB, function_in=FUNCTIONS, kind_in=['call', 'return', 'exception']), action=CallPrinter(stream=OUT, force_colors=True)",
    'repr_limit': "Q(module_startswith=LIB, kind_in=['call', 'return']), action=CallPrinter(stream=OUT, repr_limit=45)",
    # --- Query fields and operators
    'query_function_in': "Q(module_startswith=LIB, function_in=FUNCTIONS, kind_in=['call', 'return']), action=CallPrinter(stream=OUT)",
    'query_regex_contains': r"Q(module_regex=LIB + r'(\.|$)', function_contains='_', kind_in=['call', 'return']), action=CallPrinter(stream=OUT)",
    'query_lineno_range': "Q(module_startswith=LIB, lineno_gte=100, lineno_lt=200, kind='line'), action=CodePrinter(stream=OUT)",
    'query_filename_endswith': "Q(filename_endswith=SUFFIX), action=CallPrinter(stream=OUT)",
    'query_source': "Q(module_startswith=LIB, source_contains='return', kind='line'), action=CodePrinter(stream=OUT)",
    'query_depth_lt': "Q(module_startswith=LIB, depth_lt=5), action=CallPrinter(stream=OUT)",
    'query_calls_lte': "Q(module_startswith=LIB, calls_lte=40), action=CallPrinter(stream=OUT)",
    'stdlib_false': f"{NOT_HUNTER}, {NOT_FROZEN}, ~Q(kind='line'), stdlib=False, action=CallPrinter(stream=OUT)",
    # --- composite predicates
    'when_exception': "When(Q(module_startswith=LIB, kind='exception'), CallPrinter(stream=OUT)), Q(function=FOCUS), action=CodePrinter(stream=OUT)",
    'and_or_not': "(Q(module_startswith=LIB) & ~Q(kind='line') & ~Q(function=FOCUS)) | Q(module=WORKLOAD), action=CallPrinter(stream=OUT)",
    'callable_predicate': "Q(module_startswith=LIB, kind_in=['call', 'return']), lambda event: event.function.startswith('_'), action=CallPrinter(stream=OUT)",
    'from': "From(Q(module_startswith=LIB, function=FOCUS), Q(depth_lt=2)), Q(module_startswith=LIB), action=CallPrinter(stream=OUT)",
    'from_watermark': "From(Q(function=FOCUS, kind='call'), watermark=1), Q(module_startswith=LIB), action=CodePrinter(stream=OUT)",
    'backlog': f"Backlog(Q(module_startswith=LIB, kind='exception'), size=6, stack=3, filter={NOT_FROZEN}, action=CodePrinter(stream=OUT)), action=CodePrinter(stream=OUT)",
    'backlog_filtered_vars': "Q(module_startswith=LIB, function_in=FUNCTIONS + RAISERS), Backlog(Q(module_startswith=LIB, kind='exception'), size=4, stack=0, vars=True, filter=~Q(kind='line'), action=CodePrinter(stream=OUT)), action=CodePrinter(stream=OUT)",
    'backlog_stack_module_filter': "Backlog(Q(module_startswith=LIB, kind='exception'), size=3, stack=2, filter=Q(module_startswith=LIB), action=CodePrinter(stream=OUT)), action=CodePrinter(stream=OUT)",
    # --- stopping (the cookbook's "stop after N calls" and a When that stops at the first exception)
    'stop_after_calls': f"~Q(calls_gt=60, action=Stop), {IN_LIB}, action=CallPrinter(stream=OUT)",
    'stop_at_first_exception': f"{IN_LIB}, ~When(Q(kind='exception'), Stop), action=CallPrinter(stream=OUT)",
}

ENV_CONFIGURATIONS = {
    'env_call_printer': "module_startswith='{lib}'",
    'env_query_repr_limit': "Q(module_startswith='{lib}', kind_in=['call', 'return']), action=CallPrinter(repr_limit=40)",
    'env_focus_code_printer': "Q(module_startswith='{lib}', function='{focus}') | Q(kind='exception', module_startswith='{lib}'), action=CodePrinter",
}


def env_value(program_name, configuration):
    program = PROGRAMS[program_name]
    return ENV_CONFIGURATIONS[configuration].format(lib=program.lib, focus=program.focus)
