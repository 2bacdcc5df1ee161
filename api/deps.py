"""Request helpers: the store and the acting user."""
from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from store import LOCAL_USER, Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_actor(request: Request) -> str:
    """The logged-in user (auth.py's middleware put it on the request); the local user in
    single-user mode."""
    return getattr(request.state, "user", None) or LOCAL_USER


REPEATABLE_QUERY = {"label"}  # list parameters; any other one given twice is ambiguous


def single_query_values(request: Request) -> None:
    """`?page=1&page=2`: refuse (400) rather than silently take the last value."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen and key not in REPEATABLE_QUERY:
            raise RequestValidationError([{"loc": ("query", key), "msg": "give this parameter once",
                                           "type": "value_error"}])
        seen.add(key)
