// The agent console (bot/hub/templates/console/workspace.html): the conversation list
// beside the open chat, kept current by push (server-sent events from
// /api/console/stream, bot/hub/console_push.py), with polling only when the stream can't
// be had. Everything shown is set as text (textContent), never parsed as HTML, except the
// context panel, which the hub renders (autoescaped) and this script swaps in whole.
(() => {
"use strict";
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector("meta[name=csrf-token]").content;
const workspace = $("workspace");
const chat = $("conversation");
const conversationId = chat ? chat.dataset.conversationId : null;
const POLL_MS = Number(workspace.dataset.pollMs) || 2500;
const api = conversationId ? "/api/console/conversations/" + encodeURIComponent(conversationId) : null;
const store = {
  get(key, fallback) { try { const v = localStorage.getItem("cx-console-" + key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; } },
  set(key, value) { try { localStorage.setItem("cx-console-" + key, JSON.stringify(value)); } catch (e) { /* private mode */ } },
};

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
  for (const c of children || []) if (c !== null && c !== undefined && c !== "") node.append(typeof c === "string" ? document.createTextNode(c) : c);
  return node;
}
function signIn() { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
async function call(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) { signIn(); throw new Error("signed out"); }
  let data = {};
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new Error(data.error || ("the hub answered " + r.status));
  return data;
}
function when(iso) { return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : ""; }
// One run at a time; a call made meanwhile gets one more run after it (not a pile of
// them), and whoever awaits a call sees a run that began after they called.
function coalesce(fn) {
  let current = null, queued = null;
  return function run() {
    if (!current) {
      current = fn().finally(() => { current = null; });
      return current;
    }
    if (!queued) queued = current.then(() => { queued = null; return run(); });
    return queued;
  };
}

// -- push, or polling when it can't be had ----------------------------------------------------
const news = { queue: [], conversation: [], typing: [] };
function onNews(kind, fn) { news[kind].push(fn); }
function tell(kind, data) { for (const fn of news[kind]) fn(data); }
let pushing = false;
function startPush() {
  let polling = null, failures = 0;
  const poll = () => { if (!polling) polling = setInterval(() => { tell("queue"); tell("conversation"); }, POLL_MS); };
  if (!window.EventSource) { document.body.dataset.push = "polling"; poll(); return; }
  const source = new EventSource("/api/console/stream" + (conversationId ? "?conversation=" + encodeURIComponent(conversationId) : ""));
  source.addEventListener("ready", () => {
    failures = 0;
    pushing = true;
    document.body.dataset.push = "live";
    if (polling) { clearInterval(polling); polling = null; }
    tell("queue"); tell("conversation");  // whatever happened while it reconnected
  });
  source.addEventListener("queue", () => tell("queue"));
  source.addEventListener("conversation", () => tell("conversation"));
  source.addEventListener("typing", (ev) => {
    try { tell("typing", JSON.parse(ev.data)); } catch (e) { /* a malformed event: ignored */ }
  });
  source.onerror = () => {
    pushing = false;
    document.body.dataset.push = "polling";
    poll();
    // The browser reconnects by itself; after repeated failures polling carries on alone.
    if (++failures > 5) source.close();
  };
}

// -- the list beside the chat -----------------------------------------------------------------
const baseTitle = document.title;
let view = sessionStorage.getItem("cx-console-view") || "queue";
let query = "";
let knownWaiting = null;  // ids waiting at the last look, for "new escalation" announcements
try { const saved = JSON.parse(sessionStorage.getItem("cx-console-known") || "null"); if (Array.isArray(saved)) knownWaiting = new Set(saved); } catch (e) { /* none */ }
const VIEW_TITLES = { queue: "Escalations", mine: "My conversations", recent: "Recent conversations", search: "Search results" };

function card(e) {
  const current = e.conversation_id === conversationId;
  const classes = ["card", e.priority ? "card--" + e.priority : "", e.overdue ? "overdue" : "", e.mine ? "mine" : "", current ? "current" : ""].join(" ").replace(/\s+/g, " ").trim();
  // How sure we are who it is; none for an older handoff whose customer the channel named.
  const who = e.identity
    ? el("span", { class: "trust trust--" + e.identity.trust }, [(e.identity.verified ? "✔ " : "⚠ ") + e.identity.label])
    : "";
  const meta = [e.tier ? e.tier + " tier" : "", e.channel_label || ""].filter(Boolean).join(" · ");
  const urgent = e.urgent_because && e.urgent_because.length ? el("span", { class: "card-why" }, ["Urgent: " + e.urgent_because.join(", ")]) : "";
  return el("li", { class: classes, "data-conversation-id": e.conversation_id }, [
    el("a", { href: "/console/conversations/" + encodeURIComponent(e.conversation_id), class: "card-link", "aria-current": current ? "page" : null }, [
      el("span", { class: "card-top" }, [el("strong", { class: "card-name" }, [e.name]),
        el("span", { class: "card-state", "data-waited": e.waiting ? String(e.waited_seconds) : null, "data-since": e.waiting ? String(Date.now()) : null }, [e.state || ""])]),
      el("span", { class: "card-need" }, [e.headline || "—"]),
      el("span", { class: "card-meta" }, [meta, who ? " " : "", who]),
      urgent,
    ]),
  ]);
}
function fill(listId, items) {
  $(listId).replaceChildren(...items.map(card));
  const count = $(listId + "-count");
  if (count) count.textContent = "(" + items.length + ")";
  $(listId + "-empty").hidden = items.length > 0;
}
function showView(name) {
  view = name;
  sessionStorage.setItem("cx-console-view", name);
  for (const b of document.querySelectorAll(".view-button")) b.setAttribute("aria-pressed", String(b.dataset.view === name));
  $("list-heading").textContent = VIEW_TITLES[name];
  $("queue-view").hidden = name !== "queue";
  $("other-view").hidden = name === "queue";
  refreshList();
}
const refreshList = coalesce(async () => {
  const url = "/api/console/conversations?view=" + view + (view === "search" ? "&q=" + encodeURIComponent(query) : "");
  try {
    const data = await call("GET", url);
    if (data.view !== view) return;
    const focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest("li[data-conversation-id]") : null;
    const keep = focused ? focused.dataset.conversationId : null;
    if (view === "queue") {
      fill("waiting", data.items.filter((e) => e.waiting));
      fill("taken", data.items.filter((e) => !e.waiting));
    } else {
      fill("others", data.items);
      $("others-empty").textContent = view === "search" ? "No conversation matches “" + query + "”." : "Nothing here yet.";
    }
    if (keep) {  // the keyboard stays where it was
      const again = document.querySelector("li[data-conversation-id='" + CSS.escape(keep) + "'] .card-link");
      if (again) again.focus();
    }
    announce(data);
    $("updated").textContent = (pushing ? "Live" : "Updated " + new Date().toLocaleTimeString()) + " · " + data.waiting + " waiting";
  } catch (e) {
    $("updated").textContent = "Could not refresh the list (" + e.message + "); trying again.";
  }
});

// -- announcing new escalations: title count, sound, desktop notification (each optional) -----
const prefs = { title: store.get("title", true), sound: store.get("sound", false), desktop: store.get("desktop", false) };
for (const key of Object.keys(prefs)) {
  const box = $("announce-" + key);
  box.checked = prefs[key];
  box.addEventListener("change", async () => {
    prefs[key] = box.checked;
    store.set(key, box.checked);
    if (key === "desktop" && box.checked && window.Notification && Notification.permission === "default") {
      await Notification.requestPermission();
    }
    if (key === "sound" && box.checked) beep();  // also unlocks audio after this click
    if (key === "title") setTitle(lastWaiting);
  });
}
let lastWaiting = 0, audio = null;
function setTitle(n) { document.title = (prefs.title && n > 0 ? "(" + n + ") " : "") + baseTitle; }
function beep() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.35);
  } catch (e) { /* no audio here */ }
}
function announce(data) {
  lastWaiting = data.waiting;
  $("queue-count").textContent = data.waiting ? "(" + data.waiting + ")" : "";
  setTitle(data.waiting);
  if (view !== "queue") return;
  const waiting = data.items.filter((e) => e.waiting);
  const ids = new Set(waiting.map((e) => e.conversation_id));
  const arrived = knownWaiting === null ? [] : waiting.filter((e) => !knownWaiting.has(e.conversation_id));
  knownWaiting = ids;
  sessionStorage.setItem("cx-console-known", JSON.stringify([...ids]));
  if (!arrived.length) return;
  document.body.dataset.announced = String(Number(document.body.dataset.announced || 0) + arrived.length);
  if (prefs.sound) beep();
  if (prefs.desktop && window.Notification && Notification.permission === "granted") {
    const first = arrived[0];
    try {
      const note = new Notification(arrived.length > 1 ? arrived.length + " new escalations" : "New escalation: " + first.name, { body: first.headline, tag: "cx-escalation" });
      note.onclick = () => { window.focus(); location.href = "/console/conversations/" + encodeURIComponent(first.conversation_id); };
    } catch (e) { /* this browser shows none */ }
  }
}

for (const b of document.querySelectorAll(".view-button")) b.addEventListener("click", () => showView(b.dataset.view));
$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  query = $("search").value.trim();
  if (query) showView("search"); else showView("queue");
});
onNews("queue", refreshList);
// The waits go on between pushes: each card's "waiting ..." counts from what the hub said.
function waited(seconds) {
  if (seconds < 60) return seconds + " s";
  const m = Math.floor(seconds / 60);
  if (m < 60) return m + " min";
  const h = Math.floor(m / 60);
  return h < 48 ? h + " h" + (m % 60 ? " " + (m % 60) + " min" : "") : Math.floor(h / 24) + " days";
}
setInterval(() => {
  for (const s of document.querySelectorAll(".card-state[data-waited]")) {
    s.textContent = "waiting " + waited(Number(s.dataset.waited) + Math.floor((Date.now() - Number(s.dataset.since)) / 1000));
  }
}, 5000);

// -- the open conversation --------------------------------------------------------------------
let mine = false, heartbeat = null, shown = "", stateKey = null, pollProblem = false;
function problem(text, fromPoll) {
  $("problem").textContent = text || "";
  $("problem").hidden = !text;
  pollProblem = Boolean(text && fromPoll);
}
function line(l) {
  const who = l.sender === "agent" ? l.agent + " (agent)" : l.sender === "customer" ? "Customer"
    : l.sender === "assistant" ? "Assistant" : "";
  return el("li", { class: "line line--" + l.sender, "data-message-id": l.id || null }, [
    who ? el("span", { class: "who" }, [who]) : "",
    el("span", { class: "text" }, [l.text]),
    el("time", { datetime: l.at || "" }, [when(l.at)]),
  ]);
}
function render(v) {
  const t = v.takeover;
  mine = Boolean(t && t.mine);
  let status;
  if (t) status = (mine ? "You have" : t.agent.display_name + " has") + " taken this conversation over; the assistant is paused.";
  else if (v.escalation) status = "Waiting for a person for " + v.escalation.waited + ": " + v.escalation.headline + ".";
  else status = "The assistant has this conversation.";
  if (!v.reachable) status += " This channel can't receive messages from a person.";
  if (v.paused && !t) status += " (The assistant is paused.)";
  $("status").textContent = status;
  chat.dataset.state = t ? (mine ? "mine" : "taken") : v.escalation ? "waiting" : "assistant";
  $("take").hidden = !(v.escalation && !t && v.reachable);
  $("send-form").hidden = !mine;
  $("finish").hidden = !mine;
  if (!mine) closeSaved(false);
  const lines = v.transcript || [];
  const key = JSON.stringify(lines.map((l) => [l.sender, l.text, l.at]));
  if (key !== shown) {
    shown = key;
    const box = $("transcript");
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.replaceChildren(...lines.map(line));
    if (atEnd) box.scrollTop = box.scrollHeight;
  }
  $("notes").replaceChildren(...v.notes.map((n) =>
    el("li", {}, [el("strong", {}, [n.author]), " " + when(n.at) + ": ", n.text])));
  $("history").replaceChildren(...v.takeovers.map((h) =>
    el("li", {}, [h.agent.display_name + ": " + h.status.replace("_", " ") + " (" + when(h.started_at) +
      (h.ended_at ? " to " + when(h.ended_at) : "") + ")" + (h.note ? " - " + h.note : "")])));
  if (mine && !heartbeat) heartbeat = setInterval(beat, Number(chat.dataset.heartbeatMs));
  if (!mine && heartbeat) { clearInterval(heartbeat); heartbeat = null; }
  // Anything that changes who holds it or a handoff's state changes the context panel too.
  const state = JSON.stringify([t && [t.id, t.status], v.escalation && v.escalation.handoff_ids, (v.handoffs || []).map((h) => [h.id, h.status])]);
  if (stateKey !== null && state !== stateKey) refreshContext();
  stateKey = state;
}
const refreshConversation = coalesce(async () => {
  try {
    const v = await call("GET", api + "?journey=0");
    render(v);
    if (v.transcript_error) problem("Transcript unavailable: " + v.transcript_error, true);
    else if (pollProblem) problem("");
  } catch (e) {
    problem("Could not refresh (" + e.message + "); trying again.", true);
  }
});
// The context panel as the hub renders it now (packet, orders, journey, open handoffs).
const refreshContext = coalesce(async () => {
  try {
    const r = await fetch("/console/conversations/" + encodeURIComponent(conversationId) + "?part=context",
      { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("context");
    if (fresh) $("context").replaceWith(document.adoptNode(fresh));
  } catch (e) { /* the next change tries again */ }
});
async function beat() {
  try { await call("POST", api + "/heartbeat"); }
  catch (e) { problem(e.message); refreshConversation(); }
}
// An action, then the page as it is now: the chat first (so `done` finds the controls the
// new state shows), then the context panel and the list, so nothing shown is stale.
// Actions run one after another, never dropped: the page may show the controls of a new
// state (pushed) before the request that made it has answered. Their buttons are disabled
// meanwhile, so a double click acts once.
const ACTION_BUTTONS = ["take", "send", "add-note", "hand-back", "transfer", "resolve"];
let actions = Promise.resolve();
function act(path, body, done, failed) {
  const run = async () => {
    for (const id of ACTION_BUTTONS) $(id).disabled = true;
    problem("");
    let ok = false;
    try {
      await call("POST", api + path, body);
      ok = true;
    } catch (e) {
      problem(e.message);
      if (failed) failed();
    }
    for (const id of ACTION_BUTTONS) $(id).disabled = false;
    await refreshConversation();
    if (ok && done) done();
    refreshContext();
    refreshList();
  };
  actions = actions.then(run, run);
  return actions;
}

if (chat) {
  onNews("conversation", refreshConversation);
  onNews("queue", refreshContext);  // a handoff elsewhere for this customer may have moved
  $("take").addEventListener("click", () => act("/take", undefined, () => $("message").focus()));
  $("send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const box = $("message"), text = box.value.trim();
    if (!text) return;
    box.value = "";  // at once, so a second Enter sends nothing twice; back if it failed
    // Back to the box after the Send button, but never away from where the agent went
    // meanwhile (Alt+H to the hand-back note, say): their typing would land in the box.
    const refocus = () => {
      const at = document.activeElement;
      if (!at || at === document.body || at === $("send")) box.focus();
    };
    act("/messages", { text }, refocus, () => { if (!box.value) box.value = text; });
  });
  $("message").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $("send-form").requestSubmit(); }
    else if ((ev.key === " " && ev.ctrlKey) || (ev.key === "/" && !$("message").value)) { ev.preventDefault(); openSaved(); }
  });
  $("note-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const box = $("note-text"), text = box.value.trim();
    if (!text) return;
    box.value = "";
    act("/notes", { text }, null, () => { if (!box.value) box.value = text; });
  });
  $("hand-back-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("/hand-back", { note: $("hand-back-note").value.trim() }, () => { $("hand-back-note").value = ""; });
  });
  $("transfer-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("/transfer", { department: $("transfer-department").value, note: $("transfer-note").value.trim() },
      () => { $("transfer-note").value = ""; });
  });
  // Enter sends, Shift+Enter a new line. Also in the one-line boxes: a browser drops the
  // Enter of a form whose button is disabled (another action still in flight), and the
  // agent's hand back or transfer would be lost; requestSubmit queues it instead.
  const ENTER_SENDS = [["resolve-summary", "resolve-form"], ["note-text", "note-form"],
    ["hand-back-note", "hand-back-form"], ["transfer-note", "transfer-form"]];
  for (const [box, form] of ENTER_SENDS) {
    $(box).addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $(form).requestSubmit(); }
    });
  }
  $("resolve-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("/resolve", { summary: $("resolve-summary").value.trim() }, () => { $("resolve-summary").value = ""; });
  });
  live();
}

// -- saved replies: pick one, its blanks ([order number]) selected to type over ---------------
function savedOptions() { return [...document.querySelectorAll("#saved-list [role=option]")].filter((o) => !o.hidden); }
function openSaved() {
  if (!chat || $("send-form").hidden) return;
  $("saved-menu").hidden = false;
  $("saved-open").setAttribute("aria-expanded", "true");
  $("saved-filter").value = "";
  filterSaved();
  $("saved-filter").focus();
}
function closeSaved(focusBox) {
  if (!chat || $("saved-menu").hidden) return;
  $("saved-menu").hidden = true;
  $("saved-open").setAttribute("aria-expanded", "false");
  if (focusBox) $("message").focus();
}
function pickSaved(option) {
  const box = $("message");
  const text = option.dataset.text;
  const start = box.selectionStart ?? box.value.length;
  box.value = box.value.slice(0, start) + text + box.value.slice(box.selectionEnd ?? start);
  closeSaved(true);
  const blank = /\[[^\]]+\]/.exec(box.value.slice(start));
  if (blank) box.setSelectionRange(start + blank.index, start + blank.index + blank[0].length);
  else box.setSelectionRange(start + text.length, start + text.length);
  box.dispatchEvent(new Event("input"));
}
function markSaved(option) {
  for (const o of document.querySelectorAll("#saved-list [role=option]")) o.setAttribute("aria-selected", String(o === option));
  if (option) { $("saved-filter").setAttribute("aria-activedescendant", option.id); option.scrollIntoView({ block: "nearest" }); }
}
function filterSaved() {
  const words = $("saved-filter").value.trim().toLowerCase();
  for (const o of document.querySelectorAll("#saved-list [role=option]")) o.hidden = Boolean(words) && !o.textContent.toLowerCase().includes(words);
  markSaved(savedOptions()[0] || null);
}
if (chat) {
  $("saved-open").addEventListener("click", () => ($("saved-menu").hidden ? openSaved() : closeSaved(true)));
  $("saved-filter").addEventListener("input", filterSaved);
  $("saved-filter").addEventListener("keydown", (ev) => {
    const options = savedOptions();
    const at = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const next = (at + (ev.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      markSaved(options[next] || null);
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (options[at]) pickSaved(options[at]);
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      closeSaved(true);
    }
  });
  for (const o of document.querySelectorAll("#saved-list [role=option]")) o.addEventListener("click", () => pickSaved(o));
}

// -- keyboard shortcuts and their help overlay ------------------------------------------------
let overlayReturn = null;
function toggleShortcuts(show) {
  const overlay = $("shortcuts");
  if (show === undefined) show = overlay.hidden;
  if (show) { overlayReturn = document.activeElement; overlay.hidden = false; $("shortcuts-close").focus(); }
  else { overlay.hidden = true; if (overlayReturn && overlayReturn.focus) overlayReturn.focus(); }
}
$("shortcuts-close").addEventListener("click", () => toggleShortcuts(false));
$("shortcuts").addEventListener("keydown", (ev) => {
  if (ev.key === "Tab") { ev.preventDefault(); $("shortcuts-close").focus(); }  // the dialog's one control
});
function cardLinks() { return [...document.querySelectorAll((view === "queue" ? "#queue-view" : "#other-view") + " .card-link")]; }
function moveInList(step) {
  const links = cardLinks();
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const current = links.findIndex((a) => a.getAttribute("aria-current") === "page");
  const from = at >= 0 ? at : current;
  links[from < 0 ? 0 : Math.min(Math.max(from + step, 0), links.length - 1)].focus();
}
function openNeighbour(step) {
  const links = cardLinks();
  const current = links.findIndex((a) => a.getAttribute("aria-current") === "page");
  const next = links[current < 0 ? 0 : current + step];
  if (next) location.href = next.href;
}
function focusIfShown(id) { const node = $(id); if (node && !node.closest("[hidden]")) { node.focus(); return true; } return false; }
document.addEventListener("keydown", (ev) => {
  if (ev.defaultPrevented || ev.isComposing) return;
  const typing = ev.target.closest && ev.target.closest("input, textarea, select, [contenteditable]");
  if (ev.key === "Escape") {
    if (!$("shortcuts").hidden) { ev.preventDefault(); toggleShortcuts(false); return; }
    if (chat && !$("saved-menu").hidden) { closeSaved(true); return; }
    if (typing) ev.target.blur();
    return;
  }
  if (!$("shortcuts").hidden) return;
  if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    const targets = { KeyH: "hand-back-note", KeyT: "transfer-department", KeyR: "resolve-summary" };
    if (ev.code in targets && focusIfShown(targets[ev.code])) { ev.preventDefault(); return; }
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { ev.preventDefault(); openNeighbour(ev.key === "ArrowDown" ? 1 : -1); }
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey) return;
  const views = { 1: "queue", 2: "mine", 3: "recent" };
  if (ev.key === "?") { ev.preventDefault(); toggleShortcuts(); }
  else if (ev.key === "/") { ev.preventDefault(); $("search").focus(); }
  else if (ev.key in views) { ev.preventDefault(); showView(views[ev.key]); }
  else if (ev.key === "j" || ev.key === "k") { ev.preventDefault(); moveInList(ev.key === "j" ? 1 : -1); }
  else if (ev.key === "t" && chat && !$("take").hidden) { ev.preventDefault(); $("take").click(); }
  else if (ev.key === "r" && chat) { if (focusIfShown("message")) ev.preventDefault(); }
  else if (ev.key === "n" && chat) { ev.preventDefault(); $("note-text").focus(); }
});

// -- live signals of a website chat (bot/hub/console_live.py): typing both ways, and "seen" ---
function live() {
  const form = $("send-form"), box = $("message"), transcript = $("transcript"), typing = $("customer-typing");
  const holding = () => !form.hidden;
  const PING_MS = 2000, TYPING_POLL_MS = 1500;
  const post = (path, body) => call("POST", api + path, body);
  // The customer's typing lives in the website channel's memory for seconds. It arrives by
  // push (a "typing" event of the console's stream) while the stream is up; without it, it
  // is asked for while this agent holds the chat and the page is visible.
  const showTyping = (on) => { typing.textContent = on && holding() ? "The customer is typing…" : ""; };
  onNews("typing", (data) => { if (data && data.conversation_id === conversationId) showTyping(Boolean(data.customer_typing)); });
  async function pollTyping() {
    if (!pushing) {
      let on = false;
      if (holding() && document.visibilityState === "visible") {
        try { on = Boolean((await call("GET", api + "/live")).customer_typing); } catch (e) { /* next time */ }
      }
      showTyping(on);
    }
    setTimeout(pollTyping, TYPING_POLL_MS);
  }
  pollTyping();
  // The agent is typing: said at most every PING_MS while they type; "stopped" when the box
  // is emptied; a sent message ends it in the widget by itself.
  let typingSince = 0;
  box.addEventListener("input", () => {
    if (!holding()) return;
    const now = Date.now();
    if (!box.value.trim()) {
      if (typingSince) { typingSince = 0; post("/typing", { typing: false }).catch(() => {}); }
    } else if (now - typingSince >= PING_MS) {
      typingSince = now;
      post("/typing", { typing: true }).catch(() => {});
    }
  });
  form.addEventListener("submit", () => { typingSince = 0; });
  // Seen: the newest customer line this console has shown while the page was visible.
  let seenSent = "";
  function markSeen() {
    if (!holding() || document.visibilityState !== "visible") return;
    const lines = transcript.querySelectorAll(".line--customer[data-message-id]");
    const last = lines[lines.length - 1];
    const id = last && last.dataset.messageId;
    if (!id || id === seenSent) return;
    seenSent = id;
    post("/seen", { message_id: id }).catch(() => { seenSent = ""; });
  }
  new MutationObserver(markSeen).observe(transcript, { childList: true });
  new MutationObserver(markSeen).observe(form, { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("visibilitychange", markSeen);
}

if (view !== "queue") showView(view); else refreshList();
if (chat) refreshConversation();
startPush();
})();
