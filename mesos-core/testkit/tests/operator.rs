//! The operator API and the legacy endpoints, against a live cluster.

use mesos_master::MasterConfig;
use mesos_proto::media::MediaType;
use mesos_proto::resources::Resources;
use mesos_proto::v1::master::{Call as MasterCall, call as mcall};
use mesos_proto::v1::quota::QuotaConfig;
use mesos_proto::v1::scheduler::{Event, call};
use mesos_proto::v1::{FrameworkInfo, Offer, TaskState, WeightInfo, value};
use mesos_testkit::{
    AgentSpec, Cluster, RawScheduler, TaskScript, TestClient, TestkitError, partition_aware,
    sleep_task,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn config() -> MasterConfig {
    MasterConfig {
        allocation_interval: Duration::from_millis(20),
        ..Default::default()
    }
}

fn agents(n: usize, resources: &str) -> Vec<AgentSpec> {
    (0..n)
        .map(|i| AgentSpec {
            hostname: format!("agent-{i}"),
            resources: resources.into(),
            attributes: format!("rack:r{i};zone:a"),
            script: TaskScript::Run,
            retry: Duration::from_millis(100),
        })
        .collect()
}

fn framework(name: &str, role: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        role: Some(role.into()),
        capabilities: partition_aware(true),
        ..Default::default()
    }
}

fn offers(e: &Event) -> Vec<Offer> {
    e.offers.clone().map(|o| o.offers).unwrap_or_default()
}

/// Accepts `offer` with one task using all of it.
async fn launch_all(s: &RawScheduler, offer: &Offer, id: &str) {
    let all = Resources::from_resources(offer.resources.clone())
        .unwrap()
        .unallocate();
    let t = sleep_task(id, &offer.agent_id, &all.to_string());
    assert_eq!(
        s.call(&s.launch_call(&[&offer.id], vec![t], None))
            .await
            .unwrap()
            .0,
        202
    );
}

fn operator(ty: mcall::Type) -> MasterCall {
    MasterCall {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

async fn get_json(client: &TestClient, url: &str) -> Value {
    client
        .get_json(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// The string member `key` of each object in the array `list`.
fn strs<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap())
        .collect()
}

/// Launches one task per agent for a partition-aware framework and waits
/// until all run.
async fn running_cluster(n: usize) -> (Cluster, RawScheduler) {
    let cluster = Cluster::start(config(), agents(n, "cpus:2;mem:1024;ports:[31000-31009]"))
        .await
        .unwrap();
    let mut s = RawScheduler::subscribe(cluster.addr(), framework("ops", "web"), MediaType::Json)
        .await
        .unwrap();
    let mut launched = 0;
    let mut running = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {running} running"
        );
        for e in s.drain(Duration::from_millis(30)).await {
            for o in offers(&e) {
                launch_all(&s, &o, &format!("t{launched}")).await;
                launched += 1;
            }
            if let Some(u) = &e.update {
                if u.status.state == TaskState::TaskRunning as i32 {
                    running += 1;
                    assert_eq!(s.acknowledge(&u.status).await.unwrap(), 202);
                }
            }
        }
    }
    (cluster, s)
}

#[tokio::test]
async fn legacy_endpoints_show_the_cluster_in_mesos_shapes() {
    let (cluster, s) = running_cluster(2).await;
    let client = TestClient::default();
    let base = format!("http://{}", cluster.addr());

    let state = get_json(&client, &format!("{base}/state")).await;
    assert_eq!(state["version"], "1.11.0");
    assert_eq!(state["leader"], state["pid"]);
    assert!(
        state["pid"]
            .as_str()
            .unwrap()
            .starts_with("master@127.0.0.1:")
    );
    assert_eq!(state["leader_info"]["port"], cluster.addr().port());
    assert_eq!(state["activated_slaves"], 2.0);
    assert_eq!(state["flags"]["allocation_interval"], "0.02secs");
    let slaves = state["slaves"].as_array().unwrap();
    assert_eq!(slaves.len(), 2);
    for slave in slaves {
        assert_eq!(slave["resources"]["cpus"], 2.0);
        assert_eq!(slave["resources"]["ports"], "[31000-31009]");
        assert_eq!(slave["used_resources"]["cpus"], 2.0);
        assert_eq!(slave["attributes"]["zone"], "a");
        assert!(slave["hostname"].as_str().unwrap().starts_with("agent-"));
    }
    let fw = &state["frameworks"][0];
    assert_eq!(fw["id"], s.framework_id().as_str());
    assert_eq!(fw["role"], "web");
    assert_eq!(fw["capabilities"][0], "PARTITION_AWARE");
    assert_eq!(fw["used_resources"]["cpus"], 4.0);
    let tasks = fw["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["state"], "TASK_RUNNING");
    assert_eq!(tasks[0]["framework_id"], s.framework_id().as_str());
    assert_eq!(tasks[0]["role"], "web");
    assert_eq!(tasks[0]["statuses"][0]["state"], "TASK_RUNNING");
    for alias in ["/master/state", "/state.json"] {
        let again = get_json(&client, &format!("{base}{alias}")).await;
        assert_eq!(again["frameworks"][0]["id"], fw["id"]);
    }

    let summary = get_json(&client, &format!("{base}/state-summary")).await;
    assert_eq!(summary["slaves"][0]["TASK_RUNNING"], 1.0);
    assert_eq!(summary["frameworks"][0]["TASK_RUNNING"], 2.0);
    assert_eq!(
        summary["frameworks"][0]["slave_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let page = get_json(&client, &format!("{base}/tasks?limit=1")).await;
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1);
    let all = get_json(&client, &format!("{base}/tasks?limit=-1&order=asc")).await;
    assert_eq!(all["tasks"].as_array().unwrap().len(), 2);
    let skipped = get_json(&client, &format!("{base}/tasks?offset=1")).await;
    assert_eq!(skipped["tasks"].as_array().unwrap().len(), 1);
    let (status, _, body) = client.get(&format!("{base}/tasks?order=up")).await.unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("'order'"));

    let frameworks = get_json(&client, &format!("{base}/frameworks")).await;
    assert_eq!(frameworks["frameworks"].as_array().unwrap().len(), 1);
    let slaves = get_json(&client, &format!("{base}/slaves")).await;
    assert_eq!(slaves["slaves"].as_array().unwrap().len(), 2);
    let roles = get_json(&client, &format!("{base}/roles")).await;
    let web = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .unwrap();
    assert_eq!(web["resources"]["cpus"], 4.0);
    assert_eq!(web["frameworks"][0], s.framework_id().as_str());
    let flags = get_json(&client, &format!("{base}/flags")).await;
    assert_eq!(flags["flags"]["registry"], "in_memory");

    let metrics = get_json(&client, &format!("{base}/metrics/snapshot")).await;
    assert_eq!(metrics["master/elected"], 1.0);
    assert_eq!(metrics["master/tasks_running"], 2.0);
    assert_eq!(metrics["master/slaves_active"], 2.0);
    assert_eq!(metrics["master/cpus_total"], 4.0);
    assert_eq!(metrics["master/cpus_used"], 4.0);
    // The role's tasks hold the whole cluster's cpus.
    assert_eq!(metrics["allocator/mesos/roles/web/shares/dominant"], 1.0);
    // The loop counts its turns (ours, not Mesos').
    assert!(metrics["master/event_loop/turns"].as_f64().unwrap() > 0.0);
    assert!(
        metrics["master/event_loop/longest_turn_ms"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for name in [
        "master/event_loop/turns_over_10ms_on_cpu",
        "master/event_loop/longest_turn_cpu_ms",
    ] {
        assert!(metrics[name].as_f64().is_some(), "{name}");
    }
    assert_eq!(metrics["master/frameworks_active"], 1.0);
    let (status, headers, body) = client.get(&format!("{base}/metrics")).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("# TYPE master_tasks_running gauge\nmaster_tasks_running 2\n"),
        "{text}"
    );

    let (status, headers, _) = client.get(&format!("{base}/redirect")).await.unwrap();
    assert_eq!(status, 307);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("//127.0.0.1:{}", cluster.addr().port())
    );
}

/// The legacy endpoints remember each task's JSON and keep usage sums as
/// tasks change: what they show after a change must be the change, not
/// what an earlier read remembered.
#[tokio::test]
async fn legacy_endpoints_show_a_change_after_an_earlier_read() {
    let (cluster, mut s) = running_cluster(2).await;
    let client = TestClient::default();
    let base = format!("http://{}", cluster.addr());
    let before = get_json(&client, &format!("{base}/state")).await;
    let tasks = before["frameworks"][0]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    let victim = tasks[0]["id"].as_str().unwrap().to_string();
    let agent = mesos_proto::v1::AgentId {
        value: tasks[0]["slave_id"].as_str().unwrap().to_string(),
    };

    let (status, _) = s.call(&s.kill_call(&victim, &agent)).await.unwrap();
    assert_eq!(status, 202);
    let update = s.next_update(WAIT).await.unwrap();
    assert_eq!(update.state, TaskState::TaskKilled as i32);
    assert_eq!(update.task_id.value, victim);

    let after = get_json(&client, &format!("{base}/state")).await;
    let fw = &after["frameworks"][0];
    let live = strs(&fw["tasks"], "id");
    assert_eq!(live.len(), 1);
    assert!(!live.contains(&victim.as_str()));
    // Not acknowledged yet: among the completed ones, as killed.
    let done = &fw["completed_tasks"][0];
    assert_eq!(done["id"], victim.as_str());
    assert_eq!(done["state"], "TASK_KILLED");
    // Every state it went through, as Mesos keeps them.
    assert_eq!(
        strs(&done["statuses"], "state"),
        ["TASK_RUNNING", "TASK_KILLED"]
    );
    assert_eq!(fw["used_resources"]["cpus"], 2.0, "{fw:#}");
    let slave_of = |state: &Value| -> Value {
        state["slaves"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == agent.value.as_str())
            .cloned()
            .unwrap()
    };
    assert_eq!(slave_of(&before)["used_resources"]["cpus"], 2.0);
    let freed = slave_of(&after);
    assert_eq!(freed["used_resources"]["cpus"], 0.0);
    assert_eq!(freed["used_resources_full"], serde_json::json!([]));
    let slaves = get_json(&client, &format!("{base}/slaves")).await;
    assert_eq!(slave_of(&slaves)["used_resources"]["cpus"], 0.0);
    // Mesos' summary shows what tasks use, not what is offered.
    let summary = get_json(&client, &format!("{base}/state-summary")).await;
    assert_eq!(slave_of(&summary)["used_resources"]["cpus"], 0.0);
    assert_eq!(summary["frameworks"][0]["used_resources"]["cpus"], 2.0);
    let page = get_json(&client, &format!("{base}/tasks?limit=-1")).await;
    let killed = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == victim.as_str())
        .cloned()
        .unwrap();
    assert_eq!(killed["state"], "TASK_KILLED");
}

#[tokio::test]
async fn operator_calls_change_the_cluster_and_refuse_bad_input() {
    let (cluster, mut s) = running_cluster(2).await;
    let client = TestClient::default();
    let addr = cluster.addr();

    // GET_STATE and GET_TASKS list the running tasks.
    let state = client
        .operator_get(addr, mcall::Type::GetState)
        .await
        .unwrap()
        .get_state
        .unwrap();
    assert_eq!(state.get_tasks.unwrap().tasks.len(), 2);
    assert_eq!(state.get_agents.unwrap().agents.len(), 2);

    // Bad weights and quota are refused with the reason.
    let mut weights = operator(mcall::Type::UpdateWeights);
    weights.update_weights = Some(mcall::UpdateWeights {
        weight_infos: vec![WeightInfo {
            weight: -1.0,
            role: Some("web".into()),
        }],
    });
    match client.operator(addr, &weights).await {
        Err(TestkitError::Status { status: 400, body }) => {
            assert!(body.contains("weights must be positive"), "{body}")
        }
        other => panic!("{other:?}"),
    }
    let mut quota = operator(mcall::Type::UpdateQuota);
    quota.update_quota = Some(mcall::UpdateQuota {
        force: None,
        quota_configs: vec![QuotaConfig {
            role: "web".into(),
            guarantees: BTreeMap::from([("cpus".to_string(), value::Scalar { value: 4.0 })]),
            limits: BTreeMap::from([("cpus".to_string(), value::Scalar { value: 2.0 })]),
        }],
    });
    match client.operator(addr, &quota).await {
        Err(TestkitError::Status { status: 400, body }) => {
            assert!(body.contains("above its limit"), "{body}")
        }
        other => panic!("{other:?}"),
    }
    // Valid ones show in GET_ROLES.
    weights.update_weights.as_mut().unwrap().weight_infos[0].weight = 4.0;
    client.operator(addr, &weights).await.unwrap();
    let roles = client
        .operator_get(addr, mcall::Type::GetRoles)
        .await
        .unwrap()
        .get_roles
        .unwrap()
        .roles;
    assert_eq!(roles.iter().find(|r| r.name == "web").unwrap().weight, 4.0);

    // MARK_AGENT_GONE: unknown agents are 404; a known one's task becomes
    // TASK_GONE_BY_OPERATOR and the agent may not come back.
    let mut gone = operator(mcall::Type::MarkAgentGone);
    gone.mark_agent_gone = Some(mcall::MarkAgentGone {
        agent_id: "nope".into(),
    });
    assert!(matches!(
        client.operator(addr, &gone).await,
        Err(TestkitError::Status { status: 404, .. })
    ));
    let victim = cluster.agents[0].agent_id();
    gone.mark_agent_gone = Some(mcall::MarkAgentGone {
        agent_id: victim.clone(),
    });
    client.operator(addr, &gone).await.unwrap();
    let update = s
        .wait_for(WAIT, |e| {
            e.update
                .as_ref()
                .is_some_and(|u| u.status.state == TaskState::TaskGoneByOperator as i32)
        })
        .await
        .unwrap()
        .update
        .unwrap();
    assert_eq!(update.status.agent_id.as_ref(), Some(&victim));
    let agents = client
        .operator_get(addr, mcall::Type::GetAgents)
        .await
        .unwrap()
        .get_agents
        .unwrap();
    assert_eq!(agents.agents.len(), 1);
    // Marking it again is a no-op.
    client.operator(addr, &gone).await.unwrap();
    // Reconciling a task and an operation the master does not know on the
    // gone agent: TASK_GONE_BY_OPERATOR and OPERATION_GONE_BY_OPERATOR.
    assert_eq!(s.reconcile(&[("ghost", Some(&victim))]).await.unwrap(), 202);
    let ghost = s
        .wait_for(WAIT, |e| {
            e.update
                .as_ref()
                .is_some_and(|u| u.status.task_id.as_str() == "ghost")
        })
        .await
        .unwrap()
        .update
        .unwrap()
        .status;
    assert_eq!(ghost.state, TaskState::TaskGoneByOperator as i32);
    let ops = s
        .reconcile_operations(&[("op", Some(&victim))])
        .await
        .unwrap();
    assert_eq!(
        ops[0].state,
        mesos_proto::v1::OperationState::OperationGoneByOperator as i32
    );

    // TEARDOWN ends the framework; unknown ids are refused.
    let mut teardown = operator(mcall::Type::Teardown);
    teardown.teardown = Some(mcall::Teardown {
        framework_id: "nope".into(),
    });
    assert!(matches!(
        client.operator(addr, &teardown).await,
        Err(TestkitError::Status { status: 400, .. })
    ));
    teardown.teardown = Some(mcall::Teardown {
        framework_id: s.framework_id().clone(),
    });
    client.operator(addr, &teardown).await.unwrap();
    let frameworks = client
        .operator_get(addr, mcall::Type::GetFrameworks)
        .await
        .unwrap()
        .get_frameworks
        .unwrap();
    assert!(frameworks.frameworks.is_empty());
    assert_eq!(frameworks.completed_frameworks.len(), 1);
    let tasks = client
        .operator_get(addr, mcall::Type::GetTasks)
        .await
        .unwrap()
        .get_tasks
        .unwrap();
    assert!(tasks.tasks.is_empty());
    assert_eq!(tasks.completed_tasks.len(), 2);
    // The surviving agent is told to shut the framework down.
    let deadline = tokio::time::Instant::now() + WAIT;
    while cluster.agents[1]
        .tasks()
        .values()
        .any(|t| t.state != TaskState::TaskKilled)
    {
        assert!(tokio::time::Instant::now() < deadline, "tasks not killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_quota_guarantee_is_met_before_fair_share() {
    let mut cluster = Cluster::start(config(), Vec::new()).await.unwrap();
    let client = TestClient::default();
    let mut quota = operator(mcall::Type::UpdateQuota);
    quota.update_quota = Some(mcall::UpdateQuota {
        force: None,
        quota_configs: vec![QuotaConfig {
            role: "q".into(),
            guarantees: BTreeMap::from([("cpus".to_string(), value::Scalar { value: 6.0 })]),
            limits: BTreeMap::new(),
        }],
    });
    client.operator(cluster.addr(), &quota).await.unwrap();
    let mut fair = RawScheduler::subscribe(cluster.addr(), framework("fair", "a"), MediaType::Json)
        .await
        .unwrap();
    let mut quoted = RawScheduler::subscribe(
        cluster.addr(),
        framework("quoted", "q"),
        MediaType::Protobuf,
    )
    .await
    .unwrap();
    cluster
        .add_agents(agents(10, "cpus:1;mem:1024"))
        .await
        .unwrap();
    let mut held = BTreeMap::from([("fair", 0.0), ("quoted", 0.0)]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while held.values().sum::<f64>() < 10.0 {
        assert!(tokio::time::Instant::now() < deadline, "only {held:?}");
        for (name, s) in [("fair", &mut fair), ("quoted", &mut quoted)] {
            for e in s.drain(Duration::from_millis(30)).await {
                for o in offers(&e) {
                    let n = held[name];
                    launch_all(s, &o, &format!("{name}-{n}")).await;
                    *held.get_mut(name).unwrap() += Resources::from_resources(o.resources.clone())
                        .unwrap()
                        .cpus()
                        .unwrap_or(0.0);
                }
            }
        }
    }
    // Without quota DRF would split 5:5.
    assert_eq!(held, BTreeMap::from([("fair", 4.0), ("quoted", 6.0)]));
}

/// Reads operator events until one of type `ty` arrives.
async fn next_of(
    stream: &mut mesos_testkit::RecordStream,
    ty: mesos_proto::v1::master::event::Type,
) -> mesos_proto::v1::master::Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let record = stream
            .next(left)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("stream ended before {ty:?}"));
        let event: mesos_proto::v1::master::Event = MediaType::Json.decode(&record).unwrap();
        if event.r#type == Some(ty as i32) {
            return event;
        }
    }
}

#[tokio::test]
async fn operator_subscribe_streams_the_state_then_every_change() {
    use mesos_proto::v1::master::event::Type as E;
    let mut cluster = Cluster::start(
        MasterConfig {
            heartbeat_interval: Duration::from_millis(200),
            ..config()
        },
        agents(1, "cpus:2;mem:1024"),
    )
    .await
    .unwrap();
    let client = TestClient::default();
    let resp = client
        .post_ok(
            &format!("http://{}/api/v1", cluster.addr()),
            &[("Content-Type", "application/json")],
            br#"{"type":"SUBSCRIBE"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert!(resp.headers().get("Mesos-Stream-Id").is_none());
    let mut stream = mesos_testkit::RecordStream::new(resp.into_body());
    let subscribed = next_of(&mut stream, E::Subscribed)
        .await
        .subscribed
        .unwrap();
    assert_eq!(
        subscribed
            .get_state
            .unwrap()
            .get_agents
            .unwrap()
            .agents
            .len(),
        1
    );

    let mut s = RawScheduler::subscribe(cluster.addr(), framework("watched", "r"), MediaType::Json)
        .await
        .unwrap();
    let added = next_of(&mut stream, E::FrameworkAdded).await;
    assert_eq!(
        added
            .framework_added
            .unwrap()
            .framework
            .framework_info
            .id
            .as_ref(),
        Some(s.framework_id())
    );
    let offer = s.wait_for(WAIT, |e| e.offers.is_some()).await.unwrap();
    launch_all(&s, &offers(&offer)[0], "seen").await;
    let task = next_of(&mut stream, E::TaskAdded)
        .await
        .task_added
        .unwrap()
        .task;
    assert_eq!(task.task_id.as_str(), "seen");
    assert_eq!(task.state, TaskState::TaskStaging as i32);
    let updated = next_of(&mut stream, E::TaskUpdated)
        .await
        .task_updated
        .unwrap();
    assert_eq!(updated.state, TaskState::TaskRunning as i32);
    assert_eq!(&updated.framework_id, s.framework_id());
    next_of(&mut stream, E::Heartbeat).await;

    cluster
        .add_agents(agents(1, "cpus:1;mem:512"))
        .await
        .unwrap();
    let agent = next_of(&mut stream, E::AgentAdded)
        .await
        .agent_added
        .unwrap()
        .agent;
    assert_eq!(agent.agent_info.id, Some(cluster.agents[1].agent_id()));
    let mut gone = operator(mcall::Type::MarkAgentGone);
    gone.mark_agent_gone = Some(mcall::MarkAgentGone {
        agent_id: cluster.agents[1].agent_id(),
    });
    client.operator(cluster.addr(), &gone).await.unwrap();
    let removed = next_of(&mut stream, E::AgentRemoved).await;
    assert_eq!(
        removed.agent_removed.unwrap().agent_id,
        cluster.agents[1].agent_id()
    );

    assert_eq!(
        s.call(&s.call_of(call::Type::Teardown)).await.unwrap().0,
        202
    );
    let removed = next_of(&mut stream, E::FrameworkRemoved).await;
    assert_eq!(
        removed
            .framework_removed
            .unwrap()
            .framework_info
            .id
            .as_ref(),
        Some(s.framework_id())
    );
    let _ = s.drain(Duration::from_millis(10)).await;
}

/// The agents the registry holds, by id.
async fn registry_agents(store: &mesos_state::AnyStore) -> Vec<String> {
    use mesos_state::Store;
    let mut keys = store.list("registry/agents/").await.unwrap();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_gc_forgets_the_oldest_gone_agents_beyond_the_limit() {
    let store = std::sync::Arc::new(mesos_state::AnyStore::Memory(
        mesos_state::MemoryStore::new(),
    ));
    let config = MasterConfig {
        port: 0,
        allocation_interval: Duration::from_millis(50),
        registry: mesos_master::RegistryConfig::Store(store.clone()),
        registry_max_agent_count: 1,
        registry_gc_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let cluster = Cluster::start(config, agents(2, "cpus:1;mem:512"))
        .await
        .unwrap();
    let client = TestClient::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while registry_agents(&store).await.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "agents never admitted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Admitted agents are never pruned: two gone ones, the first older.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(registry_agents(&store).await.len(), 2);
    for agent in &cluster.agents {
        let mut gone = operator(mcall::Type::MarkAgentGone);
        gone.mark_agent_gone = Some(mcall::MarkAgentGone {
            agent_id: agent.agent_id(),
        });
        client.operator(cluster.addr(), &gone).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let newest = format!("registry/agents/{}", cluster.agents[1].agent_id());
    loop {
        let left = registry_agents(&store).await;
        if left == [newest.clone()] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the registry still holds {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Within the limit: the newest stays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(registry_agents(&store).await, [newest]);
}
