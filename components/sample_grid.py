"""The sample grid: thumbnails with their labels beneath, click to select, double-click to preview.

A gr.HTML widget whose value is a dict:
    {"items": [{"id", "name", "thumb", "labels", "hard", "status", "selected"}], "selected": [ids],
     "preview": id | None}
Clicks change `selected` in the browser (no server round trip); handlers read it as an input.
Text is rendered with Handlebars `{{...}}`, which escapes it: a label named <script> stays text.
"""
from __future__ import annotations

import gradio as gr

TEMPLATE = """
<div class="lp-grid" data-testid="sample-grid">
  {{#each value.items}}
  <figure class="lp-card {{#if selected}}lp-selected{{/if}}" data-id="{{id}}" title="{{name}}" tabindex="0">
    <div class="lp-thumb">
      <img src="{{thumb}}" alt="{{name}}" loading="lazy" draggable="false">
      <input type="checkbox" class="lp-check" aria-label="select {{name}}" {{#if selected}}checked{{/if}}>
      {{#if hard}}<span class="lp-hard" title="hard example">hard</span>{{/if}}
      <button type="button" class="lp-open" title="preview">view</button>
    </div>
    <figcaption>
      <span class="lp-name">{{name}}</span>
      <span class="lp-labels">{{#each labels}}<span class="lp-label">{{this}}</span>{{/each}}</span>
    </figcaption>
  </figure>
  {{else}}
  <div class="lp-empty">No samples in this view.</div>
  {{/each}}
</div>
"""

CSS = """
.lp-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(132px, 1fr)); gap: 10px; }
.lp-card { margin: 0; border: 2px solid var(--border-color-primary); border-radius: 8px; overflow: hidden;
           cursor: pointer; background: var(--block-background-fill); user-select: none; }
.lp-card.lp-selected { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.lp-thumb { position: relative; aspect-ratio: 1; background: #222; display: flex; align-items: center;
            justify-content: center; }
.lp-thumb img { max-width: 100%; max-height: 100%; image-rendering: pixelated; }
.lp-check { position: absolute; top: 6px; left: 6px; width: 18px; height: 18px; pointer-events: none; }
.lp-hard { position: absolute; top: 6px; right: 6px; background: #d9480f; color: #fff; font-size: 11px;
           padding: 1px 6px; border-radius: 8px; }
.lp-open { position: absolute; bottom: 4px; right: 4px; border: none; border-radius: 6px; padding: 2px 5px;
           background: rgba(255,255,255,.85); cursor: zoom-in; font-size: 12px; }
.lp-card figcaption { padding: 4px 6px; font-size: 12px; line-height: 1.3; }
.lp-name { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.lp-labels { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 2px; min-height: 16px; }
.lp-label { background: var(--color-accent-soft); border-radius: 6px; padding: 0 5px; max-width: 100%;
            overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lp-empty { grid-column: 1 / -1; padding: 40px; text-align: center; color: var(--body-text-color-subdued); }
"""

JS = """
function cardOf(e) { return e.target.closest('.lp-card'); }
function update(mutate) {
  const v = JSON.parse(JSON.stringify(props.value || {items: [], selected: []}));
  mutate(v);
  v.selected = v.items.filter(it => it.selected).map(it => it.id);
  props.value = v;
}
element.addEventListener('click', (e) => {
  const card = cardOf(e);
  if (!card) return;
  const id = Number(card.dataset.id);
  if (e.target.closest('.lp-open')) {
    update(v => { v.preview = id; });
    trigger('preview');
    return;
  }
  // pages that open one sample at a time (shapes): a click opens it. The flag travels in the value:
  // extra gr.HTML props do not reach this script in Gradio 6.31.
  if ((props.value && props.value.open_on_click) || props.open_on_click) {
    update(v => { v.preview = id; v.items.forEach(x => { x.selected = x.id === id; }); });
    trigger('preview');
    return;
  }
  // Gradio dispatches 'change' itself when props.value changes: a trigger('change') here ran
  // every .change handler twice per click
  update(v => { const it = v.items.find(x => x.id === id); if (it) it.selected = !it.selected; });
});
element.addEventListener('dblclick', (e) => {
  const card = cardOf(e);
  if (!card) return;
  const id = Number(card.dataset.id);
  update(v => { v.preview = id; });
  trigger('preview');
});
element.addEventListener('keydown', (e) => {
  const card = cardOf(e);
  if (!card || (e.key !== ' ' && e.key !== 'Enter')) return;
  e.preventDefault();
  card.click();
});
"""


def grid_value(items: list[dict], selected: list[int] | None = None, preview: int | None = None,
               open_on_click: bool = False) -> dict:
    chosen = set(selected or [])
    for it in items:
        it["selected"] = it["id"] in chosen
    return {"items": items, "selected": [it["id"] for it in items if it["selected"]], "preview": preview,
            "open_on_click": open_on_click}


def selected_ids(value) -> list[int]:
    """The ids selected in the browser (robust to a missing or malformed value)."""
    if not isinstance(value, dict):
        return []
    out = []
    for x in value.get("selected") or []:
        try:
            out.append(int(x))
        except (TypeError, ValueError):
            continue
    return out


def preview_id(value) -> int | None:
    try:
        return int(value.get("preview")) if isinstance(value, dict) and value.get("preview") is not None else None
    except (TypeError, ValueError):
        return None


def sample_grid(open_on_click: bool = False, elem_id: str = "lp-sample-grid", **kwargs) -> gr.HTML:
    """The grid; with open_on_click a click opens the sample (event `preview`) instead of
    toggling its selection."""
    return gr.HTML(value=grid_value([], open_on_click=open_on_click), html_template=TEMPLATE, css_template=CSS,
                   js_on_load=JS, elem_id=elem_id, open_on_click=open_on_click, **kwargs)
