// Embeddable widget. One line on any allow-listed site:
//   <script src="https://HOST/widget.js" data-title="…" data-welcome="…" data-color="#000091"
//           data-position="right" defer></script>
// adds a floating button that opens the assistant in an iframe onto HOST/embed.
//
// Why an iframe onto our own /embed page, rather than the chat injected into the host page:
//  - the server decides who may embed it: /embed is sent with CSP `frame-ancestors 'self'
//    <IREV_WIDGET_ORIGINS>`, so the browser itself refuses the frame anywhere else;
//  - total style isolation, both ways: the host's CSS cannot reach the chat, ours cannot leak;
//  - the iframe talks to its own origin: no CORS, and no key or token ever sits in the host page.
// The button itself lives in a Shadow DOM with its own stylesheet, for the same isolation.
// Sizes are in px, not rem, so that the host's root font size changes nothing.
"use strict";

(() => {
  // document.currentScript is only set while this file first runs (defer included): read it now.
  const script = document.currentScript;
  if (!script || !script.src || window.__irevAssistantWidget) return;
  window.__irevAssistantWidget = true;

  const appOrigin = new URL(script.src, window.location.href).origin;
  const options = script.dataset;
  const title = (options.title || "").trim().slice(0, 80) || "Assistant IREV";
  const welcome = (options.welcome || "").trim().slice(0, 400);
  // Validated before it goes anywhere near a stylesheet.
  const color = /^#[0-9a-fA-F]{3,8}$/.test(options.color || "") ? options.color : "#000091";
  const side = options.position === "left" ? "left" : "right";

  /** Black or white text, whichever contrasts best with the chosen colour. */
  function textOn(hex) {
    let digits = hex.slice(1);
    if (digits.length <= 4) digits = [...digits].map((d) => d + d).join("");
    const channel = (i) => {
      const v = parseInt(digits.slice(i, i + 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    const luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    return luminance > 0.18 ? "#161616" : "#ffffff";
  }

  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, "Liberation Sans", sans-serif';
  const CSS = `
    :host { all: initial !important; }
    .launcher, .panel, .fallback, .fallback * { all: initial; box-sizing: border-box; font-family: ${FONT}; }
    .launcher {
      position: fixed; ${side}: 20px; bottom: 20px; z-index: 2147483647;
      display: inline-flex; align-items: center; gap: 8px;
      max-width: calc(100vw - 40px); min-height: 48px; padding: 10px 18px 10px 14px;
      border: 2px solid ${textOn(color) === "#ffffff" ? color : "#161616"}; border-radius: 24px;
      background: ${color}; color: ${textOn(color)};
      font-size: 16px; font-weight: 600; line-height: 1.2;
      box-shadow: 0 4px 14px rgba(0, 0, 18, 0.28); cursor: pointer;
    }
    .launcher:hover { filter: brightness(1.12); }
    .launcher:focus-visible { outline: 3px solid #0a76f6; outline-offset: 3px; box-shadow: 0 0 0 3px #ffffff; }
    .launcher svg { width: 22px; height: 22px; flex: none; fill: currentColor; }
    .label { display: block; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; max-width: 240px; }
    .panel {
      position: fixed; ${side}: 20px; bottom: 84px; z-index: 2147483646;
      display: flex; flex-direction: column;
      width: min(400px, calc(100vw - 40px)); height: min(640px, calc(100vh - 108px));
      border: 1px solid #dddddd; border-radius: 12px; overflow: hidden;
      background: #ffffff; box-shadow: 0 8px 28px rgba(0, 0, 18, 0.3);
    }
    .panel[hidden], .fallback[hidden], iframe[hidden] { display: none; }
    .panel.refused { height: auto; }
    iframe { display: block; flex: 1; width: 100%; height: 100%; border: 0; background: #ffffff; }
    .fallback { display: block; padding: 20px; color: #161616; font-size: 16px; line-height: 1.5; }
    .fallback p { display: block; margin: 0 0 12px; }
    .fallback strong { display: block; margin: 0 0 8px; font-weight: 700; font-size: 17px; }
    .fallback a { color: #000091; text-decoration: underline; cursor: pointer; }
    .fallback button {
      display: inline-block; margin-top: 4px; padding: 8px 14px; border: 1px solid #000091;
      border-radius: 4px; color: #000091; background: #ffffff; font-size: 15px; cursor: pointer;
    }
    .fallback a:focus-visible, .fallback button:focus-visible { outline: 2px solid #0a76f6; outline-offset: 2px; }
    @media (max-width: 480px) {
      .panel { ${side}: 0; bottom: 0; width: 100vw; height: 100%; border: 0; border-radius: 0; }
      .panel:not([hidden]) ~ .launcher { display: none; }
    }
  `;

  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {  // Material Icons paths (Apache-2.0): chat bubble, close
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2zM6 9h12v2H6V9zm8 5H6v-2h8v2zm4-6H6V6h12v2z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
  };

  function icon(name) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function h(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function addStyles(root) {
    try {  // a constructed stylesheet: nothing added to the host page's DOM
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(h("style", { text: CSS }));
    }
  }

  function mount() {
    const host = h("div", { "data-irev-assistant": "" });
    const root = host.attachShadow({ mode: "open" });
    addStyles(root);

    const panel = h("div", { class: "panel", id: "irev-panel", role: "region", "aria-label": title });
    panel.hidden = true;
    const label = h("span", { class: "label", text: title });
    const launcher = h("button", {
      type: "button", class: "launcher", "aria-label": title,
      "aria-expanded": "false", "aria-controls": "irev-panel",
    }, icon("chat"), label);
    root.append(panel, launcher);
    document.body.append(host);

    let frame = null;
    let ready = false;
    let watchdog = 0;

    function showFallback() {
      if (ready || !frame) return;
      frame.hidden = true;
      panel.classList.add("refused");
      const close = h("button", { type: "button", text: "Fermer" });
      close.addEventListener("click", () => toggle(false));
      const link = h("a", { href: `${appOrigin}/`, target: "_blank", rel: "noopener",
        text: "Ouvrir l'assistant dans un nouvel onglet" });
      panel.append(h("div", { class: "fallback", role: "alert" },
        h("strong", { text: "L'assistant ne peut pas s'afficher ici." }),
        h("p", { text: "Ce site n'est pas autorisé à intégrer l'assistant documentaire, ou le "
          + "service est momentanément indisponible." }),
        h("p", {}, link), close));
    }

    function createFrame() {
      const query = new URLSearchParams({ title, color });
      if (welcome) query.set("welcome", welcome);
      frame = h("iframe", {
        src: `${appOrigin}/embed?${query}`,
        title: `${title} : fenêtre de discussion`,
        // Cross-origin already; the sandbox also forbids navigating the host page.
        sandbox: "allow-scripts allow-same-origin allow-forms allow-popups "
          + "allow-popups-to-escape-sandbox",
      });
      // A frame refused by frame-ancestors still fires `load` but never says it is ready.
      frame.addEventListener("load", () => {
        window.clearTimeout(watchdog);
        watchdog = window.setTimeout(showFallback, 4000);
      });
      watchdog = window.setTimeout(showFallback, 20000);
      panel.append(frame);
    }

    function focusChat() {
      if (!frame || !ready) return;
      frame.focus();
      frame.contentWindow.postMessage({ type: "irev-assistant:open" }, appOrigin);
    }

    function toggle(open) {
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      launcher.replaceChildren(icon(open ? "close" : "chat"), label);
      if (open) {
        if (!frame) createFrame();
        focusChat();
        const fallbackButton = panel.querySelector(".fallback button");
        if (fallbackButton) fallbackButton.focus();
      } else {
        launcher.focus();
      }
    }

    launcher.addEventListener("click", () => toggle(panel.hidden));
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panel.hidden) toggle(false);
    });
    window.addEventListener("message", (event) => {
      if (!frame || event.origin !== appOrigin || event.source !== frame.contentWindow) return;
      const type = event.data && event.data.type;
      if (type === "irev-assistant:ready") {
        ready = true;
        window.clearTimeout(watchdog);
        if (!panel.hidden) focusChat();
      } else if (type === "irev-assistant:close" && !panel.hidden) {
        toggle(false);
      }
    });
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
