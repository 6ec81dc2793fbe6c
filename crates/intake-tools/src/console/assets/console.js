// The overview's live part: every 2 s, GET /api/overview and redraw the readiness list,
// the latency and the two plots (hand-drawn SVG). Other pages have nothing for it to do.
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var W = 400, H = 160, LEFT = 34, RIGHT = 6, TOP = 8, BOTTOM = 20;
  var WINDOW_MS = 15 * 60 * 1000;

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= value) return steps[i] * power;
    return 10 * power;
  }

  // series: [{values: [number|null], cls}], times: [ms]
  function draw(svg, times, series) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var now = times.length ? times[times.length - 1] : Date.now();
    var start = now - WINDOW_MS;
    var max = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && v > max) max = v; });
    });
    max = niceMax(max);
    var x = function (t) { return LEFT + (W - LEFT - RIGHT) * (t - start) / WINDOW_MS; };
    var y = function (v) { return TOP + (H - TOP - BOTTOM) * (1 - v / max); };
    svg.appendChild(el("line", { x1: LEFT, y1: y(0), x2: W - RIGHT, y2: y(0), "class": "axis" }));
    svg.appendChild(el("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: y(0), "class": "axis" }));
    svg.appendChild(el("text", { x: LEFT - 4, y: TOP + 10, "text-anchor": "end" }, String(max)));
    svg.appendChild(el("text", { x: LEFT - 4, y: y(0), "text-anchor": "end" }, "0"));
    svg.appendChild(el("text", { x: LEFT, y: H - 6 }, "−15 min"));
    svg.appendChild(el("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end" }, "now"));
    series.forEach(function (s) {
      var points = [];
      s.values.forEach(function (v, i) {
        if (v !== null && times[i] >= start) points.push(x(times[i]).toFixed(1) + "," + y(v).toFixed(1));
      });
      if (points.length) svg.appendChild(el("polyline", { points: points.join(" "), "class": s.cls }));
    });
  }

  function readiness(data) {
    var list = document.getElementById("readiness");
    if (!list) return;
    Object.keys(data).forEach(function (name) {
      var item = list.querySelector('li[data-service="' + name + '"]');
      if (!item) return;
      var r = data[name];
      item.className = r.ready ? "ready" : "not-ready";
      item.querySelector(".state").textContent = r.ready ? "ready" : "not ready";
      var reason = item.querySelector(".reason");
      if (!reason) {
        reason = document.createElement("span");
        reason.className = "reason";
        item.appendChild(document.createTextNode(" "));
        item.appendChild(reason);
      }
      reason.textContent = r.reason ? "(" + r.reason + ")" : "";
    });
  }

  function ms(value) { return value === null || value === undefined ? "–" : value.toFixed(1) + " ms"; }

  function update(data) {
    readiness(data.readiness);
    document.getElementById("latency-p50").textContent = ms(data.latency.p50_ms);
    document.getElementById("latency-p99").textContent = ms(data.latency.p99_ms);
    var times = data.samples.map(function (s) { return s.at_ms; });
    var pick = function (key) { return data.samples.map(function (s) { return s[key]; }); };
    draw(document.getElementById("plot-rates"), times, [
      { values: pick("accepted_per_s"), cls: "series-0" },
      { values: pick("stored_per_s"), cls: "series-1" },
      { values: pick("dead_lettered_per_s"), cls: "series-2" }
    ]);
    var partitions = data.queues.length;
    var depth = [];
    for (var p = 0; p < partitions; p++) {
      depth.push({
        values: data.samples.map(function (s) { return s.depth[p] === undefined ? null : s.depth[p]; }),
        cls: "series-" + (p % 8)
      });
    }
    draw(document.getElementById("plot-depth"), times, depth);
  }

  function poll() {
    fetch("/api/overview", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.href = "/login?next=%2F"; return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) { if (data) update(data); })
      .catch(function () { /* the next tick tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("plot-rates")) return;
    poll();
    window.setInterval(poll, 2000);
  });
})();
