"""Exercises stdlib code, including modules that are ``<frozen ...>`` on Python 3.11+."""
import codecs
import collections.abc
import os
import textwrap


def main():
    path = os.path.join('base', 'sub', 'leaf.txt')
    parts = os.path.split(path)
    decoder = codecs.getincrementaldecoder('utf-8')()
    text = decoder.decode(b'caf\xc3') + decoder.decode(b'\xa9', final=True)
    encoded = b''.join(codecs.iterencode(['ab', 'cd'], 'utf-8'))
    is_mapping = isinstance({}, collections.abc.Mapping)
    dedented = textwrap.dedent('''
        indented
          more
    ''')
    return path, parts, text, encoded, is_mapping, dedented
