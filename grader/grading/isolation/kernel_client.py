"""The client nbgrader talks to a student's kernel with: jupyter_client's, except that stopping
it never waits on a heartbeat that student code has wedged.

A kernel's code can write into the kernel's own zmq sockets (``os.write`` on every descriptor),
which can leave the heartbeat channel's thread waiting for ever; jupyter_client's ``stop`` then
joins that thread for ever, and the student's grading process with it. Here the join has a
deadline, and the thread (a daemon) is left to die with the process.
"""
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import HBChannel
from traitlets import Type

HEARTBEAT_JOIN_SECONDS = 5


class BoundedHBChannel(HBChannel):
    def stop(self):
        self._running = False
        self._exit.set()
        self.join(timeout=HEARTBEAT_JOIN_SECONDS)
        if not self.is_alive():
            self.close()


class GradingKernelClient(AsyncKernelClient):
    """What ``KernelManager.client_factory`` names in the worker's configuration."""

    hb_channel_class = Type(BoundedHBChannel)
