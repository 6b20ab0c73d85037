// pbxsim inspector: the live list of calls, a call's timeline, filters and replay.
// Plain JS, no framework. Everything from the network is shown with textContent, never as HTML.
"use strict";

const KEY = document.querySelector('meta[name="pbxsim-key"]').content;
const API = "/_pbxsim/api/";
const PAGE = 50;
const TYPES = [
  "user_inbound", "user_inbound_answered", "user_inbound_completed",
  "user_outbound", "user_outbound_answered", "user_outbound_completed",
  "queue_call", "ring_group_call", "voicemail", "recording_inbound",
  "recording_outbound", "webhook_component_event",
];
const OUTCOMES = ["answered", "voicemail", "abandoned", "timedout", "unanswered",
  "in progress", "refused", "no call id"];

const state = { offset: 0, selected: null, selectedVersion: -1, listBusy: false, listDirty: false,
  detailBusy: false, version: 0 };
const $ = (id) => document.getElementById(id);

// el("td", {class: "x"}, "text", child...): an element with attributes and children.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    // Through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
    else if (k === "style") Object.assign(node.style, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  opts.headers["X-Pbxsim-Key"] = KEY;
  const response = await fetch(API + path, opts);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
  return body;
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function seconds(ms) {
  return (ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1) + " s";
}

// ---- counters and the list ----

function showCounters(c) {
  $("counter-events").textContent = c.events;
  $("counter-calls").textContent = c.calls;
  $("counter-violations").textContent = c.violations;
  $("counter-4xx").textContent = c.answered_4xx;
  const k = c.kept;
  $("counter-kept").textContent = "keeping " + k.calls + " of " + k.max_calls + " calls, " +
    k.events + " of " + k.max_events + " events" +
    (k.evicted_calls ? " (" + k.evicted_calls + " older calls evicted)" : "");
}

function filterQuery() {
  const q = new URLSearchParams({ offset: state.offset, limit: PAGE });
  if ($("filter-type").value) q.set("type", $("filter-type").value);
  if ($("filter-outcome").value) q.set("outcome", $("filter-outcome").value);
  if ($("filter-violations").checked) q.set("violations", "1");
  if ($("filter-text").value.trim()) q.set("q", $("filter-text").value.trim());
  return q.toString();
}

async function refreshList() {
  if (state.listBusy) { state.listDirty = true; return; }
  state.listBusy = true;
  try {
    do {
      state.listDirty = false;
      const data = await api("calls?" + filterQuery());
      showCounters(data.counters);
      renderList(data);
      document.body.dataset.version = data.version;
    } while (state.listDirty);
  } catch (e) {
    $("live").textContent = "error: " + e.message;
  } finally {
    state.listBusy = false;
  }
}

function renderList(data) {
  const tbody = $("calls").tBodies[0];
  const rows = data.calls.map((c) => {
    const statuses = c.statuses.map((s) => s.kind + " " + s.name + ": " + s.status).join(", ");
    const caller = [c.caller, c.caller_name].filter(Boolean).join(" ");
    const tr = el("tr", {
      "data-key": c.key, "data-version": c.version,
      class: [c.violations ? "violation" : "", c.key === state.selected ? "selected" : ""].join(" ").trim() || null,
      onclick: () => select(c.key),
    },
      el("td", { class: c.violations ? "mark" : null, title: c.violations ? c.violations + " violation(s)" : null },
        c.violations ? "✗ " + c.violations : ""),
      el("td", {}, clock(c.first_received)),
      el("td", {}, c.direction),
      el("td", {}, caller || "-"),
      el("td", {}, c.dest || "-"),
      el("td", {}, c.user || "-"),
      el("td", { class: "outcome-" + c.outcome.replace(/ /g, "-") }, c.outcome),
      el("td", {}, statuses),
      el("td", {}, c.events + (c.answered_4xx ? " (" + c.answered_4xx + " 4xx)" : "")),
    );
    return tr;
  });
  tbody.replaceChildren(...rows);
  $("empty").style.display = data.matched ? "none" : "";
  const last = Math.min(data.offset + data.calls.length, data.matched);
  $("page-info").textContent = data.matched
    ? (data.offset + 1) + "–" + last + " of " + data.matched
    : "0 of 0";
  $("prev").disabled = data.offset === 0;
  $("next").disabled = last >= data.matched;
  const sel = data.calls.find((c) => c.key === state.selected);
  if (sel && sel.version !== state.selectedVersion) refreshDetail();
}

// ---- a call's timeline ----

function select(key) {
  state.selected = key;
  state.selectedVersion = -1;
  for (const tr of $("calls").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.key === key);
  refreshDetail(true);
}

async function refreshDetail(force) {
  if (!state.selected || state.detailBusy) return;
  // Do not throw away a body being edited.
  if (!force && document.querySelector("#detail textarea")) {
    const note = $("stale");
    if (note) note.style.display = "";
    return;
  }
  state.detailBusy = true;
  try {
    const t = await api("call?id=" + encodeURIComponent(state.selected));
    state.selectedVersion = t.summary.version;
    renderDetail(t);
  } catch (e) {
    $("detail").replaceChildren(el("p", { class: "dim" }, "This call is no longer kept: " + e.message));
  } finally {
    state.detailBusy = false;
  }
}

const FIELDS = [
  ["caller_id", "caller"], ["caller_name", ""], ["user_number", "user"], ["user_name", ""],
  ["dest_number", "to"], ["queue_name", "queue"], ["ring_group_name", "ring group"],
  ["component_name", "component"], ["status", "status"], ["call_duration", "call s"],
  ["conversation_duration", "talk s"], ["emails", "emails"],
];

function keyFields(body) {
  if (!body || typeof body !== "object") return "";
  const parts = [];
  for (const [f, label] of FIELDS) {
    const v = body[f];
    if (v === null || v === undefined || v === "") continue;
    // A field without a label (a name) goes with the number before it.
    if (!label && parts.length) parts[parts.length - 1] += " " + v;
    else parts.push((label ? label + " " : "") + v);
  }
  return parts.join(" · ");
}

function renderAxis(t) {
  const times = t.entries.map((e) => e.at_ms).filter((x) => x !== null);
  for (const r of t.rings) if (r.to_ms !== null) times.push(r.to_ms);
  const span = Math.max(1000, ...times);
  const pos = (ms) => (100 * ms / span).toFixed(2) + "%";
  const axis = el("div", { class: "axis", id: "axis" });
  const ticks = el("div", { class: "ticks" });
  for (let i = 0; i <= 4; i++) ticks.append(el("span", { style: { left: (25 * i) + "%" } }, "+" + seconds(Math.round(span * i / 4))));
  axis.append(ticks);
  const lane = el("div", { class: "lane" }, el("span", { class: "lane-label" }, "events"));
  for (const e of t.entries) {
    if (e.at_ms === null) continue;
    lane.append(el("span", {
      class: "dot" + (e.violations.length ? " violation" : ""), style: { left: pos(e.at_ms) },
      title: (e.estimated ? "≈" : "") + "+" + seconds(e.at_ms) + " " + (e.type || "request"),
    }));
  }
  axis.append(lane);
  for (const r of t.rings) {
    const to = r.to_ms === null ? span : r.to_ms;
    const rang = r.to_ms === null ? "ringing" : "rang " + (r.estimated ? "≈" : "") + seconds(r.to_ms - r.from_ms) + (r.answered ? ", answered" : "");
    axis.append(el("div", { class: "lane ring", "data-user": r.user },
      el("span", { class: "lane-label", title: r.user + (r.via ? " via " + r.via : "") }, r.user),
      el("span", {
        class: "bar" + (r.answered ? " answered" : "") + (r.estimated ? " estimated" : "") + (r.to_ms === null ? " open" : ""),
        style: { left: pos(r.from_ms), width: "calc(" + pos(to - r.from_ms) + " + 3px)" },
        title: r.user + ": " + rang + (r.via ? " (" + r.via + ")" : ""),
      })));
  }
  return axis;
}

function violationBox(v) {
  return el("div", { class: "violation-box" },
    el("span", { class: "rule" }, "✗ " + v.rule), " ", v.message,
    el("div", { class: "why" }, "rule: " + v.explanation));
}

function renderEvent(e) {
  let parsed = null;
  if (e.json && e.body) { try { parsed = JSON.parse(e.body); } catch (_) { parsed = null; } }
  const ok = e.status >= 200 && e.status < 300;
  const at = e.at_ms === null ? "" : (e.estimated ? "≈+" : "+") + seconds(e.at_ms);
  const node = el("div", {
    class: "event" + (e.violations.length ? " has-violation" : ""),
    "data-seq": e.seq, "data-type": e.type || "",
  });
  const head = el("div", { class: "head", onclick: () => node.classList.toggle("open") },
    el("span", { class: "at", title: "PBX time after the call's start" + (e.estimated ? " (estimated: the payload carries no time of its own)" : "") }, at),
    el("span", { class: "type" }, e.type || (e.reason ? "refused request" : "(no type)")),
    el("span", { class: "code" + (ok ? "" : " bad") }, "→ " + e.status),
    el("span", { class: "dim" }, e.reason || keyFields(parsed)),
  );
  node.append(head);
  for (const v of e.violations) node.append(violationBox(v));
  const headers = el("table", { class: "headers" },
    ...e.headers.map(([n, v]) => el("tr", {}, el("td", {}, n), el("td", {}, v))));
  const pretty = parsed !== null ? JSON.stringify(parsed, null, 2) : (e.body || "");
  const body = el("div", { class: "body" },
    el("div", { class: "dim" }, "received " + clock(e.received_at) + " on " + e.path + (e.one_off ? " · one-off" : "")),
    headers,
    e.body_note ? el("p", { class: "dim" }, e.body_note) : null,
    el("pre", { class: "raw" }, pretty),
  );
  if (e.json && e.body) {
    body.append(el("div", { class: "actions" },
      el("button", { type: "button", class: "replay-one", "data-seq": e.seq, onclick: () => replay({ seq: e.seq }) }, "Replay"),
      " ",
      el("button", { type: "button", class: "edit", onclick: () => edit(body, pretty, e.one_off) }, "Edit and replay"),
    ));
  }
  node.append(body);
  return node;
}

function edit(container, text, oneOff) {
  if (container.querySelector("textarea")) return;
  const area = el("textarea", { spellcheck: "false" });
  area.value = text;
  const send = el("button", { type: "button", class: "send-edited",
    onclick: () => replay({ body: area.value, one_off: oneOff }) }, "Send edited body");
  const cancel = el("button", { type: "button", onclick: () => { box.remove(); refreshDetail(); } }, "Cancel");
  const box = el("div", { class: "editor" }, area, send, " ", cancel);
  container.append(box);
  area.focus();
}

function renderDetail(t) {
  const s = t.summary;
  const open = new Set([...document.querySelectorAll("#detail .event.open")].map((n) => n.dataset.seq));
  const title = (s.call_id ? "call " + s.call_id : "request without a call id") + " · " + s.direction + " · " + s.outcome;
  const facts = [
    s.caller ? "caller " + [s.caller, s.caller_name].filter(Boolean).join(" ") : null,
    s.dest ? "to " + s.dest : null,
    s.user ? "user " + s.user : null,
    ...s.statuses.map((x) => x.kind + " " + x.name + ": " + x.status),
    t.start ? "started " + t.start + " (PBX time)" : null,
    s.dropped ? s.dropped + " later events not kept" : null,
  ].filter(Boolean).join(" · ");
  const head = el("div", { class: "call-head" },
    el("h2", {}, title), el("div", { class: "dim" }, facts),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "replay-call", onclick: () => replay({ call: s.key }) }, "Replay the whole call"),
      el("span", { id: "stale", class: "dim", style: { display: "none" } }, " · the call changed; cancel the edit to refresh")));
  const ends = t.end_violations.length
    ? el("div", { class: "end" }, el("h3", {}, "at the end of the stream"), ...t.end_violations.map(violationBox))
    : null;
  const events = el("div", { id: "timeline" }, ...t.entries.map(renderEvent));
  for (const n of events.children) if (open.has(n.dataset.seq)) n.classList.add("open");
  $("detail").replaceChildren(head, renderAxis(t), events, ends || "");
}

// ---- replay ----

async function replay(what) {
  const out = $("replay-result");
  const url = $("replay-url").value.trim();
  out.className = "shown";
  delete out.dataset.status;
  if (!url) {
    out.classList.add("bad");
    out.textContent = "Type the URL to replay to first (top right).";
    return;
  }
  out.textContent = "sending…";
  try {
    const r = await api("replay", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ url }, what)),
    });
    const codes = r.results.map((x) => x.status ? String(x.status) : "error: " + x.error);
    const good = r.results.every((x) => x.status >= 200 && x.status < 300);
    out.classList.toggle("bad", !good);
    out.dataset.status = good ? "ok" : "failed";
    out.textContent = "sent " + r.results.length + " to " + r.url + ": " + codes.join(", ");
  } catch (e) {
    out.classList.add("bad");
    out.dataset.status = "failed";
    out.textContent = "replay refused: " + e.message;
  }
}

// ---- wiring ----

function connect() {
  const source = new EventSource(API + "stream?key=" + encodeURIComponent(KEY));
  source.onopen = () => { $("live").textContent = "live"; $("live").className = "live on"; };
  source.onerror = () => { $("live").textContent = "reconnecting…"; $("live").className = "live off"; };
  source.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    showCounters(msg.counters);
    if (msg.version !== state.version) {
      state.version = msg.version;
      refreshList();
      if (state.selected && (msg.more || msg.changed.includes(state.selected))) refreshDetail();
    }
  };
}

function init() {
  for (const t of TYPES) $("filter-type").append(el("option", { value: t }, t));
  for (const o of OUTCOMES) $("filter-outcome").append(el("option", { value: o }, o));
  const again = () => { state.offset = 0; refreshList(); };
  $("filter-type").onchange = again;
  $("filter-outcome").onchange = again;
  $("filter-violations").onchange = again;
  $("filter-text").oninput = again;
  $("prev").onclick = () => { state.offset = Math.max(0, state.offset - PAGE); refreshList(); };
  $("next").onclick = () => { state.offset += PAGE; refreshList(); };
  $("replay-result").onclick = () => { $("replay-result").className = ""; };
  refreshList();
  connect();
}

init();
