"""Extractive answering: pick the evidence for the kind of answer wanted, state the fact, cite exact spans.

Nothing here invents text: every fact in an answer is copied from a record field or a sentence of the
corpus, and every citation's quote is ``source[start:end]`` with whitespace collapsed.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from ..models import Answer, Hit, TaskRecord
from ..search.index import Index, term_sets, unit_text
from ..search.retrieve import Filters, Retriever
from ..settings import Settings
from ..text.legal_ids import legal_keys
from ..text.normalize import fold
from .acts import answer_act_detail, answer_acts, answer_unit_acts, asks_for_acts
from .analyze import Question, analyze
from .catalog import Catalog, Postings, home_documents, ward_name
from .docfacts import answer_doc_fact
from .duties import registry_for
from .evidence import Idf, coverage_of, terms, topic_terms
from .fields import FIELD_ROLES, LABELS, answer_assignment, answer_field, answer_passage, answer_signer
from .figures import Figures
from .lists import answer_list, task_fields
from .termsets import TermSets

EXAMPLES = ["Ai chủ trì số hóa hồ sơ thủ tục hành chính?", "Tỷ lệ hồ sơ trực tuyến toàn trình đạt bao nhiêu?",
            "Trung tâm Phục vụ hành chính công phải làm những việc gì?", "Ai ký Kế hoạch của phường Nghĩa Lộ?"]


@dataclass
class Candidate:
    pos: int  # unit position
    score: float
    cov: float
    task: TaskRecord | None


class Answerer:
    def __init__(self, index: Index, retriever: Retriever, settings: Settings) -> None:
        self.index, self.retriever, self.settings = index, retriever, settings
        self.unit_terms, self.task_terms = unit_term_sets(index)
        self.idf = Idf.of(self.unit_terms)
        # names of places and periods, units per document and locator: lookups that do not scan the corpus
        self.catalog = Catalog(index)
        self.unit_legal: dict[int, set[str]] = defaultdict(set)  # legal keys cited inside a unit
        for r in index.legal:
            for pos in self.catalog.units_of.get(r.doc_id, ()):
                u = index.units[pos]
                if u.span[0] <= r.span[0] < u.span[1]:
                    self.unit_legal[pos].update(legal_keys(r.act_type, r.number, r.year))
        self.unit_legal = dict(self.unit_legal)
        acts: dict[str, list[int]] = defaultdict(list)
        for pos, keys in self.unit_legal.items():
            for k in keys:
                acts[f"§{k}"].append(pos)
        self.postings = Postings(self.unit_terms, acts)  # term → units holding it (for _coverage_bound)
        self.registry = registry_for(index)
        self.figures = Figures(index)
        task_fields(index)  # tasks by field, for lists: built now rather than on the first list question
        self.legal_keys = {k for r in index.legal for k in legal_keys(r.act_type, r.number, r.year)}
        self.home_docs = home_documents(index, settings.home_locality)  # a kiosk's own ward, newest plan first
        self._conversations: OrderedDict[str, int] = OrderedDict()  # conversation id → last task position
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- entry point
    def ask(self, question: str, conversation_id: str | None = None) -> Answer:
        q = analyze(question)
        q.topic = self.catalog.topic_without_names(q)
        answer = self._answer_from_home(q, conversation_id)
        answer.conversation_id = conversation_id
        return answer

    def home_for(self, question: str) -> str | None:
        """The home ward's locality when a kiosk has one and the question names no place nor plan (searches then
        prefer that ward's documents, as answers do)."""
        if not self.home_docs:
            return None
        q = analyze(question)
        return None if q.places or self.catalog.named_docs(q) else self.index.docs[self.home_docs[0]].locality

    def _answer_from_home(self, q: Question, conversation_id: str | None) -> Answer:
        """Which plans to answer from. A question naming a ward that has several plans: those plans, newest first.
        With a home locality (a kiosk's ward), a question that names no place nor plan: the home ward's plans,
        newest first; only when none of them answers (or another plan covers the subject clearly better, see
        ``_elsewhere``) the whole corpus, saying that the answer comes from elsewhere."""
        named = self.catalog.named_docs(q)
        if len(named) > 1 and len({self.index.docs[d].locality for d in named}) == 1:
            # one ward with several plans: its plans only, newest first (two wards named: the whole corpus)
            answers = []
            for doc_id in named:
                answers.append(self._answer(q, conversation_id, home_doc=doc_id))
                if not answers[-1].abstained:
                    break
            return self._with_localities(next((a for a in answers if not a.abstained), answers[0]))
        home = self.home_docs if self.home_docs and not q.places and not named else []
        for doc_id in home:
            answer = self._answer(q, conversation_id, home_doc=doc_id)
            if not answer.abstained:
                return self._with_localities(answer)
        answer = self._with_localities(self._answer(q, conversation_id))
        if home and not answer.abstained and not set(answer.localities) & {ward_name(self.index.docs[d]) for d in home}:
            here = ward_name(self.index.docs[home[0]])
            answer.answer = (f"Tài liệu của {here} không nêu nội dung này; thông tin dưới đây lấy từ tài liệu của "
                             f"{', '.join(answer.localities)}. {answer.answer}")
        return answer

    def _with_localities(self, answer: Answer) -> Answer:
        answer.localities = list(dict.fromkeys(ward_name(self.index.docs[c.doc_id]) for c in answer.citations))
        return answer

    def _answer(self, q: Question, conversation_id: str | None, home_doc: str | None = None) -> Answer:
        if not q.topic and q.kind == "general":
            return self.abstain(q, "câu hỏi chưa nêu nội dung cần tra cứu")
        unknown = [p for p in q.places if not self.catalog.names.prefix_related(p)]
        if unknown:
            return self.abstain(q, f"tài liệu không có kế hoạch của «{unknown[0]}»")
        if q.legal_keys and not set(q.legal_keys) & self.legal_keys:
            return self.abstain(q, "tài liệu không nhắc đến văn bản này")
        doc_id = home_doc or self.catalog.doc_hint(q)
        if q.kind == "signer":
            return answer_signer(self, q, [doc_id] if doc_id else self.catalog.named_docs(q))
        follow = self._follow_up(q, conversation_id)
        if follow is not None:
            return answer_field(self, q, [Candidate(-1, 1.0, 1.0, follow)], conversation_id, both=False)
        fact = answer_doc_fact(self, q, doc_id)
        if fact is not None:
            return fact
        if q.kind in ("list", "count", "legal") and asks_for_acts(q):
            acts = answer_acts(self, q, doc_id)
            if acts is not None:
                return acts
        if q.legal_keys and (q.kind == "legal" or re.search(r"\bngay\b|ban hanh", q.folded)) \
                and not re.search(r"nhiem vu", q.folded):
            detail = answer_act_detail(self, q, doc_id)
            if detail is not None:
                return detail
        if q.kind in ("list", "count"):
            listed = answer_list(self, q, doc_id)
            if listed is not None:
                return listed
        cands = self._candidates(q, doc_id)
        if not cands or cands[0].cov < self.settings.abstain_threshold:
            return self.abstain(q, "không tìm thấy nội dung phù hợp")
        if doc_id and (other := self._elsewhere(q, doc_id, cands[0])):
            return self.abstain(q, f"kế hoạch được hỏi không có nội dung này; nội dung gần nhất nằm trong {other}")
        if q.kind in ("lead", "monitor") and cands[0].task is None:
            assigned = answer_assignment(self, q, cands[0])
            if assigned is not None:
                return assigned
        if q.kind in FIELD_ROLES:
            with_field = [c for c in cands if c.task and any(c.task.value(r) for r in FIELD_ROLES[q.kind])]
            best = cands[0]
            if best.task and best not in with_field and (not with_field or with_field[0].score < 0.85 * best.score):
                # the task asked about is found, but the plan leaves this field empty: say so, invent nothing
                return self.abstain(q, f"nhiệm vụ tại {best.task.locator} không ghi {LABELS[FIELD_ROLES[q.kind][0]].lower()}")
            if with_field and with_field[0].cov >= self.settings.abstain_threshold:
                return answer_field(self, q, with_field, conversation_id, both=doc_id is None)
        if q.kind == "legal" and not q.legal_keys:
            acts = answer_unit_acts(self, q, cands[0].pos)
            if acts is not None:
                return acts
        if q.kind == "number":
            plan_years = [y for y in q.years if y not in self.catalog.years]
            found = None if plan_years else self.figures.answer(q, cands, self)
            return found or self.abstain(q, "tài liệu không nêu con số này")
        return answer_passage(self, q, cands)

    # ----------------------------------------------------------------- evidence
    def rerank(self, question: str, top_k: int = 10, doc_id: str | None = None) -> list[Hit]:
        """The hybrid hits as the answer stage orders them: topic coverage, task fit, the plan the question names."""
        q = analyze(question)
        q.topic = self.catalog.topic_without_names(q)
        cands = self._candidates(q, doc_id or self.catalog.doc_hint(q), k=max(30, top_k))
        answer = self._answer_from_home(q, None)  # what the answer cites ranks first: the evidence actually used
        cited = [self._unit_at(c.doc_id, c.start) for c in answer.citations]
        top = max((c.score for c in cands), default=1.0) + 1.0
        ranked = [Candidate(p, top - i * 1e-3, 1.0, None) for i, p in enumerate(dict.fromkeys(p for p in cited if p is not None))]
        ranked += [c for c in cands if c.pos not in {r.pos for r in ranked}]
        if doc_id:
            ranked = [c for c in ranked if self.index.units[c.pos].doc_id == doc_id]
        hits = []
        for rank, c in enumerate(ranked[:top_k], 1):
            u = self.index.units[c.pos]
            hits.append(Hit(unit_id=u.chunk_id, doc_id=u.doc_id, locator=u.locator, text=u.text, score=round(c.score, 4),
                            kind=u.kind, span=u.span, ranks={"reranked": rank}, signals={"coverage": round(c.cov, 4)}))
        return hits

    def _unit_at(self, doc_id: str, offset: int) -> int | None:
        """The unit whose span holds ``offset`` (the smallest, when passages nest)."""
        best = None
        for pos in self.catalog.units_of.get(doc_id, ()):
            u = self.index.units[pos]
            if u.span[0] <= offset < u.span[1] and (
                    best is None or u.span[1] - u.span[0] < self.index.units[best].span[1] - self.index.units[best].span[0]):
                best = pos
        return best

    def _candidates(self, q: Question, doc_id: str | None, k: int = 12) -> list[Candidate]:
        """BM25 candidates first; when they cover the question poorly, the BM25 leg re-scored over more
        candidates ("lexical"); the dense leg (hybrid) only when even those are too weak to answer from — a
        paraphrase the corpus words differently. Embedding a question costs 15–60 ms on 2 cores (BM25 < 1 ms),
        so the encoder stays off the path of every question the lexical evidence answers."""
        filters = Filters(doc_id=doc_id) if doc_id else None
        cands: list[Candidate] = []
        for mode, below in (("bm25", 1.0), ("lexical", RESCORE_BELOW), ("hybrid", self.settings.abstain_threshold)):
            if cands and cands[0].cov >= below:
                break
            if mode == "hybrid" and self._coverage_bound(q) < below:
                break  # no unit can cover the question enough to answer, whatever the encoder finds
            found = self._score(q, doc_id, self.retriever.search(q.text, top_k=k, filters=filters, mode=mode))
            cands = found or cands
        return cands

    def _coverage_bound(self, q: Question) -> float:
        """The best coverage any unit has of the question (as ``_score`` counts it: the unit's terms and, when the
        question names an act, the acts it cites), summed over the postings of the question's terms."""
        wanted = topic_terms(q.topic + [f"§{k}" for k in q.legal_keys[:1]])
        weights = {t: self.idf(t) for t in wanted}
        total = sum(weights.values())
        return self.postings.best_weight(weights) / total if total else 0.0

    def _score(self, q: Question, doc_id: str | None, hits: list[Hit]) -> list[Candidate]:
        if not hits:
            return []
        top = hits[0].score
        positions = [self.retriever.pos[h.unit_id] for h in hits]
        # a row the question names by number ("mục VII.1"): in the plans the hits come from (every plan of a
        # province has a row VII.1)
        named = self._named_rows(q, doc_id, {self.index.units[p].doc_id for p in positions})
        positions += [p for p in named if p not in positions]
        out = []
        acts = [f"§{k}" for k in q.legal_keys[:1]]  # an act the question names counts as a (rare) topic term
        unit_cover, task_cover = coverage_of(q.topic + acts, self.idf), coverage_of(q.topic, self.idf)
        hit_score: dict[int, float] = {}
        for h in hits:  # the first hit of a unit gives its score
            hit_score.setdefault(self.retriever.pos[h.unit_id], h.score)
        for pos in positions:
            h_score = hit_score.get(pos, 0.0)
            h = self.index.units[pos]
            cited = self.unit_legal.get(pos, _NONE)
            unit_terms = self.unit_terms[pos] | {f"§{k}" for k in cited} if acts else self.unit_terms[pos]
            cov = unit_cover(unit_terms)
            doc = self.index.docs[h.doc_id]
            year_bonus = 0.05 if any(doc.year_from <= y <= doc.year_to for y in q.years) else 0.0
            task_pos = self.index.unit_task.get(pos)
            task = self.index.tasks[task_pos] if task_pos is not None else None
            match = cov
            if task is not None:  # what the task is about weighs more than what its fields say
                match = 0.5 * cov + 0.5 * task_cover(self.task_terms[task_pos])
                match += _fit(q, task)
            if q.legal_keys and set(q.legal_keys) & cited:
                match += 0.2  # the act the question names is cited right here
            if pos in named:
                match += 0.3
            out.append(Candidate(pos, 0.4 * h_score / top + 0.6 * match + year_bonus, cov, task))
        out.sort(key=lambda c: -c.score)
        return out

    def _named_rows(self, q: Question, doc_id: str | None, docs: set[str]) -> list[int]:
        m = _ROW_REF.search(q.folded)
        if not m:
            return []
        locator = f"Phụ lục › {m.group(1).upper()} › STT {int(m.group(2))}"
        return [i for i in self.catalog.by_locator.get(locator, ())
                if (self.index.units[i].doc_id == doc_id if doc_id else self.index.units[i].doc_id in docs)]

    def _elsewhere(self, q: Question, doc_id: str, best: Candidate) -> str | None:
        """The question names one plan but its subject is in another: say so instead of a weak match. No unit
        anywhere covering the question 0.2 better than ``best`` (``_coverage_bound``), there is nothing to search."""
        if self._coverage_bound(q) < best.cov + ELSEWHERE_MARGIN - 1e-9:
            return None
        others = [c for c in self._candidates(q, None) if self.index.units[c.pos].doc_id != doc_id]
        if others and others[0].cov - best.cov >= ELSEWHERE_MARGIN:
            return self.index.docs[self.index.units[others[0].pos].doc_id].title
        return None

    def _follow_up(self, q: Question, conversation_id: str | None) -> TaskRecord | None:
        if not conversation_id:
            return None
        with self._lock:
            last = self._conversations.get(conversation_id)
        if last is None or q.kind not in FIELD_ROLES or len(q.topic) > 2:
            return None
        return self.index.tasks[last]

    def remember(self, conversation_id: str | None, task: TaskRecord) -> None:
        if not conversation_id:
            return
        with self._lock:
            self._conversations[conversation_id] = self.catalog.task_pos[task.task_id]
            self._conversations.move_to_end(conversation_id)
            while len(self._conversations) > 5000:
                self._conversations.popitem(last=False)

    def abstain(self, q: Question, reason: str) -> Answer:
        docs = self.index.docs
        titles = "; ".join(d.title for d in docs.values()) if len(docs) <= 6 else (
            f"{len(docs)} văn bản của {len(self.catalog.localities)} địa phương")
        examples = " · ".join(f"«{e}»" for e in EXAMPLES)
        text = (f"Xin lỗi, tài liệu hiện có không nêu thông tin này ({reason}). Trợ lý chỉ trả lời từ: {titles}. "
                f"Bạn có thể hỏi, ví dụ: {examples}")
        return Answer(answer=text, abstained=True, citations=[], kind=q.kind, debug={"reason": reason})


def unit_term_sets(index: Index) -> tuple[TermSets, TermSets]:
    """The terms of each unit's indexed text and of each task's text (group and task), once per index."""
    units = term_sets(index, "answer.unit_terms", lambda p: unit_text(index.units[p]), terms, len(index.units))
    tasks = term_sets(index, "answer.task_terms", lambda p: f"{index.tasks[p].group}. {index.tasks[p].task}", terms,
                      len(index.tasks))
    return units, tasks


_NONE: frozenset[str] = frozenset()
ELSEWHERE_MARGIN = 0.2  # coverage by which another plan must beat the named one to be pointed to instead
RESCORE_BELOW = 0.5  # coverage under which the BM25 candidates are doubted and re-scored over more candidates
_ROW_REF = re.compile(r"\b(?:muc |stt )?([ivx]+)\.(\d{1,2})\b")
_UNIT_ASKED = re.compile(r"\b(quy|thang|nam|ngay) (nao|may)\b")
_YEAR = re.compile(r"\b20\d\d\b")


def _fit(q: Question, task: TaskRecord) -> float:
    """Small preferences between similar tasks: the deadline has the unit asked for ("quý nào" → a quarter);
    the task's own text names a different year than the question."""
    bonus = 0.0
    unit = _UNIT_ASKED.search(q.folded)
    if q.kind == "deadline" and unit and re.search(rf"\b{unit.group(1)}\b", fold(task.deadline)):
        bonus += 0.08
    years_in_task = set(_YEAR.findall(task.task))
    if q.years and years_in_task and not {str(y) for y in q.years} & years_in_task:
        bonus -= 0.08
    return bonus
