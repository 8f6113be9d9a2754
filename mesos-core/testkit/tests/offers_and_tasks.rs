//! Whole-cluster tests: a master on loopback, simulated agents speaking the
//! real protocol, and frameworks on the wire.

use mesos_master::MasterConfig;
use mesos_proto::media::MediaType;
use mesos_proto::resources::Resources;
use mesos_proto::v1::offer::{Operation, operation};
use mesos_proto::v1::scheduler::{Event, call};
use mesos_proto::v1::{
    AgentId, Filters, FrameworkInfo, Offer, OfferId, TaskId, TaskInfo, TaskState, task_status,
};
use mesos_testkit::{AgentSpec, Cluster, RawScheduler, TaskScript, sleep_task};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn config() -> MasterConfig {
    MasterConfig {
        allocation_interval: Duration::from_millis(20),
        heartbeat_interval: Duration::from_secs(1),
        ..Default::default()
    }
}

fn agents(n: usize, resources: &str, script: TaskScript) -> Vec<AgentSpec> {
    (0..n)
        .map(|i| AgentSpec {
            hostname: format!("agent-{i}"),
            resources: resources.into(),
            attributes: format!("rack:r{}", i % 2),
            script,
            retry: Duration::from_millis(200),
        })
        .collect()
}

fn framework(name: &str, role: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        role: Some(role.into()),
        ..Default::default()
    }
}

fn offers(e: &Event) -> Vec<Offer> {
    e.offers.clone().map(|o| o.offers).unwrap_or_default()
}

async fn next_offers(s: &mut RawScheduler) -> Vec<Offer> {
    offers(&s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap())
}

fn task(id: &str, agent: &AgentId, resources: &str) -> TaskInfo {
    sleep_task(id, agent, resources)
}

fn launch(
    s: &RawScheduler,
    offer_ids: &[&OfferId],
    tasks: Vec<TaskInfo>,
    refuse: Option<f64>,
) -> mesos_proto::v1::scheduler::Call {
    s.launch_call(offer_ids, tasks, refuse)
}

async fn next_update(s: &mut RawScheduler) -> mesos_proto::v1::TaskStatus {
    s.next_update(WAIT).await.unwrap()
}

async fn ack(s: &RawScheduler, status: &mesos_proto::v1::TaskStatus) {
    assert_eq!(s.acknowledge(status).await.unwrap(), 202);
}

#[tokio::test]
async fn offers_launch_updates_and_acknowledgements_flow_end_to_end() {
    let cluster = Cluster::start(
        config(),
        agents(
            2,
            "cpus:4;mem:4096;ports:[31000-31010]",
            TaskScript::Finish(Duration::from_millis(300)),
        ),
    )
    .await
    .unwrap();
    for media in [MediaType::Json, MediaType::Protobuf] {
        let mut s = RawScheduler::subscribe(cluster.addr(), framework("e2e", "web"), media)
            .await
            .unwrap();
        let first = next_offers(&mut s).await;
        let mut all = first.clone();
        while all.len() < 2 {
            all.extend(next_offers(&mut s).await);
        }
        let offer = &all[0];
        assert_eq!(offer.framework_id, *s.framework_id());
        assert!(offer.hostname.starts_with("agent-"));
        assert_eq!(offer.attributes.len(), 1);
        assert_eq!(
            offer.allocation_info.as_ref().unwrap().role.as_deref(),
            Some("web")
        );
        let offered = Resources::from_resources(offer.resources.clone()).unwrap();
        assert_eq!(offered.cpus(), Some(4.0));
        assert!(offered.allocations().contains_key("web"));

        // Launch one task; its updates arrive with uuids and are
        // acknowledged back to the agent.
        let task_id = format!("t-{}", media.as_str().len());
        let c = launch(
            &s,
            &[&offer.id],
            vec![task(&task_id, &offer.agent_id, "cpus:1;mem:128")],
            Some(0.0),
        );
        assert_eq!(s.call(&c).await.unwrap(), (202, String::new()));
        let running = next_update(&mut s).await;
        assert_eq!(running.task_id.as_str(), task_id);
        assert_eq!(running.state, TaskState::TaskRunning as i32);
        assert_eq!(running.agent_id.as_ref(), Some(&offer.agent_id));
        assert_eq!(running.uuid.as_ref().map(Vec::len), Some(16));
        ack(&s, &running).await;
        let finished = next_update(&mut s).await;
        assert_eq!(finished.state, TaskState::TaskFinished as i32);
        ack(&s, &finished).await;

        // Reconciling a finished, acknowledged task: it is forgotten.
        let mut r = s.call_of(call::Type::Reconcile);
        r.reconcile = Some(call::Reconcile {
            tasks: vec![call::reconcile::Task {
                task_id: TaskId::new(task_id.clone()),
                ..Default::default()
            }],
        });
        s.call(&r).await.unwrap();
        let reconciled = next_update(&mut s).await;
        assert_eq!(reconciled.state, TaskState::TaskLost as i32);
        assert_eq!(
            reconciled.reason,
            Some(task_status::Reason::Reconciliation as i32)
        );

        s.call(&s.call_of(call::Type::Teardown)).await.unwrap();
    }
    let agent = cluster
        .agents
        .iter()
        .find(|a| !a.tasks().is_empty())
        .expect("an agent ran the tasks");
    // Every update was acknowledged: none is still being resent.
    let deadline = tokio::time::Instant::now() + WAIT;
    while agent.tasks().values().any(|t| t.pending > 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            agent.tasks()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(agent.acknowledged() >= 2);
}

#[tokio::test]
async fn unacknowledged_updates_are_resent_until_acknowledged() {
    let cluster = Cluster::start(config(), agents(1, "cpus:2;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let mut s = RawScheduler::subscribe(
        cluster.addr(),
        framework("slow-acker", "r"),
        MediaType::Json,
    )
    .await
    .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    s.call(&launch(
        &s,
        &[&offer.id],
        vec![task("t", &offer.agent_id, "cpus:1;mem:64")],
        None,
    ))
    .await
    .unwrap();
    let first = next_update(&mut s).await;
    // Not acknowledged: the agent sends the same update (same uuid) again.
    let again = next_update(&mut s).await;
    assert_eq!(again.uuid, first.uuid);
    assert_eq!(again.state, TaskState::TaskRunning as i32);
    ack(&s, &again).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while cluster.agents[0].tasks()[&TaskId::new("t")].pending > 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_decline_filter_is_honoured_for_its_duration_and_revive_clears_it() {
    let cluster = Cluster::start(config(), agents(1, "cpus:2;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let mut s =
        RawScheduler::subscribe(cluster.addr(), framework("decliner", "r"), MediaType::Json)
            .await
            .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    let mut d = s.call_of(call::Type::Decline);
    d.decline = Some(call::Decline {
        offer_ids: vec![offer.id.clone()],
        filters: Some(Filters {
            refuse_seconds: Some(0.5),
        }),
    });
    let declined_at = tokio::time::Instant::now();
    assert_eq!(s.call(&d).await.unwrap().0, 202);
    let again = next_offers(&mut s).await;
    assert!(
        declined_at.elapsed() >= Duration::from_millis(500),
        "re-offered after {:?}",
        declined_at.elapsed()
    );
    assert_eq!(again[0].agent_id, offer.agent_id);

    // A long filter, then REVIVE: offered again at once.
    d.decline = Some(call::Decline {
        offer_ids: vec![again[0].id.clone()],
        filters: Some(Filters {
            refuse_seconds: Some(3600.0),
        }),
    });
    s.call(&d).await.unwrap();
    assert!(
        s.drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|e| e.offers.is_none()),
        "filtered"
    );
    s.call(&s.call_of(call::Type::Revive)).await.unwrap();
    next_offers(&mut s).await;
}

#[tokio::test]
async fn suppress_stops_offers_and_revive_resumes_them() {
    let cluster = Cluster::start(config(), agents(1, "cpus:2;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let mut s = RawScheduler::subscribe(
        cluster.addr(),
        framework("suppressor", "r"),
        MediaType::Json,
    )
    .await
    .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    assert_eq!(
        s.call(&s.call_of(call::Type::Suppress)).await.unwrap().0,
        202
    );
    let mut d = s.call_of(call::Type::Decline);
    d.decline = Some(call::Decline {
        offer_ids: vec![offer.id.clone()],
        filters: Some(Filters {
            refuse_seconds: Some(0.0),
        }),
    });
    s.call(&d).await.unwrap();
    // Ten allocation cycles and more: nothing is offered while suppressed.
    assert!(
        s.drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|e| e.offers.is_none())
    );
    s.call(&s.call_of(call::Type::Revive)).await.unwrap();
    let again = next_offers(&mut s).await;
    assert_eq!(again[0].agent_id, offer.agent_id);
}

#[tokio::test]
async fn accept_validation_answers_per_task_and_keeps_serving() {
    let cluster = Cluster::start(config(), agents(1, "cpus:2;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let mut s =
        RawScheduler::subscribe(cluster.addr(), framework("validator", "r"), MediaType::Json)
            .await
            .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    let agent = offer.agent_id.clone();
    let c = launch(
        &s,
        &[&offer.id],
        vec![
            task("ok", &agent, "cpus:1;mem:100"),
            task("ok", &agent, "cpus:0.1;mem:10"),
            task("greedy", &agent, "cpus:5;mem:100"),
            task("elsewhere", &AgentId::new("other"), "cpus:0.1;mem:10"),
            TaskInfo {
                command: None,
                ..task("no-command", &agent, "cpus:0.1;mem:10")
            },
        ],
        Some(0.0),
    );
    assert_eq!(s.call(&c).await.unwrap().0, 202);
    // Updates arrive in any order: the master's own at once, the agent's
    // after the launch.
    let mut got: BTreeMap<String, Vec<mesos_proto::v1::TaskStatus>> = BTreeMap::new();
    for _ in 0..5 {
        let status = next_update(&mut s).await;
        got.entry(status.task_id.to_string())
            .or_default()
            .push(status);
    }
    let states = |k: &str| -> Vec<TaskState> {
        let mut v: Vec<TaskState> = got[k]
            .iter()
            .map(|s| TaskState::try_from(s.state).unwrap())
            .collect();
        v.sort_by_key(|s| *s as i32);
        v
    };
    assert_eq!(states("ok"), [TaskState::TaskRunning, TaskState::TaskError]);
    let duplicate = got["ok"]
        .iter()
        .find(|s| s.state == TaskState::TaskError as i32)
        .unwrap();
    assert!(
        duplicate
            .message
            .as_ref()
            .unwrap()
            .contains("already in use")
    );
    assert_eq!(states("greedy"), [TaskState::TaskError]);
    assert!(
        got["greedy"][0]
            .message
            .as_ref()
            .unwrap()
            .contains("more resources")
    );
    assert_eq!(
        got["greedy"][0].reason,
        Some(task_status::Reason::TaskInvalid as i32)
    );
    assert_eq!(states("elsewhere"), [TaskState::TaskError]);
    assert_eq!(states("no-command"), [TaskState::TaskError]);

    // The same offer again (double accept): the task is answered LOST.
    let c = launch(
        &s,
        &[&offer.id],
        vec![task("late", &agent, "cpus:0.1;mem:10")],
        None,
    );
    assert_eq!(s.call(&c).await.unwrap().0, 202);
    let late = next_update(&mut s).await;
    assert_eq!(late.state, TaskState::TaskLost as i32);
    assert_eq!(late.reason, Some(task_status::Reason::InvalidOffers as i32));

    // Unsupported operations are refused plainly.
    let mut c = s.call_of(call::Type::Accept);
    c.accept = Some(call::Accept {
        offer_ids: vec![],
        operations: vec![Operation {
            r#type: Some(operation::Type::Reserve as i32),
            ..Default::default()
        }],
        filters: None,
    });
    let (status, body) = s.call(&c).await.unwrap();
    assert_eq!(status, 400);
    assert!(
        body.contains("RESERVE operations are not supported yet"),
        "{body}"
    );

    // So is a launch asking for operation feedback, which Mesos gives
    // only for operations on resources.
    let mut c = launch(
        &s,
        &[&offer.id],
        vec![task("with-id", &agent, "cpus:0.1;mem:10")],
        None,
    );
    if let Some(op) = c.accept.as_mut().and_then(|a| a.operations.first_mut()) {
        op.id = Some(mesos_proto::v1::OperationId {
            value: "op-1".into(),
        });
    }
    let (status, body) = s.call(&c).await.unwrap();
    assert_eq!(status, 400);
    assert!(
        body.contains("operation id was set on a LAUNCH operation"),
        "{body}"
    );

    // Known tasks reconcile to their latest state; KILL reaches the agent.
    let mut r = s.call_of(call::Type::Reconcile);
    r.reconcile = Some(call::Reconcile { tasks: vec![] });
    s.call(&r).await.unwrap();
    let reconciled = next_update(&mut s).await;
    assert_eq!(reconciled.task_id.as_str(), "ok");
    assert_eq!(reconciled.state, TaskState::TaskRunning as i32);
    assert_eq!(
        reconciled.reason,
        Some(task_status::Reason::Reconciliation as i32)
    );
    // Updates are delivered in order: TASK_KILLED waits behind the
    // unacknowledged TASK_RUNNING until that is acknowledged.
    let running = got["ok"]
        .iter()
        .find(|s| s.state == TaskState::TaskRunning as i32)
        .unwrap()
        .clone();
    let mut k = s.call_of(call::Type::Kill);
    k.kill = Some(call::Kill {
        task_id: TaskId::new("ok"),
        ..Default::default()
    });
    s.call(&k).await.unwrap();
    assert!(
        s.drain(Duration::from_millis(300)).await.iter().all(|e| e
            .update
            .as_ref()
            .is_none_or(|u| u.status.state != TaskState::TaskKilled as i32)),
        "TASK_KILLED must not overtake the unacknowledged TASK_RUNNING"
    );
    ack(&s, &running).await;
    let killed = s
        .wait_for(WAIT, |e| {
            e.update
                .as_ref()
                .is_some_and(|u| u.status.state == TaskState::TaskKilled as i32)
        })
        .await
        .unwrap();
    assert_eq!(killed.update.unwrap().status.task_id.as_str(), "ok");
}

#[tokio::test]
async fn weights_one_and_three_converge_to_shares_one_to_three() {
    let mut cfg = config();
    cfg.weights = BTreeMap::from([("light".to_string(), 1.0), ("heavy".to_string(), 3.0)]);
    // Both frameworks subscribe before any agent exists, so neither gets a
    // head start; then the agents arrive one at a time.
    let mut cluster = Cluster::start(cfg, Vec::new()).await.unwrap();
    // Each framework takes every offer it gets with one task using it all.
    let mut light =
        RawScheduler::subscribe(cluster.addr(), framework("light", "light"), MediaType::Json)
            .await
            .unwrap();
    let mut heavy = RawScheduler::subscribe(
        cluster.addr(),
        framework("heavy", "heavy"),
        MediaType::Protobuf,
    )
    .await
    .unwrap();
    cluster
        .add_agents(agents(8, "cpus:1;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let mut held = BTreeMap::from([("light", 0), ("heavy", 0)]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while held.values().sum::<usize>() < 8 {
        assert!(tokio::time::Instant::now() < deadline, "only {held:?}");
        for (name, s) in [("light", &mut light), ("heavy", &mut heavy)] {
            for e in s.drain(Duration::from_millis(30)).await {
                for o in offers(&e) {
                    let id = format!("{name}-{}", held[name]);
                    let all = Resources::from_resources(o.resources.clone())
                        .unwrap()
                        .unallocate();
                    let t = task(&id, &o.agent_id, &all.to_string());
                    assert_eq!(
                        s.call(&launch(s, &[&o.id], vec![t], None)).await.unwrap().0,
                        202
                    );
                    *held.get_mut(name).unwrap() += 1;
                }
            }
        }
    }
    assert_eq!(held, BTreeMap::from([("light", 2), ("heavy", 6)]));
}

#[tokio::test]
async fn events_trigger_allocation_without_waiting_for_the_interval() {
    // An interval no test would outlive: offers come from events alone.
    let cfg = MasterConfig {
        allocation_interval: Duration::from_secs(3600),
        ..config()
    };
    let mut cluster = Cluster::start(cfg, agents(1, "cpus:2;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    // A framework subscribing is offered the agent that was there.
    let mut s = RawScheduler::subscribe(cluster.addr(), framework("f", "r"), MediaType::Json)
        .await
        .unwrap();
    let first = next_offers(&mut s).await;
    assert_eq!(first.len(), 1);
    // An agent registering is offered at once.
    cluster
        .add_agents(agents(1, "cpus:3;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let second = next_offers(&mut s).await;
    assert_eq!(second[0].agent_id, cluster.agents[1].agent_id());
    // Declined with a long filter, then revived: offered again at once.
    let mut decline = s.call_of(call::Type::Decline);
    decline.decline = Some(call::Decline {
        offer_ids: vec![first[0].id.clone()],
        filters: Some(Filters {
            refuse_seconds: Some(3600.0),
        }),
    });
    assert_eq!(s.call(&decline).await.unwrap().0, 202);
    assert_eq!(s.call(&s.call_of(call::Type::Revive)).await.unwrap().0, 202);
    let third = next_offers(&mut s).await;
    assert_eq!(third[0].agent_id, first[0].agent_id);
}

#[tokio::test]
async fn offers_outstanding_past_the_offer_timeout_are_rescinded_and_made_again() {
    let cfg = MasterConfig {
        offer_timeout: Some(Duration::from_millis(200)),
        ..config()
    };
    let cluster = Cluster::start(cfg, agents(1, "cpus:2;mem:1024", TaskScript::Run))
        .await
        .unwrap();
    let mut s = RawScheduler::subscribe(cluster.addr(), framework("slow", "r"), MediaType::Json)
        .await
        .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    // The framework sits on it.
    let rescind = s.wait_for(WAIT, |e| e.rescind.is_some()).await.unwrap();
    assert_eq!(rescind.rescind.unwrap().offer_id, offer.id);
    let again = next_offers(&mut s).await.remove(0);
    assert_ne!(again.id, offer.id);
    assert_eq!(again.agent_id, offer.agent_id);
    // Accepting the rescinded offer drops the task, saying why (as Mesos:
    // TASK_LOST for frameworks that are not PARTITION_AWARE); the new
    // offer works.
    let t = task("late", &offer.agent_id, "cpus:1;mem:64");
    assert_eq!(
        s.call(&launch(&s, &[&offer.id], vec![t.clone()], None))
            .await
            .unwrap()
            .0,
        202
    );
    let dropped = s
        .wait_for(WAIT, |e| e.update.is_some())
        .await
        .unwrap()
        .update
        .unwrap()
        .status;
    assert_eq!(dropped.state, TaskState::TaskLost as i32);
    assert_eq!(
        dropped.reason,
        Some(task_status::Reason::InvalidOffers as i32)
    );
    assert_eq!(
        s.call(&launch(&s, &[&again.id], vec![t], None))
            .await
            .unwrap()
            .0,
        202
    );
}

#[tokio::test]
async fn a_task_group_launches_whole_or_not_at_all() {
    let cluster = Cluster::start(
        config(),
        agents(
            1,
            "cpus:4;mem:4096",
            TaskScript::Finish(Duration::from_secs(300)),
        ),
    )
    .await
    .unwrap();
    let mut s =
        RawScheduler::subscribe(cluster.addr(), framework("groups", "web"), MediaType::Json)
            .await
            .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    let executor = mesos_proto::v1::ExecutorInfo {
        r#type: Some(mesos_proto::v1::executor_info::Type::Default as i32),
        executor_id: mesos_proto::v1::ExecutorId::new("grouped"),
        framework_id: Some(s.framework_id().clone()),
        resources: "cpus:0.5;mem:64".parse::<Resources>().unwrap().into_vec(),
        ..Default::default()
    };
    // The second task asks for more than is left once the executor and the
    // first task are counted: neither launches.
    let mut c = s.launch_group_call(
        &[&offer.id],
        executor,
        vec![
            task("g1", &offer.agent_id, "cpus:2;mem:128"),
            task("g2", &offer.agent_id, "cpus:2;mem:128"),
        ],
    );
    if let Some(accept) = c.accept.as_mut() {
        accept.filters = Some(Filters {
            refuse_seconds: Some(0.0),
        });
    }
    assert_eq!(s.call(&c).await.unwrap().0, 202);
    let mut errors = BTreeMap::new();
    while errors.len() < 2 {
        let status = next_update(&mut s).await;
        errors.insert(status.task_id.to_string(), status);
    }
    for status in errors.values() {
        assert_eq!(status.state, TaskState::TaskError as i32);
        assert_eq!(
            status.reason,
            Some(task_status::Reason::TaskGroupInvalid as i32)
        );
        assert!(
            status
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("Task g2: Task uses more resources"),
            "{status:?}"
        );
    }
    // Nothing was used: the whole agent is offered again.
    let again = next_offers(&mut s).await.remove(0);
    let offered = Resources::from_resources(again.resources).unwrap();
    assert_eq!(offered.cpus(), Some(4.0));
}

/// As Mesos' master does, a task keeps what service discovery and the
/// operator API show of it from its TaskInfo: discovery, container,
/// health check, kill policy, the command's user and limits.
#[tokio::test]
async fn a_task_shows_the_discovery_container_and_checks_it_was_launched_with() {
    use mesos_proto::v1::master::call as mcall;
    use mesos_proto::v1::{
        CommandInfo, ContainerInfo, DiscoveryInfo, DurationInfo, HealthCheck, KillPolicy, Port,
        Ports, container_info, discovery_info, health_check, value,
    };
    let cluster = Cluster::start(
        config(),
        agents(1, "cpus:2;mem:1024;ports:[31000-31009]", TaskScript::Run),
    )
    .await
    .unwrap();
    let mut s = RawScheduler::subscribe(cluster.addr(), framework("dns", "web"), MediaType::Json)
        .await
        .unwrap();
    let offer = next_offers(&mut s).await.remove(0);
    let mut task = task(
        "web-1",
        &offer.agent_id,
        "cpus:1;mem:128;ports:[31000-31000]",
    );
    task.command = Some(CommandInfo {
        value: Some("sleep 1000".into()),
        user: Some("nobody".into()),
        ..Default::default()
    });
    task.discovery = Some(DiscoveryInfo {
        visibility: discovery_info::Visibility::Framework as i32,
        name: Some("web".into()),
        ports: Some(Ports {
            ports: vec![Port {
                number: 31000,
                name: Some("http".into()),
                protocol: Some("tcp".into()),
                ..Default::default()
            }],
        }),
        ..Default::default()
    });
    task.container = Some(ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        hostname: Some("web-1.local".into()),
        ..Default::default()
    });
    task.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Command as i32),
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    task.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 3_000_000_000,
        }),
    });
    task.limits
        .insert("cpus".into(), value::Scalar { value: 2.0 });
    // A second cpus entry: the master fills in the role but keeps the
    // resources as given, as Mesos does (it does not merge them).
    let mut more_cpus = task.resources[0].clone();
    assert_eq!(more_cpus.name, "cpus");
    more_cpus.scalar = Some(value::Scalar { value: 0.5 });
    task.resources.push(more_cpus);
    assert_eq!(
        s.call(&launch(&s, &[&offer.id], vec![task], None))
            .await
            .unwrap()
            .0,
        202
    );

    let client = mesos_testkit::TestClient::default();
    let got = client
        .operator_get(cluster.addr(), mcall::Type::GetTasks)
        .await
        .unwrap()
        .get_tasks
        .unwrap();
    let t = &got.tasks[0];
    let discovery = t.discovery.as_ref().expect("discovery kept");
    assert_eq!(discovery.name.as_deref(), Some("web"));
    let port = &discovery.ports.as_ref().unwrap().ports[0];
    assert_eq!((port.number, port.name.as_deref()), (31000, Some("http")));
    let container = t.container.as_ref().expect("container kept");
    assert_eq!(container.hostname.as_deref(), Some("web-1.local"));
    assert!(t.health_check.is_some(), "health check kept");
    let grace = t.kill_policy.as_ref().and_then(|k| k.grace_period.as_ref());
    assert_eq!(grace.map(|g| g.nanoseconds), Some(3_000_000_000));
    assert_eq!(t.user.as_deref(), Some("nobody"));
    assert_eq!(t.limits.get("cpus").map(|l| l.value), Some(2.0));
    let names: Vec<&str> = t.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["cpus", "mem", "ports", "cpus"]);
    for r in &t.resources {
        let role = r.allocation_info.as_ref().and_then(|a| a.role.as_deref());
        assert_eq!(role, Some("web"), "{r:?}");
    }

    // The legacy JSON Mesos-DNS reads.
    let state = client
        .get_json(&format!("http://{}/state", cluster.addr()))
        .await
        .unwrap();
    let task = &state["frameworks"][0]["tasks"][0];
    assert_eq!(task["discovery"]["name"], "web");
    assert_eq!(task["discovery"]["visibility"], "FRAMEWORK");
    assert_eq!(task["discovery"]["ports"]["ports"][0]["number"], 31000);
    assert_eq!(task["discovery"]["ports"]["ports"][0]["name"], "http");
    assert_eq!(task["container"]["type"], "MESOS");
    assert_eq!(task["container"]["hostname"], "web-1.local");
    assert_eq!(task["user"], "nobody");
    // Mesos' legacy JSON of a task has no health check or kill policy.
    assert!(task.get("health_check").is_none());
}
