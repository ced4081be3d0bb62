/* Interactive RFM views of the ML dashboard: a 2-D segment scatter (SVG) and a 3-D RFM cloud (canvas).
 *
 * Our own small renderer (no chart library, no CDN): hover shows the customer, the wheel zooms, a drag
 * pans (2-D) or rotates (3-D), double-click resets, the legend's check boxes toggle segments. Each view
 * reads GET /api/ml/dashboard/segment-points/ and replaces its fallback; without JavaScript the
 * <noscript> PNG of the same panel is shown instead. Tests drive the views through element.mlView.
 */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
  var W = 560, H = 380, M = {left: 56, right: 12, top: 10, bottom: 40};

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function html(tag, className, parent, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function num(v, digits) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits); }

  function colours(segments) {
    var map = {};
    segments.forEach(function (s, i) { map[s.name] = PALETTE[i % PALETTE.length]; });
    return map;
  }

  // The legend: one check box per segment; `onChange(hiddenNames)` after every toggle.
  function legend(root, segments, colour, onChange) {
    var box = html("div", "ml-legend", root), hidden = {};
    segments.forEach(function (s) {
      var label = html("label", "ml-legend-item", box);
      var input = html("input", "", label);
      input.type = "checkbox";
      input.checked = true;
      input.dataset.segment = s.name;
      var swatch = html("span", "ml-swatch", label);
      swatch.style.background = colour[s.name];
      html("span", "", label, " " + s.name + " (" + s.size + ")");
      input.addEventListener("change", function () {
        if (input.checked) { delete hidden[s.name]; } else { hidden[s.name] = true; }
        onChange(hidden);
      });
    });
    return hidden;
  }

  function tooltip(root, T) {
    var tip = html("div", "ml-tooltip", root);
    tip.hidden = true;
    return {
      node: tip,
      show: function (p, x, y) {
        tip.innerHTML = "";
        html("strong", "", tip, p.customer_id);
        html("div", "", tip, T.segment + ": " + p.cluster_name);
        html("div", "", tip, T.recency + ": " + num(p.recency_days, 0) + " · " + T.frequency + ": " + p.frequency +
             " · " + T.monetary + ": " + num(p.monetary, 2));
        if (p.clv !== null && p.clv !== undefined) { html("div", "", tip, "CLV: " + num(p.clv, 2)); }
        tip.style.left = (x + 14) + "px";
        tip.style.top = (y + 10) + "px";
        tip.hidden = false;
        tip.dataset.customer = p.customer_id;
      },
      hide: function () { tip.hidden = true; tip.dataset.customer = ""; }
    };
  }

  // The event's position in drawing units (x, y: the 560 x 380 viewBox / canvas) and in CSS pixels.
  function mouse(event, node) {
    var r = node.getBoundingClientRect();
    return {x: (event.clientX - r.left) * W / r.width, y: (event.clientY - r.top) * H / r.height,
            px: event.clientX - r.left, py: event.clientY - r.top};
  }
  var clipCount = 0;

  // --- 2-D: recency (days) x monetary (log scale), one circle per customer ------------------------------
  function scatter2d(root, data, T) {
    var pts = data.points, colour = colours(data.segments);
    var fx = function (p) { return p.recency_days; };
    var fy = function (p) { return Math.log10(1 + Math.max(0, p.monetary)); };
    var full = {x0: 0, x1: Math.max.apply(null, pts.map(fx).concat([1])) * 1.02,
                y0: 0, y1: Math.max.apply(null, pts.map(fy).concat([1])) * 1.05};
    var d = Object.assign({}, full), hidden = {};
    var chart = svg("svg", {viewBox: "0 0 " + W + " " + H, class: "ml-svg", role: "img", "aria-label": T.title2d});
    root.appendChild(chart);
    var clipId = "ml-clip-" + (++clipCount);
    svg("clipPath", {id: clipId}, chart).appendChild(
      svg("rect", {x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom}));
    var axes = svg("g", {class: "ml-axes"}, chart);
    var layer = svg("g", {"clip-path": "url(#" + clipId + ")"}, chart);
    var tip = tooltip(root, T);
    var sx = function (v) { return M.left + (v - d.x0) / (d.x1 - d.x0) * (W - M.left - M.right); };
    var sy = function (v) { return H - M.bottom - (v - d.y0) / (d.y1 - d.y0) * (H - M.top - M.bottom); };
    var circles = pts.map(function (p, i) {
      var c = svg("circle", {r: 3.5, fill: colour[p.cluster_name], "fill-opacity": 0.7, "data-i": i,
                             "data-segment": p.cluster_name}, layer);
      c.addEventListener("mouseenter", function (e) { var m = mouse(e, chart); tip.show(p, m.px, m.py); });
      c.addEventListener("mouseleave", tip.hide);
      return c;
    });

    function ticks(a, b) {
      var out = [], step = (b - a) / 5;
      for (var k = 0; k <= 5; k++) { out.push(a + k * step); }
      return out;
    }
    function render() {
      circles.forEach(function (c, i) {
        c.setAttribute("cx", sx(fx(pts[i]))); c.setAttribute("cy", sy(fy(pts[i])));
        c.style.display = hidden[pts[i].cluster_name] ? "none" : "";
      });
      axes.innerHTML = "";
      svg("line", {x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, stroke: "#888"}, axes);
      svg("line", {x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, stroke: "#888"}, axes);
      ticks(d.x0, d.x1).forEach(function (v) {
        svg("text", {x: sx(v), y: H - M.bottom + 14, "text-anchor": "middle", class: "ml-tick"}, axes).textContent = v.toFixed(0);
      });
      ticks(d.y0, d.y1).forEach(function (v) {
        svg("text", {x: M.left - 4, y: sy(v) + 4, "text-anchor": "end", class: "ml-tick"}, axes).textContent =
          (Math.pow(10, v) - 1).toFixed(0);
      });
      svg("text", {x: (W + M.left) / 2, y: H - 6, "text-anchor": "middle", class: "ml-axis-label"}, axes).textContent = T.recency_axis;
      svg("text", {x: 12, y: (H - M.bottom) / 2, transform: "rotate(-90 12 " + (H - M.bottom) / 2 + ")",
                   "text-anchor": "middle", class: "ml-axis-label"}, axes).textContent = T.monetary_axis;
      root.dataset.domain = [d.x0, d.x1, d.y0, d.y1].map(function (v) { return v.toFixed(3); }).join(",");
    }
    function zoom(factor, cx, cy) {  // factor < 1 zooms in, around the data point (cx, cy)
      d = {x0: cx - (cx - d.x0) * factor, x1: cx + (d.x1 - cx) * factor,
           y0: cy - (cy - d.y0) * factor, y1: cy + (d.y1 - cy) * factor};
      render();
    }
    function toData(m) {
      return {x: d.x0 + (m.x - M.left) / (W - M.left - M.right) * (d.x1 - d.x0),
              y: d.y0 + (H - M.bottom - m.y) / (H - M.top - M.bottom) * (d.y1 - d.y0)};
    }
    chart.addEventListener("wheel", function (e) {
      e.preventDefault();
      var p = toData(mouse(e, chart));
      zoom(e.deltaY < 0 ? 0.8 : 1.25, p.x, p.y);
    }, {passive: false});
    var drag = null;
    chart.addEventListener("mousedown", function (e) { drag = mouse(e, chart); });
    window.addEventListener("mouseup", function () { drag = null; });
    chart.addEventListener("mousemove", function (e) {
      if (!drag) { return; }
      var m = mouse(e, chart), a = toData(drag), b = toData(m);
      d = {x0: d.x0 - (b.x - a.x), x1: d.x1 - (b.x - a.x), y0: d.y0 - (b.y - a.y), y1: d.y1 - (b.y - a.y)};
      drag = m;
      render();
    });
    function reset() { d = Object.assign({}, full); render(); }
    chart.addEventListener("dblclick", reset);
    legend(root, data.segments, colour, function (h) { hidden = h; render(); });
    render();
    return {
      zoom: zoom, reset: reset, domain: function () { return Object.assign({}, d); },
      visibleCount: function () { return circles.filter(function (c) { return c.style.display !== "none"; }).length; }
    };
  }

  // --- 3-D: recency x log frequency x log monetary, orthographic, drag to rotate ----------------------
  function scatter3d(root, data, T) {
    var pts = data.points, colour = colours(data.segments), hidden = {};
    var canvas = html("canvas", "ml-canvas", root);
    canvas.width = W; canvas.height = H;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", T.title3d);
    var ctx = canvas.getContext("2d"), tip = tooltip(root, T);
    var max = function (f) { return Math.max.apply(null, pts.map(f).concat([1e-9])); };
    var fr = function (p) { return p.recency_days; }, ff = function (p) { return Math.log1p(p.frequency); };
    var fm = function (p) { return Math.log1p(Math.max(0, p.monetary)); };
    var mr = max(fr), mf = max(ff), mm = max(fm);
    var xyz = pts.map(function (p) { return [fr(p) / mr - 0.5, ff(p) / mf - 0.5, fm(p) / mm - 0.5]; });
    var view = {yaw: -0.7, pitch: 0.35, zoom: 1};
    var INITIAL = Object.assign({}, view);
    var screen = [];

    function project(v) {
      var cy = Math.cos(view.yaw), sy = Math.sin(view.yaw), cp = Math.cos(view.pitch), sp = Math.sin(view.pitch);
      var x = v[0] * cy - v[2] * sy, z = v[0] * sy + v[2] * cy;
      var y = v[1] * cp - z * sp, depth = v[1] * sp + z * cp;
      var s = Math.min(W, H) * 0.62 * view.zoom;
      return {x: W / 2 + x * s, y: H / 2 - y * s, depth: depth};
    }
    function draw() {
      ctx.clearRect(0, 0, W, H);
      ctx.font = "12px sans-serif";
      [[T.recency, [0.5, -0.5, -0.5]], [T.frequency, [-0.5, 0.5, -0.5]], [T.monetary, [-0.5, -0.5, 0.5]]].forEach(function (a) {
        var o = project([-0.5, -0.5, -0.5]), e = project(a[1]);
        ctx.strokeStyle = "#888"; ctx.beginPath(); ctx.moveTo(o.x, o.y); ctx.lineTo(e.x, e.y); ctx.stroke();
        ctx.fillStyle = "#444"; ctx.fillText(a[0], e.x + 4, e.y);
      });
      screen = xyz.map(function (v, i) { var p = project(v); p.i = i; return p; });
      var order = screen.filter(function (p) { return !hidden[pts[p.i].cluster_name]; })
        .sort(function (a, b) { return a.depth - b.depth; });
      order.forEach(function (p) {
        ctx.globalAlpha = 0.75;
        ctx.fillStyle = colour[pts[p.i].cluster_name];
        ctx.beginPath(); ctx.arc(p.x, p.y, 3 + p.depth, 0, 2 * Math.PI); ctx.fill();
      });
      ctx.globalAlpha = 1;
      root.dataset.view = [view.yaw, view.pitch, view.zoom].map(function (v) { return v.toFixed(3); }).join(",");
      root.dataset.drawn = String(order.length);
    }
    function nearest(x, y) {
      var best = null, bestD = 49;  // within 7 px
      screen.forEach(function (p) {
        if (hidden[pts[p.i].cluster_name]) { return; }
        var dd = (p.x - x) * (p.x - x) + (p.y - y) * (p.y - y);
        if (dd < bestD) { bestD = dd; best = p; }
      });
      return best;
    }
    var drag = null;
    canvas.addEventListener("mousedown", function (e) { drag = mouse(e, canvas); });
    window.addEventListener("mouseup", function () { drag = null; });
    canvas.addEventListener("mousemove", function (e) {
      var m = mouse(e, canvas);
      if (drag) {
        view.yaw += (m.x - drag.x) * 0.01;
        view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch + (m.y - drag.y) * 0.01));
        drag = m; tip.hide(); draw(); return;
      }
      var hit = nearest(m.x, m.y);
      if (hit) { tip.show(pts[hit.i], m.px, m.py); } else { tip.hide(); }
    });
    canvas.addEventListener("mouseleave", tip.hide);
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      view.zoom = Math.max(0.3, Math.min(8, view.zoom * (e.deltaY < 0 ? 1.2 : 1 / 1.2)));
      draw();
    }, {passive: false});
    canvas.addEventListener("dblclick", function () { view = Object.assign({}, INITIAL); draw(); });
    legend(root, data.segments, colour, function (h) { hidden = h; draw(); });
    draw();
    return {
      rotate: function (dyaw, dpitch) { view.yaw += dyaw; view.pitch += dpitch; draw(); },
      // where point i is drawn, in CSS pixels relative to the canvas (tests hover there)
      screenPosition: function (i) {
        var p = project(xyz[i]), r = canvas.getBoundingClientRect();
        return {x: p.x * r.width / W, y: p.y * r.height / H};
      },
      state: function () { return Object.assign({}, view); },
      drawn: function () { return Number(root.dataset.drawn); }
    };
  }

  function start(root) {
    var T = JSON.parse(root.dataset.messages);
    fetch(root.dataset.url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (res) { return res.json().then(function (body) { return {ok: res.ok, body: body}; }); })
      .then(function (r) {
        var body = root.querySelector(".ml-interactive-body");
        body.innerHTML = "";
        if (!r.ok || !r.body.points || !r.body.points.length) {
          html("p", "ml-note", body, (r.body && r.body.error && r.body.error.message) || T.empty);
          root.dataset.state = "unavailable";
          return;
        }
        if (r.body.sampled) {
          html("p", "ml-note", body, T.sampled.replace("%(shown)s", r.body.points.length)
            .replace("%(total)s", r.body.n_customers));
        }
        root.mlView = (root.dataset.kind === "3d" ? scatter3d : scatter2d)(body, r.body, T);
        root.dataset.state = "ready";
      })
      .catch(function (err) { root.dataset.state = "error"; root.dataset.error = String(err); });
  }

  document.querySelectorAll(".ml-interactive").forEach(start);
})();
