"""The handover documents as text: facts in, Markdown and HTML out; pure, no I/O but reading the
templates shipped with the package (``orchestrator/phases/templates``).

    render_handover(HandoverFacts) -> str        Markdown, the canonical, diffable form
    render_access(AccessFacts)     -> str        one customer user's access details (Markdown)
    to_html(markdown, title, footer) -> str      the same as a printable HTML page

Templates are Jinja2 with ``StrictUndefined``: a fact the template names and the facts lack is an
``UndefinedError``, never an empty line. Text from the spec goes through the ``md`` filter (its
Markdown characters escaped, so a name cannot make a table, a link or an image) and technical
values through ``code`` (a code span). HTML comes from markdown-it-py with raw HTML and images
off: the page a PDF printer reads refers to nothing outside itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2
from markdown_it import MarkdownIt

from orchestrator.phases.handover_facts import ContactLine, HandoverFacts, HostLine, UserAccess

TEMPLATES: Final = Path(__file__).parent / "templates"
#: What could make Markdown of text: emphasis, code, links and images, raw HTML, table cells.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>|])")


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What one user's access document says (``run_id`` and ``generated`` stamp it)."""

    delivery: str
    title: str
    customer: str
    user: UserAccess
    hosts: tuple[HostLine, ...]  # the hosts the user reaches, for their fingerprints
    contact: ContactLine
    run_id: str
    generated: str


def md(value: object) -> str:
    """``value`` as Markdown text: its Markdown characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def code(value: object) -> str:
    """``value`` as a Markdown code span (a ``|`` escaped, for tables)."""
    text = str(value).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def environment() -> jinja2.Environment:
    """The templates, strict: Markdown ones plain, the HTML page autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["code"] = code
    return env


def render(template: str, **context: object) -> str:
    """Template ``template`` with ``context``; ``jinja2.UndefinedError`` for a missing fact."""
    text = environment().get_template(template).render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def render_handover(facts: HandoverFacts) -> str:
    """The handover document in Markdown."""
    return render("handover.md.j2", facts=facts)


def render_access(access: AccessFacts) -> str:
    """One user's access details in Markdown."""
    return render("access.md.j2", access=access)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def to_html(markdown: str, title: str, footer: str) -> str:
    """``markdown`` as a standalone, printable HTML page (A4, page numbers, ``footer``)."""
    body = _parser().render(markdown)
    return render("page.html.j2", title=title, footer=_css_string(footer), body=body)


def _css_string(text: str) -> str:
    """``text`` safe inside a CSS string in double quotes."""
    return re.sub(r'["\\\n<>]', " ", text)


def sha256(text: str) -> str:
    """The hex SHA-256 of ``text`` (UTF-8): how a document is named in NetBox and the outputs."""
    return hashlib.sha256(text.encode()).hexdigest()
