// Labelport span picker: the body of gr.HTML(js_on_load=...), run with element, trigger, props, watch.
// See components/span_picker.py for the value contract.
//
// Offsets are Unicode code points (Python str indices), end exclusive; the DOM's ranges count
// UTF-16 units, so every boundary is converted here (emoji and other astral characters count 1).
// Events: trigger('save') only; Gradio dispatches 'change' itself whenever props.value changes.
// Every text from the value (the record, label names, messages) reaches the DOM via textContent.
'use strict';

const doc = element.ownerDocument;
const root = element.querySelector('.sp-root') || element;
root.textContent = '';
root.tabIndex = 0;
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];
const HEX = /^#[0-9a-fA-F]{6}$/;

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
const an = (w) => (/^[aeiou]/i.test(String(w)) ? 'an ' : 'a ') + w;  // 'an effect', 'a drug'

// -- state -----------------------------------------------------------------------------------
let V = null;            // the last value (from Python or published)
let lastJSON = '';
let mode = 'ner';
let chars = [];          // the text as code points
let spans = [];          // [{id, start, end, label}] (entities in triplet mode)
let relations = [];      // [{id, from, to, label}]
let labels = [];         // [{name, color}]
let allowed = [];        // [{name, source, target}]
let baseline = '';
let pending = null;      // {start, end}: selected text waiting for a label
let selectedId = null;   // a span clicked (NER: relabel / delete; triplet: the source)
let targetId = null;     // triplet: the target entity
let lastUsed = 0;

// -- layout ----------------------------------------------------------------------------------
const labelBar = el('div', { class: 'sp-labels', role: 'toolbar', 'aria-label': 'entity labels' });
const hint = el('div', { class: 'sp-hint' });
const message = el('div', { class: 'sp-message', role: 'status', 'aria-live': 'polite', 'data-testid': 'span-message' });
const textBox = el('div', { class: 'sp-text', 'data-testid': 'span-text' });
const relPicker = el('div', { class: 'sp-relpicker', hidden: true, 'data-testid': 'relation-picker' });
const relTitle = el('h4', { class: 'sp-reltitle', text: 'Relations' });
const relList = el('ul', { class: 'sp-relations', 'data-testid': 'relation-list' });
const relBox = el('div', { class: 'sp-relbox' }, relTitle, relList);
root.append(labelBar, hint, message, textBox, relPicker, relBox);

function colorOf(name) {
  const i = labels.findIndex((l) => l.name === name);
  if (i < 0) return '#999999';
  return HEX.test(labels[i].color || '') ? labels[i].color : PALETTE[i % PALETTE.length];
}
function showMessage(text, kind) {
  message.textContent = text || '';
  message.className = 'sp-message' + (kind ? ' sp-' + kind : '');
}
function spanText(s) { return chars.slice(s.start, s.end).join(''); }
function byId(id) { return spans.find((s) => s.id === id); }

function renderLabels() {
  labelBar.textContent = '';
  labels.forEach((lab, i) => {
    const key = i < 9 ? String(i + 1) : '';
    const b = el('button', { type: 'button', class: 'sp-label-btn', 'data-label': lab.name,
      title: key ? `${lab.name} (key ${key})` : lab.name },
      el('span', { class: 'sp-swatch', 'aria-hidden': 'true' }),
      el('span', { class: 'sp-label-name', text: lab.name }),
      key ? el('kbd', { text: key }) : null);
    b.querySelector('.sp-swatch').style.background = colorOf(lab.name);
    b.addEventListener('mousedown', (e) => e.preventDefault());  // keep the text selection
    b.addEventListener('click', () => { lastUsed = performance.now(); chooseLabel(lab.name); });
    labelBar.append(b);
  });
  if (!labels.length) labelBar.append(el('span', { class: 'sp-none', text: 'No labels yet: add one first.' }));
  hint.textContent = mode === 'triplet'
    ? 'Select text and press a label (1-9) to mark an entity · click a source entity, then a target entity, to relate them · × deletes · Ctrl+S saves'
    : 'Select text and press a label (1-9) · click a span then a label to change it · × or Delete removes · Ctrl+S saves';
}

function renderText() {
  textBox.textContent = '';
  const sorted = spans.slice().sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = 0;
  const seg = (a, b) => el('span', { class: 'sp-seg', 'data-start': a, 'data-end': b, text: chars.slice(a, b).join('') });
  const plain = (a, b) => {
    if (b <= a) return;
    if (pending && pending.start < b && pending.end > a) {  // show the pending selection
      const s = Math.max(a, pending.start), e = Math.min(b, pending.end);
      if (s > a) textBox.append(seg(a, s));
      textBox.append(el('span', { class: 'sp-pending' }, seg(s, e)));
      if (e < b) textBox.append(seg(e, b));
    } else textBox.append(seg(a, b));
  };
  for (const s of sorted) {
    plain(pos, s.start);
    // nested entities (triplets may hold them, from an import): the text is shown once
    const a = Math.max(s.start, pos), b = Math.max(s.end, pos);
    const m = el('mark', { class: 'sp-span', 'data-id': s.id, 'data-label': s.label, title: `${s.label} [${s.start}, ${s.end})` },
      seg(a, b),
      el('span', { class: 'sp-tag', text: s.label }),
      el('button', { type: 'button', class: 'sp-del', title: 'remove this span', 'aria-label': `remove ${s.label} span`, text: '×' }));
    m.style.setProperty('--sp-color', colorOf(s.label));
    if (s.id === selectedId) m.classList.add('sp-selected');
    if (s.id === targetId) m.classList.add('sp-target');
    textBox.append(m);
    pos = Math.max(pos, s.end);
  }
  plain(pos, chars.length);
  if (!chars.length) textBox.append(el('span', { class: 'sp-empty', text: V && V.sample_id != null ? '(empty record)' : 'No record open.' }));
}

function renderRelations() {
  relBox.hidden = mode !== 'triplet';
  relList.textContent = '';
  if (mode !== 'triplet') return;
  relTitle.textContent = `Relations (${relations.length})`;
  for (const r of relations) {
    const a = byId(r.from), b = byId(r.to);
    const li = el('li', { class: 'sp-relation', 'data-id': r.id },
      el('span', { class: 'sp-rel-end', text: a ? `${spanText(a)} [${a.label}]` : r.from }),
      el('span', { class: 'sp-rel-label', text: ` —${r.label}→ ` }),
      el('span', { class: 'sp-rel-end', text: b ? `${spanText(b)} [${b.label}]` : r.to }),
      el('button', { type: 'button', class: 'sp-rel-del', title: 'delete this relation', 'aria-label': `delete relation ${r.label}`, text: '×' }));
    li.querySelector('.sp-rel-del').addEventListener('click', () => {
      relations = relations.filter((x) => x.id !== r.id);
      showMessage(`Relation "${r.label}" deleted`, 'info');
      render(); publish();
    });
    relList.append(li);
  }
  if (!relations.length) relList.append(el('li', { class: 'sp-none', text: 'No relations yet.' }));
}

function renderPicker() {
  relPicker.textContent = '';
  const a = byId(selectedId), b = byId(targetId);
  if (mode !== 'triplet' || !a || !b) { relPicker.hidden = true; return; }
  const options = allowed.filter((r) => r.source === a.label && r.target === b.label);
  relPicker.hidden = false;
  relPicker.append(el('span', { class: 'sp-relq', text: `${spanText(a)} [${a.label}] → ${spanText(b)} [${b.label}]: ` }));
  for (const r of options) {
    const btn = el('button', { type: 'button', class: 'sp-rel-option', 'data-relation': r.name, text: r.name });
    btn.addEventListener('click', () => addRelation(r.name));
    relPicker.append(btn);
  }
  relPicker.append(el('button', { type: 'button', class: 'sp-rel-cancel', text: 'Cancel',
    onclick: () => { selectedId = null; targetId = null; render(); } }));
}

function markOpen() { if (V && V.sample_id != null) root.setAttribute('data-open-sample', String(V.sample_id)); else root.removeAttribute('data-open-sample'); }  // the address bar's sample (assets/links.js)
function render() { renderLabels(); renderText(); renderRelations(); renderPicker(); markOpen(); }

// -- value -----------------------------------------------------------------------------------
function snapshot() { return JSON.stringify(mode === 'triplet' ? [spans, relations] : [spans]); }
function publish(extra) {
  const snap = snapshot();
  V = { ...V, dirty: snap !== baseline, message: null, ...(extra || {}) };
  if (mode === 'triplet') { V.entities = clone(spans); V.relations = clone(relations); delete V.spans; }
  else { V.spans = clone(spans); }
  lastJSON = JSON.stringify(V);
  props.value = V;  // Gradio dispatches 'change'
}
function load(v) {
  v = v && typeof v === 'object' ? v : {};
  const j = JSON.stringify(v);
  if (j === lastJSON) return;
  lastJSON = j;
  const V0 = V;
  V = clone(v);
  mode = v.mode === 'triplet' ? 'triplet' : 'ner';
  const before = { text: chars.join(''), sample: V0 && V0.sample_id, pending, selectedId };
  chars = Array.from(typeof v.text === 'string' ? v.text : '');
  spans = clone((mode === 'triplet' ? v.entities : v.spans) || []).filter((s) => s && Number.isInteger(s.start) && Number.isInteger(s.end));
  relations = mode === 'triplet' ? clone(v.relations || []) : [];
  labels = Array.isArray(v.labels) ? v.labels.filter((l) => l && typeof l.name === 'string') : [];
  allowed = Array.isArray(v.relations_allowed) ? v.relations_allowed : [];
  if (!v.dirty) baseline = snapshot();
  pending = null; selectedId = null; targetId = null;
  if (before.text === chars.join('') && before.sample === v.sample_id) {
    // the same text again (a late answer for the sample already open): a selection waiting for
    // its label, or a picked span, survives where it still fits
    const p = before.pending;
    if (p && p.end <= chars.length && !overlapping(p.start, p.end)) pending = p;
    if (before.selectedId && spans.some((x) => x.id === before.selectedId)) selectedId = before.selectedId;
  }
  showMessage(v.message || '', v.message ? 'info' : '');
  render();
}

// -- editing ---------------------------------------------------------------------------------
function nextId(prefix, list) {
  let n = 0;
  for (const x of list) { const m = /^[A-Za-z]+(\d+)$/.exec(String(x.id)); if (m) n = Math.max(n, Number(m[1])); }
  return prefix + (n + 1);
}
function overlapping(s, e, exceptId) { return spans.find((x) => x.id !== exceptId && x.start < e && x.end > s); }

function chooseLabel(name) {
  if (!labels.some((l) => l.name === name)) return;
  if (pending) {
    const clash = overlapping(pending.start, pending.end);
    if (clash) { showMessage(`Spans cannot overlap: this selection overlaps "${spanText(clash)}" [${clash.label}]`, 'error'); return; }
    const s = { id: nextId(mode === 'triplet' ? 'E' : 'T', spans), start: pending.start, end: pending.end, label: name };
    spans.push(s);
    pending = null;
    clearDomSelection();
    showMessage(`"${spanText(s)}" labeled ${name}`, 'info');
    render(); publish();
    return;
  }
  const sel = byId(selectedId);
  if (sel && mode === 'ner') {
    sel.label = name;
    showMessage(`"${spanText(sel)}" is now ${name}`, 'info');
    render(); publish();
    return;
  }
  showMessage('Select some text first, then choose its label', 'error');
}

function removeSpan(id) {
  const s = byId(id);
  if (!s) return;
  spans = spans.filter((x) => x.id !== id);
  const gone = relations.filter((r) => r.from === id || r.to === id).length;
  relations = relations.filter((r) => r.from !== id && r.to !== id);
  if (selectedId === id) selectedId = null;
  if (targetId === id) targetId = null;
  showMessage(`Removed "${spanText(s)}" [${s.label}]` + (gone ? ` and its ${gone} relation${gone > 1 ? 's' : ''}` : ''), 'info');
  render(); publish();
}

function addRelation(name) {
  const a = byId(selectedId), b = byId(targetId);
  if (!a || !b) return;
  if (!allowed.some((r) => r.name === name && r.source === a.label && r.target === b.label)) {
    showMessage(`"${name}" cannot link ${an(a.label)} entity to ${an(b.label)} entity`, 'error'); return;
  }
  if (relations.some((r) => r.from === a.id && r.to === b.id && r.label === name)) {
    showMessage('This relation already exists', 'error'); return;
  }
  relations.push({ id: nextId('R', relations), from: a.id, to: b.id, label: name });
  selectedId = null; targetId = null;
  showMessage(`Linked "${spanText(a)}" —${name}→ "${spanText(b)}"`, 'info');
  render(); publish();
}

function clickSpan(id) {
  pending = null;
  if (mode !== 'triplet') {
    selectedId = selectedId === id ? null : id;
    showMessage(selectedId ? 'Span selected: press a label to change it, Delete to remove it' : '', 'info');
    render(); return;
  }
  if (selectedId === null || targetId !== null) {
    selectedId = id; targetId = null;
    showMessage(`Source: "${spanText(byId(id))}" [${byId(id).label}]: now click the target entity`, 'info');
    render(); return;
  }
  if (selectedId === id) { selectedId = null; showMessage('', ''); render(); return; }
  const a = byId(selectedId), b = byId(id);
  const options = allowed.filter((r) => r.source === a.label && r.target === b.label);
  if (!options.length) {
    const from = allowed.filter((r) => r.source === a.label).map((r) => `${r.name} (${r.source} → ${r.target})`);
    showMessage(`No relationship goes from ${an(a.label)} entity to ${an(b.label)} entity` +
      (from.length ? `; allowed from ${a.label}: ${from.join(', ')}` : `; no relationship starts at ${an(a.label)} entity`), 'error');
    selectedId = null; targetId = null;
    render(); return;
  }
  targetId = id;
  showMessage('Pick the relationship', 'info');
  render();
}

// -- selection → code point offsets ----------------------------------------------------------
// A UTF-16 offset inside `str` as a count of code points; inside a surrogate pair it rounds
// down for a start and up for an end.
function cpOffset(str, u16, roundUp) {
  let cp = 0, i = 0;
  while (i < u16 && i < str.length) {
    const c = str.codePointAt(i);
    const w = c > 0xffff ? 2 : 1;
    if (i + w > u16 && !roundUp) break;
    i += w; cp += 1;
  }
  return cp;
}
function clearDomSelection() { const sel = doc.getSelection(); if (sel) sel.removeAllRanges(); }

function selectionOffsets() {
  const sel = doc.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  if (!textBox.contains(range.commonAncestorContainer) && !range.intersectsNode(textBox)) return null;
  let start = null, end = null;
  for (const segEl of textBox.querySelectorAll('.sp-seg')) {
    const node = segEl.firstChild;
    if (!node || !range.intersectsNode(node)) continue;
    const a = Number(segEl.dataset.start), b = Number(segEl.dataset.end);
    const s = range.startContainer === node ? a + cpOffset(node.data, range.startOffset, false) : a;
    const e = range.endContainer === node ? a + cpOffset(node.data, range.endOffset, true) : b;
    if (e <= s) continue;
    if (start === null || s < start) start = s;
    if (end === null || e > end) end = e;
  }
  if (start === null) return null;
  while (start < end && /\s/u.test(chars[start])) start++;  // snap: no surrounding white space
  while (end > start && /\s/u.test(chars[end - 1])) end--;
  return end > start ? { start, end } : null;
}

textBox.addEventListener('mouseup', () => {
  lastUsed = performance.now();
  setTimeout(() => {
    const off = selectionOffsets();
    if (!off) return;
    const clash = overlapping(off.start, off.end);
    if (clash) {
      showMessage(`Spans cannot overlap: the selection overlaps "${spanText(clash)}" [${clash.label}]`, 'error');
      return;
    }
    pending = off; selectedId = null; targetId = null;
    showMessage(`Selected "${chars.slice(off.start, off.end).join('')}" [${off.start}, ${off.end}): press a label (1-9)`, 'info');
    renderText(); renderPicker();
  }, 0);
});
textBox.addEventListener('click', (e) => {
  const del = e.target.closest('.sp-del');
  const mark = e.target.closest('.sp-span');
  if (del && mark) { e.preventDefault(); removeSpan(mark.dataset.id); return; }
  const sel = doc.getSelection();
  if (sel && !sel.isCollapsed) return;  // the end of a text selection, not a click
  if (mark) clickSpan(mark.dataset.id);
});

// -- keys ------------------------------------------------------------------------------------
function typingIn(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  return t.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'color', 'range', 'submit'].includes((t.type || '').toLowerCase());
}
function visible() { return root.isConnected && root.offsetParent !== null && root.getClientRects().length > 0; }
function onKeyDown(e) {
  if (!root.isConnected) { window.removeEventListener('keydown', onKeyDown, true); return; }
  if (e.isComposing || !visible() || typingIn(e.target) || typingIn(doc.activeElement)) return;
  const ctrl = e.ctrlKey || e.metaKey;
  const k = e.key;
  let handled = false;
  if (ctrl && !e.altKey && (k === 's' || k === 'S')) {
    if (!e.repeat && V && V.sample_id != null) { publish({ action: 'save' }); trigger('save'); }
    handled = true;
  } else if (!ctrl && !e.altKey) {
    if (/^[1-9]$/.test(k) && labels[Number(k) - 1] && (pending || selectedId)) { chooseLabel(labels[Number(k) - 1].name); handled = true; }
    else if (k === 'Escape' && (pending || selectedId)) { pending = null; selectedId = null; targetId = null; clearDomSelection(); showMessage('', ''); render(); handled = true; }
    else if ((k === 'Delete' || k === 'Backspace') && selectedId && !targetId) { removeSpan(selectedId); handled = true; }
  }
  if (handled) { e.preventDefault(); e.stopPropagation(); }
}
window.addEventListener('keydown', onKeyDown, true);

// for tests: a read-only view of the state
root.__spanPicker = { state() { return { mode, spans: clone(spans), relations: clone(relations), pending, selectedId, targetId, text: chars.join('') }; } };

load(props.value);
if (typeof watch === 'function') {
  watch('value', () => load(props.value));
} else {
  let last = props.value;
  setInterval(() => { if (props.value !== last) { last = props.value; load(props.value); } }, 150);
}
