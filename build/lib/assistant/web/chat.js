// Chat client shared by the full page (index.html) and the widget's iframe (embed.html).
//
// Security rule: every string that comes from a user, a document or the server is put in the
// page with textContent / createElement / setAttribute, NEVER innerHTML, so a document or a
// question containing <script> or <img onerror=…> shows literally and runs nothing. The page is
// also served with a strict CSP (no inline script or style), so styles change only through
// classes or the CSSOM (element.style.setProperty).
"use strict";

(() => {
  const EMBED = document.body.dataset.mode === "embed";
  const STORAGE_KEY = EMBED ? "irev-assistant:widget-conversation" : "irev-assistant:conversation";
  const COLOR = /^#[0-9a-fA-F]{3,8}$/;
  const MARKER = /\[(\d{1,3})\]/g;
  // Short French words not worth highlighting in a passage.
  const STOP_WORDS = new Set(("les des une est sont que qui quoi quel quelle quels quelles dans "
    + "pour par sur avec aux ces cette son ses leur leurs elle elles ils pas plus dit dire "
    + "combien comment pourquoi quand prevoit prevu selon fait faire peut doit entre").split(" "));

  const $ = (selector, root = document) => root.querySelector(selector);
  const form = $("[data-ask-form]");
  const input = $("#question");
  const submit = $("[data-submit]");
  const log = $("[data-messages]");
  const welcome = $("[data-welcome]");
  const scroller = $("[data-scroll]");
  const status = $("[data-status]");
  const dialog = $("[data-passage]");

  const state = { conversationId: null, controller: null, busy: false, trigger: null };

  // -- small DOM helpers ---------------------------------------------------------------------

  /** createElement with class, attributes and children (strings become text nodes). */
  function h(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function icon(down = false) {
    // Thumb icon (Material Icons path, Apache-2.0), built with the SVG DOM.
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", down ? "icon icon--down" : "icon");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79"
      + "-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84"
      + "-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z");
    svg.append(path);
    return svg;
  }

  function announce(message) {
    status.textContent = "";
    // A fresh text node after a tick makes screen readers repeat identical messages too.
    window.setTimeout(() => { status.textContent = message; }, 50);
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function scrollDown(force = false) {
    if (force || nearBottom()) scroller.scrollTop = scroller.scrollHeight;
  }

  const storage = {
    get() { try { return window.localStorage.getItem(STORAGE_KEY); } catch { return null; } },
    set(id) { try { window.localStorage.setItem(STORAGE_KEY, id); } catch { /* private mode */ } },
    clear() { try { window.localStorage.removeItem(STORAGE_KEY); } catch { /* private mode */ } },
  };

  // -- formatting ------------------------------------------------------------------------------

  const MONTHS = new Intl.DateTimeFormat("fr-FR", { month: "long", year: "numeric", timeZone: "UTC" });
  const DAYS = new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeZone: "UTC" });

  function formatDate(value) {
    if (!value) return null;
    const match = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(value);
    if (!match) return value;
    const [, year, month, day] = match;
    if (!month) return year;
    const date = new Date(Date.UTC(+year, +month - 1, day ? +day : 1));
    return Number.isNaN(date.getTime()) ? value : (day ? DAYS : MONTHS).format(date);
  }

  /** "page 3", "diapositive 2", "article L. 2143-1", a section title: where the cited sentence
   *  is in its document. */
  function locate(citation) {
    const parts = [];
    if (citation.location) parts.push(citation.location);
    else if (citation.page) parts.push(`page ${citation.page}`);
    // The section usually names the article in full ("Article L2143-1 (Code …)"); the bare
    // article id ("l2143-1") is the fallback.
    if (citation.section) parts.push(citation.section);
    else if (citation.article) {
      const article = citation.article.charAt(0).toUpperCase() + citation.article.slice(1);
      parts.push(/^art/i.test(article) ? article : `article ${article}`);
    }
    return parts.join(", ");
  }

  const titleOf = (citation) => citation.title || citation.document_id || "Document sans titre";

  /** Only http(s) and same-origin links: a manifest URL like javascript:… is never a link. */
  function safeUrl(url) {
    if (!url) return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch { return null; }
  }

  // -- highlighting: DOM text nodes + <mark>, never innerHTML -----------------------------------

  const fold = (word) => word.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  const stem = (word) => (word.length > 4 ? word.replace(/[sx]$/, "") : word);

  function questionTerms(...questions) {
    const terms = new Set();
    for (const question of questions) {
      for (const word of (question || "").match(/[\p{L}\p{N}]+/gu) || []) {
        const folded = fold(word);
        const digits = /\d/.test(folded);
        if ((folded.length >= 3 || (digits && folded.length >= 2)) && !STOP_WORDS.has(folded)) {
          terms.add(stem(folded));
        }
      }
    }
    return terms;
  }

  function matches(word, terms) {
    const folded = stem(fold(word));
    if (terms.has(folded)) return true;
    // "région" ~ "régional", "conseil" ~ "conseils": a shared prefix of 5+ letters.
    for (const term of terms) {
      if (term.length >= 5 && folded.length >= 5 && (folded.startsWith(term) || term.startsWith(folded))) {
        return true;
      }
    }
    return false;
  }

  function highlighted(text, terms) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const found of text.matchAll(/[\p{L}\p{N}]+/gu)) {
      if (!matches(found[0], terms)) continue;
      fragment.append(document.createTextNode(text.slice(last, found.index)));
      fragment.append(h("mark", { text: found[0] }));
      last = found.index + found[0].length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  // -- passage panel -----------------------------------------------------------------------------

  /** Opens the panel on one passage, or on several passages of the same document. */
  function openPassage(items, view, suggestion = false) {
    const [first] = items;
    state.trigger = document.activeElement;
    const numbers = items.map((c) => `[${c.n}]`).join(", ");
    const kicker = $("[data-passage-kicker]", dialog);
    kicker.textContent = suggestion
      ? "Document proche (suggestion, pas une source de la réponse)"
      : `${items.length > 1 ? "Sources" : "Source"} ${numbers}`;
    kicker.classList.toggle("passage-kicker--suggestion", suggestion);
    $("[data-passage-title]", dialog).textContent = titleOf(first);

    const meta = $("[data-passage-meta]", dialog);
    meta.replaceChildren();
    const places = [...new Set(items.map(locate).filter(Boolean))].join(" ; ");
    const rows = [["Type", first.type], ["Date", formatDate(first.published)],
      ["Emplacement", places]];
    for (const [label, value] of rows) {
      if (value) meta.append(h("dt", { text: label }), h("dd", { text: value }));
    }

    const terms = questionTerms(view.question, view.standalone);
    $("[data-passage-texts]", dialog).replaceChildren(...items.flatMap((citation) => [
      h("h3", { class: "passage-label",
        text: items.length > 1 ? `Passage [${citation.n}]` : "Passage cité" }),
      h("blockquote", { class: "passage-text" }, highlighted(citation.text || "", terms)),
    ]));

    const url = safeUrl(first.url);
    const link = $("[data-passage-link]", dialog);
    $("[data-passage-link-wrap]", dialog).hidden = !url;
    $("[data-passage-nolink]", dialog).hidden = Boolean(url);
    if (url) {
      link.href = url;
      const pdf = /#page=\d+$/.test(url);
      $("[data-passage-link-label]", dialog).textContent = pdf && first.page
        ? `Ouvrir le document à la page ${first.page}` : "Ouvrir le document source";
    } else {
      link.removeAttribute("href");
    }
    dialog.showModal();
    dialog.scrollTop = 0;
  }

  function closePassage() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener("close", () => {
    if (state.trigger && document.contains(state.trigger)) state.trigger.focus();
    state.trigger = null;
  });
  // A click on the backdrop (outside the panel) closes it.
  dialog.addEventListener("click", (event) => { if (event.target === dialog) closePassage(); });

  // -- rendering one exchange ------------------------------------------------------------------

  /** A question bubble and an (empty) answer bubble; returns the view used to fill it. */
  function addExchange(question) {
    welcome.hidden = true;
    const body = h("div", { class: "answer-body" });
    const answer = h("div", { class: "bubble bubble--answer" },
      h("span", { class: "sr-only", text: "Réponse de l'assistant : " }), body);
    const item = h("article", { class: "exchange" },
      h("p", { class: "bubble bubble--question" },
        h("span", { class: "sr-only", text: "Votre question : " }), question),
      answer);
    log.append(item);
    scrollDown(true);
    return { question, standalone: null, item, answer, body, citations: [], text: "" };
  }

  /** The answer text, each [n] a button opening passage n (unknown numbers stay plain text). */
  function renderText(view, text, citations, muted = false) {
    const paragraph = h("p", { class: muted ? "answer-text answer-text--muted" : "answer-text" });
    const byNumber = new Map(citations.map((c) => [c.n, c]));
    let last = 0;
    for (const found of text.matchAll(MARKER)) {
      const citation = byNumber.get(Number(found[1]));
      if (!citation) continue;
      paragraph.append(text.slice(last, found.index));
      paragraph.append(h("button", {
        type: "button", class: "cite", text: String(citation.n),
        "aria-label": `Source ${citation.n} : ${titleOf(citation)}`,
        onclick: () => openPassage([citation], view),
      }));
      last = found.index + found[0].length;
    }
    paragraph.append(text.slice(last));
    return paragraph;
  }

  function renderSources(view, items, suggestion) {
    const title = suggestion
      ? "Documents proches (suggestions : ce ne sont pas des sources de la réponse)"
      : (items.length > 1 ? "Sources" : "Source");
    const list = h("ul", { class: "sources-list" });
    // Several passages of the same document and place make one line, opening them all.
    const groups = new Map();
    for (const citation of items) {
      const key = `${citation.document_id}\u0000${locate(citation)}`;
      groups.set(key, [...(groups.get(key) || []), citation]);
    }
    for (const group of groups.values()) {
      const [first] = group;
      const where = [first.type, formatDate(first.published), locate(first)]
        .filter(Boolean).join(" · ");
      list.append(h("li", {}, h("button", {
        type: "button", class: "source", onclick: () => openPassage(group, view, suggestion),
      },
      h("span", { class: "source-n", text: suggestion ? "•" : group.map((c) => `[${c.n}]`).join("") }),
      h("span", {}, h("span", { class: "source-label", text: titleOf(first) }),
        where ? h("span", { class: "source-where", text: ` — ${where}` }) : null))));
    }
    return h("section", { class: suggestion ? "sources sources--suggestions" : "sources" },
      h("h3", { class: "sources-title", text: title }), list);
  }

  function renderFeedback(view, answer, messageId) {
    const box = h("div", { class: "feedback", role: "group", "aria-label": "Votre avis sur cette réponse" });
    const up = h("button", { type: "button", class: "button button--secondary button--small", "aria-pressed": "false" },
      icon(), "Utile");
    const down = h("button", { type: "button", class: "button button--secondary button--small", "aria-pressed": "false" },
      icon(true), "Pas utile");
    const thanks = h("p", { class: "feedback-thanks", role: "status" });

    async function send(rating, comment = "") {
      up.disabled = down.disabled = true;
      try {
        const response = await fetch("/api/feedback", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            conversation_id: state.conversationId, message_id: messageId ?? null,
            question: view.question.slice(0, 2000), answer: answer.slice(0, 20000), rating, comment,
          }),
        });
        if (!response.ok) throw new Error(await errorMessage(response));
        (rating > 0 ? up : down).setAttribute("aria-pressed", "true");
        thanks.textContent = "Merci pour votre retour.";
        box.querySelector(".feedback-form")?.remove();
      } catch (error) {
        up.disabled = down.disabled = false;
        thanks.textContent = `Votre avis n'a pas pu être envoyé : ${error.message}`;
      }
    }

    up.addEventListener("click", () => send(1));
    down.addEventListener("click", () => {
      if (box.querySelector(".feedback-form")) return;
      const id = `comment-${Math.random().toString(36).slice(2)}`;
      const comment = h("textarea", { id, rows: "2", maxlength: "2000" });
      const commentForm = h("form", { class: "feedback-form" },
        h("label", { for: id, text: "Qu'est-ce qui n'allait pas ? (facultatif)" }), comment,
        h("div", { class: "feedback-actions" },
          h("button", { type: "submit", class: "button button--small", text: "Envoyer mon avis" })));
      commentForm.addEventListener("submit", (event) => {
        event.preventDefault();
        send(-1, comment.value.trim());
      });
      box.insertBefore(commentForm, thanks);
      comment.focus();
    });
    box.append(h("span", { class: "feedback-label", text: "Cette réponse vous a-t-elle aidé ?" }), up, down, thanks);
    return box;
  }

  /** The final, verified answer replaces whatever was streamed. */
  function finish(view, answer) {
    view.standalone = answer.standalone_question || null;
    const grounded = Boolean(answer.grounded);
    const citations = grounded ? answer.citations || [] : [];
    const parts = [renderText(view, answer.answer || "", citations, !grounded)];
    if (answer.notice) parts.push(h("p", { class: "notice", text: answer.notice }));
    if (grounded && citations.length) parts.push(renderSources(view, citations, false));
    if (!grounded && answer.suggestions?.length) parts.push(renderSources(view, answer.suggestions, true));
    parts.push(renderFeedback(view, answer.answer || "", answer.message_id ?? answer.id));
    view.body.replaceChildren(...parts);
  }

  function fail(view, message) {
    view.body.replaceChildren(h("p", { class: "error", text: message }));
    announce(message);
  }

  // -- talking to the API ----------------------------------------------------------------------

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
    } catch { /* not JSON */ }
    return `Erreur du serveur (${response.status}).`;
  }

  /** POST /api/chat/stream, parsed as Server-Sent Events (EventSource cannot POST). */
  async function stream(body, onEvent, signal) {
    const response = await fetch("/api/chat/stream", {
      method: "POST", signal, body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let carry = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      // sse-starlette ends lines with \r\n: keep a trailing \r until we know what follows it.
      const raw = carry + value;
      carry = raw.endsWith("\r") ? "\r" : "";
      buffer += raw.slice(0, raw.length - carry.length).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;  // comment lines are keep-alive pings
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      }
    }
  }

  async function ask(question) {
    if (state.busy) return;
    question = question.trim();
    if (!question) {
      announce("Saisissez une question.");
      input.focus();
      return;
    }
    state.busy = true;
    submit.disabled = true;
    log.setAttribute("aria-busy", "true");
    const view = addExchange(question);
    view.body.append(h("p", { class: "typing", text: "Recherche dans les documents…" }));
    announce("Question envoyée, recherche dans les documents.");
    const controller = new AbortController();
    state.controller = controller;
    let final = null;
    try {
      await stream({ question, conversation_id: state.conversationId }, (event, data) => {
        if (event === "citations") {
          view.citations = data;  // candidates: the streamed [n] point at these
        } else if (event === "token") {
          view.text += data;
          view.body.replaceChildren(renderText(view, view.text, view.citations));
          scrollDown();
        } else if (event === "reset") {
          view.text = "";
          view.body.replaceChildren(h("p", { class: "notice", text: data }));
        } else if (event === "done") {
          final = data;
        }
      }, controller.signal);
      if (!final) throw new Error("La réponse a été interrompue. Réessayez.");
      state.conversationId = final.conversation_id || state.conversationId;
      if (state.conversationId) storage.set(state.conversationId);
      finish(view, final);
      const count = final.grounded ? (final.citations || []).length : 0;
      announce(final.grounded
        ? `Réponse reçue, ${count} source${count > 1 ? "s" : ""}.`
        : "Aucune réponse trouvée dans les documents ; des documents proches sont suggérés.");
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error instanceof TypeError) {
        fail(view, "Le service est injoignable. Vérifiez votre connexion puis réessayez.");
      } else if (error instanceof SyntaxError) {
        fail(view, "La réponse du serveur est illisible. Réessayez.");
      } else {
        fail(view, error.message);
      }
      if (!input.value) {  // give the question back, to retry it
        input.value = question;
        fit();
      }
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        state.busy = false;
        submit.disabled = false;
        log.setAttribute("aria-busy", "false");
      }
      scrollDown();
    }
  }

  /** After a reload: GET /api/conversations/{id} and show it again. */
  async function restore() {
    const id = storage.get();
    if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) return;
    try {
      const response = await fetch(`/api/conversations/${encodeURIComponent(id)}`);
      if (!response.ok) throw new Error(String(response.status));
      const { messages } = await response.json();
      if (!messages?.length) throw new Error("empty");
      if (state.conversationId || log.childElementCount) return;  // the user was quicker
      state.conversationId = id;
      for (const message of messages) {
        finish(addExchange(message.question), { ...message, message_id: message.id });
      }
      scrollDown(true);
    } catch {
      storage.clear();
    }
  }

  function newConversation() {
    state.controller?.abort();
    state.controller = null;
    state.busy = false;
    submit.disabled = false;
    log.setAttribute("aria-busy", "false");
    state.conversationId = null;
    storage.clear();
    log.replaceChildren();
    welcome.hidden = false;
    input.value = "";
    fit();
    input.focus();
    announce("Nouvelle conversation.");
  }

  // -- the widget's iframe: options from the query string, messages with the host page -----------

  function relativeLuminance(hex) {
    let digits = hex.slice(1);
    if (digits.length <= 4) digits = [...digits].map((d) => d + d).join("");
    const channel = (i) => {
      const v = parseInt(digits.slice(i, i + 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
  }

  function setUpEmbed() {
    const params = new URLSearchParams(window.location.search);
    const title = (params.get("title") || "").trim().slice(0, 80);
    const welcomeText = (params.get("welcome") || "").trim().slice(0, 400);
    const color = params.get("color") || "";
    if (title) {
      $("[data-embed-title]").textContent = title;
      document.title = title;
    }
    if (welcomeText) $("[data-embed-welcome]").textContent = welcomeText;
    if (COLOR.test(color)) {
      // CSSOM is allowed by the CSP (only style attributes in markup are blocked).
      const root = document.documentElement.style;
      const light = relativeLuminance(color) > 0.18;  // black text wins on light colours
      root.setProperty("--accent", color);
      root.setProperty("--accent-hover", color);
      root.setProperty("--accent-contrast", light ? "#161616" : "#ffffff");
      if (light) root.setProperty("--accent-text", "#161616");  // too pale to read on white
    }
    // The messages carry no data, so any parent may receive them.
    const tell = (type) => { if (window.parent !== window) window.parent.postMessage({ type }, "*"); };
    document.querySelector("[data-action='close-widget']")?.addEventListener("click", () => tell("irev-assistant:close"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !dialog.open) tell("irev-assistant:close");
    });
    window.addEventListener("message", (event) => {
      if (event.source === window.parent && event.data?.type === "irev-assistant:open") input.focus();
    });
    tell("irev-assistant:ready");
  }

  // -- wiring ------------------------------------------------------------------------------------

  // The box grows with its text (CSSOM: allowed by the CSP), up to the CSS max-height.
  const fit = () => {
    input.style.removeProperty("height");
    if (input.value) input.style.setProperty("height", `${input.scrollHeight + 2}px`);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    if (state.busy) return;
    input.value = "";
    fit();
    ask(question);
  });
  input.addEventListener("input", fit);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  for (const starter of document.querySelectorAll("[data-starter]")) {
    starter.addEventListener("click", () => {
      input.focus();
      ask(starter.textContent);
    });
  }
  for (const button of document.querySelectorAll("[data-action='new-conversation']")) {
    button.addEventListener("click", newConversation);
  }
  document.querySelector("[data-action='close-passage']").addEventListener("click", closePassage);

  if (EMBED) setUpEmbed();
  restore();
})();
