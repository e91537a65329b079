"""The answer stage's document lookups (``answer.catalog``) agree with the scans they replace, and an index of many
wards (the seed plans copied into generated wards, as ``benchmarks/ask_scale.py`` does) is answered from the ward
a question names."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.answer.catalog import Catalog, NameTable, Postings
from assistant.answer.compose import Answerer
from assistant.answer.termsets import TermSets
from assistant.search.retrieve import Retriever
from assistant.text.normalize import fold
from benchmarks.ask_scale import replicate, ward

QUESTIONS = ["Ai chủ trì số hóa hồ sơ của phường Nghĩa Lộ?", "ke hoach nam gia nghia 2026-2030 co bao nhieu nhiem vu",
             "Phường Hải Châu có kế hoạch không?", "tinh quang ngai", "nghia lo tinh quang ngai ai ky",
             "nghĩa lộc", "nam gia", "Kế hoạch năm 2025"]


def scan(names: list[str], folded: str) -> list[str]:
    return sorted((n for n in names if re.search(rf"\b{re.escape(n)}\b", folded)), key=lambda n: (-len(n), n))


@pytest.mark.parametrize("question", QUESTIONS)
def test_name_table_finds_what_a_regex_scan_finds(question):
    names = ["nghia lo", "nam gia nghia", "quang ngai", "tinh quang ngai", "hai chau", "a-b c", "lo"]
    table = NameTable({n: ["d"] for n in names})
    assert table.odd == ["a-b c"]
    assert table.found_in(fold(question)) == scan(names, fold(question))


def test_name_table_searches_names_with_other_characters():
    table = NameTable({"a-b c": ["d1"], "hai chau": ["d2"]})
    assert table.found_in("ke hoach phuong a-b c") == ["a-b c"]
    assert table.found_in("ke hoach a-b cd") == []


def test_prefix_related_matches_either_way():
    table = NameTable({"nghia lo": ["d"], "quang ngai": ["d"]})
    assert table.prefix_related("nghia lo tinh quang ngai")  # a name begins the place
    assert table.prefix_related("nghia")  # the place begins a name
    assert not table.prefix_related("hai chau")


def test_postings_best_weight_equals_brute_force():
    rng = np.random.default_rng(0)
    vocab = [f"t{i}" for i in range(30)]
    units = [set(rng.choice(vocab, size=rng.integers(0, 12), replace=False).tolist()) for _ in range(200)]
    postings = Postings(TermSets.build(units), {"§act": [3, 7]})
    units[3].add("§act"), units[7].add("§act")
    vocab.append("§act")
    for _ in range(50):
        weights = {t: float(rng.random()) for t in rng.choice(vocab + ["absent"], size=4, replace=False).tolist()}
        brute = max(sum(w for t, w in weights.items() if t in ts) for ts in units)
        assert postings.best_weight(weights) == pytest.approx(brute)
    assert postings.best_weight({"absent": 1.0}) == 0.0


def test_catalog_tables_agree_with_the_index(assistant):
    index = assistant.index
    cat = Catalog(index)
    assert sorted(p for ps in cat.units_of.values() for p in ps) == list(range(len(index.units)))
    assert cat.signatures == [i for i, u in enumerate(index.units) if u.kind == "signature"]
    row = next(u for u in index.units if u.kind == "appendix_row")
    assert cat.by_locator[row.locator] == [i for i, u in enumerate(index.units) if u.locator == row.locator]
    plan = next(d for d in index.docs.values() if d.year_to > d.year_from)
    assert cat.period_named([plan.year_from, 2099, plan.year_to]) == (plan.year_from, plan.year_to)
    assert cat.period_named([plan.year_from]) is None


@pytest.fixture(scope="module")
def wards(assistant):
    """The seed index copied into 4 wards (copy 0 is the seed itself)."""
    index = replicate(assistant.index, 4)
    return Answerer(index, Retriever(index, assistant.retriever.embedder), assistant.settings)


def test_replicated_index_keeps_every_quote_exact(wards):
    index = wards.index
    assert len(index.units) == 4 * len({u.chunk_id for u in index.units if "-w" not in u.chunk_id})
    assert len({u.chunk_id for u in index.units}) == len(index.units)
    assert {d.locality for d in index.docs.values()} >= {ward(1), ward(2), ward(3)}


@pytest.mark.parametrize("question", ["Ai chủ trì số hóa hồ sơ, kết quả giải quyết TTHC của phường {}?",
                                      "ai chu tri so hoa ho so cua phuong {}", "Phường {} có bao nhiêu nhiệm vụ?"])
def test_a_question_naming_a_generated_ward_is_answered_from_its_plans(wards, question):
    """A generated ward has both seed plans (2025 and 2026-2030): the answer comes from them, never another ward."""
    answer = wards.ask(question.format(ward(2)))
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} <= {d for d in wards.index.docs if d.endswith("-w2")}
    assert answer.localities == [f"phường {ward(2)}"]
    seed = wards.ask(question.format("Nghĩa Lộ"))
    assert not seed.abstained and {c.doc_id for c in seed.citations} == {"nghia-lo-cchc-2025"}


def test_a_ward_and_a_period_name_one_plan(wards):
    answer = wards.ask(f"Kế hoạch 2026-2030 của phường {ward(3)} có bao nhiêu nhiệm vụ?")
    assert {c.doc_id for c in answer.citations} == {"nam-gia-nghia-cchc-2026-2030-w3"}


def test_abstaining_over_many_plans_counts_them_instead_of_listing_every_title(wards):
    answer = wards.ask("Giá vé xe buýt năm 2025 là bao nhiêu?")
    assert answer.abstained
    assert f"{len(wards.index.docs)} văn bản của {len(wards.catalog.localities)} địa phương" in answer.answer


def test_a_question_naming_two_wards_is_answered_from_both(wards):
    answer = wards.ask(f"Ai ký kế hoạch của phường {ward(1)} và phường {ward(2)}?")
    cited = {c.doc_id.rsplit("-", 1)[-1] for c in answer.citations}
    assert not answer.abstained and cited == {"w1", "w2"}


def test_tiled_term_sets_of_a_replicated_index_equal_recomputed_ones(wards):
    from assistant.answer.compose import unit_term_sets
    from assistant.answer.evidence import terms
    from assistant.search.index import unit_text
    from assistant.search.rescore import marked_words

    index = wards.index
    units, tasks = unit_term_sets(index)
    assert len(units) == len(index.units) and len(tasks) == len(index.tasks)
    for pos in range(0, len(index.units), 37):
        u = index.units[pos]
        assert units[pos] == terms(unit_text(u))
        assert wards.retriever.rescorer.marked[pos] == marked_words(f"{unit_text(u)} {u.locator}")
    for pos in range(0, len(index.tasks), 29):
        t = index.tasks[pos]
        assert tasks[pos] == terms(f"{t.group}. {t.task}")


def test_acts_both_named_plans_cite_come_from_those_plans_only(wards, assistant):
    question = "Văn bản pháp luật nào được cả hai kế hoạch (Nghĩa Lộ 2025 và Nam Gia Nghĩa 2026-2030) cùng viện dẫn?"
    answer, seed = wards.ask(question), assistant.ask(question)
    assert not answer.abstained and answer.total == seed.total > 0
    assert {c.doc_id for c in answer.citations} == {c.doc_id for c in seed.citations}  # not the other wards' copies


@pytest.mark.parametrize("question", ["nhiem vu nao trong phu luc phai ban hanh ke hoach trong thang 01 hang nam",
                                      "Những nhiệm vụ nào trong phụ lục để trống cột Phối hợp thực hiện?",
                                      "Trong cả hai kế hoạch CCHC, Công an phường được giao chủ trì bao nhiêu nhiệm vụ?"])
def test_a_list_over_every_ward_holds_each_copy_of_the_seed_list(wards, assistant, question):
    """Lists look tasks up by field (deadline keys, cited acts, roles): over four copies of the seed plans, the
    list is the seed's four times over, in index order."""
    answer, seed = wards.ask(question), assistant.ask(question)
    assert not seed.abstained and answer.total == 4 * seed.total
    assert [i["locator"] for i in answer.items[: len(seed.items)]] == [i["locator"] for i in seed.items]
    copies = {i["doc_id"].rsplit("-w", 1)[-1] if "-w" in i["doc_id"] else "" for i in answer.items}
    assert copies == {"", "1", "2", "3"} or len(answer.items) == 200


def test_a_task_cell_wrapped_over_table_lines_is_quoted_whole_in_a_list(assistant):
    """An appendix cell that wraps onto the next table line is two spans: the list line reads them as one text,
    each quoted verbatim and cited (it used to stop at the first line: "… thực hiện Quyết — thời hạn")."""
    from assistant.text.spans import quote

    answer = assistant.ask("Những nhiệm vụ nào trong phụ lục để trống cột Phối hợp thực hiện?")
    line = next(x for x in answer.answer.splitlines() if x.startswith("1. "))
    assert "thực hiện Quyết định số 1441/QĐ-UBND" in line
    docs = assistant.index.docs
    assert all(quote(docs[c.doc_id].text, (c.start, c.end)) == c.quote for c in answer.citations)
    assert any(c.quote.startswith("định số 1441/QĐ-UBND") for c in answer.citations)


def test_a_wrapped_task_cell_is_quoted_whole_in_field_and_passage_answers(assistant):
    """The task a field answer is about, and a passage answer's text, cite every line of a wrapped cell."""
    from assistant.answer.analyze import analyze
    from assistant.answer.compose import Candidate
    from assistant.answer.fields import answer_passage
    from assistant.text.spans import quote

    index = assistant.index
    pos = next(i for i, t in enumerate(index.tasks) if t.locator == "Phụ lục › VI › STT 10")
    task = index.tasks[pos]
    spans = task.field("task").spans
    assert len(spans) == 2
    answer = assistant.ask("Ai chủ trì có giải pháp tuyên truyền, vận động, hỗ trợ người dân thực hiện giải quyết "
                           "thủ tục hành chính trên môi trường điện tử?")
    assert "Trung tâm Phục vụ hành chính công" in answer.answer
    cited = {(c.start, c.end) for c in answer.citations}
    assert all(any(s <= a and b <= e for a, b in cited) or (s, e) in cited for s, e in spans)
    unit = next(u for u, t in index.unit_task.items() if t == pos)
    cand = Candidate(pos=unit, task=task, score=1.0, cov=1.0)
    passage = answer_passage(assistant.answerer, analyze("giải pháp tuyên truyền, vận động"), [cand])
    doc = index.docs[task.doc_id]
    assert [(c.start, c.end) for c in passage.citations] == [tuple(s) for s in spans]
    assert all(quote(doc.text, (c.start, c.end)) == c.quote for c in passage.citations)
    assert " ".join(c.quote for c in passage.citations).lstrip("-+• ") in passage.answer
