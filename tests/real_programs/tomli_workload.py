"""tomli parses a small fixed TOML document (tables, arrays of tables, inline tables, strings, numbers, dates) and
rejects a malformed one."""

import tomli

LIBRARY = 'tomli'
DOCUMENT = '''\
title = "example"
born = 1979-05-27T07:32:00-08:00

[[servers]]
host = { ip = "10.0.0.1", ports = [80, 1.5] }
notes = """two
lines"""
'''


def run():
    results = [tomli.loads(DOCUMENT)]
    try:
        tomli.loads('key = [1')
    except tomli.TOMLDecodeError as error:
        results.append(str(error))
    return repr(results)
