"""The READMEs' references resolve: anchors to headings, paths to files.

A section lost in an edit (as the README's "Results" once was) leaves its
anchors dangling; a moved figure or result leaves its path dangling.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ('README.md', 'results/README.md')
# [text](target) and ![alt](target); the target ends at whitespace or ')'.
_LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
# `folder/…` in backticks, without placeholders such as <name> or wildcards.
_CODE_PATH = re.compile(r'`([\w.-]+/[^`\s<>*…]*)`')


def _outside_code(text):
  """The lines of a markdown text outside fenced code blocks."""
  lines, fenced = [], False
  for line in text.splitlines():
    if line.lstrip().startswith('```'):
      fenced = not fenced
    elif not fenced:
      lines.append(line)
  return lines


def _slug(heading):
  """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
  text = heading.strip().lower()
  text = re.sub(r'[^\w\- ]', '', text)
  return text.replace(' ', '-')


def test_slug_follows_github():
  # GitHub's anchors for these headings, as its renderer writes them.
  assert _slug('Main job: the quick start') == 'main-job-the-quick-start'
  assert _slug('Relation to `optax.add_decayed_weights` and `optax.adamw`') == (
    'relation-to-optaxadd_decayed_weights-and-optaxadamw'
  )
  assert _slug('GPU runs, 50 trials (`gpu/`)') == 'gpu-runs-50-trials-gpu'


def test_readme_links_resolve():
  doc = 'README.md'
  path = ROOT / doc
  lines = _outside_code(path.read_text(encoding='utf-8'))
  anchors = {_slug(line.lstrip('#')) for line in lines if re.match(r'#{1,6} ', line)}
  links = [m.group(1) for line in lines for m in _LINK.finditer(line)]
  assert links, f'{doc}: no links found; the link pattern no longer matches'
  dangling = []
  for target in links:
    if re.match(r'[a-z]+://', target):
      continue  # external: not checked offline
    file_part, _, anchor = target.partition('#')
    if file_part:
      if not (path.parent / file_part).exists():
        dangling.append(target)
    elif anchor not in anchors:
      dangling.append(target)
  assert not dangling, f'{doc}: links that resolve to nothing: {dangling}'


@pytest.mark.parametrize('doc', DOCS)
def test_named_paths_exist(doc):
  """`results/table2_theta/…png` and the like name files that exist."""
  path = ROOT / doc
  folders = {p.name for d in (ROOT, path.parent) for p in d.iterdir() if p.is_dir()}
  named = [
    m.group(1)
    for m in _CODE_PATH.finditer(path.read_text(encoding='utf-8'))
    if m.group(1).split('/')[0] in folders
  ]
  assert len(named) >= 3, f'{doc}: {named}: the path pattern no longer matches'
  missing = [n for n in named if not ((ROOT / n).exists() or (path.parent / n).exists())]
  assert not missing, f'{doc}: named paths that do not exist: {missing}'
