// The studio page: a WebGL preview that samples the atlases through the baked maps (the formula of
// neural_atlases/editing/render.py, Renderer), a brush on the frame and on every atlas, undo, save.
// Frames arrive as raw blocks (neural_atlases/studio/frames.py); atlases as raw RGBA bytes.
"use strict";

const MAX_LAYERS = 4;
const studio = {
  meta: null, token: null, t: 0, playing: false, removed: new Set(), editable: false,
  blocks: new Map(), original: [], current: [], lastStroke: null,
  stats: { strokes: [], drawn: 0, playFps: null },
};
window.studio = studio;

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text || ""; };

async function api(path, options = {}) {
  const headers = Object.assign({ "X-Studio-Session": studio.token || "" }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}
const postJSON = (path, value) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value || {}),
}).then((r) => r.json());

// -- the edit session: one page at a time; a reload keeps its token -----------------------------
async function claim() {
  const token = sessionStorage.getItem("studio-token");
  try {
    const answer = await postJSON("/api/session", { token });
    studio.token = answer.token;
    sessionStorage.setItem("studio-token", answer.token);
    studio.editable = true;
  } catch (e) {
    studio.editable = false;
    status(e.message);
  }
}

// -- WebGL ------------------------------------------------------------------------------------
const VERTEX = `#version 300 es
in vec2 pos; void main() { gl_Position = vec4(pos, 0.0, 1.0); }`;

function fragmentSource() {
  const perLayer = (k) => `
  if (${k} < uLayers) {
    vec2 m = (vec2(texelFetch(uMap${k}, p, 0).rg) + uMapOffset[${k}]) / uMapScale[${k}];
    C[${k}] = readColour(uAtlas${k}, m);
    E[${k}] = readEdit(uAtlas${k}, uEdited${k}, m);
  }`;
  const samplers = [0, 1, 2, 3].map((k) =>
    `uniform highp usampler2D uMap${k}; uniform sampler2D uAtlas${k}; uniform sampler2D uEdited${k};`).join("\n");
  return `#version 300 es
precision highp float; precision highp int; precision highp usampler2D;
uniform sampler2D uFrame;
uniform highp usampler2D uShares;
${samplers}
uniform int uLayers; uniform int uHeight; uniform int uRemoving;
uniform float uMapOffset[4]; uniform float uMapScale[4];
uniform float uKept[4]; uniform float uDepth[4];
out vec4 outColor;

// cv2.remap's bilinear read: the position in 1/32-texel steps, the border replicated
void taps(ivec2 size, vec2 m, out ivec2 q0, out ivec2 q1, out vec2 f) {
  ivec2 iq = ivec2(floor(m * 32.0 + 0.5));
  q0 = iq >> 5; f = vec2(iq & 31) / 32.0; q1 = q0 + 1;
  q0 = clamp(q0, ivec2(0), size - 1); q1 = clamp(q1, ivec2(0), size - 1);
}
vec3 readColour(sampler2D s, vec2 m) {
  ivec2 q0, q1; vec2 f; taps(textureSize(s, 0), m, q0, q1, f);
  vec3 a = texelFetch(s, q0, 0).rgb, b = texelFetch(s, ivec2(q1.x, q0.y), 0).rgb;
  vec3 c = texelFetch(s, ivec2(q0.x, q1.y), 0).rgb, d = texelFetch(s, q1, 0).rgb;
  return (a * (1.0 - f.x) + b * f.x) * (1.0 - f.y) + (c * (1.0 - f.x) + d * f.x) * f.y;
}
// render.edit_from_atlas per texel: premultiplied, where the colour differs by more than 3 of 255
vec4 editTexel(sampler2D o, sampler2D e, ivec2 q) {
  vec4 a = texelFetch(o, q, 0), b = texelFetch(e, q, 0);
  vec3 d = abs(b.rgb - a.rgb) * 255.0;
  float al = max(d.r, max(d.g, d.b)) > 3.5 ? b.a : 0.0;
  return vec4(b.rgb * al, al);
}
vec4 readEdit(sampler2D o, sampler2D e, vec2 m) {
  ivec2 q0, q1; vec2 f; taps(textureSize(o, 0), m, q0, q1, f);
  vec4 a = editTexel(o, e, q0), b = editTexel(o, e, ivec2(q1.x, q0.y));
  vec4 c = editTexel(o, e, ivec2(q0.x, q1.y)), d = editTexel(o, e, q1);
  return (a * (1.0 - f.x) + b * f.x) * (1.0 - f.y) + (c * (1.0 - f.x) + d * f.x) * f.y;
}
float keptShare(ivec2 q) {
  vec4 s = vec4(texelFetch(uShares, q, 0)) / 65535.0;
  return s.r * uKept[0] + s.g * uKept[1] + s.b * uKept[2] + s.a * uKept[3];
}
void main() {
  ivec2 p = ivec2(int(gl_FragCoord.x), uHeight - 1 - int(gl_FragCoord.y));
  vec3 frame = texelFetch(uFrame, p, 0).rgb;
  vec4 sv = vec4(texelFetch(uShares, p, 0)) / 65535.0;
  float s[4] = float[4](sv.r, sv.g, sv.b, sv.a);
  vec3 C[4]; vec4 E[4];
  for (int k = 0; k < 4; ++k) { C[k] = vec3(0.0); E[k] = vec4(0.0); }
  ${[0, 1, 2, 3].map(perLayer).join("\n")}
  vec3 recon = vec3(0.0);
  for (int k = 0; k < 4; ++k) recon += s[k] * C[k];
  vec3 residual = frame - recon;
  vec3 outc;
  if (uRemoving == 0) {  // Renderer._edits_only
    outc = frame;
    for (int k = 0; k < 4; ++k) outc += s[k] * (E[k].rgb - E[k].a * (C[k] + residual));
  } else {  // render.redistribute, removal_matte, then the edits of the kept layers
    float r[4];
    for (int k = 0; k < 4; ++k) r[k] = s[k] * uKept[k];
    for (int k = 0; k < 4; ++k) {
      if (k >= uLayers || uKept[k] > 0.5) continue;
      int behind = 0; float total = 0.0; int back = -1;
      for (int j = 0; j < 4; ++j) if (j < uLayers && uKept[j] > 0.5 && uDepth[j] < uDepth[k]) {
        behind++; total += s[j]; if (back < 0 || uDepth[j] < uDepth[back]) back = j; }
      bool all = behind == 0;
      if (all) { total = 0.0; for (int j = 0; j < 4; ++j) if (j < uLayers && uKept[j] > 0.5) {
        total += s[j]; if (back < 0 || uDepth[j] < uDepth[back]) back = j; } }
      for (int j = 0; j < 4; ++j) {
        bool mine = j < uLayers && uKept[j] > 0.5 && (all || uDepth[j] < uDepth[k]);
        if (!mine) continue;
        if (total <= 1e-30) { if (j == back) r[j] += s[k]; } else r[j] += s[k] * s[j] / total;
      }
    }
    vec3 below = vec3(0.0);
    for (int k = 0; k < 4; ++k) below += r[k] * C[k];
    vec3 kept = below + residual;
    ivec2 size = textureSize(uShares, 0);
    float matte = 0.0;
    for (int dy = -1; dy <= 1; ++dy) for (int dx = -1; dx <= 1; ++dx) {
      ivec2 q = p + ivec2(dx, dy);
      if (q.x < 0 || q.y < 0 || q.x >= size.x || q.y >= size.y) continue;
      matte = max(matte, clamp(1.0 - keptShare(q), 0.0, 1.0));
    }
    outc = kept + (below - kept) * matte;
    for (int k = 0; k < 4; ++k) outc += r[k] * uKept[k] * (E[k].rgb - E[k].a * C[k]);
  }
  outColor = vec4(clamp(outc, 0.0, 1.0), 1.0);
}`;
}

const gl = { ctx: null, program: null, tex: {}, units: {} };

function compile(ctx, kind, source) {
  const shader = ctx.createShader(kind);
  ctx.shaderSource(shader, source);
  ctx.compileShader(shader);
  if (!ctx.getShaderParameter(shader, ctx.COMPILE_STATUS)) throw new Error(ctx.getShaderInfoLog(shader));
  return shader;
}

function texture(unit, internal, format, type, width, height, data) {
  const ctx = gl.ctx;
  const tex = ctx.createTexture();
  ctx.activeTexture(ctx.TEXTURE0 + unit);
  ctx.bindTexture(ctx.TEXTURE_2D, tex);
  for (const p of [ctx.TEXTURE_MIN_FILTER, ctx.TEXTURE_MAG_FILTER]) ctx.texParameteri(ctx.TEXTURE_2D, p, ctx.NEAREST);
  for (const p of [ctx.TEXTURE_WRAP_S, ctx.TEXTURE_WRAP_T]) ctx.texParameteri(ctx.TEXTURE_2D, p, ctx.CLAMP_TO_EDGE);
  ctx.texImage2D(ctx.TEXTURE_2D, 0, internal, width, height, 0, format, type, data);
  return tex;
}

function setupGL() {
  const { width, height, layers } = studio.meta;
  const canvas = $("preview");
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("webgl2", { preserveDrawingBuffer: true, antialias: false, premultipliedAlpha: false });
  if (!ctx) throw new Error("this browser has no WebGL 2: the preview needs it");
  gl.ctx = ctx;
  ctx.pixelStorei(ctx.UNPACK_ALIGNMENT, 1);
  ctx.pixelStorei(ctx.UNPACK_COLORSPACE_CONVERSION_WEBGL, ctx.NONE);
  const program = ctx.createProgram();
  ctx.attachShader(program, compile(ctx, ctx.VERTEX_SHADER, VERTEX));
  ctx.attachShader(program, compile(ctx, ctx.FRAGMENT_SHADER, fragmentSource()));
  ctx.linkProgram(program);
  if (!ctx.getProgramParameter(program, ctx.LINK_STATUS)) throw new Error(ctx.getProgramInfoLog(program));
  ctx.useProgram(program);
  gl.program = program;
  const buffer = ctx.createBuffer();
  ctx.bindBuffer(ctx.ARRAY_BUFFER, buffer);
  ctx.bufferData(ctx.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), ctx.STATIC_DRAW);
  const loc = ctx.getAttribLocation(program, "pos");
  ctx.enableVertexAttribArray(loc);
  ctx.vertexAttribPointer(loc, 2, ctx.FLOAT, false, 0, 0);
  const u = (name) => ctx.getUniformLocation(program, name);
  // units: 0 frame, 1 shares, 2 + 3k map, 3 + 3k atlas, 4 + 3k edited atlas
  gl.tex.frame = texture(0, ctx.RGBA8, ctx.RGBA, ctx.UNSIGNED_BYTE, width, height, null);
  gl.tex.shares = texture(1, ctx.RGBA16UI, ctx.RGBA_INTEGER, ctx.UNSIGNED_SHORT, width, height, null);
  ctx.uniform1i(u("uFrame"), 0);
  ctx.uniform1i(u("uShares"), 1);
  gl.tex.maps = []; gl.tex.atlas = []; gl.tex.edited = [];
  for (let k = 0; k < MAX_LAYERS; ++k) {
    const real = k < layers.length;
    const [w, h] = real ? [width, height] : [1, 1];
    const [aw, ah] = real ? [layers[k].width, layers[k].height] : [1, 1];
    gl.tex.maps.push(texture(2 + 3 * k, ctx.RG16UI, ctx.RG_INTEGER, ctx.UNSIGNED_SHORT, w, h, null));
    gl.tex.atlas.push(texture(3 + 3 * k, ctx.RGBA8, ctx.RGBA, ctx.UNSIGNED_BYTE, aw, ah, null));
    gl.tex.edited.push(texture(4 + 3 * k, ctx.RGBA8, ctx.RGBA, ctx.UNSIGNED_BYTE, aw, ah, null));
    ctx.uniform1i(u(`uMap${k}`), 2 + 3 * k);
    ctx.uniform1i(u(`uAtlas${k}`), 3 + 3 * k);
    ctx.uniform1i(u(`uEdited${k}`), 4 + 3 * k);
  }
  ctx.uniform1i(u("uLayers"), layers.length);
  ctx.uniform1i(u("uHeight"), height);
  const pad = (values, fill) => Array.from({ length: MAX_LAYERS }, (_, k) => (k < values.length ? values[k] : fill));
  ctx.uniform1fv(u("uMapOffset"), pad(layers.map((l) => l.map_offset), 0));
  ctx.uniform1fv(u("uMapScale"), pad(layers.map((l) => l.map_scale), 1));
  gl.u = u;
}

function upload(unit, tex, internal, format, type, width, height, data) {
  const ctx = gl.ctx;
  ctx.activeTexture(ctx.TEXTURE0 + unit);
  ctx.bindTexture(ctx.TEXTURE_2D, tex);
  ctx.texSubImage2D(ctx.TEXTURE_2D, 0, 0, 0, width, height, format, type, data);
}

function uploadAtlas(k, which) {
  const ctx = gl.ctx, layer = studio.meta.layers[k];
  const data = which === "original" ? studio.original[k] : studio.current[k];
  const unit = which === "original" ? 3 + 3 * k : 4 + 3 * k;
  const tex = which === "original" ? gl.tex.atlas[k] : gl.tex.edited[k];
  upload(unit, tex, ctx.RGBA8, ctx.RGBA, ctx.UNSIGNED_BYTE, layer.width, layer.height, data);
}

function uploadBlock(block) {
  const ctx = gl.ctx, { width, height, layers } = studio.meta;
  const n = width * height;
  upload(0, gl.tex.frame, ctx.RGBA8, ctx.RGBA, ctx.UNSIGNED_BYTE, width, height, new Uint8Array(block, 0, 4 * n));
  upload(1, gl.tex.shares, ctx.RGBA16UI, ctx.RGBA_INTEGER, ctx.UNSIGNED_SHORT, width, height,
    new Uint16Array(block, 4 * n, 4 * n));
  for (let k = 0; k < layers.length; ++k) {
    upload(2 + 3 * k, gl.tex.maps[k], ctx.RG16UI, ctx.RG_INTEGER, ctx.UNSIGNED_SHORT, width, height,
      new Uint16Array(block, 12 * n + 4 * n * k, 2 * n));
  }
}

function draw(t) {
  const ctx = gl.ctx, layers = studio.meta.layers;
  const kept = Array.from({ length: MAX_LAYERS }, (_, k) => (k < layers.length && !studio.removed.has(k) ? 1 : 0));
  const depth = studio.meta.depth[t] || [];
  ctx.uniform1fv(gl.u("uKept"), kept);
  ctx.uniform1fv(gl.u("uDepth"), Array.from({ length: MAX_LAYERS }, (_, k) => depth[k] ?? k));
  ctx.uniform1i(gl.u("uRemoving"), studio.removed.size > 0 ? 1 : 0);
  ctx.viewport(0, 0, studio.meta.width, studio.meta.height);
  ctx.drawArrays(ctx.TRIANGLE_STRIP, 0, 4);
  ctx.finish();
  studio.stats.drawn += 1;
}

// -- frames -----------------------------------------------------------------------------------
function block(t) {
  if (!studio.blocks.has(t)) {
    studio.blocks.set(t, api(`/api/frame/${t}`).then((r) => r.arrayBuffer()));
  }
  return studio.blocks.get(t);
}

let shownBlock = -1;
async function show(t) {
  studio.t = t;
  $("scrubber").value = String(t);
  $("frame-label").textContent = `${t} / ${studio.meta.frames - 1}`;
  const data = await block(t);
  if (studio.t !== t) return false;  // scrubbed on meanwhile
  if (shownBlock !== t) { uploadBlock(data); shownBlock = t; }
  draw(t);
  return true;
}
studio.show = show;

function readPreview() {  // the preview's pixels, top row first, as base64 RGBA (for tests)
  const ctx = gl.ctx, { width, height } = studio.meta;
  const pixels = new Uint8Array(width * height * 4);
  ctx.readPixels(0, 0, width, height, ctx.RGBA, ctx.UNSIGNED_BYTE, pixels);
  const flipped = new Uint8Array(pixels.length);
  for (let y = 0; y < height; ++y) {
    flipped.set(pixels.subarray((height - 1 - y) * width * 4, (height - y) * width * 4), y * width * 4);
  }
  let text = "";
  for (let i = 0; i < flipped.length; i += 0x8000) text += String.fromCharCode.apply(null, flipped.subarray(i, i + 0x8000));
  return btoa(text);
}
studio.readPreview = readPreview;

function play() {
  studio.playing = !studio.playing;
  $("play").textContent = studio.playing ? "pause" : "play";
  if (!studio.playing) return;
  const fps = studio.meta.fps, start = performance.now(), first = studio.t;
  let shown = 0;
  const tick = async () => {
    if (!studio.playing) return;
    const elapsed = (performance.now() - start) / 1000;
    const t = (first + Math.floor(elapsed * fps)) % studio.meta.frames;
    for (let k = 1; k <= 3; ++k) block((t + k) % studio.meta.frames);  // prefetch
    if (t !== studio.t || shown === 0) { if (await show(t)) shown += 1; }
    if (elapsed > 0.5) studio.stats.playFps = shown / elapsed;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// -- atlases ----------------------------------------------------------------------------------
async function fetchAtlas(k, which) {
  const bytes = new Uint8Array(await (await api(`/api/atlas/${k}/${which}`)).arrayBuffer());
  (which === "original" ? studio.original : studio.current)[k] = bytes;
  uploadAtlas(k, which);
  if (which === "current") drawAtlas(k);
}

function drawAtlas(k) {
  const layer = studio.meta.layers[k], canvas = $(`atlas-${k}`);
  const pixels = new Uint8ClampedArray(studio.current[k]);
  for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255;
  canvas.getContext("2d").putImageData(new ImageData(pixels, layer.width, layer.height), 0, 0);
}

function buildLayers() {
  const panel = $("atlas-panel"), toggles = $("layers");
  studio.meta.layers.forEach((layer, k) => {
    const box = document.createElement("div");
    box.className = "atlas"; box.id = `atlas-box-${k}`;
    box.innerHTML = `<div>${layer.name} atlas (${layer.width}x${layer.height})</div>
      <div class="stage"><canvas id="atlas-${k}"></canvas><canvas id="atlas-stroke-${k}" class="stroke"></canvas></div>`;
    panel.appendChild(box);
    for (const id of [`atlas-${k}`, `atlas-stroke-${k}`]) {
      $(id).width = layer.width; $(id).height = layer.height;
    }
    const row = document.createElement("span");
    row.innerHTML = `${layer.name}: <label><input type="checkbox" id="show-${k}" checked> atlas shown</label>
      <label><input type="checkbox" id="remove-${k}"> removed</label>`;
    toggles.appendChild(row);
    $(`show-${k}`).addEventListener("change", (e) => box.classList.toggle("hidden", !e.target.checked));
    $(`remove-${k}`).addEventListener("change", setRemoved);
    brush($(`atlas-stroke-${k}`), `/api/stroke/atlas/${k}`);
  });
}

async function setRemoved() {
  const removed = studio.meta.layers.map((_, k) => k).filter((k) => $(`remove-${k}`).checked);
  try {
    const state = await postJSON("/api/layers", { removed });
    applyState(state);
  } catch (e) {
    status(e.message);
    studio.meta.layers.forEach((_, k) => { $(`remove-${k}`).checked = studio.removed.has(k); });
  }
  await show(studio.t);
}

function applyState(state) {
  studio.removed = new Set(state.removed);
  studio.meta.layers.forEach((_, k) => { $(`remove-${k}`).checked = studio.removed.has(k); });
  $("undo").disabled = !state.can_undo || !studio.editable;
  $("redo").disabled = !state.can_redo || !studio.editable;
}

// -- the brush --------------------------------------------------------------------------------
function tool() {
  return {
    erase: document.querySelector("input[name=tool]:checked").value === "eraser",
    size: Number($("size").value),
    hardness: Number($("hardness").value) / 100,
    colour: $("colour").value,
    opacity: Number($("opacity").value) / 100,
  };
}

function dab(ctx, x, y, t) {
  const r = Math.max(t.size / 2, 0.5);
  const hex = t.erase ? "#ffffff" : t.colour;
  const [cr, cg, cb] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const g = ctx.createRadialGradient(x, y, 0, x, y, r);
  g.addColorStop(0, `rgba(${cr},${cg},${cb},1)`);
  g.addColorStop(Math.min(t.hardness, 0.999), `rgba(${cr},${cg},${cb},1)`);
  g.addColorStop(1, `rgba(${cr},${cg},${cb},0)`);
  ctx.fillStyle = g;
  ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
}

function brush(canvas, endpoint) {
  const ctx = canvas.getContext("2d");
  let last = null, current = null;
  const at = (e) => {
    const rect = canvas.getBoundingClientRect();
    return [(e.clientX - rect.left) * canvas.width / rect.width, (e.clientY - rect.top) * canvas.height / rect.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (!studio.editable || e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    current = tool();
    canvas.style.opacity = String(current.erase ? 0.5 : current.opacity);
    last = at(e);
    dab(ctx, last[0], last[1], current);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = at(e), step = Math.max(current.size / 4, 0.5);
    const d = Math.hypot(p[0] - last[0], p[1] - last[1]);
    for (let s = step; s <= d; s += step) {
      dab(ctx, last[0] + (p[0] - last[0]) * s / d, last[1] + (p[1] - last[1]) * s / d, current);
    }
    if (d >= step) last = p;
  });
  const end = async () => {
    if (!last) return;
    last = null;
    await commit(canvas, endpoint, current);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

async function commit(canvas, endpoint, t) {
  const started = performance.now();
  const out = document.createElement("canvas");
  out.width = canvas.width; out.height = canvas.height;
  const octx = out.getContext("2d");
  octx.globalAlpha = t.erase ? 1 : t.opacity;
  octx.drawImage(canvas, 0, 0);
  const blob = await new Promise((resolve) => out.toBlob(resolve, "image/png"));
  studio.lastStroke = out.toDataURL("image/png");
  const where = endpoint.includes("/frame/") ? `${endpoint}${studio.t}` : endpoint;
  try {
    const state = await (await api(`${where}?mode=${t.erase ? "erase" : "paint"}`, {
      method: "POST", headers: { "Content-Type": "image/png" }, body: blob,
    })).json();
    await changed(state);
    studio.stats.strokes.push(performance.now() - started);
    status("");
  } catch (e) {
    status(e.message);
  }
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

async function changed(state) {
  await Promise.all(state.changed.map((k) => fetchAtlas(k, "current")));
  applyState(state);
  await show(studio.t);
}

async function undoRedo(which) {
  try { await changed(await postJSON(`/api/${which}`)); } catch (e) { status(e.message); }
}

// -- save -------------------------------------------------------------------------------------
async function save() {
  try {
    await postJSON("/api/save");
  } catch (e) { status(e.message); return; }
  $("save").disabled = true;
  for (;;) {
    const s = await (await api("/api/save")).json();
    $("save-progress").max = Math.max(s.total, 1);
    $("save-progress").value = s.done;
    $("save-status").textContent = s.state === "saving" ? `${s.message} ${s.done}/${s.total}` : `${s.state}: ${s.message}`;
    if (s.state !== "saving") break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  $("save").disabled = false;
}

// -- start ------------------------------------------------------------------------------------
async function start() {
  studio.meta = await (await api("/api/meta")).json();
  $("project").textContent = `${studio.meta.project}: ${studio.meta.frames} frames of ${studio.meta.width}x${studio.meta.height}`;
  await claim();
  setupGL();
  const stroke = $("frame-stroke");
  stroke.width = studio.meta.width; stroke.height = studio.meta.height;
  buildLayers();
  await Promise.all(studio.meta.layers.flatMap((_, k) => [fetchAtlas(k, "original"), fetchAtlas(k, "current")]));
  applyState(studio.meta);
  brush(stroke, "/api/stroke/frame/");
  $("scrubber").max = String(studio.meta.frames - 1);
  $("scrubber").addEventListener("input", (e) => show(Number(e.target.value)));
  $("play").addEventListener("click", play);
  $("undo").addEventListener("click", () => undoRedo("undo"));
  $("redo").addEventListener("click", () => undoRedo("redo"));
  $("save").addEventListener("click", save);
  $("save").disabled = !studio.editable;
  $("size").addEventListener("input", (e) => { $("size-out").textContent = e.target.value; });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") undoRedo(e.shiftKey ? "redo" : "undo");
  });
  setInterval(() => { if (studio.editable) postJSON("/api/session", { token: studio.token }).catch(() => {}); }, 10000);
  await show(0);
  studio.ready = true;
}

start().catch((e) => { status(e.message); studio.failed = String(e.message); });
