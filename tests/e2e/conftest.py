"""Shared pytest fixtures for the end-to-end tests.

MAILSPEC (set by `make e2e`) is the binary under test.
"""
import json
import os
import subprocess

import pytest

from lab import lab  # noqa: F401  (session-scoped fixture: the local Dovecot/Postfix lab)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAILSPEC = os.environ.get("MAILSPEC", os.path.join(ROOT, "build", "mailspec"))


@pytest.fixture(scope="session")
def mailspec():
    """Path of the mailspec binary (built by `make`)."""
    assert os.access(MAILSPEC, os.X_OK), f"{MAILSPEC} not built: run make"
    return MAILSPEC


class Parsed:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode("utf-8")
        self.stderr = proc.stderr.decode("utf-8", "replace")

    @property
    def messages(self):
        """The JSON objects printed by `mailspec parse`, one per line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line]

    @property
    def valid(self):
        return [m for m in self.messages if m["valid"]]

    @property
    def errors(self):
        return [m for m in self.messages if not m["valid"]]


def run_mailspec(args, data=None, timeout=60):
    """Run mailspec with args, feeding data (bytes) on stdin; returns Parsed."""
    proc = subprocess.run([MAILSPEC] + list(args), input=data, capture_output=True,
                          timeout=timeout)
    return Parsed(proc)


@pytest.fixture
def parse():
    """parse(proto, kind, data_bytes, *options) -> Parsed (stdin input)."""
    def _parse(proto, kind, data, *options):
        return run_mailspec(["parse", proto, kind, *options], data)
    return _parse


def verdict_exit(tests):
    """The exit status docs/certify.md "Verdict" gives for tests, a list of
    (level, result): 1 a MUST test failed; 6 (incomplete) no test of any
    level ran (pass or fail), a MUST test was blocked, or fewer than half of
    the MUST tests that apply (all but not-supported) ran; else 0. (Harness
    errors and interruptions, 2, are not modelled.)"""
    must = [res for level, res in tests if level == "MUST"]
    ran_any = sum(res in ("pass", "fail") for _, res in tests)
    ran = sum(res in ("pass", "fail") for res in must)
    applicable = sum(res != "not-supported" for res in must)
    if "fail" in must:
        return 1
    if ran_any == 0 or "blocked" in must or 2 * ran < applicable:
        return 6
    return 0
