"""One code object run with the globals of several modules: a module's code exec'd into two namespaces (the functions
it makes share their code objects), and a function made from another's code with other globals. The events of the
module traced must not depend on what ran first with the other module's globals."""
import sys
import types

import hunter

SOURCE = 'def f(a):\n    b = a + 1\n    if b > 1:\n        b = 2\n    while b:\n        b -= 1\n    return b\n'


def helper(value):
    copy = value
    return copy


def exec_twice():
    code = compile(SOURCE, 'plugin_source.py', 'exec')
    plugin_a, plugin_b = {'__name__': 'plugin_a'}, {'__name__': 'plugin_b'}
    exec(code, plugin_a)
    exec(code, plugin_b)
    for _ in range(3):
        plugin_a['f'](1)
        plugin_b['f'](2)


def function_type():
    elsewhere = types.FunctionType(helper.__code__, {'__name__': 'elsewhere'}, 'helper')
    for _ in range(3):
        elsewhere(1)
        helper(2)


if __name__ == '__main__':
    action, scenario = sys.argv[1:]
    query = hunter.Q(module_in=['plugin_b', '__main__'], function_in=['f', 'helper'])
    if action == 'printer':
        hunter.trace(query, action=hunter.CallPrinter(stream=sys.stdout))
    else:
        hunter.trace(query, action=lambda event: print(event.kind, event.module, event.function, event.lineno))
    {'exec_twice': exec_twice, 'function_type': function_type}[scenario]()
    hunter.stop()
