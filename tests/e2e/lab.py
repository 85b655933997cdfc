"""Session-scoped pytest fixture for the local lab of real mail servers.

Usage from a conftest.py or a test module::

    from lab import lab          # noqa: F401  (makes the fixture visible)

    def test_something(lab):
        imaplib.IMAP4_SSL(lab.host, lab.imaps_port, ssl_context=lab.ssl_context())

The fixture runs ``scripts/lab start DIR`` in a fresh temporary directory
(Dovecot + Postfix on 127.0.0.1, see ``scripts/lab --help``), yields a
:class:`Lab` describing it, and runs ``scripts/lab stop DIR`` at the end of
the session.  Environment knobs:

``MAILSPEC_LAB_DIR``        use the lab already running in this directory
                            (started by hand with ``scripts/lab start``); it
                            is neither restarted nor stopped.
``MAILSPEC_LAB_PORT_BASE``  port base for the lab this fixture starts
                            (default: 14000, or the first free alternative).
``MAILSPEC_LAB_KEEP=1``     keep the temporary directory (logs) afterwards.

Only the standard library (plus pytest) is used.
"""

import os
import shlex
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

import pytest

from scriptlab import ScriptedServer, free_base, run_script

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAB_SCRIPT = os.path.join(REPO_ROOT, "scripts", "lab")

# Port offsets from MAILSPEC_LAB_PORT_BASE, as in scripts/lab.
PORT_OFFSETS = (143, 993, 110, 995, 25, 587, 465)
CANDIDATE_BASES = (14000, 20000, 26000, 32000, 38000, 44000)


@dataclass
class Lab(ScriptedServer):
    """What the tests need to talk to the lab."""

    dir: str
    host: str
    imap_port: int
    imaps_port: int
    pop3_port: int
    pop3s_port: int
    smtp_port: int
    submission_port: int
    smtps_port: int
    cafile: str
    user: str
    password: str
    user2: str
    password2: str
    user3: str = "carol"
    password3: str = "carol-secret"
    domain: str = "localhost"
    seed_count: int = 4
    env: dict = field(default_factory=dict, repr=False)

    @property
    def address(self):
        return "%s@%s" % (self.user, self.domain)

    @property
    def address2(self):
        return "%s@%s" % (self.user2, self.domain)

    @property
    def address3(self):
        """The scratch user's: for runs that delete and deliver at random."""
        return "%s@%s" % (self.user3, self.domain)

    def log_files(self):
        return ("dovecot.log", "lda.log", "postfix.log")


def _run(args, env=None, timeout=60):
    return run_script(args, env=env, timeout=timeout)


def parse_env(text):
    """Parse the ``export NAME=value`` lines printed by ``scripts/lab env``."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        name, _, value = line[len("export "):].partition("=")
        parts = shlex.split(value) if value else [""]
        env[name] = parts[0] if parts else ""
    return env


def lab_from_env(env):
    def port(name):
        return int(env["MAILSPEC_LAB_%s_PORT" % name])

    return Lab(
        dir=env["MAILSPEC_LAB_DIR"],
        host=env.get("MAILSPEC_LAB_HOST", "127.0.0.1"),
        imap_port=port("IMAP"),
        imaps_port=port("IMAPS"),
        pop3_port=port("POP3"),
        pop3s_port=port("POP3S"),
        smtp_port=port("SMTP"),
        submission_port=port("SUBMISSION"),
        smtps_port=port("SMTPS"),
        cafile=env["MAILSPEC_LAB_CAFILE"],
        user=env["MAILSPEC_LAB_USER"],
        password=env["MAILSPEC_LAB_PASSWORD"],
        user2=env.get("MAILSPEC_LAB_USER2", "bob"),
        password2=env.get("MAILSPEC_LAB_PASSWORD2", "bob-secret"),
        user3=env.get("MAILSPEC_LAB_USER3", "carol"),
        password3=env.get("MAILSPEC_LAB_PASSWORD3", "carol-secret"),
        domain=env.get("MAILSPEC_LAB_DOMAIN", "localhost"),
        seed_count=int(env.get("MAILSPEC_LAB_SEED_COUNT", "4")),
        env=env,
    )


def _pick_port_base():
    if os.environ.get("MAILSPEC_LAB_PORT_BASE"):
        return os.environ["MAILSPEC_LAB_PORT_BASE"]
    return free_base("127.0.0.1", PORT_OFFSETS, CANDIDATE_BASES)


def lab_env(directory):
    res = _run([LAB_SCRIPT, "env", directory])
    if res.returncode != 0:
        raise RuntimeError("scripts/lab env failed:\n" + res.stdout.decode(errors="replace"))
    return parse_env(res.stdout.decode())


def start_lab(directory=None):
    """Start a lab in DIRECTORY (a new temp dir if None); return a Lab."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix="mailspec-lab-", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSPEC_LAB_")}
    for key in ("MAILSPEC_LAB_START_TIMEOUT",):
        if key in os.environ:
            env[key] = os.environ[key]
    env["MAILSPEC_LAB_PORT_BASE"] = _pick_port_base()
    res = _run([LAB_SCRIPT, "start", directory], env=env, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(
            "scripts/lab start %s failed (rc=%d):\n%s"
            % (directory, res.returncode, res.stdout.decode(errors="replace"))
        )
    return lab_from_env(lab_env(directory))


def stop_lab(directory):
    res = _run([LAB_SCRIPT, "stop", directory], timeout=120)
    if res.returncode != 0:
        raise RuntimeError("scripts/lab stop failed:\n" + res.stdout.decode(errors="replace"))


# One lab per process, shared even if the fixture is imported into several
# modules (e.g. conftest.py and a test module): reference-counted.
_lock = threading.Lock()
_state = {"lab": None, "users": 0, "owned": False, "tmp": False}


def _acquire():
    with _lock:
        if _state["lab"] is None:
            external = os.environ.get("MAILSPEC_LAB_DIR")
            if external:
                status = _run([LAB_SCRIPT, "status", external])
                if status.returncode != 0:
                    raise RuntimeError(
                        "MAILSPEC_LAB_DIR=%s is set but no lab runs there:\n%s"
                        % (external, status.stdout.decode(errors="replace"))
                    )
                _state.update(lab=lab_from_env(lab_env(external)), owned=False, tmp=False)
            else:
                if os.geteuid() != 0:
                    pytest.skip("the mail lab needs root (Postfix and Dovecot run as their own instances)")
                _state.update(lab=start_lab(), owned=True, tmp=True)
        _state["users"] += 1
        return _state["lab"]


def _release():
    with _lock:
        _state["users"] -= 1
        if _state["users"] > 0 or _state["lab"] is None:
            return
        lab_obj, owned, tmp = _state["lab"], _state["owned"], _state["tmp"]
        _state.update(lab=None, owned=False, tmp=False)
    if owned:
        stop_lab(lab_obj.dir)
        if tmp and os.environ.get("MAILSPEC_LAB_KEEP") != "1":
            shutil.rmtree(lab_obj.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def lab():
    """A running lab of real servers (Dovecot + Postfix) for the session."""
    lab_obj = _acquire()
    try:
        yield lab_obj
    finally:
        _release()
