//! Agent recovery: an agent restarted (gracefully, and after `kill -9`)
//! with `--recover=reconnect` re-adopts the executors of a framework that
//! checkpoints; their tasks keep running, and every status update reaches
//! the scheduler exactly once, in order.

mod common;

use common::{
    WAIT, collect_until, command_task, default_executor, framework, offer, reached, states,
};
use mesos_agent::{Agent, AgentConfig};
use mesos_master::{Master, MasterConfig};
use mesos_proto::media::MediaType;
use mesos_proto::v1::{
    AgentId, CommandInfo, ExecutorId, ExecutorInfo, TaskState, TaskStatus, task_status,
};
use mesos_testkit::RawScheduler;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const MESOS: &str = env!("CARGO_BIN_EXE_mesos");

/// The agent under test: in this process, or the `mesos agent` binary.
enum AgentUnderTest {
    InProcess(Agent),
    Process(std::process::Child),
    Down,
}

struct Setup {
    master: Master,
    work_dir: tempfile::TempDir,
    port: u16,
    agent: AgentUnderTest,
    /// Adjusts an in-process agent's settings.
    configure: fn(&mut AgentConfig),
}

impl Setup {
    async fn new(as_process: bool) -> Setup {
        Setup::with(as_process, |_| {}).await
    }

    async fn with(as_process: bool, configure: fn(&mut AgentConfig)) -> Setup {
        let master = Master::start(MasterConfig {
            port: 0,
            allocation_interval: Duration::from_millis(50),
            ..Default::default()
        })
        .await
        .unwrap();
        let work_dir = tempfile::tempdir().unwrap();
        // A port for the agent's whole life: executors find a restarted
        // agent where the old one was.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut setup = Setup {
            master,
            work_dir,
            port,
            agent: AgentUnderTest::Down,
            configure,
        };
        setup.start(as_process).await;
        setup
    }

    async fn start(&mut self, as_process: bool) {
        self.agent = if as_process {
            let child = std::process::Command::new(MESOS)
                .arg("agent")
                .arg(format!("--master={}", self.master.addr()))
                .arg(format!("--work_dir={}", self.work_dir.path().display()))
                .arg("--ip=127.0.0.1")
                .arg(format!("--port={}", self.port))
                .arg("--resources=cpus:2;mem:512;disk:1024;ports:[31000-31100]")
                .arg("--executor_shutdown_grace_period=2secs")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            AgentUnderTest::Process(child)
        } else {
            let mut config = mesos_testkit::agent_config(self.master.addr(), self.work_dir.path());
            config.port = self.port;
            config.launcher = Some(MESOS.into());
            (self.configure)(&mut config);
            AgentUnderTest::InProcess(Agent::start(config).await.unwrap())
        };
    }

    /// Stops the agent without touching its executors.
    async fn crash(&mut self) {
        match std::mem::replace(&mut self.agent, AgentUnderTest::Down) {
            AgentUnderTest::InProcess(agent) => agent.halt().await,
            AgentUnderTest::Process(mut child) => {
                // SIGKILL: `kill -9`.
                child.kill().unwrap();
                child.wait().unwrap();
            }
            AgentUnderTest::Down => {}
        }
    }

    /// A metric of the agent's `/metrics/snapshot`.
    async fn metric(&self, name: &str) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics/snapshot", self.port);
        let (status, _, body) = mesos_testkit::TestClient::default()
            .get(&url)
            .await
            .unwrap();
        assert_eq!(status, 200);
        let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
        metrics[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    }

    /// Waits until the framework's acknowledgements reached the agent
    /// (an update whose acknowledgement is lost with a crashed agent is
    /// sent again: at least once, as in Mesos).
    async fn wait_acknowledged(&self) {
        let deadline = std::time::Instant::now() + WAIT;
        while self.metric("slave/status_updates_pending").await > 0.0 {
            assert!(
                std::time::Instant::now() < deadline,
                "acknowledgements never reached the agent"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The agent id the master knows, once one agent is connected.
    async fn agent_id(&self) -> AgentId {
        let url = format!("http://{}/master/slaves", self.master.addr());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let (status, _, body) = mesos_testkit::TestClient::default()
                .get(&url)
                .await
                .unwrap();
            assert_eq!(status, 200);
            let slaves: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let active = slaves["slaves"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["active"] == true)
                .map(|s| s["id"].as_str().unwrap().to_string());
            if let Some(id) = active {
                return AgentId::new(id);
            }
            assert!(std::time::Instant::now() < deadline, "no agent registered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let AgentUnderTest::Process(child) = &mut self.agent {
            // SIGUSR1: shut the executors down, then exit.
            let _ = std::process::Command::new("kill")
                .args(["-USR1", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Waits (bounded) until process `pid` is gone.
async fn wait_dead(pid: u32, what: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while alive(pid) {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn read_pid(sandbox_root: &Path, task: &str) -> u32 {
    // The command writes its pid into its sandbox: find it.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = walk(sandbox_root)
            .into_iter()
            .find(|p| {
                p.ends_with(format!("executors/{task}/runs/latest/pid"))
                    || (p.file_name().is_some_and(|n| n == "pid")
                        && p.to_string_lossy()
                            .contains(&format!("/executors/{task}/runs/")))
            })
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| t.trim().parse().ok());
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pid file for {task}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

async fn survives_a_restart(as_process: bool) {
    let mut setup = Setup::new(as_process).await;
    let mut info = framework(&[]);
    info.checkpoint = Some(true);
    let mut scheduler = RawScheduler::subscribe(setup.master.addr(), info, MediaType::Protobuf)
        .await
        .unwrap();
    let offer = offer(&mut scheduler).await;
    let agent_id = setup.agent_id().await;
    // One task outlives the restart; one ends while the agent is down.
    let long = command_task("long", &offer, "echo $$ > pid; exec sleep 1000");
    let short = command_task("short", &offer, "sleep 2");
    let launch = scheduler.launch_call(&[&offer.id], vec![long, short], None);
    assert_eq!(scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "long", TaskState::TaskRunning)
            && reached(seen, "short", TaskState::TaskRunning)
    })
    .await;
    let pid = read_pid(setup.work_dir.path(), "long");
    assert!(alive(pid));
    setup.wait_acknowledged().await;
    assert_eq!(setup.metric("slave/tasks_running").await, 2.0);

    setup.crash().await;
    // Long enough for `short` to finish with no agent to tell.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(alive(pid), "the task died with its agent");
    setup.start(as_process).await;

    // The replayed TASK_FINISHED arrives; the same agent is back.
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "short", TaskState::TaskFinished)
    })
    .await;
    assert_eq!(setup.agent_id().await, agent_id);
    assert!(alive(pid), "the re-adopted task is still the same process");
    assert_eq!(setup.metric("slave/tasks_finished").await, 1.0);

    // The re-adopted executor still answers for its task.
    let kill = scheduler.kill_call("long", &agent_id);
    assert_eq!(scheduler.call(&kill).await.unwrap().0, 202);
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "long", TaskState::TaskKilled)
    })
    .await;
    wait_dead(pid, "the killed task lives on").await;

    // Nothing more (no resent duplicate) within a few resend intervals.
    let late = scheduler.drain(Duration::from_secs(3)).await;
    assert!(
        late.iter().all(|e| e.update.is_none()),
        "updates after the end: {late:?}"
    );
    assert_eq!(
        states(&seen["short"]),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    assert_eq!(
        states(&seen["long"]),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilled
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_a_graceful_agent_restart() {
    survives_a_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_kill_9_of_the_agent() {
    survives_a_restart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_a_framework_that_does_not_checkpoint_are_lost_with_the_agent() {
    let mut setup = Setup::new(false).await;
    // No checkpoint: the executor ends with the agent.
    let mut scheduler =
        RawScheduler::subscribe(setup.master.addr(), framework(&[]), MediaType::Protobuf)
            .await
            .unwrap();
    let offer = offer(&mut scheduler).await;
    let task = command_task("gone", &offer, "echo $$ > pid; exec sleep 1000");
    let launch = scheduler.launch_call(&[&offer.id], vec![task], None);
    assert_eq!(scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "gone", TaskState::TaskRunning)
    })
    .await;
    let pid = read_pid(setup.work_dir.path(), "gone");
    setup.wait_acknowledged().await;
    setup.crash().await;
    // The executor kills its task and exits when it loses the agent.
    wait_dead(pid, "the task outlived its executor").await;
    setup.start(false).await;
    // The agent comes back without the task: the master says it is lost.
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "gone", TaskState::TaskLost)
    })
    .await;
    let lost = seen["gone"].last().unwrap();
    assert_eq!(
        lost.reason,
        Some(task_status::Reason::AgentRestarted as i32)
    );
    assert_eq!(lost.source, Some(task_status::Source::Master as i32));
}

/// A custom executor that never subscribes: its process just sleeps.
fn silent_executor(id: &str) -> ExecutorInfo {
    ExecutorInfo {
        executor_id: ExecutorId::new(id),
        command: Some(CommandInfo {
            value: Some("echo $$ > pid; exec sleep 1000".into()),
            ..Default::default()
        }),
        resources: "cpus:0.1;mem:32"
            .parse::<mesos_proto::resources::Resources>()
            .unwrap()
            .into_vec(),
        ..Default::default()
    }
}

/// Launches a task on a silent executor for a checkpointing framework,
/// restarts the agent (doing `while_down` meanwhile) and returns the
/// task's terminal update.
async fn silent_executor_across_a_restart(
    configure: fn(&mut AgentConfig),
    while_down: fn(u32),
) -> (TaskStatus, u32) {
    let mut setup = Setup::with(false, configure).await;
    let mut info = framework(&[]);
    info.checkpoint = Some(true);
    let mut scheduler = RawScheduler::subscribe(setup.master.addr(), info, MediaType::Protobuf)
        .await
        .unwrap();
    let offer = offer(&mut scheduler).await;
    let mut task = command_task("quiet", &offer, "true");
    task.command = None;
    task.executor = Some(silent_executor("quiet-executor"));
    let launch = scheduler.launch_call(&[&offer.id], vec![task], None);
    assert_eq!(scheduler.call(&launch).await.unwrap().0, 202);
    let pid = read_pid(setup.work_dir.path(), "quiet-executor");
    setup.crash().await;
    while_down(pid);
    setup.start(false).await;
    let mut seen = BTreeMap::new();
    collect_until(&mut scheduler, &mut seen, |seen| {
        seen.get("quiet")
            .is_some_and(|u| u.iter().any(common::terminal))
    })
    .await;
    (seen["quiet"].last().unwrap().clone(), pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_that_does_not_come_back_in_time_is_killed() {
    let (status, pid) = silent_executor_across_a_restart(
        |config| {
            config.executor_registration_timeout = Duration::from_secs(600);
            config.recovery_timeout = Duration::from_secs(1);
        },
        |_| {},
    )
    .await;
    assert_eq!(status.state, TaskState::TaskFailed as i32);
    assert_eq!(
        status.reason,
        Some(task_status::Reason::ExecutorReregistrationTimeout as i32)
    );
    assert_eq!(
        status.message.as_deref(),
        Some("Executor did not re-register within 1secs")
    );
    wait_dead(pid, "the executor was not killed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_that_died_while_the_agent_was_down_fails_its_tasks() {
    let (status, _) = silent_executor_across_a_restart(
        |config| config.executor_registration_timeout = Duration::from_secs(600),
        |pid| {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            while alive(pid) {
                std::thread::sleep(Duration::from_millis(20));
            }
        },
    )
    .await;
    assert_eq!(status.state, TaskState::TaskFailed as i32);
    assert_eq!(
        status.reason,
        Some(task_status::Reason::ExecutorTerminated as i32)
    );
    assert_eq!(
        status.message.as_deref(),
        Some("Executor terminated while the agent was down")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_in_nested_containers_survives_kill_9_of_the_agent() {
    let mut setup = Setup::new(true).await;
    let mut info = framework(&[]);
    info.checkpoint = Some(true);
    let mut scheduler = RawScheduler::subscribe(setup.master.addr(), info, MediaType::Protobuf)
        .await
        .unwrap();
    let offer = offer(&mut scheduler).await;
    let agent_id = setup.agent_id().await;
    let mut executor = default_executor("group");
    executor.framework_id = Some(scheduler.framework_id().clone());
    let tasks = vec![
        command_task("long", &offer, "echo $$ > pid; exec sleep 1000"),
        command_task("other", &offer, "exec sleep 1000"),
    ];
    let launch = scheduler.launch_group_call(&[&offer.id], executor, tasks);
    assert_eq!(scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "long", TaskState::TaskRunning)
            && reached(seen, "other", TaskState::TaskRunning)
    })
    .await;
    // The task's process, in its nested container's sandbox.
    let pid = read_pid(setup.work_dir.path(), "group");
    setup.wait_acknowledged().await;

    setup.crash().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(alive(pid), "the task died with its agent");
    setup.start(true).await;
    assert_eq!(setup.agent_id().await, agent_id);

    // The re-adopted executor and nested containers still answer: a kill
    // of one task ends the group, each task exactly once.
    let kill = scheduler.kill_call("long", &agent_id);
    assert_eq!(scheduler.call(&kill).await.unwrap().0, 202);
    collect_until(&mut scheduler, &mut seen, |seen| {
        reached(seen, "long", TaskState::TaskKilled)
            && reached(seen, "other", TaskState::TaskKilled)
    })
    .await;
    wait_dead(pid, "the killed task lives on").await;
    for task in ["long", "other"] {
        assert_eq!(
            states(&seen[task]),
            [
                TaskState::TaskStarting,
                TaskState::TaskRunning,
                TaskState::TaskKilled
            ],
            "{task}"
        );
    }
}
