"""The student's zygote: the one process in a student's sandbox that imports TensorFlow.

The grading process of each student starts one zygote inside that student's sandbox
(grader.grading.isolation.sandbox). It imports NumPy, TensorFlow, ipykernel and
``grader.checks`` once, without starting a thread, and then forks, on request:

* ``kernel``: an nbgrader kernel, an ordinary ipykernel whose modules are already imported
  (``cold``: a fresh ``python -m ipykernel_launcher`` instead, for comparison);
* ``builder``: a child that runs one notebook's answer cells and then calls the student's
  functions for the trusted checker (grader.grading.isolation.builder), over the connection,
  which the zygote then closes on its side.

Requests arrive on a Unix socket that the grading process created outside the sandbox and
passed in as a file descriptor: student code has no path to it. The zygote never runs student
code, is not dumpable (processes of the same uid cannot ptrace it or read its memory), and
each fork starts from its state. The connection of a request is the child's lifeline: the
zygote answers ``{"accepted": true}`` before it forks, later ``{"exit": ...}``, and kills the child if the requester
hangs up. A kernel keeps its own copy of the connection, so its launcher waits for the kernel
even if student code kills the zygote.
"""
import json
import os
import select
import signal
import socket
import sys

from grader.grading.isolation import sandbox
from grader.quiet import redirect_fds

PR_SET_DUMPABLE = 4


def preload():
    """Everything a notebook's first cell imports, imported here once (no threads started)."""
    from grader.grading.isolation.preload import import_trusted_modules
    from grader.quiet import quiet

    import_trusted_modules()  # NumPy, grader.tf1 (TensorFlow), grader.checks, TF's lazy attributes
    with quiet():
        import ipykernel.ipkernel  # noqa: F401
        import ipykernel.kernelapp  # noqa: F401


def not_dumpable():
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def become_child(connection, listener, others, wakeup):
    """In a forked child: drop the zygote's sockets but the request's own, own session, default
    signals, and first in line when the student's memory cap is hit (the zygote last)."""
    signal.set_wakeup_fd(-1)
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass
    for fd in wakeup:
        os.close(fd)
    listener.close()
    for other in others:
        if other is not connection:
            other.close()
    os.setsid()
    for signum in (signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def start_kernel(request, connection, cold):
    """In the forked child: become the kernel described by ``request``."""
    os.environ.update(request.get("env", {}))
    os.chdir(request["workdir"])
    redirect_fds([0, 1, 2])
    argv = ["-f", request["connection_file"], "--HistoryManager.enabled=False"]
    if cold:
        os.set_inheritable(connection.fileno(), True)
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    sys.path[0] = request["workdir"]  # like `python -m ipykernel_launcher` started in that folder
    sys.argv = ["ipykernel_launcher", *argv]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


def start_builder(request, connection):
    """In the forked child: serve the trusted checker's calls (grader.grading.isolation.builder)."""
    from grader.grading.isolation.builder import serve as serve_checker

    os.chdir(request["workdir"])
    redirect_fds([0, 1, 2])
    serve_checker(connection, int(request["timeout"]))


def serve(listener_fd, cold=False):
    """Fork a child per request; report its exit; kill it when its requester hangs up."""
    listener = socket.socket(fileno=listener_fd)
    os.set_inheritable(listener_fd, False)
    preload()
    sandbox.apply_limits()
    not_dumpable()
    os.umask(0o077)
    wakeup = child_exit_wakeup()
    print("ready", flush=True)
    children = {}  # connection -> child pid
    parent = os.getppid()
    while os.getppid() == parent:  # outside a sandbox: stop when the grading process is gone
        readable, _, _ = select.select([listener, wakeup[0], *children], [], [], 0.2)
        for ready in readable:
            if ready == wakeup[0]:
                os.read(wakeup[0], 4096)  # a child exited: reaped below
            elif ready is listener:
                connection, _ = listener.accept()
                try:
                    request = json.loads(connection.makefile().readline())
                except ValueError:
                    connection.close()
                    continue
                try:  # before the fork: a child's own lines must come after this one
                    connection.sendall(json.dumps({"accepted": True}).encode() + b"\n")
                except OSError:
                    connection.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    try:
                        become_child(connection, listener, list(children), wakeup)
                        if request.get("kind") == "builder":
                            start_builder(request, connection)
                        else:
                            start_kernel(request, connection, cold)
                    finally:
                        os._exit(0)
                if request.get("kind") == "builder":  # the checker talks to the child alone; it ends at hang-up
                    connection.close()
                    continue
                children[connection] = pid
            elif not _receive(ready):  # the requester is gone: so is its child
                sandbox.kill_process_group(children.pop(ready))
                ready.close()
        reap(children)
    for pid in children.values():
        sandbox.kill_process_group(pid)


def child_exit_wakeup():
    """A pipe that becomes readable when a child exits, so its requester hears of it at once."""
    read_end, write_end = os.pipe()
    for fd in (read_end, write_end):
        os.set_blocking(fd, False)
        os.set_inheritable(fd, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a Python handler, so the signal reaches the pipe
    return read_end, write_end


def _receive(connection):
    try:
        return connection.recv(1024)
    except OSError:
        return b""


def reap(children):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        for connection, child in list(children.items()):
            if child == pid:
                try:
                    connection.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                except OSError:
                    pass
                connection.close()
                del children[connection]


def request(socket_path, message, timeout=None):
    """Connect to a zygote and send ``message``: (connection, True) once the zygote has accepted
    it (before it forks), or None when the zygote cannot be reached."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(socket_path)
        connection.sendall(json.dumps(message).encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = connection.recv(1)
            if not chunk:
                raise OSError("the zygote closed the connection")
            reply += chunk
    except OSError:
        connection.close()
        return None
    connection.settimeout(None)
    try:
        return connection, bool(json.loads(reply)["accepted"])
    except (ValueError, KeyError, TypeError) as error:
        connection.close()
        raise RuntimeError(f"the zygote answered {reply[:100]!r} instead of accepting the request") from error


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), cold=sys.argv[3] == "cold")
    else:
        sys.exit("usage: python -m grader.grading.isolation.zygote serve LISTENER_FD warm|cold")
