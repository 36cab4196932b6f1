"""The native core's modules depend on each other in one direction only: an event flows hook -> engine -> predicates
-> actions -> stream, and each file uses only the files below it. This reads the `crate::` and `super::` paths of
every file under src/ and checks that the graph has no cycle, apart from the one the predicates are made of: the
composite predicates (And, Or, Not, When, From, Backlog) hold any predicate and evaluate it through
`predicates::evaluate`, which dispatches to every predicate class (nesting is recursive by nature)."""

import collections
import pathlib
import re

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / 'src'

#: The one recursive family allowed (see the module's doc).
PREDICATE_FAMILY = frozenset({
    'predicates',
    'predicates::backlog',
    'predicates::from',
    'predicates::logic',
    'predicates::when',
})

if not SRC.is_dir():
    pytest.skip('the Rust sources are not next to the tests (an installed package)', allow_module_level=True)


def module_name(path):
    parts = list(path.relative_to(SRC).with_suffix('').parts)
    if parts[-1] == 'mod':
        parts.pop()
    return '::'.join(parts)


def without_unit_tests(text):
    """A file's code without its `#[cfg(test)] mod tests` (tests may use anything)."""
    return re.split(r'#\[cfg\(test\)\]\s*mod tests\b', text, maxsplit=1)[0]


def used_paths(text):
    """Every path named after `crate::`, `super::` or `self::`, or starting with a child module declared here
    (`mod x;` ... `x::...`), with the brace groups of `use` declarations expanded."""
    text = re.sub(r'//[^\n]*', '', text)
    children = re.findall(r'^\s*(?:pub(?:\([a-z]+\))? )?mod ([a-z_]+);', text, flags=re.M)
    for child in children:
        text = re.sub(rf'(?<![\w:]){child}::', f'self::{child}::', text)
    paths = []
    for prefix, rest in re.findall(r'\b(crate|super|self)::((?:[A-Za-z_][A-Za-z0-9_]*::)*(?:\{[^;]*?\}|[A-Za-z_]\w*))', text):
        stem, _, group = rest.partition('{')
        if group:
            paths.extend(f'{prefix}::{stem}{item.strip()}' for item in re.split(r'[,{}]', group) if item.strip())
        else:
            paths.append(f'{prefix}::{rest}')
    return paths


def dependency_graph():
    files = {module_name(path): path for path in SRC.rglob('*.rs') if path.name not in {'lib.rs', 'build.rs'}}
    graph = collections.defaultdict(set)
    for module, path in files.items():
        parent = module.rpartition('::')[0]
        for used in used_paths(without_unit_tests(path.read_text())):
            prefix, _, rest = used.partition('::')
            own = module if prefix == 'self' else parent
            base = rest.split('::') if prefix == 'crate' else [*filter(None, own.split('::')), *rest.split('::')]
            # The longest prefix that is a file (an item of a file belongs to that file).
            target = next(
                ('::'.join(base[:end]) for end in range(len(base), 0, -1) if '::'.join(base[:end]) in files),
                parent if prefix == 'super' and parent in files else None,
            )
            if target and target != module and not module.startswith(target + '::'):
                graph[module].add(target)
            elif target and module.startswith(target + '::') and prefix == 'super':
                graph[module].add(target)
    return files, graph


def cycles(graph, nodes):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read():
    files, graph = dependency_graph()
    # Spot checks that the parser sees real edges, so that "no cycle" means something.
    assert 'hook' in graph['engine'] and 'engine' in graph['settrace'] and 'engine' in graph['monitoring']
    assert {'settrace', 'monitoring', 'engine'} <= graph['tracer']
    assert 'predicates' in graph['predicates::logic'] or 'predicates' in graph['predicates::backlog']
    assert len(files) > 20


def test_no_cycle_outside_the_predicate_family():
    files, graph = dependency_graph()
    outside = {module: {target for target in targets if not (module in PREDICATE_FAMILY and target in PREDICATE_FAMILY)}
               for module, targets in graph.items()}
    assert cycles(outside, files) == []


def test_the_predicate_family_is_the_only_cycle():
    files, graph = dependency_graph()
    assert all(component <= PREDICATE_FAMILY for component in cycles(graph, files))


@pytest.mark.parametrize(('lower', 'upper'), [
    ('hook', 'engine'), ('engine', 'settrace'), ('engine', 'monitoring'), ('settrace', 'tracer'),
    ('monitoring', 'tracer'), ('verdict', 'codeinfo'), ('failure', 'engine'), ('event', 'predicates'),
])
def test_dependencies_point_down(lower, upper):
    files, graph = dependency_graph()
    reachable, todo = set(), [lower]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in reachable:
                reachable.add(target)
                todo.append(target)
    assert upper not in reachable, f'{lower} reaches {upper}'


def test_lib_rs_lists_the_modules_in_dependency_order():
    """src/lib.rs's doc lists the top-level modules bottom-up: each may use only those listed before it."""
    listed = re.findall(r'^//! - `([a-z_]+)`:', (SRC / 'lib.rs').read_text(), flags=re.M)
    files, graph = dependency_graph()
    top_level = {module.split('::')[0] for module in files}
    assert sorted(listed) == sorted(top_level)
    position = {module: index for index, module in enumerate(listed)}
    upward = sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if module.split('::')[0] != target.split('::')[0]
        and position[target.split('::')[0]] > position[module.split('::')[0]]
    )
    assert upward == []


def test_every_test_file_is_in_the_feature_map():
    """tests/README.md maps each feature to its tests: a test file it does not name is one a reader cannot find."""
    tests = pathlib.Path(__file__).resolve().parent
    feature_map = (tests / 'README.md').read_text(encoding='utf-8')
    unnamed = sorted(path.name for path in tests.glob('test_*.py') if f'`{path.name}' not in feature_map)
    assert unnamed == []
