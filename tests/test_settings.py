"""``align_cli.settings``: the typed options, their validation, the presets and the parsers.

Every value a user can get wrong is refused where the settings are built, with an
:class:`XalignError` of one line (the CLI prints it as is), never later inside a model run.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from align_cli.errors import XalignError
from align_cli.settings import (
    ATTENTION_ONLY_OPTIONS,
    DEFAULT_EMBEDDING_LAYER,
    EXTRACTION_METHODS,
    POOLINGS,
    PRESETS,
    SYMMETRIZATIONS,
    AlignerSpec,
    AlignmentSettings,
    BatchingSettings,
    EmbeddingOptions,
    EmbeddingSettings,
    default_layers,
    parse_heads,
    parse_layers,
    resolve_settings,
)


def one_line_error(call, *args, **kwargs) -> str:
    """Call, expect an XalignError, and return its message (checked to be one line)."""
    with pytest.raises(XalignError) as raised:
        call(*args, **kwargs)
    message = str(raised.value)
    assert message and "\n" not in message, message
    return message


# --------------------------------------------------------------------------- presets

# One value per field that differs from every preset's own value.
OVERRIDES = {
    "layers": (0, 1),
    "heads": (2,),
    "pooling": "max",
    "method": "itermax",
    "threshold": 0.37,
    "symmetrize": "union",
}


def test_the_documented_presets_exist_with_their_published_settings():
    assert set(PRESETS) == {"default", "garg", "shift-att", "opus-align"}
    assert PRESETS["default"].settings == AlignmentSettings()
    garg = PRESETS["garg"].settings
    assert (garg.layers, garg.heads, garg.shift, garg.method) == ((-2,), None, False, "argmax")
    shift_att = PRESETS["shift-att"].settings
    assert (shift_att.layers, shift_att.shift, shift_att.method) == ((-2,), True, "argmax")
    opus = PRESETS["opus-align"].settings
    assert (opus.layers, opus.heads, opus.shift, opus.method) == ((-1,), (0,), False, "argmax")
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.why


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_resolves_to_its_own_settings(preset):
    assert resolve_settings(preset) == PRESETS[preset].settings


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("field", [*OVERRIDES, "shift"])
def test_an_override_replaces_exactly_one_field_of_the_preset(preset, field):
    base = PRESETS[preset].settings
    value = (not base.shift) if field == "shift" else OVERRIDES[field]
    resolved = resolve_settings(preset, **{field: value})
    before, after = dataclasses.asdict(base), dataclasses.asdict(resolved)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {field}
    assert getattr(resolved, field) == value
    assert PRESETS[preset].settings == base  # the preset itself is untouched


def test_an_unknown_preset_is_refused_naming_the_known_ones():
    message = one_line_error(resolve_settings, "fast")
    assert "'fast'" in message
    assert all(name in message for name in PRESETS)


def test_an_override_is_validated_like_any_settings():
    assert "'median'" in one_line_error(resolve_settings, "garg", pooling="median")


# --------------------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("spec", "layers"),
    [
        ("-2", (-2,)),
        ("3", (3,)),
        ("0", (0,)),
        ("2,3", (2, 3)),
        (" 2 , 3 ", (2, 3)),
        ("2:5", (2, 3, 4)),  # Python's range: the stop is left out
        ("0:1", (0,)),
        ("-3:-1", (-3, -2)),
        ("-2:0", (-2, -1)),  # a stop of 0 counts from the end, like a slice
        ("0,4:6", (0, 4, 5)),
    ],
)
def test_parse_layers_reads_indices_lists_and_ranges(spec, layers):
    assert parse_layers(spec) == layers


@pytest.mark.parametrize("start", range(-3, 4))
@pytest.mark.parametrize("stop", range(-3, 6))
def test_parse_layers_range_is_python_range_when_the_signs_agree(start, stop):
    signs_agree = (start < 0) == (stop < 0) or stop == 0
    expected = tuple(range(start, stop))
    if signs_agree and expected:
        assert parse_layers(f"{start}:{stop}") == expected
    else:  # an empty range, or one that mixes counting from the start and from the end
        assert "--layers" in one_line_error(parse_layers, f"{start}:{stop}")


@pytest.mark.parametrize(
    "spec", ["", " ", "x", "mean", "2:", ":3", "1:2:3", "2.5", "1,,2", "2,", "5:2", "2:-1", "3-4"]
)
def test_parse_layers_refuses_junk_in_one_line(spec):
    message = one_line_error(parse_layers, spec)
    assert "--layers" in message and repr(spec) in message


@pytest.mark.parametrize(
    ("spec", "heads"),
    [("mean", None), ("MEAN", None), (" mean ", None), ("all", None), ("0", (0,)), ("0,3", (0, 3))],
)
def test_parse_heads_reads_mean_or_indices(spec, heads):
    assert parse_heads(spec) == heads


@pytest.mark.parametrize("spec", ["", "x", "0,,1", "1.5", "0:2", "avg", "0;3"])
def test_parse_heads_refuses_junk_in_one_line(spec):
    message = one_line_error(parse_heads, spec)
    assert "--heads" in message and repr(spec) in message


# --------------------------------------------------------------------------- validation


def test_valid_settings_are_accepted_as_given():
    settings = AlignmentSettings(
        layers=(-2, 0), heads=(0, 3), shift=True, pooling="max", method="threshold", threshold=1
    )
    assert settings.layers == (-2, 0) and settings.heads == (0, 3) and settings.threshold == 1
    for pooling in POOLINGS:
        AlignmentSettings(pooling=pooling)
    for method in EXTRACTION_METHODS:
        AlignmentSettings(method=method)
    for symmetrize in SYMMETRIZATIONS:
        AlignmentSettings(symmetrize=symmetrize)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"layers": "2"}, "layers"),  # a string, not the parsed tuple
        ({"layers": [2]}, "layers"),
        ({"layers": (2.0,)}, "layers"),
        ({"layers": (True,)}, "layers"),
        ({"layers": ()}, "layer"),
        ({"heads": "0"}, "heads"),
        ({"heads": (0, "1")}, "heads"),
        ({"heads": ()}, "head"),
        ({"pooling": "median"}, "'median'"),
        ({"method": "best"}, "'best'"),
        ({"threshold": "0.1"}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"symmetrize": "both"}, "'both'"),
    ],
)
def test_alignment_settings_refuse_bad_values_when_built(fields, named):
    assert named in one_line_error(AlignmentSettings, **fields)


def test_an_unknown_choice_lists_the_valid_ones():
    message = one_line_error(AlignmentSettings, pooling="median")
    assert all(pooling in message for pooling in POOLINGS)
    message = one_line_error(AlignmentSettings, method="best")
    assert all(method in message for method in EXTRACTION_METHODS)


def test_alignment_settings_refuse_a_shift_that_is_not_a_bool():
    one_line_error(AlignmentSettings, shift="no")


def test_batching_defaults_are_valid():
    assert BatchingSettings() == BatchingSettings(32, 3000, 2000, None)
    assert BatchingSettings(batch_size=1, max_tokens=1, window=1, max_length=1).window == 1


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"window": 0}, "window"),
        ({"window": "10"}, "window"),
        ({"batch_size": -1}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_length": 0}, "max_length"),
        ({"max_length": -3}, "max_length"),
        ({"max_length": 1.5}, "max_length"),
    ],
)
def test_batching_settings_refuse_bad_values_when_built(fields, named):
    message = one_line_error(BatchingSettings, **fields)
    assert named in message and repr(next(iter(fields.values()))) in message


def test_batching_settings_refuse_a_bool_max_length():
    one_line_error(BatchingSettings, max_length=True)


def test_embedding_settings_defaults_and_similarity():
    settings = EmbeddingSettings()
    assert (settings.layer, settings.granularity, settings.method) == (8, "subword", "inter")
    assert settings.similarity == "cosine"
    assert EmbeddingSettings(method="softmax_threshold").similarity == "dot"
    assert EmbeddingSettings(layer=-1).layer == -1  # counted from the top, as hidden_states


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"layer": "8"}, "layer"),
        ({"layer": 8.0}, "layer"),
        ({"layer": True}, "layer"),
        ({"granularity": "char"}, "'char'"),
        ({"method": "best"}, "'best'"),
        ({"threshold": "high"}, "threshold"),
    ],
)
def test_embedding_settings_refuse_bad_values_when_built(fields, named):
    assert named in one_line_error(EmbeddingSettings, **fields)


@pytest.mark.parametrize(("depth", "layers"), [(1, (-1,)), (2, (-1,)), (3, (-1,)), (4, (-2,))])
def test_default_layers_by_decoder_depth(depth, layers):
    assert default_layers(depth) == layers


@pytest.mark.parametrize("depth", [6, 12, 24])
def test_deep_decoders_default_to_the_penultimate_layer(depth):
    assert default_layers(depth) == (-2,)


# --------------------------------------------------------------------------- aligner specs


def test_embedding_options_fill_in_the_defaults_for_what_was_not_given():
    assert EmbeddingOptions().settings() == EmbeddingSettings()
    assert EmbeddingOptions(layer=0).settings() == EmbeddingSettings(layer=0)  # 0 is given
    given = EmbeddingOptions(layer=3, granularity="word", method="itermax", threshold=0.2)
    assert given.settings() == EmbeddingSettings(3, "word", "itermax", 0.2)
    assert EmbeddingOptions(layer=None).settings().layer == DEFAULT_EMBEDDING_LAYER


def test_embedding_options_are_validated_when_built():
    assert "'best'" in one_line_error(EmbeddingOptions, method="best")
    assert "'char'" in one_line_error(EmbeddingOptions, granularity="char")
    assert "layer" in one_line_error(EmbeddingOptions, layer="8")


@pytest.mark.parametrize(
    ("options", "only_here"),
    [
        (EmbeddingOptions(), []),
        (EmbeddingOptions(layer=0), ["embedding_layer"]),
        (EmbeddingOptions(granularity="word"), ["granularity"]),
        (EmbeddingOptions(layer=4, granularity="subword"), ["embedding_layer", "granularity"]),
        # --method and --threshold belong to both paths: never refused by an attention model
        (EmbeddingOptions(method="itermax", threshold=0.2), []),
    ],
)
def test_embedding_options_name_the_options_only_the_embedding_path_reads(options, only_here):
    assert options.given_only_here == only_here


def test_aligner_spec_defaults_name_no_attention_only_option():
    spec = AlignerSpec(model="m")
    assert spec.attention_only_given == []
    assert spec.settings == AlignmentSettings() and spec.batching == BatchingSettings()


@pytest.mark.parametrize(
    "name", ["reverse_model", "src_lang", "tgt_lang", "target_token", "source_prefix"]
)
def test_aligner_spec_names_each_language_and_reverse_option_given(name):
    assert AlignerSpec(model="m", **{name: "x"}).attention_only_given == [name]


def test_aligner_spec_names_every_attention_only_option_given():
    spec = AlignerSpec(
        model="m",
        reverse_model="rev",
        src_lang="en",
        tgt_lang="fr",
        target_token=">>fra<<",
        source_prefix="translate English to French:",
        attention_options_given=("layers", "symmetrize"),
    )
    assert spec.attention_only_given == [
        "layers",
        "symmetrize",
        "reverse_model",
        "src_lang",
        "tgt_lang",
        "target_token",
        "source_prefix",
    ]
    for name in ATTENTION_ONLY_OPTIONS:
        assert AlignerSpec(model="m", attention_options_given=(name,)).attention_only_given == [
            name
        ]


@pytest.mark.parametrize("name", ["method", "threshold", "embedding_layer", "Layers", "batch"])
def test_aligner_spec_refuses_an_unknown_attention_option_name(name):
    with pytest.raises(ValueError, match=repr(name)):
        AlignerSpec(model="m", attention_options_given=(name,))


# --------------------------------------------------------------------------- imports


def test_importing_settings_does_not_import_torch():
    script = (
        "import sys, align_cli.settings\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
