//! [`reregister`]: agents that register again carrying their tasks, as
//! after a network break or a master failover. The master takes each
//! agent's tasks in at once; an agent with thousands of them is the
//! largest single call an agent makes.

use super::{LoopWatch, RUNNING, bench_master, launch_cluster, percentile, wait_for_metric};
use crate::TestkitError;
use std::time::Duration;

/// What [`reregister`] measured.
#[derive(Debug, Clone, Default)]
pub struct ReregisterReport {
    /// Agents in the cluster; each registers again once a round.
    pub agents: usize,
    /// Tasks running on them, spread evenly.
    pub tasks: usize,
    /// Rounds of every agent registering again at once.
    pub rounds: usize,
    /// REGISTER sent (every task listed) to REGISTERED received: median
    /// over every agent of every round.
    pub p50: Duration,
    /// The same, longest.
    pub max: Duration,
    /// The longest a probe call (GET_MASTER) waited meanwhile.
    pub max_probe: Duration,
    /// Event-loop turns past 10 ms meanwhile.
    pub turns_over_10ms: u64,
    /// Of those, the ones whose own work passed 10 ms.
    pub turns_over_10ms_on_cpu: u64,
}

/// Starts `agents` simulated agents running `tasks` tasks between them,
/// then `rounds` times has every agent register again (all at once),
/// carrying its tasks, while a probe watches the event loop; after each
/// round the master must still count every task running.
///
/// With `master`, the agents and the framework use that master (another
/// process); without it, a master starts in this process.
pub async fn reregister(
    agents: usize,
    tasks: usize,
    rounds: usize,
    master: Option<std::net::SocketAddr>,
) -> Result<ReregisterReport, TestkitError> {
    let per_agent = tasks.div_ceil(agents.max(1)).max(1);
    let (in_process, addr) = bench_master(master, agents, 1).await?;
    let (sims, _scheduler) = launch_cluster(addr, agents, per_agent, tasks).await?;
    let client = crate::TestClient::default();
    let all_running = |n: f64| n == tasks as f64;
    wait_for_metric(&client, addr, RUNNING, all_running, "every task running").await?;

    let watch = LoopWatch::start(&client, addr).await?;
    let mut answers = Vec::with_capacity(agents * rounds);
    for _ in 0..rounds {
        let mut round = Vec::with_capacity(agents);
        for sim in &sims {
            round.push(sim.reregister());
        }
        for answer in round {
            answers.push(answer.await?);
        }
        // Nothing dropped, nothing counted twice.
        wait_for_metric(&client, addr, RUNNING, all_running, "every task running").await?;
    }
    let held = watch.stop(&client, addr).await?;
    answers.sort();
    for sim in sims {
        sim.stop().await;
    }
    if let Some(mut cluster) = in_process {
        cluster.master.halt().await;
    }
    Ok(ReregisterReport {
        agents,
        tasks,
        rounds,
        p50: percentile(&answers, 0.5),
        max: percentile(&answers, 1.0),
        max_probe: held.max_probe,
        turns_over_10ms: held.turns_over_10ms,
        turns_over_10ms_on_cpu: held.turns_over_10ms_on_cpu,
    })
}
