"""To ask for something is to request it (rag/answering/equivalents.txt: "ask for => request"): "how early should i
request a refill" shares only "refill" (a word of the document's title) with the hospital's "Please ask for a refill
at least 3 business days before you run out", which ends the second-ranked chunk, and the first chunk's steps,
naming "Request refill" and the refill line's "24 hours a day", were quoted instead. "ask" alone is no request: a
question one asks stays a question."""
from __future__ import annotations

from rag.answering.equivalents import as_words
from rag.answering.extract import fallback_answer
from rag.types import Hit

TITLE = "RIVERBEND GENERAL HOSPITAL Outpatient Pharmacy and Prescription Refills"
# the two chunks of data/eval/domains/hospital/docs/en/pharmacy-and-refills.txt retrieved first, in that order
STEPS = """1. Call the automated refill line, (503) 555-0177, available 24 hours a day, and enter the 7-digit prescription (Rx) number printed on your label.
2. Or, in the MyRiverbend app, go to Pharmacy and choose Request refill.
3. We send you a text message when your medicine is ready.
4. Collect it within 10 days. After 10 days, it is returned to stock and you must request it again. If your prescription has no refills left, we will contact your prescriber for you. Please allow 2 business days for this. Controlled medicines cannot be refilled early and need a new prescription each time.
Delivery by mail
Free standard mail delivery (3 to 5 business days) is available for regular, long-term medicines. Next-day courier delivery costs $12."""
BEFORE_STEPS = """Where and when
The Outpatient Pharmacy is on the Ground Floor of the Main Building, opposite the Atrium Cafe. Monday to Friday: 8:00 am to 8:00 pm
Saturday: 9:00 am to 5:00 pm
Getting a prescription filled
Prescriptions written by Riverbend doctors are sent to us electronically, so you do not need a paper copy. Most prescriptions are ready in about 30 minutes. Specially prepared (compounded) medicines can take up to 2 business days. Your co-pay is paid when you collect your medicine.
Refills
Please ask for a refill at least 3 business days before you run out.
1. Call the automated refill line, (503) 555-0177, available 24 hours a day, and enter the 7-digit prescription (Rx) number printed on your label."""


def test_asking_for_reads_as_requesting():
    assert as_words("Please ask for a refill; she asked for it") == "Please request a refill; she request it"
    assert as_words("Ask a pharmacist any question you have") == "Ask a pharmacist any question you have"


def test_how_early_to_request_a_refill_is_answered_by_the_sentence_asking_for_one():
    hits = [Hit(doc_id="d", chunk_id=f"c{i}", source="pharmacy-and-refills.txt", text=text, score=1.0, title=TITLE)
            for i, text in enumerate((STEPS, BEFORE_STEPS))]
    answer = fallback_answer("how early should i request a refill", hits)
    assert answer is not None and "at least 3 business days before you run out" in answer
