"""Rendering `.zone.j2` templates in Jinja2's sandbox, in a child process under limits.

A template is code a pusher wrote: Jinja2's sandbox keeps it from the host's files
and objects, but not from the CPU or memory (`{{ 10**(10**10) }}`, nested loops,
`'a'*10**10`, a template that includes itself). So `render` runs it in a child
Python (`python -m reconciler.check.render`, bounded.py) with CPU time, memory and
output limits, and whatever happens there comes back as a `Problem` naming the
template and, where Jinja2 knows it, the line: the daemon's worker waits outside
the GIL and its HTTP thread keeps answering. Includes come only from the zones
folder. Called by check/zonefiles.py.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
from typing import Any

from reconciler import bounded
from reconciler.errors import Problem, ToolError
from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import decode, encode

# Generous for a template (a million records render in about 1 s of CPU), fatal for a
# bomb. The rendered text may be as large as a zone file ([safety] max_zone_bytes).
CPU_SECONDS = 10
MEMORY_BYTES = 1024 * bounded.MIB
WALL_SECONDS = 60.0


def render(
    snapshot: Snapshot,
    zones_dir: str,
    path: str,
    text: str,
    name: str,
    variables: dict[str, Any],
    max_bytes: int,
) -> tuple[str | None, list[Problem]]:
    """Render a .zone.j2 template in a limited child; the text, or the problems."""
    sources = {  # bytes kept as they are, as zonefiles.decode keeps them
        other[len(zones_dir) + 1 :]: decode(data)
        for other, data in snapshot.folder(zones_dir).items()
    }
    # The answer is JSON: room for escapes in the text and for the problems around it.
    answer_bytes = 2 * max_bytes + bounded.MIB
    job: dict[str, object] = {"path": path, "text": text, "name": name, "variables": variables}
    job |= {"sources": sources, "max_bytes": max_bytes, "answer_bytes": answer_bytes}
    limits = bounded.Limits(CPU_SECONDS, MEMORY_BYTES, answer_bytes, WALL_SECONDS)
    done = bounded.run(
        [sys.executable, "-m", "reconciler.check.render"],
        limits,
        stdin=pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL),
    )
    stopped = done.stopped("the template", limits)
    if stopped:
        return None, [Problem(path, stopped, zone=name)]
    try:
        answer = json.loads(decode(done.stdout))
        if answer["memory"]:
            stopped = f"the template was stopped by {limits.describe(bounded.Limit.MEMORY)}"
            return None, [Problem(path, stopped, answer["line"], name)]
        problems = [Problem(**p) for p in answer["problems"]]
        output = answer["text"]
    except (ValueError, TypeError, KeyError):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        if done.returncode < 0:  # a crash of the renderer on this template
            crash = f"the template crashed the renderer (signal {-done.returncode})"
            return None, [Problem(path, crash, zone=name)]
        raise ToolError(f"the template renderer failed: {' '.join(tail)}") from None
    return output, problems


# --- the child: everything below runs in `python -m reconciler.check.render` ---------------


def _child() -> None:
    """Read one job on stdin, write {"text", "problems", "memory", "line"} on stdout."""
    job = pickle.load(sys.stdin.buffer)
    text: str | None = None
    problems: list[Problem] = []
    memory, line = False, None
    try:
        text, problems = _render(job)
    except MemoryError:
        memory, line = True, _template_line(job["path"])
    except RecursionError:
        problems = [_problem(job, "includes, macros or calls nest too deeply (recursion)")]
    except Exception as exc:  # the sandbox's edge: whatever a template does is its problem
        problems = [_problem(job, f"template error: {type(exc).__name__}: {exc}"[:500])]
    answer: dict[str, object] = {"text": text, "problems": [p.as_dict() for p in problems]}
    answer |= {"memory": memory, "line": line}
    # A byte that is not UTF-8 (a surrogate escape) goes back as the byte it was
    dumped = json.dumps(answer, ensure_ascii=False)
    try:
        payload = encode(dumped)
    except UnicodeEncodeError:  # a surrogate the template made up, not a byte of a file
        payload = dumped.encode("utf-8", "replace")
    if len(payload) > job["answer_bytes"]:  # a text of control characters, escaped 6 times
        over = Problem(job["path"], _over(job["max_bytes"]), zone=job["name"])
        payload = json.dumps(answer | {"text": None, "problems": [over.as_dict()]}).encode()
    sys.stdout.buffer.write(payload)
    sys.stdout.flush()


def _render(job: dict[str, Any]) -> tuple[str | None, list[Problem]]:
    from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    path, name, variables = job["path"], job["name"], job["variables"]
    env = SandboxedEnvironment(
        loader=DictLoader(job["sources"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # Only the sandbox's own bounded range(); no cycler, joiner, namespace, lipsum.
    env.globals = {"range": env.globals["range"]}
    try:
        template = env.from_string(job["text"])
        template.name = path
        out = io.StringIO()
        size = 0
        for chunk in template.generate(zone=name, origin=name + ".", vars=variables, **variables):
            size += len(chunk)  # characters: never more than the bytes they encode to
            if size > job["max_bytes"]:
                return None, [Problem(path, _over(job["max_bytes"]), zone=name)]
            out.write(chunk)
    except TemplateSyntaxError as exc:
        return None, [Problem(path, f"template syntax: {exc.message}", exc.lineno, name)]
    except (SecurityError, OverflowError) as exc:  # OverflowError: range() too big
        return None, [_problem(job, f"template refused by the sandbox: {exc}")]
    except TemplateError as exc:
        return None, [_problem(job, f"template error: {exc}")]
    text = out.getvalue()
    if len(text.encode("utf-8", "replace")) > job["max_bytes"]:
        return None, [Problem(path, _over(job["max_bytes"]), zone=name)]
    return text, []


def _over(max_bytes: int) -> str:
    return (
        f"the rendered zone is over the limit of {max_bytes} bytes "
        "([safety] max_zone_bytes in reconciler.toml)"
    )


def _problem(job: dict[str, Any], message: str) -> Problem:
    """A problem at the template line being handled, if Jinja2 knows it."""
    return Problem(job["path"], message, _template_line(job["path"]), job["name"])


def _template_line(path: str) -> int | None:
    """The template line Jinja2 reports in the traceback being handled."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (path, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


if __name__ == "__main__":
    _child()
