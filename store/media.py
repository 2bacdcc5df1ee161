"""Sample images in the store: media/images.py decodes (probe, display decode, thumbnails); here
its refusals become the store's ValidationError, and the bounded work per request (issue 14) uses
the Store's own objects (store.caches): at most ``Settings.max_decodes`` decodes run at once
(``decode_slot``), one thread at a time works on a key (``single_flight``), and decoded display
images stay in the store's least-recently-used cache bounded by bytes (``display_cache``,
``Settings.image_cache_bytes``), so a page of crops of one image decodes it once.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Hashable, Iterator

from media import images
from media.errors import MediaError
from media.images import (BIG_PIXELS, FULL_DECODE_PIXELS, IMAGE_FORMATS, THUMB_SIZE, DecodeGate, ImageCache,
                          ImageInfo, KeyLocks, image_nbytes)

from .errors import ValidationError

if TYPE_CHECKING:
    from .core import Store


def as_validation_errors(fn: Callable) -> Callable:
    """``fn`` of media/, raising the store's ValidationError (same message) where it refuses a file."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MediaError as e:
            raise ValidationError(str(e)) from None
    return call


probe_image = as_validation_errors(images.probe_image)
open_rgb = as_validation_errors(images.open_rgb)
make_thumbnail = as_validation_errors(images.make_thumbnail)
display_png = as_validation_errors(images.display_png)
decode_reduced = as_validation_errors(images.decode_reduced)


@dataclass(frozen=True)
class SampleFile:
    """A sample's file, to be sent in chunks: ``chunks(start, stop)`` yields bytes [start, stop)
    read from storage as they go (a local file is seeked, an S3 object read with a ranged GET)."""
    uri: str
    size: int
    chunks: Callable[[int, int], Iterator[bytes]]


def display_cache(store: Store) -> ImageCache:
    """The store's cache of decoded display images (keys name the sample), within
    Settings.image_cache_bytes."""
    return store.caches.display


@contextmanager
def decode_slot(store: Store) -> Iterator[None]:
    """Hold one of the store's ``Settings.max_decodes`` places for a decode (or encode) of an
    image; wait for one."""
    with store.caches.decodes.slot():
        yield


@contextmanager
def single_flight(store: Store, key: Hashable) -> Iterator[None]:
    """One thread at a time works on ``key`` in this store (the others wait, then find its result
    cached)."""
    with store.caches.key_locks.hold(key):
        yield


__all__ = ["BIG_PIXELS", "FULL_DECODE_PIXELS", "IMAGE_FORMATS", "THUMB_SIZE", "DecodeGate", "ImageCache", "ImageInfo",
           "KeyLocks", "SampleFile", "as_validation_errors", "decode_reduced", "decode_slot", "display_cache",
           "display_png", "image_nbytes", "make_thumbnail", "open_rgb", "probe_image", "single_flight"]
