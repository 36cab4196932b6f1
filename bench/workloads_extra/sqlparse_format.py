"""SQL pretty-printing with sqlparse (a pure-Python, non-validating SQL parser), as a query logger does it:
reformat a query (reindent, upper-case keywords, strip comments), and parse it again to walk the tree for
the table names.
"""

import sqlparse
from sqlparse.sql import Identifier, IdentifierList
from sqlparse.tokens import Keyword

DEFAULT_ITERS = 600

# One logged query per iteration: the harness stops a sample after one iteration when a tracer is slow
# enough, so an iteration must stay small (about a millisecond untraced).
QUERY = """-- count a visit
update customers set visits = visits + 1, last_seen = now() where id = 42;
"""


def table_names(statement):
    """Names of the identifiers that follow FROM, JOIN, INTO or UPDATE in a parsed statement."""
    names = []
    expecting_table = False
    for token in statement.tokens:
        if token.is_whitespace:
            continue
        if expecting_table and isinstance(token, Identifier):
            names.append(token.get_real_name())
        elif expecting_table and isinstance(token, IdentifierList):
            names.extend(identifier.get_real_name() for identifier in token.get_identifiers())
        expecting_table = token.ttype is Keyword and token.normalized.endswith(("FROM", "JOIN", "INTO", "UPDATE"))
    return names


def setup():
    return QUERY


def iteration(query):
    formatted = sqlparse.format(query, reindent=True, keyword_case="upper", strip_comments=True)
    tables = [name for statement in sqlparse.parse(query) for name in table_names(statement)]
    return len(formatted) + len(tables)
