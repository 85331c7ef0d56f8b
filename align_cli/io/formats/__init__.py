"""Alignment file formats: readers (generators) and writers (pure functions).

Inside xalign a link ``(i, j)`` is 0-based and source first. Files differ:

=========  ===============================================  ==========================
format     one sentence is                                  indices
=========  ===============================================  ==========================
pharaoh    a line of ``i-j`` (sure), ``ipj`` or ``i?j``     0-based by default; gold
           (possible); ``i-j-score`` and ``i-j:score`` add  sets ("talp") are usually
           a score to a link (as some tools write them)     1-based: ``one_based=True``
naacl      lines ``sentence_no pos_src pos_tgt [S|P]        always 1-based; position 0
           [confidence]`` (WPT 2003/2005), grouped by the   is a NULL link and is
           sentence number; a sentence without links has    dropped
           no line at all
giza       GIZA++ ``*.A3.final``: a ``#`` header line, the  1-based positions; the
           target sentence, then ``NULL ({ }) w ({ j k })`` ``NULL`` line's words are
           for the source words (``.gz`` is read as is)     the source
jsonl      one JSON object per line (xalign's own output)   0-based
probs      awesome-align's ``--output_prob_file``: read     as the links file
           next to its links file (see :func:`format_scores`)
=========  ===============================================  ==========================

Readers take a path (``-`` is stdin, ``*.gz`` is decompressed), yield one
:class:`AlignedSentence` per sentence and never hold the file in memory. Every problem is a
:class:`~align_cli.errors.CorpusError` that names the file and the 1-based line. Writers are
pure functions: one per format, taking a sentence read from a file or an aligner's
:class:`~align_cli.types.AlignmentResult` alike.

Layout: :mod:`.base` (:class:`AlignedSentence`, :class:`Format` and its traits), one module
per format (:mod:`.pharaoh`, :mod:`.naacl`, :mod:`.giza`, :mod:`.jsonl`, :mod:`.probs`), each
declaring its reader, writer and traits, :mod:`.registry` (:data:`FORMATS`, what is read and
written, "auto" resolved by detection) and :mod:`.streams` (files walked in step). This
module re-exports the public names.
"""

from align_cli.io.corpus import display_name
from align_cli.io.formats.base import (
    SCORE_DIGITS,
    AlignedSentence,
    Format,
    Record,
    RunInfo,
    as_sentence,
)
from align_cli.io.formats.giza import GIZA, format_giza_a3, read_giza_a3
from align_cli.io.formats.jsonl import (
    JSONL,
    MATRIX_DECIMALS,
    format_jsonl,
    read_jsonl,
    read_jsonl_matrices,
    read_jsonl_with_matrices,
)
from align_cli.io.formats.naacl import NAACL, format_naacl, pad_sentences, read_naacl
from align_cli.io.formats.pharaoh import (
    PHARAOH,
    format_pharaoh,
    format_talp,
    parse_pharaoh_line,
    parse_pharaoh_links,
    read_pharaoh,
)
from align_cli.io.formats.probs import PROBS, format_scores, read_pharaoh_with_probs
from align_cli.io.formats.registry import (
    AUTO,
    FORMATS,
    LINK_WRITE_FORMATS,
    READ_CHOICES,
    READ_FORMATS,
    WRITE_FORMATS,
    detect_format,
    format_sentence,
    read_alignments,
    readable_format,
    writable_format,
)
from align_cli.io.formats.streams import Stream, check_indices, with_words, zip_streams

__all__ = [
    "AUTO",
    "FORMATS",
    "GIZA",
    "JSONL",
    "LINK_WRITE_FORMATS",
    "MATRIX_DECIMALS",
    "NAACL",
    "PHARAOH",
    "PROBS",
    "READ_CHOICES",
    "READ_FORMATS",
    "SCORE_DIGITS",
    "WRITE_FORMATS",
    "AlignedSentence",
    "Format",
    "Record",
    "RunInfo",
    "Stream",
    "as_sentence",
    "check_indices",
    "detect_format",
    "display_name",
    "format_giza_a3",
    "format_jsonl",
    "format_naacl",
    "format_pharaoh",
    "format_scores",
    "format_sentence",
    "format_talp",
    "pad_sentences",
    "parse_pharaoh_line",
    "parse_pharaoh_links",
    "read_alignments",
    "read_giza_a3",
    "read_jsonl",
    "read_jsonl_matrices",
    "read_jsonl_with_matrices",
    "read_naacl",
    "read_pharaoh",
    "read_pharaoh_with_probs",
    "readable_format",
    "with_words",
    "writable_format",
    "zip_streams",
]
