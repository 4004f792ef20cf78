/* relaydesk web chat: talks to Rasa's socket.io channel (channels.webchat.WebChatInput).
 *
 * Plain browser JavaScript, no build step, no dependencies besides the vendored socket.io
 * client. Everything the bot sends is rendered with textContent / createElement, never
 * innerHTML, so a response can never inject markup into the page.
 *
 * Protocol (Rasa SocketIOInput with session_persistence: true):
 *   -> "session_request"  {session_id: string|null}   after every (re)connect
 *   <- "session_confirm"  "<session id>"
 *   -> user event         {message: string, session_id: string}
 *   <- bot event          {text?, quick_replies?: [{content_type, title, payload}],
 *                          attachment?: {type: "image", payload: {src}}, image?}
 */
(function () {
  "use strict";

  var SESSION_KEY = "relaydesk.webchat.session";
  var TRANSCRIPT_KEY = "relaydesk.webchat.transcript";
  var MAX_ENTRIES = 200; // keeps localStorage small on long conversations
  var REPLY_TIMEOUT_MS = 30000;
  var SESSION_ID_RE = /^[0-9a-f]{32}$/; // the form the server issues (WebChatInput)
  // Either a Markdown link [label](https://...) or a bare http(s) URL.
  var LINK_RE = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s()<>]+)\)|\bhttps?:\/\/[^\s<>"'`]+/gi;

  var root = document.getElementById("webchat");
  var el = {
    status: root.querySelector('[data-testid="webchat-status"]'),
    presence: root.querySelector('[data-testid="webchat-presence"]'),
    body: root.querySelector('[data-testid="webchat-body"]'),
    messages: root.querySelector('[data-testid="webchat-messages"]'),
    typing: root.querySelector('[data-testid="webchat-typing"]'),
    form: root.querySelector('[data-testid="webchat-form"]'),
    input: root.querySelector('[data-testid="webchat-input"]'),
    reset: root.querySelector('[data-testid="webchat-reset"]'),
  };
  var config = {
    // Relative to the page ("socket.io" → /webhooks/webchat/socket.io), so it also resolves
    // behind a reverse proxy that serves the chat under a path prefix.
    socketPath: new URL(root.dataset.socketPath || "socket.io", window.location.href).pathname,
    namespace: root.dataset.namespace || "",
    userEvent: root.dataset.userEvent || "user_uttered",
    botEvent: root.dataset.botEvent || "bot_uttered",
    // Decided by the server (see WebChatInput): long-polling unless websockets are known to work.
    transports: (root.dataset.transports || "polling").split(" ").filter(Boolean),
  };

  var state = {
    sessionId: null, // confirmed by the server; also the Rasa sender id
    confirmed: false, // this socket has joined the session room
    entries: [], // the transcript, as persisted
    outbox: [], // messages typed while not connected
    nextId: 1,
    replyTimer: null,
  };

  /* ---------- storage (may be unavailable: private mode, disabled cookies) ---------- */

  var storage = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { /* keep working in memory */ }
    },
    remove: function (key) {
      try { window.localStorage.removeItem(key); } catch (e) { /* nothing to remove */ }
    },
  };

  function loadSession() {
    var id = storage.get(SESSION_KEY);
    state.sessionId = id && SESSION_ID_RE.test(id) ? id : null;
    var raw = storage.get(TRANSCRIPT_KEY);
    if (!raw || !state.sessionId) return;
    try {
      var saved = JSON.parse(raw);
      // A transcript only belongs to the session it was recorded in.
      if (saved && saved.sessionId === state.sessionId && Array.isArray(saved.entries)) {
        state.entries = saved.entries.filter(isValidEntry);
      }
    } catch (e) {
      storage.remove(TRANSCRIPT_KEY);
    }
    state.entries.forEach(function (entry) {
      state.nextId = Math.max(state.nextId, (entry.id || 0) + 1);
    });
  }

  function saveTranscript() {
    state.entries = state.entries.slice(-MAX_ENTRIES);
    storage.set(TRANSCRIPT_KEY, JSON.stringify({ sessionId: state.sessionId, entries: state.entries }));
  }

  function isValidEntry(entry) {
    return entry && (entry.from === "bot" || entry.from === "user") &&
      (entry.type === "text" || entry.type === "image");
  }

  /* ---------- rendering ---------- */

  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // Sentence punctuation right after a URL ("see https://x.com/a.") is not part of it.
  function trimUrl(url) {
    var trimmed = url.replace(/[.,;:!?'"]+$/, "");
    while (trimmed.endsWith(")") && count(trimmed, "(") < count(trimmed, ")")) {
      trimmed = trimmed.slice(0, -1).replace(/[.,;:!?'"]+$/, "");
    }
    return trimmed;
  }

  function count(text, ch) {
    return text.split(ch).length - 1;
  }

  function link(href, label) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    return a;
  }

  // Appends text to `parent`, turning http(s) URLs and Markdown links into safe <a> elements.
  function appendRichText(parent, text) {
    var last = 0;
    var match;
    LINK_RE.lastIndex = 0;
    while ((match = LINK_RE.exec(text)) !== null) {
      var start = match.index;
      var raw = match[2] ? match[0] : trimUrl(match[0]);
      var href = safeUrl(match[2] || raw);
      if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
      parent.appendChild(href ? link(href, match[2] ? match[1] : raw) : document.createTextNode(raw));
      last = start + raw.length;
      LINK_RE.lastIndex = last;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function srPrefix(from) {
    var span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = from === "user" ? "You said: " : "Assistant said: ";
    return span;
  }

  function renderEntry(entry) {
    var nodes = [];
    var bubble = document.createElement("div");
    bubble.className = "msg msg--" + entry.from + (entry.type === "image" ? " msg--image" : "");
    bubble.dataset.testid = "webchat-message";
    bubble.dataset.from = entry.from;
    bubble.dataset.entryId = String(entry.id);

    if (entry.type === "image") {
      var src = safeUrl(entry.src);
      if (!src) return nodes;
      var img = document.createElement("img");
      img.src = src;
      img.alt = entry.alt || "Image from the assistant";
      img.loading = "lazy";
      img.dataset.testid = "webchat-image";
      img.addEventListener("load", scrollToBottom);
      var wrapper = link(src, "");
      wrapper.appendChild(img);
      bubble.appendChild(srPrefix(entry.from));
      bubble.appendChild(wrapper);
      nodes.push(bubble);
    } else if (entry.text) {
      var p = document.createElement("p");
      p.className = "msg__text";
      p.dataset.testid = "webchat-message-text";
      appendRichText(p, entry.text);
      bubble.appendChild(srPrefix(entry.from));
      bubble.appendChild(p);
      nodes.push(bubble);
    }

    if (entry.quickReplies && entry.quickReplies.length) {
      nodes.push(renderQuickReplies(entry));
    }
    return nodes;
  }

  function renderQuickReplies(entry) {
    var group = document.createElement("div");
    group.className = "quick-replies";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    group.dataset.testid = "webchat-quick-replies";
    group.dataset.entryId = String(entry.id);
    entry.quickReplies.forEach(function (reply, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "quick-reply";
      button.textContent = reply.title;
      button.dataset.testid = "webchat-quick-reply";
      button.dataset.index = String(index);
      button.addEventListener("click", function () { chooseQuickReply(entry, index); });
      group.appendChild(button);
    });
    applyAnswered(group, entry);
    return group;
  }

  function applyAnswered(group, entry) {
    var answered = typeof entry.chosen === "number";
    group.dataset.answered = String(answered);
    Array.prototype.forEach.call(group.querySelectorAll("button"), function (button) {
      button.disabled = answered;
      if (answered && Number(button.dataset.index) === entry.chosen) {
        button.dataset.chosen = "true";
        button.setAttribute("aria-label", button.textContent + " (your choice)");
      }
    });
  }

  function appendEntry(entry) {
    renderEntry(entry).forEach(function (node) { el.messages.appendChild(node); });
  }

  function scrollToBottom() {
    el.body.scrollTop = el.body.scrollHeight;
  }

  function addEntry(entry) {
    entry.id = state.nextId++;
    state.entries.push(entry);
    saveTranscript();
    appendEntry(entry);
    scrollToBottom();
  }

  function showNotice(text) {
    var notice = document.createElement("p");
    notice.className = "notice";
    notice.dataset.testid = "webchat-notice";
    notice.textContent = text;
    el.messages.appendChild(notice);
    scrollToBottom();
  }

  /* ---------- typing indicator & connection status ---------- */

  function showTyping() {
    el.typing.hidden = false;
    scrollToBottom();
    clearTimeout(state.replyTimer);
    state.replyTimer = setTimeout(function () {
      hideTyping();
      showNotice("No reply yet. The assistant may be busy, please try again in a moment.");
    }, REPLY_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(state.replyTimer);
    el.typing.hidden = true;
  }

  var STATUS_TEXT = {
    connecting: ["Connecting…", ""],
    online: ["Online", ""],
    reconnecting: ["Reconnecting…", "Connection lost. Reconnecting… Messages you send will be delivered once it is back."],
    offline: ["Offline", "You're offline. Check your internet connection; messages will be sent when you're back online."],
  };

  function setStatus(name) {
    var text = STATUS_TEXT[name];
    root.dataset.connection = name;
    el.presence.dataset.state = name;
    el.presence.textContent = text[0];
    el.status.dataset.state = name;
    // Only touch the live region when the text changes, so screen readers announce once.
    if (el.status.textContent !== text[1]) el.status.textContent = text[1];
  }

  /* ---------- conversation ---------- */

  function normaliseQuickReplies(list) {
    if (!Array.isArray(list)) return [];
    return list
      .filter(function (item) { return item && typeof item.title === "string" && item.title.trim(); })
      .map(function (item) {
        var payload = typeof item.payload === "string" && item.payload ? item.payload : item.title;
        return { title: item.title, payload: payload };
      });
  }

  function imageSource(message) {
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) {
      return attachment.payload.src || attachment.payload.url || null;
    }
    return typeof message.image === "string" ? message.image : null;
  }

  function onBotMessage(message) {
    if (!message || typeof message !== "object") return;
    hideTyping();
    var replies = normaliseQuickReplies(message.quick_replies || message.buttons);
    var text = typeof message.text === "string" ? message.text : "";
    if (text.trim() || replies.length) {
      addEntry({ from: "bot", type: "text", text: text, quickReplies: replies });
    }
    var src = imageSource(message);
    if (src && safeUrl(src)) addEntry({ from: "bot", type: "image", src: src });
  }

  // Quick replies only make sense as an answer to the latest question; once the shopper
  // says anything else, older rows are disabled so stale payloads cannot be sent later.
  function closeOpenQuickReplies() {
    state.entries.forEach(function (entry) {
      if (entry.quickReplies && entry.quickReplies.length && typeof entry.chosen !== "number") {
        entry.chosen = -1;
        var group = el.messages.querySelector('.quick-replies[data-entry-id="' + entry.id + '"]');
        if (group) applyAnswered(group, entry);
      }
    });
  }

  function chooseQuickReply(entry, index) {
    if (typeof entry.chosen === "number") return;
    var reply = entry.quickReplies[index];
    entry.chosen = index; // set first: send() closes all other open rows
    var group = el.messages.querySelector('.quick-replies[data-entry-id="' + entry.id + '"]');
    if (group) applyAnswered(group, entry);
    send(reply.payload, reply.title);
    el.input.focus(); // the clicked button is now disabled and would drop focus to <body>
  }

  // `message` goes to Rasa; `display` is what the shopper sees in their bubble.
  function send(message, display) {
    closeOpenQuickReplies();
    addEntry({ from: "user", type: "text", text: display });
    state.outbox.push(message);
    flushOutbox();
  }

  function flushOutbox() {
    if (!state.confirmed || !socket.connected) return;
    while (state.outbox.length) {
      socket.emit(config.userEvent, { message: state.outbox.shift(), session_id: state.sessionId });
      showTyping();
    }
  }

  /* ---------- socket.io ---------- */

  if (typeof window.io !== "function") {
    // socket.io.min.js did not load (blocked, truncated download): say so instead of
    // showing "Connecting…" forever.
    setStatus("offline");
    el.status.textContent = "The chat could not load. Please refresh the page.";
    return;
  }
  var options = { path: config.socketPath, transports: config.transports };
  var socket = config.namespace ? window.io(config.namespace, options) : window.io(options);

  socket.on("connect", function () {
    state.confirmed = false;
    // A new socket (first load, reload or reconnect) must rejoin its session room, or the
    // server has nowhere to send this session's replies.
    socket.emit("session_request", { session_id: state.sessionId });
  });

  socket.on("session_confirm", function (data) {
    var id = typeof data === "string" ? data : data && data.session_id;
    if (!id) return;
    if (id !== state.sessionId) {
      state.sessionId = id;
      storage.set(SESSION_KEY, id);
    }
    saveTranscript();
    state.confirmed = true;
    setStatus("online");
    flushOutbox();
  });

  socket.on(config.botEvent, onBotMessage);

  socket.on("disconnect", function (reason) {
    state.confirmed = false;
    hideTyping();
    setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    // socket.io does not retry after a server-initiated disconnect; we want it to.
    if (reason === "io server disconnect") socket.connect();
  });

  socket.on("connect_error", function () {
    setStatus(navigator.onLine === false ? "offline" : "reconnecting");
  });
  socket.io.on("reconnect_attempt", function () {
    if (navigator.onLine !== false) setStatus("reconnecting");
  });
  socket.io.on("reconnect_failed", function () { setStatus("offline"); });

  window.addEventListener("offline", function () { setStatus("offline"); });
  window.addEventListener("online", function () {
    // A short blip may not have dropped the socket at all.
    if (socket.connected && state.confirmed) {
      setStatus("online");
    } else {
      setStatus("reconnecting");
      if (!socket.connected) socket.connect();
    }
  });

  /* ---------- UI events ---------- */

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.input.value.trim();
    if (!text) return;
    el.input.value = "";
    send(text, text);
    el.input.focus();
  });

  el.reset.addEventListener("click", function () {
    // A new Rasa conversation: forget the session id and transcript, then reconnect so the
    // server assigns a fresh id and this socket leaves the old session's room.
    storage.remove(SESSION_KEY);
    storage.remove(TRANSCRIPT_KEY);
    state.sessionId = null;
    state.entries = [];
    state.outbox = [];
    state.confirmed = false;
    hideTyping();
    el.messages.textContent = "";
    setStatus("connecting");
    socket.disconnect();
    socket.connect();
    el.input.focus();
  });

  /* ---------- start ---------- */

  loadSession();
  state.entries.forEach(appendEntry); // Rasa does not replay history over socket.io
  scrollToBottom();
  setStatus(navigator.onLine === false ? "offline" : "connecting");
  // Opening the on-screen keyboard unasked is unfriendly on phones; only autofocus with a mouse.
  if (window.matchMedia && window.matchMedia("(pointer: fine)").matches) el.input.focus();
})();
