"""User strings (SKU, region and file names, notes) made safe for Markdown and HTML.

One rule for the dashboard (st.markdown, captions, labels, plotly text) and the Dagster layer
(Markdown metadata previews): a name is shown as the characters it is, never as markup.
"""

from __future__ import annotations

import html
import re

# Characters that start Markdown, HTML or Streamlit directives (:red[..], :material/..:) mid-line.
_MARKUP = re.compile(r"([\\`*_{}\[\]<>|~$:&])")
# What starts a block at the beginning of a line: a heading, a list item, a setext underline.
_BLOCK = re.compile(r"^([ \t]*(?:\d+(?=[.)]))?)([#+=.)-])", re.MULTILINE)
_TICKS = re.compile(r"`+")


def md_escape(text: object) -> str:
    """``text`` shown literally by Markdown (st.markdown, captions, labels, a metadata preview)."""
    inline = _MARKUP.sub(r"\\\1", str(text))
    return _BLOCK.sub(r"\1\\\2", inline)


def md_code(text: object) -> str:
    """``text`` as an inline code span: fenced by more backticks than it holds, so none ends it early."""
    value = str(text)
    fence = "`" * (max((len(run) for run in _TICKS.findall(value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def html_text(text: object) -> str:
    """``text`` shown literally where HTML is rendered (plotly labels, hover text, legend names).

    Quotes stay: plotly decodes &lt; &gt; &amp; but shows other entities as typed.
    """
    return html.escape(str(text), quote=False)
