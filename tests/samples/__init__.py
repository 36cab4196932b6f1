"""Deterministic sample programs traced by the differential engine tests.

Every module exposes ``main()``; running it twice in one process produces the same
events both times (caches are warmed by a first, untraced run), and nothing in it
depends on timing, hash seeds or object addresses except through reprs that the
comparison normalises. The exception is ``samples.threads``: which thread runs first
right after ``Thread.start()`` is up to the OS, so it is compared per thread.
"""

SINGLE_THREADED_SAMPLES = (
    'samples.decorators',
    'samples.generators',
    'samples.coroutines',
    'samples.classes',
    'samples.exceptions',
    'samples.closures',
    'samples.stdlib_use',
    'samples.statements',
)
THREADED_SAMPLE = 'samples.threads'
SAMPLE_MODULES = (*SINGLE_THREADED_SAMPLES, THREADED_SAMPLE)
