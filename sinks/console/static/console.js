// Aetherius console: the live parts of server-rendered pages. No inline script anywhere (the CSP forbids it).
// A page element with data-live="<url>" opens one EventSource. The server sends HTML it rendered (and escaped):
//   upsert {id, html, into, at}  replace the element with that id, or insert the fragment into #into (at: start|end)
//   remove {id}                  the element leaves (a task that no longer matches the filters)
//   reload                       the server's change log no longer reaches back: load the page again
// EventSource reconnects by itself and sends Last-Event-ID, so the server resumes where the stream broke.
(function () {
  "use strict";

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;  // a <template> runs no script and loads nothing
    return t.content;
  }

  function upsert(msg) {
    var frag = fragment(msg.html);
    var nodes = Array.prototype.slice.call(frag.children);
    var anchor = null;
    nodes.forEach(function (node) {
      var existing = node.id ? document.getElementById(node.id) : null;
      if (existing) {
        if (!existing.hasAttribute("data-keep")) { existing.replaceWith(node); }
        anchor = node.id && document.getElementById(node.id);
        return;
      }
      var into = document.getElementById(msg.into);
      if (!into) { return; }
      if (anchor && anchor.parentNode === into) { anchor.after(node); }
      else if (msg.at === "start") { into.prepend(node); }
      else { into.append(node); }
      anchor = node;
      if (window.htmx) { window.htmx.process(node); }
    });
    if (window.htmx) { nodes.forEach(function (n) { if (n.isConnected) { window.htmx.process(n); } }); }
    var empty = document.querySelector("[id^=no-]");
    if (empty && msg.into) { empty.remove(); }
    counts();
  }

  function counts() {  // "N shown": the rows the page holds now
    document.querySelectorAll("[data-row-count]").forEach(function (el) {
      var rows = document.getElementById(el.getAttribute("data-row-count"));
      if (rows) { el.textContent = String(rows.children.length); }
    });
  }

  function remove(msg) {
    var el = document.getElementById(msg.id);
    if (el) { el.remove(); }
    counts();
  }

  function status(text, state) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = text;
      el.setAttribute("data-state", state);
    });
  }

  function connect(url) {
    var source = new EventSource(url);
    source.onopen = function () { status("live", "open"); };
    source.onerror = function () { status("reconnecting…", "error"); };
    source.addEventListener("upsert", function (e) { upsert(JSON.parse(e.data)); });
    source.addEventListener("remove", function (e) { remove(JSON.parse(e.data)); });
    source.addEventListener("reload", function () { source.close(); window.location.reload(); });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function ages() {
    var now = Date.now();
    document.querySelectorAll("time[data-age]").forEach(function (el) {
      var s = Math.max(0, Math.round((now - Date.parse(el.getAttribute("datetime"))) / 1000));
      el.textContent = s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m" : s < 86400 ?
        Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m" : Math.floor(s / 86400) + "d";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-live]");
    if (live) { connect(live.getAttribute("data-live")); }
    ages();
    setInterval(ages, 10000);
  });
})();
