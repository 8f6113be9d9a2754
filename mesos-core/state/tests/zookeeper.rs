//! The ZooKeeper backend, election and detection against a real
//! ZooKeeper server started by the test (Debian's `zookeeper` package;
//! `./scripts/test` installs it).

use mesos_state::testing::ZooKeeperServer;
use mesos_state::zk::{self, Candidacy, LeaderDetector, ZkUrl, ZooKeeperStore};
use mesos_state::{Expect, MAX_VALUE_SIZE, Op, StateError, Store};
use std::time::Duration;

#[path = "support/contract.rs"]
mod contract;

const SESSION: Duration = Duration::from_secs(4);
/// Bounds every wait that could otherwise hang a broken test.
const BOUND: Duration = Duration::from_secs(30);

fn url(server: &ZooKeeperServer, path: &str) -> ZkUrl {
    server.url(path).parse().unwrap()
}

async fn session(url: &ZkUrl) -> zk::client::Client {
    zk::connect(url, SESSION).await.unwrap()
}

async fn bounded<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(BOUND, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {BOUND:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zookeeper_store_keeps_the_contract() {
    let server = ZooKeeperServer::start().unwrap();
    let url = url(&server, "/mesos");
    let client = session(&url).await;
    let store = ZooKeeperStore::open(client.clone(), "/mesos/registry")
        .await
        .unwrap();
    contract::contract(&store).await;

    // The largest value accepted by every backend fits in a znode.
    let big = vec![7u8; MAX_VALUE_SIZE];
    store.put("big", big.clone(), Expect::Absent).await.unwrap();
    assert_eq!(store.get("big").await.unwrap().unwrap().value, big);

    // Reads of more keys than one multiRead carries.
    let many: Vec<String> = (0..600).map(|i| format!("many/{i:04}")).collect();
    store
        .apply(
            many.iter()
                .map(|k| Op::Put {
                    key: k.clone(),
                    value: k.as_bytes().to_vec(),
                    expect: Expect::Absent,
                })
                .collect(),
        )
        .await
        .unwrap();
    let got = store.get_many(&many).await.unwrap();
    assert!(
        got.iter()
            .zip(&many)
            .all(|(e, k)| e.as_ref().unwrap().value == k.as_bytes())
    );

    // Keys are single znodes under the root, readable by any client.
    let (data, _) = client.get_data("/mesos/registry/a%2Fb").await.unwrap();
    assert_eq!(data, b"again");
    // Foreign znodes under the root are not keys and are left alone.
    client
        .create(
            "/mesos/registry/not%zzkey",
            b"",
            &zk::client::CreateMode::Persistent.with_acls(zk::client::Acls::anyone_all()),
        )
        .await
        .unwrap();
    assert!(
        !store
            .list("")
            .await
            .unwrap()
            .iter()
            .any(|k| k.contains("zz"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_sessions_and_a_zookeeper_restart() {
    let mut server = ZooKeeperServer::start().unwrap();
    let url = url(&server, "/mesos");
    let store = ZooKeeperStore::open(session(&url).await, "/mesos/registry")
        .await
        .unwrap();
    store
        .put("registry/agents/S1", b"agent".to_vec(), Expect::Absent)
        .await
        .unwrap();
    drop(store);

    // Another session sees it, with its version.
    let store = ZooKeeperStore::open(session(&url).await, "/mesos/registry")
        .await
        .unwrap();
    let entry = store.get("registry/agents/S1").await.unwrap().unwrap();
    assert_eq!((entry.value.as_slice(), entry.version), (&b"agent"[..], 1));

    // ZooKeeper killed: requests fail clearly instead of hanging.
    server.kill();
    let err = bounded(
        "a request to a dead ZooKeeper",
        store.get("registry/agents/S1"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StateError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("ZooKeeper"), "{err}");

    // Restarted from its data: everything is there for a new session.
    server.restart().unwrap();
    let store = ZooKeeperStore::open(
        bounded("reconnecting", zk::connect(&url, SESSION))
            .await
            .unwrap(),
        "/mesos/registry",
    )
    .await
    .unwrap();
    let entry = store.get("registry/agents/S1").await.unwrap().unwrap();
    assert_eq!(entry.value, b"agent");
    assert_eq!(
        store
            .put("registry/agents/S1", b"v2".to_vec(), Expect::Version(1))
            .await
            .unwrap(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lowest_candidate_leads_and_the_next_takes_over() {
    let server = ZooKeeperServer::start().unwrap();
    let url = url(&server, "/mesos");
    let mut detector = LeaderDetector::start(url.clone(), SESSION);

    let sessions = [
        session(&url).await,
        session(&url).await,
        session(&url).await,
    ];
    let mut candidates = Vec::new();
    for (i, client) in sessions.iter().enumerate() {
        let data = format!(r#"{{"id":"master-{i}"}}"#);
        candidates.push(
            Candidacy::contend(client, url.path(), data.as_bytes())
                .await
                .unwrap(),
        );
    }
    assert!(candidates[0].sequence() < candidates[1].sequence());
    assert!(candidates[0].path().starts_with("/mesos/json.info_"));
    bounded("first elected", candidates[0].elected())
        .await
        .unwrap();
    // The others wait.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), candidates[1].elected())
            .await
            .is_err()
    );

    // A third-party reader and the detector both see the first as leader.
    let (name, data) = zk::leader(&sessions[2], url.path()).await.unwrap().unwrap();
    assert_eq!(format!("/mesos/{name}"), candidates[0].path());
    assert_eq!(data, br#"{"id":"master-0"}"#);
    assert_eq!(
        bounded("detected", detector.leader(BOUND)).await.as_deref(),
        Some(&br#"{"id":"master-0"}"#[..])
    );

    // The leader's session ends (its last client dropped): ZooKeeper
    // deletes its znode and the next in line leads.
    let [first, second, third] = sessions;
    drop(candidates.remove(0));
    drop(first);
    bounded("second elected", candidates[0].elected())
        .await
        .unwrap();
    let changed = bounded("detector follows", async {
        loop {
            let leader = detector.changed().await;
            if leader.as_deref() == Some(&br#"{"id":"master-1"}"#[..]) {
                return leader;
            }
        }
    })
    .await;
    assert!(changed.is_some());
    drop((second, third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_cannot_write_and_a_disconnected_one_knows_it() {
    let mut server = ZooKeeperServer::start().unwrap();
    let url = url(&server, "/mesos");
    let leader_session = session(&url).await;
    let candidacy = Candidacy::contend(&leader_session, url.path(), b"{}")
        .await
        .unwrap();
    candidacy.elected().await.unwrap();
    let store = ZooKeeperStore::open(leader_session.clone(), "/mesos/registry")
        .await
        .unwrap()
        .fenced_by(candidacy.path(), 0);
    store.put("k", b"1".to_vec(), Expect::Absent).await.unwrap();

    // Its candidacy znode goes (as when its session expires): fenced
    // writes are refused and change nothing.
    let other = session(&url).await;
    other.delete(&candidacy.path(), None).await.unwrap();
    let err = store
        .apply(vec![Op::Put {
            key: "k".into(),
            value: b"2".to_vec(),
            expect: Expect::Any,
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Fenced { .. }), "{err}");
    assert!(err.to_string().contains(&candidacy.path()), "{err}");
    assert_eq!(store.get("k").await.unwrap().unwrap().value, b"1");
    let reason = bounded("lost on deletion", candidacy.lost()).await;
    assert!(reason.contains("deleted"), "{reason}");

    // A leader cut off from ZooKeeper learns it at once (Disconnected),
    // well before its session could expire.
    let fresh = Candidacy::contend(&leader_session, url.path(), b"{}")
        .await
        .unwrap();
    fresh.elected().await.unwrap();
    server.kill();
    // (Heard as the session's Disconnected state or as the failure of
    // the request in flight; either way not as its expiry.)
    let reason = bounded("lost on disconnection", fresh.lost()).await;
    assert!(
        reason.contains("Disconnected") || reason.contains("request failed"),
        "{reason}"
    );
    assert!(!reason.to_lowercase().contains("expired"), "{reason}");
}
