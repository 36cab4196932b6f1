"""Helpers for behavioural tests: collect real hunter Events from a traced call.

Events are built by the tracer under test (never constructed by hand), so the same tests run against
hunter 3.9.0's Cython Event (which takes an int kind) as well as against ours.
"""

import hunter


def keep_values(value):
    return value


def record_events(func, *args, predicate=None, detach=True, **tracer_options):
    """Call ``func(*args)`` under a fresh Tracer; return ``(result, events)``.

    Only events from ``func``'s source file are kept unless ``predicate`` says otherwise; that hides hunter's
    own frames (its pure build traces them) and the caller's frame (C tracers see its line events).
    Events are detached with their values kept, so they outlive their frames; ``detach=False`` keeps the
    live events instead (only valid while nothing reads lazy attributes after the frames are gone).
    """
    if predicate is None:
        predicate = hunter.Query(filename=func.__code__.co_filename)
    events = []

    def record(event):
        events.append(event.detach(keep_values) if detach else event)

    tracer = hunter.Tracer(**tracer_options)
    tracer.trace(hunter.When(predicate, record))
    try:
        result = func(*args)
    finally:
        tracer.stop()
    return result, events


def first(events, **attributes):
    """The first event whose attributes equal ``attributes``."""
    for event in events:
        if all(getattr(event, name) == value for name, value in attributes.items()):
            return event
    raise LookupError(f'no event with {attributes}')


def normalise_module_name(text):
    """hunter 3.9.0's Cython predicates say ``<hunter._predicates.X``; treat that as ``<hunter.predicates.X``."""
    return text.replace('<hunter._predicates.', '<hunter.predicates.')
