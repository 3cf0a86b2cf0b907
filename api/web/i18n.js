// The page's words in English and Chinese. The language: ?lang=zh or ?lang=en in the address, else the
// browser's (navigator.languages: zh-CN, zh-TW, zh-HK ... read Chinese). Answers, document names and the
// server's messages are shown as they come; only the page's own labels are translated.
"use strict";

const STRINGS = {
  en: {
    title: "Knowledge base assistant", key: "API key", keyPlaceholder: "Bearer key", kb: "Knowledge base",
    load: "Load", ask: "Ask", askButton: "Ask", question: "Ask a question", upload: "Upload",
    uploadButton: "Upload", documents: "Documents", voteUp: "a good answer", voteDown: "a wrong or unhelpful answer",
    noKb: "no knowledge base for this key", noDocs: "no documents yet", chunks: (n) => `${n} chunks`,
    docs: (name, n) => `${name} (${n} docs)`, page: (p, end) => end && end !== p ? ` p.${p}–${end}` : ` p.${p}`,
    refused: "not in the knowledge base", cached: "cached", quoted: "quoted from the documents",
    fellBack: "the model's answer was unsupported: quoted instead",
    unsupported: "the model's answer was unsupported by the documents",
    firstToken: (s) => `first token ${s} s`, firstShown: (s) => `first shown ${s} s`, total: (s) => `total ${s} s`,
    correction: "What should the answer have said? (optional)", thanksUp: "thanks: marked helpful",
    thanksDown: "thanks: marked unhelpful", closed: (code) => `the connection closed (${code})`,
    job: (id, status) => `job ${id}: ${status}`,
    status: { queued: "queued", running: "running", done: "done", failed: "failed" },
    synonyms: "Synonyms", save: "Save", saved: (n) => `saved: ${n} rules`,
    synonymsHelp: "One rule a line: 挂号费, 诊查费 (the same) or ATM card => debit card (also means). Every question also searches what its words mean.",
    gaps: "Unanswered in the last 30 days", noGaps: "none", times: (n) => n === 1 ? "asked once" : `asked ${n} times`,
    votedDown: (n) => `${n} voted down`,
    missingWords: (words) => `Words no document holds: ${words}. Add documents, or synonyms below.`,
  },
  zh: {
    title: "知识库助手", key: "API 密钥", keyPlaceholder: "Bearer 密钥", kb: "知识库",
    load: "加载", ask: "提问", askButton: "提问", question: "输入问题", upload: "上传文档",
    uploadButton: "上传", documents: "文档", voteUp: "回答有帮助", voteDown: "回答有误或没有帮助",
    noKb: "此密钥没有可用的知识库", noDocs: "还没有文档", chunks: (n) => `${n} 个片段`,
    docs: (name, n) => `${name}（${n} 个文档）`, page: (p, end) => end && end !== p ? ` 第${p}–${end}页` : ` 第${p}页`,
    refused: "知识库中没有答案", cached: "缓存", quoted: "摘自文档",
    fellBack: "模型的回答没有依据，已改为摘录原文", unsupported: "模型的回答没有文档依据",
    firstToken: (s) => `首字 ${s} 秒`, firstShown: (s) => `首次显示 ${s} 秒`, total: (s) => `共 ${s} 秒`,
    correction: "正确的回答应该是什么？（可不填）", thanksUp: "谢谢：已标记为有帮助",
    thanksDown: "谢谢：已标记为没有帮助", closed: (code) => `连接已断开（${code}）`,
    job: (id, status) => `任务 ${id}：${status}`,
    status: { queued: "排队中", running: "处理中", done: "已完成", failed: "失败" },
    synonyms: "同义词", save: "保存", saved: (n) => `已保存 ${n} 条规则`,
    synonymsHelp: "每行一条：挂号费, 诊查费（意思相同）或 ATM card => debit card（也指）。每个问题也会搜索其中词语的同义词。",
    gaps: "近 30 天未能回答的问题", noGaps: "没有", times: (n) => `问过 ${n} 次`,
    votedDown: (n) => `${n} 次被点踩`,
    missingWords: (words) => `文档中没有的词：${words}。请补充文档，或在下面添加同义词。`,
  },
};

function pageLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  const wanted = asked || (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return wanted.toLowerCase().startsWith("zh") ? "zh" : "en";
}

const LANG = pageLanguage();
const T = STRINGS[LANG];

// the labels in the page: data-t (text), data-t-placeholder and data-t-title (attributes)
function translatePage() {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.title = T.title;
  document.querySelectorAll("[data-t]").forEach(n => { n.textContent = T[n.dataset.t]; });
  document.querySelectorAll("[data-t-placeholder]").forEach(n => { n.placeholder = T[n.dataset.tPlaceholder]; });
  document.querySelectorAll("[data-t-title]").forEach(n => { n.title = T[n.dataset.tTitle]; });
}
