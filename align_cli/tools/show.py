"""Pictures of alignments: a terminal grid (rich) and a heatmap figure (matplotlib).

Both views draw one sentence pair as a grid with the source words down the side (rows,
as in the ``[n_src, n_tgt]`` matrix) and the target words along the top, the cells shaded
by the word-level attention (or similarity), and every link marked. With a gold
alignment each cell says how the prediction fared:

============  ========  ====================================================  ===========
mark          terminal  meaning                                               picture
============  ========  ====================================================  ===========
correct       ``●``     predicted and a sure gold link                         green dot
possible      ``◆``     predicted and a possible gold link (counts as right)   green diamond
spurious      ``✗``     predicted, not in the gold at all: an error            red cross
missed        ``○``     a sure gold link that was not predicted: an error      red ring
unpredicted   ``◇``     a possible gold link not predicted (no error)          grey diamond
predicted     ``●``     a predicted link when no gold is given                 black dot
============  ========  ====================================================  ===========

Filled marks are predictions, hollow ones are gold links the prediction lacks; red marks
are the errors AER counts. matplotlib is optional (``pip install 'xalign[plot]'``) and is
imported only when a figure is drawn. Everything here is a pure function of
:class:`~align_cli.tools.views.PairView`; :mod:`align_cli.tools.views` reads files or runs a
model to make them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.columns import Columns
from rich.text import Text

from align_cli.errors import XalignError
from align_cli.io.files import output_file
from align_cli.tools.views import Mark, PairView

if TYPE_CHECKING:  # matplotlib is optional and imported lazily
    from matplotlib.figure import Figure

FIGURE_FORMATS = ("png", "svg", "pdf")
MATPLOTLIB_MISSING = "drawing a figure needs matplotlib: pip install 'xalign[plot]'"


@dataclass(frozen=True)
class MarkStyle:
    symbol: str  # terminal character
    color: str  # rich colour of the terminal character
    label: str  # legend text
    marker: str  # matplotlib marker
    face: str  # matplotlib face colour ("none" = hollow)
    edge: str  # matplotlib edge colour


MARK_STYLES: dict[Mark, MarkStyle] = {
    Mark.CORRECT: MarkStyle("●", "bold green3", "correct (sure)", "o", "#1a9641", "white"),
    Mark.CORRECT_POSSIBLE: MarkStyle(
        "◆", "bold green3", "correct (possible)", "D", "#a6d96a", "#1a6632"
    ),
    Mark.SPURIOUS: MarkStyle("✗", "bold red1", "spurious (not in gold)", "X", "#d7191c", "white"),
    Mark.MISSED: MarkStyle("○", "bold red1", "missed sure link", "o", "none", "#d7191c"),
    Mark.UNPREDICTED_POSSIBLE: MarkStyle(
        "◇", "grey50", "possible link, not predicted", "D", "none", "#707070"
    ),
    Mark.PREDICTED: MarkStyle("●", "bold", "predicted link", "o", "#202020", "white"),
}


# --------------------------------------------------------------------------- shading


def _value_range(matrix: np.ndarray) -> tuple[float, float]:
    """The range the shades span.

    Attention (every column a probability distribution over the source words) always
    spans [0, 1], so that a flat, undecided column looks pale and a confident one dark,
    in every pair alike. Other scores (similarities) span their own lowest to highest
    value, which is where their information is.
    """
    if matrix.size == 0:
        return 0.0, 1.0
    low, high = float(np.nanmin(matrix)), float(np.nanmax(matrix))
    column_sums = np.nansum(matrix, axis=0)
    # Rounded JSONL matrices (4 decimals) sum to 1 only approximately; all-zero columns
    # belong to words without pieces.
    distributions = np.all((np.abs(column_sums - 1.0) < 1e-2) | (column_sums == 0.0))
    if low >= 0.0 and high <= 1.0 and distributions:
        return 0.0, 1.0
    return low, high if high > low else low + 1.0


def _relative(value: float, low: float, high: float) -> float:
    if not np.isfinite(value):
        return 0.0
    return min(max((value - low) / (high - low), 0.0), 1.0)


# White to a mid blue: dark enough to see, light enough for the marks on top.
_SHADE_LIGHT = (255, 255, 255)
_SHADE_DARK = (49, 130, 189)
_SHADE_GLYPHS = " ░▒▓"


def _shade_color(fraction: float) -> str:
    red, green, blue = (
        round(light + (dark - light) * fraction)
        for light, dark in zip(_SHADE_LIGHT, _SHADE_DARK, strict=True)
    )
    return f"#{red:02x}{green:02x}{blue:02x}"


def _shade_glyph(fraction: float) -> str:
    return _SHADE_GLYPHS[min(int(fraction * len(_SHADE_GLYPHS)), len(_SHADE_GLYPHS) - 1)]


# --------------------------------------------------------------------------- terminal

MAX_HEADER_CHARS = 10  # target words are written vertically, cut to this many letters
MAX_LABEL_CHARS = 18  # source words are cut to this many characters


UNALIGNED_STYLE = "dim italic"


def _cut(word: str, limit: int) -> str:
    return word if len(word) <= limit else word[: limit - 1] + "…"


def render_terminal(view: PairView, *, width: int = 100, color: bool = True) -> Text:
    """The grid of one pair as rich :class:`~rich.text.Text`.

    Target words run down the column headers (one letter a line), with their 0-based
    index under them; rows are the source words with theirs. With ``color`` the cells'
    background shows the score; without it (a pipe, ``NO_COLOR``) a glyph from
    ``" ░▒▓"`` does, and marked cells show only their mark. When the grid is wider than
    ``width`` columns the cells narrow, then the rightmost target words are left out
    (and a line says so).
    """
    n_src, n_tgt = len(view.src_words), len(view.tgt_words)
    index_width = len(str(max(n_src - 1, 0)))
    labels = [_cut(word, MAX_LABEL_CHARS) for word in view.src_words]
    label_width = index_width + 1 + max((len(label) for label in labels), default=0)
    prefix = label_width + 2  # "label │"
    cell = 3 if prefix + 3 * n_tgt <= width else 2
    shown = min(n_tgt, max((width - prefix) // cell, 1)) if n_tgt else 0
    marks = view.marks()
    # Words without a predicted link (possible omissions / additions) are dim and italic.
    lone_src, lone_tgt = view.unaligned() if color else (frozenset(), frozenset())
    text = Text(no_wrap=True, overflow="crop")
    text.append(view.summary() + "\n", style="bold")

    headers = [_cut(word, MAX_HEADER_CHARS) for word in view.tgt_words[:shown]]
    height = max((len(header) for header in headers), default=0)
    pad = " " * prefix
    centre = (cell - 1) // 2 if cell == 3 else 0
    for row in range(height):
        # Words are bottom-aligned: a short word starts lower down.
        cells = [
            (" " * centre + (h[row - height + len(h)] if row >= height - len(h) else " ")).ljust(
                cell
            )
            for h in headers
        ]
        if not lone_tgt:
            text.append(pad + "".join(cells).rstrip() + "\n")
            continue
        text.append(pad)
        line = "".join(cells).rstrip()
        at = 0
        for j, content in enumerate(cells):
            piece = content[: max(len(line) - at, 0)]
            at += len(content)
            text.append(piece, style=UNALIGNED_STYLE if j in lone_tgt else "")
        text.append("\n")
    if cell == 3:
        number_lines = ["".join(f"{j:>2} " for j in range(shown))]
    else:
        # Two-character cells hold one digit: the tens go on a line of their own.
        number_lines = [
            "".join(f"{j // 10 % 10 if j >= 10 else ' '} " for j in range(shown)),
            "".join(f"{j % 10} " for j in range(shown)),
        ]
    for number_line in number_lines:
        if number_line.strip():
            text.append(pad + number_line.rstrip() + "\n", style="dim")

    low, high = _value_range(view.matrix) if view.matrix is not None else (0.0, 1.0)
    for i, label in enumerate(labels):
        text.append(f"{i:>{index_width}} ")
        text.append(
            f"{label:<{label_width - index_width - 1}}",
            style=UNALIGNED_STYLE if i in lone_src else "",
        )
        text.append(" │")
        for j in range(shown):
            fraction = (
                _relative(float(view.matrix[i, j]), low, high) if view.matrix is not None else 0.0
            )
            mark = marks.get((i, j))
            symbol = MARK_STYLES[mark].symbol if mark else ""
            if not symbol and not color and view.matrix is not None:
                symbol = _shade_glyph(fraction)
            content = (" " * centre + (symbol or " ")).ljust(cell)
            style = MARK_STYLES[mark].color if mark else ""
            if color and view.matrix is not None:
                style = f"{style} on {_shade_color(fraction)}".strip()
            text.append(content, style=style)
        text.append("\n")
    if shown < n_tgt:
        text.append(
            f"(target words {shown}–{n_tgt - 1} left out: the terminal is too narrow; "
            "write a figure with -o FILE.png)\n",
            style="dim",
        )
    return text


def legend_entries(views: Sequence[PairView], *, color: bool = True) -> list[Text]:
    """One entry per mark that occurs in ``views``, then one for the shading."""
    present = {mark for view in views for mark in view.marks().values()}
    entries = []
    for mark in Mark:
        if mark in present:
            style = MARK_STYLES[mark]
            entry = Text(style.symbol, style=style.color)
            entry.append(f" {style.label}")
            entries.append(entry)
    if color and any(any(view.unaligned()) for view in views):
        entry = Text("word", style=UNALIGNED_STYLE)
        entry.append(" without a link (source: possible omission; target: possible addition)")
        entries.append(entry)
    shaded = [view for view in views if view.matrix is not None]
    if shaded:
        name = shaded[0].value_name
        if color:
            entry = Text(f"shade: {name}, low (white) to high (")
            entry.append("  ", style=f"on {_shade_color(1.0)}")
            entry.append("); attention on a 0-1 scale")
        else:
            entry = Text(f"shade: {name}, low to high: '{_SHADE_GLYPHS[1:]}'")
        entries.append(entry)
    return entries


def render_legend(views: Sequence[PairView], *, color: bool = True) -> Columns:
    """The legend under the grids, laid out in columns that never split an entry."""
    return Columns(legend_entries(views, color=color), padding=(0, 3))


# --------------------------------------------------------------------------- figure

CELL_INCHES = 0.34
CHAR_INCHES = 0.075  # width of one label character at the figure's font size


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise XalignError(MATPLOTLIB_MISSING) from None
    from matplotlib.figure import Figure

    return Figure


def render_figure(views: Sequence[PairView], *, title: str | None = None) -> Figure:
    """A matplotlib :class:`~matplotlib.figure.Figure` with one heatmap per pair.

    Pairs are stacked top to bottom, left-aligned, with the same cell size, so that
    sentences of different lengths compare at a glance. Each has a colour bar (0 to 1
    for attention, else the pair's lowest to highest score) and its summary as the title;
    one legend below lists the marks that occur. Needs matplotlib
    (:data:`MATPLOTLIB_MISSING`).
    """
    if not views:
        raise XalignError("no sentence pair to draw")
    figure_class = _require_matplotlib()
    from matplotlib.lines import Line2D

    # The layout is computed in inches, top to bottom: for each pair a title line, the
    # slanted target words, then the grid; the legend last.
    longest_src = max((len(w) for v in views for w in v.src_words), default=1)
    widest = max(max(len(v.tgt_words), 1) for v in views)
    label_inches = min(longest_src, 24) * CHAR_INCHES + 0.45
    title_inches = 0.45 if title else 0.0
    blocks = [
        0.3 + _header_inches(view) + max(len(view.src_words), 1) * CELL_INCHES for view in views
    ]
    legend_inches = 0.7
    width = max(label_inches + widest * CELL_INCHES + 1.3, 6.4)
    height = title_inches + sum(blocks) + 0.25 * (len(views) - 1) + legend_inches
    figure = figure_class(figsize=(width, height))
    if title:
        figure.suptitle(title, fontsize=12, x=0.02, y=1 - 0.12 / height, ha="left", va="top")
    top = height - title_inches
    present: set[Mark] = set()
    for view, block in zip(views, blocks, strict=True):
        rows, columns = max(len(view.src_words), 1), max(len(view.tgt_words), 1)
        grid_bottom = top - block
        box = [
            label_inches / width,
            grid_bottom / height,
            columns * CELL_INCHES / width,
            rows * CELL_INCHES / height,
        ]
        axes = figure.add_axes(box)
        bar_height = min(rows * CELL_INCHES, 2.5)
        bar_box = [
            (label_inches + columns * CELL_INCHES + 0.15) / width,
            (grid_bottom + rows * CELL_INCHES - bar_height) / height,
            0.12 / width,
            bar_height / height,
        ]
        present |= set(_draw_pair(axes, view, figure, bar_box))
        top = grid_bottom - 0.25
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=MARK_STYLES[mark].marker,
            markersize=9,
            markerfacecolor=MARK_STYLES[mark].face,
            markeredgecolor=MARK_STYLES[mark].edge
            if MARK_STYLES[mark].face == "none"
            else "#404040",
            markeredgewidth=1.6 if MARK_STYLES[mark].face == "none" else 0.6,
            label=MARK_STYLES[mark].label,
        )
        for mark in Mark
        if mark in present
    ]
    if handles:
        figure.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.01, 0.0),
            ncols=min(len(handles), 3),
            frameon=False,
            fontsize=9,
            columnspacing=1.2,
        )
    return figure


def _header_inches(view: PairView) -> float:
    """Height of the slanted target words (index, space, word) above a grid."""
    longest = max((len(word) for word in view.tgt_words), default=1)
    return (min(longest, 24) + 3) * CHAR_INCHES * 0.87 + 0.1  # sin 60° ≈ 0.87


def _draw_pair(axes, view: PairView, figure, bar_box: list[float]) -> list[Mark]:
    n_src, n_tgt = len(view.src_words), len(view.tgt_words)
    if view.matrix is not None and view.matrix.size:
        low, high = _value_range(view.matrix)
        image = axes.imshow(view.matrix, cmap="Blues", vmin=low, vmax=high, aspect="equal")
        colorbar = figure.colorbar(image, cax=figure.add_axes(bar_box))
        colorbar.set_label(view.value_name, fontsize=9)
        colorbar.ax.tick_params(labelsize=8)
    else:
        axes.imshow(np.zeros((max(n_src, 1), max(n_tgt, 1))), cmap="Greys", vmin=0, vmax=1)
    axes.set_xticks(range(n_tgt), [f"{j} {w}" for j, w in enumerate(view.tgt_words)])
    axes.set_yticks(range(n_src), [f"{w} {i}" for i, w in enumerate(view.src_words)])
    axes.xaxis.tick_top()
    axes.tick_params(axis="both", length=0, labelsize=9)
    for label in axes.get_xticklabels():
        label.set(rotation=60, ha="left", va="bottom", rotation_mode="anchor")
    # Thin lines between cells make long rows easy to follow.
    axes.set_xticks(np.arange(-0.5, n_tgt, 1), minor=True)
    axes.set_yticks(np.arange(-0.5, n_src, 1), minor=True)
    axes.grid(which="minor", color="#d0d0d0", linewidth=0.5)
    axes.tick_params(which="minor", length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xlim(-0.5, max(n_tgt, 1) - 0.5)
    axes.set_ylim(max(n_src, 1) - 0.5, -0.5)
    axes.set_title(view.summary(), fontsize=10, loc="left", pad=8)

    marks = view.marks()
    # Marker area in points² so that a mark fills about half a cell at any figure size.
    size = (CELL_INCHES * 72 * 0.55) ** 2
    for mark in Mark:
        cells = [link for link, value in marks.items() if value is mark]
        if not cells:
            continue
        style = MARK_STYLES[mark]
        hollow = style.face == "none"
        axes.scatter(
            [j for _, j in cells],
            [i for i, _ in cells],
            s=size * (1.0 if mark is not Mark.SPURIOUS else 0.9),
            marker=style.marker,
            facecolors=style.face,
            edgecolors=style.edge,
            linewidths=2.0 if hollow else 0.8,
            zorder=3,
        )
    return list(set(marks.values()))


def save_figure(views: Sequence[PairView], path: str | Path, *, title: str | None = None) -> Path:
    """Draw ``views`` with :func:`render_figure` and write PNG, SVG or PDF (by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        raise XalignError(
            f"cannot tell the picture format of {path.name!r}: end the name in "
            + ", ".join(f".{fmt}" for fmt in FIGURE_FORMATS)
        )
    figure = render_figure(views, title=title)
    # Fixed metadata keeps SVG/PDF output byte-identical from one run to the next.
    metadata = {"Date": None} if suffix in ("svg", "pdf") else {}
    # Written whole or not at all: on any error an earlier figure of that name stays.
    with output_file(str(path), text=False) as handle:
        figure.savefig(
            handle, format=suffix, dpi=110, metadata=metadata, bbox_inches="tight", pad_inches=0.15
        )
    return path


__all__ = [
    "FIGURE_FORMATS",
    "MARK_STYLES",
    "Mark",
    "PairView",
    "render_figure",
    "legend_entries",
    "render_legend",
    "render_terminal",
    "save_figure",
]
