"""``xalign train``: teach a translation model's head to align on the user's own corpus.

The run, in order:

1. the teacher's word links for the corpus (:mod:`align_cli.tools.teachers`): eflomal's,
   the model's own (``self``) or a file's; eflomal's and the model's are written to
   ``OUT/training/teacher.pharaoh`` first, so that a resumed run reads the same links;
2. epochs over the corpus, streamed (:mod:`align_cli.training.data`), one optimiser
   step per batch on the guided-alignment objective (:mod:`align_cli.training.objective`);
   a checkpoint (the trained parameters, the optimiser, the random state and the
   position in the data) every ``checkpoint_every`` steps, written atomically;
3. the model saved with ``save_pretrained`` into ``OUT``, its tokenizer beside it, and
   ``OUT/xalign.json``: the layer, head, extraction and null handling to read it with,
   which ``xalign extract`` uses when given no settings.

The same seed, corpus, teacher links and settings give the same model, interrupted and
resumed or not (on one machine: other hardware may round differently). Float32 on a CPU;
on a GPU the forward and backward passes run in bfloat16 autocast with float32 weights.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from align_cli.aligners.attention import AttentionAligner
from align_cli.errors import XalignError
from align_cli.io.corpus import count_pairs, read_corpus
from align_cli.io.formats import format_pharaoh
from align_cli.model.loading import LoadedModel, load_model
from align_cli.model_settings import settings_to_dict, write_model_settings
from align_cli.settings import AlignmentSettings, TeacherSpec, TrainingSettings
from align_cli.stages.subwords import PairEncoder
from align_cli.tools.auto import AutoChoice, candidate_extractions, score_candidates
from align_cli.tools.teachers import read_teacher, run_eflomal, zip_with_teacher
from align_cli.training.data import (
    Example,
    SkipCounter,
    collate,
    encode_examples,
    shuffled_batches,
)
from align_cli.training.objective import GuidedHead, step_losses
from align_cli.types import Link, SentencePair
from align_cli.version import __version__

STATE_FOLDER = "training"
STATE_FILE = "state.json"
CHECKPOINT_FILE = "checkpoint.pt"
TEACHER_FILE = "teacher.pharaoh"
LOG_FILE = "log.jsonl"
CLIP_NORM = 1.0


@dataclass
class Progress:
    """Where a run is: what a progress bar shows."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0  # batches of the current epoch already trained on
    pairs_seen: int = 0  # over all epochs
    pairs_total: int = 0  # corpus pairs × epochs (what the ETA is computed from)
    alignment_loss: float | None = None
    translation_loss: float | None = None


@dataclass
class TrainingSummary:
    output: Path
    steps: int
    pairs_seen: int
    seconds: float
    skipped_empty: int
    skipped_too_long: int
    alignment_loss: float | None  # mean over the last 100 steps
    translation_loss: float | None
    settings: AlignmentSettings = field(default_factory=AlignmentSettings)
    resumed_from: int = 0
    already_complete: bool = False


ProgressCallback = Callable[[Progress], None]


# --------------------------------------------------------------------------- the run state


def _run_identity(
    model: str, inputs: tuple[str, ...], settings: TrainingSettings, teacher: TeacherSpec
) -> dict[str, Any]:
    """What a resumed run must match: the same model, corpus, teacher and settings."""
    resolved_model = str(Path(model).absolute()) if Path(model).is_dir() else model
    teacher_source = teacher.source
    if teacher.is_file:
        teacher_source = str(Path(teacher.source).absolute())
    return {
        "model": resolved_model,
        "inputs": [str(Path(path).absolute()) for path in inputs],
        "teacher": {**asdict(teacher), "source": teacher_source},
        "settings": asdict(settings),
    }


def _differences(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    changed = []
    for key in sorted(set(then) | set(now)):
        if then.get(key) == now.get(key):
            continue
        if isinstance(then.get(key), dict) and isinstance(now.get(key), dict):
            changed += [f"{key}.{item}" for item in _differences(then[key], now[key])]
        else:
            changed.append(key)
    return changed


def _prepare_output(output: Path, identity: dict[str, Any], *, resume: bool, force: bool) -> bool:
    """Make ``output`` ready; True when a previous run's checkpoint is to be resumed."""
    state_path = output / STATE_FOLDER / STATE_FILE
    if resume:
        if not state_path.is_file():
            raise XalignError(f"{output}: nothing to resume (no {STATE_FOLDER}/{STATE_FILE})")
        state = json.loads(state_path.read_text(encoding="utf-8"))
        changed = _differences(state["identity"], identity)
        if changed:
            raise XalignError(
                f"{output} was trained with other options ({', '.join(changed)}); "
                "resume with the same ones, or start again with --force"
            )
        return True
    if output.exists() and any(output.iterdir()):
        if not force:
            raise XalignError(
                f"{output} exists and is not empty; --force replaces it, --resume continues "
                "an interrupted run"
            )
        shutil.rmtree(output)
    (output / STATE_FOLDER).mkdir(parents=True, exist_ok=True)
    state_path.write_text(
        json.dumps({"identity": identity, "complete": False}, indent=2) + "\n", encoding="utf-8"
    )
    return False


def _is_complete(state_path: Path) -> bool:
    return bool(json.loads(state_path.read_text(encoding="utf-8")).get("complete"))


def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def _random_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_random_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# --------------------------------------------------------------------------- teacher links


def _teacher_links(
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


def _corpus_with_links(
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
        for _ in _corpus_with_links(inputs, teacher.source, teacher):
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


# --------------------------------------------------------------------------- the loop


def learning_rate_factor(progress: float, warmup: float) -> float:
    """Linear warm-up over the first ``warmup`` of training, then linear decay to 0."""
    if warmup > 0 and progress < warmup:
        return (progress + 1e-6) / warmup
    return max(0.0, 1.0 - progress) / max(1e-9, 1.0 - warmup) if warmup < 1 else 0.0


def _autocast(device: torch.device, dtype: str):
    """bfloat16 autocast on a GPU (weights stay float32); nothing on a CPU."""
    if device.type == "cuda" and dtype in ("auto", "bfloat16"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def _trainable(head: GuidedHead, scope: str) -> dict[str, torch.nn.Parameter]:
    chosen = dict(head.parameters(scope))
    full_names = {id(p): name for name, p in head.model.named_parameters()}
    # Tied weights appear once; names are the model's own, so checkpoints read back.
    return {full_names[id(p)]: p for p in chosen.values()}


def train(
    model: str,
    inputs: tuple[str, ...],
    output: str | Path,
    *,
    settings: TrainingSettings | None = None,
    teacher: TeacherSpec | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    dtype: str = "auto",
    on_progress: ProgressCallback | None = None,
    on_status: Callable[[str], None] | None = None,
) -> TrainingSummary:
    """Teach ``model`` (a folder, hub id, ...) to align on the corpus ``inputs`` (one
    ``source ||| target`` file or two line-aligned files) and save it to ``output``."""
    settings = settings or TrainingSettings()
    teacher = teacher or TeacherSpec()
    output = Path(output)
    inputs = tuple(inputs)
    status = on_status or (lambda _message: None)
    if any(path == "-" for path in inputs):
        raise XalignError("training reads the corpus once per epoch: give files, not stdin")
    identity = _run_identity(model, inputs, settings, teacher)
    state_path = output / STATE_FOLDER / STATE_FILE
    if resume and state_path.is_file() and _is_complete(state_path):
        return TrainingSummary(output, 0, 0, 0.0, 0, 0, None, None, already_complete=True)
    total_pairs = count_pairs(inputs)
    if total_pairs == 0:
        raise XalignError("the corpus is empty: nothing to train on")
    check_teacher(inputs, teacher)
    resumed = _prepare_output(output, identity, resume=resume, force=force)

    started = time.monotonic()
    loaded = load_model(model, device=device, dtype="float32")
    torch.manual_seed(settings.seed)
    head = GuidedHead(loaded.model, settings.layer, settings.head)
    if settings.null:
        # Refuses here, not mid-run, a tokenizer that adds no special token to a source.
        probe = PairEncoder(loaded.tokenizer).source.encode(["a"])
        if not (probe.word_of_token < 0).any():
            raise XalignError(
                "this model's source side has no special token (such as </s>) to teach "
                "unaligned words to attend to; train with --no-null"
            )
    status("teacher links ...")
    teacher_path, teacher_file = _teacher_links(
        inputs, teacher, output / STATE_FOLDER, loaded, resumed=resumed
    )
    trainable = _trainable(head, settings.scope)
    for parameter in trainable.values():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(
        list(trainable.values()), lr=settings.learning_rate, betas=(0.9, 0.98), weight_decay=0.0
    )
    progress = Progress(pairs_total=total_pairs * settings.epochs)
    checkpoint_path = output / STATE_FOLDER / CHECKPOINT_FILE
    resumed_from = 0
    if resumed and checkpoint_path.is_file():
        checkpoint = torch.load(checkpoint_path, map_location=loaded.device, weights_only=True)
        with torch.no_grad():
            for name, value in checkpoint["parameters"].items():
                trainable[name].copy_(value)
        optimizer.load_state_dict(checkpoint["optimizer"])
        progress = Progress(**{**checkpoint["progress"], "pairs_total": progress.pairs_total})
        _restore_random_state(checkpoint["random"], loaded.device)
        resumed_from = progress.step
        status(f"resumed at step {progress.step}")

    translating = settings.translation_weight > 0
    # Dropout only where the model learns to translate too; a head trained alone reads
    # the frozen model as it runs when aligning.
    loaded.model.train(translating)
    start_id, pad = loaded.decoder_start_id, loaded.tokenizer.pad_token_id
    pad_id = int(pad if pad is not None else start_id)
    encoder = PairEncoder(loaded.tokenizer)
    skipped = SkipCounter()
    recent: list[tuple[float, float | None]] = []
    log_path = output / STATE_FOLDER / LOG_FILE

    def save_checkpoint() -> None:
        _atomic_save(
            {
                "parameters": {name: p.detach().clone() for name, p in trainable.items()},
                "optimizer": optimizer.state_dict(),
                "progress": {k: v for k, v in asdict(progress).items() if k != "pairs_total"},
                "random": _random_state(loaded.device),
            },
            checkpoint_path,
        )

    def batches(epoch: int) -> Iterator[list[Example]]:
        examples = encode_examples(
            _corpus_with_links(inputs, teacher_path, teacher_file),
            encoder,
            loaded.length_limit,
            skipped,
        )
        return shuffled_batches(
            examples,
            seed=settings.seed,
            epoch=epoch,
            window=settings.shuffle_window,
            batch_size=settings.batch_size,
            max_tokens=settings.max_tokens,
        )

    status("training ...")
    done = settings.max_steps is not None and progress.step >= settings.max_steps
    with log_path.open("a", encoding="utf-8") as log:
        while not done and progress.epoch < settings.epochs:
            skipped.empty = skipped.too_long = 0
            for index, batch in enumerate(batches(progress.epoch)):
                if index < progress.batches_in_epoch:
                    continue  # trained on before the checkpoint this run resumed from
                fraction = progress.pairs_seen / max(1, progress.pairs_total)
                if settings.max_steps is not None:
                    fraction = max(fraction, progress.step / settings.max_steps)
                for group in optimizer.param_groups:
                    group["lr"] = settings.learning_rate * learning_rate_factor(
                        fraction, settings.warmup
                    )
                tensors = collate(
                    batch,
                    start_id=start_id,
                    pad_id=pad_id,
                    device=loaded.device,
                    null=settings.null,
                    shift=settings.shift,
                )
                with _autocast(loaded.device, dtype):
                    losses = step_losses(
                        head, tensors, translation_weight=settings.translation_weight
                    )
                optimizer.zero_grad(set_to_none=True)
                losses.total.backward()
                torch.nn.utils.clip_grad_norm_(list(trainable.values()), CLIP_NORM)
                optimizer.step()
                progress.step += 1
                progress.batches_in_epoch = index + 1
                progress.pairs_seen += tensors.pairs
                progress.alignment_loss = losses.alignment
                progress.translation_loss = losses.translation
                recent = [*recent[-99:], (losses.alignment, losses.translation)]
                if progress.step % 50 == 0:
                    log.write(json.dumps(asdict(progress)) + "\n")
                    log.flush()
                if on_progress is not None:
                    on_progress(progress)
                if progress.step % settings.checkpoint_every == 0:
                    save_checkpoint()
                if settings.max_steps is not None and progress.step >= settings.max_steps:
                    done = True
                    break
            else:
                progress.epoch += 1
                progress.batches_in_epoch = 0
    seconds = time.monotonic() - started

    loaded.model.eval()
    loaded.model.requires_grad_(False)
    alignment = settings.alignment_settings()
    calibration = None
    if settings.method is None:
        status("choosing the extraction ...")
        calibration = calibrate_extraction(
            loaded, head, _corpus_with_links(inputs, teacher_path, teacher_file), settings
        )
        # The layer as the user named it (0, not -3): the same layer, read more easily.
        alignment = replace(calibration.settings, layers=(settings.layer,))
    loaded.model.save_pretrained(output)
    loaded.tokenizer.save_pretrained(output)
    about = {
        "made_by": f"xalign {__version__} train",
        "base_model": identity["model"],
        "teacher": identity["teacher"],
        "training": asdict(settings),
        "steps": progress.step,
        "pairs_seen": progress.pairs_seen,
    }
    if calibration is not None:
        about["extraction_chosen_by"] = {
            "teacher_agreement_f1": calibration.rows[0].agreement.f1,
            "pairs": calibration.sentences,
            "candidates": len(calibration.rows),
        }
    write_model_settings(output, alignment, about)
    checkpoint_path.unlink(missing_ok=True)
    state_path.write_text(
        json.dumps(
            {"identity": identity, "complete": True, "alignment": settings_to_dict(alignment)},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )

    def mean(values: Iterable[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    return TrainingSummary(
        output=output,
        steps=progress.step,
        pairs_seen=progress.pairs_seen,
        seconds=seconds,
        skipped_empty=skipped.empty,
        skipped_too_long=skipped.too_long,
        alignment_loss=mean(a for a, _ in recent),
        translation_loss=mean(t for _, t in recent),
        settings=alignment,
        resumed_from=resumed_from,
    )
