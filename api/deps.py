"""Request helpers: the store and the acting user."""
from __future__ import annotations

from fastapi import Request

from store import LOCAL_USER, Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_actor(request: Request) -> str:
    # Single-user until users are configured (team labeling); then the session or token decides.
    return LOCAL_USER
