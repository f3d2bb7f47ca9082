"""Pull-request review: the markdown plan (snapshots), the CI files and the pre-commit hook.

The markdown plan is compared exactly with files in tests/snapshots/ (commit hashes masked;
the `increment` serial scheme keeps serials stable); RECONCILER_UPDATE_SNAPSHOTS=1 rewrites
them. The GitHub workflow and the GitLab CI file cannot run here, so their YAML is parsed,
their key steps are checked, and the shell they run is run for real: `reconciler check` and
`reconciler plan` in a real clone with a pull-request branch, and the comment step against a
stand-in for the GitHub or GitLab REST API (a small HTTP server on 127.0.0.1 that keeps
comments), twice, to prove that a second push updates the one comment instead of adding one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import git
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.cli.report import MARKDOWN_ROWS, PLAN_MARKER
from reconciler.devtools.init import template_dir

from .conftest import GOOD_ZONE as PLAIN
from .conftest import ZoneRepo

# example.org receives mail: with its DMARC record, `check` has nothing to say about it
GOOD_ZONE = PLAIN + '_dmarc  IN TXT "v=DMARC1; p=none"\n'
SNAPSHOTS = Path(__file__).parent / "snapshots"
ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = template_dir()
WORKFLOW = TEMPLATE / ".github" / "workflows" / "dns-reconciler.yml"
GITLAB = TEMPLATE / ".gitlab-ci.yml"
ZONE = "zones/example.org.zone"
TOKEN = "test-token"
BOT = {"id": 99, "login": "github-actions[bot]", "type": "Bot"}  # who the token comments as
PERSON = {"id": 5, "login": "operator", "type": "User"}


# --- the markdown plan ------------------------------------------------------------------------


def _increment(zone_repo: ZoneRepo) -> str:
    """Serials by +1 (stable, unlike dates), example.org added; the base commit."""
    text = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write("reconciler.toml", text.replace('scheme = "date"', 'scheme = "increment"'))
    zone_repo.write(ZONE, GOOD_ZONE)
    return zone_repo.commit("serials by increment; add example.org")


def _markdown(zone_repo: ZoneRepo, base: str, message: str) -> tuple[int, str]:
    head = zone_repo.commit(message)
    result = zone_repo.run("plan", "--base", base, "--head", head, "--format", "markdown")
    masked = result.out.replace(base[:12], "<base>").replace(head[:12], "<head>")
    return result.code, masked


def _compare(name: str, text: str) -> None:
    snapshot = SNAPSHOTS / name
    if os.environ.get("RECONCILER_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(text, encoding="utf-8")
    assert text == snapshot.read_text(encoding="utf-8"), f"differs from {snapshot}"


def test_markdown_plan_of_a_safe_change(zone_repo: ZoneRepo) -> None:
    base = _increment(zone_repo)
    zone_repo.write(
        ZONE,
        GOOD_ZONE.replace("www     IN A   192.0.2.80\n", "").replace("192.0.2.25", "192.0.2.26")
        + 'ftp IN TXT "a|b" "`x`"\n',
    )
    text = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write("reconciler.toml", text.replace("preference = 10", "preference = 20"))
    code, markdown = _markdown(zone_repo, base, "move mail, drop www, add ftp; MX 20")
    assert code == 0, markdown
    assert markdown.startswith(PLAN_MARKER + "\n")
    _compare("plan_safe.md", markdown)


def test_markdown_plan_of_an_unsafe_change_says_how_to_allow_it(zone_repo: ZoneRepo) -> None:
    base = _increment(zone_repo)
    zone_repo.write(ZONE, GOOD_ZONE + "@ IN NS ns3\nns3 IN A 192.0.2.3\n")
    (zone_repo.path / "zones" / "example.com.zone").unlink()
    code, markdown = _markdown(zone_repo, base, "a third nameserver; drop example.com")
    assert code == 3, markdown
    _compare("plan_unsafe.md", markdown)
    code, markdown = _markdown(zone_repo, base, "the same\n\nReconciler-Allow: unsafe")
    assert code == 0, markdown
    assert markdown.splitlines()[1] == "### dns-reconciler plan ⚠️ allowed · 📬 changes mail"
    assert markdown.splitlines()[-1] == (
        "**Verdict:** ⚠️ unsafe but allowed (`Reconciler-Allow: unsafe`): example.com: deletes "
        "the zone (12 records); example.org: changes the apex NS set"
    )


def test_markdown_plan_of_an_invalid_change_lists_the_problems(zone_repo: ZoneRepo) -> None:
    base = _increment(zone_repo)
    zone_repo.write(ZONE, GOOD_ZONE + "www IN CNAME mail\nftp IN A 192.0.2.21\n")
    code, markdown = _markdown(zone_repo, base, "break example.org")
    assert code == 1, markdown
    _compare("plan_invalid.md", markdown)


def test_a_long_plan_is_cut_and_folded(zone_repo: ZoneRepo) -> None:
    base = _increment(zone_repo)
    many = "".join(f"h{i} IN A 198.51.100.{i % 250}\n" for i in range(MARKDOWN_ROWS + 50))
    zone_repo.write(ZONE, GOOD_ZONE + many)
    code, markdown = _markdown(zone_repo, base, "many hosts")
    assert code == 0
    rows = [line for line in markdown.splitlines() if line.startswith("| ➕ |")]
    assert len(rows) == MARKDOWN_ROWS
    assert f"<details><summary>{MARKDOWN_ROWS + 50} record(s)</summary>" in markdown
    assert "… and 50 more record(s) not shown here: `reconciler plan` shows them all." in markdown
    assert len(markdown) < 65536


# --- the CI files ----------------------------------------------------------------------------


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _github_steps() -> dict[str, dict[str, Any]]:
    workflow = _load(WORKFLOW)
    (job,) = workflow["jobs"].values()
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def test_github_workflow_runs_check_and_plan_on_pull_requests() -> None:
    workflow = _load(WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert set(triggers) == {"pull_request"}
    assert "zones/**" in triggers["pull_request"]["paths"]
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = _github_steps()
    checkout = steps["Check out the pull request's head with its history"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0  # the merge base must be there
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert "apt-get install -y -qq bind9-utils" in steps["Install BIND's tools"]["run"]
    assert 'pip install --quiet "$RECONCILER_PIP"' in steps["Install dns-reconciler"]["run"]
    assert steps["Check"]["run"] == "reconciler check HEAD"
    plan = steps["Plan"]["run"]
    assert 'git merge-base "origin/$BASE_REF" HEAD' in plan
    assert 'reconciler plan --base "$base" --head HEAD --format markdown > plan.md' in plan
    comment = steps["Post or update the plan comment"]
    assert comment["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert f'MARKER = "{PLAN_MARKER}"' in comment["run"]
    assert steps["Verdict (exit 1 invalid, 3 unsafe)"]["run"] == 'exit "$PLAN_EXIT"'


def test_gitlab_ci_runs_plan_and_check_on_merge_requests() -> None:
    ci = _load(GITLAB)
    job = ci["dns-reconciler"]
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert ci["variables"]["GIT_DEPTH"] == "0"
    before = "\n".join(job["before_script"])
    assert "apt-get install -y -qq bind9-utils" in before and "pip install" in before
    script = "\n".join(job["script"])
    assert '--base "$CI_MERGE_REQUEST_DIFF_BASE_SHA"' in script
    assert "--format markdown > plan.md" in script
    assert f'MARKER = "{PLAN_MARKER}"' in script
    assert '"PRIVATE-TOKEN": os.environ["RECONCILER_GITLAB_TOKEN"]' in script
    assert job["script"][-2:] == ['reconciler check "$head"', 'exit "$code"']


def test_pre_commit_hook_and_the_template_config() -> None:
    (hook,) = _load(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "reconciler-check"
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "reconciler check",
        "python",
        False,
    )
    files = re.compile(hook["files"])
    for path in ("zones/example.com.zone", "zones/common/shared.j2", "reconciler.toml"):
        assert files.search(path), path
    assert files.search("host/policy.toml")
    for path in ("README.md", "host/notes.txt", "reconciler.toml.bak"):
        assert not files.search(path), path
    (repo,) = _load(TEMPLATE / ".pre-commit-config.yaml")["repos"]
    assert [h["id"] for h in repo["hooks"]] == ["reconciler-check"]
    assert repo["repo"].startswith("https://") and repo["rev"]


def test_init_ships_the_ci_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    tracked = git.Repo(tmp_path / "new").git.ls_files().splitlines()
    for path in (
        ".github/workflows/dns-reconciler.yml",
        ".gitlab-ci.yml",
        ".pre-commit-config.yaml",
    ):
        assert path in tracked


# --- the CI shell, run for real -----------------------------------------------------------------


@dataclass
class Api:
    """A stand-in for the comment endpoints of GitHub's and GitLab's REST APIs."""

    url: str
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def bodies(self, marker: str = PLAN_MARKER) -> list[str]:
        return [c["body"] for c in self.comments if c["body"].startswith(marker)]


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _reply(self, data: object, status: int = 200) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _allowed(self) -> bool:
            github = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            if github or self.headers.get("PRIVATE-TOKEN") == TOKEN:
                return True
            self._reply({"message": "Bad credentials"}, 401)
            return False

        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            state.calls.append(f"GET {self.path}")
            if self._allowed() and urlparse(self.path).path == "/api/v4/user":
                self._reply({"id": BOT["id"], "username": "project_42_bot"})
            elif self._allowed():
                query = parse_qs(urlparse(self.path).query)
                size, page = int(query["per_page"][0]), int(query["page"][0])
                self._reply(state.comments[(page - 1) * size : page * size])

        def _body(self) -> str:
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))["body"]

        def do_POST(self) -> None:  # noqa: N802
            state.calls.append(f"POST {self.path}")
            if self._allowed():
                comment = {"id": 1000 + len(state.comments), "body": self._body()}
                comment.update({"user": BOT, "author": BOT})
                state.comments.append(comment)
                self._reply(comment, 201)

        def _update(self) -> None:
            state.calls.append(f"{self.command} {self.path}")
            if self._allowed():
                wanted = int(urlparse(self.path).path.rsplit("/", 1)[1])
                comment = next(c for c in state.comments if c["id"] == wanted)
                comment["body"] = self._body()
                self._reply(comment)

        do_PATCH = _update  # noqa: N815
        do_PUT = _update  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    # Someone quoted an old plan, and many others commented: the plan comment is on page 2.
    human = {"user": PERSON, "author": PERSON}
    state.comments += [{"id": 1, "body": f"{PLAN_MARKER} quoted by a person", **human}]
    state.comments += [{"id": 2 + i, "body": f"comment {i}", **human} for i in range(120)]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PullRequest:
    """A clone with `main` on its origin and a branch that changes example.org."""

    clone: Path
    repo: git.Repo

    def push(self, text: str, message: str) -> str:
        (self.clone / ZONE).write_text(text)
        self.repo.git.add(A=True)
        self.repo.git.commit("-q", "-m", message)
        return self.repo.head.commit.hexsha


@pytest.fixture
def pull_request(zone_repo: ZoneRepo, tmp_path: Path) -> PullRequest:
    zone_repo.write(ZONE, GOOD_ZONE)
    zone_repo.commit("add example.org")
    origin = tmp_path / "origin.git"
    git.Repo.clone_from(zone_repo.path, origin, bare=True)
    repo = git.Repo.clone_from(origin, tmp_path / "clone")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test Operator")
        config.set_value("user", "email", "operator@example.com")
    zone_repo.write(ZONE, GOOD_ZONE + "late IN A 192.0.2.99\n")
    zone_repo.commit("main moves on after the branch was made")
    repo.git.fetch("-q", "origin")  # origin/main is now past the merge base
    repo.git.checkout("-q", "-b", "change")
    return PullRequest(tmp_path / "clone", repo)


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a step's shell as the runners do: bash, errexit, pipefail."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_github_steps_post_one_comment_and_update_it(
    pull_request: PullRequest, api: Api, tmp_path: Path
) -> None:
    steps = _github_steps()
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        "BASE_REF": "main",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": "owner/zones",
        "GITHUB_TOKEN": TOKEN,
        "PR_NUMBER": "7",
    }
    names = ["Check", "Plan", "Post or update the plan comment"]
    for text, message, exit_code in (
        (GOOD_ZONE + "ftp IN A 192.0.2.21\n", "add ftp", "0"),
        (GOOD_ZONE + "ftp IN A 192.0.2.22\n", "move ftp", "0"),
        (GOOD_ZONE.replace("@       IN NS  ns2\n", ""), "drop ns2", "3"),
    ):
        pull_request.push(text, message)
        output.write_text("")
        for name in names:
            run = _bash(steps[name]["run"], pull_request.clone, env)
            assert run.returncode == 0, f"{name}: {run.stdout}{run.stderr}"
        assert output.read_text() == f"exit={exit_code}\n"
        verdict = steps["Verdict (exit 1 invalid, 3 unsafe)"]["run"]
        assert _bash(verdict, pull_request.clone, {"PLAN_EXIT": exit_code}).returncode == int(
            exit_code
        )
    (body,) = api.bodies()[1:]  # one plan comment, besides the person's quote
    assert body == (pull_request.clone / "plan.md").read_text()
    assert "`ns2.example.org.`" in body and "Reconciler-Allow: unsafe" in body
    assert "late.example.org." not in body  # planned from the merge base, not from main
    assert api.comments[0]["body"] == f"{PLAN_MARKER} quoted by a person"
    writes = [c.split("?")[0] for c in api.calls if not c.startswith("GET")]
    assert writes == [
        "POST /repos/owner/zones/issues/7/comments",
        "PATCH /repos/owner/zones/issues/comments/1121",
        "PATCH /repos/owner/zones/issues/comments/1121",
    ]
    assert summary.read_text().count(PLAN_MARKER) == 3


def test_gitlab_script_posts_one_note_and_updates_it(pull_request: PullRequest, api: Api) -> None:
    script = "\n".join(_load(GITLAB)["dns-reconciler"]["script"])
    merge_base = pull_request.repo.git.merge_base("origin/main", "HEAD")
    env = {
        "CI_API_V4_URL": f"{api.url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": merge_base,
        "RECONCILER_GITLAB_TOKEN": TOKEN,
    }
    head = pull_request.push(GOOD_ZONE + "ftp IN A 192.0.2.21\n", "add ftp")
    run = _bash(script, pull_request.clone, {**env, "CI_COMMIT_SHA": head})
    assert run.returncode == 0, run.stdout + run.stderr
    head = pull_request.push(GOOD_ZONE + "www IN CNAME mail\n", "break it")
    run = _bash(script, pull_request.clone, {**env, "CI_COMMIT_SHA": head})
    assert run.returncode == 1, run.stdout + run.stderr  # check fails after the note is posted
    assert "updated the plan note 1121" in run.stdout
    (body,) = api.bodies()[1:]
    assert "### dns-reconciler plan ❌ invalid" in body and "CNAME and other data" in body
    writes = [c.split("?")[0] for c in api.calls if not c.startswith("GET")]
    assert writes == [
        "POST /api/v4/projects/42/merge_requests/7/notes",
        "PUT /api/v4/projects/42/merge_requests/7/notes/1121",
    ]
    run = _bash(
        script, pull_request.clone, {**env, "CI_COMMIT_SHA": head, "RECONCILER_GITLAB_TOKEN": ""}
    )
    assert "RECONCILER_GITLAB_TOKEN is not set" in run.stdout
    assert len(api.bodies()) == 2


def test_markdown_plan_of_one_zone_has_the_overview_and_counts_the_others(
    zone_repo: ZoneRepo,
) -> None:
    # Issue 10, item 6: with one zone file changed, the others were not counted as unchanged
    # (only the changed files are checked) and the overview was left out.
    base = _increment(zone_repo)
    zone_repo.write(ZONE, GOOD_ZONE.replace("192.0.2.80", "192.0.2.81"))
    code, markdown = _markdown(zone_repo, base, "move www of example.org")
    assert code == 0, markdown
    lines = markdown.splitlines()
    assert "`<base>` → `<head>`: 1 zone(s) changed, 2 unchanged" in lines
    assert "| `example.org` | change | 1 → 2 | 0 | 0 | 1 | 9 → 9 |" in lines
    text = zone_repo.run("plan", "--base", base, "--head", "HEAD").out
    assert "unchanged: 2 zone(s)" in text.splitlines()
