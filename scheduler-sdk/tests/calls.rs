//! Every call of the low-level client against our master, with both
//! codecs.

use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::{Event, call};
use mesos_proto::v1::{
    AgentId, ExecutorId, FrameworkInfo, Offer, OfferId, OperationId, OperationState,
    OperationStatus, TaskState, TaskStatus, Uuid,
};
use mesos_scheduler::builders::TaskBuilder;
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::{Client, Events, SchedulerError};
use mesos_testkit::{AgentSpec, Cluster};
use std::time::Duration;

async fn next_where(events: &mut Events, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = events.next().await.expect("the stream stays up");
            if f(&e) {
                return e;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within 20 s"))
}

async fn offers(events: &mut Events) -> Vec<Offer> {
    next_where(events, "offers", |e| e.offers.is_some())
        .await
        .offers
        .unwrap()
        .offers
}

async fn update(events: &mut Events, state: TaskState) -> TaskStatus {
    let e = next_where(events, "update", |e| {
        e.update.as_ref().is_some_and(|u| u.status.state() == state)
    })
    .await;
    e.update.unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_type_against_our_master() {
    for media in [MediaType::Protobuf, MediaType::Json] {
        let cluster = Cluster::start(
            mesos_master::MasterConfig {
                allocation_interval: Duration::from_millis(50),
                ..Default::default()
            },
            vec![AgentSpec::default()],
        )
        .await
        .unwrap();
        let client = Client::new(cluster.addr().to_string().parse().unwrap()).with_media(media);
        let info = FrameworkInfo {
            user: "root".into(),
            name: "calls".into(),
            roles: vec!["calls".into()],
            capabilities: vec![mesos_proto::v1::framework_info::Capability {
                r#type: Some(mesos_proto::v1::framework_info::capability::Type::MultiRole as i32),
            }],
            ..Default::default()
        };
        let (session, mut events) = client.subscribe(info.clone()).await.unwrap();

        // DECLINE, REVIVE, then ACCEPT with a LAUNCH.
        let first = offers(&mut events).await;
        let ids: Vec<OfferId> = first.iter().map(|o| o.id.clone()).collect();
        session
            .decline(ids, Some(mesos_scheduler::client::refuse(3600.0)))
            .await
            .unwrap();
        session.revive(vec![]).await.unwrap();
        let offer = offers(&mut events).await.remove(0);
        let agent = offer.agent_id.clone();
        // Offers name the agent's HTTP endpoint, as Mesos' do.
        let url = offer.url.clone().expect("offers carry the agent's url");
        assert_eq!(
            (url.scheme.as_str(), url.path.as_deref()),
            ("http", Some("/slave(1)"))
        );
        assert!(url.address.port > 0, "{url:?}");
        let resources = OfferResources::new(&offer)
            .take(&Needs::new(0.5, 64.0))
            .unwrap();
        let task = TaskBuilder::new("t1", &agent)
            .shell("sleep 100")
            .resources(resources)
            .build();
        session
            .launch(vec![offer.id], vec![task], None)
            .await
            .unwrap();
        let running = update(&mut events, TaskState::TaskRunning).await;
        assert!(
            running.uuid.is_some(),
            "{media:?}: agent updates carry a uuid"
        );
        session.acknowledge(&running).await.unwrap();

        // SUPPRESS, RECONCILE (explicit and implicit).
        session.suppress(vec![]).await.unwrap();
        session
            .reconcile(vec![(running.task_id.clone(), Some(agent.clone()))])
            .await
            .unwrap();
        let answer = update(&mut events, TaskState::TaskRunning).await;
        assert_eq!(
            answer.reason,
            Some(mesos_proto::v1::task_status::Reason::Reconciliation as i32)
        );
        assert!(answer.uuid.is_none(), "reconciliation answers need no ack");
        session.acknowledge(&answer).await.unwrap();
        session.reconcile(vec![]).await.unwrap();
        update(&mut events, TaskState::TaskRunning).await;

        // MESSAGE, REQUEST, SHUTDOWN, inverse offers: accepted (best effort).
        let executor = ExecutorId { value: "t1".into() };
        session
            .message(agent.clone(), executor.clone(), b"hi".to_vec())
            .await
            .unwrap();
        session.request(vec![]).await.unwrap();
        session
            .accept_inverse_offers(
                vec![OfferId {
                    value: "none".into(),
                }],
                None,
            )
            .await
            .unwrap();
        session
            .decline_inverse_offers(
                vec![OfferId {
                    value: "none".into(),
                }],
                None,
            )
            .await
            .unwrap();

        // UPDATE_FRAMEWORK: the master knows the new name.
        let renamed = FrameworkInfo {
            name: "calls-renamed".into(),
            ..info.clone()
        };
        session.update_framework(renamed, vec![]).await.unwrap();

        // Operations: the master keeps none yet. An acknowledgement of an
        // unknown operation status is accepted and dropped (as in Mesos);
        // RECONCILE_OPERATIONS answers at once, in the call's response.
        let op_status = OperationStatus {
            operation_id: Some(OperationId { value: "op".into() }),
            uuid: Some(Uuid { value: vec![1; 16] }),
            agent_id: Some(agent.clone()),
            ..Default::default()
        };
        session
            .acknowledge_operation_status(&op_status)
            .await
            .unwrap();
        let response = session
            .reconcile_operations(vec![call::reconcile_operations::Operation {
                operation_id: OperationId { value: "op".into() },
                agent_id: Some(agent.clone()),
                resource_provider_id: None,
            }])
            .await
            .unwrap()
            .expect("RECONCILE_OPERATIONS is answered with a response");
        let statuses = response.reconcile_operations.unwrap().operation_statuses;
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].state, OperationState::OperationUnknown as i32);
        assert_eq!(statuses[0].agent_id.as_ref(), Some(&agent));

        // KILL, then SHUTDOWN of the (command) executor, then TEARDOWN.
        session
            .kill(running.task_id.clone(), Some(agent.clone()), None)
            .await
            .unwrap();
        update(&mut events, TaskState::TaskKilled).await;
        session
            .shutdown(
                executor,
                AgentId {
                    value: agent.value.clone(),
                },
            )
            .await
            .unwrap();
        session.teardown().await.unwrap();
        // The framework is gone: its calls are refused now.
        let err = session.revive(vec![]).await.unwrap_err();
        assert!(
            matches!(err, SchedulerError::Refused { .. }),
            "{media:?}: {err}"
        );

        let (code, _, body) = mesos_http::client::Client::default()
            .get(&format!("http://{}/state", cluster.addr()))
            .await
            .unwrap();
        assert_eq!(code, 200);
        let state = String::from_utf8(body).unwrap();
        assert!(
            state.contains("calls-renamed"),
            "{media:?}: UPDATE_FRAMEWORK reached the master"
        );
    }
}
