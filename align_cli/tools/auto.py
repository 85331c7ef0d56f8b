"""``--preset auto``: choose the layer, heads, shift and extraction on the user's corpus,
without gold, by agreement with a teacher.

Which setting aligns best differs from model to model (the penultimate layer's head mean
in one, one head of the last layer in another), and a user rarely has gold for their
language pair. A statistical aligner has no such blind spot: its errors are not the
attention's. So every candidate setting is scored by how well its links agree with the
teacher's (eflomal's, by default) on a sample of the corpus: AER with the teacher's links
as the gold, i.e. 1 − F1 between the two link sets. The setting that agrees most is
chosen; on xalign's synthetic models it is the setting gold would choose, or within 1
AER of it (README, "Choosing settings without gold").

The candidates are every decoder layer × (the head mean, each head) × (no shift,
Shift-Att) × pooling (sum, mean) × extraction (argmax, inter, itermax; and, reading the
null off the end-of-sentence token as only trained heads are taught to, argmax, inter
and thresholds). One
teacher-forced pass per batch reads every layer and head at once
(:class:`~align_cli.tools.sweep.PerHeadAttentionReader`); pooling and extraction are the
code ``xalign extract`` runs.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from align_cli.aligners.attention import make_result
from align_cli.errors import XalignError
from align_cli.io.corpus import read_corpus
from align_cli.model.loading import LoadedModel, load_model
from align_cli.model_settings import apply_model_settings
from align_cli.settings import AlignerSpec, AlignmentSettings, BatchingSettings, TeacherSpec
from align_cli.stages.aggregation import null_scores, sentence_matrix, word_scores
from align_cli.stages.batching import (
    EncodedPair,
    TeacherForcedBatch,
    padded_batches,
    teacher_forced_batch,
)
from align_cli.stages.subwords import PairEncoder
from align_cli.tools.evaluate import LinkCounts, count_links
from align_cli.tools.sweep import PerHeadAttentionReader
from align_cli.tools.teachers import read_teacher, run_eflomal, zip_with_teacher
from align_cli.types import Link, SentencePair

AUTO_SOURCE = "auto"
DEFAULT_SAMPLE = 1000  # pairs scored
TEACHER_CONTEXT = 20  # eflomal aligns this many times the sample: it learns from more text
METHODS = ("argmax", "inter", "itermax")
POOLINGS = ("sum", "mean")
# eflomal learns its lexicon from the text it aligns: below this many pairs its links,
# and so a choice made by agreement with them, are unreliable.
EFLOMAL_MIN_PAIRS = 2000
# Thresholds tried with the null: a head taught to align puts a word's mass on its
# linked words (half each for two), so one link per word (argmax) misses many-to-one.
NULL_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class AutoRow:
    settings: AlignmentSettings
    agreement: LinkCounts  # the teacher's links as the gold

    @property
    def disagreement(self) -> float:
        return self.agreement.aer


@dataclass
class AutoChoice:
    """Every candidate's agreement with the teacher, best first."""

    rows: list[AutoRow]
    sentences: int
    teacher: str
    teacher_pairs: int | None = None  # pairs eflomal learned from (None: a file's links)

    @property
    def settings(self) -> AlignmentSettings:
        return self.rows[0].settings


def candidate_extractions(poolings: Sequence[str] = POOLINGS) -> list[AlignmentSettings]:
    """The pooling × extraction candidates (layers, heads and shift are set later):
    argmax, inter and itermax; and, reading the null (which only a trained head uses),
    argmax, inter and thresholds."""
    out = []
    for pooling in poolings:
        out += [AlignmentSettings(pooling=pooling, method=method) for method in METHODS]
        out += [
            AlignmentSettings(pooling=pooling, method=method, null=True)
            for method in ("argmax", "inter")
        ]
        out += [
            AlignmentSettings(pooling=pooling, method="threshold", threshold=value, null=True)
            for value in NULL_THRESHOLDS
        ]
    return out


def _simplicity(settings: AlignmentSettings) -> tuple:
    """Ties go to the simpler setting: head mean, no shift, the default extraction, no
    null, sum pooling, then the later layer."""
    return (
        settings.heads is not None,
        settings.shift,
        settings.method != "inter",
        settings.null,
        settings.threshold,
        settings.pooling != "sum",
        -(settings.layers or (0,))[0],
    )


def score_candidates(
    loaded: LoadedModel,
    pairs_with_links: Iterable[tuple[SentencePair, frozenset[Link]]],
    *,
    shifts: Sequence[bool] = (False, True),
    heads: Sequence[tuple[int, int | None]] | None = None,
    extractions: Sequence[AlignmentSettings] | None = None,
    batching: BatchingSettings | None = None,
    teacher_name: str = "teacher",
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    source_prefix: str | None = None,
    target_language_token: str | None = None,
) -> AutoChoice:
    """Score every candidate against the teacher links that come with the pairs.

    ``heads`` limits the candidates to these ``(layer, head)`` pairs (layer from the end,
    as ``-1``; head ``None`` = the mean); ``extractions`` to these pooling and
    extraction settings (:func:`candidate_extractions` by default)."""
    batching = batching or BatchingSettings(batch_size=16, max_tokens=4000)
    encoder = PairEncoder(
        loaded.tokenizer,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        source_prefix=source_prefix,
        target_language_token=target_language_token,
    )
    reader = PerHeadAttentionReader(loaded.model)
    length_limit = batching.max_length or loaded.length_limit
    items: list[tuple[EncodedPair, frozenset[Link]]] = []
    sentences = 0
    for pair, links in pairs_with_links:
        sentences += 1
        if not pair.src_words or not pair.tgt_words:
            continue
        encoded = EncodedPair(
            pair, encoder.source.encode(pair.src_words), encoder.target.encode(pair.tgt_words)
        )
        if max(len(encoded.src.ids), len(encoded.tgt.ids) + 1) <= length_limit:
            items.append((encoded, links))
    if not items:
        raise XalignError("no pair of the sample can be aligned: nothing to choose settings on")
    extractions = list(extractions or candidate_extractions())
    totals: dict[AlignmentSettings, LinkCounts] = {}
    start_id, pad = loaded.decoder_start_id, loaded.tokenizer.pad_token_id
    pad_id = int(pad if pad is not None else start_id)
    everything = [
        (layer - reader.num_layers, head)
        for layer in range(reader.num_layers)
        for head in [None, *range(reader.num_heads)]
    ]
    chosen = everything if heads is None else list(heads)
    items.sort(key=lambda item: item[0].cost)
    for batch in padded_batches(
        items, lambda item: item[0].cost, batching.batch_size, batching.max_tokens
    ):
        tensors = teacher_forced_batch(
            [encoded for encoded, _ in batch],
            start_id=start_id,
            pad_id=pad_id,
            device=loaded.device,
        )
        probabilities = reader(tensors.src_ids, tensors.src_mask, tensors.decoder_ids)
        shape = (len(batch), tensors.maps.n_tgt_words, tensors.maps.n_src_words)
        teacher = _teacher_masks(batch, shape)
        for layer, head in chosen:
            per_head = probabilities[:, layer + reader.num_layers]
            attention = per_head.mean(dim=1) if head is None else per_head[:, head]
            for shift in shifts:
                base = dict(layers=(layer,), heads=None if head is None else (head,), shift=shift)
                _score_batch(batch, teacher, attention, tensors, base, extractions, totals)
    rows = [AutoRow(settings, counts) for settings, counts in totals.items()]
    rows.sort(key=lambda row: (round(row.disagreement, 12), _simplicity(row.settings)))
    return AutoChoice(rows, sentences, teacher_name)


def _teacher_masks(
    batch: list[tuple[EncodedPair, frozenset[Link]]], shape: tuple[int, ...]
) -> torch.Tensor:
    """The teacher's links as a boolean ``[batch, n_tgt, n_src]`` tensor."""
    masks = torch.zeros(shape, dtype=torch.bool)
    for row, (_, links) in enumerate(batch):
        for i, j in links:
            masks[row, j, i] = True
    return masks


def batch_links(
    scores: torch.Tensor, nulls: torch.Tensor | None, method: str, threshold: float = 0.1
) -> torch.Tensor:
    """Links ``[batch, n_tgt, n_src]`` of ``argmax``, ``inter`` or ``threshold`` (with the null when
    ``nulls`` is given) for a whole padded batch at once: the same links as
    :func:`~align_cli.aligners.attention.make_result` gives sentence by sentence (padded
    words score 0 and 0-score cells are never links; ties go to the lowest index)."""
    if method == "threshold":
        links = scores > threshold
    else:
        best_source = scores.argmax(dim=2, keepdim=True)
        links = torch.zeros_like(scores, dtype=torch.bool).scatter_(2, best_source, True)
        if method == "inter":
            best_target = scores.argmax(dim=1, keepdim=True)
            links &= torch.zeros_like(links).scatter_(1, best_target, True)
        elif method != "argmax":
            raise ValueError(f"batch_links does argmax, inter and threshold, not {method!r}")
    links &= scores > 0
    if nulls is not None:
        links &= ~(nulls > scores.amax(dim=2)).unsqueeze(2)
    return links


def _counts(predicted: torch.Tensor, teacher: torch.Tensor) -> LinkCounts:
    correct = int((predicted & teacher).sum())
    gold = int(teacher.sum())
    return LinkCounts(int(predicted.sum()), gold, gold, correct, correct)


def _score_batch(
    batch: list[tuple[EncodedPair, frozenset[Link]]],
    teacher: torch.Tensor,
    attention: torch.Tensor,
    tensors: TeacherForcedBatch,
    base: dict[str, object],
    extractions: list[AlignmentSettings],
    totals: dict[AlignmentSettings, LinkCounts],
) -> None:
    shift = bool(base["shift"])
    for pooling in sorted({extraction.pooling for extraction in extractions}):
        scores = word_scores(attention, tensors.maps, shift=shift, pooling=pooling).cpu()
        nulls = null_scores(
            attention, tensors.maps, tensors.src_mask, shift=shift, pooling=pooling
        ).cpu()
        for extraction in extractions:
            if extraction.pooling != pooling:
                continue
            settings = replace(extraction, **base)  # type: ignore[arg-type]
            if settings.method in ("argmax", "inter", "threshold"):
                predicted = batch_links(
                    scores, nulls if settings.null else None, settings.method, settings.threshold
                )
                counts = _counts(predicted, teacher)
            else:
                counts = LinkCounts()
                for row, (encoded, links) in enumerate(batch):
                    n_src, n_tgt = encoded.src.n_words, encoded.tgt.n_words
                    matrix = sentence_matrix(scores[row], n_src, n_tgt)
                    null = nulls[row, :n_tgt].numpy() if settings.null else None
                    result = make_result(encoded.pair, matrix, None, settings, False, null=null)
                    counts += count_links(links, links, result.links)
            totals[settings] = totals.get(settings, LinkCounts()) + counts


def sample_with_teacher(
    inputs: Sequence[str],
    teacher: TeacherSpec,
    *,
    sample: int = DEFAULT_SAMPLE,
    teacher_context: int = TEACHER_CONTEXT,
) -> tuple[list[tuple[SentencePair, frozenset[Link]]], int | None]:
    """The first ``sample`` pairs of the corpus with their teacher links. eflomal aligns
    the first ``sample × teacher_context`` pairs (it learns from the text it aligns), a
    file is read as it is. Also returns how many pairs eflomal aligned (``None`` for a
    file)."""
    if any(path == "-" for path in inputs):
        raise XalignError(
            "--preset auto reads a sample of the corpus before aligning it: give files, not stdin"
        )
    if teacher.is_file:
        links = read_teacher(
            teacher.source, teacher.format, one_based=teacher.one_based, reverse=teacher.reverse
        )
        pairs = zip_with_teacher(read_corpus(tuple(inputs)), links, teacher.source)
        return list(itertools.islice(pairs, sample)), None
    if teacher.source != "eflomal":
        raise XalignError(
            f"--preset auto takes eflomal or a file as its teacher, not {teacher.source!r}"
        )
    context = list(read_corpus(tuple(inputs), stop=sample * teacher_context))
    with tempfile.TemporaryDirectory(prefix="xalign-auto-") as scratch:
        path = Path(scratch) / "teacher.pharaoh"
        run_eflomal(context, path, symmetrization=teacher.symmetrize)
        pairs = zip_with_teacher(context, read_teacher(str(path)), "eflomal")
        return list(itertools.islice(pairs, sample)), len(context)


def choose_spec(
    spec: AlignerSpec,
    inputs: Sequence[str],
    *,
    teacher: TeacherSpec | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> tuple[AlignerSpec, AutoChoice]:
    """``spec`` with the settings ``--preset auto`` chooses on the corpus ``inputs``.

    The options the user gave (``spec.defaults_from_model``: the fields set one by one)
    replace fields of the chosen settings, as they would a preset's."""
    if any(path == "-" for path in inputs):
        raise XalignError(
            "--preset auto reads a sample of the corpus before aligning it: give files, not stdin"
        )
    loaded = load_model(
        spec.model,
        device=spec.device,
        dtype=spec.dtype,
        revision=spec.revision,
        trust_remote_code=spec.trust_remote_code,
    )
    if not getattr(loaded.model.config, "is_encoder_decoder", False):
        raise XalignError(
            f"--preset auto chooses among the cross-attention settings of translation models; "
            f"{spec.model!r} is an encoder-only model"
        )
    teacher = teacher or TeacherSpec()
    pairs, teacher_pairs = sample_with_teacher(inputs, teacher, sample=sample)
    choice = score_candidates(
        loaded,
        pairs,
        src_lang=spec.src_lang,
        tgt_lang=spec.tgt_lang,
        source_prefix=spec.source_prefix,
        target_language_token=spec.target_token,
        teacher_name=teacher.source,
    )
    choice.teacher_pairs = teacher_pairs
    settings = apply_model_settings(choice.settings, spec.settings, spec.defaults_from_model or ())
    chosen = replace(spec, settings=settings, defaults_from_model=None, settings_source=AUTO_SOURCE)
    return chosen, choice
