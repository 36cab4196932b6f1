"""Cold-path helpers of the native Event: source lookup and function-object discovery.

Called at most once per code object (source lines) or per printed event, never to reject an event.
"""
import linecache
import os
import re
import tokenize

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
    indent = window[0][:len(window[0]) - len(window[0].lstrip())]
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
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return line_source(lines, lineno)


def function_object(frame, code):
    """The function object running ``code`` in ``frame``, or None (MonkeyType-style lookup)."""
    import inspect

    def unwraps_to_code(candidate):
        seen = 0
        while candidate is not None and seen < 100:
            if getattr(candidate, '__code__', None) is code:
                return True
            candidate = getattr(candidate, '__wrapped__', None)
            seen += 1
        return False

    name = code.co_name
    candidate = frame.f_globals.get(name)
    if unwraps_to_code(candidate):
        return candidate
    owners = []
    if code.co_argcount >= 1:
        first = frame.f_locals.get(code.co_varnames[0])
        if first is not None:
            owners.append(first)
    owners.extend(value for value in frame.f_globals.values() if isinstance(value, type))
    for owner in owners:
        try:
            attribute = inspect.getattr_static(owner, name)
        except AttributeError:
            continue
        if isinstance(attribute, (classmethod, staticmethod)):
            attribute = attribute.__func__
        elif isinstance(attribute, property):
            attribute = attribute.fget
        if unwraps_to_code(attribute):
            return attribute
    return None
