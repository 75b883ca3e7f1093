"""The site's words and abbreviations, from config/glossary.yaml, the one place they are spelled out.

The methods page lists every term. Every page spells out each abbreviation the first time it uses
it: `spell_out` turns the first use into "extra-familial harm (<abbr title="extra-familial
harm">EFH</abbr>)" and marks every later use with the same <abbr>, so no template repeats an
expansion. It reads a whole drawn page (dashboards/site.py) and leaves alone what a reader does
not read as prose: the head, scripts and styles, code (the rules as the engine runs them), a
glossary's own terms (<dt>), what is marked up already, and the page's name (<h1>: an LA's name,
or an indicator's title, which config/indicators.yaml writes without abbreviations)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

from markupsafe import escape

from assets.config import CONFIG_DIR, load_yaml

GLOSSARY = "glossary.yaml"
# Elements whose text is left as it is (see the module's docstring).
LEFT_ALONE = ("head", "script", "style", "code", "pre", "abbr", "dfn", "dt", "textarea", "h1")
# Opening tags after which a word begins a sentence (its expansion then takes a capital).
STARTS_TEXT = {"p", "li", "td", "th", "dd", "caption", "figcaption", "summary", "h1", "h2", "h3", "h4", "h5",
               "h6", "div", "main", "label", "legend", "blockquote"}
INLINE = {"a", "strong", "em", "b", "i", "span"}  # an opening tag that may start a sentence's first word


@dataclass(frozen=True)
class Term:
    term: str
    stands_for: str = ""  # an abbreviation's words, as they read inside a sentence; "" for a word
    plural: str = ""  # the plural of stands_for where it is not stands_for + s
    means: str = ""

    @property
    def many(self) -> str:
        return self.plural or self.stands_for + "s"

    def described(self) -> str:
        """What the methods page says of the term: its expansion, then what it means."""
        if not self.stands_for:
            return self.means
        words = capital(self.stands_for)
        return f"{words}: {self.means}" if self.means else f"{words}."


def one_line(text) -> str:
    return " ".join(str(text or "").split())


def capital(words: str) -> str:
    """Words with their first letter a capital, the rest as written (names keep theirs)."""
    return words[:1].upper() + words[1:]


@cache
def glossary() -> dict:
    return load_yaml(GLOSSARY)


@cache
def terms() -> tuple[Term, ...]:
    """Every term, in alphabetical order whatever the case."""
    found = []
    for term, spec in glossary()["terms"].items():
        if isinstance(spec, dict):
            found.append(Term(str(term), one_line(spec.get("stands_for")), one_line(spec.get("plural")),
                              one_line(spec.get("means"))))
        else:
            found.append(Term(str(term), means=one_line(spec)))
    return tuple(sorted(found, key=lambda t: t.term.casefold()))


@cache
def abbreviations() -> dict[str, Term]:
    """The terms that stand for other words, by abbreviation."""
    return {t.term: t for t in terms() if t.stands_for}


def quarter_note() -> str:
    """What a quarter is: said on every page that shows quarters, near where one first appears."""
    return one_line(glossary()["quarters"])


def years_note() -> str:
    """What a year of statutory returns and DfE tables is."""
    return one_line(glossary()["years"])


@cache
def glossary_digest() -> str:
    """A hash of the glossary: a change to it draws every page again."""
    return hashlib.sha256((CONFIG_DIR / GLOSSARY).read_bytes()).hexdigest()


@cache
def _pattern() -> re.Pattern:
    """One scan of a page: an element left alone (whole), any other tag, or an abbreviation (with
    a plural s) standing as a word of its own."""
    names = "|".join(re.escape(a) for a in sorted(abbreviations(), key=len, reverse=True)) or "(?!)"
    left_alone = "|".join(LEFT_ALONE)
    return re.compile(rf"<(?P<skip>{left_alone})\b[^>]*>.*?</(?P=skip)\s*>|<[^>]*>"
                      rf"|(?<![\w])(?P<article>[Aa]n? )?(?P<word>{names})(?P<plural>s)?(?![\w])", re.S)


def starts_sentence(html: str, start: int) -> bool:
    """Whether the word at `start` begins a sentence: after an opening tag of a block of text (a
    link or emphasis at its start too), or after a full stop."""
    before = html[max(0, start - 300):start].rstrip()
    while before.endswith(">"):
        name = re.match(r"[a-zA-Z0-9]+", before[before.rfind("<") + 1:])
        if not name or name.group(0).lower() not in INLINE:
            return bool(name) and name.group(0).lower() in STARTS_TEXT
        before = before[:before.rfind("<")].rstrip()
    return not before or before[-1] in ".!?"


def spell_out(html: str) -> str:
    """The page with each abbreviation of the glossary spelled out at its first use and marked up
    with its expansion (<abbr title>) everywhere. A first use already written out in full before
    it ("statistical process control (SPC)") is only marked up; an article before a first use
    is made to suit the expansion ("an SPC chart": "a statistical process control (SPC) chart")."""
    known, seen = abbreviations(), set()

    def mark(match: re.Match) -> str:
        if not match.group("word"):
            return match.group(0)
        term, article = known[match.group("word")], match.group("article") or ""
        word = match.group("word") + (match.group("plural") or "")
        words = term.many if match.group("plural") else term.stands_for
        marked = f'<abbr title="{escape(words)}">{escape(word)}</abbr>'
        if term.term in seen:
            return article + marked
        seen.add(term.term)
        start, end = match.start("word"), match.end()
        written = html[max(0, start - len(words) - 2):start].casefold() == f"{words} (".casefold()
        if written and html[end:end + 1] == ")":
            return article + marked
        if html[start - 1:start] == "(" and html[end:end + 1] == ")" and not article:
            return f"{escape(words)}, {marked}"  # "(RSM)": "(Relational Safeguarding Model, RSM)"
        if article:
            article = article[0] + ("n " if words[0].lower() in "aeiou" else " ")
        elif starts_sentence(html, start):
            words = capital(words)
        return f"{article}{escape(words)} ({marked})"

    return _pattern().sub(mark, html)
