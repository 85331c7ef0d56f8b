// The xalign page: align a pair (or every pair of a `source ||| target` file) through
// this service's API, show the links as lines and as a matrix, let the user correct
// them, and export Pharaoh or talp gold that `xalign eval` reads. Plain JavaScript, no
// build step: the service serves this file as it is.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const REQUEST_PAIRS = 32; // pairs per /align call when a file is opened

// pairs[k] = {srcWords, tgtWords, matrix, modelLinks: [[i, j, score]], links: Map("i-j" -> "sure"|"possible")}
const state = { pairs: [], current: 0, signature: "", picked: null };

// ------------------------------------------------------------------ the API

function headers() {
  const h = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON: reported below */ }
  if (!response.ok) {
    const why = data && data.error ? data.error : response.status + " " + response.statusText;
    throw new Error(why);
  }
  return data;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// ------------------------------------------------------------------ pairs and links

function fromResult(result) {
  const links = new Map();
  const modelLinks = result.links.map(([i, j], k) => [i, j, result.scores[k]]);
  for (const [i, j] of result.links) links.set(i + "-" + j, "sure");
  return { srcWords: result.source_words, tgtWords: result.target_words, matrix: result.matrix,
           modelLinks, links, skipped: result.skipped };
}

async function alignPairs(pairs) {
  const results = [];
  for (let start = 0; start < pairs.length; start += REQUEST_PAIRS) {
    const chunk = pairs.slice(start, start + REQUEST_PAIRS);
    const data = await post("align", { pairs: chunk, include_matrix: true });
    state.signature = data.signature;
    results.push(...data.results.map(fromResult));
    if (pairs.length > REQUEST_PAIRS) status("aligned " + results.length + " of " + pairs.length + " pairs");
  }
  return results;
}

function splitLine(line, number) {
  if (!line.trim()) return { source: "", target: "" };
  const parts = line.split("|||");
  if (parts.length !== 2) throw new Error("line " + number + ": expected one '|||' between source and target");
  return { source: parts[0], target: parts[1] };
}

function score(pair, i, j) {
  return pair.matrix && pair.matrix[i] ? pair.matrix[i][j] : undefined;
}

function sortedLinks(pair, kind) {
  return [...pair.links.entries()]
    .filter(([, k]) => kind === undefined || k === kind)
    .map(([key]) => key.split("-").map(Number))
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

// A click with the chosen kind: add the link, change its kind, or remove it.
function toggle(pair, i, j) {
  const kind = document.querySelector("input[name=kind]:checked").value;
  const key = i + "-" + j;
  if (pair.links.get(key) === kind) pair.links.delete(key);
  else pair.links.set(key, kind);
  render();
}

// ------------------------------------------------------------------ drawing

function fmt(x) { return x === undefined ? "no score" : x.toFixed(3); }

function wordSpan(word, side, index) {
  const span = document.createElement("span");
  span.className = "word " + side;
  span.textContent = word;
  span.dataset.side = side;
  span.dataset.index = index;
  return span;
}

function render() {
  const pair = state.pairs[state.current];
  if (!pair) return;
  $("view-section").hidden = false;
  $("export-section").hidden = false;
  $("transfer-section").hidden = false;
  $("signature").textContent = state.signature;
  const linkedSrc = new Set(), linkedTgt = new Set();
  for (const [i, j] of sortedLinks(pair)) { linkedSrc.add(i); linkedTgt.add(j); }

  for (const [row, words, side, linked] of [[$("src-row"), pair.srcWords, "src", linkedSrc],
                                            [$("tgt-row"), pair.tgtWords, "tgt", linkedTgt]]) {
    row.replaceChildren(...words.map((w, k) => {
      const span = wordSpan(w, side, k);
      if (!linked.has(k)) span.classList.add("unlinked");
      if (state.picked && state.picked.side === side && state.picked.index === k) span.classList.add("picked");
      return span;
    }));
  }
  drawLines(pair);
  drawMatrix(pair);
  if (pair.skipped) status("not aligned by the model: " + pair.skipped, true);
}

function drawLines(pair) {
  const svg = $("lines");
  const srcSpans = $("src-row").children, tgtSpans = $("tgt-row").children;
  const width = Math.max($("src-row").scrollWidth, $("tgt-row").scrollWidth);
  svg.style.width = width + "px";
  const svgBox = svg.getBoundingClientRect();
  svg.setAttribute("viewBox", "0 0 " + svgBox.width + " " + svgBox.height);
  const lines = sortedLinks(pair).map(([i, j]) => {
    const a = srcSpans[i].getBoundingClientRect(), b = tgtSpans[j].getBoundingClientRect();
    const line = document.createElementNS(SVG_NS, "line");
    line.setAttribute("x1", a.left + a.width / 2 - svgBox.left);
    line.setAttribute("y1", 2);
    line.setAttribute("x2", b.left + b.width / 2 - svgBox.left);
    line.setAttribute("y2", svgBox.height - 2);
    const s = score(pair, i, j);
    line.setAttribute("stroke-width", s === undefined ? 2 : (1.5 + 3 * s).toFixed(2));
    line.setAttribute("class", "link " + pair.links.get(i + "-" + j));
    line.dataset.link = i + "-" + j;
    const title = document.createElementNS(SVG_NS, "title");
    title.textContent = pair.srcWords[i] + " – " + pair.tgtWords[j] + ": " + fmt(s) + " (" + pair.links.get(i + "-" + j) + ")";
    line.append(title);
    return line;
  });
  svg.replaceChildren(...lines);
}

function drawMatrix(pair) {
  const table = $("matrix");
  const head = document.createElement("thead");
  const top = document.createElement("tr");
  top.append(document.createElement("th"));
  pair.tgtWords.forEach((w, j) => {
    const th = document.createElement("th");
    th.textContent = w;
    th.dataset.side = "tgt";
    th.dataset.index = j;
    top.append(th);
  });
  head.append(top);
  const body = document.createElement("tbody");
  pair.srcWords.forEach((w, i) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = w;
    th.dataset.side = "src";
    th.dataset.index = i;
    tr.append(th);
    pair.tgtWords.forEach((_, j) => {
      const td = document.createElement("td");
      const s = score(pair, i, j);
      if (s !== undefined) td.style.background = "rgba(var(--cell), " + (0.08 + 0.6 * s).toFixed(3) + ")";
      const kind = pair.links.get(i + "-" + j);
      if (kind) td.classList.add(kind);
      td.dataset.i = i;
      td.dataset.j = j;
      td.title = pair.srcWords[i] + " – " + pair.tgtWords[j] + ": " + fmt(s) + (kind ? " (" + kind + ")" : "");
      tr.append(td);
    });
    body.append(tr);
  });
  table.replaceChildren(head, body);
}

// Hovering a word lights up its links, in both views, and lists their scores.
function highlight(side, index) {
  const pair = state.pairs[state.current];
  document.querySelectorAll(".lit").forEach((el) => el.classList.remove("lit"));
  document.querySelectorAll("svg.lines line.dim").forEach((el) => el.classList.remove("dim"));
  if (side === null) { $("info").textContent = "Hover a word to see its links and their scores."; return; }
  const mine = sortedLinks(pair).filter(([i, j]) => (side === "src" ? i : j) === index);
  const keys = new Set(mine.map(([i, j]) => i + "-" + j));
  document.querySelectorAll("svg.lines line").forEach((line) => {
    line.classList.add(keys.has(line.dataset.link) ? "lit" : "dim");
  });
  document.querySelectorAll("[data-side='" + side + "'][data-index='" + index + "']").forEach((el) => el.classList.add("lit"));
  for (const [i, j] of mine) {
    document.querySelector("td[data-i='" + i + "'][data-j='" + j + "']").classList.add("lit");
    const other = side === "src" ? ["tgt", j] : ["src", i];
    document.querySelectorAll("[data-side='" + other[0] + "'][data-index='" + other[1] + "']").forEach((el) => el.classList.add("lit"));
  }
  const word = side === "src" ? pair.srcWords[index] : pair.tgtWords[index];
  $("info").textContent = mine.length === 0 ? word + ": no link"
    : word + ": " + mine.map(([i, j]) => (side === "src" ? pair.tgtWords[j] : pair.srcWords[i]) + " " + i + "-" + j + " (" + fmt(score(pair, i, j)) + ", " + pair.links.get(i + "-" + j) + ")").join(", ");
}

// ------------------------------------------------------------------ export

function exportText(kind) {
  const offset = kind === "talp" && $("one-based").checked ? 1 : 0;
  return state.pairs.map((pair) => {
    if (kind === "pharaoh") return sortedLinks(pair).map(([i, j]) => i + "-" + j).join(" ");
    return sortedLinks(pair).map(([i, j]) => (i + offset) + (pair.links.get(i + "-" + j) === "sure" ? "-" : "p") + (j + offset)).join(" ");
  }).join("\n") + "\n";
}

function offerExport(kind) {
  const text = exportText(kind);
  $("export-text").value = text;
  const link = $("download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  link.download = kind === "talp" ? "gold.talp" : "links.pharaoh";
  link.textContent = "download " + link.download;
  link.hidden = false;
}

// ------------------------------------------------------------------ events

async function alignTyped() {
  const source = $("source").value, target = $("target").value;
  if (!source.trim() || !target.trim()) { status("type a source and a target sentence", true); return; }
  status("aligning…");
  try {
    state.pairs = await alignPairs([{ source, target }]);
    state.current = 0;
    $("navigator").hidden = true;
    $("tagged").value = source;
    status("aligned: " + state.pairs[0].links.size + " links");
    render();
  } catch (error) { status(error.message, true); }
}

async function openFile(file) {
  status("reading " + file.name + "…");
  try {
    const lines = (await file.text()).replace(/\r?\n$/, "").split(/\r?\n/);
    const pairs = lines.map((line, k) => splitLine(line, k + 1));
    state.pairs = await alignPairs(pairs);
    state.current = 0;
    $("navigator").hidden = state.pairs.length < 2;
    status("aligned " + state.pairs.length + " pairs of " + file.name);
    show(0);
  } catch (error) { status(error.message, true); }
}

function show(k) {
  state.current = Math.max(0, Math.min(state.pairs.length - 1, k));
  state.picked = null;
  const pair = state.pairs[state.current];
  $("source").value = pair.srcWords.join(" ");
  $("target").value = pair.tgtWords.join(" ");
  $("tagged").value = pair.srcWords.join(" ");
  $("position").textContent = "pair " + (state.current + 1) + " of " + state.pairs.length;
  $("transfer-out").textContent = "";
  render();
}

async function transfer() {
  const pair = state.pairs[state.current];
  try {
    const data = await post("transfer", { pairs: [{ source: $("tagged").value, target: pair.tgtWords, links: sortedLinks(pair) }] });
    $("transfer-out").textContent = data.results[0].target;
  } catch (error) { $("transfer-out").textContent = "⚠ " + error.message; }
}

function onWordClick(side, index) {
  const pair = state.pairs[state.current];
  // Pick a word on one side, then one on the other: that link is toggled.
  if (state.picked && state.picked.side !== side) {
    const [i, j] = side === "tgt" ? [state.picked.index, index] : [index, state.picked.index];
    state.picked = null;
    toggle(pair, i, j);
  } else {
    state.picked = { side, index };
    render();
  }
}

function setup() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) $("token").value = hash.get("token");
  $("align").addEventListener("click", alignTyped);
  for (const id of ["source", "target"]) $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") alignTyped(); });
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) openFile(e.target.files[0]); });
  $("prev").addEventListener("click", () => show(state.current - 1));
  $("next").addEventListener("click", () => show(state.current + 1));
  $("export-pharaoh").addEventListener("click", () => offerExport("pharaoh"));
  $("export-talp").addEventListener("click", () => offerExport("talp"));
  $("transfer").addEventListener("click", transfer);
  $("revert").addEventListener("click", () => {
    const pair = state.pairs[state.current];
    pair.links = new Map(pair.modelLinks.map(([i, j]) => [i + "-" + j, "sure"]));
    render();
  });
  $("matrix").addEventListener("click", (e) => {
    const td = e.target.closest("td");
    if (td) toggle(state.pairs[state.current], Number(td.dataset.i), Number(td.dataset.j));
  });
  $("lines").addEventListener("click", (e) => {
    const line = e.target.closest("line");
    if (!line) return;
    const [i, j] = line.dataset.link.split("-").map(Number);
    state.pairs[state.current].links.delete(i + "-" + j);
    render();
  });
  for (const id of ["src-row", "tgt-row"]) {
    $(id).addEventListener("click", (e) => {
      const w = e.target.closest(".word");
      if (w) onWordClick(w.dataset.side, Number(w.dataset.index));
    });
  }
  for (const id of ["src-row", "tgt-row", "matrix"]) {
    $(id).addEventListener("mouseover", (e) => {
      const w = e.target.closest("[data-side]");
      if (w) highlight(w.dataset.side, Number(w.dataset.index));
    });
    $(id).addEventListener("mouseleave", () => highlight(null));
  }
  window.addEventListener("resize", () => { if (state.pairs.length) drawLines(state.pairs[state.current]); });
}

setup();
