"""A model folder's own alignment settings: ``xalign.json`` beside ``config.json``.

``xalign train`` writes it; ``xalign extract`` reads it and uses its settings when no
--preset and no aggregation option is given (``AlignerSpec.defaults_from_model``), and the
signature names it. Plain JSON, no torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from pathlib import Path

from align_cli.errors import XalignError
from align_cli.settings import AlignmentSettings

# A model folder may say how it is read: `xalign train` writes this file beside
# config.json, and `xalign extract` uses its settings when no --preset and no aggregation
# option is given (AlignerSpec.defaults_from_model).
MODEL_SETTINGS_FILE = "xalign.json"
MODEL_SETTINGS_VERSION = 1


def settings_to_dict(settings: AlignmentSettings) -> dict[str, object]:
    """``settings`` as JSON-ready values (tuples become lists)."""
    values = asdict(settings)
    for name in ("layers", "heads"):
        if values[name] is not None:
            values[name] = list(values[name])
    return values


def settings_from_dict(values: object, *, where: str) -> AlignmentSettings:
    """The inverse of :func:`settings_to_dict`; a bad value is an :class:`XalignError`
    that names ``where`` it came from."""
    if not isinstance(values, dict):
        raise XalignError(f"{where}: the alignment settings must be a JSON object")
    known = {f.name for f in fields(AlignmentSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise XalignError(
            f"{where}: unknown alignment setting {unknown[0]!r}; a newer xalign wrote it?"
        )
    given = dict(values)
    for name in ("layers", "heads"):
        if isinstance(given.get(name), list):
            given[name] = tuple(given[name])
    try:
        return AlignmentSettings(**given)
    except XalignError as error:
        raise XalignError(f"{where}: {error}") from None


def write_model_settings(
    folder: str | Path, settings: AlignmentSettings, about: dict[str, object]
) -> Path:
    """Write ``folder/xalign.json``: the settings to read the model with, and ``about``
    (how the model was made: teacher, steps, seed, ...). Returns the file's path."""
    path = Path(folder) / MODEL_SETTINGS_FILE
    document = {
        "xalign_settings_version": MODEL_SETTINGS_VERSION,
        "alignment": settings_to_dict(settings),
        "about": about,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_model_settings(folder: str | Path) -> AlignmentSettings | None:
    """The settings ``folder/xalign.json`` records; ``None`` for a folder without one
    (or a hub id, which is not a folder)."""
    path = Path(folder) / MODEL_SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise XalignError(f"{path}: cannot read it as JSON ({error})") from None
    if not isinstance(document, dict) or "alignment" not in document:
        raise XalignError(f"{path}: no 'alignment' settings in it")
    version = document.get("xalign_settings_version")
    if version != MODEL_SETTINGS_VERSION:
        raise XalignError(
            f"{path}: settings version {version!r}, this xalign reads "
            f"{MODEL_SETTINGS_VERSION}; upgrade xalign"
        )
    return settings_from_dict(document["alignment"], where=str(path))


def apply_model_settings(
    recorded: AlignmentSettings, given: AlignmentSettings, fields_given: tuple[str, ...]
) -> AlignmentSettings:
    """A model's recorded settings with the fields the user gave taken from ``given``."""
    return replace(recorded, **{name: getattr(given, name) for name in fields_given})
