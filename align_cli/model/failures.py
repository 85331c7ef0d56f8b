"""Why a model cannot be loaded, in one line that says what to do.

transformers and huggingface_hub explain failures in paragraphs and tracebacks; xalign's
errors are one line naming the model (folder or hub id), what is wrong with it and what
to do next. These are shared by the loading code and the checks of a model's files.
"""

from __future__ import annotations

import json
from pathlib import Path

from align_cli.errors import ModelError
from align_cli.model import hub


def brief(error: BaseException) -> str:
    """The first line of an exception's message: transformers' messages run to paragraphs,
    and xalign's errors are one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    if first.endswith(":") and len(lines) > 1:  # "Validation error for field 'x':" + why
        first = f"{first} {lines[1]}"
    first = first.rstrip(".")
    return first if len(first) <= 240 else first[:237] + "..."


def config_failure(name: str, source: str, error: BaseException) -> ModelError:
    """A local folder whose config.json transformers cannot use."""
    config_file = Path(source) / "config.json"
    if not config_file.is_file():
        return ModelError(
            f"{source} has no config.json, so it is not a model folder; give the folder "
            "save_pretrained (or `hf download --local-dir`) wrote: config.json, the weights "
            "and the tokenizer files"
        )
    try:
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        model_type = None
    if model_type and "recognize" in str(error).lower():
        from transformers import __version__ as transformers_version

        return ModelError(
            f"{source}: transformers {transformers_version} does not know the model type "
            f"{model_type!r}; upgrade transformers, or pass --trust-remote-code if the model "
            "ships its own code and you trust it"
        )
    kind = "" if isinstance(error, (OSError, ValueError)) else f"{type(error).__name__}: "
    return ModelError(
        f"{source} holds no usable config.json ({kind}{brief(error)}); restore the "
        "config.json that was saved with the weights"
    )


def download_advice(resolved: str, revision: str | None) -> str:
    at = f" --revision {revision}" if revision else ""
    return (
        f"on a machine with network run `hf download {resolved}{at} --local-dir DIR`, copy "
        "DIR here and pass --model DIR"
    )


def hub_failure(
    name: str, resolved: str, error: BaseException, revision: str | None = None
) -> ModelError:
    called = f"{name!r} ({resolved})" if name != resolved else f"{resolved!r}"
    if hub.offline_by_user() and hub.cached_snapshot(resolved, revision) is None:
        return ModelError(
            f"model {called} is not in the Hugging Face cache ({hub.cache_folder()}) and "
            f"HF_HUB_OFFLINE is set; unset it to download the model, or "
            + download_advice(resolved, revision)
        )
    return ModelError(
        f"could not load model {called} from the Hugging Face hub or its cache "
        f"({type(error).__name__}: {brief(error)}); check the name (and `hf auth login` "
        "for a gated or private model), or without network " + download_advice(resolved, revision)
    )
