// Labelport label-set editor: the body of gr.HTML(js_on_load=...), run with element, trigger,
// props, watch. See components/label_editor.py for the value contract.
//
// Edits assign props.value (Gradio dispatches 'change'); the rows are drawn again only when the
// value comes from Python, so typing never loses the focus. Text from the value reaches the DOM
// through textContent / input.value, never innerHTML.
'use strict';

const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6',
  '#bfef45', '#469990', '#9a6324', '#800000', '#808000', '#000075', '#ffe119'];
const KEYS = '1234567890qwertyuiopasdfghjklzxcvbnm';
const root = element.querySelector('.le-root') || element;
let V = null;
let published = null;

function clone(x) { return JSON.parse(JSON.stringify(x)); }
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') n.textContent = v;
    else if (k === 'value') n.value = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) n.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids) if (kid) n.append(kid);
  return n;
}
function norm(v) {
  const out = clone(v || {});
  out.features = out.features || {};
  for (const part of ['labels', 'entities', 'relations', 'classes']) out[part] = Array.isArray(out[part]) ? out[part] : [];
  return out;
}
function publish() {
  V.message = null;
  published = JSON.stringify(V);
  props.value = clone(V);
}
function usedColors() {
  return new Set([...V.labels, ...V.entities, ...V.relations].map(r => (r.color || '').toLowerCase()));
}
function nextColor() {
  const used = usedColors();
  const free = PALETTE.find(c => !used.has(c));
  const n = V.labels.length + V.entities.length + V.relations.length;
  return free || PALETTE[n % PALETTE.length];
}
function nextKey() {
  const used = new Set(V.labels.map(r => (r.shortcut || '').toLowerCase()));
  return [...KEYS].find(k => !used.has(k)) || '';
}
function newLabel(name) {
  const f = V.features;
  return { name: name || '', color: f.colors ? nextColor() : '', shortcut: f.shortcuts ? nextKey() : '', attributes: {} };
}
// attributes as one line: "size: s | m | l; color: red | blue"
function attrsText(a) {
  return Object.entries(a || {}).map(([k, vals]) => `${k}: ${(vals || []).join(' | ')}`).join('; ');
}
function parseAttrs(text) {
  const out = {};
  for (const part of (text || '').split(';')) {
    const i = part.indexOf(':');
    if (i < 0) { if (part.trim()) out[part.trim()] = []; continue; }
    const name = part.slice(0, i).trim();
    if (name) out[name] = part.slice(i + 1).split('|').map(s => s.trim()).filter(Boolean);
  }
  return out;
}
// a comma (or line) separated list; commas inside brackets stay in the name ("Cause-Effect(e1,e2)"),
// as store/labelset.py's split_label_list reads it
function splitNames(text) {
  const out = [];
  let depth = 0, cur = '';
  for (const ch of text || '') {
    if ('([{'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch) && depth) depth -= 1;
    if ((ch === ',' || ch === '\n') && !depth) { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out.map(s => s.trim()).filter(Boolean);
}
function setMessage(text, kind) {
  const m = root.querySelector('.le-message');
  if (m) { m.textContent = text || ''; m.dataset.kind = kind || ''; }
}

function field(row, key, attrs, onChange) {
  return el('input', {
    ...attrs, value: row[key] || '',
    oninput: e => { row[key] = e.target.value; },
    onchange: e => { row[key] = e.target.value; if (onChange) onChange(); publish(); },
  });
}
function colorField(row, what) {
  if (!row.color) row.color = nextColor();
  return el('input', { type: 'color', class: 'le-color', 'aria-label': `color of ${what}`, value: row.color,
    onchange: e => { row.color = e.target.value; publish(); } });
}
function removeButton(list, row, what) {
  return el('button', { type: 'button', class: 'le-del', title: `remove this ${what}`, 'aria-label': `remove ${what}`,
    text: '×', onclick: () => { list.splice(list.indexOf(row), 1); publish(); render(); } });
}
function addButton(text, onclick) {
  return el('button', { type: 'button', class: 'le-add', text, onclick: () => { onclick(); publish(); render(true); } });
}

function labelRows() {
  const f = V.features;
  const head = el('div', { class: 'le-row le-head' },
    f.colors && el('span', { class: 'le-c-color', text: 'Color' }), el('span', { class: 'le-c-name', text: 'Label' }),
    f.shortcuts && el('span', { class: 'le-c-key', text: 'Key' }),
    f.attributes && el('span', { class: 'le-c-attrs', text: 'Attributes (name: value | value; ...)' }),
    el('span', { class: 'le-c-del' }));
  const rows = V.labels.map((row, i) => el('div', { class: 'le-row le-label', 'data-index': i },
    f.colors && colorField(row, row.name || 'label'),
    field(row, 'name', { class: 'le-name', placeholder: 'label name', 'aria-label': 'label name' }),
    f.shortcuts && field(row, 'shortcut', { class: 'le-key', maxlength: 1, 'aria-label': 'shortcut key' }),
    f.attributes && el('input', { class: 'le-attrs', value: attrsText(row.attributes), placeholder: 'size: s | m | l',
      'aria-label': 'attributes', onchange: e => { row.attributes = parseAttrs(e.target.value); publish(); } }),
    removeButton(V.labels, row, 'label')));
  return el('div', { class: 'le-section le-labels' },
    el('div', { class: 'le-title', text: f.classes ? 'Labels (single-label mode)' : 'Labels' }),
    head, ...rows, addButton('+ Label', () => V.labels.push(newLabel(''))));
}
function entityRows() {
  const rows = V.entities.map((row, i) => el('div', { class: 'le-row le-entity', 'data-index': i },
    colorField(row, row.name || 'entity'),
    field(row, 'name', { class: 'le-name', placeholder: 'entity label', 'aria-label': 'entity label' },
      () => render()),
    removeButton(V.entities, row, 'entity label')));
  return el('div', { class: 'le-section le-entities' }, el('div', { class: 'le-title', text: 'Entity labels' }),
    ...rows, addButton('+ Entity', () => V.entities.push({ name: '', color: nextColor() })));
}
function endPicker(row, key, what) {
  const names = V.entities.map(e => e.name).filter(Boolean);
  const sel = el('select', { class: `le-${key}`, 'aria-label': what,
    onchange: e => { row[key] = e.target.value; publish(); } });
  sel.append(el('option', { value: '', text: `— ${what} —` }));
  for (const n of names) sel.append(el('option', { value: n, text: n }));
  sel.value = names.includes(row[key]) ? row[key] : '';
  return sel;
}
function relationRows() {
  const rows = V.relations.map((row, i) => el('div', { class: 'le-row le-relation', 'data-index': i },
    colorField(row, row.name || 'relation'),
    field(row, 'name', { class: 'le-name', placeholder: 'relation', 'aria-label': 'relation label' }),
    endPicker(row, 'source', 'source'), el('span', { class: 'le-arrow', text: '→' }), endPicker(row, 'target', 'target'),
    removeButton(V.relations, row, 'relation')));
  const ents = V.entities.filter(e => e.name);
  return el('div', { class: 'le-section le-relations' }, el('div', { class: 'le-title', text: 'Relations' }),
    ...rows, addButton('+ Relation', () => V.relations.push({ name: '', source: ents[0] ? ents[0].name : '',
      target: ents[1] ? ents[1].name : (ents[0] ? ents[0].name : ''), color: nextColor() })));
}
function classRows() {
  const rows = V.classes.map((row, i) => el('div', { class: 'le-row le-class', 'data-index': i },
    field(row, 'name', { class: 'le-name', placeholder: 'class (e.g. speaker)', 'aria-label': 'class name' }),
    el('input', { class: 'le-class-labels', value: (row.labels || []).join(', '), placeholder: 'labels: a, b, c',
      'aria-label': 'labels of the class',
      onchange: e => { row.labels = e.target.value.split(',').map(s => s.trim()).filter(Boolean); publish(); } }),
    removeButton(V.classes, row, 'class')));
  return el('div', { class: 'le-section le-classes' },
    el('div', { class: 'le-title', text: 'Label classes (multi-label mode: one label of each class per segment)' }),
    ...rows, addButton('+ Class', () => V.classes.push({ name: '', labels: [] })));
}
function quickAdd() {
  const f = V.features;
  const input = el('input', { class: 'le-quick', 'aria-label': 'add labels',
    placeholder: f.entities_relations ? 'add entity labels: PER, ORG, LOC' : 'add labels: cat, dog, bird' });
  const go = () => {
    const names = splitNames(input.value);
    if (!names.length) return;
    const list = f.entities_relations ? V.entities : V.labels;
    const have = new Set(list.map(r => r.name));
    let added = 0;
    for (const n of names) {
      if (have.has(n)) continue;
      have.add(n);
      list.push(f.entities_relations ? { name: n, color: nextColor() } : newLabel(n));
      added += 1;
    }
    input.value = '';
    V.pending = '';
    publish();
    render(true);
    setMessage(added ? `${added} added` : 'already there', added ? '' : 'error');
  };
  input.addEventListener('keydown', e => { if (e.key === 'Enter') { e.preventDefault(); go(); } });
  // names typed but not added yet travel in the value too: a form sent right after typing keeps them
  input.addEventListener('input', () => { V.pending = input.value; publish(); });
  if (V.pending) input.value = V.pending;
  return el('div', { class: 'le-quick-row' }, input, el('button', { type: 'button', class: 'le-quick-add', text: 'Add', onclick: go }));
}
function asJson() {
  const f = V.features;
  const out = {};
  if (!f.entities_relations || V.labels.length) {
    out.labels = V.labels.filter(r => r.name).map(r => {
      const x = { name: r.name };
      if (r.color) x.color = r.color;
      if (r.shortcut) x.shortcut = r.shortcut;
      if (r.attributes && Object.keys(r.attributes).length) x.attributes = r.attributes;
      return x;
    });
  }
  if (f.entities_relations) {
    out.entities = V.entities.filter(r => r.name).map(r => ({ name: r.name, color: r.color }));
    out.relations = V.relations.filter(r => r.name).map(r => ({ name: r.name, source: r.source, target: r.target, color: r.color }));
  }
  if (f.classes && V.classes.length) out.classes = V.classes.filter(r => r.name);
  if (V.speech_content) out.speech_content = true;
  return JSON.stringify(out, null, 1);
}
function jsonBox() {
  const area = el('textarea', { class: 'le-json', rows: 6, 'aria-label': 'label set as JSON', spellcheck: 'false' });
  area.value = asJson();
  const use = () => {
    let data;
    try { data = JSON.parse(area.value); } catch (e) { setMessage(`Not JSON: ${e.message}`, 'error'); return; }
    if (!data || typeof data !== 'object' || Array.isArray(data)) { setMessage('A label set is a JSON object with a "labels" list', 'error'); return; }
    const asRow = x => (typeof x === 'string' ? { name: x } : x);
    const f = V.features;
    V.labels = (data.labels || []).map(asRow).map(x => ({ ...newLabel(''), ...x, attributes: x.attributes || {} }));
    V.entities = (data.entities || []).map(asRow).map(x => ({ color: nextColor(), ...x }));
    V.relations = (data.relations || []).map(x => ({ color: nextColor(), ...x }));
    V.classes = data.classes || [];
    V.speech_content = !!data.speech_content;
    if (!f.shortcuts) V.labels.forEach(r => { r.shortcut = ''; });
    publish();
    render();
    setMessage('JSON applied', '');
  };
  const details = el('details', { class: 'le-json-box' }, el('summary', { text: 'JSON (import / export)' }), area,
    el('button', { type: 'button', class: 'le-json-use', text: 'Use this JSON', onclick: use }));
  details.addEventListener('toggle', () => { if (details.open) area.value = asJson(); });
  return details;
}

function render(focusLast) {
  const f = V.features;
  const open = root.querySelector('.le-json-box') && root.querySelector('.le-json-box').open;
  root.textContent = '';
  root.append(quickAdd());
  if (!f.entities_relations) root.append(labelRows());
  if (f.entities_relations) root.append(entityRows(), relationRows());
  if (f.classes) root.append(classRows());
  const box = jsonBox();
  if (open) box.open = true;
  root.append(box, el('div', { class: 'le-message', role: 'status' }));
  if (V.message) setMessage(V.message, 'error');
  if (focusLast === true) {
    const names = root.querySelectorAll('.le-section:last-of-type .le-name, .le-labels .le-name');
    const empty = [...root.querySelectorAll('.le-name')].find(n => !n.value);
    (empty || names[names.length - 1] || root.querySelector('.le-quick')).focus();
  }
}

function load() {
  const s = JSON.stringify(props.value || {});
  if (s === published) return;  // our own edit coming back: the rows are already right
  V = norm(props.value);
  published = JSON.stringify(V);
  render();
}

root.__labelEditor = { value: () => clone(V) };
load();
if (typeof watch === 'function') {
  watch('value', load);
} else {
  let last = props.value;
  setInterval(() => { if (props.value !== last) { last = props.value; load(); } }, 200);
}
