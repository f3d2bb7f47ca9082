"""The container's entrypoint: set a role's files up, then run and supervise its processes.

    entrypoint.py primary | secondary | knot-secondary | parent | outsider

primary
    On the first start: the TSIG transfer key (/etc/bind/tsig/transfer.key, `tsig-keygen`)
    and the rndc key (/etc/bind/rndc.key, `rndc-confgen`), never in the image and never
    printed; /etc/reconciler/daemon.toml (from deploy/docker/daemon.toml) when none is
    mounted; the bare repo users push to (/srv/git/zones.git) with the reconciler's git
    hooks; an empty catalog zone and include so named can start before the first push.
    At every start: named.conf (deploy/docker/named-primary.conf, with $NAMED_OPTIONS
    inside options { }), then named, then `reconciler run` as the unprivileged user
    `reconciler` of named's group `bind` (it owns the state, the include's folder and the
    bare repo, shared with the group; its JSON log goes to /var/log/reconciler/daemon.log
    and to the container's output). DAEMON_USER=root runs it as root instead: what a
    daemon.toml `[host] mode` of audit or enforce needs.
secondary
    The TSIG key at /etc/bind/transfer.key (or copied from $TSIG_KEY_FROM once it exists)
    and the output of `reconciler bind-config --secondary NAME --format json` at
    /etc/bind/reconciler-secondary.json (or, when $PRIMARY_ADDRESS is set and that file is
    missing, that command run here for a repo naming only the primary and this secondary).
    Its two parts (`top_level`, `options`) go into named.conf
    (deploy/docker/named-secondary.conf); then named.
knot-secondary
    Knot DNS instead of named: the TSIG key as for a secondary, turned into Knot's form at
    /etc/knot/transfer.key.conf by the command bind-config prints, and the knot.conf of
    `reconciler bind-config --secondary NAME --software knot` at
    /etc/knot/reconciler-secondary.conf (or made here, as for a secondary, when
    $PRIMARY_ADDRESS is set), logging to the container's output; then knotd.
parent
    named serving every /srv/parent/NAME.zone as zone NAME (a TLD with delegations); with
    SIGN_ZONES=yes each is signed inline by BIND's default dnssec-policy (a registry's
    signed TLD). SIGHUP to named reloads the files after a DS is added or removed.
resolver
    A validating resolver: named with dnssec-validation, trusting the keys in
    /etc/bind/trust-anchors.conf, reaching zone $PARENT_ZONE (default: test) at
    $PARENT_ADDRESS through a static stub.
outsider
    Nothing runs: a host on the network with dig and Python, for the tests.

health
    The image's HEALTHCHECK: for a primary, the daemon's /healthz answers 200; for a
    secondary, named serves the catalog zone on 127.0.0.1; for a knot-secondary, parent or
    resolver, its server runs; an outsider is always healthy.

Processes that exit are started again after a pause (named and the daemon alike);
SIGTERM stops the daemon first (it finishes a reconcile under way), then named. Run the
container with an init (`docker run --init`, compose `init: true`) to reap orphans.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.bind import probe, tools
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.conf import primary_include
from reconciler.bind.keys import read_key_file
from reconciler.bind.knot import KEY_TO_KNOT
from reconciler.config.host import load_host_config
from reconciler.serve.hooks import install_hooks

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
RECONCILER = str(VENV_BIN / "reconciler")

DAEMON_TOML = Path("/etc/reconciler/daemon.toml")
NAMED_CONF = Path("/etc/bind/named.conf")
RNDC_KEY = Path("/etc/bind/rndc.key")
PRIMARY_TSIG = Path("/etc/bind/tsig/transfer.key")
SECONDARY_TSIG = Path("/etc/bind/transfer.key")
SECONDARY_PIECE = Path("/etc/bind/reconciler-secondary.json")
KNOT_PIECE = Path("/etc/knot/reconciler-secondary.conf")
KNOT_CONF = Path("/etc/knot/knot.conf")
KNOT_KEY = Path("/etc/knot/transfer.key.conf")
PARENT_ZONES = Path("/srv/parent")
DAEMON_LOG = Path("/var/log/reconciler/daemon.log")
DAEMON_PID = Path("/run/reconciler/daemon.pid")
ROLE_FILE = Path("/run/reconciler/role")
# The daemon's user: `reconciler`, made in the Dockerfile (a system user whose group is bind).
# A primary whose daemon audits or enforces host/policy.toml ([host] mode) reads and changes
# sshd, the firewall and fail2ban: that takes root, given as DAEMON_USER=root.
DAEMON_USER = os.environ.get("DAEMON_USER") or "reconciler"
RESTART_PAUSE = 2.0
STOP_GRACE = 60.0
WAIT_FOR_KEY = 300.0


def say(message: str) -> None:
    print(f"entrypoint: {message}", flush=True)


def fail(message: str) -> None:
    print(f"entrypoint: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, say which and its stderr (never its stdout: a key)."""
    done = subprocess.run(argv, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        fail(f"{' '.join(argv[:2])} exited {done.returncode}: {done.stderr.strip()}")
    return done


def bind_gid() -> int:
    return grp.getgrnam("bind").gr_gid


def make_dir(path: Path, mode: int = 0o755, group_bind: bool = False, owner_bind: bool = False):
    path.mkdir(parents=True, exist_ok=True)
    if owner_bind:
        shutil.chown(path, "bind", "bind")
    elif group_bind:
        os.chown(path, 0, bind_gid())
    path.chmod(mode)


def secret_file(path: Path, text: str) -> None:
    """A key file: root:bind 0640, written without ever being readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chown(temp, 0, bind_gid())
    os.chmod(temp, 0o640)
    os.replace(temp, path)


def own(folder: Path) -> None:
    """The daemon's user owns `folder` and what root owns in it (an older image ran the
    daemon as root); named's own files (journals) stay named's. The group stays."""
    for path in (folder, *folder.rglob("*")):
        if not path.is_symlink() and path.lstat().st_uid == 0:
            shutil.chown(path, DAEMON_USER)


def share_repo(repo: Path) -> None:
    """The bare repo is written by whoever pushes (the hooks) and by the daemon (git notes):
    group `bind`, group-writable, new files in the group (core.sharedRepository); git trusts
    it for every user (safe.directory), whoever owns it."""
    run("git", "-C", str(repo), "config", "core.sharedRepository", "group")
    for path in (repo, *repo.rglob("*")):
        if path.is_symlink():
            continue
        shutil.chown(path, DAEMON_USER, "bind")
        mode = path.stat().st_mode
        path.chmod(mode | 0o060 | (0o2010 if path.is_dir() else 0))
    trusted = subprocess.run(
        ["git", "config", "--system", "--get-all", "safe.directory"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if str(repo) not in trusted:
        run("git", "config", "--system", "--add", "safe.directory", str(repo))


def render(template: str, target: Path, **values: str) -> None:
    text = string.Template((HERE / template).read_text()).substitute(values)
    target.write_text(text)
    target.chmod(0o644)


def extra_options() -> str:
    """$NAMED_OPTIONS (statements for options { }, `;`-terminated), one per line."""
    raw = os.environ.get("NAMED_OPTIONS", "").strip()
    return "".join(f"\t{line.strip()}\n" for line in raw.splitlines() if line.strip())


def common_named_setup() -> None:
    make_dir(Path("/var/log/named"), 0o750, owner_bind=True)
    make_dir(Path("/run/named"), 0o775, owner_bind=True)
    make_dir(Path("/var/cache/bind"), 0o775, owner_bind=True)
    shutil.copyfile(HERE / "named-logging.conf", "/etc/bind/named-logging.conf")


def checkconf() -> None:
    """named-checkconf on the written named.conf (its messages scrubbed of key secrets)."""
    complaints = tools.checkconf(NAMED_CONF)
    if complaints:
        fail(f"named-checkconf {NAMED_CONF}: " + "; ".join(complaints))


# --- roles ---------------------------------------------------------------------------------


def setup_primary() -> None:
    common_named_setup()
    key_name = os.environ.get("TSIG_KEY_NAME", "transfer-key")
    if not PRIMARY_TSIG.exists():
        make_dir(PRIMARY_TSIG.parent, 0o750, group_bind=True)
        made = run("tsig-keygen", "-a", "hmac-sha256", key_name)
        secret_file(PRIMARY_TSIG, made.stdout)
        say(f"made the TSIG key '{key_name}' in {PRIMARY_TSIG} (the secret is not shown)")
    if not RNDC_KEY.exists():
        run("rndc-confgen", "-a", "-k", "rndc-key", "-c", str(RNDC_KEY))
        os.chown(RNDC_KEY, 0, bind_gid())
        RNDC_KEY.chmod(0o640)
        say(f"made the rndc key in {RNDC_KEY}")
    if not DAEMON_TOML.exists():
        DAEMON_TOML.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / "daemon.toml", DAEMON_TOML)
        say(f"wrote {DAEMON_TOML} from the image's default")

    host = load_host_config(DAEMON_TOML)
    make_dir(host.zone_dir, 0o775, group_bind=True)  # named writes journals beside the zones
    make_dir(host.include_file.parent, 0o755)
    make_dir(host.state_dir, 0o750)
    for folder in (host.zone_dir, host.include_file.parent, host.state_dir):
        own(folder)  # the daemon's, also what an older image left as root's on the volume
    if DAEMON_USER != "root":
        home = Path(pwd.getpwnam(DAEMON_USER).pw_dir)  # its check cache: ~/.cache
        make_dir(home, 0o755, group_bind=True)
        shutil.chown(home, DAEMON_USER, "bind")
    if not host.include_file.exists():  # named starts before the first push: an empty catalog
        catalog = host.zone_dir / f"{CATALOG}.zone"
        write_atomic(catalog, catalog_zone_text([], 1))
        include = primary_include(
            {}, [], key_name, catalog, host.transfer_key_file if host.include_key else None
        )
        write_atomic(host.include_file, include)
        say(f"wrote an empty catalog zone and {host.include_file}")
    if not host.repo.exists():
        run(
            "git",
            "init",
            "-q",
            "--bare",
            "--shared=group",
            "--initial-branch",
            host.branch,
            str(host.repo),
        )
        install_hooks(host.repo, RECONCILER, DAEMON_TOML, host.branch)
        say(f"made the bare repo {host.repo} with the reconciler's git hooks")
    share_repo(host.repo)
    render(
        "named-primary.conf",
        NAMED_CONF,
        extra_options=extra_options(),
        include_file=str(host.include_file),
    )
    checkconf()


def secondary_piece() -> dict[str, str]:
    """What `reconciler bind-config --secondary NAME --format json` printed (made here if
    need be): its `top_level` statements and its `options` lines."""
    if not SECONDARY_PIECE.exists():
        SECONDARY_PIECE.write_text(made_piece())
    try:
        piece = json.loads(SECONDARY_PIECE.read_text())
        return {"top_level": str(piece["top_level"]), "options": str(piece["options"])}
    except (ValueError, KeyError, TypeError) as exc:
        fail(
            f"{SECONDARY_PIECE} is not what `reconciler bind-config --secondary NAME "
            f"--format json` prints: {type(exc).__name__}: {exc}"
        )
        raise  # fail() exits


def made_piece() -> str:
    """`reconciler bind-config --format json` for a repo naming the primary and this one."""
    primary = os.environ.get("PRIMARY_ADDRESS")
    if not primary:
        fail(
            f"{SECONDARY_PIECE} is missing: put there what `reconciler bind-config "
            "--secondary NAME --format json` prints on the primary, or set PRIMARY_ADDRESS"
        )
    name = os.environ.get("SECONDARY_NAME") or os.uname().nodename
    made = bind_config(primary, name, "127.0.0.1", "--format", "json")
    say(f"wrote {SECONDARY_PIECE} with `reconciler bind-config --secondary {name} --format json`")
    return made


def bind_config(primary: str, name: str, listen: str, *options: str) -> str:
    """What `reconciler bind-config --secondary NAME OPTIONS` prints for a repo naming the
    primary (from the environment) and this secondary at `listen`."""
    key_name = read_key_file(SECONDARY_TSIG).name
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "reconciler.toml").write_text(
            f'[primary]\nname = "{os.environ.get("PRIMARY_NAME", "primary")}"\n'
            f'address = "{primary}"\nport = {int(os.environ.get("PRIMARY_PORT", "53"))}\n\n'
            f'[[secondary]]\nname = "{name}"\naddress = "{listen}"\n\n'
            f'[transfer]\ntsig_key = "{key_name}"\n'
        )
        run("git", "init", "-q", folder)
        made = run(RECONCILER, "-C", folder, "bind-config", "--secondary", name, *options)
    return made.stdout


def setup_secondary() -> None:
    common_named_setup()
    copy_transfer_key()
    os.chown(SECONDARY_TSIG, 0, bind_gid())
    SECONDARY_TSIG.chmod(0o640)
    piece = secondary_piece()
    make_dir(Path("/var/cache/bind/catalog"), 0o775, owner_bind=True)
    render(
        "named-secondary.conf",
        NAMED_CONF,
        extra_options=extra_options(),
        options=piece["options"].rstrip() + "\n",
        top_level=piece["top_level"].strip() + "\n",
    )
    checkconf()


def copy_transfer_key() -> None:
    """The primary's TSIG key at SECONDARY_TSIG (copied from $TSIG_KEY_FROM once it exists)."""
    source = os.environ.get("TSIG_KEY_FROM")
    if not SECONDARY_TSIG.exists() and source:
        say(f"waiting for the primary's TSIG key at {source} ...")
        end = time.monotonic() + WAIT_FOR_KEY
        while not Path(source).exists():
            if time.monotonic() > end:
                fail(f"{source} did not appear in {WAIT_FOR_KEY:.0f} s")
            time.sleep(1)
        secret_file(SECONDARY_TSIG, Path(source).read_text())
        say(f"copied the TSIG key to {SECONDARY_TSIG}")
    if not SECONDARY_TSIG.exists():
        fail(f"{SECONDARY_TSIG} is missing: copy the primary's transfer key there")


def knot_piece() -> str:
    """What `reconciler bind-config --secondary NAME --software knot` printed (made here if
    need be, listening on every address of the container)."""
    if KNOT_PIECE.exists():
        return KNOT_PIECE.read_text()
    primary = os.environ.get("PRIMARY_ADDRESS")
    if not primary:
        fail(
            f"{KNOT_PIECE} is missing: put there what `reconciler bind-config --secondary NAME "
            "--software knot` prints on the primary, or set PRIMARY_ADDRESS"
        )
    name = os.environ.get("SECONDARY_NAME") or os.uname().nodename
    made = bind_config(primary, name, "0.0.0.0", "--software", "knot")
    KNOT_PIECE.write_text(made)
    say(f"wrote {KNOT_PIECE} with `reconciler bind-config --secondary {name} --software knot`")
    return made


def setup_knot_secondary() -> None:
    copy_transfer_key()
    KNOT_KEY.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(KNOT_KEY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as handle:  # the command bind-config prints, as an operator runs it
        made = subprocess.run(
            ["sh", "-c", f"{KEY_TO_KNOT} {SECONDARY_TSIG}"], stdout=handle, check=False
        )
    if made.returncode != 0:
        fail(f"could not write {KNOT_KEY} from {SECONDARY_TSIG}")
    os.chown(KNOT_KEY, 0, grp.getgrnam("knot").gr_gid)
    text = knot_piece().replace('target: "syslog"', 'target: "stderr"')  # the container's log
    write_atomic(KNOT_CONF, text)
    knot = grp.getgrnam("knot").gr_gid
    for folder in (Path("/run/knot"), Path("/var/lib/knot")):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, 0, knot)
        folder.chmod(0o770)
    checked = subprocess.run(
        ["knotc", "-c", str(KNOT_CONF), "conf-check"], capture_output=True, text=True
    )
    if checked.returncode != 0:
        fail(f"knotc conf-check {KNOT_CONF}: {(checked.stdout + checked.stderr).strip()}")


def setup_parent() -> None:
    common_named_setup()
    zones = []
    signing = ""
    if os.environ.get("SIGN_ZONES") == "yes":  # named writes NAME.zone.signed beside the file
        make_dir(PARENT_ZONES, 0o755, owner_bind=True)
        signing = (
            '\tdnssec-policy default;\n\tinline-signing yes;\n\tkey-directory "/var/cache/bind";\n'
        )
    for file in sorted(PARENT_ZONES.glob("*.zone")):
        name = file.name.removesuffix(".zone")
        zones.append(f'zone "{name}" {{\n\ttype primary;\n\tfile "{file}";\n{signing}}};')
    if not zones:
        fail(f"no zone files in {PARENT_ZONES} (NAME.zone for zone NAME)")
    render("named-parent.conf", NAMED_CONF, extra_options=extra_options(), zones="\n".join(zones))
    checkconf()


# --- supervision ---------------------------------------------------------------------------


class Child:
    """One supervised process: started again after a pause whenever it exits."""

    def __init__(
        self, name: str, argv: list[str], log: Path | None = None, user: str | None = None
    ) -> None:
        self.name, self.argv, self.log, self.user = name, argv, log, user
        self.process: subprocess.Popen[bytes] | None = None
        self.restart_at = 0.0
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        as_user: dict[str, object] = {}
        if self.user is not None:  # its own user, with only that user's groups (bind)
            account = pwd.getpwnam(self.user)
            as_user = {
                "user": account.pw_uid,
                "group": account.pw_gid,
                "extra_groups": os.getgrouplist(self.user, account.pw_gid),
                "env": {**os.environ, "HOME": account.pw_dir, "USER": self.user},
            }
        if self.log is None:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, **as_user)
        else:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **as_user,
            )
            threading.Thread(target=self._tee, args=(self.process,), daemon=True).start()
        if self.name == "daemon":
            DAEMON_PID.parent.mkdir(parents=True, exist_ok=True)
            DAEMON_PID.write_text(f"{self.process.pid}\n")
        say(f"started {self.name} (pid {self.process.pid}, start {self.starts})")

    def _tee(self, process: subprocess.Popen[bytes]) -> None:
        """The daemon's JSON log: appended to its file and copied to the container's output."""
        assert process.stderr is not None and self.log is not None
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab", buffering=0) as file:
            for line in process.stderr:
                file.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()

    def check(self) -> None:
        """Start it again when it has exited and the pause is over."""
        if self.process is None:
            if time.monotonic() >= self.restart_at:
                self.start()
            return
        code = self.process.poll()
        if code is not None:
            say(f"{self.name} exited (status {code}); starting it again in {RESTART_PAUSE:g} s")
            self.process = None
            self.restart_at = time.monotonic() + RESTART_PAUSE

    def stop(self, grace: float) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        say(f"stopped {self.name} (status {process.returncode})")


def setup_resolver() -> None:
    common_named_setup()
    anchors = Path("/etc/bind/trust-anchors.conf")
    if not anchors.exists():
        fail(f"{anchors} is missing: trust-anchors {{ ... }}; for the parent zone's key")
    address = os.environ.get("PARENT_ADDRESS", "")
    if not address:
        fail("PARENT_ADDRESS is not set: the parent zone's server")
    render(
        "named-resolver.conf",
        NAMED_CONF,
        extra_options=extra_options(),
        parent_zone=os.environ.get("PARENT_ZONE", "test"),
        parent_address=address,
    )
    checkconf()


def wait_for_named(limit: float = 60.0) -> None:
    end = time.monotonic() + limit
    while probe.soa_serial("127.0.0.1", 53, CATALOG, timeout=0.5) is None:
        if time.monotonic() > end:
            say(f"named does not serve {CATALOG} after {limit:g} s; starting the daemon")
            return
        time.sleep(0.2)


def supervise(children: list[Child]) -> None:
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        say(f"signal {signum}: stopping")
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    for index, child in enumerate(children):
        child.start()
        if index == 0 and len(children) > 1:
            wait_for_named()
    while not stopping.wait(0.2):
        for child in children:
            child.check()
    for child in reversed(children):  # the daemon first: it finishes a reconcile under way
        child.stop(STOP_GRACE if child.name == "daemon" else 20.0)


def health() -> int:
    """The HEALTHCHECK: 0 healthy, 1 not (with the reason on stdout, which docker keeps)."""
    role = ROLE_FILE.read_text().strip() if ROLE_FILE.exists() else "starting"
    if role == "outsider":
        return 0
    if role == "primary":
        listen = load_host_config(DAEMON_TOML).http_listen
        port = listen.rpartition(":")[2]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as got:
                print(got.read().decode(errors="replace").strip())
                return 0
        except urllib.error.HTTPError as exc:
            print(f"/healthz {exc.code}: {exc.read().decode(errors='replace').strip()}")
        except OSError as exc:
            print(f"/healthz does not answer: {exc}")
        return 1
    if role == "secondary":  # the catalog transferred from the primary: it can follow
        if probe.soa_serial("127.0.0.1", 53, CATALOG, timeout=2.0) is not None:
            print(f"named serves {CATALOG}")
            return 0
        print(f"named does not serve {CATALOG} on 127.0.0.1")
        return 1
    server = {"parent": "named", "resolver": "named", "knot-secondary": "knotd"}.get(role)
    if server is not None:
        running = subprocess.run(["pgrep", "-x", server], capture_output=True).returncode == 0
        print(f"{server} runs" if running else f"{server} does not run")
        return 0 if running else 1
    print(f"role {role}: not started yet")
    return 1


def main(argv: list[str]) -> None:
    role = argv[1] if len(argv) > 1 else "primary"
    if role == "health":
        sys.exit(health())
    if role in ("primary", "secondary", "knot-secondary", "parent", "resolver", "outsider"):
        ROLE_FILE.parent.mkdir(parents=True, exist_ok=True)
        ROLE_FILE.write_text(f"{role}\n")
    named = Child("named", ["named", "-f", "-u", "bind", "-c", str(NAMED_CONF)])
    if role == "primary":
        setup_primary()
        mode = load_host_config(DAEMON_TOML).host.mode
        if mode != "off" and DAEMON_USER != "root":
            say(
                f'[host] mode = "{mode}" reads and changes the host (sshd, nftables): the '
                f"daemon runs as {DAEMON_USER} and cannot; set DAEMON_USER=root for that"
            )
        daemon = Child(
            "daemon",
            [RECONCILER, "run", "--config", str(DAEMON_TOML)],
            DAEMON_LOG,
            user=None if DAEMON_USER == "root" else DAEMON_USER,
        )
        supervise([named, daemon])
    elif role == "secondary":
        setup_secondary()
        supervise([named])
    elif role == "knot-secondary":
        setup_knot_secondary()
        supervise([Child("knotd", ["knotd", "-c", str(KNOT_CONF)], Path("/var/log/knot/knot.log"))])
    elif role == "parent":
        setup_parent()
        supervise([named])
    elif role == "resolver":
        setup_resolver()
        supervise([named])
    elif role == "outsider":
        supervise([])
    else:
        fail(
            f"unknown role {role!r}: primary, secondary, knot-secondary, parent, resolver "
            "or outsider"
        )


if __name__ == "__main__":
    main(sys.argv)
