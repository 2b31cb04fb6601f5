"""The version file's reader: PyYAML's SafeLoader narrowed to the one rule the DAG and the runtime
check (src/runtime-check/version-file.ts) share, its type checks and the Variable text of a value.
test/python/dag/test_version_fuzz.py reads generated documents with both readers and compares."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from .common import shown


class VersionFileError(ValueError):
    """The version file is refused: not YAML, or outside the subset both readers agree on."""


_YAML_TAG = "tag:yaml.org,2002:"


_MORE_DOCUMENTS = 'contains more than one document (remove the "---" or "..." lines after the first)'
# Where YAML ends an anchor or alias name.
_NAME_ENDS = "\0 \t\r\n\x85\u2028\u2029,[]{}"
# The one directive allowed (the runtime check's VERSION_DIRECTIVE).
_VERSION_DIRECTIVE = re.compile(r"%YAML +1\.[12](?: +(?:#.*)?)?")
_SPACES_ONLY_LINE = re.compile(r"(^|\n) +(?=\r?\n|\Z)")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|\r?\n( *\r?\n)?|[\s\S])")


def escape_problem(source: str, line_at: Callable[[int], int]) -> str | None:
    """Escapes in a double-quoted value the readers decode differently: a \\u escape of a UTF-16
    surrogate (PyYAML keeps two code points where the runtime check's reader joins a pair into one
    character), and a "\\" ending a line followed by an empty line (the runtime check's reader folds
    the empty line). line_at gives the line of an offset in source."""
    for match in _ESCAPE.finditer(source):
        code = int(match[1] or match[2] or "0", 16)
        if 0xD800 <= code <= 0xDFFF:
            return (
                f"the escape {match[0]} is half of a UTF-16 surrogate pair (write the character itself, "
                "or \\U0001F600 for one past U+FFFF)"
            )
        if match[3] is not None:
            return (
                f'line {line_at(match.start())}: a "\\" at the end of a line inside double quotes is followed '
                'by an empty line (write "\\n" for a line break)'
            )
    return None


_LOADER_CLASSES: dict = {}


def _strict_loader_class():
    """PyYAML's SafeLoader narrowed to the shared rule (read_version_document)."""
    import yaml
    from yaml.events import AliasEvent, MappingEndEvent
    from yaml.nodes import MappingNode, ScalarNode

    class StrictLoader(yaml.SafeLoader):
        limits: dict  # set on each instance by read_version_document
        aliases = 0
        depth = 0
        directives = 0
        document_ends = 0
        # Anchors whose node is still being composed: an alias to one would make a cycle.
        open_anchors: frozenset = frozenset()

        # YAML's indentation rule, which PyYAML does not enforce inside quoted values and flow
        # collections: each of their continuation lines is indented past the enclosing block's
        # key or "-" (self.indent is that column). PyYAML reads `a: "x\ny"` as "x y"; YAML and
        # the runtime check's reader refuse it.
        def unindented(self, what: str) -> VersionFileError:
            return VersionFileError(
                f'{what} is not closed before line {self.line + 1}, which is not indented past its key or "-" '
                "(close it, or indent each of its continuation lines further)"
            )

        def scan_to_next_token(self):
            if self.peek() == "#" and self.pointer > 0 and self.buffer[self.pointer - 1] not in " \n\ufeff":
                # PyYAML starts a comment at any "#" between tokens; YAML needs a space before it.
                raise VersionFileError(
                    f"line {self.line + 1}: a comment must be separated from the value before it by a space"
                )
            super().scan_to_next_token()
            # A closing bracket of the outermost collection may stand at the key's column.
            closing = self.flow_level == 1 and self.column == self.indent and self.peek() in "]}"
            if self.flow_level and self.column <= self.indent and self.peek() != "\0" and not closing:
                raise self.unindented("a flow collection ([...] or {...})")

        def scan_plain_spaces(self, indent, start_mark):
            line = self.line
            chunks = super().scan_plain_spaces(indent, start_mark)
            if self.flow_level and self.line > line and self.column <= self.indent and self.peek() not in "\0#]}":
                raise self.unindented("a flow collection ([...] or {...})")
            return chunks

        def scan_flow_scalar_non_spaces(self, double, start_mark):
            try:
                return super().scan_flow_scalar_non_spaces(double, start_mark)
            except (ValueError, OverflowError):
                # chr() of a \U escape past U+10FFFF (an OverflowError past 2**31).
                raise VersionFileError(
                    f"line {self.line + 1}: an escape past U+10FFFF, the last Unicode character"
                ) from None

        def scan_flow_scalar_breaks(self, double, start_mark):
            chunks = super().scan_flow_scalar_breaks(double, start_mark)
            if self.column <= self.indent:
                raise self.unindented("a quoted value")
            return chunks

        def scan_anchor(self, TokenClass):  # noqa: N803 - PyYAML's parameter name
            # YAML reads a name on to a space or ,[]{}; PyYAML stops earlier, at ":" for one.
            end = self.pointer + 1
            while self.buffer[end] not in _NAME_ENDS:
                end += 1
            name = self.buffer[self.pointer + 1 : end]
            if not re.fullmatch(r"[0-9A-Za-z_-]+", name):
                raise VersionFileError(
                    f"the anchor name {shown(name, 40)} is not allowed (use letters, digits, _ and -)"
                )
            return super().scan_anchor(TokenClass)

        def fetch_document_end(self):
            self.document_ends += 1
            if self.document_ends > 1:
                raise VersionFileError(_MORE_DOCUMENTS)
            super().fetch_document_end()

        def fetch_plain(self):
            # Inside [...] or {...} YAML reads "-" before ",]}" as a block entry, PyYAML as text.
            if self.flow_level and self.peek() == "-" and self.peek(1) in ",[]{}":
                raise VersionFileError('a plain "-" inside [...] or {...} is not allowed (quote it)')
            super().fetch_plain()

        def check_key(self):
            # In [...] or {...} PyYAML takes any "?" for a key indicator; YAML needs a space after it.
            if self.flow_level and self.peek(1) not in "\0 \t\r\n\x85\u2028\u2029,[]{}":
                raise VersionFileError('a plain value inside [...] or {...} starts with ":" or holds "?" (quote it)')
            return super().check_key()

        def scan_directive(self):
            # PyYAML and YAML differ on versions, repeats, unknown names and what may follow: one
            # plain version line at most, matched on the line as written.
            end = self.pointer
            while self.buffer[end] not in "\0\r\n\x85\u2028\u2029":
                end += 1
            line = self.buffer[self.pointer : end]
            self.directives += 1
            if not _VERSION_DIRECTIVE.fullmatch(line) or self.directives > 1:
                raise VersionFileError(f"the directive {shown(line, 40)} is not allowed (a version file needs none)")
            return super().scan_directive()

        def fetch_block_scalar(self, style):
            if self.column <= self.indent:
                raise VersionFileError(
                    f'line {self.line + 1}: a block value ("|" or ">") must stand past its key or "-" '
                    "(write it on the key's line: key: |)"
                )
            super().fetch_block_scalar(style)

        def compose_node(self, parent, index):
            if self.check_event(AliasEvent):
                self.aliases += 1
                if self.aliases > self.limits["maxAliases"]:
                    raise VersionFileError(f"more than {self.limits['maxAliases']} aliases")
                if self.peek_event().anchor in self.open_anchors:
                    raise VersionFileError("an alias inside its own anchored value (a cycle)")
                return super().compose_node(parent, index)
            event = self.peek_event()
            if getattr(event, "tag", None) is not None:
                raise VersionFileError(f"the tag {shown(event.tag, 100)} is not allowed (write plain values)")
            if self.depth >= self.limits["maxDepth"]:
                raise VersionFileError(f"nested more than {self.limits['maxDepth']} levels deep")
            outer = self.open_anchors
            self.depth += 1
            if event.anchor is not None:
                self.open_anchors = outer | {event.anchor}
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1
                self.open_anchors = outer

        def compose_scalar_node(self, anchor):
            node = super().compose_scalar_node(anchor)
            if node.style == '"':
                start = node.start_mark.index
                problem = escape_problem(
                    self.buffer[start : node.end_mark.index],
                    lambda offset: self.buffer[: start + offset].count("\n") + 1,
                )
                if problem is not None:
                    raise VersionFileError(problem)
            if node.style is None:  # plain: the implicit resolvers gave it its type
                kind = node.tag.removeprefix(_YAML_TAG)
                if kind == "timestamp" or (kind in ("int", "float") and ":" in node.value):
                    # YAML 1.1 forms that YAML 1.2 dropped and no Variable holds: they stay text.
                    node.tag = _YAML_TAG + "str"
                elif kind in ("merge", "value", "yaml"):
                    raise VersionFileError(f"the plain value {shown(node.value, 20)} is not allowed (quote it)")
                elif kind in ("int", "float") and len(node.value) > self.limits["maxNumberChars"]:
                    raise VersionFileError(f"a number longer than {self.limits['maxNumberChars']} characters")
            return node

        def compose_mapping_node(self, anchor):
            start = self.get_event()
            tag = self.resolve(MappingNode, None, start.implicit)
            node = MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
            if anchor is not None:
                self.anchors[anchor] = node
            seen = set()
            while not self.check_event(MappingEndEvent):
                if self.check_event(AliasEvent):
                    raise VersionFileError("an alias as a mapping key is not allowed")
                key = self.compose_node(node, None)
                if not isinstance(key, ScalarNode) or key.tag != _YAML_TAG + "str":
                    if isinstance(key, ScalarNode):
                        found = shown(key.value, 40)
                    else:
                        found = "a mapping" if isinstance(key, MappingNode) else "a list"
                    raise VersionFileError(f"the key {found} is not a string (quote it)")
                if key.value in seen:
                    raise VersionFileError(f"duplicate key {shown(key.value, 60)}")
                seen.add(key.value)
                node.value.append((key, self.compose_node(node, key)))
            node.end_mark = self.get_event().end_mark
            return node

    return StrictLoader


def read_version_document(text: str, limits: dict) -> dict:
    """Parses a version file under the one rule the DAG and the runtime check share (README,
    "Variable values"): one YAML document whose top level is a mapping; no tags, no merge keys,
    no duplicate keys, only string keys; at most limits["maxAliases"] aliases, limits["maxDepth"]
    levels of nesting and limits["maxNumberChars"] characters per number; no plain "=", no tabs,
    lone CRs, NEL/LS/PS line breaks or byte order marks past the start; none of the forms PyYAML
    reads otherwise than YAML and the runtime check's reader do (StrictLoader's overrides name
    each). Timestamps and base-60 numbers (1:30) stay text; everything else resolves as PyYAML's
    SafeLoader does. Raises VersionFileError with the reason."""
    import yaml

    # Characters on which YAML readers disagree (PyYAML's line breaks of YAML 1.1 only, its refusal
    # of most tabs, a lone CR as a line break, a byte order mark past the start): refused outright.
    for character, name in (
        ("\x85", "the line break NEL"),
        ("\u2028", "the line break LINE SEPARATOR"),
        ("\u2029", "the line break PARAGRAPH SEPARATOR"),
        ("\t", 'a tab (indent with spaces; write "\\t" inside double quotes)'),
    ):
        if character in text:
            raise VersionFileError(f"contains {name}")
    if "\r" in text.replace("\r\n", ""):
        raise VersionFileError("contains a carriage return that does not end a CRLF line")
    if "\ufeff" in text[1:]:
        raise VersionFileError("contains a byte order mark after the start")
    if not text.endswith("\n"):
        # Read as if the file ended with a line break, as most do: a block value on the last line
        # then ends with one (PyYAML drops it there, the runtime check's reader keeps it).
        text += "\n"
    # A line of only spaces reads as an empty line: inside a | or > value PyYAML keeps the spaces
    # past the value's indentation, the runtime check's reader does not when no text follows.
    text = _SPACES_ONLY_LINE.sub(r"\1", text)

    if "strict" not in _LOADER_CLASSES:
        # One class per process, made on first use (yaml is imported only when a file is read).
        _LOADER_CLASSES["strict"] = _strict_loader_class()
    loader = None
    try:
        loader = _LOADER_CLASSES["strict"](text)
        loader.limits = limits
        document = loader.get_single_data()
    except VersionFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        if exc.context == "expected a single document in the stream":
            raise VersionFileError(_MORE_DOCUMENTS) from None
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise VersionFileError(f"invalid YAML: {problem[:300]}{where}") from None
    except yaml.YAMLError as exc:
        raise VersionFileError(f"invalid YAML: {str(exc).splitlines()[0][:300]}") from None
    except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
        # PyYAML's constructors raise plain ValueError (e.g. "0b_"), not YAMLError.
        raise VersionFileError(f"unreadable value ({type(exc).__name__})") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(document, dict):
        found = "an empty file" if document is None else f"a {type(document).__name__}"
        raise VersionFileError(f"expected a mapping of keys to values, found {found}")
    return document


def check_version_values(document: dict, variables: list[dict]) -> dict:
    """The configured keys of a parsed version file, type-checked; ValueError lists every problem."""
    if not isinstance(document, dict):
        found = "an empty file" if document is None else f"a {type(document).__name__}"
        raise ValueError(f"expected a mapping of keys to values, found {found}")
    problems = []
    values = {}
    for mapping in variables:
        key, expected = mapping["key"], mapping["type"]
        if key not in document:
            problems.append(f'missing key "{key}"')
            continue
        value = document[key]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and isinstance(value, float) and not math.isfinite(value):
            is_number = False
        ok = {
            "string": isinstance(value, str),
            "number": is_number,
            "integer": is_number and isinstance(value, int),
            "boolean": isinstance(value, bool),
            "scalar": isinstance(value, str | bool) or is_number,
        }[expected]
        if not ok:
            article = "an" if expected == "integer" else "a"
            problems.append(f'"{key}" should be {article} {expected}, found {shown(value)}')
            continue
        values[key] = value
    if problems:
        raise ValueError("; ".join(problems))
    return values


def js_number(value: int | float) -> str:
    """A number as JavaScript's String(n) writes it (both use the shortest round-trip digits), so
    the runtime check, written in TypeScript, compares equal strings. Integers keep every digit."""
    if isinstance(value, int):
        return str(value)
    if value == 0:
        return "0"
    from decimal import Decimal

    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    stripped = digits.rstrip("0") or "0"
    exponent += len(digits) - len(stripped)
    digits = stripped
    k, n = len(digits), len(digits) + exponent
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        fraction = f".{digits[1:]}" if k > 1 else ""
        text = f"{digits[0]}{fraction}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return f"-{text}" if value < 0 else text


def variable_text(value: str | int | float | bool) -> str:
    """The Airflow Variable value for a version-file scalar: strings as they are, booleans as
    true/false, numbers as JavaScript writes them (the runtime check uses the same rule)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    return value
