"""Block-style YAML for generated files, byte-identical to PyYAML's emitter and ~20x faster.

PyYAML's pure-Python emitter analyses every scalar character by character; at 10,000 rules it
took most of `export prometheus-rules`. libyaml's emitter cannot indent lists under their key
(our style), so this writer covers what generated files hold: dicts, lists, strings, ints, bools,
None and finite floats, each string on one line. It makes PyYAML's own decisions (plain or
single-quoted, which strings need quotes) with a few regular expressions. Anything else (a
multi-line or very long string, a control character, an object used twice, which PyYAML would
anchor) raises `Unsupported`, and the caller falls back to PyYAML for that document; the tests
compare both writers on generated documents.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from ..model.yamlevents import surely_str

STR_TAG = "tag:yaml.org,2002:str"
FLOAT_TAG = "tag:yaml.org,2002:float"
# PyYAML folds a line at a space past its width (10,000 here); a string far shorter never is.
MAX_STRING = 4000
# PyYAML writes a key longer than this as a complex key (`? key`).
MAX_SIMPLE_KEY = 127

# Characters PyYAML writes only double-quoted or across lines (line breaks, controls, BOM, and
# what `allow_unicode` still escapes).
_SPECIAL = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010fffe]")
# Indicators that rule out a plain scalar in block context (PyYAML's `analyze_scalar`).
_LEADING = re.compile(r"""[#,\[\]{}&*!|>'"%@`]|[?:\-](?: |$)|---|\.\.\.""")
_INNER = re.compile(r": |:$| #")


class Unsupported(ValueError):
    """The document holds something this writer leaves to PyYAML."""


_resolver = yaml.resolver.Resolver()


def _tag(text: str) -> str:
    """The type PyYAML reads a plain scalar as."""
    tag: str = _resolver.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _is_plain_str(text: str) -> bool:
    """Whether PyYAML writes this string unquoted (it would not read back as another type)."""
    if text[0] == " " or text[-1] == " " or _LEADING.match(text) or _INNER.search(text):
        return False
    return surely_str(text) or _tag(text) == STR_TAG


class _Writer:
    def __init__(self) -> None:
        self.out: list[str] = []
        self._strings: dict[str, str] = {}
        self._keys: dict[Any, str] = {}
        self._seen: set[int] = set()

    def string(self, text: str) -> str:
        rendered = self._strings.get(text)
        if rendered is None:
            if len(text) > MAX_STRING or _SPECIAL.search(text):
                raise Unsupported(f"string {text[:40]!r}")
            plain = bool(text) and _is_plain_str(text)
            rendered = text if plain else "'" + text.replace("'", "''") + "'"
            self._strings[text] = rendered
        return rendered

    def scalar(self, value: Any) -> str:
        # Exact types: PyYAML's safe representer refuses subclasses (enums), and so do we.
        kind = type(value)
        if kind is str:
            return self.string(value)
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return str(value)
        if kind is float and math.isfinite(value):
            text = repr(value).lower()
            if "." not in text and "e" in text:
                text = text.replace("e", ".0e", 1)
            if _tag(text) != FLOAT_TAG:
                raise Unsupported(f"float {text}")
            return text
        raise Unsupported(f"value of type {type(value).__name__}")

    def key(self, key: Any) -> str:
        rendered = self._keys.get(key)
        if rendered is None or type(key) is not str:  # (1 and True are the same dict key)
            if type(key) not in (str, int) or key == "" or len(str(key)) > MAX_SIMPLE_KEY:
                raise Unsupported(f"key {key!r}: PyYAML writes it as a complex key or refuses it")
            rendered = self._keys[key] = self.scalar(key)
        return rendered

    def collection(self, value: dict[Any, Any] | list[Any]) -> None:
        seen = self._seen
        before = len(seen)
        seen.add(id(value))
        if len(seen) == before:
            raise Unsupported("an object used twice (PyYAML writes an anchor)")

    # `mapping` and `sequence` run once per value of the document (a million at 10,000 rules):
    # the common cases are written inline.

    def mapping(self, value: dict[Any, Any], indent: int, prefix: str) -> None:
        """Write a non-empty mapping, its first key after `prefix` (the line so far)."""
        pad, inner = " " * indent, " " * (indent + 2)
        strings, keys, out = self._strings, self._keys, self.out
        for key, item in value.items():
            rendered = keys.get(key) if type(key) is str else None
            line = f"{prefix}{rendered or self.key(key)}:"
            prefix = pad
            kind = type(item)
            if kind is str:
                out.append(f"{line} {strings.get(item) or self.string(item)}\n")
            elif kind is dict or kind is list:
                self.collection(item)
                if not item:
                    out.append(f"{line} {{}}\n" if kind is dict else f"{line} []\n")
                else:
                    out.append(line + "\n")
                    if kind is dict:
                        self.mapping(item, indent + 2, inner)
                    else:
                        self.sequence(item, indent + 2, inner)
            else:
                out.append(f"{line} {self.scalar(item)}\n")

    def sequence(self, value: list[Any], indent: int, prefix: str) -> None:
        """Write a non-empty list, its first item after `prefix` (the line so far)."""
        pad = " " * indent
        strings, out = self._strings, self.out
        for item in value:
            head = prefix + "- "
            prefix = pad
            kind = type(item)
            if kind is str:
                out.append(f"{head}{strings.get(item) or self.string(item)}\n")
            elif kind is dict or kind is list:
                self.collection(item)
                if not item:
                    out.append(f"{head}{{}}\n" if kind is dict else f"{head}[]\n")
                elif kind is dict:
                    self.mapping(item, indent + 2, head)
                else:
                    self.sequence(item, indent + 2, head)
            else:
                out.append(f"{head}{self.scalar(item)}\n")


def dump_block(document: Any) -> str:
    """`document` as PyYAML writes it with flowhealth's dumper; raises Unsupported otherwise."""
    if type(document) not in (dict, list) or not document:
        raise Unsupported("the root is not a non-empty mapping or list")
    writer = _Writer()
    writer.collection(document)
    if type(document) is dict:
        writer.mapping(document, 0, "")
    else:
        writer.sequence(document, 0, "")
    return "".join(writer.out)
