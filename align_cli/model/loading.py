"""Model stage: resolve a ``--model`` name and load the model and tokenizer.

A name is, in order of precedence: a local folder (anything ``save_pretrained`` wrote), the
OPUS-MT shorthand ``opus-mt-xx-yy`` (expanded to ``Helsinki-NLP/opus-mt-xx-yy``), or a
Hugging Face hub id. Loading never runs code from the hub unless ``trust_remote_code`` is
asked for, and prefers safetensors weights.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from align_cli.errors import ModelError
from align_cli.model import hub
from align_cli.model.checkpoint import load_tokenizer, load_weights
from align_cli.model.devices import resolve_device, resolve_dtype, slow_cpu_dtype_warning
from align_cli.model.failures import config_failure, download_advice, hub_failure
from align_cli.model.kernels.cpu_linear import route_linears_to_onednn
from align_cli.model.notices import warn_once

OPUS_MT_ORGANISATION = "Helsinki-NLP"


def resolve_model_name(name: str) -> str:
    """Map ``--model`` to what ``from_pretrained`` takes (a folder or a hub id)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise ModelError(
            f"--model {name!r} is a file, not a model folder; give the folder that holds its "
            "config.json, weights and tokenizer files"
        )
    if name.startswith("opus-mt-") and "/" not in name:
        return f"{OPUS_MT_ORGANISATION}/{name}"
    # A hub id is "name" or "organisation/name"; anything else can only be a local path.
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(
            f"model folder {name!r} does not exist; give a folder written by "
            "save_pretrained, a hub id, or opus-mt-xx-yy"
        )
    return name


def _hub_access(
    name: str, resolved: str, revision: str | None
) -> tuple[contextlib.AbstractContextManager[None], str | None]:
    """How to load the hub id ``resolved``: normally, or from the cache in offline mode
    when the hub cannot be reached (then with the cached revision); fails at once when it
    can neither be reached nor found in the cache."""
    if hub.offline_by_user():
        return contextlib.nullcontext(), None
    reason = hub.unreachable_reason(resolved, revision)
    if reason is None:
        return contextlib.nullcontext(), None
    snapshot = hub.cached_snapshot(resolved, revision)
    called = f"{name!r} ({resolved})" if name != resolved else f"{resolved!r}"
    if snapshot is None:
        raise ModelError(
            f"cannot reach the Hugging Face hub ({reason}) and model {called} is not in the "
            f"local cache ({hub.cache_folder()}); " + download_advice(resolved, revision)
        )
    warn_once(
        f"cannot reach the Hugging Face hub ({reason}); using the cached copy of {resolved} "
        f"(revision {snapshot.name[:12]}, {snapshot})"
    )
    return hub.offline(), snapshot.name


def is_encoder_only(config: Any) -> bool:
    """Whether ``config`` describes a bidirectional encoder (the embedding path's models).

    transformers knows these as the architectures with a masked-LM head (BERT, XLM-R,
    DistilBERT, ELECTRA, DeBERTa, ModernBERT, ...); GPT-style decoders have none, and a
    BERT configured as a decoder (``is_decoder``) is causal, so it does not count.
    """
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    if getattr(config, "is_encoder_decoder", False) or getattr(config, "is_decoder", False):
        return False
    return getattr(config, "model_type", None) in MODEL_FOR_MASKED_LM_MAPPING_NAMES


@dataclass
class LoadedModel:
    """A model ready for alignment, with where it came from (for the run's signature)."""

    name: str
    source: str  # folder or hub id passed to from_pretrained
    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers tokenizer
    revision: str | None
    device: torch.device
    dtype: torch.dtype
    # How float32 CPU linear layers run: "onednn" (see align_cli.model.kernels.cpu_linear) or
    # "torch" (PyTorch's default kernels; always the case on a GPU).
    linear_backend: str = "torch"

    @property
    def model_type(self) -> str:
        return str(getattr(self.model.config, "model_type", "unknown"))

    @property
    def dtype_name(self) -> str:
        """``float32``, ``bfloat16``, ...: the dtype as the signature records it."""
        return str(self.dtype).removeprefix("torch.")

    @property
    def length_limit(self) -> int:
        """Tokens one side may have: the position table size, if the model has one."""
        config = self.model.config
        names = ("max_position_embeddings", "n_positions")
        limits = [getattr(config, name, None) for name in names]
        model_max = getattr(self.tokenizer, "model_max_length", None)
        limits.append(model_max if isinstance(model_max, int) and model_max < 1_000_000 else None)
        known = [limit for limit in limits if isinstance(limit, int) and limit > 0]
        return min(known) if known else 1_000_000

    @property
    def position_limit(self) -> int | None:
        """Tokens one side can have before the model runs out of positions (an
        IndexError past it); ``None`` for relative positions (T5), which have no end."""
        config = self.model.config
        names = ("max_position_embeddings", "n_positions")
        known = [getattr(config, name, None) for name in names]
        known = [value for value in known if isinstance(value, int) and value > 0]
        if not known:
            return None
        limit = min(known)
        # RoBERTa and XLM-R number positions from padding_idx + 1 (514 rows, 512 tokens).
        embeddings = getattr(self.model, "embeddings", None)
        padding_idx = getattr(embeddings, "padding_idx", None)
        if isinstance(padding_idx, int) and hasattr(embeddings, "position_embeddings"):
            limit -= padding_idx + 1
        return max(limit, 1)

    @property
    def decoder_start_id(self) -> int:
        """The token a teacher-forced decoder input starts with."""
        config = self.model.config
        for source in (config, getattr(self.model, "generation_config", None)):
            value = getattr(source, "decoder_start_token_id", None)
            if value is not None:
                return int(value)
        if config.pad_token_id is not None:
            return int(config.pad_token_id)
        raise ModelError("the model config names no decoder_start_token_id")


def load_model(
    name: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    revision: str | None = None,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load ``name`` for alignment.

    An encoder-decoder (translation) model is loaded with its LM head, for the
    cross-attention path; an encoder-only model (BERT, XLM-R, LaBSE, ...) as its bare
    encoder, for the embedding path (``is_encoder_decoder`` is then false on its config).
    Decoder-only models are refused.
    """
    # Imported lazily: transformers takes seconds to import and `xalign eval` never needs it.
    import transformers
    from transformers import AutoConfig

    # Progress bars and advice from transformers would land in the user's stderr log on
    # every run; xalign reports what matters itself.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    source = resolve_model_name(name)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    slow = slow_cpu_dtype_warning(torch_dtype, torch_device)
    if slow:
        warn_once(slow)
    local = Path(source).is_dir()
    access: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    cached_revision = None
    if not local:
        access, cached_revision = _hub_access(name, source, revision)
    common: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    with access:
        try:
            config = AutoConfig.from_pretrained(source, **common)
        except ModelError:
            raise
        except Exception as error:  # a broken config.json raises anything (TypeError, ...)
            if local:
                raise config_failure(name, source, error) from None
            raise hub_failure(name, source, error, revision) from None

        encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
        bare = not encoder_decoder and is_encoder_only(config)
        auto_class = transformers.AutoModel if bare else transformers.AutoModelForSeq2SeqLM
        if not bare and not encoder_decoder:
            raise ModelError(
                f"{name!r} is a {config.model_type!r} model, neither a translation "
                "(encoder-decoder) model with cross-attention nor an encoder-only one "
                "(decoder-only models are not supported); use a translation model (Marian, "
                "M2M100, NLLB, mBART, T5, BART, FSMT) or an encoder such as mBERT, XLM-R or LaBSE"
            )
        model = load_weights(name, source, local, auto_class, config, torch_dtype, common)
        tokenizer = load_tokenizer(name, source, local, config, common)
    model.to(torch_device)
    model.eval()
    # Alignment never trains: without gradients every call takes the same kernels, with
    # or without torch.no_grad() around it.
    model.requires_grad_(False)
    # Float32 on a CPU: route the linear layers through oneDNN, about 2x faster than MKL.
    on_cpu_float32 = torch_device.type == "cpu" and torch_dtype == torch.float32
    routed = on_cpu_float32 and route_linears_to_onednn(model) > 0
    linear_backend = "onednn" if routed else "torch"
    return LoadedModel(
        name=name,
        source=source,
        model=model,
        tokenizer=tokenizer,
        revision=revision or getattr(config, "_commit_hash", None) or cached_revision,
        device=torch_device,
        dtype=torch_dtype,
        linear_backend=linear_backend,
    )
