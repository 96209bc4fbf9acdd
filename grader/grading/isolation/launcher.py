"""The grading kernel's launcher: how nbgrader's kernel gets into the student's sandbox.

nbgrader starts kernels through jupyter_client, from a kernelspec. The course installs one
(:func:`install_kernelspec`) whose command is ``python -m grader.grading.isolation.launcher
kernel LAUNCH_JSON CONNECTION_FILE``. The launcher runs outside the sandbox, as a stand-in
for the kernel: it copies the connection file into the student's area, asks the student's
zygote (grader.grading.isolation.zygote) for a kernel, and exits when the kernel does.

* Transport: the kernel's sockets are Unix sockets (jupyter_client's ``ipc`` transport) in the
  student's area, which the sandbox sees under another path; the launcher rewrites the path.
  TCP on 127.0.0.1 would not reach a kernel in its own network namespace.
* The launcher runs as root and writes into the student's area, which student code can write:
  the connection file is created without following a symlink (sandbox.open_beneath), so a
  planted ``run/kernel-connection.json -> /some/host/file`` gets nothing written or chowned.
* Interrupts: the kernelspec says ``interrupt_mode: message``, so a cell timeout interrupts
  the cell through the control channel; signals could not cross into the sandbox's PID
  namespace.

This module must stay import-light: it runs once per notebook.
"""
import json
import os
import signal
import sys

from grader.grading.isolation import sandbox, zygote

KERNEL_NAME = "gan-sandbox"
MODULE = "grader.grading.isolation.launcher"  # what the kernelspec runs with python -m
FORWARDED_ENV = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "CI")  # what notebooks may read


def install_kernelspec(jupyter_path, launch_file):
    """Write a kernelspec that starts ipykernel through :func:`launch_kernel`."""
    folder = os.path.join(jupyter_path, "kernels", KERNEL_NAME)
    os.makedirs(folder, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", MODULE, "kernel", str(launch_file), "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "message",
    }
    with open(os.path.join(folder, "kernel.json"), "w") as handle:
        json.dump(kernel, handle)
    return KERNEL_NAME


def write_launch_file(path, student_sandbox):
    """What the next kernel started through the kernelspec runs in (a StudentSandbox)."""
    launch = {"zygote": student_sandbox.socket_path, "area": student_sandbox.area,
              "area_inside": student_sandbox.inside(student_sandbox.area),
              "workdir": student_sandbox.inside(student_sandbox.workdir), "uid": student_sandbox.uid}
    with open(path, "w") as handle:
        json.dump(launch, handle, indent=1, sort_keys=True)


def write_connection(area, connection, uid):
    """``area/run/kernel-connection.json``, a new file owned by ``uid``; no symlink is followed."""
    with sandbox.open_beneath(area, ["run", "kernel-connection.json"], 0o600, uid=uid) as handle:
        handle.write(json.dumps(connection).encode())


def launch_kernel(launch_file, connection_file):
    """Entry point of the kernelspec: get a kernel from the zygote and stand in for it."""
    with open(launch_file) as handle:
        launch = json.load(handle)
    with open(connection_file) as handle:
        connection = json.load(handle)
    area, inside = launch["area"], launch["area_inside"]
    if connection.get("transport") == "ipc" and connection["ip"].startswith(area):
        connection["ip"] = inside + connection["ip"][len(area):]
    private = os.path.join(area, "run", "kernel-connection.json")
    write_connection(area, connection, launch.get("uid"))
    request = {"kind": "kernel", "connection_file": inside + private[len(area):], "workdir": launch["workdir"],
               "env": {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}}
    reply = zygote.request(launch["zygote"], request, timeout=120)
    if reply is None:
        sys.exit("the student's sandbox is not running (its zygote cannot be reached)")
    kernel, _ = reply
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, lambda *_: os._exit(1))  # hanging up makes the zygote kill the kernel
    code = 1
    for line in kernel.makefile():  # ends when the kernel and the zygote have both closed it
        try:
            code = int(json.loads(line).get("exit", code))
        except (ValueError, TypeError, AttributeError):  # student code shares this socket
            pass
    sys.exit(code if code >= 0 else 128 - code)


def main(argv):
    if len(argv) == 3 and argv[0] == "kernel":
        launch_kernel(argv[1], argv[2])
    else:
        sys.exit(f"usage: python -m {MODULE} kernel LAUNCH_JSON CONNECTION_FILE")


if __name__ == "__main__":
    main(sys.argv[1:])
