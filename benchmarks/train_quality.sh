#!/usr/bin/env bash
# The alignment-quality table of README.md ("Teaching a model to align: xalign train"):
# every row's command, on the committed synthetic model and its 300 held-out pairs.
# Run by hand, never in CI (about 15 minutes on 2 CPU cores):
#
#     bash benchmarks/train_quality.sh [MODEL] [WORK]
#
# MODEL defaults to tests/data/synthetic/fwd; WORK (default out/train-quality) receives the
# generated training corpus, eflomal's links, the trained model and every output. For
# another synthetic language (a model made by scripts/train_synthetic_marian.py
# --lexicon-seed K --out DIR), set LEXICON_SEED=K and HELDOUT=DIR/heldout. Needs
# eflomal (pip install -e ".[train]"). eflomal samples from /dev/urandom, so its rows (and
# the trained model, which learns from its links) move by a few tenths between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-tests/data/synthetic/fwd}
WORK=${2:-out/train-quality}
HELDOUT=${HELDOUT:-tests/data/synthetic/heldout}
LEXICON_SEED=${LEXICON_SEED:-0}
THREADS=${THREADS:-1}
mkdir -p "$WORK"

score() {  # score NAME FILE: one table row from xalign eval --json
    python - "$1" "$2" "$HELDOUT.gold" <<'EOF'
import json, subprocess, sys
name, predicted, gold = sys.argv[1:4]
out = subprocess.run(["xalign", "eval", gold, predicted, "--json"],
                     check=True, capture_output=True, text=True).stdout
totals = json.loads(out)
totals = totals.get("totals", totals)
print(f"| {name} | {100 * totals['aer']:.2f} | {100 * totals['precision']:.2f} | "
      f"{100 * totals['recall']:.2f} |")
EOF
}

# A fresh training corpus from the same generator: the lexicon of the held-out set, a
# sentence seed of its own (3), held-out sources left out.
python scripts/synthetic_language.py --count 40000 --seed 3 --lexicon-seed "$LEXICON_SEED" \
    --exclude-pairs "$HELDOUT.src-tgt" --pairs "$WORK/train.src-tgt" --gold "$WORK/train.gold"

echo "| setting | AER % | P % | R % |"
echo "|---|---|---|---|"

# Zero-shot: the default preset.
xalign extract -i "$HELDOUT.src-tgt" -m "$MODEL" -o "$WORK/default.pharaoh" --force -q \
    --threads "$THREADS"
score "zero-shot, default preset" "$WORK/default.pharaoh"

# Zero-shot: --preset auto, chosen by agreement with eflomal on the first 1000 pairs of
# the user's corpus (held-out pairs first, then training pairs: 10,000 in all).
cat "$HELDOUT.src-tgt" <(head -n 9700 "$WORK/train.src-tgt") > "$WORK/corpus10k.src-tgt"
xalign extract -i "$WORK/corpus10k.src-tgt" -m "$MODEL" --preset auto -o "$WORK/auto10k.pharaoh" \
    --force --threads "$THREADS" 2> "$WORK/auto.log"
head -n 300 "$WORK/auto10k.pharaoh" > "$WORK/auto.pharaoh"
score "zero-shot, --preset auto ($(sed -n 's/^xalign: auto: \([^ ]*\): agrees.*/\1/p' "$WORK/auto.log"))" \
    "$WORK/auto.pharaoh"

# eflomal on the training corpus and the held-out pairs together (it needs the pairs it
# aligns in its input), both directions, grow-diag-final-and. Its first 40,000 lines are
# the teacher file of the next row, so that the student is compared with its own teacher.
cat "$WORK/train.src-tgt" "$HELDOUT.src-tgt" > "$WORK/all.src-tgt"
eflomal-align -i "$WORK/all.src-tgt" -f "$WORK/eflomal.fwd" -r "$WORK/eflomal.rev" --overwrite
xalign symmetrize "$WORK/eflomal.fwd" "$WORK/eflomal.rev" -o "$WORK/eflomal.gdfa"
tail -n 300 "$WORK/eflomal.gdfa" > "$WORK/eflomal.pharaoh"
head -n 40000 "$WORK/eflomal.gdfa" > "$WORK/teacher.pharaoh"
score "eflomal, grow-diag-final-and" "$WORK/eflomal.pharaoh"

# xalign train with its defaults and that teacher file (the held-out pairs are never
# seen), then extract with the settings the model records.
/usr/bin/time -f "xalign train: %e s" xalign train -i "$WORK/train.src-tgt" -m "$MODEL" \
    -o "$WORK/trained" --teacher "$WORK/teacher.pharaoh" --force --threads "$THREADS"
xalign extract -i "$HELDOUT.src-tgt" -m "$WORK/trained" -o "$WORK/trained.pharaoh" --force \
    --threads "$THREADS" 2> "$WORK/trained.log"
score "xalign train (defaults, the eflomal links above as --teacher)" "$WORK/trained.pharaoh"

# The same with --teacher eflomal (the default): eflomal runs inside, on the training
# corpus alone.
xalign train -i "$WORK/train.src-tgt" -m "$MODEL" -o "$WORK/trained-eflomal" --force \
    --threads "$THREADS"
xalign extract -i "$HELDOUT.src-tgt" -m "$WORK/trained-eflomal" \
    -o "$WORK/trained-eflomal.pharaoh" --force -q --threads "$THREADS"
score "xalign train (defaults, --teacher eflomal)" "$WORK/trained-eflomal.pharaoh"

echo
grep -o "signature .*" "$WORK/trained.log"
# Paired bootstrap tests (xalign eval GOLD A B): the AER line of each comparison.
echo "trained vs zero-shot default:"
xalign eval "$HELDOUT.gold" "$WORK/trained.pharaoh" "$WORK/default.pharaoh" --bootstrap 10000 \
    | grep "^AER"
echo "trained vs its eflomal teacher:"
xalign eval "$HELDOUT.gold" "$WORK/trained.pharaoh" "$WORK/eflomal.pharaoh" --bootstrap 10000 \
    | grep "^AER"
