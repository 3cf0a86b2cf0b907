"""`rag tune refusal`: choose the KB's refusal threshold from answerable vs unanswerable questions
and store it in the KB, so `rag ask` and the service refuse weak evidence without generating."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.answering.refusal import META_KEY, Calibration, calibrate, evidence

# Questions no bank, school or hospital knowledge base answers: the default unanswerable set.
OFF_TOPIC = [
    "Who won the football World Cup in 2010?", "What is the boiling point of mercury?",
    "Write me a poem about the moon.", "What is the capital of Australia?",
    "How many moons does Jupiter have?", "Recommend a good recipe for lasagna.",
    "Who painted the Mona Lisa?", "What is the best way to train a puppy?",
    "Which stocks will go up tomorrow?", "How do I fix a flat bicycle tyre?",
    "2018年世界杯冠军是哪个国家？", "红烧肉怎么做好吃？", "月球离地球有多远？",
    "推荐几部好看的科幻电影。", "明天的天气怎么样？", "如何训练小狗上厕所？",
]


@dataclass
class RefusalReport:
    calibration: Calibration
    answerable: list[float]
    unanswerable: list[float]


def read_questions(path: str | Path) -> list[str]:
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def scores(pipeline, questions: list[str]) -> list[float]:
    """Evidence score of each question, through the same retrieve (+ rerank) path as answering."""
    out = []
    k = pipeline.settings.answer.top_k
    for q in questions:
        hits = pipeline.retriever.run(q, max(k, pipeline.reranker.top_n if pipeline.reranker else k))
        if pipeline.reranker:
            hits = pipeline.reranker.run(q, hits, k)
        out.append(evidence(hits[:k]))
    return out


def tune_refusal(pipeline, answerable: list[str], unanswerable: list[str] | None = None,
                 store_in_kb: bool = True, min_answered: float | None = 0.9) -> RefusalReport:
    pipeline.retriever.warm_up()
    if pipeline.reranker:
        pipeline.reranker.warm_up()
    a = scores(pipeline, answerable)
    u = scores(pipeline, unanswerable or OFF_TOPIC)
    cal = calibrate(a, u, min_answered)
    if store_in_kb:
        store = pipeline.retriever.store
        store.set_meta(META_KEY, repr(cal.threshold))
        pipeline.refusal_threshold = cal.threshold
    return RefusalReport(cal, a, u)
