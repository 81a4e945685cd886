"""Helpers for the cnnbook chapters: each top-level module is one concept a chapter teaches.

Below them, ``datasets`` (data), ``book`` (book machinery), ``course`` (instructor tooling) and
``lab`` (measurement); imports only go down (see README.md, "Layout").
"""
