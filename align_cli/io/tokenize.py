"""Splitting raw text into words, with each word's character offsets (``--tokenize``).

A tokenizer turns a string into :class:`Token` objects: the word's text and its
``[start, end)`` offsets in the *original* string, counted in code points (Python ``str``
indices), so that ``token.text == text[token.start:token.end]`` always holds and alignment
links map back onto the raw text. Nothing is normalised, lower-cased or dropped from
inside a word: a decomposed ``é`` (``e`` + U+0301) stays one word with its mark, and
offsets are those of the string as given.

Two schemes are registered in :data:`TOKENIZERS` (``tokenize(text, scheme)``):

``whitespace`` (:data:`DEFAULT_SCHEME`, the default of ``--tokenize``)
    Exactly ``str.split()``: a word is a maximal run of characters that are not
    whitespace in Python's sense (``str.isspace()``: spaces, tabs, U+0085, U+00A0, U+2028,
    U+3000, the separators ``\\x1c``-``\\x1f``, ...). Use it for pre-tokenised corpora and
    gold alignment sets, and for text segmented by a better tool than the one below.

``unicode``
    A Unicode-aware word splitter for raw text (CAT-tool segments, web text). It needs no
    dictionary and no model, knows no language, and is the same for every language.

The ``unicode`` scheme
======================

**Separators.** Words never contain whitespace (``str.isspace()``, as above) nor these
invisible format characters, which also separate words and belong to no word: ZERO WIDTH
SPACE U+200B (Thai, Khmer, Lao and Myanmar texts use it to mark word boundaries), the
byte-order mark U+FEFF, and the bidirectional marks and controls (U+200E, U+200F, U+061C,
U+202A-U+202E, U+2066-U+2069). Every other character of the text is in exactly one word.
The only words that contain whitespace are markup tags with attributes (below).

Each position is matched against the rules below, in this order; the first rule that
matches gives the word.

1. **Markup tags** stay whole, attributes and the whitespace between them included:
   ``<b>``, ``</b>``, ``<br>``, ``<x/>``, ``<x id="3" />``, ``<ph id="1"/>``,
   ``<a href='x' class=y>``. A tag name starts with a letter or ``_``; ``a < b``, ``<3``
   and ``<<`` are not tags. A tag always ends a word: ``Sa<b>ve`` is ``Sa`` ``<b>`` ``ve``.
   Character references stay whole too: ``&amp;`` ``&#160;`` ``&#x263A;``.
2. **Placeholders** stay whole: ``{1}``, ``{0}``, ``{}``, ``{name}``, ``{user.name}``,
   ``{0,number}``, ``{{count}}`` (no spaces inside), and printf-style ones not glued to a
   letter or digit: ``%s``, ``%d``, ``%1$s``, ``%(name)s``, ``%.2f``, ``%@``.
3. **URLs** stay whole: ``https://``, ``http://``, ``ftp://``, ``sftp://`` and ``file://``
   addresses, ``mailto:`` and ``www.`` ones. A URL ends at whitespace, at ``<``, ``>``,
   ``"``, ``{``, ``}``, at a non-ASCII character that is not a letter, mark or digit
   (``»``, ``。``, ``—``), and at Chinese, Japanese, Thai, Lao, Khmer or Myanmar text
   (write such addresses percent-encoded). A final ``.`` ``,`` ``;`` ``:`` ``!`` ``?``
   ``'`` ``*`` is not part of it, and brackets are part of it only when they are balanced
   inside it:
   ``(see https://en.wikipedia.org/wiki/Mercury_(planet)).`` is ``(`` ``see`` the URL
   ``)`` ``.``.
4. **E-mail addresses** stay whole: ``jane.doe+cat@mail.example.co.uk``.
5. **Emoji** sequences are one word each, whatever joins them: ZWJ sequences (``👨‍👩‍👧``),
   skin tones (``👍🏽``), flags (``🇫🇷``, ``🏴󠁧󠁢󠁳󠁣󠁴󠁿``), keycaps (``1️⃣``), presentation
   selectors (``❤️``). Two emoji in a row are two words.
6. **Elided clitics** of French, Italian and Catalan are split off after their
   apostrophe (``'`` or ``’``) when a letter follows: ``l'homme`` is ``l'`` ``homme``,
   ``qu'il`` is ``qu'`` ``il``, ``jusqu’à`` is ``jusqu’`` ``à``, ``dell'anno`` is
   ``dell'`` ``anno``, ``d'aujourd'hui`` is ``d'`` ``aujourd'hui``. The clitics (any
   case) are the single letters ``c d j l m n s t v`` and ``qu jusqu lorsqu puisqu
   quoiqu`` (French) and ``un all dall dell nell sull coll pell quell quest bell sant
   anch com dov cos tutt senz mezz`` (Italian). They are split because they are words of
   their own (``l'`` is the article, ``qu'`` the conjunction) that the other language
   writes as separate words. Every other apostrophe between letters stays inside the
   word: ``don't``, ``O'Neill``, ``aujourd'hui``, ``rock'n'roll``, ``İstanbul'da``,
   ``п'ять``. Known misfits: English ``c'mon`` and ``d'you`` are split like French.
7. **Abbreviations** made of single letters and dots stay whole: ``e.g.``, ``i.e.``,
   ``U.S.A.``, ``z.B.``. Other abbreviations lose their final dot (``Dr.`` is ``Dr``
   ``.``): telling them from the end of a sentence needs a list of each language's
   abbreviations.
8. **Words** are runs of letters, combining marks, digits and connectors (``_``) of the
   scripts written with spaces (Latin, Greek, Cyrillic, Arabic, Hebrew, Hangul,
   Devanagari, ...), with the soft hyphen, ZWJ, ZWNJ (Persian ``می‌خواهم`` is one word)
   and the word joiner inside them. Joined into one word are runs with, between them:

   - a hyphen (``-``, U+2010, U+2011, Hebrew maqaf U+05BE): ``state-of-the-art``,
     ``E-Mail-Adresse``, ``peut-être``, ``COVID-19``, ``10-20``, ``בית־ספר``;
   - an apostrophe (``'``, ``’``): ``don't``, ``1'000`` (see rule 6 for clitics);
   - ``.`` ``,`` ``:`` ``/`` and the Arabic separators U+066B, U+066C, between two digits:
     ``1,000.50``, ``1.000,50``, ``3.14``, ``10:30``, ``31/12/2024``, ``1.2.3``,
     ``٣٫١٤``;
   - a middle dot U+00B7 between letters: Catalan ``col·lecció``;
   - ``"``, ``״`` or ``׳`` between Hebrew letters: ``צה"ל``, ``צה״ל``, and a geresh
     after a Hebrew letter: ``ג׳``.

   A hyphen glued to the end of a word and followed by a space, ``,``, ``/`` or the end
   stays with it (German and Dutch suspended compounds): ``Haus- und Gartenarbeit`` is
   ``Haus-`` ``und`` ``Gartenarbeit``. Letters and digits are not split from each other:
   ``3.5mm``, ``mp3``, ``21st``, ``10h30``. German compounds stay whole
   (``Donaudampfschifffahrt``); so do Arabic and Hebrew words with their prefixes and
   vowel marks (``وَالكِتَابُ``, ``וּבַבַּיִת``): splitting those needs a dictionary.

   **Numbers** are words (digits of any script), so all of the joins above keep them
   whole. A ``-``, ``+`` or ``−`` (U+2212) right before a digit and not after a letter or
   digit is the number's sign: ``-5``, ``+33``, ``−2.5``; ``5-3`` is one word (a score, a
   range), ``5 - 3`` three. Whitespace always separates, so ``10 000`` (with any space,
   narrow no-break included) is two words. ``%``, currency signs and units written apart
   are words of their own: ``$1,000`` is ``$`` ``1,000``; ``50%`` is ``50`` ``%``; ``1.``
   is ``1`` ``.``.
9. **Scripts written without spaces** are cut without a dictionary:

   - Chinese characters (Han), Bopomofo and Yi: one character per word (``我爱北京`` is
     ``我`` ``爱`` ``北`` ``京``); an iteration mark stays with its character (``人々``).
   - Japanese kana: each run of hiragana and each run of katakana is one word, with its
     prolonged sound and voicing marks (``ラーメン``); kanji are one per word as above.
     ``東京タワーへ行きました。`` is ``東`` ``京`` ``タワー`` ``へ`` ``行`` ``きました``
     ``。``; Latin letters and digits among them are words as in rule 8
     (``Pythonで3回`` is ``Python`` ``で`` ``3`` ``回``).
   - Korean (Hangul) is written with spaces: words are as written (``서울에서``).
   - Thai and Lao: character clusters, the smallest units that never separate a vowel or
     tone mark from its consonant (a leading vowel such as ``เ`` or ``ໄ`` goes with the
     consonant after it, ``ะ`` ``า`` ``ำ`` with the one before): ``ภาษาไทย`` is ``ภา``
     ``ษา`` ``ไท`` ``ย``. A cluster is often smaller than a syllable.
   - Khmer: orthographic clusters, a consonant or independent vowel with its subscript
     consonants (coeng U+17D2 + consonant), vowels and signs: ``ខ្មែរ`` is ``ខ្មែ`` ``រ``.
   - Myanmar: syllables (a consonant starts a new syllable unless it is stacked under
     another, after U+1039, or killed by asat U+103A): ``မြန်မာ`` is ``မြန်`` ``မာ``.
   - Tai Tham, Tai Le, New Tai Lue, Tai Viet, Balinese, Javanese and Buginese: grapheme
     clusters (a character with its combining marks).

   These units are smaller than words, so each word of the other language is linked to
   several of them. For word-level alignment of these languages, segment the text with a
   dictionary-based tool first (ICU's word break iterator, e.g. through PyICU; PyThaiNLP
   for Thai, LaoNLP for Lao, khmer-nltk for Khmer; jieba or pkuseg for Chinese; MeCab or
   Sudachi for Japanese), join the words with spaces and use ``--tokenize whitespace``.
10. **Everything else** (punctuation, symbols, other characters) is one word per
    character, except that a run of the *same* character is one word: ``...``, ``!!``,
    ``--``, ``**``, ``。。``; ``?!`` is ``?`` ``!``, and ``C++`` is ``C`` ``++``. A
    combining mark stays with the character before it; one after a separator is a word
    of its own.

Examples::

    Click <b>Save</b>, then "OK".
    -> Click | <b> | Save | </b> | , | then | " | OK | " | .
    L'homme qu'il a vu aujourd'hui coûte 1 000,50 € (-5 %)...
    -> L' | homme | qu' | il | a | vu | aujourd'hui | coûte | 1 | 000,50 | € | ( | -5 | % | ) | ...
    Mail jane@x.org or see https://x.org/a_(b)! {0} files, 10:30am.
    -> Mail | jane@x.org | or | see | https://x.org/a_(b) | ! | {0} | files | , | 10:30am | .

Using it
========

``tokenize(text, "unicode")`` returns the :class:`Token` list; ``TOKENIZERS[name]`` is
the :class:`Tokenizer` itself, whose ``spans`` method is a word splitter for
:mod:`align_cli.tools.markup` (``split_tokens(text, TOKENIZERS["unicode"].spans)``), and
:func:`explain` names the rule behind each word of the ``unicode`` scheme. The module
needs the standard library and the ``regex`` package (Unicode scripts, set operations and
grapheme clusters), nothing else; the ``unicode`` pattern is compiled on first use. Which
characters are letters, emoji and so on comes from the Unicode tables of the installed
``regex``, so a character encoded in a newer Unicode version than those tables (a new
emoji, a new ideograph) may be split differently after an upgrade.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex

from align_cli.errors import XalignError

__all__ = [
    "DEFAULT_SCHEME",
    "SEPARATORS",
    "TOKENIZERS",
    "Token",
    "Tokenizer",
    "WHITESPACE",
    "explain",
    "get_tokenizer",
    "tokenize",
]


@dataclass(frozen=True, slots=True)
class Token:
    """One word: its text and its ``[start, end)`` code-point offsets in the original."""

    text: str
    start: int
    end: int


Spans = Callable[[str], Iterable[tuple[int, int]]]


@dataclass(frozen=True)
class Tokenizer:
    """A named word splitter; call it on a string to get its :class:`Token` list."""

    name: str
    summary: str  # one line, for --help
    find_spans: Spans

    def __call__(self, text: str) -> list[Token]:
        return [Token(text[start:end], start, end) for start, end in self.find_spans(text)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The ``[start, end)`` offsets of the words, in order (a markup ``WordSplitter``)."""
        return list(self.find_spans(text))


# --------------------------------------------------------------------------- whitespace

# Python's re: \s in a str pattern is str.isspace(), the characters str.split() splits on.
_NON_SPACE = re.compile(r"\S+")


def _whitespace_spans(text: str) -> Iterable[tuple[int, int]]:
    return (match.span() for match in _NON_SPACE.finditer(text))


# --------------------------------------------------------------------------- unicode

WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
"""Every character for which ``str.isspace()`` is true (checked by the tests)."""

INVISIBLE_SEPARATORS = (
    "\u200b\ufeff"  # zero width space, byte-order mark
    "\u200e\u200f\u061c"  # left-to-right, right-to-left, Arabic letter marks
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # bidi isolates
)
"""Format characters that separate words in the ``unicode`` scheme and belong to none."""

SEPARATORS = WHITESPACE + INVISIBLE_SEPARATORS
"""The characters that no word of the ``unicode`` scheme contains (tags aside)."""


def _chars(chars: str) -> str:
    """``chars`` escaped for use inside a character class."""
    return "".join(f"\\u{ord(c):04X}" for c in chars)


_SEP = f"[{_chars(SEPARATORS)}]"
_NOT_SEP = f"[^{_chars(SEPARATORS)}]"

# Letters of the scripts written without spaces; their digits count as digits.
_HAN = r"[\p{sc=Han}\p{sc=Bopomofo}\p{sc=Yi}]"
_KANA_EXT = r"[\u30FC\uFF70\u309B\u309C\uFF9E\uFF9F]"  # ー ｰ ゛ ゜ ﾞ ﾟ
_GRAPHEME_SCRIPTS = (
    r"[\p{sc=Tai_Tham}\p{sc=Tai_Le}\p{sc=New_Tai_Lue}\p{sc=Tai_Viet}"
    r"\p{sc=Balinese}\p{sc=Javanese}\p{sc=Buginese}]"
)
_NO_SPACE = (
    rf"[[{_HAN}\p{{sc=Hiragana}}\p{{sc=Katakana}}{_KANA_EXT}\p{{sc=Thai}}\p{{sc=Lao}}"
    rf"\p{{sc=Khmer}}\p{{sc=Myanmar}}{_GRAPHEME_SCRIPTS}]--\p{{Nd}}]"
)

# A word character: letters, marks, digits, connectors, and the invisible joiners that
# belong inside words (soft hyphen, ZWNJ, ZWJ, word joiner, Mongolian vowel separator).
_WC = rf"[[\p{{L}}\p{{M}}\p{{N}}\p{{Pc}}\u00AD\u200C\u200D\u2060\u180E]--{_NO_SPACE}]"
_ALNUM = rf"[[\p{{L}}\p{{M}}\p{{N}}]--{_NO_SPACE}]"
_LETTER = rf"[\p{{L}}--{_NO_SPACE}]"

_NAME = r"[\p{L}_][\p{L}\p{N}_:.\-]*"
_ATTRIBUTE = rf"""{_NAME}(?:\s*=\s*(?:"[^"<]*"|'[^'<]*'|[^\s"'<>=`]+))?"""
_TAG = rf"<(?:{_NAME}(?:\s+{_ATTRIBUTE})*\s*/?|/{_NAME}\s*)>"
_ENTITY = r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|\#[0-9]{1,7}|\#[xX][0-9A-Fa-f]{1,6});"

_BRACES = r"\{\{[\p{L}\p{N}_.:,\-]+\}\}|\{[\p{L}\p{N}_.:,\-]*\}"
_PRINTF = (
    r"(?<![\p{L}\p{N}])%(?:[0-9]+\$|\([\p{L}\p{N}_]+\))?[\-+\#0]*[0-9]*(?:\.[0-9]+)?"
    r"(?:hh|h|ll|l|L|z|j|t)?[diouxXeEfFgGaAcsp@](?![\p{L}\p{N}])"
)

_URL_CHAR = rf"""(?:[[\u0021-\u007E]--["<>\\^`{{|}}()\[\]]]|{_ALNUM})"""
_URL_BODY = rf"(?:{_URL_CHAR}|\({_URL_CHAR}*\)|\[{_URL_CHAR}*\])+(?<![.,;:!?'*])"
_URL = (
    rf"(?:(?i:https?|s?ftp|file)://|(?i:mailto):|(?<!{_WC})(?i:www)\.(?={_ALNUM}))"
    rf"{_URL_BODY}"
)

_LABEL = rf"{_ALNUM}(?:[{_ALNUM}\-]*{_ALNUM})?"
# The cheap look-ahead (a local part is at most 64 characters) keeps a long run of
# "a.b.c..." or "a+b+c..." linear: without it each word would rescan the rest of the run.
_EMAIL = rf"(?=[^\s@<>]{{1,64}}@)[{_ALNUM}_%+\-]+(?:\.[{_ALNUM}_%+\-]+)*@{_LABEL}(?:\.{_LABEL})+"

_EMOJI = (
    r"[\#*0-9]\uFE0F?\u20E3"
    r"|(?=[\p{Extended_Pictographic}\p{Regional_Indicator}])\X"
)

# Elided clitics split off before a word (rule 6), matched in any case.
_FRENCH_CLITICS = (*("jusqu", "lorsqu", "puisqu", "quoiqu", "qu"), *"cdjlmnst")
_ITALIAN_CLITICS = (
    *("un", "all", "dall", "dell", "nell", "sull", "coll", "pell", "quell", "quest", "bell"),
    *("sant", "anch", "com", "dov", "cos", "tutt", "senz", "mezz", "v"),
)  # and c d l m n s t, as in French
_CLITICS = sorted({*_FRENCH_CLITICS, *_ITALIAN_CLITICS})
_ELISION = rf"(?<!{_WC})(?i:{'|'.join(_CLITICS)})['\u2019](?={_LETTER})"

_ABBREVIATION = rf"{_LETTER}\p{{M}}*(?:\.{_LETTER}\p{{M}}*)+(?:\.|(?!{_WC}))"

_HYPHEN = r"[\-\u2010\u2011\u05BE]"
_JOIN = (
    rf"{_HYPHEN}"
    r"|['\u2019]"
    r"|(?<=\p{Nd})[.,:/\u066B\u066C](?=\p{Nd})"
    r"|(?<=\p{L})\u00B7(?=\p{L})"
    r"|(?<=\p{sc=Hebrew}\p{M}*)[\"\u05F3\u05F4](?=\p{sc=Hebrew})"
)
_WORD_END = (
    rf"(?<=\p{{L}}\p{{M}}*){_HYPHEN}(?={_SEP}|[,/]|\Z)"
    r"|(?<=\p{sc=Hebrew}\p{M}*)\u05F3"
)
_WORD = rf"{_WC}++(?:(?:{_JOIN}){_WC}++)*+(?:{_WORD_END})?"
_SIGNED_NUMBER = rf"(?<!{_WC})[\-+\u2212](?=\p{{Nd}}){_WORD}"

_MARKS = r"[\p{M}\u200C\u200D]*"
_HAN_WORD = rf"{_HAN}{_MARKS}(?:[\u3005\u303B]{_MARKS})*"
_HIRAGANA = r"\p{sc=Hiragana}(?:\p{sc=Hiragana}|\p{M}|[\u30FC\uFF70\u309B\u309C])*"
_KATAKANA = rf"\p{{sc=Katakana}}(?:\p{{sc=Katakana}}|\p{{M}}|{_KANA_EXT})*"
_THAI = r"[\u0E40-\u0E44]?[\u0E01-\u0E2E](?:\p{M}|[\u0E30\u0E32\u0E33\u0E45])*"
_LAO = (
    r"[\u0EC0-\u0EC4]?[\u0E81-\u0EAE\u0EDC-\u0EDF]"
    r"(?:\p{M}|[\u0EB0\u0EB2\u0EB3\u0EBD])*"
)
_KHMER = r"[\u1780-\u17B3](?:\u17D2[\u1780-\u17A2]|\p{M}|[\u200C\u200D])*"
_MYANMAR_BASE = r"[\p{sc=Myanmar}&&\p{L}]"
_MYANMAR = (
    rf"{_MYANMAR_BASE}(?:\p{{M}}|[\u200C\u200D]|(?<=\u1039){_MYANMAR_BASE}"
    rf"|{_MYANMAR_BASE}(?=[\u1036\u1037]*[\u103A\u1039]))*"
)
_GRAPHEME = rf"{_GRAPHEME_SCRIPTS}{_MARKS}"
_OTHER = rf"(?P<char>{_NOT_SEP})\p{{M}}*(?:(?P=char)\p{{M}}*)*"

_RULES = (
    ("tag", f"{_TAG}|{_ENTITY}"),
    ("placeholder", f"{_BRACES}|{_PRINTF}"),
    ("url", _URL),
    ("email", _EMAIL),
    ("emoji", _EMOJI),
    ("elision", _ELISION),
    ("abbreviation", _ABBREVIATION),
    ("number", _SIGNED_NUMBER),
    ("word", _WORD),
    ("han", _HAN_WORD),
    ("hiragana", _HIRAGANA),
    ("katakana", _KATAKANA),
    ("thai", _THAI),
    ("lao", _LAO),
    ("khmer", _KHMER),
    ("myanmar", _MYANMAR),
    ("grapheme", _GRAPHEME),
    ("other", _OTHER),
)


@functools.cache
def _unicode_pattern() -> regex.Pattern[str]:
    # Compiled on first use (about 50 ms), so that importing the module costs nothing.
    alternatives = "|".join(f"(?P<{name}>{pattern})" for name, pattern in _RULES)
    return regex.compile(alternatives, regex.V1)


def _unicode_spans(text: str) -> Iterable[tuple[int, int]]:
    return (match.span() for match in _unicode_pattern().finditer(text))


def explain(text: str) -> list[tuple[Token, str]]:
    """Each word of the ``unicode`` scheme with the name of the rule that made it.

    For debugging and for the tests; the names are those of ``_RULES`` (``"tag"``,
    ``"url"``, ``"word"``, ``"han"``, ``"other"``, ...).
    """
    return [
        (Token(match.group(), match.start(), match.end()), match.lastgroup or "")
        for match in _unicode_pattern().finditer(text)
    ]


# --------------------------------------------------------------------------- registry

TOKENIZERS: dict[str, Tokenizer] = {
    tokenizer.name: tokenizer
    for tokenizer in (
        Tokenizer(
            "whitespace",
            "split on whitespace only, as str.split() (pre-tokenised text)",
            _whitespace_spans,
        ),
        Tokenizer(
            "unicode",
            "raw text: punctuation split off; numbers, URLs, e-mails and tags kept whole; "
            "CJK, Thai, Lao, Khmer and Myanmar cut into characters, clusters or syllables",
            _unicode_spans,
        ),
    )
}
"""The tokenizers by name, for ``--tokenize``."""

DEFAULT_SCHEME = "whitespace"


def get_tokenizer(scheme: str) -> Tokenizer:
    """The tokenizer called ``scheme``; an unknown name is an :class:`XalignError`."""
    try:
        return TOKENIZERS[scheme]
    except KeyError:
        choices = ", ".join(sorted(TOKENIZERS))
        raise XalignError(f"unknown tokenizer {scheme!r}: choose one of {choices}") from None


def tokenize(text: str, scheme: str) -> list[Token]:
    """The words of ``text`` under ``scheme``, with their offsets in ``text``."""
    return get_tokenizer(scheme)(text)
