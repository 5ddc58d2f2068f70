"""Every key of a config, findable without reading source: its value, the range it must be in, and the comment
written beside (or above) its field in the dataclass that declares it (``iris train --help-config``)."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields, is_dataclass
from functools import cache
from typing import Any

FIELD = re.compile(r"^\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$")
COMMENT = re.compile(r"^\s+#\s?(.*)$")


@cache
def field_comments(cls: type) -> dict[str, str]:
    """``cls``'s fields -> their comments: the one on the field's line, else the comment lines just above it."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # a class without source (built at run time): no comments
        return {}
    names, comments, above = {f.name for f in fields(cls)}, {}, []
    for line in lines[1:]:
        if match := COMMENT.match(line):
            above.append(match.group(1).strip())
        elif (match := FIELD.match(line)) and match.group(1) in names and match.group(1) not in comments:
            comments[match.group(1)] = (match.group(2) or " ".join(above)).strip()
            above = []
        else:
            above = []
    return comments


def described_keys(config: Any, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """(dotted key, value, bound, comment) of every leaf of a dataclass config, in declaration order."""
    rows = []
    comments = field_comments(type(config))
    for f in fields(config):
        value, key = getattr(config, f.name), f"{prefix}{f.name}"
        if is_dataclass(value):
            rows += described_keys(value, f"{key}.")
            continue
        bound = f.metadata.get("bound")
        rows.append((key, value, bound.description if bound else "", comments.get(f.name, "")))
    return rows


def keys_text(config: Any) -> str:
    """The keys as lines: ``key = value  [bound]  # comment``."""
    rows = described_keys(config)
    width = min(max(len(f"{key} = {value!r}") for key, value, _, _ in rows), 64)  # a long value pushes only its line
    lines = []
    for key, value, bound, comment in rows:
        text = f"{key} = {value!r}".ljust(width)
        extras = "  ".join(part for part in (f"[{bound}]" if bound else "", f"# {comment}" if comment else "") if part)
        lines.append(f"{text}  {extras}".rstrip())
    return "\n".join(lines)
