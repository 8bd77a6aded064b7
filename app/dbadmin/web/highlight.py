"""Revision files as syntax-highlighted HTML (Pygments), with CSS classes
only: the page's Content-Security-Policy has no room for inline styles to
grow into, and the colours live in one stylesheet,
app/static/css/pygments.css, generated from the same formatter:

    .venv/bin/python -m app.dbadmin.web.highlight > app/static/css/pygments.css
"""

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

CSS_CLASS = "highlight"
_FORMATTER = HtmlFormatter(cssclass=CSS_CLASS, wrapcode=True)
_LEXER = PythonLexer()


def python_html(source: str) -> Markup:
    """`source` as a highlighted <div class="highlight"><pre>; Pygments
    escapes every character of it."""
    return Markup(highlight(source, _LEXER, _FORMATTER))


def stylesheet() -> str:
    """The CSS of the highlighting's classes (what pygments.css holds)."""
    return _FORMATTER.get_style_defs(f".{CSS_CLASS}") + "\n"


if __name__ == "__main__":
    print(stylesheet(), end="")
