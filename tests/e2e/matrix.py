"""Session-scoped pytest fixtures for the matrix of real mail servers.

``scripts/matrix`` runs, next to the Dovecot + Postfix lab of ``scripts/lab``:

``cyrus``            Cyrus IMAP/POP3 3.6 (IMAP+STARTTLS, IMAPS, POP3+STLS, POP3S)
``exim``             Exim 4.96 (SMTP, submission, smtps)
``dovecot-tlsonly``  Dovecot on 127.0.0.2 refusing cleartext login before TLS

Usage from a test module (or a conftest.py)::

    from matrix import matrix_fixture

    cyrus = matrix_fixture("cyrus")

    def test_something(cyrus):
        imaplib.IMAP4_SSL(cyrus.host, cyrus.imaps_port, ssl_context=cyrus.ssl_context())

Each fixture runs ``scripts/matrix start DIR SERVER`` in a fresh temporary
directory the first time it is used, yields a :class:`MatrixServer`, and runs
``scripts/matrix stop DIR`` at the end of the session (shared, reference
counted, if several modules use the same server).  Environment knobs:

``MAILSPEC_MATRIX_PORT_BASE``  port base for the servers this module starts
                               (default: the first of 45000, 47000, ... whose
                               ports are free); see ``scripts/matrix --help``.
``MAILSPEC_MATRIX_KEEP=1``     keep the temporary directories (configs, logs)
                               and print where they are.
``MAILSPEC_MATRIX_DIR``        use the servers already running in this
                               directory (``scripts/matrix start DIR ...`` by
                               hand): neither started nor stopped here.

Only the standard library (plus pytest) is used.
"""

import os
import shlex
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field

import pytest

from scriptlab import ScriptedServer, free_base, run_script

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MATRIX_SCRIPT = os.path.join(REPO_ROOT, "scripts", "matrix")

SERVERS = ("cyrus", "exim", "dovecot-tlsonly")
TRANSPORTS = ("imap", "imaps", "pop3", "pop3s", "smtp", "submission", "smtps")

# (host, port offsets from MAILSPEC_MATRIX_PORT_BASE), as in scripts/matrix.
LAYOUT = {
    "cyrus": ("127.0.0.1", (143, 993, 110, 995)),
    "exim": ("127.0.0.1", (25, 587, 465)),
    "dovecot-tlsonly": ("127.0.0.2", (1143, 1993, 1110, 1995)),
}
CANDIDATE_BASES = (45000, 47000, 49000, 51000, 53000, 55000, 57000, 59000)

# Logs worth showing when something fails, per server (relative to DIR).
LOGS = {
    "cyrus": ("cyrus/cyrus.log", "cyrus/master.log"),
    "exim": ("exim/log/mainlog", "exim/log/rejectlog", "exim/log/paniclog"),
    "dovecot-tlsonly": ("dovecot-tlsonly/dovecot.log",),
}


@dataclass
class MatrixServer(ScriptedServer):
    """One running server of the matrix: where it listens, who may log in."""

    name: str
    dir: str
    host: str
    cafile: str
    user: str
    password: str
    imap_port: int = None
    imaps_port: int = None
    pop3_port: int = None
    pop3s_port: int = None
    smtp_port: int = None
    submission_port: int = None
    smtps_port: int = None
    seed_count: int = 0
    env: dict = field(default_factory=dict, repr=False)

    def port(self, transport):
        """The port of a transport ('imap', 'smtps', ...), or None."""
        return getattr(self, transport + "_port")

    @property
    def transports(self):
        """The transports this server offers, in TRANSPORTS order."""
        return [t for t in TRANSPORTS if self.port(t)]

    def log_files(self):
        return LOGS.get(self.name, ())


def _run(args, env=None, timeout=120):
    return run_script(args, env=env, timeout=timeout)


def parse_env(text):
    """Parse DIR/env (NAME=value lines, values possibly single-quoted)."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        name, sep, value = line.partition("=")
        if not sep:
            continue
        parts = shlex.split(value) if value else [""]
        env[name] = parts[0] if parts else ""
    return env


def read_env(directory):
    with open(os.path.join(directory, "env"), encoding="utf-8") as f:
        return parse_env(f.read())


def server_from_env(name, env):
    """A MatrixServer for NAME from the variables of DIR/env."""
    key = "MAILSPEC_MATRIX_%s_" % name.upper().replace("-", "_")
    if key + "HOST" not in env:
        raise RuntimeError("%s is not running in %s (MAILSPEC_MATRIX_SERVERS=%r)"
                           % (name, env.get("MAILSPEC_MATRIX_DIR"),
                              env.get("MAILSPEC_MATRIX_SERVERS")))
    ports = {}
    for t in TRANSPORTS:
        v = env.get(key + t.upper() + "_PORT")
        ports[t + "_port"] = int(v) if v else None
    return MatrixServer(
        name=name,
        dir=env["MAILSPEC_MATRIX_DIR"],
        host=env[key + "HOST"],
        cafile=env["MAILSPEC_MATRIX_CAFILE"],
        user=env[key + "USER"],
        password=env[key + "PASSWORD"],
        seed_count=int(env.get(key + "SEED_COUNT", "0")),
        env=env,
        **ports,
    )


def free_port_base(name, exclude=()):
    """The first candidate base whose ports for NAME are all free."""
    host, offsets = LAYOUT[name]
    return free_base(host, offsets, CANDIDATE_BASES, exclude)


def pick_port_base(name):
    return os.environ.get("MAILSPEC_MATRIX_PORT_BASE") or free_port_base(name)


def start_server(name, directory=None, port_base=None):
    """Start NAME in DIRECTORY (a new temp dir if None); return a MatrixServer."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix="mailspec-matrix-%s-" % name, dir="/tmp")
    env = dict(os.environ)
    env.pop("MAILSPEC_MATRIX_DIR", None)
    env["MAILSPEC_MATRIX_PORT_BASE"] = str(port_base or pick_port_base(name))
    res = _run([MATRIX_SCRIPT, "start", directory, name], env=env, timeout=300)
    if res.returncode != 0:
        if os.environ.get("MAILSPEC_MATRIX_KEEP") != "1":
            _run([MATRIX_SCRIPT, "stop", directory])
            shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(
            "scripts/matrix start %s %s failed (rc=%d):\n%s"
            % (directory, name, res.returncode, res.stdout.decode(errors="replace"))
        )
    return server_from_env(name, read_env(directory))


def stop_server(directory):
    res = _run([MATRIX_SCRIPT, "stop", directory])
    if res.returncode != 0:
        raise RuntimeError("scripts/matrix stop failed:\n" + res.stdout.decode(errors="replace"))


_lock = threading.Lock()
_state = {}  # name -> {"server", "users", "owned"}


def _acquire(name):
    with _lock:
        st = _state.get(name)
        if st is None:
            external = os.environ.get("MAILSPEC_MATRIX_DIR")
            if external:
                st = {"server": server_from_env(name, read_env(external)), "users": 0,
                      "owned": False}
            else:
                if os.geteuid() != 0:
                    pytest.skip("the mail server matrix needs root")
                st = {"server": start_server(name), "users": 0, "owned": True}
            _state[name] = st
        st["users"] += 1
        return st["server"]


def _release(name):
    with _lock:
        st = _state[name]
        st["users"] -= 1
        if st["users"] > 0:
            return
        del _state[name]
    if st["owned"]:
        srv = st["server"]
        stop_server(srv.dir)
        if os.environ.get("MAILSPEC_MATRIX_KEEP") == "1":
            sys.stderr.write("\nmatrix: kept %s (%s)\n" % (srv.dir, name))
        else:
            shutil.rmtree(srv.dir, ignore_errors=True)


def matrix_fixture(name):
    """A session-scoped fixture that runs matrix server NAME for the session."""
    if name not in SERVERS:
        raise ValueError("unknown matrix server %r (one of %s)" % (name, ", ".join(SERVERS)))

    @pytest.fixture(scope="session")
    def _server():
        srv = _acquire(name)
        try:
            yield srv
        finally:
            _release(name)

    _server.__doc__ = "The %s server of scripts/matrix, running for the session." % name
    return _server
