//! The registry across a master restart: agents, frameworks and their
//! failover deadlines, weights and quota survive it.

use mesos_master::{MasterConfig, RegistryConfig};
use mesos_proto::media::MediaType;
use mesos_proto::resources::Resources;
use mesos_proto::v1::master::{Call as MasterCall, call as mcall};
use mesos_proto::v1::quota::QuotaConfig;
use mesos_proto::v1::{FrameworkId, FrameworkInfo, TaskId, TaskState, WeightInfo, value};
use mesos_testkit::{AgentSpec, Cluster, RawScheduler, TaskScript, TestClient, sleep_task};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// A fresh directory, removed when dropped, even by a failing test.
fn work_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("mesos-registry-{name}-"))
        .tempdir()
        .unwrap()
}

fn framework(name: &str, failover_timeout: f64) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        role: Some(name.into()),
        failover_timeout: Some(failover_timeout),
        ..Default::default()
    }
}

fn agents(n: usize) -> Vec<AgentSpec> {
    (0..n)
        .map(|i| AgentSpec {
            hostname: format!("agent-{i}"),
            resources: "cpus:2;mem:2048".into(),
            script: TaskScript::Run,
            retry: Duration::from_millis(100),
            ..Default::default()
        })
        .collect()
}

/// Launches task `id` on the framework's first offer the task fits (quota
/// can leave others with memory only, or cpus only) and waits for its
/// TASK_RUNNING (acknowledged).
async fn launch(s: &mut RawScheduler, id: &str) {
    let fits = |o: &mesos_proto::v1::Offer| {
        Resources::try_from(o.resources.clone()).is_ok_and(|r| {
            let r = r.unallocate();
            r.cpus().is_some_and(|c| c >= 1.0) && r.mem().is_some_and(|m| m >= 64.0)
        })
    };
    let e = s
        .wait_for(WAIT, |e| {
            e.offers.as_ref().is_some_and(|o| o.offers.iter().any(fits))
        })
        .await
        .unwrap();
    let offer = e.offers.unwrap().offers.into_iter().find(fits).unwrap();
    let t = sleep_task(id, &offer.agent_id, "cpus:1;mem:64");
    assert_eq!(
        s.call(&s.launch_call(&[&offer.id], vec![t], None))
            .await
            .unwrap()
            .0,
        202
    );
    let running = s
        .wait_for(WAIT, |e| {
            e.update
                .as_ref()
                .is_some_and(|u| u.status.state == TaskState::TaskRunning as i32)
        })
        .await
        .unwrap();
    assert_eq!(
        s.acknowledge(&running.update.unwrap().status)
            .await
            .unwrap(),
        202
    );
}

fn operator(ty: mcall::Type) -> MasterCall {
    MasterCall {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_master_restart_keeps_the_registry_and_failover_deadlines() {
    let dir = work_dir("restart");
    let config = MasterConfig {
        allocation_interval: Duration::from_millis(20),
        registry: RegistryConfig::Local {
            work_dir: dir.path().to_path_buf(),
        },
        // Live agents retry at most a second apart: well within this.
        agent_reregister_timeout: Duration::from_secs(4),
        ..Default::default()
    };
    let mut cluster = Cluster::start(config.clone(), agents(3)).await.unwrap();
    let client = TestClient::default();

    // Weights and quota set through the operator API.
    let mut weights = operator(mcall::Type::UpdateWeights);
    weights.update_weights = Some(mcall::UpdateWeights {
        weight_infos: vec![WeightInfo {
            weight: 2.5,
            role: Some("keeper".into()),
        }],
    });
    assert!(
        client
            .operator(cluster.addr(), &weights)
            .await
            .unwrap()
            .is_none()
    );
    let mut quota = operator(mcall::Type::UpdateQuota);
    let config_q = QuotaConfig {
        role: "keeper".into(),
        guarantees: BTreeMap::from([("cpus".to_string(), value::Scalar { value: 1.0 })]),
        limits: BTreeMap::from([("cpus".to_string(), value::Scalar { value: 4.0 })]),
    };
    quota.update_quota = Some(mcall::UpdateQuota {
        force: None,
        quota_configs: vec![config_q.clone()],
    });
    client.operator(cluster.addr(), &quota).await.unwrap();

    // A framework with a long failover timeout, and one with a short one
    // that disconnects before the restart.
    let mut keeper = RawScheduler::subscribe(
        cluster.addr(),
        framework("keeper", 3600.0),
        MediaType::Protobuf,
    )
    .await
    .unwrap();
    launch(&mut keeper, "kept").await;
    let keeper_id = keeper.framework_id().clone();
    let mut quitter =
        RawScheduler::subscribe(cluster.addr(), framework("quitter", 2.0), MediaType::Json)
            .await
            .unwrap();
    launch(&mut quitter, "orphan").await;
    let quitter_id = quitter.framework_id().clone();
    drop(quitter);
    // The master sees the quitter go: its failover clock starts now.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frameworks = client
            .operator_get(cluster.addr(), mcall::Type::GetFrameworks)
            .await
            .unwrap()
            .get_frameworks
            .unwrap()
            .frameworks;
        let quitter = frameworks
            .iter()
            .find(|f| f.framework_info.id.as_ref() == Some(&quitter_id))
            .unwrap();
        if quitter.unregistered_time.is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "quitter never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(keeper);
    // One agent does not come back.
    let lost = cluster.agents.pop().unwrap();
    let lost_id = lost.agent_id();
    let lost_had_task = !lost.tasks().is_empty();
    lost.stop().await;

    // The master is down longer than the quitter's failover timeout.
    cluster.master.halt().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cluster.restart_master(config.clone()).await.unwrap();
    let addr = cluster.addr();

    // At once: the quitter is gone (its deadline passed while no master
    // ran; Mesos would restart its clock), the keeper is known, weights and
    // quota are in force, the missing agent is awaited.
    let frameworks = client
        .operator_get(addr, mcall::Type::GetFrameworks)
        .await
        .unwrap()
        .get_frameworks
        .unwrap();
    let ids =
        |fs: &[mesos_proto::v1::master::response::get_frameworks::Framework]| -> Vec<FrameworkId> {
            fs.iter()
                .filter_map(|f| f.framework_info.id.clone())
                .collect()
        };
    assert_eq!(ids(&frameworks.frameworks), vec![keeper_id.clone()]);
    assert!(frameworks.frameworks[0].recovered);
    assert_eq!(
        ids(&frameworks.completed_frameworks),
        vec![quitter_id.clone()]
    );
    let weights = client
        .operator_get(addr, mcall::Type::GetWeights)
        .await
        .unwrap()
        .get_weights
        .unwrap();
    assert_eq!(weights.weight_infos.len(), 1);
    assert_eq!(weights.weight_infos[0].weight, 2.5);
    let quota = client
        .operator_get(addr, mcall::Type::GetQuota)
        .await
        .unwrap()
        .get_quota
        .unwrap();
    assert_eq!(quota.status.configs, vec![config_q]);

    // The keeper fails over to the new master with its id and finds its
    // task running once the agents are back.
    let mut info = framework("keeper", 3600.0);
    info.id = Some(keeper_id.clone());
    let mut keeper = RawScheduler::subscribe(addr, info, MediaType::Protobuf)
        .await
        .unwrap();
    assert_eq!(keeper.framework_id(), &keeper_id);

    // While the lost agent may still re-register, a task the master does
    // not know there gets no answer (as in Mesos), and an operation there
    // is OPERATION_RECOVERING.
    let ghost = [("ghost", Some(&lost_id))];
    assert_eq!(keeper.reconcile(&ghost).await.unwrap(), 202);
    let ops = keeper
        .reconcile_operations(&[("op", Some(&lost_id))])
        .await
        .unwrap();
    assert_eq!(
        ops[0].state,
        mesos_proto::v1::OperationState::OperationRecovering as i32
    );
    // A task unknown anywhere, named without an agent, is answered. Calls
    // are handled in order, so an answer for the ghost would come first.
    assert_eq!(keeper.reconcile(&[("marker", None)]).await.unwrap(), 202);
    let first = keeper.next_update(WAIT).await.unwrap();
    assert_eq!(first.task_id.as_str(), "marker", "the ghost got an answer");

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "kept task never reconciled as running"
        );
        assert_eq!(keeper.reconcile(&[("kept", None)]).await.unwrap(), 202);
        let answer = keeper.next_update(WAIT).await.unwrap();
        if answer.state == TaskState::TaskRunning as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The quitter's task is shut down when its agent re-registers (unless
    // it ran on the agent that stayed away).
    let orphan_agent = cluster
        .agents
        .iter()
        .find(|a| a.tasks().contains_key(&TaskId::new("orphan")));
    if let Some(agent) = orphan_agent {
        let deadline = tokio::time::Instant::now() + WAIT;
        while agent.tasks()[&TaskId::new("orphan")].state != TaskState::TaskKilled {
            assert!(
                tokio::time::Instant::now() < deadline,
                "orphan never shut down"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        assert!(lost_had_task);
    }

    // The agent that never came back is unreachable after
    // --agent_reregister_timeout.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let agents = client
            .operator_get(addr, mcall::Type::GetAgents)
            .await
            .unwrap()
            .get_agents
            .unwrap();
        let awaited: Vec<_> = agents
            .recovered_agents
            .iter()
            .filter_map(|a| a.id.clone())
            .collect();
        if awaited.is_empty() {
            assert!(
                agents
                    .agents
                    .iter()
                    .all(|a| a.agent_info.id.as_ref() != Some(&lost_id))
            );
            break;
        }
        // Until it expires the lost agent is awaited (live ones may still
        // be on their way back).
        assert!(awaited.contains(&lost_id), "{awaited:?}");
        // `/slaves` lists it too, in Mesos' "recovered_slaves" form (id as
        // a string, hostname, port, attributes), unless it expired in
        // between.
        let slaves = client
            .get_json(&format!("http://{addr}/slaves"))
            .await
            .unwrap();
        if let Some(lost) = slaves["recovered_slaves"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == lost_id.value.as_str())
        {
            assert_eq!(lost["port"], 5051, "{lost}");
            assert!(lost["hostname"].is_string(), "{lost}");
            assert!(lost["attributes"].is_object(), "{lost}");
        } else {
            let still = client
                .operator_get(addr, mcall::Type::GetAgents)
                .await
                .unwrap()
                .get_agents
                .unwrap()
                .recovered_agents;
            assert!(
                still.iter().all(|a| a.id.as_ref() != Some(&lost_id)),
                "awaited but not in /slaves: {}",
                slaves["recovered_slaves"]
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lost agent never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = client
        .operator_get(addr, mcall::Type::GetMetrics)
        .await
        .unwrap()
        .get_metrics
        .unwrap()
        .metrics;
    let metric = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
    };
    assert_eq!(metric("master/slaves_unreachable"), Some(1.0));
    assert_eq!(metric("master/slaves_active"), Some(2.0));
    drop(dir);
}
