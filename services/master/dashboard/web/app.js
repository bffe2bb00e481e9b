// Warren's dashboard: loads /api/state, then follows /api/events (server-sent events) and redraws on every
// update. Plain DOM and SVG, nothing fetched from anywhere but the master that serves this page.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // The page calls the master unreachable when the stream has been silent this long: the master pings every 5 s.
  const SILENCE_MS = 15000;

  const model = {
    seq: -1,
    state: null,
    history: {},   // pool → [{at (ms), lambda, backlog, ready, in_flight, current, desired, capacity}]
    decisions: {}, // pool → [decision], oldest first
    keepMs: 10 * 60 * 1000,
    skew: 0,       // server clock minus this browser's, so ages are the master's
  };
  let reachable = false;
  let lost = false; // whether the stream was ever lost: the banner waits for a real failure, not the first connect
  let lastMessage = 0;
  let source = null;
  let loading = null;
  let deltas = 0; // updates applied from the stream: a test hook proving the page follows it without reloading

  // ---- time and numbers ----

  // parseTime reads an RFC 3339 time with any number of fractional digits; a zero Go time counts as none.
  function parseTime(s) {
    if (!s || s.startsWith("0001-01-01")) return null;
    const t = Date.parse(s.replace(/(\.\d{3})\d+/, "$1"));
    return Number.isFinite(t) ? t : null;
  }
  const serverNow = () => Date.now() + model.skew;

  function ago(ms) {
    if (ms == null) return "never";
    const s = Math.max(0, Math.round((serverNow() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s ago";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
  }
  function duration(sec) {
    if (!Number.isFinite(sec)) return "—";
    if (sec < 1) return (sec * 1000).toFixed(0) + " ms";
    if (sec < 90) return sec.toFixed(sec < 10 ? 1 : 0) + " s";
    return (sec / 60).toFixed(1) + " min";
  }
  function clock(ms) {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function num(v, digits) {
    if (v == null || !Number.isFinite(v)) return "—";
    const a = Math.abs(v);
    if (digits === undefined) digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    return v.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  // ---- DOM helpers ----

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  const $ = (id) => document.getElementById(id);

  // ---- data ----

  function toPoint(p) {
    return { ...p, at: parseTime(p.at) };
  }

  function applySnapshot(s) {
    model.seq = s.seq;
    model.state = s.state;
    model.keepMs = (s.keep_s || 600) * 1000;
    const now = parseTime(s.now);
    if (now != null) model.skew = now - Date.now();
    model.history = {};
    for (const [pool, pts] of Object.entries(s.history || {})) {
      model.history[pool] = (pts || []).map(toPoint).filter((p) => p.at != null);
    }
    model.decisions = s.decisions || {};
    render();
  }

  function applyDelta(d) {
    model.seq = d.seq;
    model.state = d.state;
    const now = parseTime(d.now);
    if (now != null) model.skew = now - Date.now();
    for (const [pool, p] of Object.entries(d.points || {})) {
      const pt = toPoint(p);
      const h = (model.history[pool] = model.history[pool] || []);
      if (pt.at != null && (h.length === 0 || pt.at > h[h.length - 1].at)) h.push(pt);
    }
    for (const [pool, list] of Object.entries(d.decisions || {})) model.decisions[pool] = list || [];
    deltas++;
    trim();
    render();
  }

  function trim() {
    const cutoff = serverNow() - model.keepMs;
    for (const h of Object.values(model.history)) {
      let i = 0;
      while (i < h.length && h[i].at < cutoff) i++;
      if (i > 0) h.splice(0, i);
    }
  }

  // ---- connection ----

  function setReachable(ok) {
    reachable = ok;
    if (!ok) lost = true;
    render();
  }

  function load() {
    if (loading) return loading;
    loading = fetch("api/state", { cache: "no-store" })
      .then((r) => {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then((s) => {
        // A snapshot older than an update already applied is stale; after a reconnect seq is -1 and any goes.
        if (s.seq >= model.seq) applySnapshot(s);
      })
      .catch(() => setReachable(false))
      .finally(() => { loading = null; });
    return loading;
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("api/events");
    lastMessage = Date.now();
    source.addEventListener("hello", () => {
      lastMessage = Date.now();
      // A new stream may come from a restarted master, whose seq starts again: resynchronise from scratch.
      model.seq = -1;
      reachable = true;
      load();
    });
    source.addEventListener("update", (ev) => {
      lastMessage = Date.now();
      reachable = true;
      let d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      if (model.seq >= 0 && d.seq === model.seq + 1) applyDelta(d);
      else if (d.seq > model.seq) load(); // missed an update (the stream coalesces for slow pages)
    });
    source.addEventListener("ping", () => {
      lastMessage = Date.now();
      if (!reachable) setReachable(true);
    });
    source.onerror = () => {
      // EventSource retries by itself while readyState is CONNECTING; a CLOSED one gave up and is replaced.
      setReachable(false);
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  function watchdog() {
    if (Date.now() - lastMessage > SILENCE_MS) {
      // The connection looks open but the master says nothing: it is gone (or the network in between is).
      setReachable(false);
      connect();
    }
  }

  // ---- rendering ----

  function render() {
    document.body.dataset.seq = String(model.seq);
    document.body.dataset.updates = String(deltas);
    const st = model.state;
    $("banner-waiting").hidden = st != null;
    $("banner-unreachable").hidden = reachable || !lost;

    const stream = $("stream-status");
    stream.dataset.live = String(reachable);
    stream.textContent = reachable ? "live" : lost ? "master unreachable" : "connecting…";

    const broker = $("broker-status");
    const brokerBanner = $("banner-broker");
    const standby = $("banner-standby");
    const leading = $("leading");
    if (st) {
      $("master-name").textContent = "master " + (st.master || "?");
      const b = st.broker || {};
      broker.dataset.connected = String(!!b.connected);
      broker.textContent = b.connected ? "broker connected" : "broker down";
      brokerBanner.hidden = !!b.connected;
      if (!b.connected) {
        const since = parseTime(b.since);
        brokerBanner.replaceChildren(
          el("strong", {}, "Broker down"),
          since != null ? " since " + clock(since) + " (" + ago(since) + ")" : "",
          b.error ? ": " + b.error : "",
          ". The master keeps retrying" +
            (Object.values(model.history).some((h) => h.length) ? "; the numbers below are as they were last seen." : "."),
        );
      }
      // Without the broker nobody can tell who leads: only a connected master that does not lead is a standby.
      const isStandby = !!b.connected && !st.leading;
      leading.dataset.leading = String(!!st.leading);
      leading.textContent = st.leading ? "leading" : isStandby ? "standby" : "not leading";
      standby.hidden = !isStandby;
      if (isStandby) {
        standby.replaceChildren(el("strong", {}, "Standby: another master leads."),
          " This master neither counts arrivals nor touches workers; it takes over if the leader goes away.");
      }
      const at = parseTime(st.at);
      $("updated").textContent = at != null ? "state of " + clock(at) + " (" + ago(at) + ")" : "";
    } else {
      brokerBanner.hidden = true;
      standby.hidden = true;
    }
    renderPools();
  }

  function poolNames() {
    const names = [];
    for (const p of (model.state && model.state.pools) || []) {
      if (p.status && p.status.pool && !names.includes(p.status.pool)) names.push(p.status.pool);
    }
    for (const name of Object.keys(model.history).sort()) if (!names.includes(name)) names.push(name);
    return names;
  }

  function renderPools() {
    const main = $("pools");
    const st = model.state;
    if (!st) {
      main.replaceChildren();
      return;
    }
    const names = poolNames();
    if (names.length === 0) {
      const why = st.broker && !st.broker.connected ? " (the broker is down)" : st.leading ? "" : " (this master is a standby)";
      main.replaceChildren(el("p", { class: "empty" }, "No pool has been evaluated yet" + why + "."));
      return;
    }
    const byName = {};
    for (const p of st.pools || []) if (p.status) byName[p.status.pool] = p;
    // Sections are rebuilt, but a scrolled table keeps its position.
    const scrolls = {};
    for (const s of main.querySelectorAll(".scroll[data-key]")) scrolls[s.dataset.key] = s.scrollTop;
    main.replaceChildren(...names.map((n) => poolSection(n, byName[n])));
    for (const s of main.querySelectorAll(".scroll[data-key]")) if (scrolls[s.dataset.key]) s.scrollTop = scrolls[s.dataset.key];
  }

  function poolSection(name, pool) {
    const h = model.history[name] || [];
    const s = (pool && pool.status) || {};
    const evaluated = pool != null && parseTime(s.at) != null;
    const last = h.length ? h[h.length - 1] : null;
    const current = pool ? s.current : last ? last.current : 0;
    const desired = pool ? s.desired : last ? last.desired : 0;
    let maxSeen = current || 0;
    for (const p of h) maxSeen = Math.max(maxSeen, p.current);

    const sec = el("section", {
      class: "pool",
      "data-pool": name,
      "data-current": current,
      "data-desired": desired,
      "data-max-workers-seen": maxSeen,
      "data-points": h.length,
      "data-lambda": s.lambda != null ? s.lambda.toFixed(1) : "",
      "data-backlog": s.backlog != null ? s.backlog : "",
    });

    const change = desired > current ? el("span", { class: "tag up" }, "scaling up") :
      desired < current ? el("span", { class: "tag down" }, "scaling down") : null;
    sec.append(el("div", { class: "pool-head" },
      el("h2", {}, name),
      el("span", { class: "size" }, el("b", { class: "num" }, String(current)), " workers → ",
        el("b", { class: "num desired" }, String(desired)), " desired"),
      change,
      s.dry_run ? el("span", { class: "tag dry" }, "dry run") : null,
      el("span", { class: "reason" }, evaluated ? s.reason || "—" : pool ? "not evaluated yet" : "no current status"),
    ));

    if (evaluated) sec.append(stats(s, pool.workers || []));
    sec.append(charts(h));
    sec.append(el("div", { class: "tables" }, decisionsCard(name), workersCard(name, pool ? pool.workers || [] : [])));
    return sec;
  }

  function stat(label, value, unit, hint, title) {
    return el("div", { class: "stat", title: title || null },
      el("div", { class: "label" }, label),
      el("div", { class: "value num" }, value, unit ? el("small", {}, " " + unit) : null),
      el("div", { class: "hint" }, hint || "\u00a0"));
  }

  function stats(s, workers) {
    const held = workers.reduce((a, w) => a + (w.held || 0), 0);
    const src = s.capacity_source || "?";
    const cHint = src + (s.capacity_reports ? " · " + s.capacity_reports + " reports" : "") +
      (s.capacity_age_s > 0 ? " · " + duration(s.capacity_age_s) + " old" : "");
    const policy = (s.formula || "default") + (s.target_utilization ? " · u=" + num(s.target_utilization, 2) : "") +
      (s.tr_s ? " · Tr=" + duration(s.tr_s) : "");
    return el("div", { class: "stats" },
      stat("Arrivals λ", num(s.lambda), "ev/s", "last window " + num(s.lambda_raw) + " ev/s"),
      stat("Backlog B", num(s.backlog, 0), "", num(s.ready, 0) + " ready · " + num(s.in_flight, 0) + " held by workers"),
      stat("Capacity C", num(s.capacity), "ev/s/worker", cHint, "where C came from: " + cHint),
      stat("Pool capacity N·C", num((s.current || 0) * (s.capacity || 0)), "ev/s", policy, "sizing policy: " + policy),
      stat("Workers", String(s.current ?? 0) + " → " + String(s.desired ?? 0), "",
        "raw " + (s.raw ?? "—") + " · " + (s.consumers ?? 0) + " consumers · " + held + " held"),
    );
  }

  // ---- charts ----

  function charts(h) {
    const t1 = serverNow();
    // The window is the kept history (10 minutes), or less while the history is younger: a master started a
    // minute ago shows that minute across the chart instead of a sliver at its right edge.
    let t0 = t1 - model.keepMs;
    if (h.length) t0 = Math.max(t0, Math.min(h[0].at, t1 - 2 * 60e3));
    const last = h.length ? h[h.length - 1] : {};
    return el("div", { class: "charts" },
      chart("Arrival rate λ (ev/s)", t0, t1, h, [
        { key: "lambda", cls: "c-lambda", label: "λ", area: true, value: last.lambda },
        { key: (p) => p.current * p.capacity, cls: "c-cap", label: "N·C", dash: true, step: true,
          value: last.current != null ? last.current * last.capacity : null },
      ], false),
      chart("Backlog B (events)", t0, t1, h, [
        { key: "backlog", cls: "c-backlog", label: "backlog", area: true, value: last.backlog },
        { key: "ready", cls: "c-ready", label: "ready", dash: true, value: last.ready },
      ], false, "chart-backlog"),
      chart("Workers", t0, t1, h, [
        { key: "current", cls: "c-current", label: "current", area: true, step: true, value: last.current },
        { key: "desired", cls: "c-desired", label: "desired", dash: true, step: true, value: last.desired },
      ], true, "chart-workers"),
    );
  }

  // niceStep is a round tick spacing near range/n.
  function niceStep(range, n, integer) {
    const raw = range / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    if (integer) step = Math.max(1, Math.round(step));
    return step;
  }

  function chart(title, t0, t1, h, series, integer, id) {
    const card = el("div", { class: "chart", "data-chart": id || null });
    card.append(el("div", { class: "chart-title" },
      el("h3", {}, title),
      el("div", { class: "legend" }, series.map((s) =>
        el("span", { class: s.cls }, s.label + " ", el("b", { class: "num" }, num(s.value, integer ? 0 : undefined)))))));
    const body = el("div", { class: "chart-body" });
    card.append(body);

    const W = Math.max(260, Math.round(chartWidth()));
    const H = 170;
    const m = { l: 44, r: 10, t: 10, b: 22 };
    const iw = W - m.l - m.r;
    const ih = H - m.t - m.b;
    const get = series.map((s) => (typeof s.key === "function" ? s.key : (p) => p[s.key]));
    let vmax = 0;
    for (const p of h) for (const g of get) { const v = g(p); if (Number.isFinite(v)) vmax = Math.max(vmax, v); }
    if (integer) vmax = Math.max(vmax, 2);
    if (vmax <= 0) vmax = 1;
    const step = niceStep(vmax * 1.1, 4, integer);
    const ymax = Math.ceil((vmax * 1.05) / step) * step;
    const x = (t) => m.l + ((t - t0) / (t1 - t0)) * iw;
    const y = (v) => m.t + ih - (Math.min(v, ymax) / ymax) * ih;

    const g = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": title });
    for (let v = 0; v <= ymax + step / 2; v += step) {
      g.append(svg("line", { class: "grid", x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      g.append(svg("text", { class: "axis", x: m.l - 6, y: y(v) + 3.5, "text-anchor": "end" }, num(v, integer ? 0 : undefined)));
    }
    // Vertical ticks on round times: two minutes apart in a ten-minute window, closer in a shorter one.
    const span = t1 - t0;
    const tick = span > 20 * 60e3 ? 5 * 60e3 : span > 6 * 60e3 ? 2 * 60e3 : span > 3 * 60e3 ? 60e3 : 30e3;
    for (let t = Math.ceil(t0 / tick) * tick; t <= t1; t += tick) {
      if (x(t) < m.l + 12) continue; // a label under the y axis' labels would collide with them
      g.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: m.t, y2: m.t + ih }));
      const label = tick < 60e3 ? clock(t) : clock(t).slice(0, 5);
      if (x(t) + label.length * 3.3 > W) continue; // a label cut by the right edge reads wrong: leave it out
      g.append(svg("text", { class: "axis", x: x(t), y: H - 6, "text-anchor": "middle" }, label));
    }
    const pts = h.filter((p) => p.at >= t0 - 60e3);
    if (pts.length === 0) {
      g.append(svg("text", { class: "nodata", x: m.l + iw / 2, y: m.t + ih / 2, "text-anchor": "middle" }, "no evaluations yet"));
    }
    const gap = gapThreshold(pts);
    series.forEach((s, i) => {
      const runs = segments(pts, get[i], gap);
      for (const run of runs) {
        const d = pathOf(run, x, y, s.step);
        if (s.area && run.length > 1) {
          const first = run[0], lastp = run[run.length - 1];
          g.append(svg("path", { class: "area " + s.cls,
            d: d + " L" + x(lastp.t).toFixed(1) + "," + y(0).toFixed(1) + " L" + x(first.t).toFixed(1) + "," + y(0).toFixed(1) + " Z" }));
        }
        g.append(svg("path", { class: "line " + s.cls + (s.dash ? " dash" : ""), d: d }));
        if (run.length === 1) {
          g.append(svg("circle", { class: s.cls, cx: x(run[0].t), cy: y(run[0].v), r: 2.5 }));
        }
      }
    });
    // Clip the left edge: points just before the window start may be drawn a little outside it.
    const clipId = "clip-" + Math.random().toString(36).slice(2);
    g.prepend(svg("defs", {}, svg("clipPath", { id: clipId }, svg("rect", { x: m.l, y: 0, width: iw + m.r, height: H }))));
    for (const p of g.querySelectorAll("path, circle")) p.setAttribute("clip-path", "url(#" + clipId + ")");
    body.append(g);
    return card;
  }

  let widthCache = 0;
  function chartWidth() {
    // Every chart has the same width: measure one laid-out chart body, or guess from the window.
    const b = document.querySelector(".chart-body");
    if (b && b.clientWidth > 0) widthCache = b.clientWidth;
    if (widthCache) return widthCache;
    const cols = window.innerWidth > 1100 ? 3 : window.innerWidth > 740 ? 2 : 1;
    return (window.innerWidth - 100) / cols - 20;
  }

  // gapThreshold is the silence that breaks a line: several evaluation intervals with no status means the
  // master was not evaluating, and joining the points would draw numbers nobody measured.
  function gapThreshold(pts) {
    if (pts.length < 3) return Infinity;
    const dts = [];
    for (let i = 1; i < pts.length; i++) dts.push(pts[i].at - pts[i - 1].at);
    dts.sort((a, b) => a - b);
    return Math.max(10e3, 5 * dts[Math.floor(dts.length / 2)]);
  }

  function segments(pts, get, gap) {
    const runs = [];
    let run = [];
    let prev = null;
    for (const p of pts) {
      const v = get(p);
      if (!Number.isFinite(v)) continue;
      if (prev != null && p.at - prev > gap) { runs.push(run); run = []; }
      run.push({ t: p.at, v: v });
      prev = p.at;
    }
    if (run.length) runs.push(run);
    return runs.filter((r) => r.length);
  }

  function pathOf(run, x, y, step) {
    let d = "";
    run.forEach((p, i) => {
      const px = x(p.t).toFixed(1), py = y(p.v).toFixed(1);
      if (i === 0) d += "M" + px + "," + py;
      else if (step) d += " H" + px + " V" + py;
      else d += " L" + px + "," + py;
    });
    return d;
  }

  // ---- tables ----

  function decisionsCard(name) {
    const list = (model.decisions[name] || []).slice().reverse();
    const rows = list.map((d) => {
      const at = parseTime(d.at);
      const dir = d.desired > d.current ? "up" : d.desired < d.current ? "down" : "";
      return el("tr", { class: dir || null },
        el("td", { class: "t", title: at != null ? new Date(at).toString() : null }, at != null ? clock(at) : "—"),
        el("td", { class: "n size" }, d.current + " → " + d.desired),
        el("td", { class: "n" }, String(d.raw)),
        el("td", { class: "n" }, num(d.lambda)),
        el("td", { class: "n" }, num(d.backlog, 0)),
        el("td", { class: "n", title: d.capacity_source }, num(d.capacity) + " ", el("span", { class: "muted" }, d.capacity_source || "")),
        el("td", { class: "reason" }, d.reason || ""));
    });
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { class: "empty-row", colspan: 7 }, "no decisions yet")));
    return el("div", { class: "card decisions" },
      el("h3", {}, "Latest decisions ", el("span", { class: "muted" }, "(changes of size or reason, newest first)")),
      el("div", { class: "scroll", "data-key": name + "/decisions" },
        el("table", {},
          el("thead", {}, el("tr", {}, el("th", {}, "time"), el("th", { class: "n" }, "workers"), el("th", { class: "n", title: "the formula's answer before clamping and stabilization" }, "raw"),
            el("th", { class: "n" }, "λ"), el("th", { class: "n" }, "B"), el("th", { class: "n" }, "C"), el("th", {}, "reason"))),
          el("tbody", {}, rows))));
  }

  function workersCard(name, workers) {
    const sorted = workers.slice().sort((a, b) => (a.name || "").localeCompare(b.name || ""));
    const rows = sorted.map((w) => {
      const u = Math.max(0, Math.min(1, w.utilization || 0));
      const report = parseTime(w.last_report);
      const started = parseTime(w.started_at);
      return el("tr", { "data-worker": w.name, "data-state": w.state, "data-healthy": String(!!w.healthy) },
        el("td", { class: "name", title: w.id ? "id " + w.id : null }, w.name),
        el("td", {}, el("span", { class: "state " + (w.state || "") }, w.state || "?")),
        el("td", { class: "health " + (w.healthy ? "ok" : "bad") }, w.healthy ? "● healthy" : "● " + (w.unhealthy || "unhealthy")),
        el("td", { class: "n" }, String(w.held || 0)),
        el("td", { class: "n" }, String(w.in_flight || 0)),
        el("td", { class: "n" }, el("span", { class: "util" },
          el("span", { class: "bar" }, barFill(u)), Math.round(u * 100) + "%")),
        el("td", { class: "t" }, report != null ? ago(report) : "not yet"),
        el("td", { class: "t" }, started != null ? ago(started).replace(" ago", "") : "—"));
    });
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { class: "empty-row", colspan: 8 }, "no workers")));
    return el("div", { class: "card workers" },
      el("h3", {}, "Workers ", el("span", { class: "muted" }, "(" + workers.length + ")")),
      el("div", { class: "scroll", "data-key": name + "/workers" },
        el("table", {},
          el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "state"), el("th", {}, "health"),
            el("th", { class: "n", title: "deliveries held unacknowledged" }, "held"), el("th", { class: "n" }, "in flight"),
            el("th", { class: "n" }, "utilization"), el("th", {}, "last report"), el("th", {}, "up"))),
          el("tbody", {}, rows))));
  }

  function barFill(u) {
    const i = el("i", { class: u > 0.85 ? "hot" : null });
    i.style.width = (u * 100).toFixed(0) + "%";
    return i;
  }

  // ---- start ----

  load();
  connect();
  setInterval(() => {
    watchdog();
    trim();
    render(); // ages and the charts' time axis move even when nothing new arrives
  }, 1000);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { widthCache = 0; render(); }, 150);
  });
})();
