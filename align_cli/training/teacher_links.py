"""The teacher side of ``xalign train``: the links it learns from, paired with the corpus,
and the extraction of the taught head chosen by agreement with them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from align_cli.aligners.attention import AttentionAligner
from align_cli.io.corpus import read_corpus
from align_cli.io.formats import format_pharaoh
from align_cli.model.loading import LoadedModel
from align_cli.settings import TeacherSpec, TrainingSettings
from align_cli.tools.auto import AutoChoice, candidate_extractions, score_candidates
from align_cli.tools.teachers import read_teacher, run_eflomal, zip_with_teacher
from align_cli.training.objective import GuidedHead
from align_cli.training.run_state import TEACHER_FILE
from align_cli.types import Link, SentencePair


def prepare_teacher_file(
    inputs: tuple[str, ...],
    teacher: TeacherSpec,
    state_folder: Path,
    loaded: LoadedModel,
    *,
    resumed: bool,
) -> tuple[str, TeacherSpec]:
    """The path of the teacher file the run reads, and how to read it. eflomal's and the
    model's own links are computed once and kept beside the checkpoints."""
    if teacher.is_file:
        return teacher.source, teacher
    path = state_folder / TEACHER_FILE
    as_file = TeacherSpec(source=str(path))
    if resumed and path.is_file():
        return str(path), as_file
    partial = path.with_suffix(".partial")
    if teacher.source == "eflomal":
        run_eflomal(read_corpus(inputs), partial, symmetrization=teacher.symmetrize)
    else:  # "self": the model's own links, read with its settings
        aligner = AttentionAligner(loaded)
        with partial.open("w", encoding="utf-8") as out:
            for result in aligner.align_pairs(read_corpus(inputs)):
                out.write(format_pharaoh(result.links) + "\n")
    os.replace(partial, path)
    return str(path), as_file


def corpus_with_links(
    inputs: tuple[str, ...], teacher_path: str, teacher: TeacherSpec
) -> Iterator[tuple[SentencePair, frozenset[Link]]]:
    links = read_teacher(
        teacher_path, teacher.format, one_based=teacher.one_based, reverse=teacher.reverse
    )
    return zip_with_teacher(read_corpus(inputs), links, teacher_path)


def check_teacher(inputs: tuple[str, ...], teacher: TeacherSpec) -> None:
    """Walk a teacher file against the corpus once, before any model is loaded: a wrong
    line count or an out-of-range link fails here, in one line."""
    if teacher.is_file:
        for _ in corpus_with_links(inputs, teacher.source, teacher):
            pass


# --------------------------------------------------------------------------- extraction


def calibrate_extraction(
    loaded: LoadedModel,
    head: GuidedHead,
    pairs: Iterable[tuple[SentencePair, frozenset[Link]]],
    settings: TrainingSettings,
) -> AutoChoice:
    """The extraction of the taught head (argmax, inter, itermax, thresholds; with and
    without the null) whose links agree best with the teacher's on the first
    ``settings.calibration_pairs`` pairs: the teacher's links are all there is to judge
    by without gold, as for ``--preset auto``."""
    sample = list(itertools.islice(pairs, settings.calibration_pairs))
    candidates = [
        extraction
        for extraction in candidate_extractions(("sum",))
        if settings.null or not extraction.null
    ]
    return score_candidates(
        loaded,
        sample,
        shifts=(settings.shift,),
        heads=[(head.layer - head.num_layers, head.head)],
        extractions=candidates,
        teacher_name="teacher",
    )
