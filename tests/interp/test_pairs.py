"""Pair sets: decision pairs from pairs.jsonl, answer-mapping swaps, token encoding, spans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.interp.fakes import pair_rows, write_pairs

from proclab.errors import ConfigError, DataError, ProclabError
from proclab.interp.encode import Encoded, EncodedPair, encode_pair, span_offsets
from proclab.interp.pairs import (
    decision_pairs,
    load_pair_records,
    mapping_pairs,
    mapping_question,
    swapped,
)
from proclab.prompts import DEFAULT_LABELS, LabelWords


def test_decision_pairs_take_base_then_flip_and_skip_label_keeping_pairs(pairs_path: Path) -> None:
    pairs = decision_pairs(load_pair_records(pairs_path))
    assert [p.pair_id for p in pairs] == ["p-order", "p-order2", "p-actor"]
    order = pairs[0]
    assert (order.kind, order.base.answer, order.exp.answer) == (
        "order_swap", "COMPLIANT", "NON-COMPLIANT")  # fmt: skip
    assert order.base.scenario_text.endswith("in the log.")
    assert order.exp.scenario_text.endswith("with the key.")
    assert [p.pair_id for p in decision_pairs(load_pair_records(pairs_path),
                                              kinds=["actor_swap"])] == ["p-actor"]  # fmt: skip


def test_pair_role_inside_meta_and_dataset_folder_are_accepted(tmp_path: Path) -> None:
    rows = pair_rows()[:2]
    for row in rows:
        meta = json.loads(row.pop("meta"))
        meta["pair_role"] = row.pop("pair_role")
        row["meta"] = meta  # decoded, not a JSON string
    write_pairs(tmp_path / "pairs.jsonl", rows)
    assert [p.pair_id for p in decision_pairs(load_pair_records(tmp_path))] == ["p-order"]


def test_label_keeping_kinds_are_refused(pairs_path: Path) -> None:
    with pytest.raises(ConfigError, match="do not flip the label"):
        decision_pairs(load_pair_records(pairs_path), kinds=["unordered_swap"])


def test_a_pair_missing_its_flip_member_is_a_data_error(tmp_path: Path) -> None:
    write_pairs(tmp_path / "pairs.jsonl", pair_rows()[:1])
    with pytest.raises(DataError, match="p-order lacks its flip member"):
        decision_pairs(load_pair_records(tmp_path / "pairs.jsonl"))


def test_a_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_pairs(tmp_path / "pairs.jsonl")
    with path.open("a") as fh:
        fh.write('{"pair_id": "x", "label": "MAYBE"}\n')
    with pytest.raises(DataError) as err:
        load_pair_records(path)
    assert err.value.where == f"{path}:9"


def test_mapping_pairs_swap_the_words_but_not_the_decision(pairs_path: Path) -> None:
    pairs = mapping_pairs(load_pair_records(pairs_path))
    # one per distinct (procedure, scenario): p-keep's two members repeat p-order.0 and
    # p-order2.0, so 8 records give 6 pairs
    assert len(pairs) == 6
    flip = next(p for p in pairs if p.pair_id == "p-order.1:mapping_swap")
    assert flip.base.scenario_text == flip.exp.scenario_text
    assert (flip.base.answer, flip.exp.answer) == ("NON-COMPLIANT", "COMPLIANT")
    assert flip.base.question == mapping_question(DEFAULT_LABELS)
    assert "Answer NON-COMPLIANT if they complied and COMPLIANT if" in flip.exp.question


def test_mapping_pairs_use_configured_label_words(pairs_path: Path) -> None:
    labels = LabelWords(compliant="YES", noncompliant="NO")
    pair = mapping_pairs(load_pair_records(pairs_path), labels=labels)[0]
    assert (pair.base.answer, pair.exp.answer) == ("YES", "NO")
    assert swapped(labels).compliant == "NO"
    assert "Answer NO if they complied and YES if they did not." in pair.exp.question


def test_encoding_teacher_forces_to_the_first_differing_answer_token(tiny, pairs_path) -> None:
    _, tok = tiny
    pair = decision_pairs(load_pair_records(pairs_path))[0]
    enc = encode_pair(tok, pair)
    for side in (enc.base, enc.exp):
        text = tok.decode(list(side.ids))
        assert text.endswith("<|im_start|>assistant\nFinal answer:" + tok.decode([]))
        for word, token in (("COMPLIANT", enc.base_token), ("NON-COMPLIANT", enc.exp_token)):
            full = tok(text + " " + word, add_special_tokens=False)["input_ids"]
            assert full[: len(side.ids)] == list(side.ids)
            assert full[len(side.ids)] == token
    assert enc.base_token != enc.exp_token
    # the blocks are located on token boundaries
    start, stop = enc.exp.blocks["scenario"]
    assert tok.decode(list(enc.exp.ids[start:stop])).strip() == pair.exp.scenario_text


def test_span_offsets_and_alignment(tiny, pairs_path) -> None:
    _, tok = tiny
    order, _, actor = (encode_pair(tok, p) for p in decision_pairs(load_pair_records(pairs_path)))
    assert order.aligned and not actor.aligned
    assert span_offsets(actor, "final") == [-1]
    assert span_offsets(actor, "last:3") == [-3, -2, -1]
    start, stop = order.exp.blocks["scenario"]
    assert span_offsets(order, "scenario") == list(range(start - len(order.exp),
                                                         stop - len(order.exp)))  # fmt: skip
    assert span_offsets(order, "2:4") == [2 - len(order.exp), 3 - len(order.exp)]
    with pytest.raises(ProclabError, match="different|have"):
        span_offsets(actor, "scenario")
    with pytest.raises(ConfigError, match="unknown span"):
        span_offsets(order, "middle")


def test_words_that_share_every_token_are_refused() -> None:
    enc = Encoded((1, 2))
    with pytest.raises(DataError, match="both sides expect"):
        from proclab.interp.pairs import PatchPair, Side

        side = Side("p", "s", "q", "YES")
        PatchPair("x", "order_swap", side, side)
    assert EncodedPair("x", "order_swap", enc, enc, 3, 4).shared_prefix == 2
