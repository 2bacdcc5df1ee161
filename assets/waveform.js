// Labelport waveform segment editor: the body of gr.HTML(js_on_load=...), run with element,
// trigger, props, watch. See components/waveform.py for the value contract.
//
// Only the visible window's peaks are fetched (/media/{id}/peaks?start=&end=&buckets=), so a
// 2-hour file never loads whole; zoom (+/-, Ctrl+wheel) and scroll (wheel, the scroll bar).
// Events: trigger('save') and trigger('navigate') only; Gradio dispatches 'change' itself
// whenever props.value changes. Every text from the value reaches the DOM via textContent.
'use strict';

const doc = element.ownerDocument;
const root = element.querySelector('.wf-root') || element;
root.textContent = '';
root.tabIndex = 0;
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];
const HEX = /^#[0-9a-fA-F]{6}$/;
const EDGE_PX = 6;
const MIN_SEG = 0.02;  // seconds

function el(tag, attrs, ...kids) {
  const n = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) n.append(kid);
  return n;
}
const clone = (x) => JSON.parse(JSON.stringify(x));
const r3 = (x) => Math.round(x * 1000) / 1000;
function fmt(t) {
  if (!Number.isFinite(t)) return '–';
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t - h * 3600 - m * 60;
  const ss = s.toFixed(3).padStart(6, '0');
  return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + ':' + ss;
}

// -- state -----------------------------------------------------------------------------------
let V = null;
let lastJSON = '';
let duration = 0;
let segments = [];     // [{id, start, end, label | labels, content?}]
let labels = [];       // [{name, color}]
let classes = [];      // [{name, labels}]
let speech = false;
let selectedId = null;
let baseline = '';
let view0 = 0, view1 = 0;  // the visible window, seconds
let peaks = null;          // {start, end, min: [], max: []}
let peaksKey = '';
let fetchTimer = null;
let drag = null;           // {kind: 'new'|'edge', id, edge, t0, x0, moved}
let segEnd = null;         // playing one segment: stop here

// -- layout ----------------------------------------------------------------------------------
const toolbar = el('div', { class: 'wf-toolbar', role: 'toolbar' });
const playBtn = el('button', { type: 'button', class: 'wf-btn', 'data-testid': 'wf-play', title: 'Play / pause (Space)', text: '▶ Play' });
const segBtn = el('button', { type: 'button', class: 'wf-btn', 'data-testid': 'wf-play-segment', title: 'Play the selected segment (P)', text: '▶ Segment' });
const zoomIn = el('button', { type: 'button', class: 'wf-btn', 'data-testid': 'wf-zoom-in', title: 'Zoom in (+)', text: '+' });
const zoomOut = el('button', { type: 'button', class: 'wf-btn', 'data-testid': 'wf-zoom-out', title: 'Zoom out (-)', text: '−' });
const zoomAll = el('button', { type: 'button', class: 'wf-btn', title: 'Show the whole file (0)', text: 'Fit' });
const timeBox = el('span', { class: 'wf-time', 'data-testid': 'wf-time' });
toolbar.append(playBtn, segBtn, zoomOut, zoomIn, zoomAll, timeBox);
const message = el('div', { class: 'wf-message', role: 'status', 'aria-live': 'polite', 'data-testid': 'wf-message' });
const canvasBox = el('div', { class: 'wf-canvas-box' });
const canvas = el('canvas', { class: 'wf-canvas', 'data-testid': 'wf-canvas', 'aria-label': 'waveform: drag to make a segment' });
canvasBox.append(canvas);
const scroller = el('input', { type: 'range', class: 'wf-scroll', min: '0', max: '1000', value: '0', 'aria-label': 'scroll the waveform' });
const audio = el('audio', { class: 'wf-audio', preload: 'metadata', 'data-testid': 'wf-audio' });
const editor = el('div', { class: 'wf-editor', 'data-testid': 'wf-editor' });
const tableBox = el('div', { class: 'wf-table-box' });
const hint = el('div', { class: 'wf-hint', text:
  'Drag on the waveform to make a segment · drag its edges to adjust · click to select · Space play/pause · P play segment · 1-9 label · Delete removes · +/- zoom · Ctrl+S saves · Alt+←/→ previous/next file' });
root.append(toolbar, message, canvasBox, scroller, audio, editor, tableBox, hint);
const ctx2d = canvas.getContext('2d');

function showMessage(text, kind) {
  message.textContent = text || '';
  message.className = 'wf-message' + (kind ? ' wf-' + kind : '');
}
function colorOf(name) {
  const i = labels.findIndex((l) => l.name === name);
  if (i < 0) return '#888888';
  return HEX.test(labels[i].color || '') ? labels[i].color : PALETTE[i % PALETTE.length];
}
function segColor(s) {
  if (classes.length) {
    const first = Object.values(s.labels || {}).find(Boolean);
    if (!first) return '#888888';
    let h = 0; for (const c of first) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }
  return s.label ? colorOf(s.label) : '#888888';
}
function segLabelText(s) {
  if (classes.length) return classes.map((c) => (s.labels || {})[c.name]).filter(Boolean).join(', ');
  return s.label || '';
}
const byId = (id) => segments.find((s) => s.id === id);
function snapshot() { return JSON.stringify(segments); }

// -- value in / out --------------------------------------------------------------------------
function publish(extra) {
  V = { ...V, segments: clone(segments), selected: selectedId, dirty: snapshot() !== baseline, message: null, action: null, ...(extra || {}) };
  lastJSON = JSON.stringify(V);
  props.value = V;  // Gradio dispatches 'change'
}
function load(v) {
  v = v && typeof v === 'object' ? v : {};
  const j = JSON.stringify(v);
  if (j === lastJSON) return;
  lastJSON = j;
  const sameFile = V && V.sample_id === v.sample_id && V.audio === v.audio;
  V = clone(v);
  duration = Number(v.duration) > 0 ? Number(v.duration) : 0;
  labels = Array.isArray(v.labels) ? v.labels.filter((l) => l && typeof l.name === 'string') : [];
  classes = Array.isArray(v.classes) ? v.classes.filter((c) => c && typeof c.name === 'string' && Array.isArray(c.labels)) : [];
  speech = !!v.speech_content;
  segments = (Array.isArray(v.segments) ? clone(v.segments) : []).filter((s) => s && typeof s === 'object');
  const bad = segments.filter((s) => !valid(s.start, s.end));
  baseline = v.dirty ? '' : snapshot();  // dirty from Python (detected segments): unsaved
  selectedId = v.selected && byId(v.selected) ? v.selected : null;
  if (!sameFile) {
    audio.pause(); segEnd = null;
    if (v.audio) audio.src = v.audio; else audio.removeAttribute('src');
    view0 = 0; view1 = duration > 60 ? 60 : duration;
    peaks = null; peaksKey = '';
  }
  if (bad.length) showMessage(`${bad.length} segment(s) lie outside the audio (0 – ${fmt(duration)}) or end before they start: fix or delete them`, 'error');
  else showMessage(v.message || '', v.message ? 'info' : '');
  render(); schedulePeaks();
}
function valid(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && a >= 0 && b <= duration + 1e-6 && b > a;
}
function nextId() {
  let n = 0;
  for (const s of segments) { const m = /^S(\d+)$/.exec(String(s.id)); if (m) n = Math.max(n, Number(m[1])); }
  return 'S' + (n + 1);
}

// -- geometry --------------------------------------------------------------------------------
function cssWidth() { return Math.max(200, canvasBox.clientWidth || 600); }
const HEIGHT = 140;
function xOf(t) { return (t - view0) / Math.max(1e-9, view1 - view0) * cssWidth(); }
function tOf(x) { return view0 + x / cssWidth() * (view1 - view0); }
function setView(a, b) {
  const span = Math.min(Math.max(b - a, 0.05), Math.max(duration, 0.05));
  a = Math.max(0, Math.min(a, duration - span)); b = a + span;
  view0 = a; view1 = Math.min(b, duration);
  render(); schedulePeaks();
}
function zoom(factor, at) {
  if (!duration) return;
  const c = at === undefined ? (view0 + view1) / 2 : at;
  const span = (view1 - view0) * factor;
  const frac = (c - view0) / Math.max(1e-9, view1 - view0);
  setView(c - span * frac, c - span * frac + span);
}

// -- peaks -----------------------------------------------------------------------------------
function normalize(data, start, end) {
  let d = data;
  if (d && !Array.isArray(d) && typeof d === 'object') {
    if (Number.isFinite(Number(d.start)) && Number.isFinite(Number(d.end)) && Number(d.end) > Number(d.start)) { start = Number(d.start); end = Number(d.end); }
    if (Array.isArray(d.min) && Array.isArray(d.max)) return { start, end, min: d.min.map(Number), max: d.max.map(Number) };
    d = d.peaks || d.data || d.values || [];
  }
  if (!Array.isArray(d)) return { start, end, min: [], max: [] };
  if (d.length && Array.isArray(d[0])) return { start, end, min: d.map((p) => Number(p[0])), max: d.map((p) => Number(p[p.length - 1])) };
  if (d.length && typeof d[0] === 'object') return { start, end, min: d.map((p) => Number(p.min)), max: d.map((p) => Number(p.max)) };
  return { start, end, min: d.map((p) => -Math.abs(Number(p))), max: d.map((p) => Math.abs(Number(p))) };
}
function schedulePeaks() {
  clearTimeout(fetchTimer);
  fetchTimer = setTimeout(fetchPeaks, 60);
}
async function fetchPeaks() {
  if (!V || V.sample_id == null || !duration) return;
  const buckets = Math.min(4000, Math.round(cssWidth()));
  const a = r3(view0), b = r3(view1);
  const key = `${V.sample_id}:${a}:${b}:${buckets}`;
  if (key === peaksKey) return;
  peaksKey = key;
  try {
    const resp = await fetch(`/media/${encodeURIComponent(V.sample_id)}/peaks?start=${a}&end=${b}&buckets=${buckets}`);
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const data = await resp.json();
    if (key !== peaksKey) return;
    peaks = normalize(data, a, b);
  } catch (err) {
    if (key !== peaksKey) return;
    peaks = null;
    showMessage(`Could not load the waveform: ${err.message}`, 'error');
  }
  drawCanvas();
}

// -- drawing ---------------------------------------------------------------------------------
function drawCanvas() {
  const w = cssWidth(), h = HEIGHT, dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    canvas.style.width = w + 'px'; canvas.style.height = h + 'px';
  }
  const g = ctx2d;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.fillStyle = '#10151c'; g.fillRect(0, 0, w, h);
  // segments below the waveform
  for (const s of segments) {
    if (!(s.end > view0 && s.start < view1)) continue;
    const x0 = xOf(s.start), x1 = xOf(s.end);
    g.globalAlpha = s.id === selectedId ? 0.45 : 0.25;
    g.fillStyle = segColor(s); g.fillRect(x0, 0, x1 - x0, h);
    g.globalAlpha = 1;
    g.strokeStyle = s.id === selectedId ? '#ffffff' : segColor(s);
    g.lineWidth = s.id === selectedId ? 2 : 1;
    g.strokeRect(x0 + 0.5, 0.5, Math.max(1, x1 - x0 - 1), h - 1);
    g.fillStyle = '#ffffff'; g.font = '11px sans-serif';
    g.fillText(`${segments.indexOf(s) + 1} ${segLabelText(s)}`.slice(0, 40), Math.max(2, x0 + 3), 12);
  }
  // waveform
  const mid = h / 2;
  g.strokeStyle = '#6cc3ff'; g.lineWidth = 1;
  if (peaks && peaks.max.length) {
    const n = peaks.max.length;
    let peak = 0; for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(peaks.max[i]), Math.abs(peaks.min[i]));
    const scale = peak > 1 ? (mid - 4) / peak : (mid - 4);
    g.beginPath();
    for (let i = 0; i < n; i++) {
      const t = peaks.start + (i + 0.5) * (peaks.end - peaks.start) / n;
      const x = xOf(t);
      if (x < -1 || x > w + 1) continue;
      g.moveTo(x, mid - peaks.max[i] * scale); g.lineTo(x, mid - peaks.min[i] * scale + 0.5);
    }
    g.stroke();
  } else {
    g.beginPath(); g.moveTo(0, mid); g.lineTo(w, mid); g.stroke();
  }
  // a segment being drawn
  if (drag && drag.kind === 'new' && drag.moved) {
    const a = Math.min(drag.t0, drag.t1), b = Math.max(drag.t0, drag.t1);
    g.fillStyle = 'rgba(255,255,255,0.25)'; g.fillRect(xOf(a), 0, xOf(b) - xOf(a), h);
  }
  // playhead
  const pt = audio.currentTime || 0;
  if (pt >= view0 && pt <= view1) { g.strokeStyle = '#ffd43b'; g.lineWidth = 2; g.beginPath(); g.moveTo(xOf(pt), 0); g.lineTo(xOf(pt), h); g.stroke(); }
  const zoomed = duration > 0 && view1 - view0 < duration - 1e-6;
  scroller.hidden = !zoomed;
  if (zoomed) scroller.value = String(Math.round(view0 / Math.max(1e-9, duration - (view1 - view0)) * 1000));
  timeBox.textContent = `${fmt(pt)} / ${fmt(duration)} · view ${fmt(view0)} – ${fmt(view1)}`;
}

function renderEditor() {
  editor.textContent = '';
  const s = byId(selectedId);
  if (!s) {
    editor.append(el('span', { class: 'wf-none', text: V && V.sample_id != null ? 'No segment selected: drag on the waveform to make one, or click one.' : 'No audio open.' }));
    return;
  }
  const n = segments.indexOf(s) + 1;
  editor.append(el('strong', { text: `Segment ${n}: ${fmt(s.start)} – ${fmt(s.end)}` }));
  if (classes.length) {
    const keys = keyed();
    for (const c of classes) {
      const keyOf = (name) => keys.findIndex((x) => x.cls === c.name && x.name === name) + 1;
      const sel = el('select', { class: 'wf-select', 'data-class': c.name, 'aria-label': `label of class ${c.name}` },
        el('option', { value: '', text: '(none)' }),
        ...c.labels.map((name) => el('option', { value: name, text: keyOf(name) ? `${name} (${keyOf(name)})` : name })));
      sel.value = (s.labels || {})[c.name] || '';
      sel.addEventListener('change', () => {
        s.labels = { ...(s.labels || {}) };
        if (sel.value) s.labels[c.name] = sel.value; else delete s.labels[c.name];
        render(); publish();
      });
      editor.append(el('label', { class: 'wf-field' }, el('span', { text: c.name }), sel));
    }
  } else {
    const sel = el('select', { class: 'wf-select', 'data-testid': 'wf-label-select', 'aria-label': 'segment label' },
      el('option', { value: '', text: '(no label)' }),
      ...labels.map((l, i) => el('option', { value: l.name, text: i < 9 ? `${l.name} (${i + 1})` : l.name })));
    sel.value = s.label || '';
    sel.addEventListener('change', () => { s.label = sel.value || null; render(); publish(); });
    editor.append(el('label', { class: 'wf-field' }, el('span', { text: 'Label' }), sel));
  }
  if (speech) {
    const box = el('textarea', { class: 'wf-content', rows: '2', 'data-testid': 'wf-content', placeholder: 'Speech content of this segment', 'aria-label': 'speech content' });
    box.value = s.content || '';
    box.addEventListener('input', () => { s.content = box.value; renderTable(); publish(); });
    editor.append(el('label', { class: 'wf-field wf-field-wide' }, el('span', { text: 'Content' }), box));
  }
}

function renderTable() {
  tableBox.textContent = '';
  const head = el('tr', {}, ...['#', 'Start (s)', 'End (s)', 'Labels', ...(speech ? ['Content'] : []), ''].map((t) => el('th', { text: t })));
  const body = el('tbody');
  segments.forEach((s, i) => {
    const num = (key) => {
      const inp = el('input', { type: 'number', step: '0.01', min: '0', max: String(duration), class: 'wf-num', 'aria-label': `${key} of segment ${i + 1}` });
      inp.value = String(s[key]);
      inp.addEventListener('change', () => {
        const v = Number(inp.value);
        const a = key === 'start' ? v : s.start, b = key === 'end' ? v : s.end;
        if (!valid(a, b)) {
          showMessage(`Refused: a segment must lie within the audio (0 – ${fmt(duration)}) and end after it starts`, 'error');
          inp.value = String(s[key]); return;
        }
        s[key] = r3(v); showMessage('', ''); render(); publish();
      });
      return inp;
    };
    const del = el('button', { type: 'button', class: 'wf-del', title: 'delete this segment', 'aria-label': `delete segment ${i + 1}`, text: '×' });
    del.addEventListener('click', (e) => { e.stopPropagation(); removeSegment(s.id); });
    const tr = el('tr', { class: 'wf-row' + (s.id === selectedId ? ' wf-row-selected' : ''), 'data-id': s.id },
      el('td', { text: String(i + 1) }), el('td', {}, num('start')), el('td', {}, num('end')),
      el('td', { class: 'wf-labels-cell', text: segLabelText(s) }),
      ...(speech ? [el('td', { class: 'wf-content-cell', text: s.content || '' })] : []),
      el('td', {}, del));
    tr.addEventListener('click', (e) => { if (e.target.closest('input,button')) return; select(s.id, true); });
    body.append(tr);
  });
  if (!segments.length) body.append(el('tr', {}, el('td', { colspan: speech ? '6' : '5', class: 'wf-none', text: 'No segments yet.' })));
  tableBox.append(el('table', { class: 'wf-table', 'data-testid': 'wf-segments' }, el('thead', {}, head), body));
}

function markOpen() { if (V && V.sample_id != null) root.setAttribute('data-open-sample', String(V.sample_id)); else root.removeAttribute('data-open-sample'); }  // the address bar's sample (assets/links.js)
function render() { drawCanvas(); renderEditor(); renderTable(); markOpen(); }

// -- editing ---------------------------------------------------------------------------------
function select(id, reveal) {
  selectedId = id;
  const s = byId(id);
  if (reveal && s && !(s.end > view0 && s.start < view1)) {
    const span = view1 - view0; setView(s.start - span * 0.1, s.start - span * 0.1 + span);
  }
  render(); publish();
}
function removeSegment(id) {
  const i = segments.findIndex((s) => s.id === id);
  if (i < 0) return;
  segments.splice(i, 1);
  if (selectedId === id) selectedId = null;
  showMessage(`Segment ${i + 1} deleted`, 'info');
  render(); publish();
}
function addSegment(a, b) {
  if (!valid(a, b)) { showMessage(`Refused: segments must lie within the audio (0 – ${fmt(duration)})`, 'error'); return; }
  const s = { id: nextId(), start: r3(a), end: r3(b) };
  if (classes.length) s.labels = {}; else s.label = null;
  if (speech) s.content = '';
  segments.push(s);
  selectedId = s.id;
  showMessage(`Segment ${segments.length}: ${fmt(s.start)} – ${fmt(s.end)}` + (classes.length ? ': pick its labels (1-9)' : ': pick its label (1-9)'), 'info');
  render(); publish();
}
// The labels keys 1-9 give, in order: single-label mode the labels; multi-label mode the labels of
// every class, class after class (a class's label replaces the segment's other label of that class).
function keyed() {
  if (!classes.length) return labels.map((l) => ({ cls: null, name: l.name })).slice(0, 9);
  return classes.flatMap((c) => c.labels.map((name) => ({ cls: c.name, name }))).slice(0, 9);
}
function giveLabel(item) {
  const s = byId(selectedId);
  if (!s || !item) return;
  if (item.cls === null) s.label = item.name;
  else s.labels = { ...(s.labels || {}), [item.cls]: item.name };
  render(); publish();
}

// -- mouse -----------------------------------------------------------------------------------
function pointerT(e) {
  const r = canvas.getBoundingClientRect();
  return { x: e.clientX - r.left, t: tOf(e.clientX - r.left) };
}
function edgeAt(x) {
  const order = segments.slice().sort((a, b) => (a.id === selectedId ? -1 : 0) - (b.id === selectedId ? -1 : 0));
  for (const s of order) {
    if (Math.abs(xOf(s.start) - x) <= EDGE_PX) return { id: s.id, edge: 'start' };
    if (Math.abs(xOf(s.end) - x) <= EDGE_PX) return { id: s.id, edge: 'end' };
  }
  return null;
}
function segmentAt(t) {
  const hits = segments.filter((s) => s.start <= t && t <= s.end).sort((a, b) => (a.end - a.start) - (b.end - b.start));
  return hits[0] || null;
}
canvas.addEventListener('pointerdown', (e) => {
  if (e.button !== 0 || !duration) return;
  root.focus({ preventScroll: true });
  const p = pointerT(e);
  const edge = edgeAt(p.x);
  drag = edge ? { kind: 'edge', id: edge.id, edge: edge.edge, x0: p.x, t0: p.t, t1: p.t, moved: false }
    : { kind: 'new', x0: p.x, t0: Math.max(0, Math.min(duration, p.t)), t1: p.t, moved: false };
  canvas.setPointerCapture(e.pointerId);
  e.preventDefault();
});
canvas.addEventListener('pointermove', (e) => {
  const p = pointerT(e);
  if (!drag) {
    canvas.style.cursor = edgeAt(p.x) ? 'ew-resize' : 'crosshair';
    return;
  }
  if (Math.abs(p.x - drag.x0) > 3) drag.moved = true;
  let t = p.t;
  if (t < 0 || t > duration) {
    showMessage(`Segments must lie within the audio (0 – ${fmt(duration)})`, 'error');
    t = Math.max(0, Math.min(duration, t));
  }
  drag.t1 = t;
  if (drag.kind === 'edge' && drag.moved) {
    const s = byId(drag.id);
    if (s) {
      if (drag.edge === 'start') s.start = r3(Math.min(t, s.end - MIN_SEG));
      else s.end = r3(Math.max(t, s.start + MIN_SEG));
      s.start = Math.max(0, s.start); s.end = Math.min(r3(duration), s.end);
      selectedId = s.id;
    }
  }
  drawCanvas();
});
canvas.addEventListener('pointerup', (e) => {
  if (!drag) return;
  const d = drag; drag = null;
  try { canvas.releasePointerCapture(e.pointerId); } catch (err) { /* released */ }
  if (d.kind === 'edge') {
    if (d.moved) { render(); publish(); } else { select(d.id); }
    return;
  }
  if (d.moved) {
    const a = Math.min(d.t0, d.t1), b = Math.max(d.t0, d.t1);
    if (b - a < MIN_SEG) { showMessage('Too short for a segment', 'error'); drawCanvas(); return; }
    addSegment(a, b);
  } else {
    const s = segmentAt(d.t0);
    if (s) select(s.id);
    else { selectedId = null; audio.currentTime = Math.max(0, Math.min(duration, d.t0)); render(); publish(); }
  }
});
canvas.addEventListener('wheel', (e) => {
  if (!duration) return;
  if (e.ctrlKey) { e.preventDefault(); zoom(e.deltaY > 0 ? 1.25 : 0.8, pointerT(e).t); return; }
  if (view1 - view0 >= duration - 1e-6) return;
  e.preventDefault();
  const span = view1 - view0, d = (e.deltaX || e.deltaY) / cssWidth() * span;
  setView(view0 + d, view0 + d + span);
}, { passive: false });
scroller.addEventListener('input', () => {
  const span = view1 - view0, a = Number(scroller.value) / 1000 * (duration - span);
  setView(a, a + span);
});

// -- playback --------------------------------------------------------------------------------
function togglePlay() {
  if (!audio.src) return;
  segEnd = null;
  if (audio.paused) audio.play().catch((err) => showMessage(`Cannot play: ${err.message}`, 'error'));
  else audio.pause();
}
function playSegment() {
  const s = byId(selectedId);
  if (!s) { showMessage('Select a segment to play it', 'error'); return; }
  segEnd = s.end;
  audio.currentTime = s.start;
  audio.play().catch((err) => showMessage(`Cannot play: ${err.message}`, 'error'));
}
let raf = 0;
function tick() {
  raf = 0;
  if (segEnd !== null && audio.currentTime >= segEnd) { audio.pause(); segEnd = null; }
  const t = audio.currentTime;
  if (!audio.paused && (t > view1 || t < view0) && duration) { const span = view1 - view0; setView(t, t + span); }
  drawCanvas();
  if (!audio.paused) raf = requestAnimationFrame(tick);
}
audio.addEventListener('play', () => { playBtn.textContent = '❚❚ Pause'; if (!raf) raf = requestAnimationFrame(tick); });
audio.addEventListener('pause', () => { playBtn.textContent = '▶ Play'; drawCanvas(); });
audio.addEventListener('seeked', () => drawCanvas());
audio.addEventListener('error', () => { if (audio.getAttribute('src')) showMessage('The audio could not be played in this browser', 'error'); });
playBtn.addEventListener('click', togglePlay);
segBtn.addEventListener('click', playSegment);
zoomIn.addEventListener('click', () => zoom(0.5));
zoomOut.addEventListener('click', () => zoom(2));
zoomAll.addEventListener('click', () => setView(0, duration));

// -- keys ------------------------------------------------------------------------------------
function typingIn(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  return t.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'color', 'range', 'submit'].includes((t.type || '').toLowerCase());
}
function visible() { return root.isConnected && root.offsetParent !== null && root.getClientRects().length > 0; }
function onKeyDown(e) {
  if (!root.isConnected) { window.removeEventListener('keydown', onKeyDown, true); return; }
  if (e.isComposing || !visible()) return;
  const ctrl = e.ctrlKey || e.metaKey;
  const k = e.key;
  let handled = false;
  if (ctrl && !e.altKey && (k === 's' || k === 'S')) {  // Ctrl+S saves even from the content box
    if (!e.repeat && V && V.sample_id != null) { publish({ action: 'save' }); trigger('save'); }
    handled = true;
  } else if (typingIn(e.target) || typingIn(doc.activeElement)) {
    return;
  } else if (e.altKey && !ctrl && (k === 'ArrowLeft' || k === 'ArrowRight')) {
    if (!e.repeat && V && V.sample_id != null) { publish({ action: k === 'ArrowLeft' ? 'prev' : 'next' }); trigger('navigate'); }
    handled = true;
  } else if (!ctrl && !e.altKey) {
    if (k === ' ') { togglePlay(); handled = true; }
    else if (k === 'p' || k === 'P') { playSegment(); handled = true; }
    else if (/^[1-9]$/.test(k) && selectedId && keyed()[Number(k) - 1]) { giveLabel(keyed()[Number(k) - 1]); handled = true; }
    else if ((k === 'Delete' || k === 'Backspace') && selectedId) { removeSegment(selectedId); handled = true; }
    else if (k === 'Escape' && selectedId) { selectedId = null; render(); publish(); handled = true; }
    else if (k === '+' || k === '=') { zoom(0.5); handled = true; }
    else if (k === '-') { zoom(2); handled = true; }
    else if (k === '0') { setView(0, duration); handled = true; }
  }
  if (handled) { e.preventDefault(); e.stopPropagation(); }
}
window.addEventListener('keydown', onKeyDown, true);
if (typeof ResizeObserver === 'function') new ResizeObserver(() => { drawCanvas(); schedulePeaks(); }).observe(canvasBox);

// for tests: a read-only view of the state
root.__waveform = { state() { return { segments: clone(segments), selectedId, view: [view0, view1], duration, peaks: peaks ? peaks.max.length : 0, audio }; } };

load(props.value);
if (typeof watch === 'function') {
  watch('value', () => load(props.value));
} else {
  let last = props.value;
  setInterval(() => { if (props.value !== last) { last = props.value; load(props.value); } }, 150);
}
