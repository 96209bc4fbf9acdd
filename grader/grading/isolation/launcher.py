"""The grading kernel's launcher: how nbgrader's kernel gets into the sandbox.

nbgrader starts kernels through jupyter_client, from a kernelspec. The course installs one
(:func:`install_kernelspec`) whose command is ``python -m grader.grading.isolation.launcher
kernel LAUNCH_JSON CONNECTION_FILE``. The launch file holds the sandbox policy of the student
being graded (see :func:`grader.grading.isolation.sandbox.sandbox_policy`) and, for a warm
kernel, the socket of the worker's zygote (grader.grading.isolation.warmkernel).

This module must stay import-light: it runs before ipykernel, once per notebook.
"""
import json
import os
import sys

from grader.grading.isolation import sandbox
from grader.grading.isolation.warmkernel import run_forked_kernel
from grader.quiet import redirect_fds

KERNEL_NAME = "gan-sandbox"
MODULE = "grader.grading.isolation.launcher"  # what the kernelspec runs with python -m


def install_kernelspec(jupyter_path, launch_file):
    """Write a kernelspec that starts ipykernel through :func:`launch_kernel`."""
    folder = os.path.join(jupyter_path, "kernels", KERNEL_NAME)
    os.makedirs(folder, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", MODULE, "kernel", str(launch_file), "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
    }
    with open(os.path.join(folder, "kernel.json"), "w") as handle:
        json.dump(kernel, handle)
    return KERNEL_NAME


def write_launch_file(path, policy, zygote_socket=None):
    """What the next kernel started through the kernelspec runs under."""
    with open(path, "w") as handle:
        json.dump({"policy": policy, "zygote": zygote_socket}, handle, indent=1, sort_keys=True)


def launch_kernel(launch_file, connection_file):
    """Entry point of the kernelspec: copy the connection file where the student can read it,
    enter the sandbox, and become ipykernel (same pid, so interrupts and kills still reach it)."""
    with open(launch_file) as handle:
        launch = json.load(handle)
    policy = launch["policy"]
    home = policy["env"]["HOME"]
    private_connection = os.path.join(home, ".kernel-connection.json")
    with open(connection_file, "rb") as source, open(private_connection, "wb") as target:
        target.write(source.read())
    if policy.get("uid") is not None:
        os.chown(private_connection, policy["uid"], policy["gid"])
    if launch.get("zygote"):  # a warm kernel, forked from a process with TensorFlow imported
        request = {"connection_file": private_connection, "cwd": os.getcwd(),
                   "env": dict(os.environ), "policy": policy}
        code = run_forked_kernel(launch["zygote"], request)
        if code is not None:
            sys.exit(code)
    sandbox.enter(policy)
    redirect_fds([1, 2])  # ipykernel's own start-up chatter
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", private_connection])


def main(argv):
    if len(argv) == 3 and argv[0] == "kernel":
        launch_kernel(argv[1], argv[2])
    else:
        sys.exit(f"usage: python -m {MODULE} kernel LAUNCH_JSON CONNECTION_FILE")


if __name__ == "__main__":
    main(sys.argv[1:])
