"""`xalign show` and align_cli.show: marks, the terminal grid, figures, and the command."""

from __future__ import annotations

import json
import re
import struct
import sys

import numpy as np
import pytest

from align_cli.errors import XalignError
from align_cli.io.formats import format_jsonl
from align_cli.tools.evaluate import count_links
from align_cli.tools.show import (
    MARK_STYLES,
    legend_entries,
    render_figure,
    render_terminal,
    save_figure,
)
from align_cli.tools.views import Mark, PairView, classify_links
from align_cli.types import AlignmentResult, SentencePair
from tests.cli_runner import run_cli

SRC = ("the", "black", "cat", "sleeps", ".")
TGT = ("le", "chat", "noir", "dort", ".")
# Gold: sure the-le, cat-chat, black-noir, .-. ; possible sleeps-dort and the-chat.
SURE = frozenset({(0, 0), (2, 1), (1, 2), (4, 4)})
POSSIBLE = frozenset({(3, 3), (0, 1)})
# Predicted: two right sure links, one right possible link, two spurious, and it misses
# black-noir and .-. (sure) and the-chat (possible, no error).
PREDICTED = frozenset({(0, 0), (2, 1), (3, 3), (1, 1), (4, 3)})


def example_view(matrix: np.ndarray | None = None, **changes) -> PairView:
    fields = dict(
        index=2,
        src_words=SRC,
        tgt_words=TGT,
        predicted=PREDICTED,
        matrix=matrix,
        sure=SURE,
        possible=POSSIBLE,
    )
    fields.update(changes)
    return PairView(**fields)


def peaked_matrix() -> np.ndarray:
    """Columns that sum to 1, peaked on the predicted links (like attention)."""
    matrix = np.full((len(SRC), len(TGT)), 0.05)
    for i, j in PREDICTED:
        matrix[i, j] = 0.8
    return matrix / matrix.sum(axis=0, keepdims=True)


# --------------------------------------------------------------------------- marks


def test_every_cell_gets_the_mark_its_gold_and_prediction_say():
    marks = classify_links(PREDICTED, SURE, POSSIBLE)
    assert marks == {
        (0, 0): Mark.CORRECT,
        (2, 1): Mark.CORRECT,
        (3, 3): Mark.CORRECT_POSSIBLE,
        (1, 1): Mark.SPURIOUS,
        (4, 3): Mark.SPURIOUS,
        (1, 2): Mark.MISSED,
        (4, 4): Mark.MISSED,
        (0, 1): Mark.UNPREDICTED_POSSIBLE,
    }


def test_a_link_both_sure_and_possible_is_sure_and_no_gold_means_plain_predictions():
    assert classify_links({(0, 0)}, {(0, 0)}, {(0, 0), (1, 1)}) == {
        (0, 0): Mark.CORRECT,
        (1, 1): Mark.UNPREDICTED_POSSIBLE,
    }
    assert classify_links({(0, 0), (1, 2)}, None) == {
        (0, 0): Mark.PREDICTED,
        (1, 2): Mark.PREDICTED,
    }


def test_errors_in_the_marks_are_exactly_the_errors_aer_counts():
    view = example_view()
    counts = count_links(SURE, POSSIBLE, PREDICTED)
    marks = list(view.marks().values())
    # |A| - |A∩P| predicted links are outside the gold; |S| - |A∩S| sure links are missed.
    assert marks.count(Mark.SPURIOUS) == counts.predicted - counts.correct_possible == 2
    assert marks.count(Mark.MISSED) == counts.sure - counts.correct_sure == 2
    assert view.counts() == counts
    assert view.summary() == (
        f"line 3 · AER {100 * counts.aer:.1f}% · P 60.0% · R 50.0% · 2 missed · 2 spurious"
    )


def test_a_view_rejects_a_matrix_or_links_that_do_not_fit_the_words():
    with pytest.raises(XalignError, match="matrix is 2x2 but the pair has 5 source"):
        example_view(np.zeros((2, 2)))
    with pytest.raises(XalignError, match="gold link 5-0 .* 1-based"):
        example_view(sure=frozenset({(5, 0)}))


# --------------------------------------------------------------------------- terminal


def plain(view: PairView, **options) -> list[str]:
    return render_terminal(view, **options).plain.split("\n")


def cell_grid(lines: list[str], cell: int = 3) -> dict[tuple[int, int], str]:
    """The character at the centre of every cell, read back from the text."""
    rows = [line for line in lines if "│" in line]
    grid = {}
    for i, row in enumerate(rows):
        cells = row.split("│", 1)[1]
        for j in range(len(cells) // cell):
            grid[(i, j)] = cells[j * cell + (1 if cell == 3 else 0)]
    return grid


def test_terminal_grid_shows_words_on_both_axes_and_each_mark_in_its_cell():
    lines = plain(example_view())
    assert lines[0].startswith("line 3 · AER")
    # Source words label the rows, with their 0-based index.
    rows = [line for line in lines if "│" in line]
    assert [row.split("│")[0].split() for row in rows] == [[str(i), w] for i, w in enumerate(SRC)]
    # Target words are written downwards, one letter a line, above their column.
    header = lines[1 : lines.index(next(line for line in lines if line.strip().startswith("0")))]
    prefix = rows[0].index("│") + 1
    for j, word in enumerate(TGT):
        column = "".join(
            line[prefix + 3 * j + 1] if len(line) > prefix + 3 * j + 1 else " " for line in header
        )
        assert column.strip() == word
    grid = cell_grid(lines)
    for link, mark in example_view().marks().items():
        assert grid[link] == MARK_STYLES[mark].symbol, link
    assert sum(1 for symbol in grid.values() if symbol != " ") == len(example_view().marks())


def test_without_colour_the_scores_show_as_glyphs_and_with_colour_as_backgrounds():
    matrix = np.zeros((len(SRC), len(TGT)))
    # Unmarked cells in quarters of [0, 1]: blank, light, medium, dark.
    matrix[1, 0], matrix[2, 0], matrix[3, 0], matrix[4, 0] = 0.9, 0.6, 0.3, 0.1
    grid = cell_grid(plain(example_view(matrix), color=False))
    assert [grid[(i, 0)] for i in (1, 2, 3, 4)] == ["▓", "▒", "░", " "]
    assert grid[(0, 0)] == MARK_STYLES[Mark.CORRECT].symbol  # a mark wins over the shade
    coloured = render_terminal(example_view(matrix), color=True)
    backgrounds = {str(span.style) for span in coloured.spans if " on #" in str(span.style)}
    assert len(backgrounds) >= 3  # white, light and dark cells
    assert cell_grid(coloured.plain.split("\n"))[(1, 0)] == " "


def test_attention_shades_on_a_fixed_scale_and_similarities_on_their_own_range():
    # Flat attention (every column a distribution, 0.2 everywhere) stays pale...
    flat = np.full((len(SRC), len(TGT)), 0.2)
    grid = cell_grid(plain(example_view(flat, predicted=frozenset(), sure=None), color=False))
    assert set(grid.values()) == {" "}
    # ...while similarities in [0.5, 0.9] (columns are not distributions) use their range.
    similarity = np.full((len(SRC), len(TGT)), 0.5)
    similarity[1, 0] = 0.9
    view = example_view(similarity, predicted=frozenset(), sure=None, value_name="similarity")
    grid = cell_grid(plain(view, color=False))
    assert grid[(1, 0)] == "▓" and grid[(0, 0)] == " "


def test_a_narrow_terminal_narrows_the_cells_then_leaves_out_the_last_words():
    words = tuple(f"w{j}" for j in range(30))
    view = PairView(0, ("a", "b"), words, frozenset({(0, 29), (1, 3)}))
    lines = plain(view, width=70)  # 30 columns x 2 characters fit; x 3 would not
    assert not any("left out" in line for line in lines)
    assert cell_grid(lines, cell=2)[(0, 29)] == MARK_STYLES[Mark.PREDICTED].symbol
    lines = plain(view, width=40)
    assert any("target words" in line and "left out" in line for line in lines)
    assert cell_grid(lines, cell=2)[(1, 3)] == MARK_STYLES[Mark.PREDICTED].symbol


def test_legend_lists_only_the_marks_that_occur():
    legend = " | ".join(entry.plain for entry in legend_entries([example_view()], color=False))
    for mark in (Mark.CORRECT, Mark.CORRECT_POSSIBLE, Mark.SPURIOUS, Mark.MISSED):
        assert MARK_STYLES[mark].label in legend
    assert MARK_STYLES[Mark.PREDICTED].label not in legend
    assert "shade" not in legend  # no matrix, no shading
    no_gold_view = example_view(peaked_matrix(), sure=None)
    no_gold = " | ".join(entry.plain for entry in legend_entries([no_gold_view], color=False))
    assert MARK_STYLES[Mark.PREDICTED].label in no_gold and "shade: attention" in no_gold


# --------------------------------------------------------------------------- figures


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_figure_puts_each_mark_in_its_cell_with_its_colour():
    from matplotlib.colors import to_rgba

    figure = render_figure([example_view(peaked_matrix())])
    heatmap = figure.axes[0]
    assert [label.get_text() for label in heatmap.get_xticklabels()] == [
        f"{j} {w}" for j, w in enumerate(TGT)
    ]
    assert [label.get_text() for label in heatmap.get_yticklabels()] == [
        f"{w} {i}" for i, w in enumerate(SRC)
    ]
    found: dict[tuple[int, int], tuple] = {}
    for collection in heatmap.collections:
        offsets = collection.get_offsets()
        # A hollow marker has no face colours at all: read it as transparent.
        faces = collection.get_facecolors()
        faces = np.zeros((1, 4)) if len(faces) == 0 else faces
        faces = np.broadcast_to(faces, (len(offsets), 4))
        edges = np.broadcast_to(collection.get_edgecolors(), (len(offsets), 4))
        for (x, y), face, edge in zip(offsets, faces, edges, strict=True):
            found[(int(y), int(x))] = (tuple(face), tuple(edge))
    assert set(found) == set(example_view().marks())
    for link, mark in example_view().marks().items():
        style = MARK_STYLES[mark]
        face, edge = found[link]
        if style.face == "none":
            assert face[3] == 0 and edge == pytest.approx(to_rgba(style.edge))
        else:
            assert face == pytest.approx(to_rgba(style.face))
    legend_labels = {text.get_text() for text in figure.legends[0].get_texts()}
    assert legend_labels == {MARK_STYLES[m].label for m in set(example_view().marks().values())}


def test_png_is_written_and_grows_with_the_sentences(tmp_path):
    small = save_figure([example_view(peaked_matrix())], tmp_path / "small.png")
    long_words = tuple(f"mot{j}" for j in range(20))
    wide_view = PairView(0, SRC, long_words, frozenset({(0, 19)}), np.full((5, 20), 0.2))
    wide = save_figure([wide_view], tmp_path / "wide.png")
    both = save_figure([example_view(peaked_matrix()), wide_view], tmp_path / "both.png")
    small_w, small_h = png_size(small)
    wide_w, wide_h = png_size(wide)
    both_w, both_h = png_size(both)
    dpi = 110
    # 20 cells of 0.34 inch at 110 dpi are 748 pixels: the picture holds them all.
    assert wide_w >= 20 * 0.34 * dpi and wide_w > small_w
    assert small_h >= 5 * 0.34 * dpi
    assert both_h > max(small_h, wide_h) and both_w == pytest.approx(wide_w, abs=40)
    assert small.stat().st_size > 10_000


def test_svg_and_pdf_by_suffix_and_an_unknown_suffix_is_an_error(tmp_path):
    svg = save_figure([example_view()], tmp_path / "pair.svg")
    pdf = save_figure([example_view()], tmp_path / "pair.PDF")
    assert b"<svg" in svg.read_bytes()[:2000]
    assert pdf.read_bytes().startswith(b"%PDF")
    with pytest.raises(XalignError, match=r"\.png, \.svg, \.pdf"):
        save_figure([example_view()], tmp_path / "pair.jpg")


def test_missing_matplotlib_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(XalignError, match=r"pip install 'xalign\[plot\]'"):
        render_figure([example_view()])


# --------------------------------------------------------------------------- the command


@pytest.fixture()
def files(tmp_path):
    """A corpus of three pairs, a Pharaoh prediction, and a 1-based talp gold."""
    corpus = tmp_path / "corpus.src-tgt"
    corpus.write_text(
        f"{' '.join(SRC)} ||| {' '.join(TGT)}\na b ||| A B\nx y z ||| X Y Z\n",
        encoding="utf-8",
    )
    predicted = tmp_path / "pred.txt"
    predicted.write_text(
        " ".join(f"{i}-{j}" for i, j in sorted(PREDICTED)) + "\n0-0 1-1\n0-0 1-2 2-1\n"
    )
    gold = tmp_path / "gold.talp"
    gold_line = " ".join(
        [f"{i + 1}-{j + 1}" for i, j in sorted(SURE)]
        + [f"{i + 1}p{j + 1}" for i, j in sorted(POSSIBLE)]
    )
    gold.write_text(gold_line + "\n1-1 2-2\n1-1 2-2 3-3\n")
    return corpus, predicted, gold


def test_show_from_files_prints_the_grid_and_the_legend(files):
    corpus, predicted, gold = files
    result = run_cli(
        ["show", "-i", corpus, "-a", predicted, "-g", gold, "--gold-one-based", "--lines", "1"]
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0].startswith("line 1 · AER")
    grid = cell_grid(lines)
    for link, mark in example_view().marks().items():
        assert grid[link] == MARK_STYLES[mark].symbol
    assert MARK_STYLES[Mark.MISSED].label in result.stdout


def test_worst_shows_the_sentences_eval_per_sentence_ranks_worst(files):
    corpus, predicted, gold = files
    ranked = run_cli(["eval", gold, predicted, "--gold-one-based", "--per-sentence", "2", "--json"])
    worst_lines = [entry["index"] + 1 for entry in json.loads(ranked.stdout)["worst"]]
    assert worst_lines == [3, 1]  # x y z has 2 errors of 3 links; line 2 is perfect
    result = run_cli(
        ["show", "-i", corpus, "-a", predicted, "-g", gold, "--gold-one-based", "--worst", "2"]
    )
    assert result.exit_code == 0, result.stderr
    titles = [line.split(" · ")[0] for line in result.stdout.split("\n") if line.startswith("line")]
    assert titles == [f"line {n}" for n in worst_lines]


def test_show_reads_words_and_matrices_from_jsonl_and_writes_a_png(tmp_path):
    pair = SentencePair(0, SRC, TGT)
    result = AlignmentResult(pair, sorted(PREDICTED), [0.5] * len(PREDICTED), peaked_matrix())
    jsonl = tmp_path / "out.jsonl"
    jsonl.write_text(format_jsonl(result, include_matrix=True) + "\n", encoding="utf-8")
    printed = run_cli(["show", "-a", jsonl])
    assert printed.exit_code == 0, printed.stderr
    assert "shade: score" in printed.stdout
    assert cell_grid(printed.stdout.split("\n"))[(0, 0)] == MARK_STYLES[Mark.PREDICTED].symbol
    figure = tmp_path / "pair.png"
    written = run_cli(["show", "-a", jsonl, "-o", figure])
    assert written.exit_code == 0, written.stderr
    assert png_size(figure)[0] > 200 and "wrote" in written.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lines", "9"], "line 9 asked for, but the file has 3 pair"),
        (["--lines", "2-1"], "cannot read --lines"),
        (["--worst", "1"], "needs --gold"),
        (["--lines", "1", "--worst", "1", "-g", "GOLD"], "exclude each other"),
        (["-g", "GOLD"], "outside the pair .* 1-based"),  # 1-based gold read as 0-based
    ],
)
def test_show_errors_are_one_line_that_says_what_to_do(files, args, message):
    corpus, predicted, gold = files
    args = [str(gold) if arg == "GOLD" else arg for arg in args]
    result = run_cli(["show", "-i", corpus, "-a", predicted, *args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert re.search(message, result.stderr), result.stderr


def test_show_needs_a_model_or_an_alignment():
    result = run_cli(["show", "-i", "corpus"])
    assert result.exit_code == 2 and "--model M" in result.stderr


def test_piped_output_has_no_escape_codes(files):
    corpus, predicted, _ = files
    result = run_cli(["show", "-i", corpus, "-a", predicted])
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout


# --------------------------------------------------------------------------- with a model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, shared_data):
    from tests.marian_fixtures import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("model"))


def test_show_with_a_model_marks_the_links_extract_writes(model_dir, files, tmp_path):
    corpus, _, gold = files
    extracted = run_cli(["extract", "-i", corpus, "-m", model_dir, "-q"])
    assert extracted.exit_code == 0, extracted.stderr
    links_by_line = [
        {tuple(map(int, link.split("-"))) for link in line.split()}
        for line in extracted.stdout.splitlines()
    ]
    shown = run_cli(["show", "-i", corpus, "-m", model_dir, "--lines", "1,3", "-q"])
    assert shown.exit_code == 0, shown.stderr
    blocks = shown.stdout.split("line ")[1:]
    assert [block.split(" ")[0] for block in blocks] == ["1", "3"]
    for block, line_no in zip(blocks, (1, 3), strict=True):
        grid = cell_grid(block.split("\n"))
        dot = MARK_STYLES[Mark.PREDICTED].symbol  # unmarked cells show shade glyphs
        marked = {cell for cell, symbol in grid.items() if symbol == dot}
        assert marked == links_by_line[line_no - 1]
    # --worst ranks the model's links as `xalign eval --per-sentence` ranks the file.
    prediction = tmp_path / "pred.txt"
    prediction.write_text(extracted.stdout)
    ranked = run_cli(
        ["eval", gold, prediction, "--gold-one-based", "--per-sentence", "2", "--json"]
    )
    expected = [f"line {entry['index'] + 1}" for entry in json.loads(ranked.stdout)["worst"]]
    figure = tmp_path / "worst.png"
    worst = run_cli(
        ["show", "-i", corpus, "-m", model_dir, "-g", gold, "--gold-one-based", "--worst", "2"]
    )
    titles = [line.split(" · ")[0] for line in worst.stdout.split("\n") if line.startswith("line")]
    assert titles == expected
    drawn = run_cli(
        ["show", "-i", corpus, "-m", model_dir, "-g", gold, "--gold-one-based", "-o", figure]
    )
    assert drawn.exit_code == 0, drawn.stderr
    assert png_size(figure)[1] > 100


def test_matrices_are_read_from_jsonl_and_a_broken_one_names_its_line(tmp_path):
    from align_cli.tools.views import read_jsonl_matrices

    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"links": [], "matrix": [[0.25, 0.75], [0.5, 0.5]]}\n{"links": []}\n'
        '{"links": [], "matrix": []}\n{"links": [], "matrix": [[0.1], [0.2, 0.3]]}\n'
    )
    matrices = read_jsonl_matrices(str(path))
    assert next(matrices).tolist() == [[0.25, 0.75], [0.5, 0.5]]
    assert next(matrices) is None and next(matrices) is None
    with pytest.raises(XalignError, match=r"m.jsonl:4: 'matrix' must be"):
        next(matrices)
