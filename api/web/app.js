// The web page's script (a file: the Content-Security-Policy allows no inline script).
// Everything the server sends (KB names, document names and ids, job reasons, answers, passages,
// error messages) is untrusted text: it is put on the page with textContent / DOM nodes, never as HTML.
// The key stays in this tab (sessionStorage), and reaches the WebSocket as a single-use ticket.
"use strict";

const $ = (id) => document.getElementById(id);
translatePage();  // i18n.js
const params = new URLSearchParams(location.hash.slice(1));
$("key").value = params.get("key") || sessionStorage.getItem("rag_key") || "";
if (params.has("key")) {  // out of the address bar and the history
  const rest = new URLSearchParams(params);
  rest.delete("key");
  history.replaceState(null, "", location.pathname + location.search + (rest.toString() ? "#" + rest : ""));
}
const headers = () => ({ "Authorization": "Bearer " + $("key").value.trim() });

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function showError(target, message) {
  target.replaceChildren(el("span", message, "error"));
}

async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: { ...headers(), ...(opts.headers || {}) } });
  if (!r.ok) {
    let msg = r.status + "";
    try { msg = (await r.json()).error.message; } catch (e) {}
    throw new Error(msg);
  }
  return r.status === 204 ? null : r.json();
}

async function loadKBs() {
  sessionStorage.setItem("rag_key", $("key").value.trim());
  try {
    const kbs = await api("/v1/kbs");
    const want = params.get("kb") || $("kb").value;
    $("kb").replaceChildren(...kbs.map(k => {
      const opt = el("option", T.docs(k.name, k.documents));
      opt.value = k.name;
      return opt;
    }));
    if (kbs.some(k => k.name === want)) $("kb").value = want;
    $("status").textContent = kbs.length ? "" : T.noKb;
    loadKB();
  } catch (e) { showError($("status"), e.message); }
}

async function loadDocs() {
  const kb = $("kb").value;
  if (!kb) return;
  try {
    const docs = await api(`/v1/kbs/${encodeURIComponent(kb)}/documents`);
    $("docs").replaceChildren(...docs.map(d => {
      const li = el("li", d.source);
      li.title = d.doc_id;
      li.append(" ", el("span", `· ${T.chunks(d.chunks)}`, "muted"));
      return li;
    }));
    if (!docs.length) $("docs").replaceChildren(el("li", T.noDocs, "muted"));
  } catch (e) { $("docs").replaceChildren(el("li", e.message, "error")); }
}

// A KB chosen: its documents, synonyms and gaps (an upload's end reloads the documents only: the synonyms
// being edited stay as typed)
function loadKB() {
  loadDocs();
  loadSynonyms();
  loadGaps();
}

// The KB's synonyms (GET/PUT /v1/kbs/{kb}/synonyms): shown to every key that may read the KB, saved by keys
// that may write it (the server says 403 otherwise). The box remembers whose list it holds (data-kb): Save
// writes only that KB's, and only while it is the KB chosen, so a list is never saved into another KB
async function loadSynonyms() {
  const kb = $("kb").value;
  $("synonyms-status").textContent = "";
  $("synonyms").dataset.kb = "";
  try {
    const got = await api(`/v1/kbs/${encodeURIComponent(kb)}/synonyms`);
    if ($("kb").value !== kb) return;  // another KB was chosen meanwhile: its own answer fills the box
    $("synonyms").value = got.text;
    $("synonyms").dataset.kb = kb;
    $("synonyms-section").hidden = false;
  } catch (e) { if ($("kb").value === kb) $("synonyms-section").hidden = true; }
}
$("synonyms-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const kb = $("synonyms").dataset.kb;
  if (!kb || kb !== $("kb").value) return;  // the chosen KB's list is still loading
  try {
    const got = await api(`/v1/kbs/${encodeURIComponent(kb)}/synonyms`, {
      method: "PUT", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("synonyms").value }) });
    $("synonyms").value = got.text;
    $("synonyms-status").textContent = T.saved(got.rules.length);
  } catch (err) { showError($("synonyms-status"), err.message); }
});

// What readers asked that the KB did not answer (GET /v1/kbs/{kb}/gaps): for keys that administer the KB
async function loadGaps() {
  const kb = $("kb").value;
  try {
    const rep = await api(`/v1/kbs/${encodeURIComponent(kb)}/gaps?days=30&limit=10`);
    if ($("kb").value !== kb) return;  // another KB was chosen meanwhile
    $("gaps").replaceChildren(...rep.questions.map(q => {
      const li = el("li", q.question);
      li.append(" ", el("span", `· ${T.times(q.times)}` + (q.voted_down ? ` · ${T.votedDown(q.voted_down)}` : ""), "muted"));
      return li;
    }));
    if (!rep.questions.length) $("gaps").replaceChildren(el("li", T.noGaps, "muted"));
    $("gap-words").textContent = rep.missing_words.length
      ? T.missingWords(rep.missing_words.map(w => w.word).join(", ")) : "";
    $("gaps-section").hidden = false;
  } catch (e) { if ($("kb").value === kb) $("gaps-section").hidden = true; }
}

function renderAnswer(text) {
  // [n] markers become links to the citation list; the rest stays text
  const parts = String(text).split(/\[(\d+)\]/);
  $("answer").replaceChildren(...parts.map((part, i) => {
    if (i % 2 === 0) return document.createTextNode(part);
    const a = el("a", `[${part}]`, "cite");
    a.dataset.n = part;
    return a;
  }));
}

function renderCitations(citations) {
  $("citations").replaceChildren(...citations.map(c => {
    const li = el("li");
    li.dataset.n = String(c.n);
    li.append(el("span", `[${c.n}] ${c.source}${c.page ? T.page(c.page, c.page_end) : ""}`, "src"),
              el("span", `“${c.quote}”`, "quote"));
    return li;
  }));
}

function showCitation(n) {
  let active = null;
  document.querySelectorAll("#citations li").forEach(li => {
    const on = li.dataset.n === String(n);
    li.classList.toggle("active", on);
    if (on) active = li;
  });
  if (active) active.scrollIntoView({ block: "nearest" });
}

$("answer").addEventListener("click", (e) => { if (e.target.dataset.n) showCitation(e.target.dataset.n); });
$("citations").addEventListener("click", (e) => { const li = e.target.closest("li"); if (li) showCitation(li.dataset.n); });

let history_ = [];

function showDone(question, data) {
  renderAnswer(data.answer);
  $("answer").classList.toggle("refused", data.refused);
  renderCitations(data.citations);
  const t = data.timings || {};
  $("meta").textContent = (data.refused ? `${T.refused} · ` : "") +
    (data.refused && data.fallback_reason ? `${data.fallback_reason} · ` : "") + (data.cached ? `${T.cached} · ` : "") +
    (data.mode === "extract" && !data.refused ? `${T.quoted} · ` : "") +
    (data.fallback === "extractive" ? `${T.fellBack} · ` : "") +
    (data.fallback === "unsupported" ? `${T.unsupported} · ` : "") +
    `${T.firstToken((t.ttft_s || 0).toFixed(2))} · ` +
    (t.first_shown_s !== undefined ? `${T.firstShown(t.first_shown_s.toFixed(2))} · ` : "") +
    T.total((t.total_s || 0).toFixed(2));
  history_.push({ role: "user", content: question }, { role: "assistant", content: data.answer });
  history_ = history_.slice(-6);
  showFeedback(data.answer_id);
}

// Up/down votes on the answer shown (POST /v1/feedback); a down vote may carry a correction
let answerId = null;
function showFeedback(id) {
  answerId = id || null;
  $("feedback").hidden = !answerId;
  $("feedback-status").textContent = "";
  $("vote-up").disabled = $("vote-down").disabled = false;
}
async function vote(rating) {
  if (!answerId) return;
  const body = { answer_id: answerId, rating };
  if (rating === "down") {
    const correction = prompt(T.correction);
    if (correction) body.correction = correction;
  }
  try {
    await api("/v1/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body) });
    $("feedback-status").textContent = rating === "up" ? T.thanksUp : T.thanksDown;
    $("vote-up").disabled = $("vote-down").disabled = true;
  } catch (e) {
    showError($("feedback-status"), e.message);
  }
}
$("vote-up").addEventListener("click", () => vote("up"));
$("vote-down").addEventListener("click", () => vote("down"));

// One question over the KB's WebSocket, opened with a single-use ticket (the key never goes in a URL)
async function ask(question) {
  const kb = $("kb").value;
  $("answer").textContent = ""; $("citations").replaceChildren(); $("meta").textContent = "…"; showFeedback(null);
  let ticket;
  try {
    ticket = (await api("/v1/ws-ticket", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify({ kb }) })).ticket;
  } catch (e) { showError($("meta"), e.message); return; }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/kbs/${encodeURIComponent(kb)}/ws?ticket=` +
                           encodeURIComponent(ticket), ["rag.v1"]);
  let text = "", over = false;
  ws.onopen = () => ws.send(JSON.stringify({ question, history: history_ }));
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.type === "token") { text += m.text; renderAnswer(text); }
    else if (m.type === "citations") { renderCitations(m.citations); }
    else if (m.type === "done") { over = true; showDone(question, m.answer); ws.close(1000); }
    else if (m.type === "error") { over = true; showError($("meta"), m.error.message); ws.close(1000); }
  };
  ws.onclose = (ev) => {
    if (!over) showError($("meta"), ev.reason || T.closed(ev.code));
  };
}

$("ask").addEventListener("submit", (e) => { e.preventDefault(); const q = $("question").value.trim(); if (q) ask(q); });
$("refresh").addEventListener("click", loadKBs);
$("kb").addEventListener("change", () => { history_ = []; loadKB(); });
$("upload").addEventListener("submit", async (e) => {
  e.preventDefault();
  const fd = new FormData();
  for (const f of $("files").files) fd.append("files", f);
  try {
    const job = await api(`/v1/kbs/${encodeURIComponent($("kb").value)}/documents`, { method: "POST", body: fd });
    $("job").textContent = T.job(job.job_id, T.status.queued);
    const poll = async () => {
      try {
        const j = await api(`/v1/jobs/${encodeURIComponent(job.job_id)}`);
        const failed = j.files.filter(f => f.status === "failed");
        $("job").replaceChildren(document.createTextNode(T.job(j.job_id, T.status[j.status] || j.status)),
                                 ...failed.map(f => el("div", `${f.filename}: ${f.reason}`, "error")));
        if (j.status === "queued" || j.status === "running") setTimeout(poll, 1000); else loadDocs();
      } catch (err) { showError($("job"), err.message); }
    };
    poll();
  } catch (err) { showError($("job"), err.message); }
});
if ($("key").value) loadKBs();
if (params.get("q")) {
  const q = params.get("q");
  $("question").value = q;
  const wait = setInterval(() => { if ($("kb").value) { clearInterval(wait); ask(q); } }, 100);
}
