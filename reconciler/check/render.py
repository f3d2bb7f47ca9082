"""Rendering `.zone.j2` templates in Jinja2's sandbox, includes only from the zones folder."""

from __future__ import annotations

import sys
from typing import Any

from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from reconciler.errors import Problem
from reconciler.model.snapshot import Snapshot


def render(
    snapshot: Snapshot, zones_dir: str, path: str, text: str, name: str, variables: dict[str, Any]
) -> tuple[str | None, list[Problem]]:
    """Render a .zone.j2 template in Jinja2's sandbox; includes come only from the zones folder."""
    sources = {}
    for other, entry in snapshot.files.items():
        if other.startswith(zones_dir + "/") and entry.data is not None and not entry.symlink:
            sources[other[len(zones_dir) + 1 :]] = entry.data.decode("utf-8", "replace")
    env = SandboxedEnvironment(
        loader=DictLoader(sources),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # Only the sandbox's own bounded range(); no cycler, joiner, namespace, lipsum.
    env.globals = {"range": env.globals["range"]}
    try:
        template = env.from_string(text)
        template.name = path
        output = template.render(zone=name, origin=name + ".", vars=variables, **variables)
    except TemplateSyntaxError as exc:
        return None, [Problem(path, f"template syntax: {exc.message}", line=exc.lineno, zone=name)]
    except (SecurityError, OverflowError) as exc:  # OverflowError: range() too big
        return None, [
            Problem(
                path,
                f"template refused by the sandbox: {exc}",
                line=_template_line(path),
                zone=name,
            )
        ]
    except TemplateError as exc:
        return None, [Problem(path, f"template error: {exc}", line=_template_line(path), zone=name)]
    return output, []


def _template_line(path: str) -> int | None:
    """The template line Jinja2 reports in the traceback being handled."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (path, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
