"""pyparsing parses and evaluates arithmetic with a recursive grammar of combinators, parse actions (closures) and
backtracking on ParseException; one malformed expression is rejected; numbers are searched for in two texts (a for
loop inside pyparsing over its scan_string generator)."""

import operator

import pyparsing as pp

LIBRARY = 'pyparsing'
_OPERATORS = {'+': operator.add, '-': operator.sub, '*': operator.mul}


def _fold(tokens):
    result = tokens[0]
    for position in range(1, len(tokens), 2):
        result = _OPERATORS[tokens[position]](result, tokens[position + 1])
    return result


def _grammar():
    expression = pp.Forward()
    number = pp.Word(pp.nums).set_parse_action(lambda tokens: int(tokens[0]))
    operand = number | pp.Suppress('(') + expression + pp.Suppress(')')
    term = (operand + pp.ZeroOrMore(pp.Literal('*') + operand)).set_parse_action(_fold)
    expression <<= (term + pp.ZeroOrMore(pp.one_of('+ -') + term)).set_parse_action(_fold)
    return expression


_GRAMMAR = _grammar()
_NUMBER = pp.Word(pp.nums)


def run():
    results = [_GRAMMAR.parse_string('2*(3+4)-5', parse_all=True)[0]]
    try:
        _GRAMMAR.parse_string('1+*', parse_all=True)
    except pp.ParseException as error:
        results.append(f'rejected at column {error.column}')
    for text in ('a1b22', 'c333'):
        results.append([tokens[0] for tokens in _NUMBER.search_string(text)])
    return repr(results)
