// Labelport record list (image cards, audio files, videos, texts): the body of gr.HTML(js_on_load=...), run with
// element, trigger, props, watch. See components/record_list.py for the value contract.
// Events: trigger('apply'), trigger('remove'), trigger('preview'); Gradio dispatches 'change'
// itself whenever props.value changes. Every text from the value reaches the DOM via textContent.
'use strict';

const doc = element.ownerDocument;
const root = element.querySelector('.al-root') || element;
root.textContent = '';
const HEX = /^#[0-9a-fA-F]{6}$/;

function el(tag, attrs, ...kids) {
  const n = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = String(v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) n.append(kid);
  return n;
}
const clone = (x) => JSON.parse(JSON.stringify(x));
function fmt(t) {
  t = Number(t);
  if (!Number.isFinite(t)) return '';
  const m = Math.floor(t / 60), s = t - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}

let V = { items: [], labels: [] };
const openMode = () => !!(V.open_on_click || props.open_on_click);
const noun = () => (typeof V.noun === 'string' && V.noun) || 'files';  // plural: files, texts
const one = () => noun().replace(/s$/, '');
const plural = (n) => (n === 1 ? one() : noun());
let lastJSON = '';
let playingId = null;
let pendingLabel = null;  // the label of a shortcut waiting for confirmation

const labelBar = el('div', { class: 'al-labels', role: 'toolbar', 'aria-label': 'labels', 'data-testid': 'al-labels' });
const confirmBar = el('div', { class: 'al-confirm', role: 'alertdialog', hidden: true, 'data-testid': 'al-confirm' });
const message = el('div', { class: 'al-message', role: 'status', 'aria-live': 'polite', 'data-testid': 'al-message' });
const list = el('div', { class: 'al-list', 'data-testid': 'record-list' });
const audio = el('audio', { class: 'al-audio', preload: 'none', 'data-testid': 'al-audio' });
const player = el('div', { class: 'al-player' }, el('span', { class: 'al-now' }), audio);
audio.controls = true;
root.append(labelBar, confirmBar, message, player, list);

function showMessage(text, kind) {
  message.textContent = text || '';
  message.className = 'al-message' + (kind ? ' al-' + kind : '');
}
function selectedIds() { return (V.items || []).filter((it) => it.selected).map((it) => it.id); }
function publish(extra) {
  V = { ...V, ...(extra || {}) };
  V.selected = selectedIds();
  lastJSON = JSON.stringify(V);
  props.value = V;  // Gradio dispatches 'change'
}
function load(v) {
  v = v && typeof v === 'object' ? v : {};
  const j = JSON.stringify(v);
  if (j === lastJSON) return;
  lastJSON = j;
  V = clone(v);
  V.items = Array.isArray(V.items) ? V.items : [];
  V.labels = Array.isArray(V.labels) ? V.labels.filter((l) => l && typeof l.name === 'string') : [];
  pendingLabel = null;
  if (message.classList.contains('al-info')) showMessage('', '');  // "Labeling…": the answer came
  if (playingId !== null && !V.items.some((it) => it.id === playingId)) { audio.pause(); playingId = null; }
  render();
}

function render() {
  labelBar.textContent = '';
  if (!openMode()) {
    for (const lab of V.labels) {
      const b = el('button', { type: 'button', class: 'al-label-btn', 'data-label': lab.name,
        title: lab.shortcut ? `label the checked ${noun()} "${lab.name}" (key ${lab.shortcut})` : `label the checked ${noun()} "${lab.name}"` },
        el('span', { class: 'al-swatch', 'aria-hidden': 'true' }), el('span', { text: lab.name }),
        lab.shortcut ? el('kbd', { text: lab.shortcut }) : null);
      b.querySelector('.al-swatch').style.background = HEX.test(lab.color || '') ? lab.color : '#888888';
      b.addEventListener('click', () => applyLabel(lab.name));
      labelBar.append(b);
    }
    if (!V.labels.length) labelBar.append(el('span', { class: 'al-none', text: 'No labels yet: add one.' }));
  }
  labelBar.hidden = !!openMode();
  renderConfirm();
  player.hidden = !V.items.some((it) => it.audio);  // nothing to play in a list of texts
  list.textContent = '';
  list.className = 'al-list' + (V.items.some(isImage) ? ' al-grid' : '');
  for (const it of V.items) list.append(isImage(it) ? card(it) : row(it));
  if (!V.items.length) list.append(el('div', { class: 'al-empty', text: `No ${noun()} in this view.` }));
}

// an image's thumbnail: only the app's own media path (the value is the server's, but never trusted)
const isImage = (it) => typeof it.thumb === 'string' && /^\/media\/\d+\/thumb$/.test(it.thumb);
function chipsOf(it) {
  const chips = el('span', { class: 'al-chips' });
  for (const lab of it.labels || []) {
    const chip = el('span', { class: 'al-chip', 'data-label': lab.name }, el('span', { class: 'al-chip-name', text: lab.name }));
    chip.style.setProperty('--al-c', HEX.test(lab.color || '') ? lab.color : '#888888');
    if (!openMode()) chip.append(el('button', { type: 'button', class: 'al-chip-del', 'data-label': lab.name, title: `remove this label from this ${one()}`, text: '×' }));
    chips.append(chip);
  }
  return chips;
}
const checkBox = (it) => (openMode() ? null : el('input', { type: 'checkbox', class: 'al-check', 'aria-label': `select ${it.name}`, checked: !!it.selected }));
const openButton = (it) => (openMode() ? null : el('button', { type: 'button', class: 'al-open', 'data-testid': 'al-open', title: `open this ${one()}: its labels, link and history`, 'aria-label': `view ${it.name}`, text: 'view' }));
const hardMark = (it) => (it.hard ? el('span', { class: 'al-hard', title: 'hard example', text: 'hard' }) : null);
function card(it) {
  return el('div', { class: 'al-row al-card lp-card' + (it.selected ? ' lp-selected' : ''), 'data-id': it.id, tabindex: '0', title: it.name },
    el('div', { class: 'al-thumb' }, el('img', { src: it.thumb, alt: it.name, loading: 'lazy', draggable: 'false' }),
      checkBox(it), hardMark(it), openButton(it)),
    el('div', { class: 'al-body' }, el('div', { class: 'al-name' }, el('span', { text: it.name })),
      el('div', { class: 'al-meta' }, chipsOf(it))));
}
function row(it) {
  const play = it.audio ? el('button', { type: 'button', class: 'al-play', 'data-testid': 'al-play', title: 'play this file', 'aria-label': `play ${it.name}`,
    text: playingId === it.id && !audio.paused ? '❚❚' : '▶' }) : null;
  return el('div', { class: 'al-row lp-card' + (it.selected ? ' lp-selected' : ''), 'data-id': it.id, tabindex: '0' },
    checkBox(it), play,
    el('div', { class: 'al-body' },
      typeof it.text === 'string' ? el('div', { class: 'al-text', text: it.text })
        : el('div', { class: 'al-name' }, el('span', { text: it.name }), el('span', { class: 'al-dur', text: fmt(it.duration) })),
      it.content ? el('div', { class: 'al-content', text: it.content }) : null,
      el('div', { class: 'al-meta' }, chipsOf(it), hardMark(it), el('span', { class: 'al-who', text: it.who || '' }))),
    openButton(it));
}

function renderConfirm() {
  confirmBar.textContent = '';
  const ids = selectedIds();
  if (pendingLabel === null || !ids.length) { confirmBar.hidden = true; pendingLabel = null; return; }
  confirmBar.hidden = false;
  const yes = el('button', { type: 'button', class: 'al-yes', 'data-testid': 'al-confirm-yes', text: 'Label them (Enter)' });
  const no = el('button', { type: 'button', class: 'al-no', 'data-testid': 'al-confirm-no', text: 'Cancel (Esc)' });
  yes.addEventListener('click', () => { const l = pendingLabel; pendingLabel = null; applyLabel(l); });
  no.addEventListener('click', () => { pendingLabel = null; renderConfirm(); });
  confirmBar.append(el('span', { text: `Label ${ids.length} checked ${plural(ids.length)} "${pendingLabel}"? ` }), yes, no);
  yes.focus({ preventScroll: true });
}

function applyLabel(name) {
  const ids = selectedIds();
  if (!ids.length) { showMessage(`Check one or more ${noun()} first`, 'error'); return; }
  showMessage(`Labeling ${ids.length} ${plural(ids.length)} "${name}"…`, 'info');
  publish({ apply: { label: name, ids } });
  trigger('apply');
  confirmBar.hidden = true;
}

function playItem(id) {
  const it = V.items.find((x) => x.id === id);
  if (!it) return;
  if (playingId === id && !audio.paused) { audio.pause(); return; }
  if (playingId !== id) { audio.src = it.audio; playingId = id; player.querySelector('.al-now').textContent = it.name; }
  audio.play().catch((err) => showMessage(`Cannot play ${it.name}: ${err.message}`, 'error'));
}
audio.addEventListener('play', render);
audio.addEventListener('pause', render);
audio.addEventListener('error', () => { if (audio.getAttribute('src')) showMessage('This file could not be played in this browser', 'error'); });

list.addEventListener('click', (e) => {
  const row = e.target.closest('.al-row');
  if (!row) return;
  const id = Number(row.dataset.id);
  if (e.target.closest('.al-play')) { playItem(id); return; }
  if (e.target.closest('.al-open')) { openRecord(id); return; }
  const del = e.target.closest('.al-chip-del');
  if (del) { publish({ remove: { id, label: del.dataset.label } }); trigger('remove'); return; }
  if (openMode()) {
    V.items.forEach((x) => { x.selected = x.id === id; });
    publish({ preview: id });
    render();
    trigger('preview');
    return;
  }
  const it = V.items.find((x) => x.id === id);
  if (it) it.selected = !it.selected;
  publish(); render();
});
function openRecord(id) {
  publish({ preview: id });
  trigger('preview');
  // where the page shows it (below a long list): in sight at once, filled when the answer comes
  const target = typeof V.open_target === 'string' && V.open_target ? doc.getElementById(V.open_target) : null;
  if (target) target.scrollIntoView({ block: 'start' });
}
list.addEventListener('dblclick', (e) => {
  const row = e.target.closest('.al-row');
  if (!row || openMode() || e.target.closest('button')) return;
  openRecord(Number(row.dataset.id));
});
list.addEventListener('keydown', (e) => {
  const row = e.target.closest('.al-row');
  if (!row || (e.key !== ' ' && e.key !== 'Enter') || e.target.closest('button')) return;
  e.preventDefault(); e.stopPropagation();
  row.click();
});

function typingIn(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  return t.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'color', 'range', 'submit'].includes((t.type || '').toLowerCase());
}
function visible() { return root.isConnected && root.offsetParent !== null && root.getClientRects().length > 0; }
function onKeyDown(e) {
  if (!root.isConnected) { window.removeEventListener('keydown', onKeyDown, true); return; }
  if (openMode() || e.isComposing || !visible() || e.ctrlKey || e.metaKey || e.altKey) return;
  if (pendingLabel !== null) {
    if (e.key === 'Enter') { e.preventDefault(); e.stopPropagation(); const l = pendingLabel; pendingLabel = null; applyLabel(l); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); pendingLabel = null; renderConfirm(); }
    return;
  }
  if (typingIn(e.target) || typingIn(doc.activeElement) || e.repeat || e.key.length !== 1) return;
  const lab = V.labels.find((l) => l.shortcut && l.shortcut.toLowerCase() === e.key.toLowerCase());
  if (!lab) return;
  e.preventDefault(); e.stopPropagation();
  if (!selectedIds().length) { showMessage(`Check ${noun()} first, then press ${lab.shortcut} to label them "${lab.name}"`, 'error'); return; }
  pendingLabel = lab.name;
  showMessage('', '');
  renderConfirm();
}
window.addEventListener('keydown', onKeyDown, true);

root.__recordList = { audio, state() { return { selected: selectedIds(), pendingLabel, playingId }; } };

load(props.value);
if (typeof watch === 'function') {
  watch('value', () => load(props.value));
} else {
  let last = props.value;
  setInterval(() => { if (props.value !== last) { last = props.value; load(props.value); } }, 150);
}
