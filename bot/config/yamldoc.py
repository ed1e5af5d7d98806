"""YAML files with line numbers, for error messages that point at the offending key.

:func:`load_yaml` composes the file with PyYAML's ``SafeLoader`` (never the unsafe loaders), keeps
the node tree, and builds plain Python data from it. Every key path - a tuple such as
``("inputs", "mobile")`` or ``("statuses", 3, "banner")`` - maps to the 1-based line where it
appears, and the raw text of each scalar stays available: ``code: 012345`` is the octal number 5349
to YAML 1.1 and ``mobile: +8613912345678`` an integer without its ``+``, but :meth:`YamlDoc.raw`
returns exactly what was typed.

Duplicate keys are an error naming both lines (PyYAML silently keeps the last one). A syntax error
becomes a :class:`~bot.errors.Problem` with file, line, column and the parser's description; the
parser's snippet of the offending line is never included, as it may hold a phone number.
Mapping keys are always strings (their text as written): ``yes:`` is the key ``"yes"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.errors import ConfigError, Problem

__all__ = ["KeyPath", "YamlDoc", "format_path", "load_yaml", "load_yaml_text"]

#: A key path: mapping keys are strings, list indexes ints.
KeyPath = tuple[str | int, ...]

NodeKind = Literal["scalar", "mapping", "sequence"]


_DIGIT_RUN = re.compile(r"[0-9]{5}")


def format_path(path: KeyPath) -> str:
    """``("statuses", 3, "banner")`` -> ``statuses[3].banner``; the root is ``""``.

    A key holding five or more digits in a row is shown as ``<key with digits>``: someone who typed
    a phone number where a key belongs must not see it echoed into logs.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = "<key with digits>" if _DIGIT_RUN.search(part) else part
            out += f".{name}" if out else name
    return out


@dataclass(frozen=True)
class YamlDoc:
    """A loaded YAML document: plain data plus, for every key path, its line and raw scalar text."""

    file: str
    data: Any
    _lines: dict[KeyPath, int] = field(default_factory=dict, repr=False)
    _raw: dict[KeyPath, str] = field(default_factory=dict, repr=False)
    _kinds: dict[KeyPath, NodeKind] = field(default_factory=dict, repr=False)

    def line(self, path: KeyPath) -> int | None:
        """1-based line of ``path``; for a path that is absent, the line of its nearest parent."""
        for n in range(len(path), -1, -1):
            found = self._lines.get(path[:n])
            if found is not None:
                return found
        return None

    def raw(self, path: KeyPath) -> str | None:
        """The scalar at ``path`` exactly as written (quotes removed), or None if not a scalar."""
        return self._raw.get(path)

    def kind(self, path: KeyPath) -> NodeKind | None:
        """``"scalar"``, ``"mapping"``, ``"sequence"``, or None when the path is absent."""
        return self._kinds.get(path)


def load_yaml(path: Path | str, *, error: type[ConfigError] = ConfigError) -> YamlDoc:
    """Read and parse ``path``; raises ``error`` (a :class:`ConfigError`) with its problems."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error([Problem(file, None, "", "file not found")], path=file) from None
    except UnicodeDecodeError:
        raise error([Problem(file, None, "", "file is not UTF-8 text")], path=file) from None
    except OSError as exc:
        raise error(
            [Problem(file, None, "", f"cannot read file: {exc.strerror}")], path=file
        ) from None
    return load_yaml_text(text, file, error=error)


def load_yaml_text(
    text: str, file: str = "<string>", *, error: type[ConfigError] = ConfigError
) -> YamlDoc:
    """Parse YAML text as :func:`load_yaml` does; ``file`` is only used in messages."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        raise error([_reader_problem(file, text, exc)], path=file) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise error([_syntax_problem(file, exc)], path=file) from None
        except yaml.reader.ReaderError as exc:
            raise error([_reader_problem(file, text, exc)], path=file) from None
        except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors in practice
            raise error(
                [Problem(file, None, "", f"YAML error: {type(exc).__name__}")], path=file
            ) from None
        builder = _Builder(file, loader)
        data = builder.build(root, ()) if root is not None else None
        if builder.problems:
            raise error(builder.problems, path=file)
        return YamlDoc(file, data, builder.lines, builder.raw, builder.kinds)
    finally:
        loader.dispose()


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    # `problem` describes what is wrong; `context` and the mark's snippet quote the file: leave out.
    what = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return Problem(file, None, "", f"YAML syntax error: {what}")
    return Problem(
        file, mark.line + 1, "", f"YAML syntax error at column {mark.column + 1}: {what}"
    )


def _reader_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
    return Problem(file, line, "", "the file holds a control character that YAML does not allow")


class _Builder:
    """Walks a composed node tree into plain data, recording lines, raw text and kinds."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.lines: dict[KeyPath, int] = {}
        self.raw: dict[KeyPath, str] = {}
        self.kinds: dict[KeyPath, NodeKind] = {}
        self.problems: list[Problem] = []
        self._stack: set[int] = set()

    def build(self, node: yaml.Node, path: KeyPath, line: int | None = None) -> Any:
        self.lines[path] = line if line is not None else node.start_mark.line + 1
        if id(node) in self._stack:  # an alias that refers to one of its own parents
            self.problems.append(
                Problem(self.file, self.lines[path], format_path(path), "recursive alias")
            )
            return None
        if isinstance(node, yaml.MappingNode):
            self.kinds[path] = "mapping"
            self._stack.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self._stack.discard(id(node))
        if isinstance(node, yaml.SequenceNode):
            self.kinds[path] = "sequence"
            self._stack.add(id(node))
            try:
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._stack.discard(id(node))
        self.kinds[path] = "scalar"
        assert isinstance(node, yaml.ScalarNode)
        self.raw[path] = str(node.value)
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self.problems.append(
                Problem(
                    self.file,
                    self.lines[path],
                    format_path(path),
                    exc.problem or "value cannot be read",
                )
            )
            return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Problem(
                        self.file,
                        key_line,
                        format_path(path),
                        "a key must be a plain name, not a list or mapping",
                    )
                )
                continue
            key = str(key_node.value)
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(
                        self.file, key_line, format_path(path), "merge keys (<<) are not supported"
                    )
                )
                continue
            if key in seen:
                self.problems.append(
                    Problem(
                        self.file,
                        key_line,
                        format_path((*path, key)),
                        f"duplicate key: first on line {seen[key]}, again on line {key_line}",
                    )
                )
                continue
            seen[key] = key_line
            out[key] = self.build(value_node, (*path, key), key_line)
        return out
