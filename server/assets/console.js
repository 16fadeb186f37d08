// Gatehouse console: live updates on top of plain server-rendered pages. Everything works
// without this script (reload the page); with it, an element such as
//   <div id="live" data-stream="/alarms/stream" data-refresh="alarm-list"></div>
// opens that Server-Sent Events stream and, on each event, re-reads this page and swaps
// in the fresh copy of the element named by data-refresh. New alarms are announced to
// screen readers (#announce, aria-live) and with a short tone. A section marked
// data-poll="1000" (a job in progress) is re-read every that many milliseconds until
// the server sends it without the mark (the job ended); without the script, the page
// offers a link to see the progress.
"use strict";

(function () {
  function poll() {
    var section = document.querySelector("[data-poll][id]");
    if (!section) { return; }
    var every = parseInt(section.getAttribute("data-poll"), 10) || 1000;
    window.setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
          if (!fresh) { return; }
          section.replaceWith(fresh);
          poll();
        })
        .catch(function () { poll(); });
    }, every);
  }
  poll();
})();

(function () {
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var target = live.getAttribute("data-refresh");
  var announce = document.getElementById("announce");
  var pending = false;
  var timer = null;

  // Coalesces a burst of events (a stream sends every door when it connects) into one
  // re-read, at most 150 ms after the first.
  function refresh() {
    if (timer === null) { timer = window.setTimeout(function () { timer = null; reread(); }, 150); }
  }

  function reread() {
    if (pending) { refresh(); return; }
    pending = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) { window.location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        pending = false;
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(target);
        var old = document.getElementById(target);
        if (!fresh || !old) { return; }
        swap(old, fresh);
        document.dispatchEvent(new CustomEvent("gatehouse:refreshed"));
      })
      .catch(function () { pending = false; });
  }

  // Replaces the element with its fresh copy, keeping what the user is in the middle of:
  // opened <details>, values typed into fields, and the focus (all found by id).
  function swap(old, fresh) {
    var open = [];
    old.querySelectorAll("details[open][id]").forEach(function (d) { open.push(d.id); });
    var typed = {};
    old.querySelectorAll("input[id], select[id], textarea[id]").forEach(function (f) {
      var edited = f.tagName === "SELECT"
        ? Array.prototype.some.call(f.options, function (o) { return o.selected !== o.defaultSelected; })
        : f.value !== f.defaultValue;
      if (edited) { typed[f.id] = f.value; }
    });
    var active = document.activeElement;
    var focused = active && old.contains(active) ? active.id : null;
    old.replaceWith(fresh);
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    });
    Object.keys(typed).forEach(function (id) {
      var f = document.getElementById(id);
      if (f) { f.value = typed[id]; }
    });
    if (focused) {
      var again = document.getElementById(focused);
      if (again) { again.focus(); }
    }
  }

  function tone() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no sound available */ }
  }

  function say(text) {
    if (announce) { announce.textContent = text; }
  }

  var source = new EventSource(live.getAttribute("data-stream"));
  source.addEventListener("alarm", function (e) {
    var alarm = {};
    try { alarm = JSON.parse(e.data); } catch (err) { /* keep going */ }
    say("New alarm: " + (alarm.kind_label || alarm.kind || "alarm"));
    tone();
    refresh();
  });
  ["ack", "door", "door_removed"].forEach(function (name) {
    source.addEventListener(name, refresh);
  });
  source.addEventListener("open", function () { live.setAttribute("data-connected", "true"); });
  source.addEventListener("error", function () { live.removeAttribute("data-connected"); });
})();
