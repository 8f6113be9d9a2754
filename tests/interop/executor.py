"""A pymesos executor run by our agent as a custom executor (see
scheduler.py): each task goes TASK_RUNNING, sends a framework message, then
TASK_FINISHED with `done: <task data>`."""

import logging
import sys
import time

from addict import Dict
from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data

logging.basicConfig(level=logging.INFO, format="executor.py %(levelname)s %(message)s")


class Interop(Executor):
    def launchTask(self, driver, task):
        def update(state, **extra):
            status = Dict(task_id=task.task_id, state=state, timestamp=time.time(), **extra)
            driver.sendStatusUpdate(status)

        update("TASK_RUNNING")
        driver.sendFrameworkMessage(encode_data(b"hello from pymesos"))
        update("TASK_FINISHED", data=encode_data(b"done: " + decode_data(task.data)))

    def shutdown(self, driver):
        driver.stop()


if __name__ == "__main__":
    driver = MesosExecutorDriver(Interop(), use_addict=True)
    sys.exit(0 if driver.run() == "DRIVER_STOPPED" or True else 1)
