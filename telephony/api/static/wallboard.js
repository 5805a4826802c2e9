// The wallboard: reads /api/status/stream (Server-Sent Events over fetch, so the bearer token goes
// in a header, never in a URL) and redraws the figures. The token comes from the page's fragment
// (#token=…), which browsers never send to the server; it is then kept in sessionStorage.
"use strict";

const LABELS = {
  zh: {
    title: "12345 热线实时看板", waiting: "排队等待", longest_wait: "最长等待", talking: "通话中",
    ivr: "语音导航中", service_level: "今日15秒接通率", connection_rate: "今日接通率",
    abandonment_rate: "今日放弃率", satisfaction_rate: "今日满意率", contacts: "今日受理",
    answered: "今日接通", agents: "坐席状态", per_hour: "今日每小时受理量", queues: "队列",
    queue: "队列", q_waiting: "等待", q_longest: "最长", q_free: "空闲/坐席", calls: "进行中的来电",
    caller: "来电号码", state: "状态", agent: "坐席", seconds: "时长", s: "秒",
    available: "空闲", busy: "忙碌", ringing: "振铃", paused: "小休", unavailable: "离线",
    unknown: "未知", st_ivr: "导航", st_waiting: "排队", st_talking: "通话",
    link_ready: "PBX 已连接", link_down: "PBX 未连接", offline: "与服务器的连接中断，正在重连…",
    lang: "EN", announcements: "当前公告", all_callers: "全部来电", until: "至",
  },
  en: {
    title: "12345 Hotline live wallboard", waiting: "Waiting now", longest_wait: "Longest wait",
    talking: "Talking", ivr: "In IVR", service_level: "Answered ≤15 s today",
    connection_rate: "Connection rate today", abandonment_rate: "Abandoned today",
    satisfaction_rate: "Satisfaction today", contacts: "Contacts today", answered: "Answered today",
    agents: "Agents", per_hour: "Contacts per hour today", queues: "Queues", queue: "Queue",
    q_waiting: "Waiting", q_longest: "Longest", q_free: "Free/members", calls: "Calls in progress",
    caller: "Caller", state: "State", agent: "Agent", seconds: "Time", s: "s",
    available: "Available", busy: "Busy", ringing: "Ringing", paused: "Paused",
    unavailable: "Unavailable", unknown: "Unknown", st_ivr: "IVR", st_waiting: "Waiting",
    st_talking: "Talking", link_ready: "PBX connected", link_down: "PBX not connected",
    offline: "Lost the server, reconnecting…", lang: "中文", announcements: "Announcements now",
    all_callers: "all callers", until: "until",
  },
};
const AGENT_STATES = ["available", "busy", "ringing", "paused", "unavailable", "unknown"];

let lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "zh";
let last = null;

function token() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("hotline-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("hotline-token");
}

const t = (key) => LABELS[lang][key] ?? key;
const pct = (x) => (x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%");
const secs = (x) => (x === null || x === undefined ? "—" : Math.round(x) + t("s"));

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function setTile(key, raw, shown, level) {
  const tile = document.querySelector(`.tile[data-k="${key}"]`);
  const value = tile.querySelector(".value");
  value.textContent = shown;
  value.dataset.value = raw === null || raw === undefined ? "" : String(raw);
  tile.classList.toggle("warn", level === "warn");
  tile.classList.toggle("bad", level === "bad");
}

function applyLabels() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-label]")) node.textContent = t(node.dataset.label);
  document.title = t("title");
  document.getElementById("lang").textContent = t("lang");
  if (last) render(last);
}

function drawHours(counts) {
  const svg = document.getElementById("hours");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const ns = "http://www.w3.org/2000/svg";
  const max = Math.max(1, ...counts);
  const w = 480 / 24;
  counts.forEach((n, h) => {
    const height = (n / max) * 130;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(h * w + 2));
    rect.setAttribute("y", String(140 - height));
    rect.setAttribute("width", String(w - 4));
    rect.setAttribute("height", String(height));
    rect.setAttribute("data-hour", String(h));
    rect.setAttribute("data-value", String(n));
    svg.appendChild(rect);
    if (h % 3 === 0) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(h * w + 2));
      label.setAttribute("y", "155");
      label.textContent = String(h).padStart(2, "0");
      svg.appendChild(label);
    }
  });
}

function render(s) {
  last = s;
  const f = s.today.figures;
  const waiting = s.totals.waiting;
  const longest = Math.max(0, ...s.queues.map((q) => q.longest_wait_s));
  document.getElementById("pbx").textContent = s.pbx;
  document.getElementById("clock").textContent = s.now.slice(11, 19);
  const link = document.getElementById("link");
  link.dataset.state = s.link.state ?? "unknown";
  link.textContent = s.link.state === "ready" ? t("link_ready") : t("link_down");
  setTile("waiting", waiting, String(waiting), waiting > 5 ? "bad" : waiting > 0 ? "warn" : "");
  setTile("longest_wait_s", longest, secs(longest), longest > 60 ? "bad" : longest > 15 ? "warn" : "");
  setTile("talking", s.totals.talking, String(s.totals.talking));
  setTile("ivr", s.totals.ivr, String(s.totals.ivr));
  setTile("service_level", f.service_level, pct(f.service_level),
    f.service_level !== null && f.service_level < 0.8 ? "warn" : "");
  setTile("connection_rate", f.connection_rate, pct(f.connection_rate));
  setTile("abandonment_rate", f.abandonment_rate, pct(f.abandonment_rate),
    f.abandonment_rate !== null && f.abandonment_rate > 0.05 ? "warn" : "");
  setTile("satisfaction_rate", f.satisfaction_rate, pct(f.satisfaction_rate),
    f.satisfaction_rate !== null && f.satisfaction_rate < 0.9 ? "bad" : "");
  setTile("contacts", f.contacts, String(f.contacts));
  setTile("answered", f.answered, String(f.answered));

  const agents = document.getElementById("agents");
  agents.replaceChildren(...AGENT_STATES.map((state) => {
    const n = s.agents.filter((a) => a.state === state).length;
    const li = el("li", undefined, { "data-state": state });
    li.append(el("span", t(state)), el("span", String(n), { class: "n", "data-value": String(n) }));
    return li;
  }));

  drawHours(s.today.contacts_by_hour);

  document.querySelector("#queues tbody").replaceChildren(...s.queues.map((q) => {
    const tr = el("tr", undefined, { "data-queue": q.name });
    tr.append(el("td", q.name), el("td", String(q.waiting)), el("td", secs(q.longest_wait_s)),
      el("td", `${q.available}/${q.members}`));
    return tr;
  }));

  document.querySelector("#calls tbody").replaceChildren(...s.calls.map((c) => {
    const tr = el("tr", undefined, { "data-call": c.call_id, "data-state": c.state });
    tr.append(el("td", c.caller ?? "—", { class: "caller" }), el("td", t("st_" + c.state)),
      el("td", c.queue ?? "—"), el("td", c.agent ?? "—"), el("td", secs(c.seconds)));
    return tr;
  }));
  const notices = s.announcements ?? [];
  document.getElementById("notices").hidden = notices.length === 0;
  document.getElementById("announcements").replaceChildren(...notices.map((a) => {
    const li = el("li", undefined, { "data-announcement": String(a.id) });
    const text = lang === "en" && a.text_en ? a.text_en : a.text_zh;
    li.append(el("span", text, { class: "text" }),
      el("span", `${a.queue ?? t("all_callers")} · ${t("until")} ${a.valid_to.slice(11, 16)}`,
        { class: "meta" }));
    return li;
  }));
  document.body.dataset.updated = s.now;
}

function showError(text) {
  const node = document.getElementById("error");
  node.hidden = !text;
  node.textContent = text || "";
}

async function follow() {
  const headers = { Accept: "text/event-stream" };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  for (;;) {
    try {
      const resp = await fetch("/api/status/stream", { headers, cache: "no-store" });
      if (!resp.ok) {
        const body = await resp.json().catch(() => ({}));
        showError(`${resp.status}: ${body.error ?? resp.statusText}`);
        if (resp.status === 401 || resp.status === 403) return;
      } else {
        showError("");
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
            if (data) render(JSON.parse(data));
          }
        }
      }
    } catch (err) {
      showError(t("offline"));
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  applyLabels();
});
applyLabels();
follow();
