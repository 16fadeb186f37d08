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

/* ---- documents: a drawn signature (issue 13) ----
   Each [data-signature-pad] on the desk's documents page becomes a canvas; the strokes
   drawn go, as JSON points in a 1000 × 400 box, into the hidden input the attribute
   names. Without JavaScript the pad stays hidden and the typed name signs. */
(function () {
  var pads = document.querySelectorAll("[data-signature-pad]");
  Array.prototype.forEach.call(pads, function (pad) {
    var field = document.getElementById(pad.getAttribute("data-signature-pad"));
    if (!field) { return; }
    var label = document.createElement("p");
    label.textContent = "Or draw the signature here:";
    var canvas = document.createElement("canvas");
    canvas.width = 1000;
    canvas.height = 400;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Signature drawing area");
    var clear = document.createElement("button");
    clear.type = "button";
    clear.className = "secondary";
    clear.textContent = "Clear drawing";
    pad.appendChild(label);
    pad.appendChild(canvas);
    pad.appendChild(clear);
    pad.hidden = false;
    var ctx = canvas.getContext("2d");
    ctx.lineWidth = 4;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    var strokes = [];
    var current = null;
    var points = 0;
    function point(e) {
      var box = canvas.getBoundingClientRect();
      var x = (e.clientX - box.left) * 1000 / box.width;
      var y = (e.clientY - box.top) * 400 / box.height;
      return [Math.round(Math.min(1000, Math.max(0, x))), Math.round(Math.min(400, Math.max(0, y)))];
    }
    function save() { field.value = strokes.length ? JSON.stringify(strokes) : ""; }
    canvas.addEventListener("pointerdown", function (e) {
      if (strokes.length >= 100 || points >= 5000) { return; }
      canvas.setPointerCapture(e.pointerId);
      var p = point(e);
      current = [p];
      strokes.push(current);
      points += 1;
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!current || points >= 5000) { return; }
      var p = point(e);
      var last = current[current.length - 1];
      if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) < 3) { return; }
      current.push(p);
      points += 1;
      ctx.beginPath();
      ctx.moveTo(last[0], last[1]);
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
    });
    function end() { if (current) { current = null; save(); } }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    clear.addEventListener("click", function () {
      strokes = [];
      points = 0;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      save();
    });
  });
})();
