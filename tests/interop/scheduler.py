"""A pymesos scheduler run against our master by cli/tests/interop.rs.

    python scheduler.py MASTER command N
        launches N command tasks (`echo interop-<i>`), exits 0 when all finished
    python scheduler.py MASTER executor EXECUTOR_COMMAND
        launches one task on a pymesos custom executor (executor.py), expects
        its framework message and TASK_FINISHED, exits 0

Anything else (a failed task, an error, 60 s without finishing) exits non-zero.
Third-party code: our master adapts to it, never the reverse.
"""

import logging
import sys
import threading
import uuid

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler, decode_data, encode_data

logging.basicConfig(level=logging.INFO, format="scheduler.py %(levelname)s %(message)s")
log = logging.getLogger("interop")

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR",
            "TASK_LOST", "TASK_DROPPED", "TASK_GONE"}


def scalar(offer, name):
    return sum(r.scalar.value for r in offer.resources if r.name == name)


class Interop(Scheduler):
    def __init__(self, mode, count, executor_command):
        self.mode = mode
        self.count = count
        self.executor_command = executor_command
        self.launched = 0
        self.finished = set()
        self.messages = []
        self.failure = None
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        log.info("registered as %s with master %s", framework_id.value, master_info.id)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            tasks = []
            cpus, mem = scalar(offer, "cpus"), scalar(offer, "mem")
            while self.launched < self.count and cpus >= 0.1 and mem >= 32:
                self.launched += 1
                cpus -= 0.1
                mem -= 32
                task = Dict()
                task.task_id.value = "interop-%d-%s" % (self.launched, uuid.uuid4().hex[:8])
                task.agent_id.value = offer.agent_id.value
                task.name = "interop-%d" % self.launched
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                if self.mode == "command":
                    task.command.value = "echo interop-%d" % self.launched
                else:
                    task.executor.executor_id.value = "pymesos-executor"
                    task.executor.framework_id.value = driver.framework_id
                    task.executor.name = "pymesos executor"
                    task.executor.command.value = self.executor_command
                    task.executor.resources = [
                        dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                        dict(name="mem", type="SCALAR", scalar={"value": 64}),
                    ]
                    task.data = encode_data(b"payload")
                tasks.append(task)
            if tasks:
                log.info("launching %d task(s) on %s", len(tasks), offer.hostname)
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id, Dict(refuse_seconds=3600))

    def statusUpdate(self, driver, update):
        log.info("task %s is %s %s", update.task_id.value, update.state, update.message or "")
        if update.state == "TASK_FINISHED":
            self.finished.add(update.task_id.value)
            if self.mode == "executor" and decode_data(update.data) != b"done: payload":
                self.fail("unexpected TASK_FINISHED data %r" % update.data)
        elif update.state in TERMINAL:
            self.fail("task %s ended %s: %s" % (update.task_id.value, update.state, update.message))
        self.check()

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        log.info("message from %s: %r", executor_id.value, decode_data(message))
        self.messages.append(decode_data(message))
        self.check()

    def error(self, driver, message):
        self.fail("error: %s" % message)

    def fail(self, why):
        self.failure = why
        self.done.set()

    def check(self):
        if len(self.finished) < self.count:
            return
        if self.mode == "executor" and b"hello from pymesos" not in self.messages:
            return
        self.done.set()


def main():
    master, mode = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if mode == "command" else 1
    executor_command = sys.argv[3] if mode == "executor" else None
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos interop (%s)" % mode
    framework.hostname = "localhost"
    scheduler = Interop(mode, count, executor_command)
    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=True)
    driver.start()
    finished = scheduler.done.wait(60)
    driver.stop()
    driver.join()
    if not finished:
        print("timed out: finished %d of %d" % (len(scheduler.finished), count))
        return 2
    if scheduler.failure:
        print("FAILED: " + scheduler.failure)
        return 1
    print("finished %d" % len(scheduler.finished))
    return 0


if __name__ == "__main__":
    sys.exit(main())
