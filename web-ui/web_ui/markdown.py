"""Markdown for text the app does not control: model replies and user messages.

A reply can carry whatever a prompt injection made the model write, and it is rendered again
each time its conversation opens, so the rules are strict:

- no raw HTML: without rehype-raw, react-markdown shows HTML in the text as plain text (the
  user sees `<img src=x>` written out; no element is created);
- links keep only relative, http(s), mailto, irc and xmpp URLs (anything else, `javascript:`
  included, loses its href and stays plain text) and open in a new tab with
  `rel="noopener noreferrer"`;
- images are never loaded: an image becomes its description, "[image: alt text]";
- GitHub-flavoured Markdown (tables, strikethrough, task lists) stays; math and KaTeX are off.

The Content-Security-Policy (`security_headers.py`) is the second line: no inline script, and
images only from the app's own origin.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import Var, VarData
from reflex_components_core.el.elements.inline import A
from reflex_components_markdown.markdown import Markdown, Plugin

# react-markdown's own import, so that the URL check below is the one the library maintains.
_REACT_MARKDOWN = Markdown.library

# react-markdown's default check keeps relative URLs and http(s), mailto, irc(s) and xmpp ones
# and empties any other (javascript:, data:, vbscript:, ...). An emptied URL and every image
# source become `undefined`: the element then has no href or src at all, so a refused link is
# plain text and no image request ever leaves the browser.
_URL_TRANSFORM = Var(
    _js_expr=(
        "((url, key, node) => (node.tagName === 'img' ? undefined"
        " : defaultUrlTransform(url) || undefined))"
    ),
    _var_data=VarData(imports={_REACT_MARKDOWN: [rx.ImportVar(tag="defaultUrlTransform")]}),
)


class SafeMarkdown(Markdown):
    """react-markdown with its URL check (`urlTransform`) exposed."""

    url_transform: Var[Any]


def _link(text: Any, **_props: Any) -> rx.Component:
    # A plain anchor (rx.el.a is React Router's Link, made for the app's own routes).
    # react-markdown's props (href, title) are spread over these; Markdown cannot set rel or
    # target, so they stay.
    return A.create(
        text,
        target="_blank",
        rel="noopener noreferrer",
        class_name="md-link",
    )


def _image(*_children: Any, **_props: Any) -> rx.Component:
    return rx.el.span(
        "[image: ",
        Var(_js_expr="(props.alt || 'no description')", _var_type=str),
        "]",
        class_name="md-image",
    )


COMPONENT_MAP = {"a": _link, "img": _image}


def safe_markdown(text: Var[str] | str, **props: Any) -> rx.Component:
    """Markdown without raw HTML, scripts' URLs or remote images (see the module's notes)."""
    return rx.box(
        SafeMarkdown.create(
            text,
            component_map=COMPONENT_MAP,
            remark_plugins=[Plugin.gfm],
            rehype_plugins=[],
            url_transform=_URL_TRANSFORM,
        ),
        **props,
    )
