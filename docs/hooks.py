"""
MkDocs hooks of the documentation site.

- Files of the repository that the pages (and the README sections they include) link to are published at their
  repository paths (``bench/RESULTS.md`` ...), so the README's relative links work unchanged in the site.
- ``{{ readme_section("Heading") }}`` in a page is replaced by the body of that ``##`` section of README.md: the
  README stays the one copy of that text. A heading that is gone fails the build.
"""

import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

REPOSITORY = Path(__file__).resolve().parent.parent
PUBLISHED_PATTERNS = ('bench/*.md', 'bench/*.json', 'bench/*.png', 'tests/hunter_suite/exclusions.txt')
SECTION_INCLUDE = re.compile(r'\{\{\s*readme_section\("([^"]+)"\)\s*\}\}')


def on_files(files, config):
    for pattern in PUBLISHED_PATTERNS:
        for path in sorted(REPOSITORY.glob(pattern)):
            relative = path.relative_to(REPOSITORY).as_posix()
            files.append(File.generated(config, relative, abs_src_path=str(path)))
    return files


def readme_section(heading):
    """The lines under ``## heading`` of README.md, up to the next ``##`` heading (its ``###`` subsections included)."""
    lines = (REPOSITORY / 'README.md').read_text(encoding='utf-8').splitlines()
    try:
        start = lines.index(f'## {heading}') + 1
    except ValueError:
        raise PluginError(f'README.md has no section "## {heading}" (included by the docs)') from None
    end = next((index for index in range(start, len(lines)) if lines[index].startswith('## ')), len(lines))
    return '\n'.join(lines[start:end]).strip('\n')


def on_page_markdown(markdown, page, config, files):
    return SECTION_INCLUDE.sub(lambda match: readme_section(match.group(1)), markdown)
