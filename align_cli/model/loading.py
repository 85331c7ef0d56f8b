"""Model stage: resolve a ``--model`` name and load the model and tokenizer.

A name is, in order of precedence: a local folder (anything ``save_pretrained`` wrote), the
OPUS-MT shorthand ``opus-mt-xx-yy`` (expanded to ``Helsinki-NLP/opus-mt-xx-yy``), or a
Hugging Face hub id. Loading never runs code from the hub unless ``trust_remote_code`` is
asked for, and prefers safetensors weights.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from align_cli.errors import ModelError
from align_cli.model.kernels.cpu_linear import route_linears_to_onednn

OPUS_MT_ORGANISATION = "Helsinki-NLP"


def resolve_model_name(name: str) -> str:
    """Map ``--model`` to what ``from_pretrained`` takes (a folder or a hub id)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if name.startswith("opus-mt-") and "/" not in name:
        return f"{OPUS_MT_ORGANISATION}/{name}"
    # A hub id is "name" or "organisation/name"; anything else can only be a local path.
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(
            f"model folder {name!r} does not exist; give a folder written by "
            "save_pretrained, a hub id, or opus-mt-xx-yy"
        )
    return name


def _brief(error: BaseException) -> str:
    """The first line of an exception's message: transformers' messages run to paragraphs,
    and xalign's errors are one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    return first if len(first) <= 240 else first[:237] + "..."


def _config_failure(name: str, source: str, error: BaseException) -> ModelError:
    """A local folder whose config.json transformers cannot use."""
    config_file = Path(source) / "config.json"
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
    return ModelError(f"{source} holds no usable config.json ({_brief(error)})")


def _hub_failure(name: str, resolved: str, error: BaseException) -> ModelError:
    return ModelError(
        f"could not load model {name!r} ({resolved}) from the Hugging Face hub or its cache "
        f"({type(error).__name__}); without network, download it elsewhere with "
        f"`hf download {resolved} --local-dir DIR` and pass --model DIR"
    )


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(
            "--device cuda was asked for but no CUDA GPU is available; use --device cpu"
        )
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is float32 on the CPU and bfloat16 (else float16) on a GPU."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    choices = {
        "float32": torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
        "float64": torch.float64,
    }
    if dtype not in choices:
        raise ModelError(f"unknown --dtype {dtype!r}; choose auto, {', '.join(choices)}")
    return choices[dtype]


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
    from transformers import AutoConfig, AutoTokenizer

    # Progress bars and advice from transformers would land in the user's stderr log on
    # every run; xalign reports what matters itself.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    source = resolve_model_name(name)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    common: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(source, **common)
    except (OSError, ValueError) as error:
        if Path(source).is_dir():
            raise _config_failure(name, source, error) from None
        raise _hub_failure(name, source, error) from None

    encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    bare = not encoder_decoder and is_encoder_only(config)
    auto_class = transformers.AutoModel if bare else transformers.AutoModelForSeq2SeqLM
    if not bare and not encoder_decoder:
        raise ModelError(
            f"{name!r} is a {config.model_type!r} model, neither a translation "
            "(encoder-decoder) model with cross-attention nor an encoder-only one (decoder-only "
            "models are not supported); use a translation model (Marian, M2M100, NLLB, mBART, "
            "T5, BART, FSMT) or an encoder such as mBERT, XLM-R or LaBSE"
        )
    try:
        model = auto_class.from_pretrained(
            source,
            config=config,
            dtype=torch_dtype,
            attn_implementation="sdpa",
            use_safetensors=None,
            **common,
        )
    except ValueError as error:
        # transformers calls the kernel "sdpa" or, for FSMT, "scaled_dot_product_attention".
        message = str(error).lower()
        if "sdpa" not in message and "scaled_dot_product_attention" not in message:
            raise ModelError(f"cannot load {name!r} for alignment: {_brief(error)}") from None
        # Some architectures have no SDPA kernel; eager attention is correct, only slower.
        model = auto_class.from_pretrained(source, config=config, dtype=torch_dtype, **common)
    except OSError as error:
        if Path(source).is_dir():
            raise ModelError(f"{source} holds no loadable weights ({_brief(error)})") from None
        raise _hub_failure(name, source, error) from None
    try:
        with warnings.catch_warnings():
            # MarianTokenizer asks for sacremoses, which it only uses for an optional
            # punctuation normaliser that alignment never calls.
            warnings.filterwarnings("ignore", message=".*sacremoses.*")
            tokenizer = AutoTokenizer.from_pretrained(source, **common)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the tokenizer of {name!r}: {_brief(error)}") from None
    except ImportError as error:
        # FSMT's tokenizer needs sacremoses, which transformers does not install.
        raise ModelError(
            f"the tokenizer of {name!r} needs a package that is not installed "
            f"({_brief(error)}); "
            "install it with pip and run again"
        ) from None
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
        revision=revision or getattr(config, "_commit_hash", None),
        device=torch_device,
        dtype=torch_dtype,
        linear_backend=linear_backend,
    )
