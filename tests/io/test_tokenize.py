"""Tokenizers for raw text (``--tokenize``): the rules of each scheme, as examples.

Each table is one rule of :mod:`align_cli.io.tokenize` (the module docstring states them);
the properties at the end hold for any text: words are in order, do not overlap, are
substrings of the text at their offsets, cover every character that is not a separator
exactly once, contain no whitespace except inside a markup tag, and come out the same
every time.
"""

from __future__ import annotations

import dataclasses
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from align_cli.errors import XalignError
from align_cli.io.tokenize import (
    SEPARATORS,
    TOKENIZERS,
    WHITESPACE,
    Token,
    explain,
    get_tokenizer,
    tokenize,
)


def words(text: str, scheme: str = "unicode") -> list[str]:
    return [token.text for token in tokenize(text, scheme)]


def check_table(cases: list[tuple[str, list[str]]]) -> None:
    """Every example at once, so that a failure lists all the rows that differ."""
    wrong = [(text, words(text), expected) for text, expected in cases]
    wrong = [row for row in wrong if row[1] != row[2]]
    assert not wrong, "\n".join(f"{t!r}: got {g} expected {e}" for t, g, e in wrong)


# --------------------------------------------------------------------------- registry


def test_the_registry_names_both_schemes_and_tokenize_uses_it():
    assert set(TOKENIZERS) == {"whitespace", "unicode"}
    for name, tokenizer in TOKENIZERS.items():
        assert tokenizer.name == name and tokenizer.summary
        assert get_tokenizer(name) is tokenizer
    assert tokenize("a b", "whitespace") == [Token("a", 0, 1), Token("b", 2, 3)]


def test_an_unknown_scheme_is_a_user_error_naming_the_choices():
    with pytest.raises(XalignError, match=r"unknown tokenizer 'spaces'.*unicode, whitespace"):
        tokenize("a b", "spaces")


def test_tokens_are_frozen_and_spans_give_the_offsets_alone():
    token = tokenize("Hi!", "unicode")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.start = 1  # type: ignore[misc]
    assert TOKENIZERS["unicode"].spans("Hi, you") == [(0, 2), (2, 3), (4, 7)]


def test_offsets_are_code_points_in_the_original_string():
    text = 'Click <b>Save</b>, then "OK". — 東京 👍🏽!'
    tokens = tokenize(text, "unicode")
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("Click", 0, 5),
        ("<b>", 6, 9),
        ("Save", 9, 13),
        ("</b>", 13, 17),
        (",", 17, 18),
        ("then", 19, 23),
        ('"', 24, 25),
        ("OK", 25, 27),
        ('"', 27, 28),
        (".", 28, 29),
        ("—", 30, 31),
        ("東", 32, 33),
        ("京", 33, 34),
        ("👍🏽", 35, 37),  # two code points: the emoji and its skin tone
        ("!", 37, 38),
    ]
    assert all(text[t.start : t.end] == t.text for t in tokens)


# --------------------------------------------------------------------------- whitespace


def test_whitespace_is_str_split_on_unusual_whitespace():
    text = "a\x85b\u2028c\u3000d\x1ce\x1ff\xa0g\u200bh \tl'homme, 東京"
    assert words(text, "whitespace") == text.split()
    assert words(text, "whitespace") == ["a", "b", "c", "d", "e", "f", "g\u200bh", "l'homme,",
                                         "東京"]  # fmt: skip


def test_the_whitespace_constant_is_exactly_what_str_isspace_accepts():
    # Python's own definition, over every code point: if a new Python adds whitespace,
    # this fails and WHITESPACE must be extended.
    assert set(WHITESPACE) == {chr(i) for i in range(0x110000) if chr(i).isspace()}
    assert set(WHITESPACE) < set(SEPARATORS)


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(st.characters(), st.sampled_from(WHITESPACE + SEPARATORS))))
def test_whitespace_tokens_are_str_split_with_their_offsets(text):
    tokens = tokenize(text, "whitespace")
    assert [t.text for t in tokens] == text.split()
    assert all(text[t.start : t.end] == t.text for t in tokens)


# --------------------------------------------------------------------------- unicode rules


def test_separators_are_whitespace_and_invisible_format_characters():
    check_table(
        [
            ("a b\tc\nd\xa0e\u3000f\x85g\u2028h", ["a", "b", "c", "d", "e", "f", "g", "h"]),
            ("a\x1cb\x1fc", ["a", "b", "c"]),  # str.isspace() separators, as in str.split()
            ("ภาษา\u200bไทย", ["ภา", "ษา", "ไท", "ย"]),  # zero width space marks a boundary
            ("\ufeffHello", ["Hello"]),  # a stray byte-order mark
            ("\u200fשלום\u200f \u2067مرحبا\u2069", ["שלום", "مرحبا"]),  # bidi controls
            ("", []),
            (" \t\u200b ", []),
        ]
    )


def test_markup_tags_and_character_references_stay_whole():
    check_table(
        [
            ('Click <b>Save</b>, then "OK".', ["Click", "<b>", "Save", "</b>", ",", "then"]
             + ['"', "OK", '"', "."]),
            ('<ph id="1"/> and <x/>', ['<ph id="1"/>', "and", "<x/>"]),
            ('<x id="3" />', ['<x id="3" />']),
            ("<a href='https://x.org/?a=1&b=2' class=link>here</a>", [
                "<a href='https://x.org/?a=1&b=2' class=link>", "here", "</a>"]),
            ("<g id=\"1\">Sa</g>ve<br>", ['<g id="1">', "Sa", "</g>", "ve", "<br>"]),
            ("Sa<b>ve", ["Sa", "<b>", "ve"]),  # a tag always ends a word
            ("a < b, x<3, <<", ["a", "<", "b", ",", "x", "<", "3", ",", "<<"]),  # not tags
            ("Tom &amp; Jerry&#160;&#x263A;", ["Tom", "&amp;", "Jerry", "&#160;", "&#x263A;"]),
            ("AT&T", ["AT", "&", "T"]),
        ]
    )  # fmt: skip


def test_placeholders_stay_whole():
    check_table(
        [
            ("{1} of {0} files", ["{1}", "of", "{0}", "files"]),
            ("Hello {name}, {user.name}{}", ["Hello", "{name}", ",", "{user.name}", "{}"]),
            ("{0,number} {{count}} items", ["{0,number}", "{{count}}", "items"]),
            ("{{ count }}", ["{{", "count", "}}"]),  # no spaces inside a placeholder
            ("%s of %d (%1$s, %(name)s, %.2f, %@)", ["%s", "of", "%d", "(", "%1$s", ",",
                                                    "%(name)s", ",", "%.2f", ",", "%@", ")"]),
            ("50%d 100%s %discount 50 %", ["50", "%", "d", "100", "%", "s", "%", "discount",
                                           "50", "%"]),
        ]
    )  # fmt: skip


def test_urls_stay_whole_without_the_punctuation_that_ends_them():
    check_table(
        [
            ("See https://example.com/a/b?q=1&x=%20y#top.", ["See",
                "https://example.com/a/b?q=1&x=%20y#top", "."]),
            ("(see https://en.wikipedia.org/wiki/Mercury_(planet)).", ["(", "see",
                "https://en.wikipedia.org/wiki/Mercury_(planet)", ")", "."]),
            ("www.example.org, ftp://files.example.org/x.tar.gz!", ["www.example.org", ",",
                "ftp://files.example.org/x.tar.gz", "!"]),
            ("<https://x.org> 'http://x.org'", ["<", "https://x.org", ">", "'",
                "http://x.org", "'"]),
            ('href="http://x.org/a"', ["href", "=", '"', "http://x.org/a", '"']),
            ("mailto:jane@example.org?", ["mailto:jane@example.org", "?"]),
            ("https://de.wikipedia.org/wiki/Straße", ["https://de.wikipedia.org/wiki/Straße"]),
            ("请访问https://example.com。谢谢", ["请", "访", "问", "https://example.com", "。",
                "谢", "谢"]),
            ("https://x.org/{id}", ["https://x.org/", "{id}"]),
            ("example.com", ["example", ".", "com"]),  # no scheme and no www.: not a URL
        ]
    )  # fmt: skip


def test_email_addresses_stay_whole():
    check_table(
        [
            ("Write to jane.doe+cat@mail.example.co.uk.", ["Write", "to",
                "jane.doe+cat@mail.example.co.uk", "."]),
            ("<jane@x.org>, bob_1@x-y.de;", ["<", "jane@x.org", ">", ",", "bob_1@x-y.de", ";"]),
            ("josé@correo.es", ["josé@correo.es"]),
            ("@user and a@b", ["@", "user", "and", "a", "@", "b"]),  # not addresses
        ]
    )  # fmt: skip


def test_emoji_sequences_are_one_word_each():
    check_table(
        [
            ("👨‍👩‍👧‍👦 family", ["👨‍👩‍👧‍👦", "family"]),  # ZWJ sequence
            ("👍🏽👍", ["👍🏽", "👍"]),  # skin tone; two emoji are two words
            ("🇫🇷🇩🇪", ["🇫🇷", "🇩🇪"]),  # flags
            ("🏴󠁧󠁢󠁳󠁣󠁴󠁿!", ["🏴󠁧󠁢󠁳󠁣󠁴󠁿", "!"]),  # tag sequence flag
            ("1️⃣ #️⃣", ["1️⃣", "#️⃣"]),  # keycaps
            ("I ❤️ Paris", ["I", "❤️", "Paris"]),  # presentation selector
            ("hi👋🏻!", ["hi", "👋🏻", "!"]),
        ]
    )


def test_french_and_italian_elided_clitics_are_split_off():
    check_table(
        [
            ("l'homme qu'il a vu", ["l'", "homme", "qu'", "il", "a", "vu"]),
            ("L’Oréal jusqu’à lorsqu'elle", ["L’", "Oréal", "jusqu’", "à", "lorsqu'", "elle"]),
            ("d'aujourd'hui c'est-à-dire", ["d'", "aujourd'hui", "c'", "est-à-dire"]),
            ("J'AI QU'UN s'il n'y", ["J'", "AI", "QU'", "UN", "s'", "il", "n'", "y"]),
            ("dell'anno un'altra quest'anno c'è", ["dell'", "anno", "un'", "altra", "quest'",
                "anno", "c'", "è"]),
            ("l'1 l' homme", ["l'1", "l", "'", "homme"]),  # a letter must follow
        ]
    )  # fmt: skip


def test_other_apostrophes_and_hyphens_between_letters_stay_inside_the_word():
    check_table(
        [
            ("don't can't I'm O'Neill", ["don't", "can't", "I'm", "O'Neill"]),
            ("aujourd'hui rock'n'roll", ["aujourd'hui", "rock'n'roll"]),
            ("İstanbul'da п'ять", ["İstanbul'da", "п'ять"]),
            ("state-of-the-art peut-être", ["state-of-the-art", "peut-être"]),
            ("'quoted' the dogs' toys", ["'", "quoted", "'", "the", "dogs", "'", "toys"]),
            ("well--known a - b", ["well", "--", "known", "a", "-", "b"]),
        ]
    )


def test_german_compounds():
    check_table(
        [
            ("Donaudampfschifffahrtsgesellschaft", ["Donaudampfschifffahrtsgesellschaft"]),
            ("E-Mail-Adresse", ["E-Mail-Adresse"]),
            ("Haus- und Gartenarbeit", ["Haus-", "und", "Gartenarbeit"]),  # suspended hyphen
            ("Ein-/Ausgang, Vor-, Haupt-", ["Ein-", "/", "Ausgang", ",", "Vor-", ",", "Haupt-"]),
            ("Straße zum Ölmühlen-Café.", ["Straße", "zum", "Ölmühlen-Café", "."]),
            ("z.B. d.h. Dr. Müller", ["z.B.", "d.h.", "Dr", ".", "Müller"]),
        ]
    )


def test_abbreviations_of_single_letters_keep_their_dots():
    check_table(
        [
            ("e.g. i.e. U.S.A. U.S.A", ["e.g.", "i.e.", "U.S.A.", "U.S.A"]),
            ("etc. Mr. Smith", ["etc", ".", "Mr", ".", "Smith"]),
            ("J. Smith", ["J", ".", "Smith"]),
        ]
    )


def test_numbers_stay_whole():
    check_table(
        [
            ("1,000.50 1.000,50 1'000 3.14", ["1,000.50", "1.000,50", "1'000", "3.14"]),
            ("10:30 10:30:15 31/12/2024 2024-01-31", ["10:30", "10:30:15", "31/12/2024",
                "2024-01-31"]),
            ("-5 +33 −2.5 (-5) x=-1", ["-5", "+33", "−2.5", "(", "-5", ")", "x", "=", "-1"]),
            ("5-3 5 - 3 10-20", ["5-3", "5", "-", "3", "10-20"]),
            ("$1,000 €5 1.000,50 € 50% 50 %", ["$", "1,000", "€", "5", "1.000,50", "€",
                "50", "%", "50", "%"]),
            ("3.5mm mp3 21st 10h30 COVID-19", ["3.5mm", "mp3", "21st", "10h30", "COVID-19"]),
            ("in 2019, then 1. and 3.a", ["in", "2019", ",", "then", "1", ".", "and", "3",
                ".", "a"]),
            ("10 000 10\u202f000", ["10", "000", "10", "000"]),  # spaces always separate
            ("v1.2.3 ٣٫١٤ ١٬٠٠٠ ๒๕๖๗ ၁၉၄၈", ["v1.2.3", "٣٫١٤", "١٬٠٠٠", "๒๕๖๗",
                "၁၉၄၈"]),
        ]
    )  # fmt: skip


def test_punctuation_is_split_off_and_runs_of_one_mark_stay_together():
    check_table(
        [
            ("Wait... what?! No!!", ["Wait", "...", "what", "?", "!", "No", "!!"]),
            ("«Bonjour», dit-il — «ça va ?»", ["«", "Bonjour", "»", ",", "dit-il", "—", "«",
                "ça", "va", "?", "»"]),
            ("“Quoted” (paren) [br] **bold**", ["“", "Quoted", "”", "(", "paren", ")", "[",
                "br", "]", "**", "bold", "**"]),
            ("and/or a+b=c C++", ["and", "/", "or", "a", "+", "b", "=", "c", "C", "++"]),
            ("snake_case __init__", ["snake_case", "__init__"]),
            ("col·lecció ό,τι", ["col·lecció", "ό", ",", "τι"]),
        ]
    )  # fmt: skip


def test_combining_marks_stay_with_their_base():
    check_table(
        [
            ("cafe\u0301 nai\u0308ve", ["cafe\u0301", "nai\u0308ve"]),  # decomposed, kept as is
            ("!\u0301 a \u0301", ["!\u0301", "a", "\u0301"]),  # after a separator: alone
            ("Z\u0351\u0337\u0354a\u0310\u0322lgo", ["Z\u0351\u0337\u0354a\u0310\u0322lgo"]),
        ]
    )


def test_chinese_is_one_character_per_word():
    check_table(
        [
            ("我爱北京天安门。", ["我", "爱", "北", "京", "天", "安", "门", "。"]),
            ("2024年3月，GDP增长3.5%。", ["2024", "年", "3", "月", "，", "GDP", "增", "长", "3.5",
                "%", "。"]),
            ("「你好」、《书》", ["「", "你", "好", "」", "、", "《", "书", "》"]),
            ("葛\U000e0100", ["葛\U000e0100"]),  # an ideographic variation selector stays
            ("ㄅㄆㄇ ꀀꀁ", ["ㄅ", "ㄆ", "ㄇ", "ꀀ", "ꀁ"]),  # Bopomofo, Yi
        ]
    )  # fmt: skip


def test_japanese_splits_kanji_and_runs_of_hiragana_and_of_katakana():
    check_table(
        [
            ("東京タワーへ行きました。", ["東", "京", "タワー", "へ", "行", "きました", "。"]),
            ("Pythonで3回プログラミングした", ["Python", "で", "3", "回", "プログラミング",
                "した"]),
            ("人々がｶﾞｲﾄﾞを読む", ["人々", "が", "ｶﾞｲﾄﾞ", "を", "読", "む"]),
            ("ジョン・スミスさん", ["ジョン", "・", "スミス", "さん"]),
            ("すごーい！！ラーメン", ["すごーい", "！！", "ラーメン"]),
            ("か\u3099", ["か\u3099"]),  # a combining voiced sound mark stays
        ]
    )  # fmt: skip


def test_korean_words_are_as_written():
    check_table(
        [
            ("서울에서 밥을 먹었어요.", ["서울에서", "밥을", "먹었어요", "."]),
            ("韓國語와 한국어", ["韓", "國", "語", "와", "한국어"]),
        ]
    )


def test_thai_and_lao_are_cut_into_character_clusters():
    check_table(
        [
            ("ภาษาไทย", ["ภา", "ษา", "ไท", "ย"]),  # leading vowel with the consonant after
            ("ประเทศไทย", ["ป", "ระ", "เท", "ศ", "ไท", "ย"]),
            ("ไม่ใช่ เป็น น้ำ", ["ไม่", "ใช่", "เป็", "น", "น้ำ"]),  # tone marks stay
            ("เด็กๆ ฯลฯ", ["เด็", "ก", "ๆ", "ฯ", "ล", "ฯ"]),
            ("ภาษาลาว ພາສາລາວ ໄປ", ["ภา", "ษา", "ลา", "ว", "ພາ", "ສາ", "ລາ", "ວ", "ໄປ"]),
            ("ราคา 100 บาท", ["รา", "คา", "100", "บา", "ท"]),
        ]
    )


def test_khmer_is_cut_into_clusters_and_myanmar_into_syllables():
    check_table(
        [
            ("ខ្មែរ", ["ខ្មែ", "រ"]),  # the subscript consonant (coeng + ម) stays
            ("ភាសាខ្មែរ។", ["ភា", "សា", "ខ្មែ", "រ", "។"]),
            ("មនុស្ស", ["ម", "នុ", "ស្ស"]),
            ("မြန်မာ", ["မြန်", "မာ"]),  # န + asat ends the first syllable
            ("မြန်မာစာ။", ["မြန်", "မာ", "စာ", "။"]),
            ("သင်္ချိုင်း", ["သင်္ချိုင်း"]),  # kinzi: င်္ stacks the next consonant
            ("ကျွန်တော်", ["ကျွန်", "တော်"]),
        ]
    )


def test_arabic_and_hebrew_keep_their_marks_and_prefixes():
    check_table(
        [
            ("وَالكِتَابُ، في المدرسة؟", ["وَالكِتَابُ", "،", "في", "المدرسة", "؟"]),
            ("می‌خواهم بروم", ["می‌خواهم", "بروم"]),  # ZWNJ stays inside the word
            ("וּבַבַּיִת שָׁלוֹם!", ["וּבַבַּיִת", "שָׁלוֹם", "!"]),
            ('צה"ל צה״ל ג׳ורג׳ בית־ספר "שלום"', ['צה"ל', "צה״ל", "ג׳ורג׳", "בית־ספר", '"',
                "שלום", '"']),
            ("عام ١٩٤٨م", ["عام", "١٩٤٨م"]),
        ]
    )  # fmt: skip


def test_the_examples_of_the_module_docstring():
    check_table(
        [
            ("L'homme qu'il a vu aujourd'hui coûte 1 000,50 € (-5 %)...", ["L'", "homme",
                "qu'", "il", "a", "vu", "aujourd'hui", "coûte", "1", "000,50", "€", "(", "-5",
                "%", ")", "..."]),
            ("Mail jane@x.org or see https://x.org/a_(b)! {0} files, 10:30am.", ["Mail",
                "jane@x.org", "or", "see", "https://x.org/a_(b)", "!", "{0}", "files", ",",
                "10:30am", "."]),
        ]
    )  # fmt: skip


def test_explain_names_the_rule_of_each_word():
    assert [rule for _, rule in explain("l'homme <b>1,5</b> 東京 ภาษา")] == [
        *("elision", "word", "tag", "word", "tag", "han", "han", "thai", "thai"),
    ]


# --------------------------------------------------------------------------- properties

TAG = re.compile(r"<[^<]*>")

# Characters and snippets that exercise the rules: separators of every kind, joiners,
# quotes, marks, no-space scripts, emoji parts, and the starts of tags, URLs and e-mails.
SPECIAL = list(
    SEPARATORS
    + "<>/=\"'’-‐.,:;!?@{}%&#()[]*+−_·״׳־$€"
    + "\u0301\u0308\u200c\u200d\u00ad\u2060\u180e\ufe0f\u20e3\u0600"
    + "東京かなカナーｰﾞ々ภาษไทเ่ะำ\u0e31ລາໄខ្មែរ\u17d2မြန်\u1039\u103a\u1037ᨠ"
    + "אבג\u05b0وَ٫٣1️👍🏽🇫🇷\U000e0067"
)
SNIPPETS = [
    '<ph id="1"/>', "<b>", "</b>", "<x/>", "<a b='c d'>", "<a\n>", "&amp;", "{1}", "%1$s",
    "http://", "https://x.org/(a)", "www.", "a@b.co", "l'", "qu'", "dell'", "e.g.", "1,000.50",
    "-5", "10:30", "Haus-", "👨‍👩‍👧", "🇫🇷",
]  # fmt: skip
ANY_TEXT = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),  # surrogates too
        st.sampled_from(SPECIAL),
        st.sampled_from(SNIPPETS),
        st.sampled_from("ab1 "),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_unicode_words_tile_the_text_outside_the_separators(text):
    tokens = tokenize(text, "unicode")
    covered = [False] * len(text)
    end = 0
    for token in tokens:
        assert end <= token.start < token.end  # in order, not overlapping, not empty
        assert text[token.start : token.end] == token.text
        end = token.end
        covered[token.start : token.end] = [True] * (token.end - token.start)
        if any(c in SEPARATORS for c in token.text):  # only a tag holds a separator
            assert TAG.fullmatch(token.text), token
    # Every character that is not a separator is in exactly one word (words do not overlap).
    assert all(covered[i] for i, c in enumerate(text) if c not in SEPARATORS)
    assert tokenize(text, "unicode") == tokens  # deterministic


def test_pathological_inputs_take_linear_time():
    n = 6_000
    cases = [
        "ab." * n, "a+b" * n, '<a b="' * n, "http://x" + "(" * n, "{a" * n, "%" + "1" * n,
        "-" * n, "a'" * n, "a@" * n, "<a " + "b " * n, "ภาษาไทย" * n, "a" + "\u0301" * n,
    ]  # fmt: skip
    started = time.perf_counter()
    for text in cases:
        tokenize(text, "unicode")
    # Under a second on a slow shared core; a rule that rescans the rest of the text at
    # each word (as e-mail addresses once did on "ab.ab.ab...") takes half a minute.
    assert time.perf_counter() - started < 10
