"""TSIG and rndc keys: the Key value, BIND key files, and scrubbing secrets from messages.

A `Key` never shows its secret in `repr()`/`str()`; errors name key files but
never their content; `scrub` removes from a BIND tool's message anything it
quotes from a file that holds a secret (BIND's parser echoes tokens, e.g.
"missing ';' before '<token>'"). Called by bind/, devtools/sandbox.py and cli/main.py.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.errors import ConfigError
from reconciler.model.names import KEY_NAME

ALGORITHMS = frozenset(
    {"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}
)


@dataclass(frozen=True, repr=False)
class Key:
    """A TSIG (or rndc) key. `repr()` and `str()` show the name and algorithm, never the secret."""

    name: str
    algorithm: str
    secret: str  # base64, as in BIND's key files

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not KEY_NAME.match(self.name.rstrip(".")):
            raise ConfigError(f"invalid key name {self.name!r}")
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(
                f"key {self.name}: unsupported algorithm {self.algorithm!r} "
                f"(one of {', '.join(sorted(ALGORITHMS))})"
            )
        try:
            decoded = base64.b64decode(self.secret, validate=True)
        except (binascii.Error, ValueError, TypeError):
            decoded = b""
        if not decoded:
            raise ConfigError(f"key {self.name}: the secret is not valid base64")

    def __repr__(self) -> str:
        return f"Key(name={self.name!r}, algorithm={self.algorithm!r}, secret=<hidden>)"

    __str__ = __repr__


def new_key(name: str, algorithm: str = "hmac-sha256") -> Key:
    """A fresh key with a 256-bit random secret."""
    return Key(name, algorithm, base64.b64encode(secrets.token_bytes(32)).decode("ascii"))


def key_text(key: Key) -> str:
    """The key as a BIND `key` statement (the content of a key file: keep it secret)."""
    return f'key "{key.name}" {{\n\talgorithm {key.algorithm};\n\tsecret "{key.secret}";\n}};\n'


def write_key_file(path: Path, key: Key) -> None:
    """Write a BIND key file, mode 0600, atomically."""
    write_atomic(Path(path), key_text(key), mode=0o600)


def read_key_file(path: Path, name: str | None = None) -> Key:
    """The key in a BIND key file (the one called `name` when the file holds several).

    Raises ConfigError naming the file, never quoting its content.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot read key file: {reason}") from None
    try:
        keys = _parse_keys(_tokens(text))
    except ValueError:
        raise ConfigError(
            f'{path}: not a BIND key file (expected key "NAME" {{ algorithm ALG; '
            'secret "BASE64"; };)'
        ) from None
    if not keys:
        raise ConfigError(f"{path}: no key statement in the key file")
    if name is not None:
        keys = [k for k in keys if k[0].rstrip(".") == name.rstrip(".")]
        if not keys:
            raise ConfigError(f"{path}: no key named {name!r} in the key file")
    key_name, algorithm, secret = keys[0]
    try:
        return Key(key_name, algorithm, secret)
    except ConfigError as exc:  # its message names the key, never the secret
        raise ConfigError(f"{path}: {exc}") from None


def _tokens(text: str) -> list[str]:
    """named.conf tokens: quoted strings (quotes kept), words, and { } ; (comments dropped)."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated comment")
            i = end + 2
        elif char == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise ValueError("unterminated string")
            tokens.append(text[i : end + 1])
            i = end + 1
        elif char in "{};":
            tokens.append(char)
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '{};"#':
                if text.startswith("//", i) or text.startswith("/*", i):
                    break
                i += 1
            tokens.append(text[start:i])
    return tokens


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token


def _parse_keys(tokens: list[str]) -> list[tuple[str, str, str]]:
    """(name, algorithm, secret) for each `key` statement; ValueError on anything else."""
    keys = []
    i = 0

    def expect(value: str) -> None:
        nonlocal i
        if i >= len(tokens) or tokens[i] != value:
            raise ValueError("unexpected token")
        i += 1

    while i < len(tokens):
        if tokens[i].lower() != "key" or i + 1 >= len(tokens):
            raise ValueError("not a key statement")
        name = _unquote(tokens[i + 1])
        i += 2
        expect("{")
        fields: dict[str, str] = {}
        while i < len(tokens) and tokens[i] != "}":
            if i + 2 >= len(tokens) or tokens[i + 2] != ";":
                raise ValueError("bad clause")
            fields[tokens[i].lower()] = _unquote(tokens[i + 1])
            i += 3
        expect("}")
        expect(";")
        if set(fields) != {"algorithm", "secret"}:
            raise ValueError("a key needs exactly algorithm and secret")
        keys.append((name, fields["algorithm"].lower(), fields["secret"]))
    return keys


# --- scrubbing BIND's messages -------------------------------------------------------------

_LOCATED = re.compile(r"(?P<file>[^\s:'\"]+):(?P<line>\d+):")
_QUOTED = re.compile(r"'([^']*)'")
_SECRET_VALUE = re.compile(r'secret\s+"?([^";\s]+)', re.IGNORECASE)


def _holds_secret(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return True  # cannot tell: assume it does
    return b"secret" in head.lower()


def _secret_values(files: Iterable[Path]) -> list[str]:
    values = []
    for file in files:
        try:
            text = Path(file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        values += [m.group(1) for m in _SECRET_VALUE.finditer(text) if len(m.group(1)) >= 4]
    return sorted(set(values), key=len, reverse=True)


def scrub(text: str, secret_files: Iterable[Path] = (), cwd: Path | None = None) -> str:
    """BIND's message with every quoted token from a secret-holding file replaced.

    A line `file:N: ... near 'TOKEN'` about a file that holds a `secret` gets its quoted
    words replaced (punctuation such as '}' is kept, it helps and cannot leak); every known
    secret value from `secret_files` is replaced wherever it appears.
    """
    values = _secret_values(secret_files)
    lines = []
    for line in text.splitlines():
        located = _LOCATED.search(line)
        if located:
            file = Path(located["file"])
            if not file.is_absolute() and cwd is not None:
                file = cwd / file
            if _holds_secret(file):
                line = _QUOTED.sub(
                    lambda m: "'<redacted>'" if re.search(r"\w", m.group(1)) else m.group(0), line
                )
        for value in values:
            line = line.replace(value, "<redacted>")
        lines.append(line)
    return "\n".join(lines)
