"""What a user can choose, as typed values that check themselves: no torch, no model.

Everything that names an option value lives here (the extraction methods, poolings,
symmetrisations, granularities) so that the command line, the API and the stages that
implement them agree on one list. Then the settings of the two aligner paths
(:class:`AlignmentSettings` for cross-attention, :class:`EmbeddingSettings` for encoders),
the batching budget, and the named presets. The reasons behind each default are in
README.md ("Choosing the defaults").
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields, replace

from align_cli.errors import XalignError

# --------------------------------------------------------------------------- vocabularies

EXTRACTION_METHODS: dict[str, str] = {
    "argmax": "each target word to its most attended source word",
    "inter": "argmax in both directions of the matrix, intersected (SimAlign's ArgMax)",
    "itermax": "SimAlign's IterMax: inter, then extra rounds for still-unaligned words",
    "match": "maximum-weight one-to-one matching of the words (SimAlign's Match, 'mwmf')",
    "softmax_threshold": "awesome-align: softmax over rows and over columns both above "
    "--threshold (default 0.001); meant for embedding models' dot products",
    "threshold": "every link whose score exceeds --threshold",
}
# --threshold when it is not given: attention probabilities for "threshold",
# awesome-align's published default for "softmax_threshold".
DEFAULT_THRESHOLDS: dict[str, float] = {"threshold": 0.1, "softmax_threshold": 0.001}
POOLINGS = ("mean", "max", "sum")
SYMMETRIZATIONS = ("intersect", "union", "grow-diag", "grow-diag-final", "grow-diag-final-and")
GRANULARITIES = ("word", "subword")


def _check_choice(value: object, choices: object, what: str) -> None:
    if value not in choices:  # type: ignore[operator]
        raise XalignError(f"unknown {what} {value!r}; choose {', '.join(choices)}")  # type: ignore[arg-type]


def _check_indices(value: object, what: str) -> None:
    if not isinstance(value, tuple) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        raise XalignError(f"{what} must be a tuple of integers, not {value!r}")


def _check_number(value: object, what: str) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise XalignError(f"{what} must be a number, not {value!r}")


# --------------------------------------------------------------------------- attention path


@dataclass(frozen=True)
class AlignmentSettings:
    """How attention becomes links. Defaults are xalign's measured choice (README).

    ``layers=None`` picks the layer from the decoder's depth (:func:`default_layers`).
    """

    layers: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None  # None = mean over all heads
    shift: bool = False
    pooling: str = "sum"
    method: str = "inter"
    threshold: float = 0.1
    symmetrize: str | None = None  # combine the matrix's two directions (or two models')
    # A target word whose attention on the source's special tokens (the end-of-sentence
    # token) outweighs its attention on every source word is left unaligned. Models that
    # `xalign train` taught to park unaligned words there record this in xalign.json.
    null: bool = False

    def __post_init__(self) -> None:
        _check_choice(self.pooling, POOLINGS, "pooling")
        _check_choice(self.method, EXTRACTION_METHODS, "extraction")
        if self.layers is not None:
            _check_indices(self.layers, "layers")
            if not self.layers:
                raise XalignError("give at least one layer")
        if self.heads is not None:
            _check_indices(self.heads, "heads")
            if not self.heads:
                raise XalignError("give at least one head, or None for the mean of all")
        _check_number(self.threshold, "threshold")
        if not isinstance(self.shift, bool):
            raise XalignError(f"shift must be True or False, not {self.shift!r}")
        if self.symmetrize is not None:
            _check_choice(self.symmetrize, SYMMETRIZATIONS, "symmetrisation")
        if not isinstance(self.null, bool):
            raise XalignError(f"null must be true or false, not {self.null!r}")

    def describe(self) -> str:
        layers = "auto" if self.layers is None else ",".join(str(x) for x in self.layers)
        heads = "mean" if self.heads is None else ",".join(str(h) for h in self.heads)
        method = self.method + (f">{self.threshold:g}" if self.method == "threshold" else "")
        # null appears only when on, so that every signature made before it existed stays.
        return (
            f"layer:{layers}|heads:{heads}|shift:{'yes' if self.shift else 'no'}"
            f"|pool:{self.pooling}|extract:{method}" + ("|null:eos" if self.null else "")
        )


def default_layers(n_decoder_layers: int) -> tuple[int, ...]:
    """The layer read when none is given: the penultimate one, or the last in shallow decoders.

    Garg et al. (2019) found the penultimate layer of a 6-layer decoder aligns best, and
    the sweep on xalign's 3-layer synthetic-language model agrees that the top layers
    align but puts the last layer far ahead (README). In a shallow decoder the
    penultimate layer is too close to the input to align well.
    """
    return (-1,) if n_decoder_layers <= 3 else (-2,)


# --------------------------------------------------------------------------- batching


@dataclass(frozen=True)
class BatchingSettings:
    """How pairs are grouped for the forward passes (benchmarks/README.md: the defaults
    are the fastest measured on 2 CPU cores; a GPU wants far bigger batches)."""

    batch_size: int = 32  # pairs per batch at most
    max_tokens: int = 3000  # padded source + target tokens per batch at most
    window: int = 2000  # pairs sorted together by length
    max_length: int | None = None  # tokens per side; None = the model's limit

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_tokens", "window"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise XalignError(f"{name} must be a positive integer, not {value!r}")
        if self.max_length is not None and (
            not isinstance(self.max_length, int)
            or isinstance(self.max_length, bool)
            or self.max_length < 1
        ):
            raise XalignError(f"max_length must be a positive integer, not {self.max_length!r}")


# --------------------------------------------------------------------------- embedding path

DEFAULT_EMBEDDING_LAYER = 8  # SimAlign's and awesome-align's default
DEFAULT_GRANULARITY = "subword"  # SimAlign's default token_type "bpe"
DEFAULT_EMBEDDING_METHOD = "inter"  # SimAlign's "ArgMax"


@dataclass(frozen=True)
class EmbeddingSettings:
    """How an encoder's hidden states become links."""

    layer: int = DEFAULT_EMBEDDING_LAYER
    granularity: str = DEFAULT_GRANULARITY
    method: str = DEFAULT_EMBEDDING_METHOD
    threshold: float | None = None  # None: the method's default (DEFAULT_THRESHOLDS)

    def __post_init__(self) -> None:
        if not isinstance(self.layer, int) or isinstance(self.layer, bool):
            raise XalignError(f"the embedding layer must be an integer, not {self.layer!r}")
        _check_choice(self.granularity, GRANULARITIES, "granularity")
        _check_choice(self.method, EXTRACTION_METHODS, "extraction")
        if self.threshold is not None:
            _check_number(self.threshold, "threshold")

    @property
    def similarity(self) -> str:
        """``dot`` for awesome-align's softmax extraction, ``cosine`` for the rest."""
        return "dot" if self.method == "softmax_threshold" else "cosine"

    def describe(self) -> str:
        method = self.method
        if method in DEFAULT_THRESHOLDS:
            value = DEFAULT_THRESHOLDS[method] if self.threshold is None else self.threshold
            method += f">{value:g}"
        return (
            f"embedding-layer:{self.layer}|granularity:{self.granularity}"
            f"|sim:{self.similarity}|extract:{method}"
        )


def check_threshold_method(method: str, where: str = "") -> None:
    """Refuse a threshold given for a method that reads none (``where`` says where the
    method came from, when not from the options)."""
    if method not in DEFAULT_THRESHOLDS:
        raise XalignError(
            "--threshold applies to --method threshold or softmax_threshold; the method "
            f"here is {method}{where}"
        )


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class Preset:
    name: str
    settings: AlignmentSettings
    why: str


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "default",
            AlignmentSettings(),
            "all heads averaged, subword probabilities summed into words, links where both "
            "directions agree (inter); penultimate layer (Garg et al. 2019), the last one in "
            "decoders of 3 layers or fewer: the best setting measured on xalign's "
            "synthetic-language model (README)",
        ),
        Preset(
            "garg",
            AlignmentSettings(layers=(-2,), heads=None, shift=False, method="argmax"),
            "Garg et al. 2019: penultimate layer, heads averaged",
        ),
        Preset(
            "shift-att",
            AlignmentSettings(layers=(-2,), heads=None, shift=True, method="argmax"),
            "Chen et al. 2020: read target word i at the step where it is the decoder input",
        ),
        Preset(
            "opus-align",
            AlignmentSettings(layers=(-1,), heads=(0,), shift=False, method="argmax"),
            "OPUS-MT transformer-align models: decoder head 0 of the last layer is trained "
            "on guided alignments (what Marian's --alignment reads)",
        ),
    )
}

# The model families the attention path reads (config.json model_type), as users know them.
FAMILY_NAMES: dict[str, str] = {
    "marian": "MarianMT (OPUS-MT, bilingual and multilingual >>xxx<<)",
    "m2m_100": "M2M100 and NLLB (--src-lang, --tgt-lang)",
    "mbart": "mBART and mBART-50 (--src-lang, --tgt-lang)",
    "t5": "T5 (--source-prefix)",
    "mt5": "mT5 (--source-prefix)",
    "bart": "BART",
    "fsmt": "FSMT (fairseq WMT19)",
}


def parse_layers(spec: str) -> tuple[int, ...]:
    """``-2``, ``3``, ``1,2`` or a Python-style range ``2:5`` (layers 2, 3 and 4)."""
    try:
        layers: list[int] = []
        for part in spec.split(","):
            part = part.strip()
            if ":" in part:
                start, stop = (int(x) for x in part.split(":"))
                if (start < 0) != (stop < 0) and stop != 0:
                    raise ValueError
                layers.extend(range(start, stop))
            else:
                layers.append(int(part))
    except ValueError:
        raise XalignError(
            f"cannot read --layers {spec!r}; give an index (-2), a list (3,4) or a range (2:5)"
        ) from None
    if not layers:
        raise XalignError(f"--layers {spec!r} selects no layer")
    return tuple(layers)


def parse_heads(spec: str) -> tuple[int, ...] | None:
    """``mean`` (all heads averaged) or a list of head indices ``0,3``."""
    if spec.strip().lower() in ("mean", "all"):
        return None
    try:
        return tuple(int(part) for part in spec.split(","))
    except ValueError:
        raise XalignError(
            f"cannot read --heads {spec!r}; give 'mean' or indices like 0,3"
        ) from None


def resolve_settings(preset: str = "default", **overrides: object) -> AlignmentSettings:
    """The preset's settings with the given fields replaced."""
    if preset not in PRESETS:
        raise XalignError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[preset].settings, **overrides)


# --------------------------------------------------------------------------- aligner specs

# Options of the attention path that an encoder-only model cannot use.
ATTENTION_ONLY_OPTIONS = ("preset", "layers", "heads", "shift", "pooling", "symmetrize")


@dataclass(frozen=True)
class EmbeddingOptions:
    """The embedding path's options as the user gave them; ``None`` = not given (default)."""

    layer: int | None = None
    granularity: str | None = None
    method: str | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        self.settings()  # validates every value that was given

    def settings(self) -> EmbeddingSettings:
        return EmbeddingSettings(
            layer=DEFAULT_EMBEDDING_LAYER if self.layer is None else self.layer,
            granularity=self.granularity or DEFAULT_GRANULARITY,
            method=self.method or DEFAULT_EMBEDDING_METHOD,
            threshold=self.threshold,
        )

    @property
    def given_only_here(self) -> list[str]:
        """The options given that only the embedding path reads, by option name."""
        given = {"embedding_layer": self.layer, "granularity": self.granularity}
        return [name for name, value in given.items() if value is not None]


@dataclass(frozen=True)
class AlignerSpec:
    """Everything needed to build an aligner.

    ``settings`` are the attention path's; ``embedding`` the encoder path's.
    ``attention_options_given`` names the attention-only options (of
    :data:`ATTENTION_ONLY_OPTIONS`) the user set explicitly, so that an encoder-only
    model can refuse them by name.
    """

    model: str
    settings: AlignmentSettings = field(default_factory=AlignmentSettings)
    batching: BatchingSettings = field(default_factory=BatchingSettings)
    reverse_model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    src_lang: str | None = None
    tgt_lang: str | None = None
    source_prefix: str | None = None
    target_token: str | None = None
    include_matrix: bool = False
    embedding: EmbeddingOptions = field(default_factory=EmbeddingOptions)
    attention_options_given: tuple[str, ...] = ()
    # None: ``settings`` are used as they are. A tuple: ``settings`` are the default
    # preset plus the fields named here, which the user gave; a model folder that records
    # its own settings (xalign.json, written by `xalign train`) replaces the preset part.
    defaults_from_model: tuple[str, ...] | None = None
    # Where ``settings`` came from when not from options (the signature's "settings:"
    # field): "auto" when --preset auto chose them on the corpus.
    settings_source: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.attention_options_given) - set(ATTENTION_ONLY_OPTIONS)
        if unknown:
            raise ValueError(f"not attention-only options: {sorted(unknown)}")
        if self.defaults_from_model is not None:
            names = {f.name for f in fields(AlignmentSettings)}
            unknown = set(self.defaults_from_model) - names
            if unknown:
                raise ValueError(f"not AlignmentSettings fields: {sorted(unknown)}")

    @property
    def attention_only_given(self) -> list[str]:
        """Every option given that only the attention path reads, by option name."""
        given = list(self.attention_options_given)
        for name in ("reverse_model", "src_lang", "tgt_lang", "target_token", "source_prefix"):
            if getattr(self, name) is not None:
                given.append(name)
        return given


# --------------------------------------------------------------------------- training

TEACHER_KINDS = {
    "eflomal": "eflomal (pip install eflomal) run on the corpus, both directions, symmetrised",
    "self": "the model's own links, read with its current settings (self-training)",
}
TRAINING_SCOPES = {
    "head": "the chosen layer's cross-attention query and key projections",
    "layer": "every parameter of the chosen decoder layer",
    "model": "every parameter of the model",
}


@dataclass(frozen=True)
class TeacherSpec:
    """Where the taught word links come from: ``eflomal``, ``self`` or a file's path."""

    source: str = "eflomal"
    format: str = "auto"  # a file's format (align_cli.io.formats.READ_FORMATS, or auto)
    one_based: bool = False  # a file's indices start at 1
    reverse: bool = False  # a file is target first
    symmetrize: str = "grow-diag-final-and"  # how eflomal's two directions combine

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source:
            raise XalignError("the teacher is eflomal, self, or an alignment file's path")
        _check_choice(self.symmetrize, (*SYMMETRIZATIONS, "forward", "reverse"), "symmetrisation")

    @property
    def is_file(self) -> bool:
        return self.source not in TEACHER_KINDS


@dataclass(frozen=True)
class TrainingSettings:
    """How ``xalign train`` teaches a head to align (README, "Training a model to align":
    the defaults are the best measured setting)."""

    # The taught head: head 0 of the first decoder layer, read at the rows where each
    # target word is the decoder's input (Shift-Att, Chen et al. 2020) rather than where it
    # is predicted. There the query holds the word itself, and aligning is looking it up
    # in the source; at the predicting rows of the last layer the word is still being
    # decided (README, "Teaching a model to align": 1.37 vs 2.64 AER).
    layer: int = 0  # decoder layer of the taught head (negative: from the end)
    head: int = 0  # the taught cross-attention head
    shift: bool = True
    scope: str = "layer"  # which parameters learn (TRAINING_SCOPES)
    null: bool = True  # teach unaligned target words to attend to the source's </s>
    translation_weight: float = 1.0  # weight of the translation loss beside the alignment's
    epochs: int = 3
    max_steps: int | None = None  # stop after this many steps, even mid-epoch
    batch_size: int = 32  # pairs per batch at most
    max_tokens: int = 3000  # padded source + target tokens per batch at most
    learning_rate: float = 1e-3
    warmup: float = 0.05  # share of training with a rising learning rate
    seed: int = 0
    shuffle_window: int = 20000  # pairs shuffled together (memory grows with it)
    checkpoint_every: int = 200  # steps between checkpoints
    # The extraction the trained model records in xalign.json; None: the one whose links
    # agree best with the teacher's on the first calibration_pairs pairs of the corpus.
    method: str | None = None
    threshold: float = 0.1  # for method "threshold"
    calibration_pairs: int = 1000

    def __post_init__(self) -> None:
        _check_choice(self.scope, TRAINING_SCOPES, "training scope")
        if self.method is not None:
            _check_choice(self.method, EXTRACTION_METHODS, "extraction")
        for name in ("layer", "head", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise XalignError(f"{name} must be an integer, not {value!r}")
        for name in (
            "epochs",
            "batch_size",
            "max_tokens",
            "shuffle_window",
            "checkpoint_every",
            "calibration_pairs",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise XalignError(f"{name} must be a positive integer, not {value!r}")
        if self.max_steps is not None and (
            not isinstance(self.max_steps, int) or self.max_steps < 1
        ):
            raise XalignError(f"max_steps must be a positive integer, not {self.max_steps!r}")
        for name in ("translation_weight", "learning_rate", "warmup", "threshold"):
            _check_number(getattr(self, name), name)
        if self.translation_weight < 0 or self.learning_rate <= 0 or not 0 <= self.warmup < 1:
            raise XalignError(
                "translation_weight must be >= 0, learning_rate > 0 and warmup in [0, 1)"
            )

    def alignment_settings(self) -> AlignmentSettings:
        """How the trained model is read: its taught head, with the chosen extraction
        (argmax where it is left to calibration)."""
        return AlignmentSettings(
            layers=(self.layer,),
            heads=(self.head,),
            shift=self.shift,
            pooling="sum",
            method=self.method or "argmax",
            threshold=self.threshold,
            null=self.null,
        )
