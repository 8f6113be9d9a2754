//! The scheduler and operator APIs over real HTTP on loopback, checked
//! against Mesos' documented behaviour.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesos_master::{Master, MasterConfig};
use mesos_proto::media::MediaType;
use mesos_proto::recordio::Decoder;
use mesos_proto::v1::scheduler::{Call, Event, call, event};
use mesos_proto::v1::{FrameworkId, FrameworkInfo, TaskId, TaskState, framework_info, task_status};
use std::time::Duration;

/// Generous bound for anything the master should do promptly.
const WAIT: Duration = Duration::from_secs(10);

struct Harness {
    master: Option<Master>,
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Harness {
    async fn start() -> Harness {
        let master = Master::start(MasterConfig {
            port: 0,
            heartbeat_interval: Duration::from_millis(200),
            max_request_body: 64 * 1024,
            ..Default::default()
        })
        .await
        .unwrap();
        let base = format!("http://{}", master.addr());
        Harness {
            master: Some(master),
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response<Incoming> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).unwrap();
        tokio::time::timeout(WAIT, self.client.request(req))
            .await
            .expect("request timed out")
            .unwrap()
    }

    /// POSTs a scheduler call.
    async fn call(
        &self,
        media: MediaType,
        stream_id: Option<&str>,
        call: &Call,
    ) -> Response<Incoming> {
        let mut headers = vec![("Content-Type", media.as_str()), ("Accept", media.as_str())];
        if let Some(id) = stream_id {
            headers.push(("Mesos-Stream-Id", id));
        }
        self.request("POST", "/api/v1/scheduler", &headers, media.encode(call))
            .await
    }

    async fn subscribe(&self, media: MediaType, info: FrameworkInfo) -> Subscription {
        let call = Call {
            framework_id: info.id.clone(),
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: info,
                ..Default::default()
            }),
            ..Default::default()
        };
        let resp = self.call(media, None, &call).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], media.as_str());
        let stream_id = resp.headers()["mesos-stream-id"]
            .to_str()
            .unwrap()
            .to_string();
        let mut sub = Subscription {
            media,
            stream_id,
            body: resp.into_body(),
            decoder: Decoder::new(1 << 20),
            framework_id: FrameworkId::default(),
        };
        let first = sub.next().await.expect("a SUBSCRIBED event");
        assert_eq!(first.r#type, Some(event::Type::Subscribed as i32));
        sub.framework_id = first.subscribed.unwrap().framework_id;
        sub
    }
}

struct Subscription {
    media: MediaType,
    stream_id: String,
    body: Incoming,
    decoder: Decoder,
    framework_id: FrameworkId,
}

impl Subscription {
    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(record) = self.decoder.next_record().unwrap() {
                return Some(self.media.decode(&record).unwrap());
            }
            let frame = tokio::time::timeout(WAIT, self.body.frame())
                .await
                .expect("no event in time")?;
            if let Ok(data) = frame.unwrap().into_data() {
                self.decoder.feed(&data);
            }
        }
    }

    /// The next event other than a heartbeat.
    async fn next_non_heartbeat(&mut self) -> Option<Event> {
        loop {
            let e = self.next().await?;
            if e.r#type != Some(event::Type::Heartbeat as i32) {
                return Some(e);
            }
        }
    }

    fn call(&self, ty: call::Type) -> Call {
        Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(ty as i32),
            ..Default::default()
        }
    }
}

fn framework(name: &str, capabilities: &[framework_info::capability::Type]) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        capabilities: capabilities
            .iter()
            .map(|c| framework_info::Capability {
                r#type: Some(*c as i32),
            })
            .collect(),
        ..Default::default()
    }
}

async fn text(resp: Response<Incoming>) -> String {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn subscribe_streams_subscribed_then_heartbeats_in_both_encodings() {
    let h = Harness::start().await;
    for media in [MediaType::Json, MediaType::Protobuf] {
        let call = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: framework("hello", &[]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let resp = h.call(media, None, &call).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], media.as_str());
        let stream_id = resp.headers()["mesos-stream-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(stream_id.len(), 36, "a UUID");
        let mut sub = Subscription {
            media,
            stream_id,
            body: resp.into_body(),
            decoder: Decoder::new(1 << 20),
            framework_id: FrameworkId::default(),
        };
        let subscribed = sub.next().await.unwrap().subscribed.unwrap();
        assert!(!subscribed.framework_id.value.is_empty());
        assert_eq!(subscribed.heartbeat_interval_seconds, Some(0.2));
        let info = subscribed.master_info.unwrap();
        assert_eq!(info.version.as_deref(), Some("1.11.0"));
        assert_eq!(
            info.address.unwrap().port,
            i32::from(h.master.as_ref().unwrap().addr().port())
        );
        assert_eq!(info.ip, u32::from_le_bytes([127, 0, 0, 1]));
        let beat = sub.next().await.unwrap();
        assert_eq!(beat.r#type, Some(event::Type::Heartbeat as i32));
    }
}

#[tokio::test]
async fn calls_need_a_subscription_and_its_stream_id() {
    let h = Harness::start().await;
    // Before subscribing: 403.
    let revive = Call {
        framework_id: Some(FrameworkId::new("nobody")),
        r#type: Some(call::Type::Revive as i32),
        ..Default::default()
    };
    let resp = h.call(MediaType::Json, Some("x"), &revive).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(text(resp).await, "Framework nobody is not subscribed");
    let mut no_id = revive.clone();
    no_id.framework_id = None;
    let resp = h.call(MediaType::Json, Some("x"), &no_id).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(text(resp).await, "Expecting 'framework_id' to be present");

    let sub = h.subscribe(MediaType::Json, framework("f", &[])).await;
    let revive = sub.call(call::Type::Revive);
    let resp = h.call(MediaType::Json, None, &revive).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        text(resp).await,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
    );
    let resp = h.call(MediaType::Json, Some("wrong"), &revive).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(text(resp).await.contains("didn't match the stream ID"));
    let resp = h.call(MediaType::Json, Some(&sub.stream_id), &revive).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = h
        .call(
            MediaType::Protobuf,
            Some(&sub.stream_id),
            &sub.call(call::Type::Suppress),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    // SUBSCRIBE must not carry a stream id.
    let mut subscribe = sub.call(call::Type::Subscribe);
    subscribe.subscribe = Some(call::Subscribe {
        framework_info: framework("f", &[]),
        ..Default::default()
    });
    let resp = h
        .call(MediaType::Json, Some(&sub.stream_id), &subscribe)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        text(resp).await,
        "Subscribe calls should not include the 'Mesos-Stream-Id' header"
    );
}

#[tokio::test]
async fn a_newer_subscription_ends_the_older_one() {
    let h = Harness::start().await;
    let mut first = h.subscribe(MediaType::Json, framework("f", &[])).await;
    let mut info = framework("f", &[]);
    info.id = Some(first.framework_id.clone());
    let second = h.subscribe(MediaType::Protobuf, info).await;
    assert_eq!(second.framework_id, first.framework_id, "same framework");
    assert_ne!(second.stream_id, first.stream_id);

    let error = first.next_non_heartbeat().await.unwrap();
    assert_eq!(error.error.unwrap().message, "Framework failed over");
    assert!(first.next().await.is_none(), "the old stream ends");

    let revive = second.call(call::Type::Revive);
    let resp = h
        .call(MediaType::Json, Some(&first.stream_id), &revive)
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "the old stream id is void"
    );
    let resp = h
        .call(MediaType::Json, Some(&second.stream_id), &revive)
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn teardown_ends_the_framework_for_good() {
    let h = Harness::start().await;
    let mut sub = h.subscribe(MediaType::Json, framework("f", &[])).await;
    let resp = h
        .call(
            MediaType::Json,
            Some(&sub.stream_id),
            &sub.call(call::Type::Teardown),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(sub.next_non_heartbeat().await.is_none(), "the stream ends");

    let mut info = framework("f", &[]);
    info.id = Some(sub.framework_id.clone());
    let call = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    };
    let resp = h.call(MediaType::Json, None, &call).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(text(resp).await.contains("has been removed"));
}

#[tokio::test]
async fn unknown_tasks_reconcile_by_partition_awareness() {
    use framework_info::capability::Type::PartitionAware;
    let h = Harness::start().await;
    for (caps, want) in [
        (vec![], TaskState::TaskLost),
        (vec![PartitionAware], TaskState::TaskUnknown),
    ] {
        let mut sub = h.subscribe(MediaType::Json, framework("f", &caps)).await;
        let mut reconcile = sub.call(call::Type::Reconcile);
        reconcile.reconcile = Some(call::Reconcile {
            tasks: vec![call::reconcile::Task {
                task_id: TaskId::new("ghost"),
                ..Default::default()
            }],
        });
        let resp = h
            .call(MediaType::Json, Some(&sub.stream_id), &reconcile)
            .await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let status = sub
            .next_non_heartbeat()
            .await
            .unwrap()
            .update
            .unwrap()
            .status;
        assert_eq!(status.task_id.as_str(), "ghost");
        assert_eq!(status.state, want as i32);
        assert_eq!(
            status.reason,
            Some(task_status::Reason::Reconciliation as i32)
        );
        assert_eq!(status.source, Some(task_status::Source::Master as i32));
        assert!(
            status.uuid.is_none(),
            "master updates need no acknowledgement"
        );
    }
}

#[tokio::test]
async fn launching_on_an_unknown_offer_is_answered_per_task() {
    use mesos_proto::v1::offer::{Operation, operation};
    let h = Harness::start().await;
    let mut sub = h.subscribe(MediaType::Json, framework("f", &[])).await;
    let mut accept = sub.call(call::Type::Accept);
    accept.accept = Some(call::Accept {
        offer_ids: vec![mesos_proto::v1::OfferId::new("no-such-offer")],
        operations: vec![Operation {
            r#type: Some(operation::Type::Launch as i32),
            launch: Some(operation::Launch {
                task_infos: vec![mesos_proto::v1::TaskInfo {
                    name: "t".into(),
                    task_id: TaskId::new("t1"),
                    agent_id: mesos_proto::v1::AgentId::new("a"),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }],
        filters: None,
    });
    let resp = h.call(MediaType::Json, Some(&sub.stream_id), &accept).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let status = sub
        .next_non_heartbeat()
        .await
        .unwrap()
        .update
        .unwrap()
        .status;
    assert_eq!(status.task_id.as_str(), "t1");
    assert_eq!(status.state, TaskState::TaskLost as i32);
    assert_eq!(
        status.reason,
        Some(task_status::Reason::InvalidOffers as i32)
    );
    assert!(status.message.unwrap().contains("no-such-offer"));
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_the_master_keeps_serving() {
    let h = Harness::start().await;
    let json = [("Content-Type", "application/json")];
    // (method, headers, body, expected status, expected message part)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        ("GET", vec![], vec![], StatusCode::METHOD_NOT_ALLOWED, "Expecting a 'POST' request"),
        ("POST", vec![], b"{}".to_vec(), StatusCode::BAD_REQUEST, "Expecting 'Content-Type' to be present"),
        ("POST", vec![("Content-Type", "text/plain")], vec![], StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/x-protobuf"),
        ("POST", vec![("Content-Type", "application/json"), ("Accept", "text/html")], b"{}".to_vec(), StatusCode::NOT_ACCEPTABLE, "Expecting 'Accept'"),
        ("POST", json.to_vec(), b"{\"type\":".to_vec(), StatusCode::BAD_REQUEST, "Failed to parse body into Call protobuf: "),
        ("POST", json.to_vec(), br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u"}}}"#.to_vec(), StatusCode::BAD_REQUEST, "subscribe.framework_info: missing required field `name`"),
        ("POST", vec![("Content-Type", "application/x-protobuf")], vec![0xff; 10], StatusCode::BAD_REQUEST, "Failed to parse body into Call protobuf"),
        ("POST", json.to_vec(), vec![b' '; 65 * 1024], StatusCode::PAYLOAD_TOO_LARGE, ""),
        ("POST", json.to_vec(), br#"{"type":"SUBSCRIBE"}"#.to_vec(), StatusCode::BAD_REQUEST, "Expecting 'subscribe' to be present"),
        ("POST", json.to_vec(), br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","roles":["a"]}}}"#.to_vec(), StatusCode::BAD_REQUEST, "requires the MULTI_ROLE capability"),
        ("POST", json.to_vec(), br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","role":"a//b"}}}"#.to_vec(), StatusCode::BAD_REQUEST, "empty component"),
    ];
    for (method, headers, body, status, message) in cases {
        let resp = h.request(method, "/api/v1/scheduler", &headers, body).await;
        assert_eq!(resp.status(), status, "{method} {headers:?}");
        let body = text(resp).await;
        assert!(
            body.contains(message),
            "{method} {headers:?}: {body:?} should mention {message:?}"
        );
    }
    // A call without its message is refused by name.
    let sub = h.subscribe(MediaType::Json, framework("f", &[])).await;
    let resp = h
        .call(
            MediaType::Json,
            Some(&sub.stream_id),
            &sub.call(call::Type::ReconcileOperations),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        text(resp)
            .await
            .contains("Expecting 'reconcile_operations' to be present")
    );
    // Still serving.
    let sub = h.subscribe(MediaType::Protobuf, framework("g", &[])).await;
    assert!(!sub.framework_id.value.is_empty());
}

#[tokio::test]
async fn operator_api_and_legacy_endpoints() {
    use mesos_proto::v1::master::{Call as MCall, Response as MResponse, call as mcall};
    let h = Harness::start().await;
    let mut visible = framework("visible", &[]);
    visible.failover_timeout = Some(3600.0);
    let mut sub = h.subscribe(MediaType::Json, visible).await;
    let ask = |ty: mcall::Type, media: MediaType| {
        let body = media.encode(&MCall {
            r#type: Some(ty as i32),
            ..Default::default()
        });
        let h = &h;
        async move {
            let resp = h
                .request(
                    "POST",
                    "/api/v1",
                    &[("Content-Type", media.as_str()), ("Accept", media.as_str())],
                    body,
                )
                .await;
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, bytes)
        }
    };
    for media in [MediaType::Json, MediaType::Protobuf] {
        let (status, body) = ask(mcall::Type::GetHealth, media).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            media
                .decode::<MResponse>(&body)
                .unwrap()
                .get_health
                .unwrap()
                .healthy
        );
        let (_, body) = ask(mcall::Type::GetVersion, media).await;
        let version = media
            .decode::<MResponse>(&body)
            .unwrap()
            .get_version
            .unwrap();
        assert_eq!(version.version_info.version, "1.11.0");
        let (_, body) = ask(mcall::Type::GetMaster, media).await;
        let master = media
            .decode::<MResponse>(&body)
            .unwrap()
            .get_master
            .unwrap();
        assert!(master.start_time.unwrap() > 1.6e9);
        let (_, body) = ask(mcall::Type::GetFrameworks, media).await;
        let frameworks = media
            .decode::<MResponse>(&body)
            .unwrap()
            .get_frameworks
            .unwrap()
            .frameworks;
        assert_eq!(frameworks.len(), 1);
        assert_eq!(frameworks[0].framework_info.name, "visible");
        assert!(frameworks[0].connected);
    }
    let (status, _) = ask(mcall::Type::GetTasks, MediaType::Json).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ask(mcall::Type::StartMaintenance, MediaType::Json).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(String::from_utf8_lossy(&body).contains("Maintenance is not supported yet"));

    let version = text(h.request("GET", "/version", &[], vec![]).await).await;
    assert!(version.contains(r#""version":"1.11.0""#), "{version}");
    assert_eq!(
        h.request("GET", "/health", &[], vec![]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        h.request("GET", "/master/health", &[], vec![])
            .await
            .status(),
        StatusCode::OK
    );

    // A closed stream disconnects the framework (seen within a few
    // heartbeats); with an hour of failover timeout it stays known.
    let _ = sub.next().await;
    drop(sub);
    let frameworks = || async {
        let (_, body) = ask(mcall::Type::GetFrameworks, MediaType::Json).await;
        MediaType::Json
            .decode::<MResponse>(&body)
            .unwrap()
            .get_frameworks
            .unwrap()
            .frameworks
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = frameworks().await;
        assert_eq!(list.len(), 1);
        if !list[0].connected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "framework still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // With the default failover timeout (0), a disconnected framework is
    // removed.
    let short = h
        .subscribe(MediaType::Json, framework("short-lived", &[]))
        .await;
    assert_eq!(frameworks().await.len(), 2);
    drop(short);
    let deadline = tokio::time::Instant::now() + WAIT;
    while frameworks().await.len() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "framework not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
