"""Plumbing shared by the fixtures that run real servers through a script
(lab.py: ``scripts/lab``, matrix.py: ``scripts/matrix``): running the
script, choosing a free port base, and the client side of a running server
(a TLS context trusting its CA, the tail of its logs).

Only the standard library is used.
"""

import os
import socket
import ssl
import subprocess


def run_script(args, env=None, timeout=60):
    """Run a scripts/ command without input; stdout and stderr together."""
    return subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        timeout=timeout,
        check=False,
    )


def port_free(host, port):
    """Whether HOST:PORT can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_base(host, offsets, candidates, exclude=()):
    """The first of CANDIDATES (not in EXCLUDE) whose ports base + each of
    OFFSETS are all free on HOST, as a string; the first candidate if none is
    (the script then reports the busy ports)."""
    for base in candidates:
        if base not in exclude and all(port_free(host, base + off) for off in offsets):
            return str(base)
    return str(candidates[0])


class ScriptedServer:
    """Mixin for the dataclasses describing a running server: needs
    ``self.cafile``, ``self.dir`` and :meth:`log_files` (paths relative to
    ``self.dir``)."""

    def log_files(self):
        return ()

    def ssl_context(self):
        """A client context that trusts only the server's CA (hostname checked)."""
        ctx = ssl.create_default_context(cafile=self.cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def log_tail(self, lines=40):
        out = []
        for rel in self.log_files():
            path = os.path.join(self.dir, rel)
            try:
                with open(path, "rb") as f:
                    data = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            out.append("---- %s ----" % path)
            out.extend(data[-lines:])
        return "\n".join(out)
