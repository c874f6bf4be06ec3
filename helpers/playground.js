// The playground's front end (an anywidget ES module): a canvas, a text box and a keypad that set
// the model's `query`, and a results panel that shows the model's `answer`. Python does all the
// work (helpers/playground.py); this file only draws and listens. Taught in 08_playground.

const NAMES = { image: "images", text: "texts", audio: "tones" };

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

function ask(model, query) {
  const previous = model.get("query") || {};
  const seq = (previous.seq || 0) + 1;
  model.set("query", { ...query, seq });
  model.save_changes();
  return seq;
}

function makeCanvas(model) {
  const size = model.get("canvas_size");
  const canvas = element("canvas", {
    width: size, height: size, class: "pg-canvas", "data-role": "canvas",
    "aria-label": "Draw a digit here",
  });
  const pen = canvas.getContext("2d");
  let strokes = [];
  let current = null;
  let seen = 0;  // the last drawing query this canvas shows

  function paint() {
    pen.fillStyle = "black";
    pen.fillRect(0, 0, size, size);
    pen.strokeStyle = "white";
    pen.fillStyle = "white";
    pen.lineWidth = model.get("pen_width");
    pen.lineCap = "round";
    pen.lineJoin = "round";
    for (const stroke of strokes) {
      pen.beginPath();
      stroke.forEach(([x, y], index) => (index ? pen.lineTo(x, y) : pen.moveTo(x, y)));
      if (stroke.length === 1) pen.lineTo(stroke[0][0] + 0.01, stroke[0][1]);
      pen.stroke();
    }
  }
  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [
      Math.round(((event.clientX - box.left) * size) / box.width * 10) / 10,
      Math.round(((event.clientY - box.top) * size) / box.height * 10) / 10,
    ];
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    strokes.push(current);
    paint();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const each of events.length ? events : [event]) current.push(point(each));
    paint();
  });
  function finish() {
    if (!current) return;
    current = null;
    seen = ask(model, {
      kind: "drawing", strokes, canvas_size: [size, size], pen_width: model.get("pen_width"),
    });
  }
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  paint();
  function clear() {
    strokes = [];
    current = null;
    paint();
  }
  function show(query) {
    // A drawing asked from Python (Playground.draw) appears on the canvas too.
    if (query && query.kind === "drawing" && query.seq !== seen) {
      seen = query.seq;
      strokes = query.strokes.map((stroke) => stroke.map(([x, y]) => [x, y]));
      paint();
    }
  }
  return { canvas, clear, show };
}

function makeKeypad(model, onPress) {
  const pad = element("div", { class: "pg-keypad" });
  for (const key of model.get("keypad")) {
    const button = element("button", {
      class: "pg-key", type: "button", "data-role": `key-${key.trim() || "none"}`,
      text: key.trim() || "\u00a0",
    });
    if (key.trim()) button.addEventListener("click", () => onPress(key));
    else button.disabled = true;
    pad.appendChild(button);
  }
  return pad;
}

function makeOptions(model) {
  const k = element("input", {
    type: "number", min: 1, max: model.get("max_k"), value: model.get("k"),
    class: "pg-k", "data-role": "k", "aria-label": "results per modality",
  });
  k.addEventListener("change", () => {
    const value = Math.max(1, Math.min(model.get("max_k"), parseInt(k.value, 10) || 1));
    k.value = value;
    model.set("k", value);
    model.save_changes();
  });
  const boxes = Object.keys(NAMES).map((modality) => {
    const box = element("input", { type: "checkbox", "data-role": `target-${modality}` });
    box.checked = model.get("targets").includes(modality);
    box.addEventListener("change", () => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.dataset.role.slice(7));
      if (!chosen.length) { box.checked = true; return; }
      model.set("targets", chosen);
      model.save_changes();
    });
    return box;
  });
  const labels = boxes.map((box) =>
    element("label", {}, [box, document.createTextNode(" " + NAMES[box.dataset.role.slice(7)])]));
  return element("div", { class: "pg-options" }, [
    element("label", {}, [document.createTextNode("top "), k]), ...labels,
  ]);
}

// Three decimals where a column's cosines are all near 1 (or one would print as 1.00 below it),
// else two: the series' rule (plots.style.cosine_decimals).
function decimals(rows) {
  const near = rows.every((row) => row.similarity >= 0.95);
  return near || rows.some((row) => row.similarity >= 0.995 && row.similarity < 1) ? 3 : 2;
}

function resultItem(modality, row, rank, places) {
  const item = element("div", {
    class: "pg-item", "data-modality": modality, "data-label": row.label, "data-rank": rank,
  });
  if (modality === "image") item.appendChild(element("img", { src: row.picture, alt: `digit ${row.label}` }));
  if (modality === "text") item.appendChild(element("code", { text: JSON.stringify(row.text) }));
  if (modality === "audio") item.appendChild(element("audio", { controls: "", src: row.audio, preload: "none" }));
  item.appendChild(element("span", {
    class: "pg-caption", text: `${rank}. digit ${row.label} · cos ${row.similarity.toFixed(places)}`,
  }));
  return item;
}

function showAnswer(panel, status, preview, reply, playNow) {
  panel.replaceChildren();
  preview.replaceChildren();
  status.dataset.seq = reply.seq ?? 0;
  status.dataset.status = reply.status || "";
  status.dataset.kind = reply.kind || "";
  if (reply.status !== "ok") {
    status.textContent = reply.message || "";
    return;
  }
  const query = reply.query;
  if (query.picture) {
    preview.append(element("img", { src: query.picture, alt: "your digit as 28 x 28" }),
      element("span", { text: "what the network sees (28 x 28)" }));
  }
  if (query.text) preview.append(element("code", { text: JSON.stringify(query.text) }));
  if (query.audio) {
    const player = element("audio", { controls: "", src: query.audio });
    preview.append(element("span", { text: `key ${query.key}: ` }), player);
    if (playNow) player.play().catch(() => {});  // a browser may refuse to play without a click
  }
  const counts = Object.entries(reply.results).map(([m, rows]) => `${rows.length} ${NAMES[m]}`);
  status.textContent =
    `${query.modality} query: ${counts.join(", ")} in ${reply.timing_ms.total.toFixed(0)} ms`;
  for (const [modality, rows] of Object.entries(reply.results)) {
    const column = element("div", { class: "pg-column", "data-role": `results-${modality}` }, [
      element("h4", { text: NAMES[modality] }),
    ]);
    const places = decimals(rows);
    rows.forEach((row, index) => column.appendChild(resultItem(modality, row, index + 1, places)));
    panel.appendChild(column);
  }
}

function render({ model, el }) {
  const status = element("div", { class: "pg-status", "data-role": "status",
    text: "Draw a digit, type a word or press a key." });
  const preview = element("div", { class: "pg-preview", "data-role": "query" });
  const panel = element("div", { class: "pg-results", "data-role": "results" });
  const drawing = makeCanvas(model);
  const clear = element("button", { type: "button", "data-role": "clear", text: "clear" });
  clear.addEventListener("click", drawing.clear);
  const text = element("input", { type: "text", class: "pg-text", "data-role": "text",
    placeholder: "a digit in any way: 7, seven, sieben, VII", "aria-label": "type a digit" });
  let typing = null;
  text.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => ask(model, { kind: "text", text: text.value }), 200);
  });
  let playNext = false;
  const keypad = makeKeypad(model, (key) => {
    playNext = true;
    ask(model, { kind: "key", key });
  });
  const inputs = element("div", { class: "pg-inputs" }, [
    drawing.canvas, clear, text, keypad, makeOptions(model),
  ]);
  const outputs = element("div", { class: "pg-outputs" }, [status, preview, panel]);
  el.appendChild(element("div", { class: "pg-root" }, [inputs, outputs]));
  function update() {
    const reply = model.get("answer") || {};
    if (!reply.status) return;
    showAnswer(panel, status, preview, reply, playNext && reply.kind === "key");
    playNext = false;
    drawing.show(model.get("query"));
  }
  model.on("change:answer", update);
  update();
  return () => model.off("change:answer", update);
}

export default { render };
