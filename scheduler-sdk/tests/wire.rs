//! The client's HTTP behaviour, pinned against a small server in the test
//! that records every request and answers as a Mesos master would (or as
//! a standby, or an unavailable one): exact headers, bodies, redirects,
//! 503 retries, heartbeat loss.

use mesos_proto::media::MediaType;
use mesos_proto::v1::scheduler::{Call, Event, call, event};
use mesos_proto::v1::{FrameworkId, FrameworkInfo, OfferId};
use mesos_scheduler::{Client, SchedulerError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
enum Answer {
    /// A status, headers and a body.
    Plain(u16, Vec<(String, String)>, Vec<u8>),
    /// 200 with a RecordIO stream of these events, left open.
    Stream(MediaType, String, Vec<Event>),
}

type Script = Arc<dyn Fn(usize, &Seen) -> Answer + Send + Sync>;

struct Fake {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start(script: impl Fn(usize, &Seen) -> Answer + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(script);
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(socket, script.clone(), log.clone()));
            }
        });
        Fake { addr, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn master(&self) -> String {
        self.addr.to_string()
    }
}

async fn serve(socket: tokio::net::TcpStream, script: Script, log: Arc<Mutex<Vec<Seen>>>) {
    let mut reader = BufReader::new(socket);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await.unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await.unwrap();
        let seen = Seen {
            method,
            path,
            headers,
            body,
        };
        let index = {
            let mut log = log.lock().unwrap();
            log.push(seen.clone());
            log.len() - 1
        };
        let socket = reader.get_mut();
        match script(index, &seen) {
            Answer::Plain(status, headers, body) => {
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (n, v) in headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.write_all(&body).await.unwrap();
            }
            Answer::Stream(media, stream_id, events) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nMesos-Stream-Id: {stream_id}\r\nTransfer-Encoding: chunked\r\n\r\n",
                    media.as_str()
                );
                socket.write_all(head.as_bytes()).await.unwrap();
                for e in events {
                    let mut record = Vec::new();
                    mesos_proto::recordio::encode(&media.encode(&e), &mut record);
                    let chunk = format!("{:x}\r\n", record.len());
                    socket.write_all(chunk.as_bytes()).await.unwrap();
                    socket.write_all(&record).await.unwrap();
                    socket.write_all(b"\r\n").await.unwrap();
                }
                // Left open, as a master keeps it; the test ends it.
                std::future::pending::<()>().await;
            }
        }
    }
}

fn subscribed(heartbeat: f64) -> Event {
    Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            framework_id: FrameworkId {
                value: "fw-1".into(),
            },
            heartbeat_interval_seconds: Some(heartbeat),
            master_info: None,
        }),
        ..Default::default()
    }
}

fn info() -> FrameworkInfo {
    FrameworkInfo {
        user: "u".into(),
        name: "wire".into(),
        ..Default::default()
    }
}

fn is_subscribe(seen: &Seen, media: MediaType) -> bool {
    media
        .decode::<Call>(&seen.body)
        .is_ok_and(|c| c.r#type == Some(call::Type::Subscribe as i32))
}

#[tokio::test]
async fn subscribe_sends_no_stream_id_and_calls_send_it() {
    let fake = Fake::start(|_, seen| {
        if is_subscribe(seen, MediaType::Json) {
            Answer::Stream(MediaType::Json, "stream-7".into(), vec![subscribed(15.0)])
        } else {
            Answer::Plain(202, vec![], vec![])
        }
    })
    .await;
    let client = Client::new(fake.master().parse().unwrap()).with_media(MediaType::Json);
    let (session, _events) = client.subscribe(info()).await.unwrap();
    assert_eq!(session.framework_id().value, "fw-1");
    assert_eq!(session.stream_id(), "stream-7");
    session
        .decline(
            vec![OfferId {
                value: "o-1".into(),
            }],
            None,
        )
        .await
        .unwrap();

    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    let (sub, decline) = (&seen[0], &seen[1]);
    assert_eq!(
        (sub.method.as_str(), sub.path.as_str()),
        ("POST", "/api/v1/scheduler")
    );
    assert_eq!(sub.header("Content-Type"), Some("application/json"));
    assert_eq!(sub.header("Accept"), Some("application/json"));
    assert_eq!(
        sub.header("Mesos-Stream-Id"),
        None,
        "no stream id on SUBSCRIBE"
    );
    let text = String::from_utf8(sub.body.clone()).unwrap();
    assert!(text.contains(r#""type":"SUBSCRIBE""#), "{text}");
    assert!(
        !text.contains("framework_id"),
        "a new framework sends no id: {text}"
    );

    assert_eq!(decline.header("Mesos-Stream-Id"), Some("stream-7"));
    let call: Call = MediaType::Json.decode(&decline.body).unwrap();
    assert_eq!(call.r#type, Some(call::Type::Decline as i32));
    assert_eq!(call.framework_id.unwrap().value, "fw-1");
    assert_eq!(call.decline.unwrap().offer_ids[0].value, "o-1");
}

#[tokio::test]
async fn protobuf_is_the_default() {
    let fake =
        Fake::start(|_, _| Answer::Stream(MediaType::Protobuf, "s".into(), vec![subscribed(15.0)]))
            .await;
    let client = Client::new(fake.master().parse().unwrap());
    client.subscribe(info()).await.unwrap();
    let seen = fake.seen();
    assert_eq!(
        seen[0].header("Content-Type"),
        Some("application/x-protobuf")
    );
    assert_eq!(seen[0].header("Accept"), Some("application/x-protobuf"));
    assert!(is_subscribe(&seen[0], MediaType::Protobuf));
}

#[tokio::test]
async fn a_standby_redirect_on_subscribe_is_followed_to_the_leader() {
    let leader =
        Fake::start(|_, _| Answer::Stream(MediaType::Protobuf, "s".into(), vec![subscribed(15.0)]))
            .await;
    let location = format!("//{}/api/v1/scheduler", leader.master());
    let standby = Fake::start(move |_, _| {
        Answer::Plain(307, vec![("Location".into(), location.clone())], vec![])
    })
    .await;
    let client = Client::new(standby.master().parse().unwrap());
    let (session, _events) = client.subscribe(info()).await.unwrap();
    assert_eq!(client.leader(), Some(leader.master()));
    assert!(
        session.url().contains(&leader.master()),
        "{}",
        session.url()
    );
    assert_eq!(standby.seen().len(), 1);
    assert_eq!(leader.seen().len(), 1);
}

#[tokio::test]
async fn a_redirect_on_a_call_is_not_followed() {
    let fake = Fake::start(|_, seen| {
        if is_subscribe(seen, MediaType::Protobuf) {
            Answer::Stream(MediaType::Protobuf, "s".into(), vec![subscribed(15.0)])
        } else {
            let to = "//127.0.0.1:1/api/v1/scheduler".to_string();
            Answer::Plain(307, vec![("Location".into(), to)], vec![])
        }
    })
    .await;
    let client = Client::new(fake.master().parse().unwrap());
    let (session, _events) = client.subscribe(info()).await.unwrap();
    let err = session.revive(vec![]).await.unwrap_err();
    assert!(
        matches!(&err, SchedulerError::LeaderChanged { location } if location.contains("127.0.0.1:1")),
        "{err}"
    );
    assert!(err.is_transient());
    assert_eq!(fake.seen().len(), 2, "the call was not re-sent elsewhere");
}

#[tokio::test]
async fn unavailable_masters_are_retried_with_backoff() {
    let fake = Fake::start(|i, seen| {
        if i < 2 {
            Answer::Plain(503, vec![], b"No leader elected".to_vec())
        } else if is_subscribe(seen, MediaType::Protobuf) {
            Answer::Stream(MediaType::Protobuf, "s".into(), vec![subscribed(15.0)])
        } else {
            Answer::Plain(503, vec![], b"still not ready".to_vec())
        }
    })
    .await;
    let client = Client::new(fake.master().parse().unwrap()).with_retries_503(2);
    let (session, _events) = client.subscribe(info()).await.unwrap();
    assert_eq!(fake.seen().len(), 3, "two 503s, then the subscription");
    // A call answered 503 every time fails after its retries.
    let err = session.suppress(vec![]).await.unwrap_err();
    assert!(
        matches!(&err, SchedulerError::Unavailable { message, .. } if message == "still not ready"),
        "{err}"
    );
    assert_eq!(fake.seen().len(), 6, "the call and two retries");
}

#[tokio::test]
async fn refusals_carry_the_masters_reason() {
    let fake = Fake::start(|_, _| {
        Answer::Plain(
            400,
            vec![],
            b"Failed to validate scheduler::Call: Expecting 'framework_info.user' to be present"
                .to_vec(),
        )
    })
    .await;
    let client = Client::new(fake.master().parse().unwrap());
    let err = client.subscribe(info()).await.unwrap_err();
    assert!(
        matches!(&err, SchedulerError::Refused { status: 400, message } if message.contains("framework_info.user")),
        "{err}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_error_event_on_subscribe_means_removed() {
    let fake = Fake::start(|_, _| {
        let error = Event {
            r#type: Some(event::Type::Error as i32),
            error: Some(event::Error {
                message: "Framework has been removed".into(),
            }),
            ..Default::default()
        };
        Answer::Stream(MediaType::Protobuf, "s".into(), vec![error])
    })
    .await;
    let client = Client::new(fake.master().parse().unwrap());
    let err = client.subscribe(info()).await.unwrap_err();
    assert!(
        matches!(&err, SchedulerError::Removed(m) if m == "Framework has been removed"),
        "{err}"
    );
}

#[tokio::test]
async fn missed_heartbeats_are_detected() {
    // SUBSCRIBED promises a heartbeat every 50 ms, then nothing comes.
    let fake =
        Fake::start(|_, _| Answer::Stream(MediaType::Protobuf, "s".into(), vec![subscribed(0.05)]))
            .await;
    let client = Client::new(fake.master().parse().unwrap()).with_heartbeat_misses(2);
    let (_session, mut events) = client.subscribe(info()).await.unwrap();
    assert_eq!(events.heartbeat_timeout(), Duration::from_millis(100));
    let err = events.next().await.unwrap_err();
    assert!(matches!(err, SchedulerError::HeartbeatMissed(_)), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn an_unreachable_master_names_itself() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(addr.to_string().parse().unwrap());
    let err = client.subscribe(info()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SchedulerError::NoMaster { .. }), "{text}");
    assert!(text.contains(&addr.to_string()), "{text}");
}
