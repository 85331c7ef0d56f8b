# %% [markdown]
# # xalign from Python
#
# A notebook-style tour of the Python API: run it as a script
# (`python examples/python_api.py`) or cell by cell (`# %%` cells open in Jupyter via
# jupytext, VS Code and PyCharm). The model is the small MarianMT model trained on xalign's
# synthetic language pair (`tests/data/synthetic/fwd`): a real translation model whose
# attention has learned the alignment, small enough for a laptop. With network access, put
# `"opus-mt-en-fr"` (or any local folder written by `save_pretrained`) in its place.
# The API is documented in `docs/api.md`.

# %%
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import align_cli
from align_cli import SentencePair, XalignError
from align_cli.aligners.attention import AttentionAligner
from align_cli.io.formats import format_jsonl, format_pharaoh, read_pharaoh
from align_cli.model.loading import load_model
from align_cli.settings import AlignmentSettings, resolve_settings
from align_cli.tools.evaluate import evaluate
from align_cli.tools.show import render_terminal, save_figure
from align_cli.tools.views import view_from_result

SYNTHETIC = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthetic"
if not (SYNTHETIC / "fwd").is_dir():
    print(f"skipped: this example needs the synthetic model in {SYNTHETIC}/fwd")
    sys.exit(0)

# %% [markdown]
# ## One call
# `align_cli.align` loads the model, aligns and yields one result per pair: the quickest
# way in. It loads the model on every call, so for real work load it once (next cell).

# %%
source_words = "boladobabe luntefida gir bapu ki su sesus kimu"
target_words = "mozowechaisai kunzunsicha wen husese chaizen hainuze kai"
for result in align_cli.align([source_words], [target_words], model=str(SYNTHETIC / "fwd")):
    print(result.links)

# %% [markdown]
# ## Load a model once, align many pairs
# `load_model` takes a folder, a hub id or `opus-mt-xx-yy`. An `AttentionAligner` holds the model
# and the settings; `align_texts` takes sentences (split on whitespace) or word lists.

# %%
model = load_model(str(SYNTHETIC / "fwd"), device="cpu")
aligner = AttentionAligner(model, AlignmentSettings(), include_matrix=True)
print("signature:", aligner.signature)

pairs = [
    line.split("|||")
    for line in (SYNTHETIC / "heldout.src-tgt").read_text(encoding="utf-8").splitlines()
]
sources = [tuple(source.split()) for source, _ in pairs]
targets = [tuple(target.split()) for _, target in pairs]
results = aligner.align_texts(sources[:3], targets[:3])

# %% [markdown]
# ## What a result holds
# `AlignmentResult.pair` has the words; `links` are 0-based `(source, target)` pairs,
# sorted; `scores[k]` is the attention probability of `links[k]`; `matrix` (asked for with
# `include_matrix=True`) is the word-level matrix, one row per source word.

# %%
first = results[0]
print("source:", " ".join(first.pair.src_words))
print("target:", " ".join(first.pair.tgt_words))
for (i, j), score in zip(first.links, first.scores, strict=True):
    print(f"  {first.pair.src_words[i]:>12} -> {first.pair.tgt_words[j]:<12} {score:.2f}")
print("matrix shape:", first.matrix.shape, "(source words x target words)")
# Each target word's column is a distribution over the source words.
print("columns sum to 1:", np.allclose(first.matrix.sum(axis=0), 1.0, atol=1e-4))

# %% [markdown]
# ## Score against the gold alignment
# `evaluate` takes `(sure, possible)` gold sets and predicted link sets, and returns
# micro-averaged AER, precision, recall and F1 (the synthetic gold is all sure links).

# %%
gold = list(read_pharaoh(str(SYNTHETIC / "heldout.gold")))
count = 100
predicted = [result.links for result in aligner.align_texts(sources[:count], targets[:count])]
scores = evaluate(((g.sure, g.possible) for g in gold[:count]), predicted, worst=1)
totals = scores.totals
print(
    f"{count} held-out pairs: AER {100 * totals.aer:.1f}%  P {100 * totals.precision:.1f}%  "
    f"R {100 * totals.recall:.1f}%  F1 {100 * totals.f1:.1f}%"
)

# %% [markdown]
# ## Other settings
# `AlignmentSettings` picks the layers, heads, Shift-Att, pooling and the extraction method;
# the presets are named settings from the literature (`xalign models` lists them). The
# defaults were chosen by measuring them on this very model (README).

# %%
alternatives = {
    "default": AlignmentSettings(),
    "garg": resolve_settings("garg"),  # penultimate layer, argmax (Garg et al. 2019)
    "shift-att": resolve_settings("shift-att"),  # Chen et al. 2020
    "itermax": AlignmentSettings(method="itermax"),  # SimAlign's IterMax extraction
}
SETTING_KEYS = ("layer", "heads", "shift", "pool", "extract")  # fields of the signature
for name, settings in alternatives.items():
    other = AttentionAligner(model, settings)
    links = [r.links for r in other.align_texts(sources[:count], targets[:count])]
    aer = evaluate(((g.sure, g.possible) for g in gold[:count]), links).totals.aer
    fields = "|".join(f"{key}:{value}" for key, value in other.signature if key in SETTING_KEYS)
    print(f"{name:10} {fields:46} AER {100 * aer:.1f}%")

# %% [markdown]
# ## Is the difference real?
# With `keep_counts=True` an evaluation keeps each sentence's link counts; `compare`
# resamples the sentences (a seeded paired bootstrap) and says, for every measure, how
# sure the difference between two predictions is. On 100 pairs, a small difference is
# often within the noise.

# %%
from align_cli.tools.bootstrap import compare, counts_matrix  # noqa: E402

argmax = AttentionAligner(model, AlignmentSettings(method="argmax"))
argmax_links = [r.links for r in argmax.align_texts(sources[:count], targets[:count])]
gold_sets = [(g.sure, g.possible) for g in gold[:count]]
default_counts = evaluate(gold_sets, predicted, keep_counts=True).sentence_counts
argmax_counts = evaluate(gold_sets, argmax_links, keep_counts=True).sentence_counts
comparison = compare(counts_matrix(default_counts), counts_matrix(argmax_counts), seed=0)
test = comparison.tests["aer"]
low, high = comparison.intervals[0]["aer"].low, comparison.intervals[0]["aer"].high
print(f"default AER 95% interval: {100 * low:.1f} to {100 * high:.1f}")
print(
    f"default - argmax: AER {100 * test.difference:+.2f} points, 95% interval "
    f"{100 * test.interval.low:+.2f} to {100 * test.interval.high:+.2f}, p = {test.p_value:.3f}"
)

# %% [markdown]
# ## Look at it
# `view_from_result` turns a result (and its gold) into what `xalign show` draws:
# a grid in the terminal, or a PNG/SVG/PDF with matplotlib.

# %%
worst = scores.worst[0].index
# align_pairs takes SentencePair objects; their index is what the picture calls the line.
[worst_result] = aligner.align_pairs([SentencePair(worst, sources[worst], targets[worst])])
view = view_from_result(worst_result, gold[worst])
print(render_terminal(view, color=False).plain)
folder = Path(tempfile.mkdtemp(prefix="xalign-api-"))
try:
    print("figure:", save_figure([view], folder / "worst.png"))
except XalignError as error:  # matplotlib is optional: pip install 'xalign[plot]'
    print("no figure:", error)

# %% [markdown]
# ## Write files
# The writers are pure functions from a result to one line of text.

# %%
print(format_pharaoh(first.links))
print(format_jsonl(first, include_matrix=False)[:120], "...")
