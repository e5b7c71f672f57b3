"""The configuration reference: every key of ``workflow/schemas/config.schema.yaml`` with its
type, default and description (unit), as the Markdown tables of the README's "Parameters"
section (``python -m dlscore.schema_doc`` prints them; a test checks the README has them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
_NO_DEFAULT = object()


def schema_keys(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(dotted key, its schema node) of every key, depth first; ``models.*.<k>`` stands for a
    key of any model."""
    for k, node in (schema.get("properties") or {}).items():
        path = prefix + k
        yield path, node
        if isinstance(node.get("properties"), Mapping):
            yield from schema_keys(node, path + ".")
        ap = node.get("additionalProperties")
        if path == "models" and isinstance(ap, Mapping):
            yield from schema_keys(ap, path + ".*.")


def is_section(node: Mapping[str, Any]) -> bool:
    """A key whose value is a group of documented keys (they carry the defaults): an object
    with ``properties``, or a map of named entries documented per key (``models``)."""
    ap = node.get("additionalProperties")
    return isinstance(node.get("properties"), Mapping) or (
        isinstance(ap, Mapping) and isinstance(ap.get("properties"), Mapping) and "default" not in node)


def _type(node: Mapping[str, Any]) -> str:
    t = node.get("type", "")
    t = " or ".join(t) if isinstance(t, list) else str(t)
    if "enum" in node:
        t += ": " + ", ".join(map(str, node["enum"]))
    return t


def _cell(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False).replace("|", "\\|") if v is not _NO_DEFAULT else ""


def tables(schema_path: str | Path = SCHEMA) -> str:
    """The Markdown tables, one per top-level section (top-level scalars first)."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    groups: dict[str, list[str]] = {"(top level)": []}
    for path, node in schema_keys(schema):
        top = path.split(".")[0]
        group = "(top level)" if "." not in path and not is_section(node) else top
        if "." not in path and is_section(node):
            groups.setdefault(group, []).append(f"*{node.get('description', '')}*\n")
            continue
        row = (f"| `{path}` | {_type(node)} | {_cell(node.get('default', _NO_DEFAULT))} | "
               f"{str(node.get('description', '')).replace('|', '/')} |")
        groups.setdefault(group, []).append(row)
    out = []
    for group, rows in groups.items():
        intro = [r for r in rows if not r.startswith("|")]
        body = [r for r in rows if r.startswith("|")]
        out.append(f"#### `{group}`\n" if group != "(top level)" else "#### Top level\n")
        out += intro
        out += ["| key | type | default | meaning (unit) |", "| --- | --- | --- | --- |", *body, ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(tables(), end="")
