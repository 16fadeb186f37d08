// Gatehouse console: live updates on top of plain server-rendered pages. Everything works
// without this script (reload the page); with it, an element such as
//   <div id="live" data-stream="/alarms/stream" data-refresh="alarm-list"></div>
// opens that Server-Sent Events stream and, on each event, re-reads this page and swaps
// in the fresh copy of the element named by data-refresh. New alarms are announced to
// screen readers (#announce, aria-live) and with a short tone.
"use strict";

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
        // Keep what the user is typing (e.g. an acknowledgement note) when nothing changed.
        var active = document.activeElement;
        if (active && old.contains(active) && active.id && fresh.querySelector("#" + CSS.escape(active.id))) {
          var value = active.value;
          old.replaceWith(fresh);
          var again = document.getElementById(active.id);
          if (again) { again.value = value; again.focus(); }
        } else {
          old.replaceWith(fresh);
        }
        document.dispatchEvent(new CustomEvent("gatehouse:refreshed"));
      })
      .catch(function () { pending = false; });
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
  live.setAttribute("data-connected", "true");
})();
