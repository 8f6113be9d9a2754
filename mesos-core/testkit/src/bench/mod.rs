//! `mesos-bench` scenarios: the whole master, through real HTTP on
//! loopback, with simulated agents. `mesos bench <scenario>` runs them and
//! `docs/benchmarks.md` records their results.
//!
//! - [`launch_throughput`]: one framework launches tasks as fast as offers
//!   allow; tasks per second from ACCEPT to TASK_RUNNING, with latency
//!   percentiles.
//! - [`state_at_scale`]: a cluster of many agents and tasks; how long
//!   `/state` takes, how long the master's event loop is held up meanwhile
//!   (a probe keeps asking it), and the process' memory.
//! - [`sleepers`]: many `sleep` tasks on one real agent; time to all
//!   running and to all killed.
//! - [`reregister`]: agents registering again with their tasks, while a
//!   probe watches the event loop.
//! - [`failover`]: masters elected through ZooKeeper; time from the
//!   leader's loss to every agent and framework back with its successor.

mod agent;
mod failover;
mod gone;
mod launcher;
mod reregister;

pub use agent::{SleepersReport, sleepers};
pub use failover::{FailoverReport, failover};
pub use gone::GoneReport;
pub use reregister::{ReregisterReport, reregister};

use launcher::{Launcher, TaskOutcome, launch_all};

use crate::{AgentSpec, Cluster, RawScheduler, TaskScript, TestkitError};
use mesos_master::MasterConfig;
use mesos_proto::media::MediaType;
use mesos_proto::resources::Resources;
use mesos_proto::v1::FrameworkInfo;
use mesos_proto::v1::scheduler::call;
use std::time::{Duration, Instant};

/// What [`launch_throughput`] measured.
#[derive(Debug, Clone)]
pub struct LaunchReport {
    /// Tasks that reached TASK_RUNNING.
    pub tasks: usize,
    /// From the first ACCEPT to the last TASK_RUNNING.
    pub elapsed: Duration,
    /// ACCEPT sent to TASK_RUNNING received, per task: median.
    pub p50: Duration,
    /// The same, 99th percentile.
    pub p99: Duration,
}

impl LaunchReport {
    /// Tasks per second.
    pub fn rate(&self) -> f64 {
        self.tasks as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sockets one simulated agent holds in this process: its event stream and
/// its calls, each seen from both ends.
const FDS_PER_AGENT: u64 = 4;

/// This process' open-files limit, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Refuses, with the fix, a cluster this process cannot open sockets for
/// (instead of hanging when `accept` starts failing).
fn check_open_files(agents: usize, per_agent: u64) -> Result<(), TestkitError> {
    let need = agents as u64 * per_agent + 2048;
    match open_files_limit() {
        Some(limit) if limit < need => Err(TestkitError::Setup(format!(
            "{agents} simulated agents need about {need} open files, the limit is {limit}; \
             raise it (`ulimit -n {need}`, or run under `prlimit --nofile={need}`)"
        ))),
        _ => Ok(()),
    }
}

fn bench_agents(n: usize, resources: &str) -> Vec<AgentSpec> {
    (0..n)
        .map(|i| AgentSpec {
            hostname: format!("bench-{i}"),
            resources: resources.into(),
            attributes: String::new(),
            script: TaskScript::Run,
            // Heartbeats ride this tick: keep thousands of agents quiet.
            retry: Duration::from_secs(30),
        })
        .collect()
}

/// The master a scenario uses: `master` if given (another process;
/// this one holds `fds_per_agent` sockets per agent), else one started
/// here (holding both ends of every socket).
async fn bench_master(
    master: Option<std::net::SocketAddr>,
    agents: usize,
    fds_per_agent: u64,
) -> Result<(Option<Cluster>, std::net::SocketAddr), TestkitError> {
    match master {
        Some(addr) => {
            check_open_files(agents, fds_per_agent)?;
            Ok((None, addr))
        }
        None => {
            check_open_files(agents, FDS_PER_AGENT)?;
            let cluster = Cluster::start(bench_config(), Vec::new()).await?;
            let addr = cluster.addr();
            Ok((Some(cluster), addr))
        }
    }
}

fn bench_config() -> MasterConfig {
    MasterConfig {
        port: 0,
        allocation_interval: Duration::from_millis(100),
        heartbeat_interval: Duration::from_secs(15),
        event_queue: 1 << 20,
        ..Default::default()
    }
}

/// Launches `tasks` tasks of 1 cpu and 128 MB on `agents` agents of
/// `cpus_per_agent` cpus, acknowledging every TASK_RUNNING, and reports the
/// rate and latencies.
///
/// With `master`, the agents and the framework use that master (say a
/// `mesos master` child process, whose CPU time the caller can then
/// measure apart from the simulated agents'); without it, a master starts
/// in this process.
pub async fn launch_throughput(
    agents: usize,
    cpus_per_agent: usize,
    tasks: usize,
    master: Option<std::net::SocketAddr>,
) -> Result<LaunchReport, TestkitError> {
    // Each agent's stream and its calls, client ends only.
    let (in_process, addr) = bench_master(master, agents, 2).await?;
    let resources = format!("cpus:{cpus_per_agent};mem:{}", cpus_per_agent * 256);
    let info = FrameworkInfo {
        user: "bench".into(),
        name: "launch-throughput".into(),
        ..Default::default()
    };
    let mut s = RawScheduler::subscribe(addr, info, MediaType::Protobuf).await?;
    // Each agent has a client (and so a connection) of its own, as real
    // agents do.
    let _agents = start_agents(
        addr,
        bench_agents(agents, &resources),
        crate::TestClient::default,
    )
    .await?;
    let per_task: Resources = "cpus:1;mem:128"
        .parse()
        .map_err(|e| TestkitError::Decode(format!("{e}")))?;
    let mut launcher = Launcher::new(&s, per_task, tasks);
    let deadline = Instant::now() + Duration::from_secs(300);
    while launcher.latencies.len() < tasks {
        if Instant::now() > deadline {
            return Err(TestkitError::Timeout("all tasks running"));
        }
        let Some(event) = s.next_event(Duration::from_secs(10)).await? else {
            return Err(TestkitError::Timeout("an event"));
        };
        let _ = launcher.on_event(&event);
    }
    let elapsed = launcher.first.map_or(Duration::ZERO, |f| f.elapsed());
    let mut latencies = launcher.latencies;
    latencies.sort();
    let report = LaunchReport {
        tasks: latencies.len(),
        elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    };
    if let Some(mut cluster) = in_process {
        cluster.master.halt().await;
    }
    Ok(report)
}

/// Starts simulated agents of `specs` on the master at `addr`, a few
/// hundred at a time, each with the client `client()` gives it.
async fn start_agents(
    addr: std::net::SocketAddr,
    specs: Vec<AgentSpec>,
    client: impl Fn() -> crate::TestClient,
) -> Result<Vec<crate::SimulatedAgent>, TestkitError> {
    let mut started = Vec::with_capacity(specs.len());
    for chunk in specs.chunks(256) {
        let starts: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|spec| {
                let client = client();
                tokio::spawn(
                    async move { crate::SimulatedAgent::start_with(addr, spec, client).await },
                )
            })
            .collect();
        for started_agent in join_all(starts).await {
            started.push(started_agent?);
        }
    }
    Ok(started)
}

/// What [`state_at_scale`] measured.
#[derive(Debug, Clone)]
pub struct StateReport {
    /// Agents in the cluster.
    pub agents: usize,
    /// Tasks running in it.
    pub tasks: usize,
    /// `/state` response times in the order of the rounds. The first
    /// round is cold: it finds nothing the master remembers from an
    /// earlier `/state` (each task's JSON); the later ones are warm.
    pub state_times: Vec<Duration>,
    /// The master's CPU time (all its threads) in each round, where the
    /// caller could tell it: less noisy than the response time on a busy
    /// machine, and the cost of what the master does, not of waiting.
    pub state_cpu: Vec<Duration>,
    /// `/state` body size.
    pub state_bytes: usize,
    /// The longest a probe call (GET_MASTER, answered by the event loop)
    /// waited while `/state` was being served.
    pub max_probe: Duration,
    /// The same probe's longest wait on an idle master, for comparison.
    pub idle_probe: Duration,
    /// Turns of the master's event loop that held it up more than 10 ms
    /// while `/state` was being served (its own count,
    /// `master/event_loop/turns_over_10ms`).
    pub turns_over_10ms: u64,
    /// Of those, the turns whose own work (the loop thread's CPU time)
    /// passed 10 ms; the others waited for a core
    /// (`master/event_loop/turns_over_10ms_on_cpu`).
    pub turns_over_10ms_on_cpu: u64,
    /// Tasks `/state` listed (every launched task once the master is up
    /// to date).
    pub state_tasks: usize,
    /// Agents marked gone after the `/state` rounds.
    pub gone: gone::GoneReport,
    /// The framework's TEARDOWN at the end, with every task left running.
    pub teardown: TeardownReport,
    /// Resident memory of the process before the cluster started and
    /// with it at full size (bytes; 0 where unknown).
    pub rss_before: u64,
    /// See `rss_before`.
    pub rss_after: u64,
}

/// A TEARDOWN of a framework with every task of [`state_at_scale`]'s
/// cluster.
#[derive(Debug, Clone)]
pub struct TeardownReport {
    /// From sending the call to its 202.
    pub answered: Duration,
    /// From sending the call to the master counting no task running.
    pub done: Duration,
    /// From sending the call to the master having done what it left for
    /// later turns: agents told, history written, resources released,
    /// memory freed (`master/event_loop/teardown_pending` and
    /// `reclaim_pending` at 0).
    pub finished: Duration,
    /// The longest a probe call (GET_MASTER) waited from just before the
    /// call to a second after the master finished.
    pub max_probe: Duration,
    /// Event-loop turns past 10 ms in that span.
    pub turns_over_10ms: u64,
    /// Of those, the ones whose own work passed 10 ms.
    pub turns_over_10ms_on_cpu: u64,
}

/// This process' resident set size, from `/proc/self/status`.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

async fn probe_loop(
    addr: std::net::SocketAddr,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Duration {
    let client = crate::TestClient::default();
    let call = mesos_proto::v1::master::Call {
        r#type: Some(mesos_proto::v1::master::call::Type::GetMaster as i32),
        ..Default::default()
    };
    let mut worst = Duration::ZERO;
    while !*stop.borrow() {
        let t = Instant::now();
        let _ = client.operator(addr, &call).await;
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    worst
}

/// Builds a cluster of `agents` agents running `tasks` tasks (spread
/// evenly), then GETs `/state` `rounds` times while a probe measures how
/// long the event loop is held up; then marks `gone` agents gone, one at
/// a time, and tears the framework down.
///
/// With `master`, the agents and the framework use that master (say a
/// `mesos master` child process, so each process holds one end of every
/// socket and the memory measured is the caller's to take); without it,
/// a master starts in this process.
pub async fn state_at_scale(
    agents: usize,
    tasks: usize,
    rounds: usize,
    gone: usize,
    master: Option<std::net::SocketAddr>,
    master_cpu: Option<&(dyn Fn() -> Duration + Sync)>,
) -> Result<StateReport, TestkitError> {
    let rss_before = rss_bytes();
    let per_agent = tasks.div_ceil(agents.max(1)).max(1);
    // Only the client end of each agent's stream (their calls share a
    // few pooled connections).
    let (in_process, addr) = bench_master(master, agents, 1).await?;
    let running = launch_cluster(addr, agents, per_agent, tasks).await?;
    let client = crate::TestClient::default();
    // Every task running as the master sees it, before measuring.
    wait_for_metric(
        &client,
        addr,
        RUNNING,
        |n| n >= tasks as f64,
        "every task running",
    )
    .await?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let idle = tokio::spawn(probe_loop(addr, stop_rx));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let idle_probe = idle.await.unwrap_or_default();

    let watch = LoopWatch::start(&client, addr).await?;
    let mut state_times = Vec::new();
    let mut state_cpu = Vec::new();
    let mut state_bytes = 0;
    let mut state_tasks = 0;
    for _ in 0..rounds {
        let cpu = master_cpu.map(|f| f());
        let t = Instant::now();
        let (status, _, body) = client.get(&format!("http://{addr}/state")).await?;
        state_times.push(t.elapsed());
        if let (Some(f), Some(before)) = (master_cpu, cpu) {
            state_cpu.push(f().saturating_sub(before));
        }
        if status != 200 {
            return Err(TestkitError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        state_bytes = body.len();
        state_tasks = count_state_tasks(&body)?;
    }
    let held = watch.stop(&client, addr).await?;
    let gone = gone::mark_gone(&client, addr, &running.0, gone).await?;
    wait_for_metric(
        &client,
        addr,
        RUNNING,
        |n| n == (tasks - gone.tasks) as f64,
        "the gone agents' tasks to end",
    )
    .await?;
    let teardown = teardown_at_scale(&client, addr, &running.1).await?;
    if let Some(mut cluster) = in_process {
        cluster.master.halt().await;
    }
    Ok(StateReport {
        agents,
        tasks,
        state_times,
        state_cpu,
        state_bytes,
        max_probe: held.max_probe,
        idle_probe,
        turns_over_10ms: held.turns_over_10ms,
        turns_over_10ms_on_cpu: held.turns_over_10ms_on_cpu,
        state_tasks,
        gone,
        teardown,
        rss_before,
        rss_after: rss_bytes(),
    })
}

/// Tears the framework of `scheduler` down (all its tasks at once) while
/// a probe measures how long the event loop is held up, and waits until
/// the master counts none of its tasks running.
async fn teardown_at_scale(
    client: &crate::TestClient,
    addr: std::net::SocketAddr,
    scheduler: &RawScheduler,
) -> Result<TeardownReport, TestkitError> {
    let watch = LoopWatch::start(client, addr).await?;
    let t = Instant::now();
    let (status, body) = scheduler
        .call(&scheduler.call_of(call::Type::Teardown))
        .await?;
    let answered = t.elapsed();
    if status != 202 {
        return Err(TestkitError::Status { status, body });
    }
    wait_for_metric(
        client,
        addr,
        RUNNING,
        |n| n == 0.0,
        "the torn down tasks to end",
    )
    .await?;
    let done = t.elapsed();
    for pending in [
        "master/event_loop/teardown_pending",
        "master/event_loop/reclaim_pending",
    ] {
        wait_for_metric(
            client,
            addr,
            pending,
            |n| n == 0.0,
            "the teardown to finish",
        )
        .await?;
    }
    let finished = t.elapsed();
    // Whatever follows (allocations of what was released) within the
    // watch too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = watch.stop(client, addr).await?;
    Ok(TeardownReport {
        answered,
        done,
        finished,
        max_probe: held.max_probe,
        turns_over_10ms: held.turns_over_10ms,
        turns_over_10ms_on_cpu: held.turns_over_10ms_on_cpu,
    })
}

/// A span in which a probe keeps asking the event loop and the master's
/// counts of slow turns are read at both ends.
struct LoopWatch {
    stalls_before: f64,
    busy_before: f64,
    stop: tokio::sync::watch::Sender<bool>,
    probe: tokio::task::JoinHandle<Duration>,
}

/// What a [`LoopWatch`] saw.
struct LoopHeld {
    max_probe: Duration,
    turns_over_10ms: u64,
    turns_over_10ms_on_cpu: u64,
}

impl LoopWatch {
    async fn start(
        client: &crate::TestClient,
        addr: std::net::SocketAddr,
    ) -> Result<LoopWatch, TestkitError> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let probe = tokio::spawn(probe_loop(addr, stop_rx));
        Ok(LoopWatch {
            stalls_before: metric(client, addr, STALLS).await?,
            busy_before: metric(client, addr, BUSY_STALLS).await?,
            stop,
            probe,
        })
    }

    async fn stop(
        self,
        client: &crate::TestClient,
        addr: std::net::SocketAddr,
    ) -> Result<LoopHeld, TestkitError> {
        let stalls = metric(client, addr, STALLS).await? - self.stalls_before;
        let busy = metric(client, addr, BUSY_STALLS).await? - self.busy_before;
        let _ = self.stop.send(true);
        Ok(LoopHeld {
            max_probe: self.probe.await.unwrap_or_default(),
            turns_over_10ms: stalls.max(0.0) as u64,
            turns_over_10ms_on_cpu: busy.max(0.0) as u64,
        })
    }
}

/// The master's count of running tasks.
const RUNNING: &str = "master/tasks_running";

/// Polls one of the master's metrics until `done` holds for it (ten
/// minutes at most).
async fn wait_for_metric(
    client: &crate::TestClient,
    addr: std::net::SocketAddr,
    name: &str,
    done: impl Fn(f64) -> bool,
    what: &'static str,
) -> Result<(), TestkitError> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(metric(client, addr, name).await?) {
        if Instant::now() > deadline {
            return Err(TestkitError::Timeout(what));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The master's count of event-loop turns longer than 10 ms.
const STALLS: &str = "master/event_loop/turns_over_10ms";

/// Of those, the ones whose own work took that long.
const BUSY_STALLS: &str = "master/event_loop/turns_over_10ms_on_cpu";

/// One value of the master's `/metrics/snapshot`.
async fn metric(
    client: &crate::TestClient,
    addr: std::net::SocketAddr,
    name: &str,
) -> Result<f64, TestkitError> {
    let (status, _, body) = client
        .get(&format!("http://{addr}/metrics/snapshot"))
        .await?;
    let metrics: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| TestkitError::Decode(format!("/metrics/snapshot ({status}): {e}")))?;
    metrics[name]
        .as_f64()
        .ok_or_else(|| TestkitError::Decode(format!("/metrics/snapshot has no {name}")))
}

/// The tasks of every framework in a `/state` body.
fn count_state_tasks(body: &[u8]) -> Result<usize, TestkitError> {
    let state: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| TestkitError::Decode(format!("/state: {e}")))?;
    Ok(state["frameworks"].as_array().map_or(0, |fs| {
        fs.iter()
            .map(|f| f["tasks"].as_array().map_or(0, Vec::len))
            .sum()
    }))
}

/// Agents and a framework on the master at `addr` with `tasks` running
/// tasks, `per_agent` on each agent; they run while the result lives.
async fn launch_cluster(
    addr: std::net::SocketAddr,
    agents: usize,
    per_agent: usize,
    tasks: usize,
) -> Result<(Vec<crate::SimulatedAgent>, RawScheduler), TestkitError> {
    let resources = format!("cpus:{per_agent};mem:{}", per_agent * 256);
    let info = FrameworkInfo {
        user: "bench".into(),
        name: "state-at-scale".into(),
        ..Default::default()
    };
    let mut s = RawScheduler::subscribe(addr, info, MediaType::Protobuf).await?;
    // Agents register a few hundred at a time and share one client's
    // connection pool for their calls; bursts of calls must not leave
    // thousands of idle sockets behind (the open-files limit).
    let client = crate::TestClient::with_max_idle_per_host(256);
    let started = start_agents(addr, bench_agents(agents, &resources), || client.clone()).await?;
    launch_all(&mut s, tasks, Duration::from_secs(600)).await?;
    Ok((started, s))
}

async fn join_all(
    handles: Vec<tokio::task::JoinHandle<Result<crate::SimulatedAgent, TestkitError>>>,
) -> Vec<Result<crate::SimulatedAgent, TestkitError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.await
                .map_err(|e| TestkitError::Http(e.to_string()))
                .and_then(|r| r),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scenarios_run_small() {
        let launch = launch_throughput(4, 4, 12, None).await.unwrap();
        assert_eq!(launch.tasks, 12);
        assert!(launch.p50 <= launch.p99);
        let state = state_at_scale(5, 10, 2, 1, None, None).await.unwrap();
        let err = launch_throughput(1_000_000, 1, 1, None).await.unwrap_err();
        assert!(err.to_string().contains("open files"), "{err}");
        assert_eq!(state.state_times.len(), 2);
        assert!(state.state_bytes > 1000);
        assert_eq!(state.state_tasks, 10);
        assert!(state.teardown.answered <= state.teardown.done);
        assert!(state.teardown.done <= state.teardown.finished);
        assert_eq!((state.gone.agents, state.gone.tasks), (1, 2));
        assert!(Duration::ZERO < state.gone.p50 && state.gone.p50 <= state.gone.max);
        // Two agents with three tasks each, registering again twice:
        // every task still running after each round (or it times out).
        let again = reregister(2, 6, 2, None).await.unwrap();
        assert_eq!((again.agents, again.tasks, again.rounds), (2, 6, 2));
        assert!(Duration::ZERO < again.p50 && again.p50 <= again.max);
    }

    /// `/state` is sent while it is written, a MiB at a time: a body of
    /// several pieces must still be one valid document with every task.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_state_of_several_pieces_is_whole() {
        let state = state_at_scale(40, 4000, 2, 0, None, None).await.unwrap();
        assert!(state.state_bytes > 1 << 20, "{} bytes", state.state_bytes);
        assert_eq!(state.state_tasks, 4000);
    }
}
