/*
 * The website chat widget: one <script> tag, and a site talks to the support assistant.
 *
 *   <script src="http://HUB/widget.js" data-rasa-url="http://127.0.0.1:5005"
 *           data-customer-token="OPTIONAL-SIGNED-TOKEN" defer></script>
 *
 * data-rasa-url        where the browser reaches Rasa's socket.io channel (required)
 * data-customer-token  a customer token the site's backend minted for a signed-in visitor
 *                      (bot/rasa/channels/tokens.py); empty or absent for a guest
 *
 * It loads the socket.io client the hub serves beside it (widget/socket.io.min.js, from the
 * npm registry) and speaks the protocol of bot/rasa/channels/web.py: connect with
 * auth {session, customer}, "session_request" -> "session_confirm" {session_id, token,
 * customer_id, history, agent, seen, support}, "user_uttered" {message} (acknowledged with
 * the message's id) -> "bot_uttered", plus "user_echo" (the same chat typed in another tab)
 * and "error_message". While a person holds the chat: "typing" {typing} goes out as the
 * customer types, "agent_typing" {agent, typing} and "seen" {message_id} come in. The server
 * decides the session: the widget only keeps the signed session token it was given, in
 * localStorage under "cx-support-widget" as {"token": ...}, and shows it again on every
 * (re)connect.
 *
 * Who the customer is talking to is always in the header: the assistant, or the person who
 * joined (their name and initials, never their role), back to the assistant when they hand
 * back. A person joining or leaving is shown as an event, not as a chat bubble. Every message
 * shows its time; the customer's show "Delivered" and "Seen" while a person holds the chat.
 *
 * Everything from the network is rendered as text (textContent / text nodes, never
 * innerHTML); links are built with DOM calls and only for http:, https: and mailto:;
 * a button whose payload is not a string or is a javascript: URL is not shown.
 *
 * The widget lives in an open Shadow DOM on <div id="cx-support-widget">, whose attributes
 * say how it is doing (for support staff, and for the browser tests):
 *   data-state       loading | connecting | ready | reconnecting | refused | unavailable
 *   data-session-id  the Rasa conversation id (the tracker's sender id); it grants nothing
 *                    without the signed token, which never leaves localStorage
 *   data-talking-to  assistant | agent (who holds the chat)
 * A page may open it with: window.dispatchEvent(new Event("cx-support-widget:open")).
 *
 * Keyboard: the launcher opens and closes it (Enter or Space); Escape closes it, also after a
 * reload reopened it; on a narrow screen it is full-screen, a modal dialog that keeps focus.
 */
(function () {
  "use strict";

  const HOST_ID = "cx-support-widget";
  const STORAGE_KEY = "cx-support-widget"; // localStorage: {"token": <signed session token>}
  const OPEN_KEY = "cx-support-widget:open"; // sessionStorage: the panel was open in this tab
  const MAX_CHARS = 5000;
  const TYPING_TIMEOUT_MS = 20000; // the assistant's dots, at most this long
  const AGENT_TYPING_IDLE_MS = 6000; // a person's dots go after this long without news
  const TYPING_PING_MS = 2000; // "the customer is typing" is said at most this often
  const MAX_NAME = 100;
  const FULL_SCREEN = "(max-width: 480px)"; // the panel covers the page: a modal dialog
  // The first screen's starters: things the assistant understands as typed (each one is
  // sent as the customer's own words; tests/e2e/test_widget_experience_browser.py checks).
  const STARTERS = ["Where's my order?", "A question about my invoice", "Talk to a person"];
  const LINK_PROTOCOLS = ["http:", "https:", "mailto:"];
  const LINK_RE = /\b(?:https?:\/\/|mailto:)[^\s<>"'`]+/gi;

  // document.currentScript is only set while this file first runs: capture it now.
  const script =
    document.currentScript ||
    document.querySelector('script[data-rasa-url][src*="widget.js"]');
  const LOADED = Symbol.for("cx-support-widget");
  if (!script || window[LOADED]) return; // no tag to read, or the tag is on the page twice
  window[LOADED] = true;

  const rasaUrl = (script.dataset.rasaUrl || "").trim();
  const customerToken = (script.dataset.customerToken || "").trim() || null;
  const ioUrl = new URL("widget/socket.io.min.js", script.src).href;

  // ---- storage (private browsing may refuse it: then the chat lasts as long as the page) ----

  const memory = {};
  function load(store, key) {
    try {
      return window[store].getItem(key);
    } catch (e) {
      return memory[store + key] || null;
    }
  }
  function save(store, key, value) {
    try {
      if (value === null) window[store].removeItem(key);
      else window[store].setItem(key, value);
    } catch (e) {
      memory[store + key] = value;
    }
  }
  function storedToken() {
    try {
      const token = JSON.parse(load("localStorage", STORAGE_KEY) || "null");
      return token && typeof token.token === "string" ? token.token : null;
    } catch (e) {
      return null; // not ours, or damaged: the server will start a new conversation
    }
  }

  // ---- what may be shown ----

  function safeUrl(text, protocols) {
    try {
      const url = new URL(text);
      return protocols.includes(url.protocol) ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function safePayload(payload) {
    if (typeof payload !== "string" || !payload.trim()) return null;
    // Browsers ignore whitespace and control characters inside a scheme ("java\tscript:").
    const squeezed = payload.replace(/[\u0000-\u0020\u007f-\u009f]+/g, "").toLowerCase();
    return squeezed.startsWith("javascript:") ? null : payload;
  }

  function quickRepliesOf(list) {
    if (!Array.isArray(list)) return [];
    return list
      .filter((b) => b && typeof b === "object" && typeof b.title === "string" && b.title.trim())
      .map((b) => ({ title: b.title, payload: safePayload(b.payload) }))
      .filter((b) => b.payload !== null);
  }

  function nameOf(value) {
    return typeof value === "string" ? value.trim().slice(0, MAX_NAME) : "";
  }

  // A time from the server (unix seconds), or now.
  function dateOf(at) {
    const date = typeof at === "number" && isFinite(at) ? new Date(at * 1000) : new Date();
    return isNaN(date.getTime()) ? new Date() : date;
  }

  // One message as the widget shows it, from a "bot_uttered" payload or a history entry.
  function messageOf(data, sender) {
    if (!data || typeof data !== "object") return null;
    const agent = nameOf(data.agent) || null;
    if (sender === "assistant" && agent) sender = "agent";
    // A person joined or left (bot/agents/agent_desk.py): an event, not a message.
    const system = typeof data.system === "string" && data.system ? data.system : null;
    if ((sender === "assistant" || sender === "event") && system && !agent) {
      const text = typeof data.text === "string" ? data.text : "";
      return { sender: "event", system: system, by: nameOf(data.by), text: text, at: dateOf(data.at) };
    }
    if (!["customer", "assistant", "agent"].includes(sender)) return null;
    const message = {
      sender: sender,
      agent: sender === "agent" ? agent || "Support" : null,
      text: typeof data.text === "string" ? data.text : "",
      quickReplies: sender === "customer" ? [] : quickRepliesOf(data.quick_replies),
      image: null,
      at: dateOf(data.at),
      id: sender === "customer" && typeof data.id === "string" ? data.id : null,
    };
    const attachment = data.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) {
      message.image = safeUrl(attachment.payload.src, ["http:", "https:"]);
    }
    return message.text || message.image || message.quickReplies.length ? message : null;
  }

  // ---- the DOM (built with DOM calls only) ----

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children || []) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(paths) {
    const ns = "http://www.w3.org/2000/svg";
    const icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    for (const d of paths) {
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      icon.append(path);
    }
    return icon;
  }

  // Text with its http(s) and mailto: links turned into <a> elements; the rest stays text.
  function richText(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(LINK_RE)) {
      // Punctuation after a link usually ends the sentence, not the link.
      const candidate = match[0].replace(/[.,;:!?)\]}]+$/, "");
      const href = safeUrl(candidate, LINK_PROTOCOLS);
      if (!href) continue;
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", { href: href, rel: "noopener noreferrer" }, [candidate]);
      if (!href.startsWith("mailto:")) link.target = "_blank";
      fragment.append(link);
      last = match.index + candidate.length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  // "14:05" today (in the visitor's own locale and time zone), "Yesterday, 14:05", "3 Mar, 14:05".
  function humanTime(date) {
    const clock = date.toLocaleTimeString([], { timeStyle: "short" }); // the locale's own form
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (date.toDateString() === today.toDateString()) return clock;
    if (date.toDateString() === yesterday.toDateString()) return `Yesterday, ${clock}`;
    const day = date.toLocaleDateString([], { day: "numeric", month: "short" });
    return `${day}, ${clock}`;
  }

  function timeElement(date) {
    return el("time", { class: "cx-time", datetime: date.toISOString() }, [humanTime(date)]);
  }

  // "Ana" -> "A", "Ana Silva" -> "AS", "José María López" -> "JL".
  function initials(name) {
    const words = name.split(/\s+/).filter(Boolean);
    if (!words.length) return "";
    const first = Array.from(words[0])[0];
    const last = words.length > 1 ? Array.from(words[words.length - 1])[0] : "";
    return (first + last).toUpperCase();
  }

  const STYLE = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .cx-root {
      --cx-accent: #2f5bd3; --cx-accent-dark: #2447a8; --cx-ink: #1c2230; --cx-muted: #5b6475;
      --cx-line: #e3e7ef; --cx-bubble: #f1f3f8; --cx-agent: #fff4e0; --cx-agent-line: #e08a00;
      /* Borders of things to type in or press, and the focus ring: 3:1 or more on white. */
      --cx-field-line: #6b7385; --cx-focus: #1a3ea0;
      font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      color: var(--cx-ink);
    }
    .cx-sr { position: absolute; width: 1px; height: 1px; overflow: hidden;
      clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
    button { font: inherit; cursor: pointer; }
    button:focus-visible, textarea:focus-visible, a:focus-visible, .cx-panel:focus-visible {
      outline: 3px solid var(--cx-focus); outline-offset: 2px; }
    .cx-launcher {
      position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      width: 60px; height: 60px; border-radius: 50%; border: 0;
      background: var(--cx-accent); color: #fff; box-shadow: 0 6px 20px rgba(20, 30, 60, .3);
      display: grid; place-items: center; transition: transform .15s ease, background .15s;
    }
    .cx-launcher:hover { background: var(--cx-accent-dark); transform: translateY(-2px); }
    .cx-launcher:focus-visible { outline-offset: 3px;
      box-shadow: 0 0 0 3px #fff, 0 6px 20px rgba(20, 30, 60, .3); }
    .cx-launcher svg { width: 28px; height: 28px; fill: currentColor; }
    .cx-launcher .cx-icon-close { display: none; }
    .cx-root[data-open] .cx-launcher .cx-icon-chat { display: none; }
    .cx-root[data-open] .cx-launcher .cx-icon-close { display: block; }
    .cx-badge {
      position: absolute; top: -2px; right: -2px; min-width: 22px; height: 22px; padding: 0 6px;
      border-radius: 11px; background: #d9304f; color: #fff; font-size: 12px; font-weight: 700;
      line-height: 22px; text-align: center;
    }
    .cx-panel {
      position: fixed; right: 20px; bottom: 92px; z-index: 2147483000;
      width: 370px; max-width: calc(100vw - 40px); height: 560px; max-height: calc(100vh - 112px);
      display: flex; flex-direction: column; overflow: hidden;
      background: #fff; border-radius: 16px; box-shadow: 0 12px 40px rgba(20, 30, 60, .28);
    }
    .cx-panel[hidden] { display: none; }
    .cx-header {
      --cx-focus: #fff; /* on the blue header */
      display: flex; align-items: center; gap: 10px; padding: 12px 12px 12px 14px;
      background: var(--cx-accent); color: #fff;
    }
    .cx-avatar { flex: none; width: 40px; height: 40px; border-radius: 50%;
      display: grid; place-items: center; background: rgba(255, 255, 255, .18);
      font-weight: 700; font-size: 15px; letter-spacing: .02em; }
    .cx-avatar svg { width: 24px; height: 24px; fill: currentColor; }
    .cx-root[data-talking-to="agent"] .cx-header .cx-avatar { background: #fff4e0; color: #7a4600; }
    .cx-who { flex: 1; min-width: 0; }
    .cx-title { margin: 0; font-size: 17px; font-weight: 650; line-height: 1.25;
      overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .cx-subtitle { margin: 0; font-size: 13px; }
    .cx-status { margin: 0; font-size: 13px; }
    .cx-status:empty { display: none; }
    .cx-close { margin-left: auto; border: 0; background: transparent; color: #fff;
      width: 40px; height: 40px; border-radius: 8px; display: grid; place-items: center; }
    .cx-close:hover { background: rgba(255, 255, 255, .15); }
    .cx-close svg { width: 22px; height: 22px; fill: currentColor; }
    .cx-body { flex: 1; overflow-y: auto; padding: 16px 14px 8px; overscroll-behavior: contain; }
    .cx-welcome { padding: 6px 4px 14px; }
    .cx-welcome[hidden] { display: none; }
    .cx-welcome__hello { margin: 0 0 4px; font-size: 20px; font-weight: 700; }
    .cx-welcome__text { margin: 0 0 14px; color: var(--cx-muted); }
    .cx-starters { display: flex; flex-direction: column; align-items: stretch; gap: 8px; }
    .cx-starter { text-align: left; padding: 10px 14px; border-radius: 12px; background: #fff;
      border: 1.5px solid var(--cx-accent); color: var(--cx-accent-dark); font-weight: 600; }
    .cx-starter:hover:not(:disabled) { background: #eef2fd; }
    .cx-starter:disabled { color: var(--cx-muted); border-color: var(--cx-field-line); cursor: default; }
    .cx-wait { margin: 14px 0 0; font-size: 13px; color: var(--cx-muted); display: flex; gap: 6px;
      align-items: center; }
    .cx-wait[hidden] { display: none; }
    .cx-wait::before { content: ""; width: 8px; height: 8px; border-radius: 50%;
      background: #1f8a4c; flex: none; }
    .cx-messages { list-style: none; margin: 0; padding: 0;
      display: flex; flex-direction: column; gap: 10px; }
    .cx-msg { display: flex; flex-direction: column; align-items: flex-start; max-width: 85%; }
    .cx-msg--customer { align-self: flex-end; align-items: flex-end; }
    .cx-msg__from { font-size: 12px; color: var(--cx-muted); margin: 0 0 2px 4px;
      display: flex; align-items: center; gap: 6px; }
    .cx-msg__avatar { width: 22px; height: 22px; border-radius: 50%; background: var(--cx-agent);
      color: #7a4600; border: 1px solid var(--cx-agent-line); font-size: 10px; font-weight: 700;
      display: grid; place-items: center; }
    .cx-msg__name { font-weight: 650; color: #8a5200; }
    .cx-msg__bubble {
      padding: 9px 13px; border-radius: 16px 16px 16px 4px; background: var(--cx-bubble);
      white-space: pre-wrap; overflow-wrap: anywhere;
    }
    .cx-msg--customer .cx-msg__bubble {
      background: var(--cx-accent); color: #fff; border-radius: 16px 16px 4px 16px; }
    .cx-msg--customer a { color: #fff; }
    .cx-msg--agent .cx-msg__bubble { background: var(--cx-agent);
      border-left: 3px solid var(--cx-agent-line); }
    .cx-msg a { color: var(--cx-accent-dark); }
    .cx-msg__image { display: block; max-width: 100%; border-radius: 12px; margin-top: 4px; }
    .cx-msg__meta { font-size: 12px; color: var(--cx-muted); margin: 3px 4px 0; }
    .cx-msg__status:not(:empty)::before { content: " · "; }
    .cx-msg[data-status="seen"] .cx-msg__status { color: var(--cx-accent-dark); font-weight: 600; }
    .cx-quick-replies { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
    .cx-quick-reply {
      border: 1.5px solid var(--cx-accent); color: var(--cx-accent-dark); background: #fff;
      border-radius: 18px; padding: 6px 13px; font-size: 14px;
    }
    .cx-quick-reply:hover:not(:disabled) { background: #eef2fd; }
    .cx-quick-reply:disabled { border-color: var(--cx-line); color: #767d8c; cursor: default; }
    .cx-note { align-self: center; max-width: 90%; font-size: 13px; color: var(--cx-muted);
      text-align: center; }
    /* A person joined or left: a line across the chat, not a bubble. */
    .cx-event { align-self: stretch; display: flex; flex-direction: column; align-items: center;
      gap: 2px; margin: 6px 0; padding: 8px 12px; border-top: 1px solid var(--cx-line);
      border-bottom: 1px solid var(--cx-line); font-size: 13px; color: var(--cx-muted);
      text-align: center; }
    .cx-event__what { font-weight: 650; color: var(--cx-ink); }
    .cx-typing { display: flex; align-items: center; gap: 8px; margin: 10px 0 4px; }
    .cx-typing[hidden] { display: none; }
    .cx-typing__dots { display: flex; gap: 4px; padding: 12px 14px; width: max-content;
      background: var(--cx-bubble); border-radius: 16px 16px 16px 4px; }
    .cx-typing[data-who="agent"] .cx-typing__dots { background: var(--cx-agent); }
    .cx-typing__dots span { width: 7px; height: 7px; border-radius: 50%; background: #6b7385;
      animation: cx-blink 1.2s infinite ease-in-out; }
    .cx-typing__dots span:nth-child(2) { animation-delay: .2s; }
    .cx-typing__dots span:nth-child(3) { animation-delay: .4s; }
    .cx-typing__label { font-size: 12px; color: var(--cx-muted); }
    @keyframes cx-blink { 0%, 80%, 100% { opacity: .3; } 40% { opacity: 1; } }
    @media (prefers-reduced-motion: reduce) {
      .cx-typing__dots span { animation: none; }
      .cx-launcher { transition: none; }
    }
    .cx-composer { display: flex; gap: 8px; align-items: flex-end; padding: 10px 12px;
      border-top: 1px solid var(--cx-line); background: #fff; }
    .cx-input {
      flex: 1; resize: none; min-height: 42px; max-height: 120px; padding: 10px 12px;
      border: 1.5px solid var(--cx-field-line); border-radius: 12px; font: inherit; font-size: 16px;
      color: var(--cx-ink); background: #fff;
    }
    .cx-input::placeholder { color: #6b7385; }
    .cx-input:focus { outline: 3px solid var(--cx-focus); outline-offset: 1px;
      border-color: var(--cx-focus); }
    .cx-send { height: 42px; padding: 0 16px; border: 0; border-radius: 12px;
      background: var(--cx-accent); color: #fff; font-weight: 600; }
    .cx-send:hover:not(:disabled) { background: var(--cx-accent-dark); }
    .cx-send:disabled { background: #aab4cc; cursor: default; }
    @media ${FULL_SCREEN} {
      .cx-panel { inset: 0; width: 100%; max-width: none; height: 100%; max-height: none;
        border-radius: 0; }
      .cx-root[data-open] .cx-launcher { display: none; }
      .cx-launcher { right: 16px; bottom: 16px; }
    }
  `;

  // ---- the widget ----

  const CHAT_ICON =
    // A speech bubble with three dots cut out of it (they wind the other way).
    "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.5L4 22v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z" +
    "m3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z" +
    "m5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z";
  const CLOSE_ICON =
    "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  // The assistant: a small robot head.
  const ASSISTANT_ICON =
    "M11 2h2v3h4a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3V8a3 3 0 0 1 3-3h4zM9 10.5a1.5 " +
    "1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm6 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zM9 16v1.5h6V16z";
  // A person whose name we don't know.
  const PERSON_ICON = "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4 0-8 2-8 5v2h16v-2c0-3-4-5-8-5z";

  function icon(d, className) {
    const node = svg([d]);
    if (className) node.setAttribute("class", className);
    return node;
  }

  const host = el("div", { id: HOST_ID, "data-state": "loading", "data-talking-to": "assistant" });
  const shadow = host.attachShadow({ mode: "open" });

  const badge = el("span", { class: "cx-badge", hidden: true, "aria-hidden": "true" });
  const launcher = el(
    "button",
    {
      type: "button",
      class: "cx-launcher",
      "aria-label": "Chat with support",
      "aria-expanded": "false",
      "aria-controls": "cx-panel",
    },
    [icon(CHAT_ICON, "cx-icon-chat"), icon(CLOSE_ICON, "cx-icon-close"), badge]
  );
  const avatar = el("span", { class: "cx-avatar", "aria-hidden": "true" });
  const title = el("h2", { id: "cx-title", class: "cx-title" });
  const subtitle = el("p", { class: "cx-subtitle" });
  const status = el("p", { class: "cx-status", role: "status" });
  const closeButton = el("button", { type: "button", class: "cx-close", "aria-label": "Close chat" }, [
    icon(CLOSE_ICON),
  ]);
  // A list (an <ol> of <li>) that announces what is added. No role="log": a role on the
  // <ol> takes its list semantics away (axe-core: "listitem"), and screen readers lose
  // "item 3 of 7"; aria-live gives the announcements the log role would.
  const list = el("ol", {
    class: "cx-messages",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Messages",
  });
  const starters = STARTERS.map((text) =>
    el("button", { type: "button", class: "cx-starter", disabled: true }, [text])
  );
  const wait = el("p", { class: "cx-wait", hidden: true });
  const welcome = el("div", { class: "cx-welcome" }, [
    el("p", { class: "cx-welcome__hello" }, ["Hi there!"]),
    el("p", { class: "cx-welcome__text" }, [
      "Ask us about an order, an invoice or a plan. Our assistant answers right away, and a " +
        "person from our team is here when you need one.",
    ]),
    el("div", { class: "cx-starters", role: "group", "aria-label": "Start with" }, starters),
    wait,
  ]);
  const typingLabel = el("span", { class: "cx-typing__label" });
  const typing = el("div", { class: "cx-typing", role: "status", hidden: true }, [
    el("span", { class: "cx-typing__dots", "aria-hidden": "true" }, [
      el("span"),
      el("span"),
      el("span"),
    ]),
    typingLabel,
  ]);
  const body = el("div", { class: "cx-body" }, [welcome, list, typing]);
  const input = el("textarea", {
    id: "cx-input",
    class: "cx-input",
    rows: "1",
    maxlength: String(MAX_CHARS),
    placeholder: "Type your message…",
    "aria-label": "Your message",
    autocomplete: "off",
  });
  const sendButton = el("button", { type: "submit", class: "cx-send", disabled: true }, ["Send"]);
  const composer = el("form", { class: "cx-composer" }, [input, sendButton]);
  const panel = el(
    "section",
    {
      id: "cx-panel",
      class: "cx-panel",
      role: "dialog",
      "aria-labelledby": "cx-title",
      tabindex: "-1",
      hidden: true,
    },
    [
      el("header", { class: "cx-header" }, [
        avatar,
        el("div", { class: "cx-who" }, [title, subtitle, status]),
        closeButton,
      ]),
      body,
      composer,
    ]
  );
  const root = el("div", { class: "cx-root", "data-talking-to": "assistant" }, [panel, launcher]);
  const style = el("style");
  style.textContent = STYLE;
  shadow.append(style, root);
  const fullScreen = window.matchMedia ? window.matchMedia(FULL_SCREEN) : { matches: false };

  let socket = null;
  let connecting = null;
  let ready = false; // connected and the session confirmed: messages may be sent
  let everConnected = false;
  let unread = 0;
  let typingTimer = null;
  let holder = null; // {name} while a person holds the chat
  let seenUpTo = null; // the newest customer message the person has seen
  let typingSaidAt = 0; // when the server was last told the customer is typing

  function setState(state, text) {
    host.setAttribute("data-state", state);
    status.textContent = text || "";
    sendButton.disabled = !ready || !input.value.trim();
    for (const starter of starters) starter.disabled = !ready;
  }

  // The header says who the customer is talking to: the assistant, or the person holding it.
  function setHolder(next) {
    holder = next && typeof next === "object" ? { name: nameOf(next.name) } : null;
    const who = holder ? "agent" : "assistant";
    host.setAttribute("data-talking-to", who);
    root.setAttribute("data-talking-to", who);
    if (holder && holder.name) {
      title.textContent = holder.name;
      subtitle.textContent = "From our support team";
      avatar.replaceChildren(initials(holder.name));
    } else if (holder) {
      title.textContent = "Our support team";
      subtitle.textContent = "A person has joined";
      avatar.replaceChildren(icon(PERSON_ICON));
    } else {
      title.textContent = "Support assistant";
      subtitle.textContent = "Answers right away · a person can join";
      avatar.replaceChildren(icon(ASSISTANT_ICON));
    }
  }

  function scrollToEnd() {
    body.scrollTop = body.scrollHeight;
  }

  // Dots while the assistant answers (`who` null), or while a person types (`who` their name).
  function showTyping(on, who) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (!on) return;
    typing.setAttribute("data-who", who === undefined || who === null ? "assistant" : "agent");
    typingLabel.textContent =
      who === undefined || who === null ? "The assistant is typing" : `${who || "Support"} is typing`;
    typingTimer = setTimeout(
      () => showTyping(false),
      who === undefined || who === null ? TYPING_TIMEOUT_MS : AGENT_TYPING_IDLE_MS
    );
    scrollToEnd();
  }

  // Offered buttons are for the moment they were offered: once the customer answers, or
  // other buttons are offered, the old ones can no longer be pressed. (Not on every newer
  // message: the assistant often says one more thing after offering its buttons.)
  function retireQuickReplies() {
    for (const button of list.querySelectorAll(".cx-quick-reply")) button.disabled = true;
  }

  function addNote(text) {
    welcome.hidden = true;
    list.append(el("li", { class: "cx-note" }, [text]));
    scrollToEnd();
  }

  // A person joined or left, as a line across the chat.
  function addEvent(event) {
    welcome.hidden = true;
    const what = {
      joined: event.by ? `${event.by} joined the chat` : "A person joined the chat",
      handed_back: "You're back with the assistant",
      transferred: "Passed on to another team",
      resolved: "Marked as resolved",
      abandoned: "You're back with the assistant",
    }[event.system];
    list.append(
      el("li", { class: "cx-event", "data-system": event.system }, [
        what ? el("span", { class: "cx-event__what" }, [what]) : "",
        event.text ? el("span", { class: "cx-event__text" }, [event.text]) : "",
        timeElement(event.at),
      ])
    );
    scrollToEnd();
  }

  const STATUS_TEXT = { sending: "Sending…", delivered: "Delivered", seen: "Seen" };

  // Sending, delivered (the server has it) or seen (the person's console showed it).
  function setStatus(item, state) {
    if (!item) return;
    const order = ["sending", "delivered", "seen"];
    const now = item.getAttribute("data-status");
    if (now && order.indexOf(now) >= order.indexOf(state)) return; // never goes back
    item.setAttribute("data-status", state);
    const label = item.querySelector(".cx-msg__status");
    if (label) label.textContent = STATUS_TEXT[state];
  }

  // Everything the customer sent up to the message the person has seen is seen.
  function applySeen() {
    if (!seenUpTo) return;
    const mine = Array.from(list.querySelectorAll(".cx-msg--customer"));
    const last = mine.findIndex((item) => item.getAttribute("data-message-id") === seenUpTo);
    for (const item of mine.slice(0, last + 1)) {
      if (item.hasAttribute("data-status")) setStatus(item, "seen");
    }
  }

  function addMessage(message, state) {
    if (message.sender === "event") return addEvent(message);
    if (message.sender === "customer" || message.quickReplies.length) retireQuickReplies();
    welcome.hidden = true;
    const item = el("li", {
      class: `cx-msg cx-msg--${message.sender}`,
      "data-sender": message.sender,
      "data-message-id": message.id || null,
    });
    if (message.sender === "agent") {
      item.append(
        el("span", { class: "cx-msg__from" }, [
          el("span", { class: "cx-msg__avatar", "aria-hidden": "true" }, [initials(message.agent)]),
          el("span", {}, [
            el("span", { class: "cx-msg__name" }, [message.agent]),
            el("span", { class: "cx-msg__role" }, [" · support team"]),
          ]),
          el("span", { class: "cx-sr" }, [" said:"]),
        ])
      );
    } else {
      const who = message.sender === "customer" ? "You said:" : "Assistant said:";
      item.append(el("span", { class: "cx-sr" }, [who]));
    }
    if (message.text) {
      const bubble = el("div", { class: "cx-msg__bubble" });
      bubble.append(richText(message.text));
      item.append(bubble);
    }
    if (message.image) {
      item.append(
        el("img", {
          class: "cx-msg__image",
          src: message.image,
          alt: "Image from support",
          loading: "lazy",
          referrerpolicy: "no-referrer",
        })
      );
    }
    if (message.quickReplies.length) {
      const group = el("div", {
        class: "cx-quick-replies",
        role: "group",
        "aria-label": "Suggested replies",
      });
      for (const reply of message.quickReplies) {
        const button = el("button", { type: "button", class: "cx-quick-reply" }, [reply.title]);
        button.addEventListener("click", () => {
          if (send(reply.payload, reply.title)) {
            button.setAttribute("aria-pressed", "true");
            input.focus();
          }
        });
        group.append(button);
      }
      item.append(group);
    }
    const meta = el("div", { class: "cx-msg__meta" }, [timeElement(message.at)]);
    if (message.sender === "customer") meta.append(el("span", { class: "cx-msg__status" }));
    item.append(meta);
    list.append(item);
    if (message.sender === "customer" && state) setStatus(item, state);
    scrollToEnd();
    return item;
  }

  function renderHistory(history) {
    list.replaceChildren();
    welcome.hidden = false;
    let held = false; // a person held the chat when this was said
    for (const entry of history) {
      const message = messageOf(entry, entry && entry.sender);
      if (!message) continue;
      if (message.sender === "event") held = message.system === "joined";
      addMessage(message, held && message.sender === "customer" ? "delivered" : null);
    }
    applySeen();
  }

  function sayTyping(on) {
    if (!socket || !ready) return;
    socket.emit("typing", { typing: on });
    typingSaidAt = on ? Date.now() : 0;
  }

  // Send `message` to the assistant; `shown` is what the customer sees (a button's title).
  function send(message, shown) {
    if (!ready) {
      addNote("Still connecting. Please try again in a moment.");
      return false;
    }
    if (!message.trim()) return false;
    const withPerson = holder !== null;
    const item = addMessage(
      { sender: "customer", text: shown, agent: null, quickReplies: [], image: null, at: new Date() },
      withPerson ? "sending" : null
    );
    typingSaidAt = 0; // the server ends the customer's typing with the message
    socket.emit("user_uttered", { message: message.slice(0, MAX_CHARS) }, (ack) => {
      if (!ack || typeof ack.id !== "string") return;
      item.setAttribute("data-message-id", ack.id);
      if (withPerson) setStatus(item, "delivered");
      applySeen();
    });
    if (!withPerson) showTyping(true); // the assistant answers; a person's typing is shown as it happens
    return true;
  }

  function loadSocketIo() {
    return new Promise((resolve, reject) => {
      const previous = window.io; // the page's own io, if it has one, is given back
      const tag = document.createElement("script");
      tag.src = ioUrl;
      tag.async = true;
      tag.onload = () => {
        const io = window.io;
        if (previous === undefined) delete window.io;
        else window.io = previous;
        typeof io === "function" ? resolve(io) : reject(new Error("socket.io did not load"));
      };
      tag.onerror = () => reject(new Error(`could not load ${ioUrl}`));
      document.head.append(tag);
    });
  }

  function connect() {
    if (connecting) return connecting;
    if (!rasaUrl) {
      setState("unavailable", "Not set up");
      addNote("The chat is not set up on this page (the script tag has no data-rasa-url).");
      return (connecting = Promise.resolve());
    }
    setState("connecting", "Connecting…");
    connecting = loadSocketIo().then(
      (io) => {
        socket = io(rasaUrl, {
          path: "/socket.io",
          // WebSocket first (no sticky sessions needed behind a load balancer), long-polling
          // when a proxy refuses WebSockets.
          transports: ["websocket", "polling"],
          tryAllTransports: true,
          reconnectionDelayMax: 10000,
          // A function, so each reconnect shows the newest stored session token.
          auth: (cb) => cb({ session: storedToken(), customer: customerToken }),
        });
        wire(socket);
      },
      () => {
        setState("unavailable", "Unavailable");
        addNote("The chat couldn't load. Please check your connection and reload the page.");
      }
    );
    return connecting;
  }

  function countUnread() {
    if (!panel.hidden) return;
    unread += 1;
    badge.textContent = String(unread);
    badge.hidden = false;
    launcher.setAttribute("aria-label", `Chat with support (${unread} new)`);
  }

  function wire(socket) {
    socket.on("connect", () => {
      everConnected = true;
      socket.emit("session_request", {});
    });

    socket.on("session_confirm", (data) => {
      if (!data || typeof data !== "object" || typeof data.session_id !== "string") return;
      if (typeof data.token === "string") {
        save("localStorage", STORAGE_KEY, JSON.stringify({ token: data.token }));
      }
      host.setAttribute("data-session-id", data.session_id);
      setHolder(data.agent);
      seenUpTo = typeof data.seen === "string" ? data.seen : null;
      const support = data.support && typeof data.support.wait === "string" ? data.support.wait : "";
      wait.textContent = support;
      wait.hidden = !support; // no team to promise: no promise
      // The whole conversation is sent again on every reconnect: replace, never append.
      renderHistory(Array.isArray(data.history) ? data.history : []);
      ready = true;
      setState("ready", "");
    });

    socket.on("bot_uttered", (data) => {
      const message = messageOf(data, "assistant");
      if (!message) return;
      if (message.sender === "event") {
        setHolder(message.system === "joined" ? { name: message.by } : null);
        showTyping(false);
      } else if (message.sender === "agent" || !holder) {
        showTyping(false); // the message the dots were for is here
      }
      addMessage(message);
      countUnread();
    });

    socket.on("agent_typing", (data) => {
      if (!data || typeof data !== "object" || !holder) return;
      if (data.typing === false) showTyping(false);
      else showTyping(true, nameOf(data.agent) || holder.name);
    });

    socket.on("seen", (data) => {
      if (!data || typeof data.message_id !== "string") return;
      seenUpTo = data.message_id;
      applySeen();
    });

    socket.on("user_echo", (data) => {
      const message = messageOf(data, "customer");
      if (message) addMessage(message, holder ? "delivered" : null);
      applySeen();
      if (!holder) showTyping(true);
    });

    socket.on("error_message", (data) => {
      showTyping(false);
      if (data && typeof data.message === "string" && data.message) addNote(data.message);
    });

    socket.on("connect_error", (error) => {
      ready = false;
      if (socket.active) {
        // A network problem: socket.io tries again by itself.
        if (everConnected) setState("reconnecting", "Reconnecting…");
        else setState("connecting", "Connecting…");
        return;
      }
      // The server refused us; trying again with the same tokens would be refused again.
      showTyping(false);
      if (error && error.message === "customer token rejected") {
        setState("refused", "Can't start the chat");
        addNote(
          "We couldn't confirm that you're signed in, so the chat can't start. " +
            "Please reload the page, or sign in again."
        );
      } else if (error && error.message === "too many connections") {
        // Over the server's per-address rate limit (bot/rasa/channels/web.py).
        setState("refused", "Busy");
        addNote(
          "Too many chats are opening from your network right now. " +
            "Please wait a minute, then reload the page."
        );
      } else {
        setState("refused", "Unavailable");
        addNote("The chat is not available right now. Please reload the page to try again.");
      }
    });

    socket.on("disconnect", (reason) => {
      ready = false;
      showTyping(false);
      setState("reconnecting", "Reconnecting…");
      // socket.io reconnects by itself, except after the server closed the connection.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 2000);
    });
  }

  // ---- open, close, and the keyboard ----

  function isOpen() {
    return !panel.hidden;
  }

  // Full-screen (a phone): a modal dialog, focus kept inside. Otherwise a panel beside the page.
  function updateModal() {
    if (isOpen() && fullScreen.matches) panel.setAttribute("aria-modal", "true");
    else panel.removeAttribute("aria-modal");
  }

  function focusables() {
    return Array.from(
      panel.querySelectorAll("button, textarea, a[href], [tabindex]:not([tabindex='-1'])")
    ).filter((node) => !node.disabled && node.getClientRects().length > 0);
  }

  function open(focus = true) {
    panel.hidden = false;
    root.setAttribute("data-open", "");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat");
    unread = 0;
    badge.hidden = true;
    save("sessionStorage", OPEN_KEY, "1");
    updateModal();
    connect();
    scrollToEnd();
    if (focus) input.focus();
    else if (fullScreen.matches) panel.focus(); // reopened full-screen after a reload: it is modal
  }

  function close() {
    panel.hidden = true;
    root.removeAttribute("data-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Chat with support");
    save("sessionStorage", OPEN_KEY, null);
    updateModal();
    launcher.focus();
  }

  launcher.addEventListener("click", () => (isOpen() ? close() : open()));
  closeButton.addEventListener("click", close);
  for (const starter of starters) {
    starter.addEventListener("click", () => {
      if (send(starter.textContent, starter.textContent)) input.focus();
    });
  }
  // Escape closes the chat when the keyboard is in it, or nowhere in particular (after a
  // reload reopened it, focus is on the page's body); never while the page's own thing has it.
  window.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !isOpen() || event.defaultPrevented) return;
    const active = document.activeElement;
    if (active === host || active === document.body || active === null || fullScreen.matches) {
      event.preventDefault();
      close();
    }
  });
  // Full-screen, Tab and Shift+Tab go round the chat's own controls.
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || !fullScreen.matches) return;
    const items = focusables();
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = shadow.activeElement;
    if (event.shiftKey && (active === first || active === panel)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  });
  // ... and focus that lands outside (a click, a page script) comes back.
  document.addEventListener("focusin", (event) => {
    if (isOpen() && fullScreen.matches && event.target !== host) panel.focus();
  });
  if (fullScreen.addEventListener) fullScreen.addEventListener("change", updateModal);

  input.addEventListener("input", () => {
    sendButton.disabled = !ready || !input.value.trim();
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
    // A person holding the chat sees that the customer is typing (the assistant needs not).
    if (!holder) return;
    if (!input.value.trim()) {
      if (typingSaidAt) sayTyping(false);
    } else if (Date.now() - typingSaidAt >= TYPING_PING_MS) {
      sayTyping(true);
    }
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return; // whitespace is never sent
    if (send(text, text)) {
      input.value = "";
      input.style.height = "auto";
      sendButton.disabled = true;
    }
    input.focus();
  });
  window.addEventListener("cx-support-widget:open", () => open());

  function start() {
    setHolder(null);
    document.body.append(host);
    // A returning visitor reconnects at once (to see replies that came while away); a new
    // one only when they open the chat.
    if (load("sessionStorage", OPEN_KEY)) open(false); // reopened after a reload: focus stays put
    else if (storedToken()) connect();
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
