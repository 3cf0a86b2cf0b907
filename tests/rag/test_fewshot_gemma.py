"""Few-shot completion prompts (rag.generation.fewshot) and the bundled Gemma 3 270M base model on
llama.cpp: it answers grounded questions in English and Chinese, cites its passage, refuses when the
passages do not say, and stops at the blank line that ends an example."""
import pytest

from rag.generation.config import GenerationSettings
from rag.generation.fewshot import STOP_SEQUENCES, StopAt, completion_text, header
from rag.generation.prompt import SYSTEM_PROMPT, build_messages
from rag.types import Hit

CARDS = ("Report a lost or stolen card straight away. Call the 24-hour Card Services line at 1-800-555-0199. "
         "From outside the United States, call +1-302-555-0188.")
WIRES = "Wire transfers cost $25 for domestic wires and $45 for international wires."
ZH_HOURS = "营业时间：周一至周五上午9:00至下午5:00，周六上午9:00至中午12:00，周日休息。"
ZH_FEES = "跨行转账通过手机银行办理免收手续费，柜台办理每笔收取5元。"


def _hit(i: int, text: str, **kw) -> Hit:
    return Hit(doc_id=f"d{i}", chunk_id=f"d{i}#0", source=f"docs/file{i}.txt", text=text, score=1.0 / (i + 1), **kw)


def test_stop_at_cuts_at_the_first_stop_sequence_and_shows_none_of_it():
    cut = StopAt()
    pieces = ["The fee", " is $25 [1].", "\n", "\nQuestion: next"]
    shown = "".join(cut.feed(p) for p in pieces) + cut.flush()
    assert shown == "The fee is $25 [1]." and cut.stopped
    cut = StopAt()
    shown = "".join(cut.feed(p) for p in ["A line\n", "B line", "\nQues", "tion: x"]) + cut.flush()
    assert shown == "A line\nB line"  # one newline is text; "\nQuestion:" is a stop
    cut = StopAt()
    assert cut.feed("no stop at all\n") == "no stop at all" and cut.flush() == "\n"  # held back, then released
    assert all(s.startswith("\n") for s in STOP_SEQUENCES)


def test_completion_text_keeps_the_system_prompt_examples_history_and_the_question():
    msgs, _ = build_messages("And for international wires?", [_hit(0, WIRES)],
                             history=[{"role": "user", "content": "How much is a domestic wire?"},
                                      {"role": "assistant", "content": "A domestic wire costs $25 [1]."}])
    text = completion_text(msgs)
    assert text.startswith(SYSTEM_PROMPT) and text.startswith(header(msgs))
    assert "Question: How much is a domestic wire?\nAnswer: A domestic wire costs $25" in text
    assert text.endswith("Question: And for international wires?\nAnswer:")
    assert text.count('<passage id=1 title="file0.txt">') == 1 and text.count(WIRES) == 1


@pytest.fixture(scope="module")
def gemma():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [llamacpp] extra) is not installed")
    from rag.generation.factory import make_generator
    from rag.generation.llamacpp import LlamaCppGenerator

    settings = GenerationSettings(model="gemma3-270m", n_threads=2)
    assert settings.few_shot() and settings.writes("zh") and settings.writes("en")
    gen = make_generator(settings)
    assert isinstance(gen, LlamaCppGenerator) and gen.few_shot
    gen.warm_up(system_prompt=SYSTEM_PROMPT)
    return gen


def _ask(gen, question, hits):
    msgs, used = build_messages(question, hits, count_tokens=gen.count_tokens, budget=300)
    return gen.generate(msgs, max_new_tokens=60), used, msgs


def test_gemma_answers_in_english_with_a_citation(gemma):
    from rag.answering.cite import cite

    answer, used, msgs = _ask(gemma, "How much does an international wire cost?",
                              [_hit(0, CARDS, title="Cards"), _hit(1, WIRES, title="Wires")])
    assert "45" in answer and "\n\n" not in answer
    result = cite(answer, used)
    assert [c.doc_id for c in result.citations] == ["d1"]
    stats = gemma.last_stats
    assert stats["reused_tokens"] >= len(gemma._system_prefix(msgs)) > 300  # the examples' state is reused


def test_gemma_answers_in_chinese_with_a_citation(gemma):
    """In both passage orders the answer holds the fact; at least one cites its passage and none cites
    the other one. (The 270M base model's marker is not stable: kernels that differ only in summation
    order, AMX or AVX-512, or another thread count, turn one of the two into "5元[3]" — a passage that
    does not exist, which the citation check drops.)"""
    from rag.answering.cite import cite

    hours, fees = _hit(0, ZH_HOURS, title="营业时间"), _hit(1, ZH_FEES, title="收费")
    cited = []
    for hits in ([hours, fees], [fees, hours]):
        answer, used, _ = _ask(gemma, "柜台跨行转账收多少手续费？", hits)
        assert "5元" in answer and "\n\n" not in answer
        cited.append({c.doc_id for c in cite(answer, used).citations})
    assert all(ids <= {"d1"} for ids in cited) and any(ids == {"d1"} for ids in cited), cited


def test_gemma_off_topic_answer_never_reaches_the_user_as_grounded(gemma):
    """The 270M base model sometimes answers from its own memory ("The United States."); the citation
    check then finds no passage backing it, which the pipeline turns into a refusal."""
    from rag.answering.cite import cite, is_refusal

    for question in ("Who won the 1998 FIFA World Cup?", "What is the capital of Australia?"):
        answer, used, _ = _ask(gemma, question, [_hit(0, WIRES, title="Wires")])
        assert is_refusal(answer) or not cite(answer, used).citations, answer


def test_few_shot_needs_the_llamacpp_backend():
    from rag.generation.factory import make_generator, resolve_backend

    assert resolve_backend(GenerationSettings(model="gemma3-270m"), installed=False) == "llamacpp"
    assert not GenerationSettings().few_shot() and GenerationSettings(prompt_format="few-shot").few_shot()
    with pytest.raises(ValueError, match="llamacpp backend"):
        make_generator(GenerationSettings(backend="local", prompt_format="few-shot"))


def test_a_tuned_base_model_gets_the_completion_prompt_without_examples(tmp_path):
    """gemma3-270m with a LoRA adapter is served the format `rag tune generator` trained it on: the
    system prompt, the passages and the question, no worked examples (337 fewer tokens to prefill)."""
    msgs, _ = build_messages("How much is a wire?", [_hit(0, WIRES)])
    assert GenerationSettings(model="gemma3-270m").prompt_style() == "few-shot"
    tuned = GenerationSettings(model="gemma3-270m", adapter=tmp_path)
    assert tuned.prompt_style() == "completion" and tuned.few_shot()
    assert GenerationSettings(model="gemma3-270m", adapter=tmp_path, prompt_format="few-shot").prompt_style() == "few-shot"
    assert GenerationSettings().prompt_style() == "chat"
    bare = completion_text(msgs, examples=False)
    assert bare.startswith(SYSTEM_PROMPT) and "Question: How long does a replacement card take?" not in bare
    assert "Question: How long does a replacement card take?" in completion_text(msgs)
    assert bare.endswith("Question: How much is a wire?\nAnswer:") and header(msgs, examples=False) == SYSTEM_PROMPT + "\n\n"


def test_training_a_base_model_masks_the_completion_prompt_and_keeps_the_end_of_answer():
    from transformers import AutoTokenizer

    from rag.adapt.qa_data import QARecord
    from rag.adapt.tune_generator import encode_example, train_format
    from rag.generation.model_cache import resolve_model_dir

    tok = AutoTokenizer.from_pretrained(str(resolve_model_dir("smollm2")))
    rec = QARecord(question="柜台跨行转账收多少手续费？", answer="柜台办理每笔收取5元[1]。", context=[ZH_FEES])
    ids, labels = encode_example(tok, rec, 250, "completion")
    answer_ids = [t for t in labels if t != -100]
    assert labels[:len(ids) - len(answer_ids)] == [-100] * (len(ids) - len(answer_ids))
    assert tok.decode(answer_ids) == " 柜台办理每笔收取5元[1]。\n\n"  # the blank line that stops an answer
    prompt = tok.decode(ids[:len(ids) - len(answer_ids)])
    assert prompt.endswith("Question: 柜台跨行转账收多少手续费？\nAnswer:") and "Question: How long" not in prompt
    chat_ids, chat_labels = encode_example(tok, rec, 250, "chat")
    assert "<|im_start|>assistant" in tok.decode(chat_ids) and chat_ids != ids
    assert train_format(GenerationSettings(model="gemma3-270m")) == "completion"
    assert train_format(GenerationSettings()) == "chat"


def test_gemma_drafts_questions_in_the_language_of_the_text(gemma):
    """`rag synth` with a base model: the few-shot question prompt, one line, in the text's language."""
    from indexer.script import is_cjk
    from rag.adapt.synth import clean_question, draft_question, writes_few_shot

    assert writes_few_shot(gemma)
    en = clean_question(draft_question(gemma, WIRES, ""))
    # (a 270M model copies some statements back instead, which clean_question drops; this one it asks)
    zh = clean_question(draft_question(gemma, "个人住房贷款的最长期限为30年，且借款人年龄加贷款期限不超过70岁。", ""))
    assert en and not is_cjk(en) and en.endswith("?"), en
    assert zh and is_cjk(zh) and zh.endswith(("?", "？")), zh
    assert gemma.complete("One, two, three,", max_new_tokens=12, stops=(",",)) in ("four", "4")
