"""Python-Markdown renders a small fixed document (block and inline processors, tree processors, extensions)."""

import markdown

LIBRARY = 'markdown'
DOCUMENT = """\
# Notes on *tracing*

Some **strong** text, a [link](https://example.com).

> quoted

| a | b |
|---|---|
| 1 | 2 |
"""
_renderer = markdown.Markdown(extensions=['tables'])


def run():
    _renderer.reset()
    return _renderer.convert(DOCUMENT)
