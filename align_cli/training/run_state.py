"""What a ``xalign train`` run keeps in ``OUT/training/`` so that it can be resumed: the
run's identity (model, corpus, teacher, settings) that a resumed run must match, whether
the run completed, and checkpoints written atomically with the random state."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from align_cli.errors import XalignError
from align_cli.settings import TeacherSpec, TrainingSettings

STATE_FOLDER = "training"
STATE_FILE = "state.json"
CHECKPOINT_FILE = "checkpoint.pt"
TEACHER_FILE = "teacher.pharaoh"
LOG_FILE = "log.jsonl"


def run_identity(
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


def differences(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    changed = []
    for key in sorted(set(then) | set(now)):
        if then.get(key) == now.get(key):
            continue
        if isinstance(then.get(key), dict) and isinstance(now.get(key), dict):
            changed += [f"{key}.{item}" for item in differences(then[key], now[key])]
        else:
            changed.append(key)
    return changed


def prepare_output(output: Path, identity: dict[str, Any], *, resume: bool, force: bool) -> bool:
    """Make ``output`` ready; True when a previous run's checkpoint is to be resumed."""
    state_path = output / STATE_FOLDER / STATE_FILE
    if resume:
        if not state_path.is_file():
            raise XalignError(f"{output}: nothing to resume (no {STATE_FOLDER}/{STATE_FILE})")
        state = json.loads(state_path.read_text(encoding="utf-8"))
        changed = differences(state["identity"], identity)
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


def is_complete(state_path: Path) -> bool:
    return bool(json.loads(state_path.read_text(encoding="utf-8")).get("complete"))


def atomic_save(payload: dict[str, Any], path: Path) -> None:
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def random_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_random_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
