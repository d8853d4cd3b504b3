// The painterly page: pick a photo and a style, queue a job, follow its events, show the result.
// Plain JavaScript, no build step and no CDN, so the page works offline.
"use strict";

const $ = (id) => document.getElementById(id);
const MAIN_FIELDS = {
  stylize: ["size", "strength", "preserve_color"],
  arbitrary: ["size", "alpha", "preserve_color"],
  transfer: ["size", "style_weight", "iterations", "preserve_color"],
};
// Settings that make no sense in the page (the model is picked in the gallery).
const HIDDEN_FIELDS = ["model"];
const LABELS = {
  size: "Size (px, long side)", strength: "Strength", alpha: "Style strength (alpha)",
  preserve_color: "Preserve colour", style_weight: "Style weight", iterations: "Iterations",
};

const state = { photo: null, model: null, schema: null, job: null, source: null, offset: 0, pageSize: 24 };

// -- errors and the token ------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.scrollIntoView({ block: "nearest" });
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...options });
  } catch (err) {
    throw new Error("cannot reach the server: " + err.message);
  }
  if (response.status === 401) {
    $("token-form").hidden = false;
    $("token").focus();
    throw new Error("this server needs a token: enter it above");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body.error) message = body.error;
    } catch (_) { /* not JSON */ }
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return response;
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  // A cookie, because <img> and EventSource requests cannot carry an Authorization header.
  document.cookie = `painterly_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  $("token-form").hidden = true;
  showError("");
  init();
});

// -- the photo ---------------------------------------------------------------------------

function setPhoto(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    showError(`${file.name || "that file"} is not an image`);
    return;
  }
  state.photo = file;
  const img = $("photo-preview");
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  img.alt = "Your photo: " + (file.name || "pasted image");
  $("drop-text").textContent = (file.name || "pasted image") + " — drop, paste or choose another";
  showError("");
  updateHint();
}

const drop = $("drop");
$("photo").addEventListener("change", (e) => setPhoto(e.target.files[0]));
drop.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("photo").click(); }
});
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
drop.addEventListener("drop", (e) => { e.preventDefault(); setPhoto(e.dataTransfer.files[0]); });
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData || {}).items || []].find((i) => i.type.startsWith("image/"));
  if (item) setPhoto(item.getAsFile());
});

// -- method, gallery, styles ---------------------------------------------------------

function method() {
  return document.querySelector("input[name=method]:checked").value;
}

function styleFiles() {
  const m = method();
  if (m === "arbitrary") return [...$("style-arbitrary").files];
  if (m === "transfer") return [...$("style-transfer").files];
  return [];
}

function showStylePreviews() {
  const box = $("style-previews");
  box.replaceChildren(...styleFiles().map((f) => {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(f);
    img.alt = "Painting: " + f.name;
    return img;
  }));
}

function onMethod() {
  const m = method();
  for (const name of ["stylize", "arbitrary", "transfer"]) $("pane-" + name).hidden = name !== m;
  showStylePreviews();
  buildSettings();
  updateHint();
}

document.querySelectorAll("input[name=method]").forEach((r) => r.addEventListener("change", onMethod));
$("style-arbitrary").addEventListener("change", () => { showStylePreviews(); updateHint(); });
$("style-transfer").addEventListener("change", () => { showStylePreviews(); updateHint(); });

function buildGallery(models) {
  const gallery = $("gallery");
  gallery.replaceChildren();
  for (const model of models) {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", "false");
    button.dataset.model = model.name;
    const img = document.createElement("img");
    img.src = model.sample;
    img.alt = "";
    img.loading = "lazy";
    const label = document.createElement("span");
    label.textContent = model.name.replace(/_/g, " ");
    button.append(img, label);
    button.addEventListener("click", () => selectModel(model.name));
    gallery.append(button);
  }
  if (models.length && !state.model) selectModel(models[0].name, false);
}

function selectModel(name, focus = true) {
  state.model = name;
  for (const b of $("gallery").children) {
    const on = b.dataset.model === name;
    b.setAttribute("aria-checked", String(on));
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  updateHint();
}

$("gallery").addEventListener("keydown", (e) => {
  const buttons = [...$("gallery").children];
  const i = buttons.findIndex((b) => b.dataset.model === state.model);
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  if (step && buttons.length) {
    e.preventDefault();
    selectModel(buttons[(i + step + buttons.length) % buttons.length].dataset.model);
  }
});

// -- settings from the schema ------------------------------------------------------------

function fieldInput(field) {
  const id = "cfg-" + field.name;
  const label = document.createElement("label");
  label.title = field.help;
  let input;
  if (field.choices && field.choices.length) {
    input = document.createElement("select");
    for (const c of field.choices) input.append(new Option(c, c, false, c === field.default));
  } else if (field.type === "bool") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = !!field.default;
    label.className = "check";
  } else {
    input = document.createElement("input");
    if (field.type === "int" || field.type === "float") {
      input.type = "number";
      input.step = field.type === "int" ? "1" : "any";
      input.inputMode = field.type === "int" ? "numeric" : "decimal";
    } else {
      input.type = "text";
    }
    input.value = Array.isArray(field.default) ? field.default.join(", ") : String(field.default);
  }
  input.id = id;
  input.dataset.field = field.name;
  input.dataset.type = field.type;
  input.dataset.default = JSON.stringify(field.default);
  const text = document.createElement("span");
  text.textContent = LABELS[field.name] || field.name.replace(/_/g, " ");
  if (field.type === "bool") label.append(input, text); else label.append(text, input);
  return label;
}

function buildSettings() {
  if (!state.schema) return;
  const m = method();
  const fields = state.schema[m].filter((f) => !HIDDEN_FIELDS.includes(f.name));
  const main = MAIN_FIELDS[m];
  $("main-settings").replaceChildren(...main.map((n) => fields.find((f) => f.name === n)).filter(Boolean).map(fieldInput));
  $("advanced-settings").replaceChildren(...fields.filter((f) => !main.includes(f.name)).map(fieldInput));
}

function collectSettings() {
  const out = {};
  for (const input of document.querySelectorAll("#paint-form [data-field]")) {
    const type = input.dataset.type;
    const def = JSON.parse(input.dataset.default);
    let value;
    if (type === "bool") value = input.checked;
    else if (type.startsWith("list of")) {
      const text = input.value.trim();
      value = text ? text.split(/[,\s]+/).filter(Boolean) : [];
      if (JSON.stringify(value.map(String)) === JSON.stringify(def.map(String))) continue;
      out[input.dataset.field] = value;
      continue;
    } else value = input.value.trim();
    if (String(value) === String(def)) continue;  // send only what the user changed
    out[input.dataset.field] = value;
  }
  return out;
}

// -- submit ----------------------------------------------------------------------------

function missing() {
  if (!state.photo) return "choose a photo";
  const m = method();
  if (m === "stylize" && !state.model) return "pick a style";
  if (m !== "stylize" && !styleFiles().length) return "choose a painting";
  return "";
}

function updateHint() {
  const need = missing();
  $("hint").textContent = need ? "To paint: " + need : "";
}

$("paint-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const need = missing();
  if (need) { showError("Before painting, " + need + "."); return; }
  showError("");
  const form = new FormData();
  const m = method();
  form.append("content", state.photo, state.photo.name || "photo.png");
  form.append("method", m);
  if (m === "stylize") form.append("model", state.model);
  for (const f of styleFiles()) form.append("style", f, f.name);
  form.append("config", JSON.stringify(collectSettings()));
  $("paint").disabled = true;
  try {
    const response = await api("/api/jobs", { method: "POST", body: form });
    const job = await response.json();
    follow(job.id);
    loadHistory();
  } catch (err) {
    showError(err.message);
  } finally {
    $("paint").disabled = false;
  }
});

// -- following a job ---------------------------------------------------------------------

function formatEta(seconds) {
  if (seconds == null) return "";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}

function setProgress(fraction, text) {
  $("bar").value = fraction;
  $("progress-text").textContent = text;
}

let previewBusy = false;
function refreshPreview(id, step) {
  if (previewBusy) return;  // one request at a time: the server encodes on demand
  previewBusy = true;
  const img = $("live");
  const url = `/api/jobs/${id}/preview?step=${step}`;
  const probe = new Image();
  probe.onload = () => { img.src = url; img.hidden = false; previewBusy = false; };
  probe.onerror = () => { previewBusy = false; };
  probe.src = url;
}

function follow(id) {
  if (state.source) state.source.close();
  state.job = id;
  $("job").hidden = false;
  $("result").hidden = true;
  $("live").hidden = true;
  $("cancel").hidden = false;
  $("h-job").textContent = "Painting";
  setProgress(0, "queued");
  $("job").scrollIntoView({ behavior: "smooth", block: "nearest" });
  // EventSource reconnects by itself and sends Last-Event-ID, so no event is missed.
  const source = new EventSource(`/api/jobs/${id}/events`);
  state.source = source;
  source.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    const pct = Math.round(p.fraction * 100);
    setProgress(p.fraction, `${pct}% · ${formatEta(p.eta)}`);
    if (p.kind === "transfer") refreshPreview(id, p.step);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CONNECTING) $("progress-text").textContent = "connection lost, reconnecting…";
    else showError("Lost the connection to the server; reload the page to follow the job.");
  };
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    if (s.status === "queued") setProgress(0, s.note || "queued");
    else if (s.status === "running") setProgress(s.progress || 0, "starting…");
    else {
      source.close();
      state.source = null;
      finished(id);
    }
  });
}

async function finished(id) {
  $("cancel").hidden = true;
  loadHistory();
  let job;
  try {
    job = await (await api(`/api/jobs/${id}`)).json();
  } catch (err) { showError(err.message); return; }
  show(job);
}

function show(job) {
  state.job = job.id;
  $("job").hidden = false;
  $("cancel").hidden = job.status !== "queued" && job.status !== "running";
  const done = job.status === "done";
  $("h-job").textContent = done ? "Result" : job.status === "cancelled" ? "Cancelled" : job.status === "failed" ? "Failed" : "Painting";
  setProgress(job.progress, done ? "done" + (job.seconds ? ` in ${job.seconds < 1 ? job.seconds.toFixed(2) : job.seconds.toFixed(1)} s` : "") : job.status);
  if (job.status === "failed") showError("The job failed: " + job.error);
  if (job.status === "queued" || job.status === "running") { follow(job.id); return; }
  const hasResult = !!job.urls.result;
  $("result").hidden = !hasResult;
  $("live").hidden = true;
  if (!hasResult) return;
  const stamp = job.finished || "";
  $("before").src = job.urls.content;
  $("after").src = `${job.urls.result}?t=${stamp}`;
  for (const f of ["png", "jpeg", "webp"]) $("dl-" + f).href = `${job.urls.result}?format=${f}&download=true`;
  $("result-info").textContent = job.size ? `${job.size[0]}×${job.size[1]} px` +
    (job.status === "cancelled" ? " · the best picture before the cancel" : "") : "";
  setSlider(50);
}

$("cancel").addEventListener("click", async () => {
  if (!state.job) return;
  try {
    await api(`/api/jobs/${state.job}/cancel`, { method: "POST" });
    setProgress($("bar").value, "cancelling…");
  } catch (err) { showError(err.message); }
});

function setSlider(value) {
  $("slider").value = value;
  $("after-clip").style.clipPath = `inset(0 ${100 - value}% 0 0)`;
}
$("slider").addEventListener("input", (e) => setSlider(Number(e.target.value)));

// -- history ---------------------------------------------------------------------------

function historyItem(job) {
  const li = document.createElement("li");
  li.dataset.id = job.id;
  const open = document.createElement("button");
  open.type = "button";
  open.className = "open";
  const img = document.createElement("img");
  img.src = `${job.urls.thumbnail}?s=${job.status}`;
  img.alt = "";
  img.loading = "lazy";
  const what = job.method === "stylize" ? job.model.replace(/_/g, " ") : job.method === "arbitrary" ? "any painting" : "optimization";
  const label = document.createElement("span");
  label.textContent = `${what} · ${new Date(job.created * 1000).toLocaleString()}`;
  open.append(img, label);
  open.setAttribute("aria-label", `Open ${what} job from ${label.textContent.split(" · ")[1]}, ${job.status}`);
  open.addEventListener("click", async () => {
    try { show(await (await api(`/api/jobs/${job.id}`)).json()); } catch (err) { showError(err.message); }
  });
  const row = document.createElement("div");
  row.className = "row";
  const status = document.createElement("span");
  status.className = "status-" + job.status;
  status.textContent = job.status;
  const del = document.createElement("button");
  del.type = "button";
  del.className = "secondary del";
  del.textContent = job.status === "queued" || job.status === "running" ? "Cancel" : "Delete";
  del.setAttribute("aria-label", `${del.textContent} ${what} job`);
  del.addEventListener("click", async () => {
    try {
      await api(`/api/jobs/${job.id}`, { method: "DELETE" });
      if (state.job === job.id && del.textContent === "Delete") { $("job").hidden = true; state.job = null; }
      loadHistory();
    } catch (err) { showError(err.message); }
  });
  row.append(status, del);
  li.append(open, row);
  return li;
}

async function loadHistory(append = false) {
  if (!append) state.offset = 0;
  try {
    const limit = append ? state.pageSize : Math.max(state.pageSize, state.offset);
    const page = await (await api(`/api/jobs?offset=${append ? state.offset : 0}&limit=${Math.min(limit, 100)}`)).json();
    const items = page.jobs.map(historyItem);
    if (append) $("history").append(...items); else $("history").replaceChildren(...items);
    state.offset = (append ? state.offset : 0) + page.jobs.length;
    $("more").hidden = state.offset >= page.total;
  } catch (err) { showError(err.message); }
}
$("more").addEventListener("click", () => loadHistory(true));

// -- start -------------------------------------------------------------------------------

async function init() {
  try {
    const [models, schema] = await Promise.all([
      api("/api/models").then((r) => r.json()),
      api("/api/schema").then((r) => r.json()),
    ]);
    state.schema = schema;
    buildGallery(models.models);
    if (!models.arbitrary_models.length) {
      document.querySelector("input[value=arbitrary]").disabled = true;
    }
    buildSettings();
    updateHint();
    await loadHistory();
  } catch (err) {
    showError(err.message);
  }
}

init();
