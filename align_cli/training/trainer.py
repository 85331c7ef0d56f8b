"""``xalign train``: teach a translation model's head to align on the user's own corpus.

The run, in order:

1. the teacher's word links for the corpus (:mod:`align_cli.training.teacher_links`):
   eflomal's, the model's own (``self``) or a file's; eflomal's and the model's are
   written to ``OUT/training/teacher.pharaoh`` first, so that a resumed run reads the
   same links;
2. epochs over the corpus, streamed (:mod:`align_cli.training.data`), one optimiser
   step per batch on the guided-alignment objective (:mod:`align_cli.training.objective`);
   a checkpoint (the trained parameters, the optimiser, the random state and the
   position in the data) every ``checkpoint_every`` steps, written atomically
   (:mod:`align_cli.training.run_state`);
3. the extraction that agrees best with the teacher chosen, and the model saved with
   ``save_pretrained`` into ``OUT``, its tokenizer beside it, and ``OUT/xalign.json``:
   the layer, head, extraction and null handling to read it with, which ``xalign
   extract`` uses when given no settings.

The same seed, corpus, teacher links and settings give the same model, interrupted and
resumed or not (on one machine: other hardware may round differently). Float32 on a CPU;
on a GPU the forward and backward passes run in bfloat16 autocast with float32 weights.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from align_cli.errors import XalignError
from align_cli.io.corpus import count_pairs
from align_cli.model.loading import LoadedModel, load_model
from align_cli.model_settings import settings_to_dict, write_model_settings
from align_cli.settings import AlignmentSettings, TeacherSpec, TrainingSettings
from align_cli.stages.subwords import PairEncoder
from align_cli.training.data import (
    Example,
    SkipCounter,
    collate,
    encode_examples,
    shuffled_batches,
)
from align_cli.training.objective import GuidedHead, step_losses
from align_cli.training.run_state import (
    CHECKPOINT_FILE,
    LOG_FILE,
    STATE_FILE,
    STATE_FOLDER,
    atomic_save,
    is_complete,
    prepare_output,
    random_state,
    restore_random_state,
    run_identity,
)
from align_cli.training.teacher_links import (
    calibrate_extraction,
    check_teacher,
    corpus_with_links,
    prepare_teacher_file,
)
from align_cli.types import Link, SentencePair
from align_cli.version import __version__

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


def _check_null_token(loaded: LoadedModel) -> None:
    """Refuse, before any training, a tokenizer that puts no special token on a source:
    the null would have nothing to attend to."""
    probe = PairEncoder(loaded.tokenizer).source.encode(["a"])
    if not (probe.word_of_token < 0).any():
        raise XalignError(
            "this model's source side has no special token (such as </s>) to teach "
            "unaligned words to attend to; train with --no-null"
        )


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


class _Run:
    """One training run's model, optimiser, data and position, and its steps."""

    def __init__(
        self,
        loaded: LoadedModel,
        inputs: tuple[str, ...],
        teacher: tuple[str, TeacherSpec],
        settings: TrainingSettings,
        state_folder: Path,
        total_pairs: int,
    ):
        self.loaded = loaded
        self.inputs = inputs
        self.teacher_path, self.teacher = teacher
        self.settings = settings
        self.head = GuidedHead(loaded.model, settings.layer, settings.head)
        self.trainable = _trainable(self.head, settings.scope)
        for parameter in self.trainable.values():
            parameter.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(
            list(self.trainable.values()),
            lr=settings.learning_rate,
            betas=(0.9, 0.98),
            weight_decay=0.0,
        )
        self.progress = Progress(pairs_total=total_pairs * settings.epochs)
        self.checkpoint_path = state_folder / CHECKPOINT_FILE
        self.log_path = state_folder / LOG_FILE
        self.encoder = PairEncoder(loaded.tokenizer)
        self.skipped = SkipCounter()
        self.recent: list[tuple[float, float | None]] = []
        start_id, pad = loaded.decoder_start_id, loaded.tokenizer.pad_token_id
        self.start_id = start_id
        self.pad_id = int(pad if pad is not None else start_id)

    # -- checkpoints --------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        progress = {k: v for k, v in asdict(self.progress).items() if k != "pairs_total"}
        atomic_save(
            {
                "parameters": {n: p.detach().clone() for n, p in self.trainable.items()},
                "optimizer": self.optimizer.state_dict(),
                "progress": progress,
                "random": random_state(self.loaded.device),
            },
            self.checkpoint_path,
        )

    def restore(self) -> int:
        """Continue from the checkpoint, if there is one; the step it was written at."""
        if not self.checkpoint_path.is_file():
            return 0
        device = self.loaded.device
        checkpoint = torch.load(self.checkpoint_path, map_location=device, weights_only=True)
        with torch.no_grad():
            for name, value in checkpoint["parameters"].items():
                self.trainable[name].copy_(value)
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        total = self.progress.pairs_total
        self.progress = Progress(**{**checkpoint["progress"], "pairs_total": total})
        restore_random_state(checkpoint["random"], device)
        return self.progress.step

    # -- data ---------------------------------------------------------------------------

    def corpus(self) -> Iterator[tuple[SentencePair, frozenset[Link]]]:
        return corpus_with_links(self.inputs, self.teacher_path, self.teacher)

    def batches(self, epoch: int) -> Iterator[list[Example]]:
        settings = self.settings
        examples = encode_examples(
            self.corpus(), self.encoder, self.loaded.length_limit, self.skipped
        )
        return shuffled_batches(
            examples,
            seed=settings.seed,
            epoch=epoch,
            window=settings.shuffle_window,
            batch_size=settings.batch_size,
            max_tokens=settings.max_tokens,
        )

    # -- steps --------------------------------------------------------------------------

    def _set_learning_rate(self) -> None:
        progress, settings = self.progress, self.settings
        fraction = progress.pairs_seen / max(1, progress.pairs_total)
        if settings.max_steps is not None:
            fraction = max(fraction, progress.step / settings.max_steps)
        rate = settings.learning_rate * learning_rate_factor(fraction, settings.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = rate

    def step(self, batch: list[Example], dtype: str) -> None:
        """One optimiser step on ``batch``."""
        self._set_learning_rate()
        tensors = collate(
            batch,
            start_id=self.start_id,
            pad_id=self.pad_id,
            device=self.loaded.device,
            null=self.settings.null,
            shift=self.settings.shift,
        )
        with _autocast(self.loaded.device, dtype):
            losses = step_losses(
                self.head, tensors, translation_weight=self.settings.translation_weight
            )
        self.optimizer.zero_grad(set_to_none=True)
        losses.total.backward()
        torch.nn.utils.clip_grad_norm_(list(self.trainable.values()), CLIP_NORM)
        self.optimizer.step()
        progress = self.progress
        progress.step += 1
        progress.pairs_seen += tensors.pairs
        progress.alignment_loss = losses.alignment
        progress.translation_loss = losses.translation
        self.recent = [*self.recent[-99:], (losses.alignment, losses.translation)]

    def finished(self) -> bool:
        steps = self.settings.max_steps
        return steps is not None and self.progress.step >= steps

    def run(self, dtype: str, on_progress: ProgressCallback | None) -> None:
        """Train until the last epoch ends (or ``max_steps``), checkpointing as it goes."""
        progress, settings = self.progress, self.settings
        with self.log_path.open("a", encoding="utf-8") as log:
            while not self.finished() and progress.epoch < settings.epochs:
                self.skipped.empty = self.skipped.too_long = 0
                for index, batch in enumerate(self.batches(progress.epoch)):
                    if index < progress.batches_in_epoch:
                        continue  # trained on before the checkpoint this run resumed from
                    self.step(batch, dtype)
                    progress.batches_in_epoch = index + 1
                    if progress.step % 50 == 0:
                        log.write(json.dumps(asdict(progress)) + "\n")
                        log.flush()
                    if on_progress is not None:
                        on_progress(progress)
                    if progress.step % settings.checkpoint_every == 0:
                        self.save_checkpoint()
                    if self.finished():
                        return
                progress.epoch += 1
                progress.batches_in_epoch = 0


def _save(
    run: _Run,
    output: Path,
    identity: dict[str, Any],
    status: Callable[[str], None],
) -> AlignmentSettings:
    """Save the model, its tokenizer and its xalign.json; the recorded settings."""
    loaded, settings = run.loaded, run.settings
    loaded.model.eval()
    loaded.model.requires_grad_(False)
    alignment = settings.alignment_settings()
    about: dict[str, Any] = {
        "made_by": f"xalign {__version__} train",
        "base_model": identity["model"],
        "teacher": identity["teacher"],
        "training": asdict(settings),
        "steps": run.progress.step,
        "pairs_seen": run.progress.pairs_seen,
    }
    if settings.method is None:
        status("choosing the extraction ...")
        calibration = calibrate_extraction(loaded, run.head, run.corpus(), settings)
        # The layer as the user named it (0, not -3): the same layer, read more easily.
        alignment = replace(calibration.settings, layers=(settings.layer,))
        about["extraction_chosen_by"] = {
            "teacher_agreement_f1": calibration.rows[0].agreement.f1,
            "pairs": calibration.sentences,
            "candidates": len(calibration.rows),
        }
    loaded.model.save_pretrained(output)
    loaded.tokenizer.save_pretrained(output)
    write_model_settings(output, alignment, about)
    return alignment


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
    identity = run_identity(model, inputs, settings, teacher)
    state_folder = output / STATE_FOLDER
    state_path = state_folder / STATE_FILE
    if resume and state_path.is_file() and is_complete(state_path):
        return TrainingSummary(output, 0, 0, 0.0, 0, 0, None, None, already_complete=True)
    total_pairs = count_pairs(inputs)
    if total_pairs == 0:
        raise XalignError("the corpus is empty: nothing to train on")
    check_teacher(inputs, teacher)
    resumed = prepare_output(output, identity, resume=resume, force=force)

    started = time.monotonic()
    loaded = load_model(model, device=device, dtype="float32")
    torch.manual_seed(settings.seed)
    if settings.null:
        _check_null_token(loaded)
    status("teacher links ...")
    teacher_links = prepare_teacher_file(inputs, teacher, state_folder, loaded, resumed=resumed)
    run = _Run(loaded, inputs, teacher_links, settings, state_folder, total_pairs)
    resumed_from = run.restore() if resumed else 0
    if resumed_from:
        status(f"resumed at step {resumed_from}")
    # Dropout only where the model learns to translate too; a head trained alone reads
    # the frozen model as it runs when aligning.
    loaded.model.train(settings.translation_weight > 0)
    status("training ...")
    run.run(dtype, on_progress)
    seconds = time.monotonic() - started

    alignment = _save(run, output, identity, status)
    run.checkpoint_path.unlink(missing_ok=True)
    state_path.write_text(
        json.dumps(
            {"identity": identity, "complete": True, "alignment": settings_to_dict(alignment)},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return TrainingSummary(
        output=output,
        steps=run.progress.step,
        pairs_seen=run.progress.pairs_seen,
        seconds=seconds,
        skipped_empty=run.skipped.empty,
        skipped_too_long=run.skipped.too_long,
        alignment_loss=_mean(a for a, _ in run.recent),
        translation_loss=_mean(t for _, t in run.recent),
        settings=alignment,
        resumed_from=resumed_from,
    )
