//! Masters electing their leader through a real ZooKeeper (started by
//! the test from Debian's `zookeeper` package): standbys redirect, a
//! successor recovers the replicated registry, a leader cut off from
//! ZooKeeper steps down, and all recover when ZooKeeper comes back.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesos_master::{Master, MasterConfig, RegistryConfig};
use mesos_proto::v1::MasterInfo;
use mesos_state::testing::ZooKeeperServer;
use mesos_state::zk::{self, ZkUrl};
use std::time::{Duration, Instant};

const SESSION: Duration = Duration::from_secs(4);
/// Bounds every wait that could otherwise hang a broken test.
const BOUND: Duration = Duration::from_secs(40);

struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn request(method: &str, url: &str, body: &str) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = tokio::time::timeout(BOUND, client.request(req))
        .await
        .expect("the master answers")
        .expect("the request succeeds");
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn elected(master: &Master) -> bool {
    let reply = request(
        "GET",
        &format!("http://{}/metrics/snapshot", master.addr()),
        "",
    )
    .await;
    reply.body.contains(r#""master/elected":1"#)
}

/// Waits until exactly one of `masters` leads; returns its index.
async fn leader_of(masters: &[Option<Master>]) -> usize {
    let deadline = Instant::now() + BOUND;
    loop {
        let mut leading = Vec::new();
        for (i, m) in masters.iter().enumerate() {
            if let Some(m) = m
                && elected(m).await
            {
                leading.push(i);
            }
        }
        assert!(leading.len() <= 1, "two leaders at once: {leading:?}");
        if let [one] = leading[..] {
            return one;
        }
        assert!(Instant::now() < deadline, "no leader within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_master(url: &ZkUrl) -> Master {
    Master::start(MasterConfig {
        port: 0,
        zk: Some(url.clone()),
        zk_session_timeout: SESSION,
        registry: RegistryConfig::Replicated,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn weights_call(role: &str, weight: f64) -> String {
    format!(
        r#"{{"type":"UPDATE_WEIGHTS","update_weights":{{"weight_infos":[{{"role":"{role}","weight":{weight}}}]}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standbys_redirect_to_the_leader_and_a_successor_recovers_the_registry() {
    let server = ZooKeeperServer::start().unwrap();
    let url: ZkUrl = server.url("/mesos").parse().unwrap();
    let mut masters = Vec::new();
    for _ in 0..3 {
        masters.push(Some(start_master(&url).await));
    }
    let first = leader_of(&masters).await;
    let leader_addr = masters[first].as_ref().unwrap().addr();

    // Existing Mesos tools read the leader from its znode: MasterInfo JSON.
    let client = zk::connect(&url, SESSION).await.unwrap();
    let (name, data) = zk::leader(&client, "/mesos").await.unwrap().unwrap();
    assert!(name.starts_with("json.info_"), "{name}");
    let info: MasterInfo = mesos_proto::json::from_slice(&data).unwrap();
    assert_eq!(info.port, u32::from(leader_addr.port()));
    assert_eq!(info.hostname.as_deref(), Some("127.0.0.1"));
    assert_eq!(info.pid, Some(format!("master@{leader_addr}")));
    assert_eq!(
        info.address.as_ref().unwrap().port,
        i32::from(leader_addr.port())
    );
    assert_eq!(info.version.as_deref(), Some(mesos_master::MESOS_VERSION));
    assert!(!info.id.is_empty());

    // Standbys redirect API calls and state reads to it, as Mesos' do.
    for (i, m) in masters.iter().enumerate() {
        if i == first {
            continue;
        }
        let base = format!("http://{}", m.as_ref().unwrap().addr());
        let reply = request("POST", &format!("{base}/api/v1/scheduler"), "{}").await;
        assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            reply.location,
            Some(format!(
                "//127.0.0.1:{}/api/v1/scheduler",
                leader_addr.port()
            ))
        );
        let reply = request("GET", &format!("{base}/master/state?jsonp=x"), "").await;
        assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            reply.location,
            Some(format!(
                "//127.0.0.1:{}/master/state?jsonp=x",
                leader_addr.port()
            ))
        );
        let reply = request("GET", &format!("{base}/redirect"), "").await;
        assert_eq!(
            reply.location,
            Some(format!("//127.0.0.1:{}", leader_addr.port()))
        );
        let reply = request("GET", &format!("{base}/health"), "").await;
        assert_eq!(reply.status, StatusCode::OK);
        let reply = request("GET", &format!("{base}/metrics/snapshot"), "").await;
        assert!(
            reply.body.contains(r#""master/elected":0"#),
            "{}",
            reply.body
        );
    }
    // The leader itself serves, and writes its registry to ZooKeeper.
    let reply = request(
        "POST",
        &format!("http://{leader_addr}/api/v1"),
        &weights_call("web", 3.0),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // The leader stops: a standby takes over with the registry.
    let stopped_at = Instant::now();
    masters[first].take().unwrap().stop().await;
    let second = leader_of(&masters).await;
    assert_ne!(second, first);
    eprintln!(
        "a successor led {:?} after the leader stopped",
        stopped_at.elapsed()
    );
    let second_addr = masters[second].as_ref().unwrap().addr();
    let reply = request(
        "POST",
        &format!("http://{second_addr}/api/v1"),
        r#"{"type":"GET_WEIGHTS"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.contains(r#""role":"web""#) && reply.body.contains(r#""weight":3"#),
        "{}",
        reply.body
    );
    let (_, data) = zk::leader(&client, "/mesos").await.unwrap().unwrap();
    let info: MasterInfo = mesos_proto::json::from_slice(&data).unwrap();
    assert_eq!(info.port, u32::from(second_addr.port()));
    // The remaining standby follows.
    let third = 3 - first - second;
    let base = format!("http://{}", masters[third].as_ref().unwrap().addr());
    let deadline = Instant::now() + BOUND;
    loop {
        let reply = request("GET", &format!("{base}/redirect"), "").await;
        if reply.location == Some(format!("//127.0.0.1:{}", second_addr.port())) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby does not follow: {:?}",
            reply.location
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_zookeeper_steps_down_and_all_recover() {
    let mut server = ZooKeeperServer::start().unwrap();
    let url: ZkUrl = server.url("/mesos").parse().unwrap();
    let masters = vec![
        Some(start_master(&url).await),
        Some(start_master(&url).await),
    ];
    let first = leader_of(&masters).await;
    let leader_addr = masters[first].as_ref().unwrap().addr();
    let reply = request(
        "POST",
        &format!("http://{leader_addr}/api/v1"),
        &weights_call("batch", 2.0),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // ZooKeeper dies: the leader can no longer know it leads, so it stops
    // at once; nobody leads, and API calls say so.
    server.kill();
    let deadline = Instant::now() + BOUND;
    while elected(masters[first].as_ref().unwrap()).await {
        assert!(Instant::now() < deadline, "the leader did not step down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for m in masters.iter().flatten() {
        let reply = request(
            "POST",
            &format!("http://{}/api/v1", m.addr()),
            r#"{"type":"GET_HEALTH"}"#,
        )
        .await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(reply.body.contains("No leader elected"), "{}", reply.body);
    }

    // ZooKeeper is back: a leader is elected again, registry intact.
    server.restart().unwrap();
    let leader = leader_of(&masters).await;
    let addr = masters[leader].as_ref().unwrap().addr();
    let reply = request(
        "POST",
        &format!("http://{addr}/api/v1"),
        r#"{"type":"GET_WEIGHTS"}"#,
    )
    .await;
    assert!(reply.body.contains(r#""role":"batch""#), "{}", reply.body);
}
