"""Storage: where the store is, its mirror (LABELPORT_MIRROR) and the last mirror's result."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from store.access import is_admin
from store.mirror import mirror_now, mirror_status

from .common import AppContext, PageHandlers, esc, user_errors


@dataclass
class StoragePage:
    outputs: list
    load: Any


def status_markdown(ctx: AppContext) -> str:
    settings = ctx.store.settings
    lines = [f"**Store:** `{esc(settings.database)}`  ·  **Objects:** "
             + (f"`{esc(settings.objects_root)}`" if settings.storage == "local"
                else f"`s3://{esc(settings.s3_bucket)}/{esc(settings.s3_prefix)}`")]
    st = mirror_status(ctx.store)
    if not st["configured"]:
        lines.append("**Mirror:** off. Set `LABELPORT_MIRROR=s3://bucket/prefix` to keep a copy of the store in a "
                     "bucket (restored on start when the local store is missing).")
        return "\n\n".join(lines)
    result = {"ok": "✅ ok", "failed": "❌ failed", "never": "not yet"}.get(st["result"], esc(st["result"]))
    lines += [f"**Mirror target:** `{esc(st['target'])}` (after {st['debounce_s']:g} s without writes)",
              f"**Last mirror:** {result}  ·  attempted {esc(st['last_attempt_at'] or '-')}  ·  "
              f"last success {esc(st['last_ok_at'] or '-')}",
              f"**Size:** {int(st.get('bytes') or 0):,} bytes  ·  **Prefix:** `{esc(st.get('prefix') or '-')}`"]
    if st["result"] == "failed":
        lines.append(f"**Error:** {esc(st['error'])} (retried automatically; {int(st.get('failures') or 0)} "
                     "failures in a row)")
    return "\n\n".join(lines)


class StorageHandlers(PageHandlers):
    """The Storage tab's events."""

    def load(self, request: gr.Request):
        if not is_admin(self.store, self.ctx.actor(request)):
            return "The storage settings and the mirror are an admin's."
        return status_markdown(self.ctx)  # one output: the value itself (a list would be taken as the value)

    @user_errors
    def on_mirror(self, request: gr.Request):
        r = mirror_now(self.store, actor=self.ctx.actor(request))
        gr.Info(f"mirrored {r.tables} tables ({r.bytes:,} bytes) in {r.seconds:.1f} s")
        return status_markdown(self.ctx)


def build(ctx: AppContext) -> StoragePage:
    info = gr.Markdown(elem_id="storage-status")
    with gr.Row():
        refresh_btn = gr.Button("Refresh", size="sm", elem_id="storage-refresh")
        mirror_btn = gr.Button("Mirror now", size="sm", variant="primary", elem_id="storage-mirror-now",
                               interactive=bool(ctx.store.settings.mirror))
    h = StorageHandlers(ctx)
    refresh_btn.click(h.load, None, [info])
    mirror_btn.click(h.on_mirror, None, [info])
    return StoragePage(outputs=[info], load=h.load)
