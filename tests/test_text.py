"""User strings through a real CommonMark renderer: each name comes back as its own characters."""

from __future__ import annotations

import html

import pytest
from markdown_it import MarkdownIt

from spd_assets.core.text import html_text, md_code, md_escape

NAMES = [
    "<img src=x onerror=alert(1)>",
    "**bold**",
    "_under_ and `code` and [link](http://x)",
    "# not a heading",
    "- not a list",
    "+ nor this",
    "1. not numbered",
    "12) nor this",
    "a | b | c",
    "&amp; stays &amp;",
    "back\\slash \\* star",
    "~~struck~~ $x$",
    "first line\n# second line",
    "SKU-0004 · us-east",
]
RENDER = MarkdownIt("commonmark")  # raw HTML on, as permissive as Markdown gets


def _paragraph(markdown: str) -> str:
    out = RENDER.render(markdown)
    assert out.startswith("<p>") and out.endswith("</p>\n"), out  # one paragraph, no heading or list
    return out[3:-5]


@pytest.mark.parametrize("name", NAMES)
def test_md_escape_renders_as_the_text_itself(name):
    inner = _paragraph(md_escape(name))
    assert "<" not in inner.replace("<br />", "")  # no tag of the name's own
    assert html.unescape(inner) == name


@pytest.mark.parametrize("name", [":red[alarm]", ":material/bolt:", "a:b"])
def test_md_escape_breaks_streamlit_directives(name):
    assert ":" not in md_escape(name).replace("\\:", "")


def test_md_escape_leaves_plain_names_alone():
    assert md_escape("us-east 2025-06-01") == "us-east 2025-06-01"


@pytest.mark.parametrize("path", ["/data/landing", "dir with `ticks`", "``double``", "`edge`"])
def test_md_code_shows_a_path_in_one_code_span(path):
    inner = _paragraph(md_code(path))
    assert inner.startswith("<code>") and inner.endswith("</code>") and inner.count("<code>") == 1
    assert html.unescape(inner[6:-7]) == path


@pytest.mark.parametrize("name", NAMES)
def test_html_text_has_no_tag_and_decodes_to_the_name(name):
    out = html_text(name)
    assert "<" not in out and ">" not in out
    assert html.unescape(out) == name
