// The chainrule playground page. Plain JavaScript, no build step: every number drawn here comes
// from the server (chainrule itself); this file only draws, and keeps the setup in the URL.
"use strict";

const $ = (sel) => document.querySelector(sel);
const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
const SVGNS = "http://www.w3.org/2000/svg";
const pg = (window.playground = { stats: { updates: 0, times: [] }, visited: [], options: null });

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
  if (message) pg.lastError = message;
}

// ------------------------------------------------------------------ the URL holds the setup
function readHash() {
  const out = {};
  for (const [k, v] of new URLSearchParams(location.hash.slice(1))) out[k] = v;
  return out;
}
function writeHash(params) {
  const q = new URLSearchParams(params).toString();
  history.replaceState(null, "", "#" + q);
}

// ------------------------------------------------------------------ views
function showView(name) {
  for (const v of ["circuits", "networks"]) {
    $("#" + v).hidden = v !== name;
    $("#tab-" + v).classList.toggle("active", v === name);
  }
  pg.view = name;
  saveState();
}

function saveState() {
  const p = { view: pg.view || "circuits" };
  if (pg.view === "circuits") {
    p.expression = $("#expression").value;
    for (const input of document.querySelectorAll("#variables input[type=number]")) p["v_" + input.dataset.var] = input.value;
  } else if (pg.settings) {
    for (const [k, v] of Object.entries(pg.settings)) p[k] = Array.isArray(v) ? v.join(",") : v;
  }
  writeHash(p);
}

// ================================================================== circuits
let circuit = null;
let stepIndex = -1;

function setVariables(names, values) {
  const box = $("#variables");
  const old = {};
  for (const input of box.querySelectorAll("input[type=number]")) old[input.dataset.var] = input.value;
  box.innerHTML = "";
  for (const name of names) {
    const value = name in values ? values[name] : name in old ? old[name] : 1;
    const label = document.createElement("label");
    label.innerHTML = `<span>${name}</span>`;
    const num = document.createElement("input");
    num.type = "number"; num.step = "any"; num.value = value; num.dataset.var = name;
    const slider = document.createElement("input");
    slider.type = "range"; slider.min = -10; slider.max = 10; slider.step = 0.1; slider.value = value;
    num.addEventListener("input", () => { slider.value = num.value; requestCircuit(); });
    slider.addEventListener("input", () => { num.value = slider.value; requestCircuit(); });
    label.append(num, slider);
    box.append(label);
  }
}

function variableNames(expression) {
  // Only to offer input fields; the server's parser decides what the expression means.
  const fns = new Set(["exp", "log", "max", "min", "sigmoid", "relu", "tanh", "abs", "sqrt"]);
  const names = [];
  for (const m of expression.matchAll(/[A-Za-z_][A-Za-z_0-9]*/g)) {
    const after = expression.slice(m.index + m[0].length).trimStart();
    if (fns.has(m[0]) && after.startsWith("(")) continue;
    if (!names.includes(m[0])) names.push(m[0]);
  }
  return names;
}

function loadPreset(name, values) {
  const preset = pg.options.presets[name];
  $("#expression").value = preset.expression;
  setVariables(Object.keys(preset.values), values || preset.values);
  requestCircuit();
}

let circuitRequest = 0;
async function requestCircuit() {
  const expression = $("#expression").value;
  const values = {};
  for (const input of document.querySelectorAll("#variables input[type=number]")) values[input.dataset.var] = Number(input.value);
  const id = ++circuitRequest;
  const response = await fetch("/api/circuit", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ expression, values }),
  });
  const body = await response.json();
  if (id !== circuitRequest) return;
  if (!response.ok) { showError(body.error); return; }
  showError("");
  circuit = body;
  stepIndex = -1;
  pg.visited = [];
  drawCircuit();
  $("#output").textContent = `f = ${fmt(body.output)}`;
  $("#gradients").innerHTML = body.variables
    .map((v) => `<li data-var="${v}" data-grad="${body.gradients[v]}">∂f/∂${v} = ${fmt(body.gradients[v])}</li>`).join("");
  $("#step-info").textContent = "Forward values in green on each wire, gradients in red. Step to walk the backward pass one gate at a time.";
  delete $("#step-info").dataset.node;
  saveState();
}

function drawCircuit() {
  const svg = $("#circuit-svg");
  svg.innerHTML = "";
  const { nodes, edges } = circuit.layout;
  const S = 64, pad = 30;
  const minX = Math.min(...nodes.map((n) => n.x - n.w)), maxX = Math.max(...nodes.map((n) => n.x + n.w + 0.3));
  const minY = Math.min(...nodes.map((n) => n.y - n.h)), maxY = Math.max(...nodes.map((n) => n.y + n.h));
  const X = (x) => pad + (x - minX) * S, Y = (y) => pad + (maxY - y) * S;
  const width = (maxX - minX) * S + 2 * pad, height = (maxY - minY) * S + 2 * pad;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.height = height + "px";
  svg.style.width = width + "px";  // natural size, readable labels; the panel scrolls
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const revealed = new Set(stepIndex < 0 ? edges.map((e) => e.src) : ["" + circuit.steps[0].node]);
  for (let i = 0; i <= stepIndex; i++) for (const w of circuit.steps[i].inputs) revealed.add(w.node);
  const current = stepIndex >= 0 ? circuit.steps[stepIndex] : null;
  for (const e of edges) {
    const a = byId[e.src], b = byId[e.dst];
    const pts = [[a.x + a.w, a.y], ...e.points, [b.x - b.w, b.y]];
    const line = document.createElementNS(SVGNS, "polyline");
    line.setAttribute("points", pts.map(([x, y]) => `${X(x)},${Y(y)}`).join(" "));
    line.setAttribute("class", "wire" + (current && current.node === e.dst ? " active" : ""));
    line.dataset.src = e.src; line.dataset.dst = e.dst;
    svg.append(line);
    const [p, q] = [pts[0], pts[1]];  // labels ride the segment leaving the source
    const mx = (X(p[0]) + X(q[0])) / 2, my = (Y(p[1]) + Y(q[1])) / 2;
    const value = text(mx, my - 7, e.value, "value");
    svg.append(value);
    if (e.grad !== null) {
      const g = text(mx, my + 17, e.grad, "grad" + (revealed.has(e.src) ? "" : " hidden-grad"));
      g.dataset.src = e.src;
      svg.append(g);
    }
  }
  for (const n of nodes) {
    const g = document.createElementNS(SVGNS, "g");
    g.dataset.id = n.id;
    if (n.kind === "gate") {
      g.setAttribute("class", "gate" + (current && current.node === n.id ? " current" : "")
        + (pg.visited.includes(n.id) && !(current && current.node === n.id) ? " done" : ""));
      const c = document.createElementNS(SVGNS, "circle");
      c.setAttribute("cx", X(n.x)); c.setAttribute("cy", Y(n.y)); c.setAttribute("r", n.w * S);
      g.append(c, text(X(n.x), Y(n.y), n.label, "label"));
    } else if (n.kind === "output") {
      g.setAttribute("class", "output");
      g.append(text(X(n.x), Y(n.y), n.label, "label"));
    } else {
      g.setAttribute("class", n.kind === "input" ? "leaf" : "const");
      const r = document.createElementNS(SVGNS, "rect");
      r.setAttribute("x", X(n.x - n.w)); r.setAttribute("y", Y(n.y + n.h));
      r.setAttribute("width", 2 * n.w * S); r.setAttribute("height", 2 * n.h * S); r.setAttribute("rx", 4);
      g.append(r, text(X(n.x), Y(n.y), n.label || n.value, "label"));
    }
    svg.append(g);
  }
  function text(x, y, s, cls) {
    const t = document.createElementNS(SVGNS, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("class", cls);
    if (cls !== "label") t.setAttribute("text-anchor", "middle");
    t.textContent = s;
    return t;
  }
}

function nodeName(id) {
  const n = circuit.layout.nodes.find((m) => m.id === id);
  return n.kind === "gate" ? `(${n.label})` : n.label || n.value;
}

function stepBackward() {
  if (!circuit) return;
  if (stepIndex + 1 >= circuit.steps.length) {
    $("#step-info").textContent = "The backward pass is done: every wire holds ∂f/∂(its value). Restart to walk it again.";
    $("#step-info").dataset.node = "done";
    return;
  }
  stepIndex += 1;
  const s = circuit.steps[stepIndex];
  pg.visited.push(s.node);
  const lines = [`step ${stepIndex + 1}/${circuit.steps.length}: gate ${s.label}, upstream ∂f/∂gate = ${fmt(s.upstream)}`];
  for (const w of s.inputs) {
    if (w.local === null) continue;
    lines.push(`  ∂f/∂${nodeName(w.node)} = local ∂gate/∂input ${fmt(w.local)} × upstream ${fmt(s.upstream)} = ${fmt(w.product)}`);
  }
  const info = $("#step-info");
  info.textContent = lines.join("\n");
  info.dataset.node = s.node;
  info.dataset.label = s.label;
  drawCircuit();
}

// ================================================================== networks
let socket = null;
let runId = null;
let playing = false;
let curve = [];
let points = null;
let race = {};

const COLORS = { neg: [245, 147, 34], zero: [232, 234, 235], pos: [8, 119, 189] };
function colorOf(v) { // v in [-1, 1]: orange, light grey, blue (TensorFlow Playground's scale)
  const [a, b] = v < 0 ? [COLORS.zero, COLORS.neg] : [COLORS.zero, COLORS.pos];
  const t = Math.min(1, Math.abs(v));
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
}
function decode(b64) {
  const raw = atob(b64), out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i) / 127.5 - 1;
  return out;
}
function heatImage(values, n) {
  const c = document.createElement("canvas");
  c.width = c.height = n;
  const ctx = c.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = colorOf(values[i]);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  socket = new WebSocket(url);
  pg.socket = socket;
  socket.addEventListener("open", () => { pg.connected = true; configure(pg.settings, { force: true }); });
  socket.addEventListener("message", (ev) => onMessage(JSON.parse(ev.data)));
  socket.addEventListener("close", () => { pg.connected = false; });
}
function send(message) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(message)); }

// A control's "change" can fire twice for one edit (the script's, then the browser's on blur):
// settings equal to the current ones restart nothing, so a late state cannot rewrite a control
// the user is already editing. Reset is its own button.
function sameSettings(a, b) {
  if (!a || !b) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

function configure(settings, { force = false } = {}) {
  if (!force && sameSettings(settings, pg.settings)) return;
  pg.settings = settings;
  send({ type: "configure", settings });
  if (playing) send({ type: "play" });
  saveState();
}

function onMessage(m) {
  if (m.type === "error") {
    showError(m.message);
    if (m.request === "configure") send({ type: "settings" });  // the server kept its settings: show them again
    return;
  }
  if (m.type === "state") {
    runId = m.run; curve = []; points = m; pg.stats.updates = 0; pg.stats.times = [];
    pg.settings = m.settings; writeControls(m.settings); showError(""); saveState();
    return;
  }
  if (m.type === "update") { if (m.run === runId) drawUpdate(m); return; }
  if (m.type === "race") { raceUpdate(m); return; }
  if (m.type === "race_done") { pg.raceDone = true; $("#race").disabled = false; return; }
  if (m.type === "settings") { pg.settings = m.settings; writeControls(m.settings); saveState(); }
}

function drawUpdate(m) {
  const now = performance.now();
  pg.stats.updates += 1;
  pg.stats.times.push(now);
  while (pg.stats.times.length && pg.stats.times[0] < now - 1000) pg.stats.times.shift();
  $("#rate").textContent = pg.stats.times.length;
  $("#epoch").textContent = m.epoch;
  $("#train-loss").textContent = m.train_loss === null ? "–" : m.train_loss.toFixed(3);
  $("#test-loss").textContent = m.test_loss === null ? "–" : m.test_loss.toFixed(3);
  $("#test-loss").dataset.value = m.test_loss;
  pg.lastUpdate = m;
  curve.push([m.epoch, m.train_loss, m.test_loss]);
  drawSurface(m);
  drawCurves($("#loss-curve"), [{ pts: curve.map((c) => [c[0], c[1]]), color: "#999" }, { pts: curve.map((c) => [c[0], c[2]]), color: "#000" }]);
  drawNetwork(m);
}

function drawSurface(m) {
  const cv = $("#surface"), ctx = cv.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heatImage(decode(m.surface), m.grid), 0, 0, cv.width, cv.height);
  if (!points) return;
  const D = points.domain, P = (v) => ((v + D) / (2 * D)) * cv.width;
  const regression = points.settings.problem === "regression";
  for (const [part, ring] of [["train", "#fff"], ["test", "#000"]]) {
    const { points: xy, labels } = points[part];
    for (let i = 0; i < xy.length; i++) {
      const v = regression ? labels[i] : labels[i] ? 1 : -1;
      const [r, g, b] = colorOf(v * (regression ? 1 : 1));
      ctx.beginPath();
      ctx.arc(P(xy[i][0]), cv.height - P(xy[i][1]), 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fill();
      ctx.strokeStyle = ring; ctx.lineWidth = 1; ctx.stroke();
    }
  }
}

function drawCurves(cv, series, xlabel) {
  const ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const all = series.flatMap((s) => s.pts).filter((p) => p[1] !== null && isFinite(p[1]));
  if (!all.length) return;
  const maxX = Math.max(1, ...all.map((p) => p[0])), maxY = Math.max(1e-9, ...all.map((p) => p[1]));
  const W = cv.width - 10, H = cv.height - 20;
  for (const s of series) {
    ctx.beginPath(); ctx.strokeStyle = s.color; ctx.lineWidth = 1.5;
    let started = false;
    for (const [x, y] of s.pts) {
      if (y === null || !isFinite(y)) continue;
      const px = 5 + (x / maxX) * W, py = 5 + H - (y / maxY) * H;
      started ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
      started = true;
    }
    ctx.stroke();
    if (s.label) {
      const last = s.pts[s.pts.length - 1];
      ctx.fillStyle = s.color; ctx.font = "11px sans-serif";
      ctx.fillText(s.label, 5 + (last[0] / maxX) * W - 60, 5 + H - (last[1] / maxY) * H - 3);
    }
  }
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText(`${xlabel || "epochs"} 0–${maxX}, loss 0–${maxY.toFixed(2)}`, 5, cv.height - 4);
}

function drawNetwork(m) {
  const cv = $("#network-canvas"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const layers = m.neurons.concat([[m.surface]]);
  const size = 30, colW = cv.width / layers.length;
  const pos = layers.map((layer, i) => layer.map((_, j) => [colW * (i + 0.5), (cv.height - 20) / (layer.length + 1) * (j + 1)]));
  let maxW = 1e-6;
  for (const w of m.weights) for (const row of w.w) for (const v of row) maxW = Math.max(maxW, Math.abs(v));
  m.weights.forEach((w, l) => {
    w.w.forEach((row, j) => row.forEach((v, i) => {
      const [x0, y0] = pos[l][i], [x1, y1] = pos[l + 1][j];
      const [r, g, b] = colorOf(v / maxW);
      ctx.beginPath(); ctx.moveTo(x0 + size / 2, y0); ctx.lineTo(x1 - size / 2, y1);
      ctx.strokeStyle = `rgb(${r},${g},${b})`; ctx.lineWidth = 0.5 + 4 * Math.abs(v) / maxW; ctx.stroke();
    }));
  });
  layers.forEach((layer, i) => layer.forEach((b64, j) => {
    const n = i === layers.length - 1 ? m.grid : m.neuron_grid;
    const [x, y] = pos[i][j];
    ctx.drawImage(heatImage(decode(b64), n), x - size / 2, y - size / 2, size, size);
    ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.strokeRect(x - size / 2, y - size / 2, size, size);
  }));
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  const names = ["features", ...m.neurons.slice(1).map((_, i) => `hidden ${i + 1}`), "output"];
  names.forEach((s, i) => ctx.fillText(s, colW * (i + 0.5) - 20, cv.height - 4));
  const feats = pg.settings.features;
  feats.forEach((f, j) => ctx.fillText(f, 2, pos[0][j][1] + 4));
}

// ------------------------------------------------------------------ race
const RACE_COLORS = ["#e53935", "#8e24aa", "#1e88e5", "#00897b", "#7cb342", "#fb8c00", "#6d4c41"];
function startRace() {
  const strategies = [...document.querySelectorAll("input[name=strategy]:checked")].map((c) => c.value);
  race = {}; pg.raceDone = false;
  $("#race-table tbody").innerHTML = "";
  send({ type: "race", strategies, budget: Number($("#budget").value) });
}
function raceUpdate(m) {
  const r = (race[m.strategy] = race[m.strategy] || { pts: [], last: m });
  if (!m.diverged) r.pts.push([m.evaluations, m.test_loss]);
  r.last = m;
  const names = Object.keys(race);
  drawCurves($("#race-curve"), names.map((n, i) => ({ pts: race[n].pts, color: RACE_COLORS[i % 7], label: n })), "loss evaluations");
  $("#race-table tbody").innerHTML = names.map((n) => {
    const l = race[n].last;
    return `<tr data-strategy="${n}"><td>${n}</td><td>${l.evaluations}</td><td>${l.diverged ? "diverged" : fmt(l.train_loss)}</td><td>${l.diverged ? "" : fmt(l.test_loss)}</td></tr>`;
  }).join("");
}

// ------------------------------------------------------------------ controls
const FIELDS = ["problem", "dataset", "n_samples", "noise", "train_ratio", "batch_size", "hidden", "activation",
  "optimizer", "lr", "regularization", "reg_rate", "seed"];
const NUMERIC = new Set(["n_samples", "noise", "train_ratio", "batch_size", "lr", "reg_rate", "seed"]);

function buildControls(o) {
  const fill = (id, names) => { $("#" + id).innerHTML = names.map((n) => `<option value="${n}">${n}</option>`).join(""); };
  fill("problem", ["classification", "regression"]);
  fill("activation", o.activations);
  fill("optimizer", o.optimizers);
  fill("regularization", o.regularizations);
  for (const id of ["n_samples", "noise", "train_ratio", "batch_size", "seed", "lr", "reg_rate"]) {
    const [lo, hi] = o.bounds[id];
    $("#" + id).min = lo; $("#" + id).max = hi;
  }
  $("#features").innerHTML = o.features.map((f) => `<label><input type="checkbox" name="feature" value="${f}">${f}</label>`).join("");
  $("#strategies").innerHTML = o.strategies.map((s, i) =>
    `<label title="${s.description}"><input type="checkbox" name="strategy" value="${s.name}" ${[0, 1, 3, 6].includes(i) ? "checked" : ""}>${s.name}</label>`).join("");
  const [blo, bhi] = o.race_budget; $("#budget").min = blo; $("#budget").max = bhi;
}

function fillDatasets(problem) {
  const names = Object.keys(pg.options.datasets).filter((d) => pg.options.datasets[d] === problem);
  $("#dataset").innerHTML = names.map((n) => `<option value="${n}">${n}</option>`).join("");
}

function writeControls(s) {
  fillDatasets(s.problem);
  for (const id of FIELDS) {
    const el = $("#" + id);
    el.value = Array.isArray(s[id]) ? s[id].join(",") : s[id];
    const out = document.querySelector(`output[for=${id}]`);
    if (out) out.textContent = el.value;
  }
  for (const c of document.querySelectorAll("input[name=feature]")) c.checked = s.features.includes(c.value);
}

function readControls() {
  const s = {};
  for (const id of FIELDS) {
    const v = $("#" + id).value;
    s[id] = NUMERIC.has(id) ? Number(v) : v;
  }
  s.hidden = s.hidden.trim() === "" ? [] : s.hidden.split(",").map((x) => Number(x.trim()));
  s.features = [...document.querySelectorAll("input[name=feature]:checked")].map((c) => c.value);
  return s;
}

function settingsFromHash(h, defaults) {
  const s = { ...defaults };
  for (const [k, v] of Object.entries(h)) {
    if (!(k in defaults)) continue;
    if (k === "features") s[k] = v ? v.split(",") : [];
    else if (k === "hidden") s[k] = v ? v.split(",").map(Number) : [];
    else if (typeof defaults[k] === "number") s[k] = Number(v);
    else s[k] = v;
  }
  return s;
}

async function main() {
  pg.options = await (await fetch("/api/options")).json();
  buildControls(pg.options);
  const h = readHash();
  pg.settings = settingsFromHash(h, pg.options.defaults);
  writeControls(pg.settings);

  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showView(b.dataset.view));
  $("#preset").addEventListener("change", () => { if ($("#preset").value) loadPreset($("#preset").value); });
  let typing;
  $("#expression").addEventListener("input", () => {
    $("#preset").value = "";
    clearTimeout(typing);
    typing = setTimeout(() => { setVariables(variableNames($("#expression").value), {}); requestCircuit(); }, 250);
  });
  $("#step").addEventListener("click", stepBackward);
  $("#step-reset").addEventListener("click", () => { stepIndex = -1; pg.visited = []; drawCircuit(); });

  $("#problem").addEventListener("change", () => { fillDatasets($("#problem").value); configure(readControls()); });
  for (const id of FIELDS.filter((f) => f !== "problem")) {
    $("#" + id).addEventListener("change", () => configure(readControls()));
    $("#" + id).addEventListener("input", () => {
      const out = document.querySelector(`output[for=${id}]`);
      if (out) out.textContent = $("#" + id).value;
    });
  }
  $("#features").addEventListener("change", () => configure(readControls()));
  $("#play").addEventListener("click", () => {
    playing = !playing;
    $("#play").textContent = playing ? "Pause" : "Play";
    send({ type: playing ? "play" : "pause" });
  });
  $("#net-step").addEventListener("click", () => { playing = false; $("#play").textContent = "Play"; send({ type: "step" }); });
  $("#reset").addEventListener("click", () => send({ type: "reset" }));
  $("#race").addEventListener("click", startRace);
  $("#show-code").addEventListener("click", async () => {
    const epochs = Math.max(1, Number($("#epoch").textContent) || 100);
    const r = await fetch("/api/code", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ settings: pg.settings, epochs }) });
    const body = await r.json();
    if (!r.ok) { showError(body.error); return; }
    $("#code").textContent = body.code; $("#code").hidden = false;
  });

  if (h.expression) {
    $("#preset").value = "";
    $("#expression").value = h.expression;
    const values = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith("v_")) values[k.slice(2)] = Number(v);
    setVariables(variableNames(h.expression), values);
    requestCircuit();
  } else {
    loadPreset("xyz");
  }
  showView(h.view === "networks" ? "networks" : "circuits");
  connect();
  // A pasted link in the same tab (replaceState, our own writes, fires no hashchange) redraws from it.
  window.addEventListener("hashchange", () => location.reload());
  pg.ready = true;
}

main();
