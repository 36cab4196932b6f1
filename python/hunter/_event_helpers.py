"""Cold-path helpers of the native Event: source lookup and function-object discovery.

Called at most once per code object (source lines) or per printed event, never to reject an event.
"""
import linecache
import os
import re
import tokenize

from .util import LEADING_WHITESPACE_RE

_EXTENSION_SUFFIX = re.compile(r'([.].+)?[.](so|pyd)$', re.IGNORECASE)


def extension_source(filename):
    """Map a compiled extension to its sibling .pyx/.py source, when there is one."""
    base = _EXTENSION_SUFFIX.sub('', filename)
    for suffix in ('.pyx', '.py'):
        candidate = base + suffix
        if os.path.exists(candidate):
            return candidate
    return filename


def source_lines(filename, module_globals):
    """The source lines of a file, as linecache knows them.

    Frozen stdlib modules on 3.11+ (``<frozen posixpath>``) have no loader source; their real file is in
    ``__file__`` (hunter 3.9.0 reported ``??? NO SOURCE`` for them, upstream issue #125).
    """
    lines = linecache.getlines(filename, module_globals)
    if not lines and filename.startswith('<frozen ') and isinstance(module_globals, dict):
        real_file = module_globals.get('__file__')
        if isinstance(real_file, str) and os.path.exists(real_file):
            lines = linecache.getlines(real_file)
    return lines


def line_source(lines, lineno):
    if 1 <= lineno <= len(lines):
        return lines[lineno - 1]
    return ''


def definition_source(lines, lineno):
    """The lines from ``lineno`` up to the one holding ``def``/``class``/``lambda`` (decorators included),
    with their original indentation; a single line when no definition starts within 10 lines."""
    window = lines[lineno - 1:lineno + 9]
    if not window:
        return ''
    # Spaces and tabs only, as hunter measures it (a form feed ends the indentation).
    leading = LEADING_WHITESPACE_RE.match(window[0])
    indent = leading.group(1) if leading else ''
    block = []
    for line in window:
        if not line.startswith(indent):
            break
        block.append(line)
    dedented = iter([line[len(indent):] for line in block])
    try:
        for token in tokenize.generate_tokens(lambda: next(dedented, '')):
            if token.type == tokenize.NAME and token.string in ('def', 'class', 'lambda'):
                return ''.join(block[:token.end[0]])
    except tokenize.TokenError:
        # Only an unfinished statement is passed over, as in hunter: another error (an IndentationError of ragged
        # lines inside brackets) is the event's `??? NO SOURCE` text.
        pass
    return line_source(lines, lineno)


def function_object(namespace, local_variables, code):
    """The function object running ``code``, or None, found as hunter finds it (MonkeyType's lookup) in the event's
    globals (``namespace``) and locals: the global of the code's name, else the attribute of that name of the first
    argument (``self`` or ``cls``), else of a class among the globals; each the function itself or a decorator wrapping
    it (``__wrapped__``)."""
    from .util import get_func_in_mro
    from .util import if_same_code

    function = if_same_code(namespace.get(code.co_name, None), code)
    if function is None and code.co_argcount >= 1:
        function = get_func_in_mro(local_variables.get(code.co_varnames[0]), code)
    if function is None:
        for value in namespace.values():
            if isinstance(value, type):
                function = get_func_in_mro(value, code)
                if function is not None:
                    break
    return function
