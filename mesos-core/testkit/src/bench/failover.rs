//! [`failover`]: how long a master failover takes, from the leader's loss
//! to every agent re-registered (with its running tasks) and every
//! framework resubscribed with its successor, elected through a real
//! ZooKeeper.

use crate::http::{TestClient, TestkitError};
use crate::{RawScheduler, SimulatedAgent};
use mesos_proto::media::MediaType;
use mesos_proto::v1::FrameworkInfo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What [`failover`] measured, from the moment the leader was killed.
#[derive(Debug, Clone)]
pub struct FailoverReport {
    /// Agents in the cluster.
    pub agents: usize,
    /// Frameworks in the cluster.
    pub frameworks: usize,
    /// Until the successor led (session expiry, election, registry
    /// recovery).
    pub elected: Duration,
    /// Until every agent had re-registered with it.
    pub agents_back: Duration,
    /// Until every framework had resubscribed too.
    pub all_back: Duration,
    /// Tasks running in the cluster when the leader was killed.
    pub tasks: usize,
    /// Until the successor counted every one of them running again.
    pub tasks_back: Duration,
    /// The successor's event-loop turns past 10 ms, from its start to
    /// the end (the recovery and every re-registration included).
    pub turns_over_10ms: u64,
    /// Of those, the ones whose own work passed 10 ms.
    pub turns_over_10ms_on_cpu: u64,
    /// The successor's longest turn (ms), and that turn's CPU time.
    pub longest_turn_ms: (f64, f64),
}

/// How long any one phase may take before the scenario gives up.
const PHASE: Duration = Duration::from_secs(600);

/// Masters at `masters` contend in ZooKeeper (started by the caller,
/// typically as `mesos master --zk` processes); `agents` simulated agents
/// and `frameworks` frameworks join the leader, the first framework
/// launching `tasks` tasks spread over the agents; `kill(i)` then kills the
/// leading master `i` (`kill -9`), and the clock runs until a successor
/// leads and has them all back. The successor waits for the dead
/// leader's ZooKeeper session to expire: the session timeout is part of
/// the result.
pub async fn failover(
    masters: &[SocketAddr],
    kill: impl FnOnce(usize),
    agents: usize,
    frameworks: usize,
    tasks: usize,
) -> Result<FailoverReport, TestkitError> {
    // This process holds one end of each agent's stream (calls share
    // a pool).
    super::check_open_files(agents, 1)?;
    let client = TestClient::with_max_idle_per_host(256);
    let first = until_leading(&client, masters, None).await?;
    let (leader_tx, leader) = watch::channel(masters[first]);

    let mut sims = Vec::with_capacity(agents);
    let cpus = tasks.div_ceil(agents.max(1)).max(4);
    let resources = format!("cpus:{cpus};mem:{}", cpus * 1024);
    for spec in super::bench_agents(agents, &resources) {
        sims.push(SimulatedAgent::start_following(leader.clone(), spec, client.clone()).await?);
    }
    let info = |i: usize, id: Option<mesos_proto::v1::FrameworkId>| FrameworkInfo {
        id,
        user: "bench".into(),
        name: format!("failover-{i}"),
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let mut ids = Vec::with_capacity(frameworks);
    let mut schedulers = Vec::with_capacity(frameworks);
    for i in 0..frameworks {
        let mut s =
            RawScheduler::subscribe(masters[first], info(i, None), MediaType::Protobuf).await?;
        if i == 0 && tasks > 0 {
            // Before the others subscribe: they would hold offers.
            until_counted(&client, masters[first], agents, 1).await?;
            super::launch_all(&mut s, tasks, PHASE).await?;
        }
        ids.push(s.framework_id().clone());
        schedulers.push(s);
    }
    until_counted(&client, masters[first], agents, frameworks).await?;

    let killed = Instant::now();
    kill(first);
    let second = until_leading(&client, masters, Some(first)).await?;
    let elected = killed.elapsed();
    let successor = masters[second];
    leader_tx.send_replace(successor);
    let agents_back = async {
        until_counted(&client, successor, agents, 0).await?;
        Ok::<_, TestkitError>(killed.elapsed())
    };
    let frameworks_back = async {
        let mut again = Vec::with_capacity(frameworks);
        for (i, id) in ids.into_iter().enumerate() {
            again.push(
                RawScheduler::subscribe(successor, info(i, Some(id)), MediaType::Protobuf).await?,
            );
        }
        Ok::<_, TestkitError>(again)
    };
    let (agents_back, again) = tokio::try_join!(agents_back, frameworks_back)?;
    until_counted(&client, successor, agents, frameworks).await?;
    let all_back = killed.elapsed();
    let all_running = |n: f64| n >= tasks as f64;
    super::wait_for_metric(
        &client,
        successor,
        super::RUNNING,
        all_running,
        "tasks back",
    )
    .await?;
    let tasks_back = killed.elapsed();
    let count = |name| super::metric(&client, successor, name);
    let turns_over_10ms = count(super::STALLS).await? as u64;
    let turns_over_10ms_on_cpu = count(super::BUSY_STALLS).await? as u64;
    let longest_turn_ms = (
        count("master/event_loop/longest_turn_ms").await?,
        count("master/event_loop/longest_turn_cpu_ms").await?,
    );
    drop((again, schedulers));
    for sim in sims {
        sim.stop().await;
    }
    Ok(FailoverReport {
        agents,
        frameworks,
        elected,
        agents_back,
        all_back,
        tasks,
        tasks_back,
        turns_over_10ms,
        turns_over_10ms_on_cpu,
        longest_turn_ms,
    })
}

async fn metrics(client: &TestClient, addr: SocketAddr) -> Option<serde_json::Value> {
    match client.get(&format!("http://{addr}/metrics/snapshot")).await {
        Ok((200, _, body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    }
}

/// Waits until one master other than `not` leads; its index.
async fn until_leading(
    client: &TestClient,
    masters: &[SocketAddr],
    not: Option<usize>,
) -> Result<usize, TestkitError> {
    let deadline = Instant::now() + PHASE;
    loop {
        for (i, addr) in masters.iter().enumerate() {
            if Some(i) != not
                && let Some(m) = metrics(client, *addr).await
                && m["master/elected"].as_f64() == Some(1.0)
            {
                return Ok(i);
            }
        }
        if Instant::now() > deadline {
            return Err(TestkitError::Timeout("a leading master"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the master at `addr` has `agents` active agents and
/// `frameworks` active frameworks.
async fn until_counted(
    client: &TestClient,
    addr: SocketAddr,
    agents: usize,
    frameworks: usize,
) -> Result<(), TestkitError> {
    let deadline = Instant::now() + PHASE;
    loop {
        if let Some(m) = metrics(client, addr).await {
            let count = |name: &str| m[name].as_f64().unwrap_or(0.0) as usize;
            if count("master/slaves_active") >= agents
                && count("master/frameworks_active") >= frameworks
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(TestkitError::Timeout(
                "agents and frameworks with the leader",
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
