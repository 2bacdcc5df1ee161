// Labelport video player: the body of gr.HTML(js_on_load=...), run with element, trigger, props,
// watch. See components/video_player.py for the value contract. Events: trigger('draw'),
// trigger('trackedit') (a keyframe dragged or deleted on the timeline, o / c on a track) and
// trigger('trackpick') (a track picked on the timeline).
// Keys (when the focus is not in a text field): , one frame back, . one frame forward,
// k play / pause (pausing snaps to the frame shown); Enter on the widget: draw on this frame.
// The shapes of the frame shown (value.overlay) are drawn on a canvas over the video. While the
// video is paused on the frame open for editing (value.editing), the page's shape canvas
// (value.canvas, an element id) takes the video's place: one picture, drawn on where it is seen.
// Moving off that frame with unsaved shapes is refused (save or discard them first); pausing on
// another frame opens it for editing.
'use strict';

const doc = element.ownerDocument;
const root = element.querySelector('.vp-root') || element;
root.textContent = '';

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

let V = { sample_id: null };
let lastJSON = '';
let lastNonce = null;
let frame = 0;  // the frame shown (paused) or playing

const video = el('video', { preload: 'auto', playsinline: true, 'data-testid': 'vp-video' });
video.muted = false;
const btnBack = el('button', { type: 'button', class: 'vp-back', title: 'one frame back (,)', 'aria-label': 'one frame back', text: '|◀ ,' });
const btnPlay = el('button', { type: 'button', class: 'vp-play', title: 'play / pause (k)', 'aria-label': 'play', text: '▶' });
const btnFwd = el('button', { type: 'button', class: 'vp-fwd', title: 'one frame forward (.)', 'aria-label': 'one frame forward', text: '. ▶|' });
const seekbar = el('input', { type: 'range', class: 'vp-seekbar', min: 0, max: 0, step: 1, value: 0, 'aria-label': 'frame' });
const pos = el('span', { class: 'vp-pos', 'data-testid': 'vp-pos', role: 'status' });
const btnDraw = el('button', { type: 'button', class: 'vp-draw', 'data-testid': 'vp-draw', text: 'Draw on this frame' });
const hint = el('div', { class: 'vp-hint', text: 'keys: , / . one frame back / forward · [ / ] previous / next keyframe (of the track picked on the timeline) · k play / pause · o outside from this frame · c occluded (toggle) · n new track · Enter: draw on this frame · timeline: click a row to pick its track, drag a keyframe mark to move it, right-click it to delete it' });
const message = el('div', { class: 'vp-message', role: 'status', 'aria-live': 'polite' });
const empty = el('div', { class: 'vp-empty', text: 'No video open.' });
const overlay = el('canvas', { class: 'vp-overlay', 'data-testid': 'vp-overlay', 'aria-hidden': 'true' });
const stage = el('div', { class: 'vp-stage' }, video, overlay);
const timeline = el('div', { class: 'vp-timeline', 'data-testid': 'vp-timeline', role: 'list', 'aria-label': 'tracks' });
root.append(empty, stage, el('div', { class: 'vp-bar' }, btnPlay, btnBack, btnFwd, seekbar, pos, btnDraw), timeline, hint, message);

const fps = () => Number(V.fps) > 0 ? Number(V.fps) : 25;
const lastFrame = () => {
  const n = Number(V.frame_count) > 0 ? Number(V.frame_count) : Math.round((Number(V.duration) || video.duration || 0) * fps());
  return Math.max(0, n - 1);
};
const clampFrame = (f) => Math.max(0, Math.min(lastFrame(), Math.round(f)));
const timeOf = (f) => Math.round((f / fps()) * 1e6) / 1e6;

// -- one picture: the shape canvas over the player while paused on the frame open for editing --------
const AUTO_OPEN_MS = 350;   // paused this long on another frame: open it for editing
let autoTimer = null;
let requested = null;       // the frame a 'draw' asked for, until the server opens it
function canvasBlock() { return V.canvas ? doc.getElementById(String(V.canvas)) : null; }
function canvasWidget() { const b = canvasBlock(); const r = b && b.querySelector('.sc-root'); return r && r.__shapeCanvas; }
function editingFrame() { return V.editing === null || V.editing === undefined ? null : Number(V.editing); }
function canvasDirty() { const w = canvasWidget(); return !!(w && w.state().dirty); }
function editingHere() { return !!V.src && video.paused && editingFrame() === frame; }
function updateStage() {
  const here = editingHere();
  stage.style.display = here ? 'none' : '';
  root.setAttribute('data-editing', here ? '1' : '0');
  const b = canvasBlock();
  if (b) b.style.display = here ? '' : 'none';
}
// a move the user asked for: refused while the open frame has unsaved shapes
function mayLeave(target) {
  const open = editingFrame();
  if (open === null || target === open || !canvasDirty()) return true;
  message.textContent = `Frame ${open} has unsaved shapes: save them (Ctrl+S) or press Discard changes first`;
  showPos();
  return false;
}
function scheduleOpen() {
  if (autoTimer) clearTimeout(autoTimer);
  autoTimer = setTimeout(() => {
    autoTimer = null;
    if (root.isConnected && V.src && video.paused && !video.seeking && editingFrame() !== frame && requested !== frame
        && !canvasDirty()) draw();
  }, AUTO_OPEN_MS);
}

function showPos() {
  const t = timeOf(frame);
  pos.textContent = `frame ${frame} / ${lastFrame()} · ${t.toFixed(3)} s`;
  root.setAttribute('data-frame', String(frame));
  root.setAttribute('data-time', String(t));
  seekbar.max = String(lastFrame());
  seekbar.value = String(frame);
  btnPlay.textContent = video.paused ? '▶' : '❚❚';
  btnPlay.setAttribute('aria-label', video.paused ? 'play' : 'pause');
  if (video.paused || !video.requestVideoFrameCallback) drawOverlay(frame);
  moveCursor();
  updateStage();
}

// -- the shapes of the frame shown, drawn over the video (keyframes solid, interpolated dashed) --
let drawnFrame = null;   // the frame the overlay shows
let drawnShapes = [];    // what it drew there (for tests: root.__videoPlayer.state())
let drawCount = 0;
function contentRect() {
  // where the picture is inside the <video> box (object-fit: contain letterboxes it)
  const bw = video.clientWidth, bh = video.clientHeight;
  const size = Array.isArray(V.size) ? V.size : null;
  const vw = video.videoWidth || (size ? size[0] : 0), vh = video.videoHeight || (size ? size[1] : 0);
  if (!bw || !bh || !vw || !vh) return null;
  const scale = Math.min(bw / vw, bh / vh);
  return { x: (bw - vw * scale) / 2, y: (bh - vh * scale) / 2, scale, w: bw, h: bh };
}
function drawOverlay(f) {
  const shapes = (V.overlay && V.overlay[String(f)]) || [];
  const r = contentRect();
  const dpr = window.devicePixelRatio || 1;
  if (!r) {  // hidden (the canvas shows the frame) or not loaded: nothing to paint, the frame's shapes still known
    overlay.width = 0; overlay.height = 0; drawnFrame = f; drawnShapes = shapes;
    root.setAttribute('data-overlay-frame', String(f));
    return;
  }
  const W = Math.round(r.w * dpr), H = Math.round(r.h * dpr);
  if (overlay.width !== W || overlay.height !== H) {
    overlay.width = W; overlay.height = H; overlay.style.width = r.w + 'px'; overlay.style.height = r.h + 'px';
  }
  const g = overlay.getContext('2d');
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.clearRect(0, 0, W, H);
  g.setTransform(dpr * r.scale, 0, 0, dpr * r.scale, dpr * r.x, dpr * r.y);  // video pixels from here on
  const px = 1 / r.scale;  // one screen pixel in video pixels
  g.font = `${12 * px}px sans-serif`;
  for (const sh of shapes) {
    const p = sh.p || [];
    if (!p.length) continue;
    g.globalAlpha = sh.o ? 0.45 : 1;
    g.strokeStyle = sh.c || '#ff8800';
    g.fillStyle = sh.c || '#ff8800';
    g.lineWidth = 2 * px;
    g.setLineDash(sh.i || sh.t === 'dashed_line' ? [6 * px, 4 * px] : []);
    g.beginPath();
    if (sh.t === 'rectangle' && p.length === 2) g.rect(Math.min(p[0][0], p[1][0]), Math.min(p[0][1], p[1][1]), Math.abs(p[1][0] - p[0][0]), Math.abs(p[1][1] - p[0][1]));
    else if (sh.t === 'circle') g.arc(p[0][0], p[0][1], sh.r || 1, 0, 2 * Math.PI);
    else if (sh.t === 'point') g.arc(p[0][0], p[0][1], 3 * px, 0, 2 * Math.PI);
    else { g.moveTo(p[0][0], p[0][1]); for (let i = 1; i < p.length; i++) g.lineTo(p[i][0], p[i][1]); if (sh.t === 'polygon') g.closePath(); }
    if (sh.t === 'point') g.fill(); else g.stroke();
    const x = Math.min(...p.map((q) => q[0])) - (sh.t === 'circle' ? sh.r || 0 : 0);
    const y = Math.min(...p.map((q) => q[1])) - (sh.t === 'circle' ? sh.r || 0 : 0);
    g.setLineDash([]);
    g.fillText(sh.k ? `${sh.l} · ${sh.k}` : String(sh.l), x, y - 3 * px);
  }
  g.globalAlpha = 1;
  drawnFrame = f; drawnShapes = shapes; drawCount++;
  root.setAttribute('data-overlay-frame', String(f));
}
// while playing: every frame the video presents (requestVideoFrameCallback where the browser has it)
function onVideoFrame(_now, meta) {
  if (!root.isConnected) return;
  if (!video.paused) drawOverlay(clampFrame((meta && meta.mediaTime !== undefined ? meta.mediaTime : video.currentTime) * fps()));
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onVideoFrame);
}
if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onVideoFrame);
new ResizeObserver(() => drawOverlay(frame)).observe(video);

// -- the timeline: one row per track, its visible frames as bars and its keyframes as marks ----------
let tracks = [];          // [{id, label, color, frames: [..], keys: [..]}]
let pickedTrack = null;   // the row clicked last: [ and ] step through its keyframes
function trackList() {
  const by = new Map();
  for (const [f, shapes] of Object.entries(V.overlay || {})) {
    for (const sh of shapes) {
      if (!sh.k) continue;
      if (!by.has(sh.k)) by.set(sh.k, { id: sh.k, label: sh.l, color: sh.c, frames: [], keys: [] });
      const t = by.get(sh.k);
      t.frames.push(Number(f));
      if (!sh.i) t.keys.push(Number(f));
    }
  }
  const out = [...by.values()];
  for (const t of out) { t.frames.sort((a, b) => a - b); t.keys.sort((a, b) => a - b); }
  return out.sort((a, b) => a.frames[0] - b.frames[0]);
}
const pct = (f) => `${(100 * f) / Math.max(1, lastFrame() + 1)}%`;
function renderTimeline() {
  tracks = trackList();
  timeline.textContent = '';
  timeline.hidden = !tracks.length;
  if (pickedTrack !== null && !tracks.some((t) => t.id === pickedTrack)) pickedTrack = null;
  for (const t of tracks) {
    const bar = el('div', { class: 'vp-tl-bar', title: `track ${t.id}: click to go to a frame` });
    let start = null;
    t.frames.forEach((f, i) => {  // runs of consecutive frames: where the track is visible
      if (start === null) start = f;
      if (i === t.frames.length - 1 || t.frames[i + 1] !== f + 1) {
        const run = el('div', { class: 'vp-tl-run' });
        run.style.left = pct(start); run.style.width = pct(f - start + 1); run.style.background = t.color;
        bar.append(run);
        start = null;
      }
    });
    for (const f of t.keys) {
      const mark = el('div', { class: 'vp-tl-key', 'data-frame': String(f), 'data-track': t.id,
        title: `keyframe ${f} of track ${t.id}: drag to move it, right-click to delete it` });
      mark.style.left = pct(f);
      wireKey(mark, bar, t, f);
      bar.append(mark);
    }
    bar.append(el('div', { class: 'vp-tl-cursor' }));
    bar.addEventListener('click', (e) => {
      const r = bar.getBoundingClientRect();
      const target = clampFrame(Math.floor(((e.clientX - r.left) / r.width) * (lastFrame() + 1)));
      pick(t.id, true);
      if (mayLeave(target)) { goTo(target); scheduleOpen(); }
    });
    const row = el('div', { class: 'vp-tl-row', role: 'listitem', 'data-track': t.id },
      el('span', { class: 'vp-tl-name', text: `${t.id} · ${t.label}` }), bar);
    timeline.append(row);
  }
  markPicked();
  moveCursor();
}
const frameAt = (bar, x) => { const r = bar.getBoundingClientRect(); return clampFrame(Math.floor(((x - r.left) / r.width) * (lastFrame() + 1))); };
// a keyframe mark: a click goes there, a drag moves the keyframe, a right-click deletes it
function wireKey(mark, bar, t, f) {
  mark.addEventListener('click', (e) => e.stopPropagation());
  mark.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault(); e.stopPropagation();
    mark.setPointerCapture(e.pointerId);
    let to = f;
    const move = (ev) => { to = frameAt(bar, ev.clientX); mark.style.left = pct(to); mark.classList.toggle('vp-tl-dragging', to !== f); message.textContent = to !== f ? `move keyframe ${f} of ${t.id} to frame ${to}` : ''; };
    const up = () => {
      mark.removeEventListener('pointermove', move); mark.removeEventListener('pointerup', up); mark.removeEventListener('pointercancel', up);
      pick(t.id, true);
      if (to === f) { if (mayLeave(f)) { goTo(f); scheduleOpen(); } return; }
      mark.style.left = pct(f);  // the server moves it (or says why not) and redraws the timeline
      trackEdit('move_keyframe', t.id, f, to);
    };
    mark.addEventListener('pointermove', move); mark.addEventListener('pointerup', up); mark.addEventListener('pointercancel', up);
  });
  mark.addEventListener('contextmenu', (e) => {
    e.preventDefault(); e.stopPropagation();
    pick(t.id, true);
    if (window.confirm(`Delete the keyframe of track ${t.id} on frame ${f}? The frames around it are interpolated again.`)) trackEdit('delete_keyframe', t.id, f);
  });
}
function trackEdit(action, track, f, to) {
  if (V.sample_id === null || V.sample_id === undefined) return;
  V = { ...V, edit: { action, track, frame: f, to: to === undefined ? null : to } };
  lastJSON = JSON.stringify(V);
  props.value = V;
  trigger('trackedit');
}
// the track picked (timeline row, or the page's Track box): o, c, [ and ] act on it
function pick(id, tell) {
  pickedTrack = id;
  markPicked();
  if (!tell || V.sample_id === null || V.sample_id === undefined) return;
  V = { ...V, picked: id };
  lastJSON = JSON.stringify(V);
  props.value = V;
  trigger('trackpick');
}
function onPicked(action) {
  if (pickedTrack === null) { message.textContent = 'Pick a track first: click its row on the timeline (or choose it under Tracks)'; return; }
  trackEdit(action, pickedTrack, frame);
}
// n: a new track id in the page's track box (the next shape drawn gets it when saved)
function newTrack() {
  const box = V.track_box ? doc.getElementById(String(V.track_box)) : null;
  const input = box && box.querySelector('input, textarea');
  if (!input) return;
  const used = new Set(tracks.map((t) => String(t.id)));
  let n = 1 + Math.max(0, ...tracks.map((t) => Number(t.id)).filter((x) => Number.isInteger(x)));
  while (used.has(String(n))) n++;
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(input), 'value').set;
  setter.call(input, String(n));
  input.dispatchEvent(new Event('input', { bubbles: true }));
  message.textContent = `New track ${n}: draw it on this frame with the current tool and save (Ctrl+S)`;
  if (video.paused && editingFrame() !== frame) scheduleOpen();
}
function markPicked() {
  for (const row of timeline.children) row.classList.toggle('vp-tl-picked', row.dataset.track === pickedTrack);
}
function moveCursor() {
  for (const c of timeline.querySelectorAll('.vp-tl-cursor')) c.style.left = pct(frame);
}
function jumpKey(d) {
  const keys = (pickedTrack !== null ? tracks.filter((t) => t.id === pickedTrack) : tracks).flatMap((t) => t.keys);
  const next = d > 0 ? Math.min(...keys.filter((f) => f > frame)) : Math.max(...keys.filter((f) => f < frame));
  if (Number.isFinite(next) && mayLeave(next)) { goTo(next); scheduleOpen(); }
}

function goTo(f) {
  frame = clampFrame(f);
  if (!video.paused) video.pause();
  // a little after the frame's start: the decoder shows frame `frame`, round(t * fps) stays `frame`
  const t = (frame + 0.25) / fps();
  try { video.currentTime = t; } catch (e) { /* not loaded yet: 'loadedmetadata' seeks */ }
  showPos();
}

function step(d) { if (mayLeave(clampFrame(frame + d))) { goTo(frame + d); scheduleOpen(); } }
function togglePlay() {
  if (!V.src) return;
  if (video.paused && !mayLeave(-1)) return;
  if (video.paused) video.play().catch((err) => { message.textContent = `Cannot play this video: ${err.message}`; showPos(); });
  else video.pause();
}
function draw() {
  if (V.sample_id === null || V.sample_id === undefined) return;
  if (!video.paused) { video.pause(); frame = clampFrame(video.currentTime * fps()); goTo(frame); }
  if (editingFrame() === frame || requested === frame) { updateStage(); return; }  // open, or asked for already
  requested = frame;
  V = { ...V, draw: { frame, time: timeOf(frame) } };
  lastJSON = JSON.stringify(V);
  props.value = V;
  trigger('draw');
}

video.addEventListener('timeupdate', () => { if (!video.paused && !video.seeking) { frame = clampFrame(video.currentTime * fps()); showPos(); } });
video.addEventListener('play', showPos);
video.addEventListener('pause', () => { if (!video.seeking) frame = clampFrame(video.currentTime * fps()); goTo(frame); scheduleOpen(); });
video.addEventListener('loadedmetadata', () => { goTo(frame); });
video.addEventListener('error', () => { if (video.getAttribute('src')) message.textContent = 'This video could not be played in this browser (frames are still shown below when you draw)'; });
btnBack.addEventListener('click', () => step(-1));
btnFwd.addEventListener('click', () => step(1));
btnPlay.addEventListener('click', togglePlay);
btnDraw.addEventListener('click', draw);
seekbar.addEventListener('input', () => { const f = clampFrame(Number(seekbar.value)); if (mayLeave(f)) { goTo(f); scheduleOpen(); } });

function typingIn(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  if (t.tagName !== 'INPUT') return false;
  return !['button', 'checkbox', 'radio', 'color', 'range', 'submit', 'reset', 'file', 'image'].includes((t.type || '').toLowerCase());
}
const visible = () => root.isConnected && root.getClientRects().length > 0 && V.sample_id !== null && V.sample_id !== undefined;
function onKeyDown(e) {
  if (!root.isConnected) { window.removeEventListener('keydown', onKeyDown, true); return; }
  if (e.isComposing || e.ctrlKey || e.metaKey || e.altKey || !visible()) return;
  if (typingIn(e.target) || typingIn(doc.activeElement)) return;
  let handled = true;
  if (e.key === ',') step(-1);
  else if (e.key === '.') step(1);
  else if (e.key === 'k' || e.key === 'K') togglePlay();
  else if (e.key === '[') jumpKey(-1);
  else if (e.key === ']') jumpKey(1);
  else if (e.key === 'o' || e.key === 'O') onPicked('outside');
  else if (e.key === 'c' || e.key === 'C') onPicked('occluded');
  else if (e.key === 'n' || e.key === 'N') newTrack();
  else if (e.key === 'Enter' && (stageHovered || root.contains(doc.activeElement)) && doc.activeElement.tagName !== 'BUTTON') draw();
  else handled = false;
  if (handled) { e.preventDefault(); e.stopPropagation(); }
}
window.addEventListener('keydown', onKeyDown, true);
// Enter draws on the frame while the pointer is on the picture (a <video> takes no focus)
let stageHovered = false;
stage.addEventListener('pointerenter', () => { stageHovered = true; });
stage.addEventListener('pointerleave', () => { stageHovered = false; });

function load(v) {
  v = v && typeof v === 'object' ? v : {};
  const j = JSON.stringify(v);
  if (j === lastJSON) return;
  lastJSON = j;
  const newVideo = (v.src || '') !== (V.src || '');
  V = { ...v };
  const answered = requested;  // the frame our last 'draw' asked for: its answer does not move the player back
  requested = null;
  empty.hidden = !!V.src;
  video.hidden = !V.src;
  message.textContent = '';
  if (newVideo) {
    frame = 0;
    if (V.src) { video.src = V.src; video.load(); } else { video.removeAttribute('src'); video.load(); }
    root.setAttribute('data-sample', String(V.sample_id));
    if (V.sample_id != null) root.setAttribute('data-open-sample', String(V.sample_id)); else root.removeAttribute('data-open-sample');  // assets/links.js
  }
  if (typeof V.picked === 'string' && V.picked) pickedTrack = V.picked;
  renderTimeline();
  const s = V.seek;
  if (s && typeof s === 'object' && s.nonce !== lastNonce) {
    lastNonce = s.nonce;
    if (newVideo || answered === null || Number(s.frame) !== answered) goTo(Number(s.frame) || 0);
  }
  showPos();
}

root.__videoPlayer = {
  video, goTo, drawOverlay, pick: (id) => pick(id ? String(id) : null, false),
  state() { return { frame, time: timeOf(frame), paused: video.paused, currentTime: video.currentTime,
                     overlayFrame: drawnFrame, overlay: drawnShapes, overlayDraws: drawCount, pickedTrack,
                     editing: editingHere(), editingFrame: editingFrame(),
                     tracks: tracks.map((t) => ({ id: t.id, keys: t.keys, frames: t.frames.length })) }; },
};

load(props.value);
if (typeof watch === 'function') watch('value', () => load(props.value));
