"""Warm kernels: fork each grading kernel from a process that has already imported TensorFlow.

Importing TensorFlow takes seconds of CPU and happens in every notebook's first cell, so it
dominates grading time. A per-worker *zygote* imports ipykernel, NumPy, TensorFlow (through
``grader.tf1``) and ``grader.checks`` once, without creating any thread, socket or event
loop, then forks one kernel per notebook. The forked kernel is an ordinary ipykernel: the
same modules, the same sandbox (``sandbox.enter``: own uid, hidden paths, limits),
the notebook's own working folder and environment. Only the import is shared; nothing a
student's code does can reach the zygote or another kernel, and each fork starts from the
zygote's state, which never ran student code.

jupyter_client still sees a normal kernel process: the kernelspec's launcher
(grader.grading.isolation.launcher) asks the zygote for a fork, forwards interrupts
and termination to it, and exits with its status; if the launcher is killed, the zygote
kills the kernel. If the zygote is not available, the launcher starts a cold kernel instead.
"""
import json
import os
import select
import signal
import socket
import sys

from grader.grading.isolation import sandbox
from grader.quiet import redirect_fds

MODULE = "grader.grading.isolation.warmkernel"  # what the zygote runs with python -m


def preload():
    """Everything a notebook's first cell imports, imported here once (no threads started)."""
    from grader.grading.isolation.preload import import_trusted_modules
    from grader.quiet import quiet

    import_trusted_modules()  # NumPy, grader.tf1 (TensorFlow), grader.checks, TF's lazy attributes
    with quiet():
        import ipykernel.ipkernel  # noqa: F401
        import ipykernel.kernelapp  # noqa: F401


def start_kernel(request, listener, clients):
    """In the forked child: become the sandboxed kernel described by ``request``."""
    listener.close()
    for client in clients:
        client.close()
    os.setsid()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    zygote_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(request["env"])
    # TensorFlow reads these lazily, e.g. tf.layers checks TF_USE_LEGACY_KERAS on first use.
    os.environ.update({k: v for k, v in zygote_env.items() if k.startswith("TF_")})
    sandbox.enter(request["policy"])
    os.chdir(request["cwd"])
    sys.path[0] = request["cwd"]  # like `python -m ipykernel_launcher` started in that folder
    redirect_fds([0, 1, 2])
    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=sys.argv[1:])


def serve(socket_path):
    """Fork a kernel for each launcher that connects; report its exit; kill it if the launcher goes."""
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(16)
    print("ready", flush=True)
    kernels = {}  # client socket -> kernel pid
    parent = os.getppid()
    while os.getppid() == parent:  # the grading worker is gone: stop, with all kernels
        readable, _, _ = select.select([listener, *kernels], [], [], 0.2)
        for ready in readable:
            if ready is listener:
                client, _ = listener.accept()
                request = json.loads(client.makefile().readline())
                pid = os.fork()
                if pid == 0:
                    try:
                        start_kernel(request, listener, list(kernels) + [client])
                    finally:
                        os._exit(0)
                client.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                kernels[client] = pid
            elif not ready.recv(1024):  # the launcher is gone: so is its kernel
                sandbox.kill_process_group(kernels.pop(ready))
                ready.close()
        reap(kernels)
    for pid in kernels.values():
        sandbox.kill_process_group(pid)


def reap(kernels):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        for client, kernel in list(kernels.items()):
            if kernel == pid:
                code = os.waitstatus_to_exitcode(status)
                try:
                    client.sendall(json.dumps({"exit": code}).encode() + b"\n")
                except OSError:
                    pass
                client.close()
                del kernels[client]


def run_forked_kernel(socket_path, request):
    """In the launcher: get a kernel from the zygote and stand in for it until it exits.

    Returns the kernel's exit code, or None if the zygote cannot be reached.
    """
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(socket_path)
    except OSError:
        return None
    client.sendall(json.dumps(request).encode() + b"\n")
    replies = client.makefile()
    pid = json.loads(replies.readline())["pid"]

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    while True:
        try:
            line = replies.readline()
            break
        except InterruptedError:
            continue
    if not line:
        return 1
    code = json.loads(line)["exit"]
    return code if code >= 0 else 128 - code


class Zygote:
    """The zygote as a subprocess of a grading worker."""

    def __init__(self, socket_path, log_path=os.devnull):
        import subprocess

        self.socket_path = str(socket_path)
        self.log = open(log_path, "ab")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, "serve", self.socket_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)

    def wait_ready(self):
        """True once the zygote listens; False (and it is stopped) if it failed to start."""
        if self.process.stdout.readline().strip() == "ready":
            return True
        self.close()
        return False

    @property
    def pid(self):
        return self.process.pid

    def close(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(f"usage: python -m {MODULE} serve SOCKET_PATH")
