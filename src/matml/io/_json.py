"""Read a JSON list entry by entry, so that a corrupt file names the bad entry."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from matml.errors import InputError

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {col}"


def _reason(msg: str) -> str:
    """The json module's message as a phrase: "Unterminated string starting at" ->
    "unterminated string" (its position is named separately)."""
    msg = msg.removesuffix(" at").removesuffix(" starting")
    return msg[:1].lower() + msg[1:]


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def iter_json_list(path: str | os.PathLike) -> Iterator[Any]:
    """Yield the items of a JSON file holding one list, one at a time.

    A corrupt or truncated file raises :class:`~matml.errors.InputError` naming the
    file, the index of the entry that could not be read and its line and column.
    """
    file = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise InputError("file not found", file=file) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a JSON file", file=file) from None
    except UnicodeDecodeError as err:
        raise InputError(
            f"not a UTF-8 text file ({err.reason} at byte {err.start})", file=file
        ) from None
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror})", file=file) from None
    pos = _skip(text, 0)
    if pos == len(text):
        raise InputError("empty file, expected a JSON list", file=file)
    if text[pos] != "[":
        raise InputError(
            f"expected a JSON list starting with '[' at {_where(text, pos)}", file=file
        )
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        _check_end(text, pos, file)
        return
    entry = 0
    while True:
        try:
            item, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            # an unterminated string runs to the end of the file: truncated too
            ends = err.pos >= len(text) or err.msg.startswith("Unterminated string")
            what = "truncated" if ends else "corrupt"
            raise InputError(
                f"{what} JSON at {_where(text, err.pos)}: {_reason(err.msg)}",
                file=file,
                entry=entry,
            ) from None
        yield item
        pos = _skip(text, pos)
        if pos >= len(text):
            raise InputError(
                f"truncated JSON after this entry (no closing ']', {_where(text, pos)})",
                file=file,
                entry=entry,
            )
        if text[pos] == "]":
            _check_end(text, pos, file)
            return
        if text[pos] != ",":
            raise InputError(
                f"corrupt JSON after this entry: expected ',' or ']' at "
                f"{_where(text, pos)}",
                file=file,
                entry=entry,
            )
        pos = _skip(text, pos + 1)
        entry += 1


def _check_end(text: str, pos: int, file: str) -> None:
    """Nothing but white space may follow the list's closing ``]`` at ``pos``."""
    rest = _skip(text, pos + 1)
    if rest != len(text):
        raise InputError(
            f"extra data after the list at {_where(text, rest)}", file=file
        )
