"""A small synthetic language pair whose word alignments are known by construction.

The source language ("Sel") is SVO with adjectives before the noun, articles and
prepositions; the target language ("Tahu") is verb-final with adjectives after the noun,
postpositions, no articles, and a subject particle. Every sentence is built as a tree of
*units* (one lexical choice each: a noun, a verb, an adverb, ...). A unit is rendered as
one or more words on each side, and the gold alignment links every source word of a unit
to every target word of the same unit. Words that belong to no unit on the other side
are unaligned.

What the construction guarantees, so that an aligner can be tested on each case:

* reordering: adjective-noun swap (``A N`` -> ``N A``), verb-final clauses
  (``S V O`` -> ``S O V``), prepositions become postpositions, clause-final adverbs
  become clause-initial, negation moves after the verb;
* one-to-many: "light verbs" -- one source verb becomes two target words, a verb-specific
  word plus the shared light verb (like Japanese ``benkyou suru``);
* many-to-one: phrasal verbs -- a source verb plus particle (``V PRT``) become one target verb;
* unaligned source words: the articles;
* unaligned target words: the subject particle after every full-noun subject;
* multi-piece words: compound nouns glued from two stems on both sides, plus some long
  4-5 syllable words, which a small SentencePiece vocabulary splits into several pieces.

The lexicon is a fixed random bijection between word forms drawn from two different
syllable inventories, so the mapping is learnable but gives no spelling cue.
Everything is deterministic given the seeds.

CLI::

    python scripts/synthetic_language.py --count 300 --seed 1 \\
        --pairs out.src-tgt --gold out.gold

writes ``src ||| tgt`` lines and Pharaoh gold (0-based ``i-j``, source first, all sure);
``--exclude-pairs heldout.src-tgt`` leaves out the source sentences of a held-out set.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MIN_SENTENCE_WORDS = 3
MAX_SENTENCE_WORDS = 20

# Two phonologies that share only some letters, so that source and target words look like
# different languages and a model cannot align by copying spelling.
SOURCE_ONSETS = ["p", "t", "k", "b", "d", "g", "m", "n", "l", "r", "s", "v", "f"]
SOURCE_VOWELS = ["a", "e", "i", "o", "u"]
SOURCE_CODAS = ["n", "r", "l", "s"]
TARGET_ONSETS = ["h", "k", "m", "n", "r", "s", "t", "w", "y", "z", "sh", "ch"]
TARGET_VOWELS = ["a", "i", "u", "e", "o", "ai"]
TARGET_CODAS = ["n"]


@dataclass(frozen=True)
class Phonology:
    onsets: list[str]
    vowels: list[str]
    codas: list[str]
    coda_probability: float

    def word(self, rng: random.Random, syllables: int) -> str:
        parts = []
        for _ in range(syllables):
            parts.append(rng.choice(self.onsets) + rng.choice(self.vowels))
            if rng.random() < self.coda_probability:
                parts.append(rng.choice(self.codas))
        return "".join(parts)


SOURCE_PHONOLOGY = Phonology(SOURCE_ONSETS, SOURCE_VOWELS, SOURCE_CODAS, 0.2)
TARGET_PHONOLOGY = Phonology(TARGET_ONSETS, TARGET_VOWELS, TARGET_CODAS, 0.15)


@dataclass
class Lexicon:
    """All word forms of the pair. Pairs are ``(source, target)``."""

    nouns: list[tuple[str, str]]
    # Compound nouns are built on the fly from a first stem and a second stem on each side.
    compound_first_stems: list[tuple[str, str]]
    compound_second_stems: list[tuple[str, str]]
    adjectives: list[tuple[str, str]]
    transitive_verbs: list[tuple[str, str]]
    intransitive_verbs: list[tuple[str, str]]
    # One source verb -> (verb-specific target word, shared light verb).
    light_verbs: list[tuple[str, str]]
    light_verb_target: str
    # (source verb, source particle) -> one target verb.
    phrasal_verbs: list[tuple[tuple[str, str], str]]
    adverbs: list[tuple[str, str]]
    prepositions: list[tuple[str, str]]
    pronouns: list[tuple[str, str]]
    conjunctions: list[tuple[str, str]]
    negation: tuple[str, str]
    source_articles: list[str]
    target_subject_particle: str

    def source_vocabulary(self) -> set[str]:
        words = {s for s, _ in self._one_to_one_pairs()}
        words |= {s for s, _ in self.light_verbs}
        words |= {w for (verb, particle), _ in self.phrasal_verbs for w in (verb, particle)}
        words |= {
            a + b for a, _ in self.compound_first_stems for b, _ in self.compound_second_stems
        }
        words |= set(self.source_articles)
        return words

    def target_vocabulary(self) -> set[str]:
        words = {t for _, t in self._one_to_one_pairs()}
        words |= {t for _, t in self.light_verbs} | {self.light_verb_target}
        words |= {t for _, t in self.phrasal_verbs}
        words |= {
            a + b for _, a in self.compound_first_stems for _, b in self.compound_second_stems
        }
        words.add(self.target_subject_particle)
        return words

    def _one_to_one_pairs(self) -> list[tuple[str, str]]:
        return [
            *self.nouns,
            *self.adjectives,
            *self.transitive_verbs,
            *self.intransitive_verbs,
            *self.adverbs,
            *self.prepositions,
            *self.pronouns,
            *self.conjunctions,
            self.negation,
        ]


class _FormPool:
    """Draws word forms of one language that never repeat and never equal a compound."""

    def __init__(self, phonology: Phonology, rng: random.Random) -> None:
        self.phonology = phonology
        self.rng = rng
        self.used: set[str] = set()

    def draw(self, min_syllables: int, max_syllables: int) -> str:
        while True:
            form = self.phonology.word(self.rng, self.rng.randint(min_syllables, max_syllables))
            if form not in self.used:
                self.used.add(form)
                return form


def build_lexicon(seed: int = 0) -> Lexicon:
    """Draw a lexicon: a few hundred word types per side, deterministic given ``seed``."""
    rng = random.Random(f"lexicon-{seed}")
    source = _FormPool(SOURCE_PHONOLOGY, rng)
    target = _FormPool(TARGET_PHONOLOGY, rng)

    def pairs(count: int, syllables: tuple[int, int], target_syllables: tuple[int, int]):
        return [(source.draw(*syllables), target.draw(*target_syllables)) for _ in range(count)]

    # Function words first so they get the short forms.
    articles = [source.draw(1, 1) for _ in range(2)]
    subject_particle = target.draw(1, 1)
    light_verb_target = target.draw(1, 2)
    negation = (source.draw(1, 1), target.draw(1, 1))
    conjunctions = pairs(3, (1, 1), (1, 1))
    prepositions = pairs(8, (1, 2), (1, 2))
    pronouns = pairs(6, (1, 2), (1, 2))
    particles = [source.draw(1, 1) for _ in range(4)]

    # Content words: most 2-3 syllables, a tail of long 4-5 syllable words.
    nouns = pairs(90, (2, 3), (2, 3)) + pairs(20, (4, 5), (4, 5))
    adjectives = pairs(36, (2, 3), (2, 3)) + pairs(6, (4, 5), (4, 5))
    transitive_verbs = pairs(36, (2, 3), (2, 3)) + pairs(6, (4, 5), (4, 5))
    intransitive_verbs = pairs(16, (2, 3), (2, 3))
    light_verbs = pairs(14, (2, 3), (2, 3))
    adverbs = pairs(16, (2, 4), (2, 4))
    phrasal_verbs = [
        ((source.draw(2, 3), particles[index % len(particles)]), target.draw(3, 4))
        for index in range(14)
    ]
    compound_first_stems = pairs(8, (2, 2), (2, 2))
    compound_second_stems = pairs(8, (2, 3), (2, 3))

    lexicon = Lexicon(
        nouns=nouns,
        compound_first_stems=compound_first_stems,
        compound_second_stems=compound_second_stems,
        adjectives=adjectives,
        transitive_verbs=transitive_verbs,
        intransitive_verbs=intransitive_verbs,
        light_verbs=light_verbs,
        light_verb_target=light_verb_target,
        phrasal_verbs=phrasal_verbs,
        adverbs=adverbs,
        prepositions=prepositions,
        pronouns=pronouns,
        conjunctions=conjunctions,
        negation=negation,
        source_articles=articles,
        target_subject_particle=subject_particle,
    )
    _check_no_homographs(lexicon)
    return lexicon


def _check_no_homographs(lexicon: Lexicon) -> None:
    """A compound that spells an existing word (or another compound) would make gold ambiguous."""
    for side in (0, 1):
        simple = {pair[side] for pair in lexicon._one_to_one_pairs()}
        simple |= {pair[side] for pair in lexicon.light_verbs}
        compounds = [
            first[side] + second[side]
            for first in lexicon.compound_first_stems
            for second in lexicon.compound_second_stems
        ]
        if len(set(compounds)) != len(compounds) or simple & set(compounds):
            raise ValueError(f"lexicon seed gives homographs on side {side}: {compounds}")


# A token is a word plus the id of the unit it belongs to (None: unaligned).
Token = tuple[str, int | None]


@dataclass
class SentencePair:
    source: list[str]
    target: list[str]
    # Sorted (source index, target index) links, 0-based.
    links: list[tuple[int, int]]
    # Which constructions occur, for tests and statistics.
    phenomena: set[str] = field(default_factory=set)

    def pharaoh(self) -> str:
        return " ".join(f"{i}-{j}" for i, j in self.links)

    def line(self) -> str:
        return f"{' '.join(self.source)} ||| {' '.join(self.target)}"


class _SentenceBuilder:
    """Builds one sentence pair by recursive choice; units get consecutive ids."""

    def __init__(self, lexicon: Lexicon, rng: random.Random) -> None:
        self.lexicon = lexicon
        self.rng = rng
        self.next_unit = 0
        self.phenomena: set[str] = set()

    def unit(self) -> int:
        self.next_unit += 1
        return self.next_unit

    def noun_phrase(self) -> tuple[list[Token], list[Token]]:
        rng, lex = self.rng, self.lexicon
        source: list[Token] = []
        if rng.random() < 0.6:
            source.append((rng.choice(lex.source_articles), None))
            self.phenomena.add("unaligned_source")
        adjectives = []
        for _ in range(rng.choices([0, 1, 2], weights=[0.55, 0.35, 0.1])[0]):
            adjective = rng.choice(lex.adjectives)
            if all(adjective != other for other, _ in adjectives):
                adjectives.append((adjective, self.unit()))
        if rng.random() < 0.15:
            (first_s, first_t), (second_s, second_t) = (
                rng.choice(lex.compound_first_stems),
                rng.choice(lex.compound_second_stems),
            )
            noun = (first_s + second_s, first_t + second_t)
            self.phenomena.add("compound")
        else:
            noun = rng.choice(lex.nouns)
        noun_unit = self.unit()
        # Source: A1 A2 N; target: N A1 A2.
        source += [(pair[0], unit) for pair, unit in adjectives]
        source.append((noun[0], noun_unit))
        target: list[Token] = [(noun[1], noun_unit)]
        target += [(pair[1], unit) for pair, unit in adjectives]
        if adjectives:
            self.phenomena.add("reordered")
        return source, target

    def clause(self) -> tuple[list[Token], list[Token]]:
        rng, lex = self.rng, self.lexicon

        # Subject: pronoun or full noun phrase; only full noun phrases get the particle.
        if rng.random() < 0.3:
            pronoun = rng.choice(lex.pronouns)
            unit = self.unit()
            subject_source, subject_target = [(pronoun[0], unit)], [(pronoun[1], unit)]
        else:
            subject_source, subject_target = self.noun_phrase()
            subject_target.append((lex.target_subject_particle, None))
            self.phenomena.add("unaligned_target")

        # Verb group: (source tokens, target tokens, takes an object).
        verb_unit = self.unit()
        kind = rng.choices(
            ["transitive", "intransitive", "light", "phrasal"], weights=[0.5, 0.2, 0.15, 0.15]
        )[0]
        if kind == "transitive":
            verb = rng.choice(lex.transitive_verbs)
            verb_source, verb_target = [(verb[0], verb_unit)], [(verb[1], verb_unit)]
        elif kind == "intransitive":
            verb = rng.choice(lex.intransitive_verbs)
            verb_source, verb_target = [(verb[0], verb_unit)], [(verb[1], verb_unit)]
        elif kind == "light":
            verb = rng.choice(lex.light_verbs)
            verb_source = [(verb[0], verb_unit)]
            verb_target = [(verb[1], verb_unit), (lex.light_verb_target, verb_unit)]
            self.phenomena.add("one_to_many")
        else:
            (verb_word, particle), target_verb = rng.choice(lex.phrasal_verbs)
            verb_source = [(verb_word, verb_unit), (particle, verb_unit)]
            verb_target = [(target_verb, verb_unit)]
            self.phenomena.add("many_to_one")
        takes_object = kind != "intransitive"

        object_source: list[Token] = []
        object_target: list[Token] = []
        if takes_object:
            object_source, object_target = self.noun_phrase()
            self.phenomena.add("reordered")  # S V O -> S O V

        negation_source: list[Token] = []
        negation_target: list[Token] = []
        if rng.random() < 0.15:
            unit = self.unit()
            negation_source = [(lex.negation[0], unit)]
            negation_target = [(lex.negation[1], unit)]

        pp_source: list[Token] = []
        pp_target: list[Token] = []
        if rng.random() < 0.3:
            preposition = rng.choice(lex.prepositions)
            unit = self.unit()
            np_source, np_target = self.noun_phrase()
            pp_source = [(preposition[0], unit), *np_source]
            pp_target = [*np_target, (preposition[1], unit)]
            self.phenomena.add("reordered")

        adverb_source: list[Token] = []
        adverb_target: list[Token] = []
        if rng.random() < 0.25:
            adverb = rng.choice(lex.adverbs)
            unit = self.unit()
            adverb_source, adverb_target = [(adverb[0], unit)], [(adverb[1], unit)]

        source = (
            subject_source
            + negation_source
            + verb_source
            + object_source
            + pp_source
            + adverb_source
        )
        target = (
            adverb_target
            + subject_target
            + object_target
            + pp_target
            + verb_target
            + negation_target
        )
        return source, target

    def sentence(self) -> tuple[list[Token], list[Token]]:
        source, target = self.clause()
        if self.rng.random() < 0.25:
            conjunction = self.rng.choice(self.lexicon.conjunctions)
            unit = self.unit()
            second_source, second_target = self.clause()
            source = [*source, (conjunction[0], unit), *second_source]
            target = [*target, (conjunction[1], unit), *second_target]
        return source, target


def _links(source: list[Token], target: list[Token]) -> list[tuple[int, int]]:
    return sorted(
        (i, j)
        for i, (_, source_unit) in enumerate(source)
        for j, (_, target_unit) in enumerate(target)
        if source_unit is not None and source_unit == target_unit
    )


def _is_reordered(links: list[tuple[int, int]]) -> bool:
    """True if two links cross: the target order differs from the source order."""
    return any(i1 < i2 and j1 > j2 for i1, j1 in links for i2, j2 in links)


def generate_pairs(lexicon: Lexicon, seed: int) -> Iterator[SentencePair]:
    """An endless, deterministic stream of sentence pairs of 3-20 words on both sides."""
    rng = random.Random(f"sentences-{seed}")
    while True:
        builder = _SentenceBuilder(lexicon, rng)
        source, target = builder.sentence()
        lengths_ok = all(
            MIN_SENTENCE_WORDS <= len(side) <= MAX_SENTENCE_WORDS for side in (source, target)
        )
        if not lengths_ok:
            continue
        links = _links(source, target)
        phenomena = set(builder.phenomena)
        # "reordered" is recorded from what actually happened, not from what was chosen.
        phenomena.discard("reordered")
        if _is_reordered(links):
            phenomena.add("reordered")
        yield SentencePair([w for w, _ in source], [w for w, _ in target], links, phenomena)


def generate_corpus(
    lexicon: Lexicon, count: int, seed: int, exclude: set[str] | None = None
) -> list[SentencePair]:
    """``count`` distinct pairs; pairs whose source line is in ``exclude`` are skipped."""
    seen = set(exclude or ())
    pairs: list[SentencePair] = []
    for pair in generate_pairs(lexicon, seed):
        key = " ".join(pair.source)
        if key in seen:
            continue
        seen.add(key)
        pairs.append(pair)
        if len(pairs) == count:
            break
    return pairs


def write_corpus(pairs: list[SentencePair], pairs_path: Path, gold_path: Path) -> None:
    pairs_path.write_text("".join(pair.line() + "\n" for pair in pairs), encoding="utf-8")
    gold_path.write_text("".join(pair.pharaoh() + "\n" for pair in pairs), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="number of sentence pairs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sentence stream")
    parser.add_argument("--lexicon-seed", type=int, default=0, help="seed of the word forms")
    parser.add_argument("--pairs", type=Path, required=True, help="output `src ||| tgt` file")
    parser.add_argument("--gold", type=Path, required=True, help="output Pharaoh gold file")
    parser.add_argument(
        "--exclude-pairs",
        type=Path,
        help="a `src ||| tgt` file whose source sentences are left out (a held-out set)",
    )
    args = parser.parse_args(argv)
    lexicon = build_lexicon(args.lexicon_seed)
    exclude = set()
    if args.exclude_pairs is not None:
        for line in args.exclude_pairs.read_text(encoding="utf-8").splitlines():
            exclude.add(" ".join(line.split("|||")[0].split()))
    pairs = generate_corpus(lexicon, args.count, args.seed, exclude=exclude)
    write_corpus(pairs, args.pairs, args.gold)


if __name__ == "__main__":
    main()
