"""Caffe's text ``.prototxt`` (protobuf text format) as nested dicts, without Caffe or ``caffe.proto``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .caffe_model import CaffeFormatError

__all__ = ["Message", "parse_prototxt", "prototxt_layers"]

Message = dict[str, list[Any]]
_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(?P<punct>[{}<>:\[\],;])"""
    r"""|(?P<word>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|[-+]?[A-Za-z_][A-Za-z0-9_.]*)"""
)
_INT = re.compile(r"[-+]?\d+$")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf(inity)?|nan)[fF]?$", re.IGNORECASE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _scalar(word: str) -> Any:
    if word in ("true", "True"):
        return True
    if word in ("false", "False"):
        return False
    if _INT.match(word):
        return int(word)
    if _FLOAT.match(word):
        return float(word[:-1] if word[-1] in "fF" and word[-2:-1].isdigit() else word)
    return word  # an enum value (CENTER_SIZE, MAX, ...)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def _tokens(text: str, source: str) -> list[tuple[str, str, int]]:
    """``(kind, text, line)`` tokens: ``str``, ``punct``, ``word``."""
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CaffeFormatError(f"prototxt {source}: line {line}: cannot read {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        if kind is not None:
            out.append((kind, m.group(kind), line))
        line += m.group(0).count("\n")
        pos = m.end()
    return out


def _read(path_or_text: str | os.PathLike) -> tuple[str, str]:
    """``(text, source)``: the text itself (source ``(text)``) or a file's (source its quoted path)."""
    is_text = (
        isinstance(path_or_text, str)
        and ("{" in path_or_text or ":" in path_or_text)
        and ("\n" in path_or_text or not os.path.isfile(path_or_text))
    )
    if is_text:
        return str(path_or_text), "(text)"
    path = Path(path_or_text)
    if not path.is_file():
        raise FileNotFoundError(f"prototxt '{path}' does not exist")
    return path.read_text(encoding="utf-8", errors="replace"), f"'{path}'"


class _Parser:
    """Recursive descent over :func:`_tokens`' output; ``pos`` the next token."""

    def __init__(self, toks: list, source: str) -> None:
        self.toks, self.source, self.pos = toks, source, 0

    def fail(self, msg: str) -> CaffeFormatError:
        toks, pos = self.toks, self.pos
        line = toks[pos][2] if pos < len(toks) else (toks[-1][2] if toks else 1)
        return CaffeFormatError(f"prototxt {self.source}: line {line}: {msg}")

    def peek(self) -> str | None:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else None

    def value(self) -> Any:
        if self.pos >= len(self.toks):
            raise self.fail("a value is missing at the end of the file")
        kind, tok, _ = self.toks[self.pos]
        self.pos += 1
        if kind == "str":
            parts = [_unquote(tok)]
            while self.pos < len(self.toks) and self.toks[self.pos][0] == "str":  # adjacent strings concatenate
                parts.append(_unquote(self.toks[self.pos][1]))
                self.pos += 1
            return "".join(parts)
        if kind == "word":
            return _scalar(tok)
        self.pos -= 1
        raise self.fail(f"expected a value, got {tok!r}")

    def nested(self) -> Message:
        """A ``{...}`` or ``<...>`` message, its opening token next."""
        opening = self.peek()
        self.pos += 1
        return self.message("}" if opening == "{" else ">")

    def values(self, name: str) -> list:
        """The values of field ``name`` after its name (and colon): a message, a ``[...]`` list, or a scalar."""
        if self.peek() in ("{", "<"):
            return [self.nested()]
        if self.peek() != "[":
            return [self.value()]
        self.pos += 1
        out = []
        while self.pos < len(self.toks) and self.peek() != "]":
            if self.peek() == ",":
                self.pos += 1
            else:
                out.append(self.nested() if self.peek() in ("{", "<") else self.value())
        if self.pos >= len(self.toks):
            raise self.fail(f"missing ']' after field {name!r}")
        self.pos += 1
        return out

    def message(self, close: str | None) -> Message:
        msg: Message = {}
        while True:
            if self.pos >= len(self.toks):
                if close is None:
                    return msg
                raise self.fail(f"missing {close!r} at the end of the file")
            kind, tok, _ = self.toks[self.pos]
            self.pos += 1
            if kind == "punct" and tok == close:
                return msg
            if kind == "punct" and tok in ",;":
                continue
            if kind != "word":
                self.pos -= 1
                raise self.fail(f"expected a field name, got {tok!r}")
            colon = self.peek() == ":"
            self.pos += colon
            if not colon and self.peek() not in ("{", "<", "["):
                raise self.fail(f"expected ':' or '{{' after field {tok!r}")
            msg.setdefault(tok, []).extend(self.values(tok))


def parse_prototxt(path_or_text: str | os.PathLike) -> Message:
    """A protobuf text-format file (or text) -> ``{field: [values]}``, nested messages as such dicts.

    Scalars become ``bool`` (``true``/``false``), ``int``, ``float`` or ``str`` (strings and enum values);
    every field is a list, since any may repeat. ``[a, b]`` lists and ``<...>`` messages are accepted.
    A path that names no file, and text that does not parse, raise naming the source and line.
    """
    text, source = _read(path_or_text)
    return _Parser(_tokens(text, source), source).message(None)


def prototxt_layers(net: Message) -> list[Message]:
    """The net's layers in order (``layer``, or the legacy ``layers``), each with one ``name`` and ``type``."""
    layers = net.get("layer") or net.get("layers") or []
    for i, layer in enumerate(layers):
        if not layer.get("name"):
            layer["name"] = [f"(unnamed layer {i})"]
        layer.setdefault("type", [""])
    return layers
