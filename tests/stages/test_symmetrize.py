"""Symmetrisation: Moses symal's grow-diag-final-and reproduced sentence for sentence on
real GIZA++ output, lilt's intersection and union reproduced exactly, and the invariants
that hold between the methods for any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from align_cli.io.formats import read_alignments
from align_cli.settings import SYMMETRIZATIONS
from align_cli.stages.symmetrize import flip, symmetrize, symmetrize_scores

# --------------------------------------------------------------------------- small cases


def test_intersect_and_union():
    forward, reverse = {(0, 0), (1, 1), (2, 1)}, {(0, 0), (1, 1), (1, 2)}
    assert symmetrize(forward, reverse, "intersect") == {(0, 0), (1, 1)}
    assert symmetrize(forward, reverse, "union") == forward | reverse


def test_grow_diag_adds_a_diagonal_neighbour_that_joins_an_unaligned_word():
    forward = {(0, 0), (1, 1)}
    reverse = {(0, 0)}
    # (1, 1) is diagonal to (0, 0), in the union, and both its words are unaligned.
    assert symmetrize(forward, reverse, "grow-diag") == {(0, 0), (1, 1)}


def test_grow_diag_does_not_add_points_far_from_the_intersection():
    forward = {(0, 0), (3, 3)}
    reverse = {(0, 0)}
    assert symmetrize(forward, reverse, "grow-diag") == {(0, 0)}
    assert symmetrize(forward, reverse, "grow-diag-final") == {(0, 0), (3, 3)}
    assert symmetrize(forward, reverse, "grow-diag-final-and") == {(0, 0), (3, 3)}


def test_final_and_needs_both_words_unaligned_final_needs_one():
    forward = {(0, 0), (2, 0)}  # target word 0 chose source words 0 and 2
    reverse = {(0, 0)}
    # (2, 0) is not next to (0, 0); its source word is unaligned, its target word is not.
    assert symmetrize(forward, reverse, "grow-diag-final") == {(0, 0), (2, 0)}
    assert symmetrize(forward, reverse, "grow-diag-final-and") == {(0, 0)}


def test_final_takes_forward_only_points_before_reverse_only_points():
    # After growing, source word 2 and target word 2 are unaligned, and candidates from
    # both directions compete for them: symal's final step runs the forward-only points
    # first, so the direction decides the outcome.
    forward = {(0, 0), (2, 2)}
    reverse = {(0, 0), (2, 3), (3, 2)}
    # final-and: forward's (2, 2) comes first and takes both words; reverse's (2, 3) and
    # (3, 2) then share a word with it and are left out.
    assert symmetrize(forward, reverse, "grow-diag-final-and") == {(0, 0), (2, 2)}
    # Swapping the roles lets the reverse points in first: the result changes.
    assert symmetrize(reverse, forward, "grow-diag-final-and") == {(0, 0), (2, 3), (3, 2)}


def test_unknown_method_and_links_outside_the_sentence_are_value_errors():
    with pytest.raises(ValueError, match="unknown symmetrisation method"):
        symmetrize(set(), set(), "grow")
    with pytest.raises(ValueError, match="outside a sentence of 2 source"):
        symmetrize({(2, 0)}, set(), "union", n_src=2, n_tgt=2)


def test_symmetrize_scores_averages_both_directions_on_the_kept_links():
    forward = {(0, 0): 0.8, (1, 1): 0.6}
    reverse = {(0, 0): 0.4}
    assert symmetrize_scores(forward, reverse, "union") == {
        (0, 0): pytest.approx(0.6),
        (1, 1): pytest.approx(0.3),
    }
    assert symmetrize_scores(forward, reverse, "intersect") == {(0, 0): pytest.approx(0.6)}


# --------------------------------------------------------------------------- invariants

points = st.tuples(st.integers(0, 7), st.integers(0, 7))
link_sets = st.sets(points, max_size=25)


@given(forward=link_sets, reverse=link_sets)
def test_the_methods_are_nested(forward, reverse):
    result = {method: symmetrize(forward, reverse, method) for method in SYMMETRIZATIONS}
    assert result["intersect"] == forward & reverse
    assert result["intersect"] <= result["grow-diag"]
    assert result["grow-diag"] <= result["grow-diag-final-and"] <= result["union"]
    assert result["grow-diag"] <= result["grow-diag-final"] <= result["union"]
    assert result["union"] == forward | reverse


def test_final_and_is_not_always_inside_final():
    """The final steps are greedy: final may take a point that shares a word with a later
    candidate, which final-and, taking fewer points, leaves free. So gdfa ⊄ gdf in general."""
    forward, reverse = {(0, 0), (0, 2), (2, 2)}, {(0, 2), (2, 0)}
    assert symmetrize(forward, reverse, "grow-diag-final") == {(0, 0), (0, 2), (2, 2)}
    assert symmetrize(forward, reverse, "grow-diag-final-and") == {(0, 2), (2, 0)}


@given(forward=link_sets, reverse=link_sets)
def test_grow_diag_final_aligns_every_word_the_union_aligns(forward, reverse):
    union = forward | reverse
    result = symmetrize(forward, reverse, "grow-diag-final")
    assert {i for i, _ in result} == {i for i, _ in union}
    assert {j for _, j in result} == {j for _, j in union}


@given(forward=link_sets, reverse=link_sets)
def test_grow_diag_final_and_leaves_out_only_points_with_an_aligned_word(forward, reverse):
    result = symmetrize(forward, reverse, "grow-diag-final-and")
    src_aligned = {i for i, _ in result}
    tgt_aligned = {j for _, j in result}
    for i, j in (forward | reverse) - result:
        assert i in src_aligned or j in tgt_aligned


@given(forward=link_sets, reverse=link_sets)
def test_grown_points_are_connected_to_the_intersection(forward, reverse):
    """Every grow-diag point is reachable from the intersection through grown neighbours."""
    grown = symmetrize(forward, reverse, "grow-diag")
    reached = set(forward & reverse)
    frontier = list(reached)
    while frontier:
        i, j = frontier.pop()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                neighbour = (i + di, j + dj)
                if neighbour in grown and neighbour not in reached:
                    reached.add(neighbour)
                    frontier.append(neighbour)
    assert reached == grown


@given(links=link_sets, method=st.sampled_from(SYMMETRIZATIONS))
def test_agreeing_directions_give_back_their_links(links, method):
    assert symmetrize(links, links, method) == links


@given(forward=link_sets, reverse=link_sets, method=st.sampled_from(["intersect", "union"]))
def test_intersect_and_union_do_not_depend_on_the_side(forward, reverse, method):
    swapped = symmetrize(flip(reverse), flip(forward), method)
    assert flip(swapped) == symmetrize(forward, reverse, method)


# --------------------------------------------------------------------------- real data


def test_grow_diag_final_and_reproduces_moses_symal_on_giza_output(shared_data):
    """en-fr.A3.final has French on its NULL line: French-first links where each English
    word picks one French word (forward). fr-en.A3.final is English first, so it is read
    reversed. Moses' aligned.grow-diag-final-and is French first."""
    folder = shared_data / "giza-a3"
    forward = list(read_alignments(str(folder / "en-fr.A3.final.gz")))
    reverse = list(read_alignments(str(folder / "fr-en.A3.final.gz"), reverse=True))
    moses = list(read_alignments(str(folder / "aligned.grow-diag-final-and")))
    assert len(forward) == len(reverse) == len(moses) == 765
    mismatched = [
        fwd.index + 1
        for fwd, rev, expected in zip(forward, reverse, moses, strict=True)
        if symmetrize(
            fwd.sure, rev.sure, "grow-diag-final-and", len(fwd.src_words), len(fwd.tgt_words)
        )
        != expected.sure
    ]
    assert mismatched == []


LILT = [(system, pair) for system in ("lilt-giza", "lilt-fastalign") for pair in ("enfr", "roen")]


def lilt_directions(shared_data, system, pair):
    stem = shared_data / "published" / system / f"test.{pair}"
    forward = [s.sure for s in read_alignments(f"{stem}.talp")]
    reverse = [s.sure for s in read_alignments(f"{stem}.reverse.talp", reverse=True)]
    return stem, forward, reverse


@pytest.mark.parametrize(("system", "pair"), LILT)
@pytest.mark.parametrize(
    ("method", "lilt_name"), [("intersect", "intersection"), ("union", "union")]
)
def test_lilt_intersection_and_union_are_reproduced_exactly(
    shared_data, system, pair, method, lilt_name
):
    stem, forward, reverse = lilt_directions(shared_data, system, pair)
    expected = [s.sure for s in read_alignments(f"{stem}.{lilt_name}.talp")]
    produced = [symmetrize(f, r, method) for f, r in zip(forward, reverse, strict=True)]
    assert produced == expected


@pytest.mark.parametrize(("system", "pair"), LILT)
def test_lilt_grow_files_deviate_from_koehn_and_xalign_does_not_follow(shared_data, system, pair):
    """lilt's grow-diagonal(-final) only adds a point when both its words are unaligned, so
    its output is one-to-one. The standard grow step adds a point when either word is
    unaligned, which builds one-to-many links; xalign keeps the standard."""
    stem, forward, reverse = lilt_directions(shared_data, system, pair)

    def one_to_one(links):
        return len({i for i, _ in links}) == len(links) == len({j for _, j in links})

    for name in ("grow-diagonal", "grow-diagonal-final"):
        assert all(one_to_one(s.sure) for s in read_alignments(f"{stem}.{name}.talp"))
    ours = [symmetrize(f, r, "grow-diag") for f, r in zip(forward, reverse, strict=True)]
    assert not all(one_to_one(links) for links in ours)
