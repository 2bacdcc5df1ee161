"""The record list of the text pages: one row per text with its label chips; click a row to
check it (classification) or to open it (entities, triplets: ``open_on_click``).

A gr.HTML widget whose value is a dict:
    {"items": [{"id", "name", "text", "labels": [{"name", "color"}], "status", "who", "selected"}],
     "selected": [ids], "preview": id | None, "remove": {"id": id, "label": name} | None}
Clicks change ``selected`` in the browser; a chip's × sets ``remove`` and fires ``remove``;
opening a row sets ``preview`` and fires ``preview``. Text goes through Handlebars ``{{...}}``,
which escapes it.
"""
from __future__ import annotations

import gradio as gr

from components.sample_grid import grid_value, preview_id, selected_ids  # noqa: F401  (same value shape)

SNIPPET = 400  # characters of a record shown in the list

TEMPLATE = """
<div class="tl-list" data-testid="text-list">
  {{#each value.items}}
  <div class="tl-row lp-card {{#if selected}}lp-selected{{/if}}" data-id="{{id}}" tabindex="0">
    <input type="checkbox" class="tl-check" aria-label="select record {{id}}" {{#if selected}}checked{{/if}}>
    <div class="tl-body">
      <div class="tl-text">{{text}}</div>
      <div class="tl-meta">
        <span class="tl-chips">{{#each labels}}<span class="tl-chip" data-label="{{name}}" style="--tl-c: {{color}}"><span class="tl-chip-name">{{name}}</span>{{#if removable}}<button type="button" class="tl-chip-del" title="remove this label from this text" data-label="{{name}}">×</button>{{/if}}</span>{{/each}}</span>
        <span class="tl-who">{{who}}</span>
      </div>
    </div>
  </div>
  {{else}}
  <div class="tl-empty">No records in this view.</div>
  {{/each}}
</div>
"""

CSS = """
.tl-list { display: flex; flex-direction: column; gap: 6px; }
.tl-row { display: flex; gap: 8px; align-items: flex-start; border: 2px solid var(--border-color-primary);
          border-radius: 8px; padding: 6px 8px; cursor: pointer; background: var(--block-background-fill); }
.tl-row.lp-selected { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.tl-check { margin-top: 3px; pointer-events: none; }
.tl-check:checked { background-color: var(--checkbox-background-color-selected, var(--color-accent)); border-color: var(--checkbox-border-color-selected, var(--color-accent)); }
.tl-body { flex: 1; min-width: 0; }
.tl-text { white-space: pre-wrap; word-break: break-word; font-size: 14px; max-height: 6.5em; overflow: hidden; }
.tl-meta { display: flex; gap: 8px; align-items: center; margin-top: 3px; flex-wrap: wrap; }
.tl-chips { display: flex; gap: 4px; flex-wrap: wrap; }
.tl-chip { display: inline-flex; align-items: center; gap: 2px; font-size: 12px; border-radius: 6px; padding: 0 2px 0 6px;
           background: color-mix(in srgb, var(--tl-c, #888) 25%, transparent); border: 1px solid var(--tl-c, #888); }
.tl-chip-del { border: none; background: transparent; cursor: pointer; padding: 0 3px; font-size: 12px; color: inherit; }
.tl-who { font-size: 11px; color: var(--body-text-color-subdued); }
.tl-empty { padding: 30px; text-align: center; color: var(--body-text-color-subdued); }
"""

JS = """
function update(mutate) {
  const v = JSON.parse(JSON.stringify(props.value || {items: [], selected: []}));
  mutate(v);
  v.selected = v.items.filter(it => it.selected).map(it => it.id);
  props.value = v;
}
element.addEventListener('click', (e) => {
  const row = e.target.closest('.tl-row');
  if (!row) return;
  const id = Number(row.dataset.id);
  const del = e.target.closest('.tl-chip-del');
  if (del) {
    update(v => { v.remove = {id: id, label: del.dataset.label}; });
    trigger('remove');
    return;
  }
  if ((props.value && props.value.open_on_click) || props.open_on_click) {  // the flag travels in the value
    update(v => { v.preview = id; v.items.forEach(x => { x.selected = x.id === id; }); });
    trigger('preview');
    return;
  }
  update(v => { const it = v.items.find(x => x.id === id); if (it) it.selected = !it.selected; });
});
element.addEventListener('keydown', (e) => {
  const row = e.target.closest('.tl-row');
  if (!row || (e.key !== ' ' && e.key !== 'Enter') || e.target.closest('button')) return;
  e.preventDefault();
  row.click();
});
"""


def list_item(sample, colors: dict[str, str], removable: bool = True) -> dict:
    """One row; ``removable``: its label chips get a × (fires ``remove``)."""
    text = sample.text or ""
    who = (f"{sample.labeled_by} · {sample.labeled_at:%Y-%m-%d %H:%M}" if sample.labeled_by and sample.labeled_at
           else "")
    names = list(dict.fromkeys(sample.labels))
    return {"id": sample.id, "name": sample.name,
            "text": text if len(text) <= SNIPPET else text[:SNIPPET] + "…",
            "labels": [{"name": n, "color": colors.get(n) or "#888888", "removable": removable} for n in names],
            "status": sample.status, "who": who,
            "version": getattr(sample, "version", None)}  # what a bulk label change carries (issue 20)


def remove_request(value) -> tuple[int, str] | None:
    r = value.get("remove") if isinstance(value, dict) else None
    try:
        return (int(r["id"]), str(r["label"])) if isinstance(r, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def text_list(open_on_click: bool = False, elem_id: str = "text-list", **kwargs) -> gr.HTML:
    for event in ("remove", "preview"):
        assert f"'{event}'" in JS
    return gr.HTML(value=grid_value([], open_on_click=open_on_click), html_template=TEMPLATE, css_template=CSS,
                   js_on_load=JS, elem_id=elem_id, open_on_click=open_on_click, **kwargs)
