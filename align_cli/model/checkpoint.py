"""A model's files: its weights and its tokenizer, loaded with a one-line diagnosis when a
folder is broken (files missing, empty or truncated, a config.json whose sizes or layer
count do not match the weights)."""

from __future__ import annotations

import json
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from align_cli.errors import ModelError
from align_cli.model.failures import brief, hub_failure

WEIGHT_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "*.bin", "*.bin.index.json")
# A key inside a numbered layer (model.decoder.layers.3.fc1.weight, encoder.block.0...).
_LAYER_KEY = re.compile(r"(?:^|\.)(?:layers|layer|block|h)\.(\d+)\.")
_EMBEDDING_KEY = re.compile(r"(?:embed_tokens|word_embeddings|shared)\.weight$")


def _weight_files(folder: Path) -> list[str]:
    return sorted({path.name for pattern in WEIGHT_PATTERNS for path in folder.glob(pattern)})


def _weights_failure(name: str, source: str, local: bool, error: Exception) -> Exception:
    """The one-line error for weights that cannot be loaded (or a refused pickle, which
    the caller reports itself)."""
    if isinstance(error, pickle.UnpicklingError):
        return error
    if not local:
        if isinstance(error, OSError):
            return hub_failure(name, source, error)
        return ModelError(
            f"cannot load the weights of {name!r} ({type(error).__name__}: {brief(error)})"
        )
    files = _weight_files(Path(source))
    if not files:
        return ModelError(
            f"{source} holds no weights (no model.safetensors or pytorch_model.bin); copy "
            "them again from where the model came from"
        )
    message = str(error)
    if "size mismatch" in message or "ignore_mismatched_sizes" in message:
        return ModelError(
            f"{source}: config.json does not match the weights (tensor sizes differ); "
            "restore the config.json that was saved with them"
        )
    empty = [file for file in files if (Path(source) / file).stat().st_size == 0]
    what = f"{', '.join(empty)} is empty" if empty else f"{type(error).__name__}: {brief(error)}"
    return ModelError(
        f"{source}: cannot read the weights ({what}); {' or '.join(files)} is truncated or "
        "corrupt: copy it again from where the model came from"
    )


def _weights_mismatch(info: dict[str, Any]) -> str | None:
    """What ``from_pretrained``'s loading info says is wrong between config.json and the
    weights, or ``None``. Keys outside the layers and embeddings (a pooler, an LM head the
    alignment never runs) may be missing or extra, as they are in many hub checkpoints."""
    mismatched = sorted(info.get("mismatched_keys") or (), key=str)
    if mismatched:
        key, in_weights, in_config = (list(mismatched[0]) + [None, None])[:3]
        more = f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
        shapes = (
            f" is {list(in_weights)} in the weights but {list(in_config)} by config.json"
            if in_weights is not None and in_config is not None
            else " has another size in the weights"
        )
        return f"{key}{shapes}{more}"
    missing = sorted(
        key
        for key in info.get("missing_keys") or ()
        if _LAYER_KEY.search(key) or _EMBEDDING_KEY.search(key)
    )
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"config.json describes {missing[0]}{more}, which the weights lack"
    extra = sorted(key for key in info.get("unexpected_keys") or () if _LAYER_KEY.search(key))
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        return f"the weights hold {extra[0]}{more}, which config.json does not describe"
    return None


def load_weights(
    name: str,
    source: str,
    local: bool,
    auto_class: Any,
    config: Any,
    torch_dtype: torch.dtype,
    common: dict[str, Any],
) -> Any:
    """The model with its weights, checked against config.json; one-line errors."""
    # Loading info instead of transformers' warning table: missing layers would otherwise
    # be random weights, silently. Mismatched sizes are reported rather than raised, so
    # that the error can name the tensor.
    options: dict[str, Any] = {
        "config": config,
        "dtype": torch_dtype,
        "output_loading_info": True,
        "ignore_mismatched_sizes": True,
        **common,
    }
    try:
        try:
            model, info = auto_class.from_pretrained(
                source, attn_implementation="sdpa", use_safetensors=None, **options
            )
        except ValueError as error:
            # transformers calls the kernel "sdpa" or, for FSMT, "scaled_dot_product_attention".
            message = str(error).lower()
            if "sdpa" not in message and "scaled_dot_product_attention" not in message:
                where = source if local else repr(name)
                raise ModelError(
                    f"cannot load {where} for alignment: {brief(error)}; check its config.json"
                ) from None
            # Some architectures have no SDPA kernel; eager attention is correct, only slower.
            model, info = auto_class.from_pretrained(source, **options)
    except ModelError:
        raise
    except Exception as error:  # truncated files raise safetensors', torch's, zip errors...
        raise _weights_failure(name, source, local, error) from None
    problem = _weights_mismatch(info)
    if problem is not None:
        where = source if local else repr(name)
        raise ModelError(
            f"{where}: config.json does not match the weights ({problem}); restore the "
            "config.json that was saved with these weights"
        )
    return model


def _tokenizer_files(source: str, config: Any) -> list[str]:
    """The files the folder's tokenizer class reads (source.spm, vocab.json, ...)."""
    import transformers
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    candidates: list[str] = []
    try:
        tokenizer_config = json.loads(
            (Path(source) / "tokenizer_config.json").read_text(encoding="utf-8")
        )
        candidates.append(str(tokenizer_config.get("tokenizer_class") or ""))
    except (OSError, ValueError, AttributeError):
        pass
    mapped = TOKENIZER_MAPPING_NAMES.get(getattr(config, "model_type", ""), ())
    candidates += [mapped] if isinstance(mapped, str) else [c for c in mapped if c]
    files: list[str] = []
    for class_name in candidates:
        try:
            tokenizer_class = getattr(transformers, class_name, None) if class_name else None
        except Exception:  # a class whose optional dependency is missing
            tokenizer_class = None
        names = getattr(tokenizer_class, "vocab_files_names", None)
        if isinstance(names, dict):
            files += [str(file) for file in names.values() if str(file) not in files]
    return files


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _tokenizer_failure(
    name: str, source: str, local: bool, config: Any, error: Exception
) -> ModelError:
    if not local:
        return ModelError(
            f"cannot load the tokenizer of {name!r} ({type(error).__name__}: {brief(error)})"
        )
    folder = Path(source)
    files = _tokenizer_files(source, config)
    present = [file for file in files if (folder / file).is_file()]
    empty = [file for file in present if (folder / file).stat().st_size == 0]
    missing = [file for file in files if file not in present]
    unreadable = [
        file for file in present if file.endswith(".json") and not _is_json(folder / file)
    ]
    if empty:
        what = f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty"
    elif unreadable:
        what = f"{', '.join(unreadable)} is not valid JSON ({brief(error)})"
    else:
        what = f"{type(error).__name__}: {brief(error)}"
        # A file the tokenizer needed but was not given shows up as None somewhere.
        text = str(error)
        looks_missing = (
            isinstance(error, (FileNotFoundError, TypeError))
            or "NoneType" in text
            or "must be specified" in text
            or "not found" in text.lower()
        )
        if missing and looks_missing:
            what += f"; not in the folder: {', '.join(missing)}"
    listed = f" ({', '.join(present or files)})" if (present or files) else ""
    return ModelError(
        f"{source}: cannot load the tokenizer ({what}); copy its files{listed} again from "
        "where the model came from"
    )


def load_tokenizer(name: str, source: str, local: bool, config: Any, common: dict[str, Any]):
    from transformers import AutoTokenizer

    try:
        with warnings.catch_warnings():
            # MarianTokenizer asks for sacremoses, which it only uses for an optional
            # punctuation normaliser that alignment never calls.
            warnings.filterwarnings("ignore", message=".*sacremoses.*")
            return AutoTokenizer.from_pretrained(source, **common)
    except ImportError as error:
        # FSMT's tokenizer needs sacremoses, which transformers does not install.
        raise ModelError(
            f"the tokenizer of {name!r} needs a package that is not installed "
            f"({brief(error)}); install it with pip and run again"
        ) from None
    except ModelError:
        raise
    except Exception as error:  # missing or truncated files raise TypeError, KeyError...
        raise _tokenizer_failure(name, source, local, config, error) from None
