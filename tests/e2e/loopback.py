"""The threaded loopback server scaffold shared by the e2e fixture servers.

A :class:`LoopbackServer` listens on an ephemeral port of 127.0.0.1 (by
default), accepts in a thread of its own and hands every connection, with a
socket timeout of ``io_timeout`` seconds, to :meth:`handle_connection` in a
thread per connection. With a ``lifetime`` the whole server stops by itself
after that many seconds (a timer calls :meth:`_expire`) even if nobody calls
:meth:`stop`. Use as a context manager::

    class Echo(LoopbackServer):
        def handle_connection(self, sock):
            ...

    with Echo(lifetime=60) as srv:
        port = srv.port

Subclasses: noncompliant.py, variants.py, hostile.py. Only the standard
library is used.
"""

import socket
import threading


class LoopbackServer:
    """Listener, lifetime, accept loop, a thread per connection, stop."""

    def __init__(self, lifetime=None, io_timeout=15, backlog=16, host="127.0.0.1",
                 family=socket.AF_INET, join_timeout=None):
        self.io_timeout = io_timeout
        # How long stop() waits for each connection thread.
        self.join_timeout = io_timeout + 1 if join_timeout is None else join_timeout
        self.connections = 0  # accepted so far
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(backlog)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._timer = None
        if lifetime is not None:
            self._timer = threading.Timer(lifetime, self._expire)
            self._timer.daemon = True

    # -- hooks --
    def handle_connection(self, sock):
        """Serve one accepted connection (in its own thread); close it."""
        raise NotImplementedError

    def _expire(self):
        """The lifetime is over (or stop() was called): stop accepting."""
        self._stop.set()

    def _serving(self):
        """Whether the accept loop goes on."""
        return not self._stop.is_set()

    # -- life cycle --
    def start(self):
        self._thread.start()
        if self._timer is not None:
            self._timer.start()
        return self

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
        self._expire()
        self._thread.join(5)
        for t in list(self._threads):
            t.join(self.join_timeout)
        self.listener.close()

    def serve_by_hand(self):
        """For a script's main(): start, print the port, serve until
        interrupted or the lifetime ends, stop."""
        self.start()
        print(self.port, flush=True)
        try:
            self._thread.join()
        except KeyboardInterrupt:
            pass
        self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _serve(self):
        while self._serving():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            sock.settimeout(self.io_timeout)
            t = threading.Thread(target=self.handle_connection, args=(sock,), daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()
