// Labelport shape canvas: the body of gr.HTML(js_on_load=...), run with element, trigger, props,
// server, upload, watch. See components/shape_canvas.py for the value contract.
//
// Events: trigger('save') and trigger('navigate'). Gradio's HTML component dispatches 'change'
// itself whenever props.value changes, so edits only assign props.value (a second
// trigger('change') would fire every .change handler twice).
//
// Everything taken from the value (label names, attribute names and values, messages) reaches the
// DOM through textContent / option.value, never innerHTML; the canvas draws text with fillText.
'use strict';

const TOOL_DEFS = {
  rectangle: { icon: '▭', name: 'Rectangle', how: 'drag' },
  polygon: { icon: '⬠', name: 'Polygon', how: 'click the points; click the first point, double-click or press Enter to close' },
  circle: { icon: '◯', name: 'Circle', how: 'drag from the centre' },
  line: { icon: '╱', name: 'Line', how: 'click the points; double-click or press Enter to finish' },
  dashed_line: { icon: '┄', name: 'Dashed line', how: 'click the points; double-click or press Enter to finish' },
  point: { icon: '•', name: 'Point', how: 'click' },
  extreme_points: { icon: '✥', name: 'Extreme points', how: 'click the top, bottom, left-most and right-most points of the object' },
  segment: { icon: '✦', name: 'Click to segment', how: 'click the object (Shift+click: a point not on it); Enter keeps the outline, Esc drops it' },
};
const SHAPE_TYPES = ['rectangle', 'polygon', 'circle', 'line', 'dashed_line', 'point'];
const MIN_POINTS = { rectangle: 2, polygon: 3, circle: 1, line: 2, dashed_line: 2, point: 1 };
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];
const HANDLE = 5;      // half size of a vertex handle, CSS px
const HIT = 8;         // hit tolerance, CSS px
const CLOSE = 10;      // clicking this close to the first polygon point closes it, CSS px
const DUP = 4;         // a click this close to the previous point is the 2nd click of a double-click
const LABEL_TEXT_MAX = 300;  // label names are drawn on the canvas up to this many shapes
const CROWDED = 200;         // above this many shapes: 1 device-pixel outlines, cached layer moved during pan / zoom
const HISTORY_MAX = 300;
const STORE_KEY = 'labelport.shapeCanvas.tool:';

const doc = element.ownerDocument;
const root = element.querySelector('.sc-root') || element;
root.textContent = '';

// -- small helpers ----------------------------------------------------------------------------
function el(tag, attrs, ...kids) {
  const n = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) n.append(kid);  // strings become text nodes
  return n;
}
const clone = (x) => JSON.parse(JSON.stringify(x));
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const r2 = (v) => Math.round(v * 100) / 100;
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const HEX = /^#[0-9a-fA-F]{6}$/;
const HEX3 = /^#[0-9a-fA-F]{3}$/;
function colorOf(c, i) {
  if (typeof c === 'string' && HEX.test(c)) return c.toLowerCase();
  if (typeof c === 'string' && HEX3.test(c)) return ('#' + c[1] + c[1] + c[2] + c[2] + c[3] + c[3]).toLowerCase();
  return PALETTE[(i || 0) % PALETTE.length];
}

// -- state ------------------------------------------------------------------------------------
let V = {};                 // our copy of the value
let shapes = [];            // working shapes (image pixels)
let labels = [];            // [{name, color, attributes, new}]
let tools = SHAPE_TYPES.slice();
let tool = 'rectangle';     // the drawing tool (always one of tools)
let selectMode = false;     // V: select / move / resize (kept across images)
let curLabel = null;
let selectedId = null;
let hidden = false;
let history = ['[]'];
let hIdx = 0;
let baseline = '[]';        // shapes as Python last set them (null: unknown, always dirty)
let dirty = false;
let draft = null;           // shape in progress: {type, points, radius}
let hoverPt = null;         // last pointer position (image px) for rubber bands
let drag = null;            // {mode: 'move'|'resize'|'rect'|'circle'|'pan', ...}
let spaceDown = false;
let confirmDir = null;
let view = { s: 1, ox: 0, oy: 0, fitted: true };
let cw = 0, chh = 0;        // canvas size, CSS px
let img = null, imgSrc = null, imgReady = false, imgFailed = false;
let measureStart = null;
let rafPending = false;
let msgTimer = null;

function W() { return (isNum(V.width) && V.width > 0) ? V.width : (imgReady ? img.naturalWidth : 0); }
function H() { return (isNum(V.height) && V.height > 0) ? V.height : (imgReady ? img.naturalHeight : 0); }
function hasImage() { return V && V.sample_id !== null && V.sample_id !== undefined && !!(V.image || (W() && H())); }
function labelOf(name) { return labels.find((l) => l.name === name) || null; }
function colorFor(name) { const l = labelOf(name); return l ? l.color : '#9e9e9e'; }
function shapeById(id) { return shapes.find((s) => s.id === id) || null; }

// -- DOM --------------------------------------------------------------------------------------
function button(text, title, cls, onclick, ariaLabel) {
  return el('button', { type: 'button', class: 'sc-btn ' + (cls || ''), title, 'aria-label': ariaLabel, onclick }, text);
}
const toolGroup = el('div', { class: 'sc-group sc-tools', role: 'group', 'aria-label': 'Tools' });
const labelSwatch = el('span', { class: 'sc-swatch', 'aria-hidden': 'true' });
const labelSelect = el('select', { class: 'sc-label-select', title: 'Label of new shapes', 'aria-label': 'Label of new shapes' });
const newName = el('input', { type: 'text', class: 'sc-new-name', placeholder: 'new label', maxlength: '200', 'aria-label': 'New label name' });
const newColor = el('input', { type: 'color', class: 'sc-new-color', value: PALETTE[0], title: 'Colour of the new label', 'aria-label': 'Colour of the new label' });
const addBtn = button('Add', 'Add the new label', 'sc-add-label', () => addLabel());
const labelGroup = el('div', { class: 'sc-group sc-labels', role: 'group', 'aria-label': 'Label' },
  el('span', { class: 'sc-caption', text: 'Label' }), labelSwatch, labelSelect, newName, newColor, addBtn);
const shapeBox = el('div', { class: 'sc-group sc-shape-box', role: 'group', 'aria-label': 'Selected shape' });
const hideBtn = button('◐ Hide', 'Show / hide shapes (Shift+H)', 'sc-hide', () => toggleHidden());
const undoBtn = button('↶ Undo', 'Undo (Ctrl+Z)', 'sc-undo', () => undo());
const redoBtn = button('↷ Redo', 'Redo (Ctrl+Shift+Z, Ctrl+Y)', 'sc-redo', () => redo());
const delBtn = button('✕ Delete', 'Delete the selected shape (Delete)', 'sc-delete', () => deleteSelected());
const delAllBtn = button('✕ All', 'Delete all shapes (Shift+Delete)', 'sc-delete-all', () => deleteAll());
const fitBtn = button('Fit', 'Reset zoom (fit the image)', 'sc-zoom-reset', () => { fit(); requestDraw(); });
const fsBtn = button('Full screen', 'Full screen', 'sc-fullscreen', () => toggleFullscreen());
const editGroup = el('div', { class: 'sc-group sc-edit', role: 'group', 'aria-label': 'Edit' },
  hideBtn, undoBtn, redoBtn, delBtn, delAllBtn, fitBtn, fsBtn);
const prevBtn = button('◀ A', 'Previous image (A)', 'sc-prev', () => navigate('prev'), 'Previous image (A)');
const saveBtn = button('Save', 'Save (Ctrl+S)', 'sc-save', () => save());
const nextBtn = button('D ▶', 'Next image (D)', 'sc-next', () => navigate('next'), 'Next image (D)');
const navGroup = el('div', { class: 'sc-group sc-nav', role: 'group', 'aria-label': 'Navigation' }, prevBtn, saveBtn, nextBtn);
const toolbar = el('div', { class: 'sc-toolbar', role: 'toolbar', 'aria-label': 'Drawing tools' },
  toolGroup, labelGroup, editGroup, shapeBox, navGroup);

const message = el('div', { class: 'sc-message', role: 'alert', 'aria-live': 'assertive' });
const confirmText = el('span', { class: 'sc-confirm-text', text: 'Unsaved changes on this image.' });
const confirmSave = button('Save', 'Save, then go on', 'sc-confirm-save', () => confirmAnswer('save'));
const confirmDiscard = button('Discard', 'Drop the changes and go on', 'sc-confirm-discard', () => confirmAnswer('discard'));
const confirmCancel = button('Cancel', 'Stay on this image', 'sc-confirm-cancel', () => confirmAnswer('cancel'));
const confirmBar = el('div', { class: 'sc-confirm', role: 'alertdialog', 'aria-label': 'Unsaved changes', hidden: true },
  confirmText, confirmSave, confirmDiscard, confirmCancel);
const canvas = el('canvas', { class: 'sc-canvas', 'aria-label': 'Image with its shapes', role: 'img' });
const stage = el('div', { class: 'sc-stage' }, canvas, message, confirmBar);
const status = el('div', { class: 'sc-status' });
const statusPos = el('span', { class: 'sc-pos' });
const statusInfo = el('span', { class: 'sc-info' });
status.append(statusInfo, statusPos,
  el('span', { class: 'sc-hint', text: 'wheel: zoom · right/middle drag or Space+drag: pan · Esc: cancel' }));
root.setAttribute('tabindex', '0');
root.append(toolbar, stage, status);
const ctx = canvas.getContext('2d');

// -- messages ---------------------------------------------------------------------------------
function showMessage(text, kind) {
  clearTimeout(msgTimer);
  message.textContent = text || '';
  message.className = 'sc-message' + (text ? ' sc-' + (kind || 'error') : '');
  if (text) msgTimer = setTimeout(() => { message.textContent = ''; message.className = 'sc-message'; }, kind === 'info' ? 4000 : 9000);
}

// -- toolbar rendering -------------------------------------------------------------------------
function renderTools() {
  toolGroup.textContent = '';
  toolGroup.append(el('button', {
    type: 'button', class: 'sc-btn sc-tool', 'data-tool': 'select', title: 'Select / move / resize (V)',
    'aria-label': 'Select / move / resize (V)', 'aria-pressed': String(selectMode), onclick: () => setTool('select'),
  }, el('span', { class: 'sc-icon', text: '⬚' }), el('kbd', { text: 'V' })));
  tools.forEach((t, i) => {
    const d = TOOL_DEFS[t];
    const title = `${d.name} (${i + 1}): ${d.how}`;
    toolGroup.append(el('button', {
      type: 'button', class: 'sc-btn sc-tool', 'data-tool': t, title, 'aria-label': title,
      'aria-pressed': String(!selectMode && tool === t), onclick: () => setTool(t),
    }, el('span', { class: 'sc-icon', text: d.icon }), el('span', { class: 'sc-tool-name', text: d.name }),
    el('kbd', { text: String(i + 1) })));
  });
}

function renderLabels() {
  labelSelect.textContent = '';
  if (!labels.length) {
    labelSelect.append(el('option', { value: '', disabled: true, text: 'no labels yet: add one →' }));
    labelSelect.value = '';
  }
  for (const l of labels) {
    const o = el('option', { text: l.new ? l.name + ' (new)' : l.name });
    o.value = l.name;
    labelSelect.append(o);
  }
  if (curLabel !== null) labelSelect.value = curLabel;
  labelSwatch.style.background = curLabel ? colorFor(curLabel) : 'transparent';
}

function renderShapeBox() {
  shapeBox.textContent = '';
  const s = shapeById(selectedId);
  if (!s) {
    shapeBox.append(el('span', { class: 'sc-caption sc-muted', text: shapes.length ? 'No shape selected' : 'No shapes yet' }));
    return;
  }
  shapeBox.append(el('span', { class: 'sc-caption', text: (TOOL_DEFS[s.type] || { name: s.type }).name }));
  const sel = el('select', { class: 'sc-shape-label', title: 'Label of the selected shape', 'aria-label': 'Label of the selected shape' });
  const names = labels.map((l) => l.name);
  if (!names.includes(s.label)) names.unshift(s.label);
  for (const n of names) { const o = el('option', { text: n }); o.value = n; sel.append(o); }
  sel.value = s.label;
  sel.addEventListener('change', () => relabel(s.id, sel.value));
  shapeBox.append(sel);
  const lab = labelOf(s.label);
  const attrs = (lab && lab.attributes) || {};
  for (const [name, values] of Object.entries(attrs)) {
    if (!Array.isArray(values)) continue;
    const a = el('select', { class: 'sc-attr', 'data-attr': name, title: 'Attribute ' + name, 'aria-label': 'Attribute ' + name });
    const none = el('option', { text: name + ': –' }); none.value = ''; a.append(none);
    for (const v of values) { const o = el('option', { text: name + ': ' + v }); o.value = String(v); a.append(o); }
    a.value = (s.attributes && s.attributes[name] !== undefined) ? String(s.attributes[name]) : '';
    a.addEventListener('change', () => setAttribute(s.id, name, a.value));
    shapeBox.append(a);
  }
}

function updateButtons() {
  for (const b of toolGroup.querySelectorAll('.sc-tool')) {
    const t = b.getAttribute('data-tool');
    b.setAttribute('aria-pressed', String(t === 'select' ? selectMode : (!selectMode && t === tool)));
  }
  undoBtn.disabled = hIdx <= 0 && !(draft && draft.points.length);
  redoBtn.disabled = hIdx >= history.length - 1;
  delBtn.disabled = !selectedId;
  delAllBtn.disabled = !shapes.length;
  hideBtn.setAttribute('aria-pressed', String(hidden));
  hideBtn.textContent = hidden ? '◑ Show' : '◐ Hide';
  const noImage = !hasImage();
  prevBtn.disabled = saveBtn.disabled = nextBtn.disabled = noImage;
  root.classList.toggle('sc-dirty', !!dirty);
  saveBtn.textContent = dirty ? 'Save •' : 'Save';
  canvas.style.cursor = cursorFor(null);
  updateStatus();
}

function updateStatus() {
  const w = W(), h = H();
  statusInfo.textContent = hasImage()
    ? `${w} × ${h} px · ${shapes.length} shape${shapes.length === 1 ? '' : 's'} · zoom ${Math.round(view.s * 100)}%` +
      (hidden ? ' · shapes hidden' : '') + (dirty ? ' · unsaved changes' : '')
    : 'No image';
}

function refreshUI() { renderShapeBox(); updateButtons(); requestDraw(); }

// -- value in / out ----------------------------------------------------------------------------
function normShapes(list) {
  const out = [];
  let bad = 0;
  for (const s of Array.isArray(list) ? list : []) {
    if (!s || typeof s !== 'object' || !SHAPE_TYPES.includes(s.type) || !Array.isArray(s.points)) { bad++; continue; }
    const pts = s.points.filter((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1])).map((p) => [p[0], p[1]]);
    if (pts.length < MIN_POINTS[s.type] || (s.type === 'circle' && !(isNum(s.radius) && s.radius > 0))) { bad++; continue; }
    const shape = { id: String(s.id || ''), type: s.type, label: String(s.label ?? ''), points: pts,
      attributes: (s.attributes && typeof s.attributes === 'object' && !Array.isArray(s.attributes)) ? { ...s.attributes } : {} };
    if (s.type === 'circle') shape.radius = s.radius;
    out.push(shape);
  }
  const seen = new Set();
  for (const s of out) {  // ids unique in the image
    if (!s.id || seen.has(s.id)) s.id = newId(out, seen);
    seen.add(s.id);
  }
  return { shapes: out, bad };
}

function normLabels(list) {
  const out = [];
  const seen = new Set();
  (Array.isArray(list) ? list : []).forEach((l, i) => {
    const name = typeof l === 'string' ? l : (l && l.name !== undefined ? String(l.name) : null);
    if (name === null || seen.has(name)) return;
    seen.add(name);
    out.push({ name, color: colorOf(l && l.color, i),
      attributes: (l && l.attributes && typeof l.attributes === 'object') ? l.attributes : {}, new: !!(l && l.new) });
  });
  return out;
}

function storedTool() {
  try { return window.localStorage.getItem(STORE_KEY + tools.join(',')); } catch (e) { return null; }
}
function storeTool() {
  try { window.localStorage.setItem(STORE_KEY + tools.join(','), tool); } catch (e) { /* private mode */ }
}

function load(v, initial) {
  measureStart = performance.now();
  v = (v && typeof v === 'object') ? v : {};
  const newSample = initial || v.sample_id !== V.sample_id || (v.image || '') !== (V.image || '');
  V = { ...v };
  if (V.sample_id != null) root.setAttribute('data-open-sample', String(V.sample_id));  // the address bar's (assets/links.js)
  else root.removeAttribute('data-open-sample');
  labels = normLabels(v.labels);
  const t = (Array.isArray(v.tools) ? v.tools : []).filter((x) => TOOL_DEFS[x]);
  tools = t.length ? [...new Set(t)] : SHAPE_TYPES.slice();
  if (tools.includes(v.tool)) tool = v.tool;
  else if (!tools.includes(tool)) tool = tools.includes(storedTool()) ? storedTool() : tools[0];
  else if (initial && tools.includes(storedTool())) tool = storedTool();
  const names = labels.map((l) => l.name);
  if (names.includes(v.label)) curLabel = v.label;
  else if (!names.includes(curLabel)) curLabel = names.length ? names[0] : null;
  const { shapes: list, bad } = normShapes(wireShapes(v.shapes));
  shapes = list;
  publishPending = false;  // Python's value wins over an edit not yet sent
  invalidate();
  const snap = JSON.stringify(shapes);
  if (newSample) {
    history = [snap]; hIdx = 0;
    draft = null; drag = null; hoverPt = null;
    view.fitted = true;
    hideConfirm();
    selectedId = null;
    baseline = v.dirty ? null : snap;
  } else {
    if (snap !== history[hIdx]) {
      history.splice(hIdx + 1); history.push(snap); hIdx = history.length - 1;
      drag = null;
    }
    if (!v.dirty) baseline = snap;
  }
  if (v.selected !== undefined && v.selected !== null && shapeById(String(v.selected))) selectedId = String(v.selected);
  if (!shapeById(selectedId)) selectedId = null;
  dirty = !!v.dirty;
  if ((v.image || '') !== imgSrc) loadImage(v.image || '');
  renderTools(); renderLabels();
  if (v.message) showMessage(String(v.message), 'info');
  else if (bad) showMessage(`${bad} shape(s) of this image could not be read and are not shown`, 'error');
  else if (newSample) showMessage('');
  layout();
  refreshUI();
}

function loadImage(src) {
  imgSrc = src; imgReady = false; imgFailed = false;
  if (!src) { img = null; return; }
  const im = new Image();
  im.decoding = 'async';
  im.onload = () => {
    if (img !== im) return;
    imgReady = true;
    layout(); refreshUI();
  };
  im.onerror = () => {
    if (img !== im) return;
    imgFailed = true;
    showMessage('The image could not be loaded', 'error');
    requestDraw();
  };
  img = im;
  im.src = src;
}

// The value carries the shapes as one JSON string (components/shape_canvas.py): Gradio's front
// end copies and watches a value deeply, which for 1,000 polygons as nested arrays cost seconds
// of the page's main thread per save; a string is one primitive. (A list is read as well.)
function wireShapes(x) {
  if (typeof x !== 'string') return x;
  try { return JSON.parse(x); } catch (e) { return []; }
}

function publish(extra) {
  publishPending = false;
  const snap = JSON.stringify(shapes);
  const isDirty = baseline === null ? true : snap !== baseline;
  V = {
    ...V, shapes: snap, labels: clone(labels), tools: tools.slice(), tool, label: curLabel,
    selected: selectedId, dirty: isDirty, message: null, action: null, ...(extra || {}),
  };
  dirty = V.dirty;
  props.value = V;  // Gradio dispatches 'change' for us
}

// Edits reach props.value right after the next frame: Gradio's own processing of a large value
// (1,000 polygons: a few hundred ms) then no longer delays showing the edit. Save / navigate
// publish at once, and leaving the widget (pointer or focus) flushes a pending edit.
let publishPending = false;
function schedulePublish() {
  if (publishPending) return;
  publishPending = true;
  requestAnimationFrame(() => setTimeout(flushPublish, 0));
}
function flushPublish() { if (publishPending) publish(); }

function commit(msg, kind) {
  const snap = JSON.stringify(shapes);
  if (snap !== history[hIdx]) {
    history.splice(hIdx + 1);
    history.push(snap);
    if (history.length > HISTORY_MAX) history.shift();
    hIdx = history.length - 1;
  }
  dirty = baseline === null ? true : snap !== baseline;
  invalidate();
  schedulePublish();
  if (msg !== undefined) showMessage(msg, kind || 'info');
  refreshUI();
}

function newId(list, taken) {
  const ids = taken ? new Set(taken) : new Set();
  for (const s of list || shapes) if (s.id) ids.add(s.id);
  let n = (list || shapes).length + 1;
  while (ids.has('s' + n)) n++;
  return 's' + n;
}

// -- view -------------------------------------------------------------------------------------
function layout() {
  const w = stage.clientWidth;
  if (!w) return;
  const fs = doc.fullscreenElement === element;
  if (!fs) {
    const aspect = (W() && H()) ? H() / W() : 0.62;
    const maxH = Math.max(320, Math.round(window.innerHeight * 0.75));
    const h = Math.round(Math.min(maxH, Math.max(300, w * aspect)));
    if (stage.style.height !== h + 'px') stage.style.height = h + 'px';
  } else if (stage.style.height) stage.style.height = '';
  const h = stage.clientHeight;
  const dpr = window.devicePixelRatio || 1;
  const bw = Math.max(1, Math.round(w * dpr)), bh = Math.max(1, Math.round(h * dpr));
  if (canvas.width !== bw || canvas.height !== bh) { canvas.width = bw; canvas.height = bh; }
  cw = w; chh = h;
  if (view.fitted) fit();
  requestDraw();
}

function fit() {
  const w = W(), h = H();
  view.fitted = true;
  if (!w || !h || !cw || !chh) { view.s = 1; view.ox = 0; view.oy = 0; return; }
  const pad = 8;
  view.s = Math.max(1e-3, Math.min((cw - 2 * pad) / w, (chh - 2 * pad) / h));
  view.ox = (cw - w * view.s) / 2;
  view.oy = (chh - h * view.s) / 2;
  updateStatus();
}

function toImage(ev) {
  const r = canvas.getBoundingClientRect();
  const cx = ev.clientX - r.left, cy = ev.clientY - r.top;
  return { x: (cx - view.ox) / view.s, y: (cy - view.oy) / view.s, cx, cy };
}
const toScreen = (p) => [view.ox + p[0] * view.s, view.oy + p[1] * view.s];
const insideImage = (x, y) => x >= 0 && y >= 0 && x <= W() && y <= H();

function zoomAt(cx, cy, factor) {
  const fitS = Math.min(cw / (W() || 1), chh / (H() || 1));
  const ns = clamp(view.s * factor, fitS * 0.25, 64);
  view.ox = cx - (cx - view.ox) * (ns / view.s);
  view.oy = cy - (cy - view.oy) * (ns / view.s);
  view.s = ns;
  view.fitted = false;
  updateStatus();
  requestDraw();
}

// -- geometry ---------------------------------------------------------------------------------
function bbox(s) {
  if (s.type === 'circle') {
    const [cx, cy] = s.points[0]; const r = s.radius || 0;
    return [cx - r, cy - r, cx + r, cy + r];
  }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of s.points) { if (x < x0) x0 = x; if (y < y0) y0 = y; if (x > x1) x1 = x; if (y > y1) y1 = y; }
  return [x0, y0, x1, y1];
}
function area(s) {
  if (s.type === 'rectangle') { const b = bbox(s); return (b[2] - b[0]) * (b[3] - b[1]); }
  if (s.type === 'circle') return Math.PI * s.radius * s.radius;
  if (s.type === 'polygon') {
    let a = 0; const p = s.points;
    for (let i = 0; i < p.length; i++) { const q = p[(i + 1) % p.length]; a += p[i][0] * q[1] - q[0] * p[i][1]; }
    return Math.abs(a) / 2;
  }
  return 0;
}
function distSeg(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay; const l2 = dx * dx + dy * dy;
  let t = l2 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0; t = clamp(t, 0, 1);
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
function inPolygon(x, y, p) {
  let inside = false;
  for (let i = 0, j = p.length - 1; i < p.length; j = i++) {
    const [xi, yi] = p[i], [xj, yj] = p[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function nearPath(x, y, p, closed, tol) {
  const n = p.length;
  for (let i = 0; i < (closed ? n : n - 1); i++) {
    const a = p[i], b = p[(i + 1) % n];
    if (distSeg(x, y, a[0], a[1], b[0], b[1]) <= tol) return i;
  }
  return -1;
}
function hitsShape(s, x, y, tol) {
  const b = bbox(s);
  if (x < b[0] - tol || x > b[2] + tol || y < b[1] - tol || y > b[3] + tol) return false;
  switch (s.type) {
    case 'rectangle': return true;
    case 'circle': return Math.hypot(x - s.points[0][0], y - s.points[0][1]) <= s.radius + tol;
    case 'polygon': return inPolygon(x, y, s.points) || nearPath(x, y, s.points, true, tol) >= 0;
    case 'point': return Math.hypot(x - s.points[0][0], y - s.points[0][1]) <= tol * 1.5;
    default: return nearPath(x, y, s.points, false, tol) >= 0;
  }
}
function hitTest(x, y) {  // the smallest shape under the pointer (nested shapes stay reachable)
  if (hidden) return null;
  const tol = HIT / view.s;
  let best = null, bestArea = Infinity;
  for (let i = shapes.length - 1; i >= 0; i--) {
    const s = shapes[i];
    if (!hitsShape(s, x, y, tol)) continue;
    const a = area(s);
    if (a < bestArea) { best = s; bestArea = a; }
  }
  return best;
}
function handlesOf(s) {
  if (s.type === 'rectangle') { const [x0, y0, x1, y1] = bbox(s); return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]; }
  if (s.type === 'circle') return [[s.points[0][0] + s.radius, s.points[0][1]]];
  return s.points;
}
function hitHandle(s, cx, cy) {
  const hs = handlesOf(s);
  for (let i = hs.length - 1; i >= 0; i--) {
    const [sx, sy] = toScreen(hs[i]);
    if (Math.abs(sx - cx) <= HIT && Math.abs(sy - cy) <= HIT) return i;
  }
  return -1;
}

// -- drawing ----------------------------------------------------------------------------------
function requestDraw() {
  if (rafPending) return;
  rafPending = true;
  requestAnimationFrame(draw);
}

function pathShape(c, s) {
  const p = s.points;
  if (s.type === 'rectangle') {
    const [x0, y0, x1, y1] = bbox(s); c.rect(x0, y0, x1 - x0, y1 - y0);
  } else if (s.type === 'circle') {
    c.moveTo(p[0][0] + s.radius, p[0][1]); c.arc(p[0][0], p[0][1], s.radius, 0, Math.PI * 2);
  } else if (s.type === 'point') {
    const r = 4 / view.s; c.moveTo(p[0][0] + r, p[0][1]); c.arc(p[0][0], p[0][1], r, 0, Math.PI * 2);
  } else {
    c.moveTo(p[0][0], p[0][1]);
    for (let i = 1; i < p.length; i++) c.lineTo(p[i][0], p[i][1]);
    if (s.type === 'polygon') c.closePath();
  }
}

// The shapes that are not selected are drawn into an offscreen layer, re-rendered only when they
// change (layerVersion), the selection changes or the view changes. Dragging the selected shape
// therefore redraws one shape; while panning or wheel-zooming a crowded image the cached layer
// is drawn transformed and re-rendered once the gesture ends.
const layer = doc.createElement('canvas');
const lctx = layer.getContext('2d');
let layerVersion = 0;
let layerKey = null;
let layerView = null;
let lastWheel = 0;
let wheelTimer = null;
function invalidate() { layerVersion++; }
function outlineWidth(dpr) { return shapes.length > CROWDED ? 1 / (view.s * dpr) : 2 / view.s; }

function renderLayer(dpr) {
  const c = lctx;
  const s = view.s;
  if (layer.width !== canvas.width || layer.height !== canvas.height) { layer.width = canvas.width; layer.height = canvas.height; }
  c.setTransform(1, 0, 0, 1, 0, 0);
  c.clearRect(0, 0, layer.width, layer.height);
  // batch by colour and kind: one path per batch keeps 1,000+ shapes cheap
  const groups = new Map();
  for (const sh of shapes) {
    if (sh.id === selectedId) continue;
    const col = colorFor(sh.label);
    let g = groups.get(col);
    if (!g) { g = { areas: [], lines: [], dashed: [], points: [] }; groups.set(col, g); }
    if (sh.type === 'line') g.lines.push(sh);
    else if (sh.type === 'dashed_line') g.dashed.push(sh);
    else if (sh.type === 'point') g.points.push(sh);
    else g.areas.push(sh);
  }
  c.setTransform(dpr * s, 0, 0, dpr * s, dpr * view.ox, dpr * view.oy);
  c.lineJoin = 'miter';
  c.lineCap = 'butt';
  const lw = outlineWidth(dpr);
  for (const [col, g] of groups) {
    c.strokeStyle = col; c.fillStyle = col; c.lineWidth = lw;
    if (g.areas.length) {
      c.beginPath(); for (const sh of g.areas) pathShape(c, sh);
      c.globalAlpha = 0.2; c.fill(); c.globalAlpha = 1; c.stroke();
    }
    c.lineWidth = Math.max(lw, 2 / s);
    if (g.lines.length) { c.beginPath(); for (const sh of g.lines) pathShape(c, sh); c.stroke(); }
    if (g.dashed.length) {
      c.setLineDash([9 / s, 6 / s]); c.beginPath(); for (const sh of g.dashed) pathShape(c, sh); c.stroke(); c.setLineDash([]);
    }
    if (g.points.length) {
      c.beginPath(); for (const sh of g.points) pathShape(c, sh);
      c.fill(); c.strokeStyle = '#ffffff'; c.lineWidth = 1.5 / s; c.stroke();
    }
  }
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (shapes.length <= LABEL_TEXT_MAX) for (const sh of shapes) if (sh.id !== selectedId) drawLabelText(c, sh);
  c.setTransform(1, 0, 0, 1, 0, 0);
}

function drawLabelText(c, sh) {  // screen space
  const b = bbox(sh);
  const [x, y] = toScreen([b[0], b[1]]);
  const text = sh.label.length > 40 ? sh.label.slice(0, 39) + '…' : sh.label;
  c.font = '12px system-ui, sans-serif';
  c.textBaseline = 'bottom';
  const tw = c.measureText(text).width;
  const ty = y < 16 ? y + 16 : y;
  c.globalAlpha = 0.85; c.fillStyle = colorFor(sh.label); c.fillRect(x, ty - 15, tw + 8, 15);
  c.globalAlpha = 1; c.fillStyle = '#ffffff'; c.fillText(text, x + 4, ty - 2);
}

function drawShapes(dpr) {
  const key = `${layerVersion}|${selectedId}|${canvas.width}x${canvas.height}|${dpr}|${shapes.length > CROWDED}`;
  const sameView = layerView && layerView.s === view.s && layerView.ox === view.ox && layerView.oy === view.oy;
  const gesture = (drag && drag.mode === 'pan') || performance.now() - lastWheel < 150;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  if (key === layerKey && sameView) {
    ctx.drawImage(layer, 0, 0);
  } else if (key === layerKey && gesture && shapes.length > CROWDED) {
    const k = view.s / layerView.s;  // the cached layer moved along with the image
    ctx.setTransform(k, 0, 0, k, dpr * (view.ox - layerView.ox * k), dpr * (view.oy - layerView.oy * k));
    ctx.drawImage(layer, 0, 0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  } else {
    renderLayer(dpr);
    layerKey = key;
    layerView = { s: view.s, ox: view.ox, oy: view.oy };
    ctx.drawImage(layer, 0, 0);
  }
  const sel = shapeById(selectedId);
  if (!sel) return;
  const s = view.s;
  const col = colorFor(sel.label);
  ctx.setTransform(dpr * s, 0, 0, dpr * s, dpr * view.ox, dpr * view.oy);
  ctx.lineJoin = 'round';
  ctx.beginPath(); pathShape(ctx, sel);
  if (sel.type !== 'line' && sel.type !== 'dashed_line') { ctx.globalAlpha = 0.35; ctx.fillStyle = col; ctx.fill(); ctx.globalAlpha = 1; }
  if (sel.type === 'dashed_line') ctx.setLineDash([9 / s, 6 / s]);
  ctx.strokeStyle = '#ffffff'; ctx.lineWidth = 5 / s; ctx.stroke();
  ctx.strokeStyle = col; ctx.lineWidth = 3 / s; ctx.stroke();
  ctx.setLineDash([]);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (shapes.length <= LABEL_TEXT_MAX) drawLabelText(ctx, sel);
  drawHandles(sel);
}

function drawHandles(sh) {
  const col = colorFor(sh.label);
  ctx.lineWidth = 1.5;
  for (const h of handlesOf(sh)) {
    const [x, y] = toScreen(h);
    ctx.fillStyle = '#ffffff'; ctx.strokeStyle = col;
    ctx.fillRect(x - HANDLE, y - HANDLE, 2 * HANDLE, 2 * HANDLE);
    ctx.strokeRect(x - HANDLE, y - HANDLE, 2 * HANDLE, 2 * HANDLE);
  }
}

function drawDraft(dpr) {
  if (!draft) return;
  const col = curLabel ? colorFor(curLabel) : '#ffeb3b';
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.lineWidth = 2; ctx.strokeStyle = col; ctx.fillStyle = col;
  const pts = draft.points.map(toScreen);
  if (draft.type === 'rectangle') {
    const [a, b] = pts; ctx.globalAlpha = 0.2; ctx.fillRect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
    ctx.globalAlpha = 1; ctx.strokeRect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
  } else if (draft.type === 'circle') {
    ctx.beginPath(); ctx.arc(pts[0][0], pts[0][1], draft.radius * view.s, 0, Math.PI * 2);
    ctx.globalAlpha = 0.2; ctx.fill(); ctx.globalAlpha = 1; ctx.stroke();
  } else if (draft.type === 'segment') {
    if (draft.poly) {
      const poly = draft.poly.map(toScreen);
      ctx.beginPath(); poly.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath();
      ctx.globalAlpha = 0.25; ctx.fill(); ctx.globalAlpha = 1; ctx.setLineDash([6, 4]); ctx.stroke(); ctx.setLineDash([]);
    }
    const dot = (list, fill) => list.map(toScreen).forEach(([x, y]) => {
      ctx.beginPath(); ctx.arc(x, y, 5, 0, Math.PI * 2); ctx.fillStyle = fill; ctx.fill();
      ctx.strokeStyle = '#ffffff'; ctx.stroke();
    });
    dot(draft.points, '#2e7d32'); dot(draft.neg, '#c62828');
    ctx.strokeStyle = col; ctx.fillStyle = col;
  } else if (draft.type === 'extreme_points') {
    for (const [x, y] of pts) {
      ctx.beginPath(); ctx.arc(x, y, 5, 0, Math.PI * 2); ctx.fill();
      ctx.strokeStyle = '#ffffff'; ctx.stroke(); ctx.strokeStyle = col;
      ctx.beginPath(); ctx.moveTo(x - 10, y); ctx.lineTo(x + 10, y); ctx.moveTo(x, y - 10); ctx.lineTo(x, y + 10); ctx.stroke();
    }
  } else {
    if (draft.type === 'dashed_line') ctx.setLineDash([9, 6]);
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (hoverPt && pts.length) { const [hx, hy] = toScreen(hoverPt); ctx.lineTo(hx, hy); }
    ctx.stroke(); ctx.setLineDash([]);
    for (const [x, y] of pts) { ctx.fillStyle = '#ffffff'; ctx.fillRect(x - 3, y - 3, 6, 6); ctx.strokeRect(x - 3, y - 3, 6, 6); }
    if (draft.type === 'polygon' && pts.length >= 3) {  // the closing target
      ctx.beginPath(); ctx.arc(pts[0][0], pts[0][1], CLOSE - 3, 0, Math.PI * 2); ctx.stroke();
    }
  }
}

function draw() {
  rafPending = false;
  const t0 = performance.now();
  try { paint(); } finally { window.__shapeCanvasLastDrawMs = performance.now() - t0; }
  finishMeasure();
}

function paint() {
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#2a2d33';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const w = W(), h = H();
  if (!hasImage() || !w || !h) {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#c7cad1'; ctx.font = '15px system-ui, sans-serif'; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    ctx.fillText(hasImage() ? (imgFailed ? 'The image could not be loaded' : 'Loading the image…') : 'No image', cw / 2, chh / 2);
    ctx.textAlign = 'start';
    return;
  }
  ctx.setTransform(dpr * view.s, 0, 0, dpr * view.s, dpr * view.ox, dpr * view.oy);
  if (imgReady) {
    ctx.imageSmoothingEnabled = view.s < 3;
    ctx.drawImage(img, 0, 0, w, h);
  } else {
    ctx.fillStyle = '#474b53'; ctx.fillRect(0, 0, w, h);
  }
  ctx.strokeStyle = 'rgba(255,255,255,0.35)'; ctx.lineWidth = 1 / view.s; ctx.strokeRect(0, 0, w, h);
  if (!hidden) drawShapes(dpr);
  drawDraft(dpr);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}

function finishMeasure() {
  if (measureStart === null) return;
  if (V.image && !imgReady && !imgFailed) return;  // the first *full* draw includes the image
  const ms = performance.now() - measureStart;
  measureStart = null;
  window.__shapeCanvasLastRenderMs = ms;
  window.__shapeCanvasLastRenderAt = performance.now();
  root.setAttribute('data-render-ms', ms.toFixed(1));
  root.setAttribute('data-rendered-sample', String(V.sample_id));
  root.setAttribute('data-rendered-image', String(V.image || ''));
}

// -- editing ----------------------------------------------------------------------------------
function setTool(t) {
  if (drag) return;
  if (draft) cancelDraft();
  if (t === 'select') {
    selectMode = true;
  } else if (tools.includes(t)) {
    selectMode = false;
    if (t !== tool) { tool = t; storeTool(); publish(); }
  } else return;
  renderTools(); updateButtons();
  if (!selectMode && t === 'extreme_points') showMessage('Click the top, bottom, left-most and right-most points of the object', 'info');
  if (!selectMode && t === 'segment') showMessage(TOOL_DEFS.segment.how, 'info');
}

function needLabel() {
  if (curLabel !== null && labelOf(curLabel)) return true;
  showMessage('No label yet: type a name under "new label", pick a colour and press Add, then draw', 'error');
  return false;
}

function refuseOutside(x, y) {
  showMessage(`Refused: (${Math.round(x)}, ${Math.round(y)}) is outside the image (${W()} × ${H()} px); ` +
    'click inside the image: nothing was added', 'error');
}

function addShape(type, points, extra) {
  const s = { id: newId(), type, label: curLabel, points: points.map(([x, y]) => [r2(x), r2(y)]), attributes: {} };
  if (type === 'circle') s.radius = r2(extra.radius);
  shapes.push(s);
  selectedId = s.id;
  draft = null;
  hidden = false;  // a new shape is always shown
  return s;
}

function cancelDraft(msg) {
  draft = null; hoverPt = null;
  if (msg) showMessage(msg, 'info');
  refreshUI();
}

function dedupe(points) {
  const out = [];
  for (const p of points) {
    const q = out[out.length - 1];
    if (!q || Math.hypot(p[0] - q[0], p[1] - q[1]) * view.s > 0.5) out.push(p);
  }
  return out;
}

function finishDraft() {
  if (!draft) return false;
  const t = draft.type;
  if (t === 'segment') return keepSegment();
  if (t !== 'polygon' && t !== 'line' && t !== 'dashed_line') return false;
  let pts = dedupe(draft.points);
  if (t === 'polygon' && pts.length > 3) {
    const a = pts[0], b = pts[pts.length - 1];
    if (Math.hypot(a[0] - b[0], a[1] - b[1]) * view.s <= CLOSE) pts = pts.slice(0, -1);
  }
  const need = MIN_POINTS[t];
  if (pts.length < need) {
    showMessage(`A ${TOOL_DEFS[t].name.toLowerCase()} needs at least ${need} points (${pts.length} so far)`, 'error');
    return true;
  }
  addShape(t, pts);
  hoverPt = null;
  commit(`${TOOL_DEFS[t].name} added`, 'info');
  return true;
}

const SEGMENT_MAX_CLICKS = 32;  // media/sam.py MAX_CLICKS

async function segmentAsk() {
  // SAM on the server (GET /media/{id}/sam) outlines the object from the clicks so far; the
  // answer to an older set of clicks is dropped (data-segment: pending / proposed / empty / failed)
  const d = draft, sample = V.sample_id;
  if (!d || d.type !== 'segment' || sample == null) return;
  const asked = ++d.asked;
  const q = (pts) => pts.map((c) => `${c[0].toFixed(2)},${c[1].toFixed(2)}`).join(',');
  root.setAttribute('data-segment', 'pending');
  refreshUI();
  let out = null, err = '';
  try {
    const url = `/media/${encodeURIComponent(sample)}/sam?pos=${q(d.points)}` + (d.neg.length ? `&neg=${q(d.neg)}` : '');
    const resp = await fetch(url);
    if (resp.ok) out = await resp.json();
    else err = ((await resp.json().catch(() => ({}))).detail || `the server answered ${resp.status}`);
  } catch (e) { err = 'the server could not be reached'; }
  if (draft !== d || d.asked !== asked || V.sample_id !== sample) return;  // clicked again, or left
  if (out && Array.isArray(out.points) && out.points.length >= 3) {
    d.poly = out.points.map(([x, y]) => [r2(x), r2(y)]);
    root.setAttribute('data-segment', 'proposed');
    showMessage(`Outline proposed (${d.points.length} on, ${d.neg.length} off the object): Enter keeps it, click to correct, Esc drops it`, 'info');
  } else {
    d.poly = null;
    root.setAttribute('data-segment', out ? 'empty' : 'failed');
    showMessage(out ? 'No object found from these clicks: click elsewhere on the object' : `Click to segment failed: ${err}`, 'error');
  }
  refreshUI();
}

function keepSegment() {
  const d = draft;
  if (!d.poly || d.poly.length < 3) { showMessage('No outline to keep yet: click the object first', 'error'); return true; }
  if (!needLabel()) return true;
  addShape('polygon', d.poly);
  root.setAttribute('data-segment', 'kept');
  commit('Outline added: drag its vertices to adjust it', 'info');
  return true;
}

async function fitOutline(id, clicks) {
  // the server fits the object from the 4 clicks (GrabCut on the image, media/outline.py); the
  // octagon stays where the fit declines, fails, or the shape was changed in the meantime
  const sample = V.sample_id;
  const shape = shapeById(id);
  if (sample == null || !shape) return;
  root.setAttribute('data-outline', 'pending');
  const before = JSON.stringify(shape.points);
  const done = 'drag its vertices to adjust it, double-click an edge to add a vertex';
  let out = null;
  try {
    const q = clicks.map((c) => `${c[0].toFixed(2)},${c[1].toFixed(2)}`).join(',');
    const resp = await fetch(`/media/${encodeURIComponent(sample)}/outline?points=${q}`);
    if (resp.ok) out = await resp.json();
  } catch (e) { out = null; }
  const s = shapeById(id);
  if (!s || V.sample_id !== sample || JSON.stringify(s.points) !== before) {
    root.setAttribute('data-outline', s ? 'changed' : 'gone');  // edited, or another sample, meanwhile
    return;
  }
  if (out && (out.method === 'grabcut' || out.method === 'sam') && Array.isArray(out.points) && out.points.length >= 3) {
    s.points = out.points.map(([x, y]) => [r2(x), r2(y)]);
    root.setAttribute('data-outline', 'fitted');
    commit(`Outline fitted to the object (Ctrl+Z: the octagon through the points): ${done}`, 'info');
  } else {
    root.setAttribute('data-outline', 'octagon');
    showMessage(`Outline through the 4 extreme points (no fit to the image here): ${done}`, 'info');
  }
}

function proposeOutline(pts) {
  // assign the 4 clicks to top, right, bottom, left (any click order)
  let best = null, bestScore = -Infinity;
  const perm = (arr, k = []) => {
    if (!arr.length) {
      const [T, R, B, L] = k;
      const score = -T[1] + R[0] + B[1] - L[0];
      if (score > bestScore) { bestScore = score; best = k; }
      return;
    }
    arr.forEach((p, i) => perm(arr.filter((_, j) => j !== i), [...k, p]));
  };
  perm(pts);
  const [T, R, B, L] = best;
  const x0 = Math.min(L[0], T[0], B[0], R[0]), x1 = Math.max(R[0], T[0], B[0], L[0]);
  const y0 = Math.min(T[1], L[1], R[1], B[1]), y1 = Math.max(B[1], L[1], R[1], T[1]);
  const w8 = (x1 - x0) / 8, h8 = (y1 - y0) / 8;
  // an octagon through the extreme points: a short segment along each side of the box, centred
  // on the extreme point, joined to the next one
  const out = [
    [clamp(T[0] - w8, x0, x1), y0], [T[0], y0], [clamp(T[0] + w8, x0, x1), y0],
    [x1, clamp(R[1] - h8, y0, y1)], [x1, R[1]], [x1, clamp(R[1] + h8, y0, y1)],
    [clamp(B[0] + w8, x0, x1), y1], [B[0], y1], [clamp(B[0] - w8, x0, x1), y1],
    [x0, clamp(L[1] + h8, y0, y1)], [x0, L[1]], [x0, clamp(L[1] - h8, y0, y1)],
  ];
  const pts2 = [];
  for (const p of out) {
    const q = pts2[pts2.length - 1];
    if (!q || Math.hypot(p[0] - q[0], p[1] - q[1]) > 0.01) pts2.push(p);
  }
  if (pts2.length > 1) {
    const a = pts2[0], b = pts2[pts2.length - 1];
    if (Math.hypot(a[0] - b[0], a[1] - b[1]) <= 0.01) pts2.pop();
  }
  return pts2;
}

function deleteSelected() {
  if (drag) return true;
  const s = shapeById(selectedId);
  if (!s) { showMessage('Select a shape first (V, then click it)', 'info'); return true; }
  shapes = shapes.filter((x) => x.id !== s.id);
  selectedId = null;
  commit('Shape deleted (Ctrl+Z to undo)', 'info');
  return true;
}

function deleteAll() {
  if (drag) return true;
  if (draft) cancelDraft();
  if (!shapes.length) { showMessage('There are no shapes to delete', 'info'); return true; }
  const n = shapes.length;
  shapes = []; selectedId = null;
  commit(`All ${n} shapes deleted (Ctrl+Z to undo)`, 'info');
  return true;
}

function restoreHistory() {
  shapes = JSON.parse(history[hIdx]);
  if (!shapeById(selectedId)) selectedId = null;
  dirty = baseline === null ? true : history[hIdx] !== baseline;
  invalidate();
  schedulePublish();
  refreshUI();
}
function undo() {
  if (drag) return true;
  if (draft && draft.points.length) { removeLastDraftPoint(); return true; }
  if (hIdx <= 0) { showMessage('Nothing to undo', 'info'); return true; }
  hIdx--; restoreHistory(); showMessage('Undone', 'info');
  return true;
}
function redo() {
  if (drag) return true;
  if (hIdx >= history.length - 1) { showMessage('Nothing to redo', 'info'); return true; }
  hIdx++; restoreHistory(); showMessage('Redone', 'info');
  return true;
}
function removeLastDraftPoint() {
  if (!draft) return false;
  draft.points.pop();
  if (!draft.points.length) draft = null;
  refreshUI();
  return true;
}

function toggleHidden() {
  hidden = !hidden;
  showMessage(hidden ? 'Shapes hidden (Shift+H to show them)' : 'Shapes shown', 'info');
  refreshUI();
  return true;
}

function relabel(id, name) {
  const s = shapeById(id);
  if (!s || !labelOf(name)) return;
  s.label = name;
  const allowed = labelOf(name).attributes || {};
  for (const k of Object.keys(s.attributes || {})) if (!(k in allowed)) delete s.attributes[k];
  commit(`Shape relabelled "${name}"`, 'info');
  root.focus({ preventScroll: true });
}

function setAttribute(id, name, value) {
  const s = shapeById(id);
  if (!s) return;
  s.attributes = { ...(s.attributes || {}) };
  if (value === '') delete s.attributes[name]; else s.attributes[name] = value;
  commit();
  root.focus({ preventScroll: true });
}

function addLabel() {
  const name = newName.value.trim();
  if (!name) { showMessage('Type a name for the new label first', 'error'); newName.focus(); return; }
  if (name.length > 200) { showMessage('A label name has at most 200 characters', 'error'); return; }
  if (labelOf(name)) {
    curLabel = name; renderLabels(); publish();
    showMessage(`The label "${name}" already exists: it is now the current label`, 'info');
    return;
  }
  labels.push({ name, color: colorOf(newColor.value, labels.length), attributes: {}, new: true });
  curLabel = name;
  newName.value = '';
  newColor.value = PALETTE[labels.length % PALETTE.length];
  renderLabels(); publish();
  showMessage(`Label "${name}" added: it is saved with the image`, 'info');
  root.focus({ preventScroll: true });
}

// -- navigation / save -------------------------------------------------------------------------
function save() {
  if (!hasImage() || drag) return true;
  if (draft) finishDraft();
  hideConfirm();
  publish({ action: 'save' });
  trigger('save');
  return true;
}
function navigate(dir) {
  if (!hasImage() || drag) return true;
  if (draft) cancelDraft();
  if (dirty) { showConfirm(dir); return true; }
  publish({ action: dir });
  trigger('navigate');
  return true;
}
function showConfirm(dir) {
  confirmDir = dir;
  confirmText.textContent = `Unsaved changes on this image. Save them before going to the ${dir === 'prev' ? 'previous' : 'next'} image?`;
  confirmBar.hidden = false;
  confirmSave.focus({ preventScroll: true });
}
function hideConfirm() {
  const was = !confirmBar.hidden;
  confirmBar.hidden = true; confirmDir = null;
  if (was && root.contains(doc.activeElement)) root.focus({ preventScroll: true });
  return was;
}
function confirmAnswer(answer) {
  const dir = confirmDir;
  hideConfirm();
  if (!dir || answer === 'cancel') return;
  if (answer === 'save') {
    publish({ action: 'save_' + dir });
    trigger('save');
  } else {
    if (baseline !== null) shapes = JSON.parse(baseline);
    selectedId = null;
    invalidate();
    publish({ action: dir, dirty: false });
    refreshUI();
    trigger('navigate');
  }
}

function toggleFullscreen() {
  if (doc.fullscreenElement === element) doc.exitFullscreen().catch(() => {});
  else if (element.requestFullscreen) element.requestFullscreen().catch((e) => showMessage('Full screen is not available: ' + e.message, 'error'));
}

// -- pointer ----------------------------------------------------------------------------------
function cursorFor(p) {
  if (drag && drag.mode === 'pan') return 'grabbing';
  if (spaceDown) return 'grab';
  if (drag && drag.mode === 'move') return 'move';
  if (!selectMode && tool !== 'extreme_points') return 'crosshair';
  if (p) {
    const sel = shapeById(selectedId);
    if (sel && hitHandle(sel, p.cx, p.cy) >= 0) return 'pointer';
    if (selectMode && hitTest(p.x, p.y)) return 'move';
  }
  return selectMode ? 'default' : 'crosshair';
}

function onPointerDown(ev) {
  me.lastUsed = performance.now();
  if (doc.activeElement !== root) root.focus({ preventScroll: true });
  if (!hasImage() || !W()) return;
  const p = toImage(ev);
  if (ev.button === 1 || ev.button === 2 || (ev.button === 0 && spaceDown)) {
    ev.preventDefault();
    drag = { mode: 'pan', sx: ev.clientX, sy: ev.clientY, ox: view.ox, oy: view.oy };
    canvas.setPointerCapture(ev.pointerId);
    canvas.style.cursor = 'grabbing';
    return;
  }
  if (ev.button !== 0) return;
  ev.preventDefault();
  hideConfirm();
  const sel = shapeById(selectedId);
  const editing = selectMode || (tool === 'extreme_points' && !draft);
  if (editing && sel && !hidden) {
    const hIx = hitHandle(sel, p.cx, p.cy);
    if (hIx >= 0) {
      drag = { mode: 'resize', shape: sel, orig: clone(sel), handle: hIx, start: p, moved: false, clamped: false };
      canvas.setPointerCapture(ev.pointerId);
      return;
    }
  }
  if (selectMode) {
    const hit = hitTest(p.x, p.y);
    selectedId = hit ? hit.id : null;
    if (hit) {
      drag = { mode: 'move', shape: hit, orig: clone(hit), start: p, moved: false, clamped: false };
      canvas.setPointerCapture(ev.pointerId);
    }
    refreshUI();
    return;
  }
  // drawing tools
  if (!insideImage(p.x, p.y)) { refuseOutside(p.x, p.y); return; }
  if (!needLabel()) return;
  const pt = [p.x, p.y];
  switch (tool) {
    case 'rectangle':
      draft = { type: 'rectangle', points: [pt, pt.slice()] };
      drag = { mode: 'rect', start: p, clamped: false };
      canvas.setPointerCapture(ev.pointerId);
      break;
    case 'circle':
      draft = { type: 'circle', points: [pt], radius: 0 };
      drag = { mode: 'circle', start: p, clamped: false };
      canvas.setPointerCapture(ev.pointerId);
      break;
    case 'point':
      addShape('point', [pt]);
      commit('Point added', 'info');
      break;
    case 'polygon': case 'line': case 'dashed_line': {
      if (!draft || draft.type !== tool) draft = { type: tool, points: [] };
      const n = draft.points.length;
      if (tool === 'polygon' && n >= 3) {
        const [fx, fy] = toScreen(draft.points[0]);
        if (Math.hypot(fx - p.cx, fy - p.cy) <= CLOSE) { finishDraft(); return; }
      }
      if (n) {  // the 2nd click of a double-click adds nothing
        const [lx, ly] = toScreen(draft.points[n - 1]);
        if (Math.hypot(lx - p.cx, ly - p.cy) <= DUP) return;
      }
      draft.points.push(pt);
      if (draft.points.length === 1) showMessage('', 'info');
      refreshUI();
      break;
    }
    case 'segment': {
      if (!draft) draft = { type: 'segment', points: [], neg: [], poly: null, asked: 0 };
      if (draft.points.length + draft.neg.length >= SEGMENT_MAX_CLICKS) {
        showMessage(`At most ${SEGMENT_MAX_CLICKS} clicks on one object: Enter keeps the outline, Esc starts again`, 'error');
        return;
      }
      (ev.shiftKey ? draft.neg : draft.points).push(pt);
      segmentAsk();
      break;
    }
    case 'extreme_points': {
      if (!draft) draft = { type: 'extreme_points', points: [] };
      const n = draft.points.length;
      if (n) {
        const [lx, ly] = toScreen(draft.points[n - 1]);
        if (Math.hypot(lx - p.cx, ly - p.cy) <= DUP) return;
      }
      draft.points.push(pt);
      if (draft.points.length < 4) {
        showMessage(`Extreme points: ${draft.points.length} of 4 (top, bottom, left-most, right-most)`, 'info');
        refreshUI();
      } else {
        const clicks = draft.points.map((q) => [q[0], q[1]]);
        const poly = proposeOutline(clicks);
        if (poly.length < 3) { cancelDraft(); showMessage('These 4 points enclose no area: click the object\'s extreme points again', 'error'); return; }
        const added = addShape('polygon', poly);
        commit('Outline proposed through the 4 extreme points; fitting it to the object…', 'info');
        fitOutline(added.id, clicks);
      }
      break;
    }
    default: break;
  }
}

function onPointerMove(ev) {
  const p = toImage(ev);
  if (hasImage() && W()) {
    statusPos.textContent = insideImage(p.x, p.y) ? `x ${Math.round(p.x)}, y ${Math.round(p.y)}` : 'outside the image';
  }
  if (!drag) {
    hoverPt = [clamp(p.x, 0, W()), clamp(p.y, 0, H())];
    canvas.style.cursor = cursorFor(p);
    if (draft) requestDraw();
    return;
  }
  const w = W(), h = H();
  switch (drag.mode) {
    case 'pan':
      view.ox = drag.ox + (ev.clientX - drag.sx); view.oy = drag.oy + (ev.clientY - drag.sy);
      view.fitted = false;
      break;
    case 'rect': {
      const x = clamp(p.x, 0, w), y = clamp(p.y, 0, h);
      drag.clamped = x !== p.x || y !== p.y;
      draft.points[1] = [x, y];
      break;
    }
    case 'circle': {
      const [cx, cy] = draft.points[0];
      let r = Math.hypot(p.x - cx, p.y - cy);
      const max = Math.min(cx, cy, w - cx, h - cy);
      drag.clamped = r > max;
      draft.radius = Math.min(r, max);
      break;
    }
    case 'move': {
      if (!drag.moved && Math.hypot(p.cx - drag.start.cx, p.cy - drag.start.cy) < 2) return;
      drag.moved = true;
      const dx = p.x - drag.start.x, dy = p.y - drag.start.y;
      const [x0, y0, x1, y1] = bbox(drag.orig);
      const cdx = clamp(dx, -x0, w - x1), cdy = clamp(dy, -y0, h - y1);
      drag.clamped = cdx !== dx || cdy !== dy;
      drag.shape.points = drag.orig.points.map(([x, y]) => [r2(x + cdx), r2(y + cdy)]);
      break;
    }
    case 'resize': {
      drag.moved = true;
      applyResize(drag, p.x, p.y);
      break;
    }
    default: break;
  }
  requestDraw();
}

function applyResize(d, x, y) {
  const w = W(), h = H();
  const s = d.shape, o = d.orig;
  const cx = clamp(x, 0, w), cy = clamp(y, 0, h);
  d.clamped = cx !== x || cy !== y;
  if (s.type === 'rectangle') {
    const [x0, y0, x1, y1] = bbox(o);
    let nx0 = x0, ny0 = y0, nx1 = x1, ny1 = y1;
    if (d.handle === 0 || d.handle === 3) nx0 = cx; else nx1 = cx;
    if (d.handle === 0 || d.handle === 1) ny0 = cy; else ny1 = cy;
    s.points = [[r2(nx0), r2(ny0)], [r2(nx1), r2(ny1)]];
  } else if (s.type === 'circle') {
    const [ccx, ccy] = o.points[0];
    const r = Math.hypot(x - ccx, y - ccy);
    const max = Math.min(ccx, ccy, w - ccx, h - ccy);
    d.clamped = r > max;
    s.radius = r2(Math.min(r, max));
  } else {
    s.points = o.points.map((pt, j) => (j === d.handle ? [r2(cx), r2(cy)] : pt.slice()));
  }
}

function endDrag(ev) {
  const d = drag;
  drag = null;
  try { canvas.releasePointerCapture(ev.pointerId); } catch (e) { /* not captured */ }
  if (!d) return;
  const mode = d.mode;
  if (mode === 'pan') { canvas.style.cursor = cursorFor(null); updateStatus(); requestDraw(); return; }
  if (mode === 'rect') {
    const [a, b] = draft.points;
    const x0 = Math.min(a[0], b[0]), x1 = Math.max(a[0], b[0]), y0 = Math.min(a[1], b[1]), y1 = Math.max(a[1], b[1]);
    if ((x1 - x0) * view.s < 3 || (y1 - y0) * view.s < 3) { cancelDraft(); showMessage('Drag to draw a rectangle', 'info'); return; }
    addShape('rectangle', [[x0, y0], [x1, y1]]);
    commit(d.clamped ? 'Rectangle added, clamped at the image border (shapes must lie within the image)' : 'Rectangle added',
      d.clamped ? 'warn' : 'info');
    return;
  }
  if (mode === 'circle') {
    if (draft.radius * view.s < 2) { cancelDraft(); showMessage('Drag from the centre to draw a circle', 'info'); return; }
    addShape('circle', draft.points, { radius: draft.radius });
    commit(d.clamped ? 'Circle added, its radius clamped to stay within the image' : 'Circle added', d.clamped ? 'warn' : 'info');
    return;
  }
  if (mode === 'move' || mode === 'resize') {
    if (!d.moved) { refreshUI(); return; }
    const s = d.shape;
    if (s.type === 'rectangle') {
      const [x0, y0, x1, y1] = bbox(s);
      if (x1 - x0 < 1 || y1 - y0 < 1) {
        Object.assign(s, clone(d.orig));
        showMessage('Refused: a rectangle needs a width and a height; the resize was undone', 'error');
        refreshUI();
        return;
      }
      s.points = [[x0, y0], [x1, y1]];
    }
    if (s.type === 'polygon' && new Set(s.points.map((q) => q.join(','))).size < 3) {
      Object.assign(s, clone(d.orig));
      showMessage('Refused: a polygon needs 3 distinct points; the edit was undone', 'error');
      refreshUI();
      return;
    }
    const verb = mode === 'move' ? 'moved' : 'resized';
    commit(d.clamped ? `Shape ${verb}, clamped at the image border (shapes must lie within the image)` : undefined,
      d.clamped ? 'warn' : 'info');
  }
}

function onDblClick(ev) {
  ev.preventDefault();
  if (draft && (draft.type === 'polygon' || draft.type === 'line' || draft.type === 'dashed_line')) { finishDraft(); return; }
  // double-click on an edge of the selected polygon / line adds a vertex
  const sel = shapeById(selectedId);
  if (!sel || !(selectMode || tool === 'extreme_points')) return;
  if (!['polygon', 'line', 'dashed_line'].includes(sel.type)) return;
  const p = toImage(ev);
  if (hitHandle(sel, p.cx, p.cy) >= 0) return;
  const i = nearPath(p.x, p.y, sel.points, sel.type === 'polygon', HIT / view.s);
  if (i < 0 || !insideImage(p.x, p.y)) return;
  sel.points.splice(i + 1, 0, [r2(p.x), r2(p.y)]);
  commit('Vertex added', 'info');
}

function onEscape() {
  if (drag) {
    const d = drag; drag = null;
    if (d.mode === 'move' || d.mode === 'resize') {
      Object.assign(d.shape, clone(d.orig));
      showMessage(`${d.mode === 'move' ? 'Move' : 'Resize'} cancelled: the shape is back where it was`, 'info');
    } else if (d.mode === 'rect' || d.mode === 'circle') {
      draft = null; showMessage('Shape cancelled', 'info');
    }
    canvas.style.cursor = cursorFor(null);
    refreshUI();
    return true;
  }
  if (hideConfirm()) return true;
  if (draft) { cancelDraft('Shape cancelled'); return true; }
  if (selectedId) { selectedId = null; refreshUI(); return true; }
  return false;
}

canvas.addEventListener('pointerdown', onPointerDown);
canvas.addEventListener('pointermove', onPointerMove);
canvas.addEventListener('pointerup', (ev) => { if (drag) endDrag(ev); });
canvas.addEventListener('pointercancel', (ev) => { if (drag) { onEscape(); try { canvas.releasePointerCapture(ev.pointerId); } catch (e) { /* */ } } });
let overCanvas = false;
canvas.addEventListener('pointerenter', () => { overCanvas = true; });
canvas.addEventListener('pointerleave', () => { overCanvas = false; });
canvas.addEventListener('pointerleave', () => { if (!drag) { statusPos.textContent = ''; hoverPt = null; if (draft) requestDraw(); } });
canvas.addEventListener('dblclick', onDblClick);
canvas.addEventListener('contextmenu', (ev) => ev.preventDefault());
canvas.addEventListener('wheel', (ev) => {
  if (!hasImage()) return;
  ev.preventDefault();
  const p = toImage(ev);
  const unit = ev.deltaMode === 1 ? 16 : (ev.deltaMode === 2 ? 400 : 1);
  lastWheel = performance.now();
  clearTimeout(wheelTimer);
  wheelTimer = setTimeout(requestDraw, 170);  // the sharp redraw once the wheel stops
  zoomAt(p.cx, p.cy, Math.exp(-ev.deltaY * unit * 0.0015));
}, { passive: false });

labelSelect.addEventListener('change', () => {
  if (!labelOf(labelSelect.value)) return;
  curLabel = labelSelect.value;
  renderLabels();
  publish();
  root.focus({ preventScroll: true });
});
newName.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); addLabel(); } });

// -- keyboard ---------------------------------------------------------------------------------
const REG = window.__shapeCanvasInstances || (window.__shapeCanvasInstances = []);
const me = { root, hovered: false, lastUsed: 0, visible: () => root.isConnected && root.getClientRects().length > 0 };
REG.push(me);
root.addEventListener('pointerenter', () => { me.hovered = true; });
root.addEventListener('pointerleave', () => { me.hovered = false; flushPublish(); });
root.addEventListener('focusout', (ev) => { if (!root.contains(ev.relatedTarget)) flushPublish(); });
root.addEventListener('focusin', () => { me.lastUsed = performance.now(); });

function typingIn(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  if (t.tagName !== 'INPUT') return false;
  return !['button', 'checkbox', 'radio', 'color', 'range', 'submit', 'reset', 'file', 'image'].includes((t.type || '').toLowerCase());
}
function keysForMe(e) {
  if (!me.visible()) return false;
  const ae = doc.activeElement;
  if (typingIn(e.target) || typingIn(ae)) return false;  // the user types somewhere: hands off
  if (root.contains(ae) || me.hovered || doc.fullscreenElement === element) return true;
  const others = REG.filter((o) => o !== me && o.root.isConnected && o.visible());
  if (others.some((o) => o.hovered || o.root.contains(ae))) return false;
  return others.every((o) => o.lastUsed <= me.lastUsed);
}
const isButton = (t) => t && t.tagName === 'BUTTON';

function onKeyDown(e) {
  if (!root.isConnected) { cleanup(); return; }
  if (e.isComposing || !keysForMe(e)) return;
  const k = e.key;
  const lower = k && k.length === 1 ? k.toLowerCase() : k;
  const ctrl = e.ctrlKey || e.metaKey;
  let handled = false;
  if (ctrl && !e.altKey) {
    if (lower === 'z') handled = e.shiftKey ? redo() : undo();
    else if (lower === 'y') handled = redo();
    else if (lower === 's') handled = e.repeat ? true : save();
  } else if (!e.altKey) {
    if (k === 'Escape') handled = onEscape();
    else if (k === 'Enter') handled = isButton(e.target) ? false : finishDraft();
    else if (k === 'Delete') handled = e.shiftKey ? deleteAll() : deleteSelected();
    else if (k === 'Backspace') handled = draft ? removeLastDraftPoint() : deleteSelected();
    else if (lower === 'h' && e.shiftKey) handled = toggleHidden();
    else if (lower === 'a' && !e.shiftKey) handled = e.repeat ? true : navigate('prev');
    else if (lower === 'd' && !e.shiftKey) handled = e.repeat ? true : navigate('next');
    else if (lower === 'v' && !e.shiftKey) { setTool('select'); handled = true; }
    else if (/^[1-9]$/.test(k) && tools[Number(k) - 1]) { setTool(tools[Number(k) - 1]); handled = true; }
    else if (k === ' ' && (overCanvas || !isButton(e.target))) { spaceDown = true; canvas.style.cursor = 'grab'; handled = true; }
  }
  if (handled) { e.preventDefault(); e.stopPropagation(); }
}
function onKeyUp(e) {
  if (e.key === ' ' && spaceDown) {
    spaceDown = false; canvas.style.cursor = cursorFor(null);
    e.preventDefault(); e.stopPropagation();  // no click on a focused button
  }
}
window.addEventListener('keydown', onKeyDown, true);
window.addEventListener('keyup', onKeyUp, true);
window.addEventListener('blur', () => { spaceDown = false; });
const onFs = () => { fsBtn.setAttribute('aria-pressed', String(doc.fullscreenElement === element)); view.fitted = true; layout(); };
doc.addEventListener('fullscreenchange', onFs);
const ro = new ResizeObserver(() => layout());
ro.observe(stage);
function cleanup() {
  window.removeEventListener('keydown', onKeyDown, true);
  window.removeEventListener('keyup', onKeyUp, true);
  doc.removeEventListener('fullscreenchange', onFs);
  ro.disconnect();
  const i = REG.indexOf(me); if (i >= 0) REG.splice(i, 1);
}

// -- for tests and the page: a small read-only view of the state ------------------------------
root.__shapeCanvas = {
  save,  // the page's Save button: the same as Ctrl+S, without sending the value to the server and back first
  imageToClient(x, y) { const r = canvas.getBoundingClientRect(); const [sx, sy] = toScreen([x, y]); return { x: r.left + sx, y: r.top + sy }; },
  state() {
    return { tool, selectMode, label: curLabel, selected: selectedId, dirty, hidden, history: history.length, historyIndex: hIdx,
      draft: draft ? clone(draft) : null, view: { ...view }, shapes: clone(shapes) };
  },
};

// -- value from Python ------------------------------------------------------------------------
load(props.value, true);
if (typeof watch === 'function') {
  watch('value', () => load(props.value, false));
} else {  // older Gradio: poll for a new value object
  let last = props.value;
  setInterval(() => { if (props.value !== last) { last = props.value; if (props.value !== V) load(props.value, false); } }, 150);
}
