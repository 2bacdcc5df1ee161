"""Notifications (F5.4): every message goes to the outbox table in the same transaction as the
change that causes it; `send_pending` then sends them by SMTP when it is configured (the outbox
keeps when each was sent, or why not), otherwise the outbox page shows them in the app."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from .core import Store
from .events import now

log = logging.getLogger(__name__)


def queue_notification(cur, to_email: str, subject: str, body: str, job_id: int | None = None) -> None:
    oid = cur.execute("SELECT nextval('seq_outbox')").fetchall()[0][0]
    cur.execute("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                [oid, to_email, subject[:200], body, job_id, now()])


def list_outbox(store: Store, email: str | None = None, limit: int = 200) -> list[dict]:
    sql = "SELECT id, to_email, subject, body, job_id, created_at, sent_at, error FROM outbox"
    params: list = []
    if email:
        sql += " WHERE to_email = ?"
        params.append(email)
    rows = store.db.fetchall(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    return [{"id": r[0], "to": r[1], "subject": r[2], "body": r[3], "job_id": r[4], "created_at": r[5].isoformat(),
             "sent_at": r[6].isoformat() if r[6] else None, "error": r[7]} for r in rows]


def send_pending(store: Store) -> tuple[int, int]:
    """Send unsent messages by SMTP when configured. Returns (sent, failed)."""
    s = store.settings
    if not s.smtp_host:
        return 0, 0
    pending = store.db.fetchall("SELECT id, to_email, subject, body, job_id FROM outbox WHERE sent_at IS NULL "
                                "ORDER BY id LIMIT 500")
    if not pending:
        return 0, 0
    sent = failed = 0
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_user:
                smtp.starttls()
                smtp.login(s.smtp_user, s.smtp_password)
            for oid, to, subject, body, job_id in pending:
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = s.smtp_from, to, subject
                link = f"{s.public_url.rstrip('/')}/?job={job_id}" if job_id else s.public_url
                msg.set_content(f"{body}\n\nOpen it: {link}\n")
                try:
                    smtp.send_message(msg)
                    _mark(store, oid, None)
                    sent += 1
                except smtplib.SMTPException as e:
                    _mark(store, oid, str(e)[:300])
                    failed += 1
    except (OSError, smtplib.SMTPException) as e:
        log.warning("SMTP %s:%s unreachable: %s", s.smtp_host, s.smtp_port, e)
        with store.db.transaction() as cur:
            cur.execute("UPDATE outbox SET error = ? WHERE sent_at IS NULL", [f"SMTP unreachable: {e}"[:300]])
        failed = len(pending)
    return sent, failed


def _mark(store: Store, oid: int, error: str | None) -> None:
    with store.db.transaction() as cur:
        if error:
            cur.execute("UPDATE outbox SET error = ? WHERE id = ?", [error, oid])
        else:
            cur.execute("UPDATE outbox SET sent_at = ?, error = NULL WHERE id = ?", [now(), oid])
