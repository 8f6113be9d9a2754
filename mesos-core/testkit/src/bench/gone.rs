//! Agents marked gone one after another on a cluster at full size: what
//! ending an agent's tasks costs the master when every framework has
//! 100,000 of them.

use super::{LoopWatch, percentile};
use crate::{SimulatedAgent, TestClient, TestkitError};
use mesos_proto::v1::master::{Call, call};
use std::time::{Duration, Instant};

/// MARK_AGENT_GONE on some agents of a cluster at full size, one call at
/// a time.
#[derive(Debug, Clone, Default)]
pub struct GoneReport {
    /// Agents marked gone.
    pub agents: usize,
    /// Their tasks, which became TASK_GONE_BY_OPERATOR.
    pub tasks: usize,
    /// The calls' median answer time.
    pub p50: Duration,
    /// Their longest answer time.
    pub max: Duration,
    /// The longest a probe call waited meanwhile.
    pub max_probe: Duration,
    /// Event-loop turns past 10 ms meanwhile.
    pub turns_over_10ms: u64,
    /// Of those, the ones whose own work passed 10 ms.
    pub turns_over_10ms_on_cpu: u64,
}

/// Marks the first `n` of `agents` gone, one MARK_AGENT_GONE at a time,
/// while a probe watches the event loop.
pub(super) async fn mark_gone(
    client: &TestClient,
    addr: std::net::SocketAddr,
    agents: &[SimulatedAgent],
    n: usize,
) -> Result<GoneReport, TestkitError> {
    let chosen = &agents[..n.min(agents.len())];
    let tasks = chosen.iter().map(|a| a.tasks().len()).sum();
    let watch = LoopWatch::start(client, addr).await?;
    let mut answers = Vec::with_capacity(chosen.len());
    for agent in chosen {
        let call = Call {
            r#type: Some(call::Type::MarkAgentGone as i32),
            mark_agent_gone: Some(call::MarkAgentGone {
                agent_id: agent.agent_id(),
            }),
            ..Default::default()
        };
        let t = Instant::now();
        client.operator(addr, &call).await?;
        answers.push(t.elapsed());
    }
    let held = watch.stop(client, addr).await?;
    answers.sort();
    Ok(GoneReport {
        agents: chosen.len(),
        tasks,
        p50: percentile(&answers, 0.5),
        max: percentile(&answers, 1.0),
        max_probe: held.max_probe,
        turns_over_10ms: held.turns_over_10ms,
        turns_over_10ms_on_cpu: held.turns_over_10ms_on_cpu,
    })
}
