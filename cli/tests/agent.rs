//! A real master and a real agent on loopback, with the built `mesos`
//! binary as the agent's command executor: tasks run as processes, their
//! output lands in the sandbox, and every status update arrives in order.

mod common;

use common::*;
use mesos_proto::v1::{DurationInfo, KillPolicy, TaskState, framework_info};
use mesos_testkit::TestClient;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_task_finishes_and_its_output_is_readable() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    launch(
        &mut f,
        command_task("hello", &offer, "echo hello from $MESOS_SANDBOX"),
        &offer,
    )
    .await;
    let updates = updates_until(&mut f, "hello", terminal).await;
    assert_eq!(
        states(&updates),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    assert_eq!(
        updates[2].message.as_deref(),
        Some("Command exited with status 0")
    );
    assert!(
        updates
            .iter()
            .all(|u| u.agent_id == Some(offer.agent_id.clone()))
    );

    let state = agent_state(&f.agent).await;
    let dir = sandbox_of(&state, "hello");
    assert!(dir.contains("/slaves/") && dir.contains("/runs/"), "{dir}");
    let client = TestClient::default();
    let url = format!(
        "http://{}/files/read?path={dir}/stdout&offset=0",
        f.agent.addr()
    );
    let (status, _, body) = client.get(&url).await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let read: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(read["offset"], 0);
    assert_eq!(
        read["data"].as_str().unwrap(),
        format!("hello from {dir}\n")
    );
    // offset=-1 gives the size, as Mesos does.
    let url = format!(
        "http://{}/files/read?path={dir}/stdout&offset=-1",
        f.agent.addr()
    );
    let read: serde_json::Value =
        serde_json::from_slice(&client.get(&url).await.unwrap().2).unwrap();
    assert_eq!(
        read["offset"].as_u64().unwrap() as usize,
        format!("hello from {dir}\n").len()
    );
    assert_eq!(read["data"], "");
    // Only the sandboxes are readable.
    let status_of = |path: String| {
        let client = client.clone();
        let url = format!("http://{}/files/read?path={path}", f.agent.addr());
        async move { client.get(&url).await.unwrap().0 }
    };
    assert_eq!(
        status_of(format!("{dir}/../../../../../../etc/passwd")).await,
        400
    );
    assert_eq!(status_of("/etc/passwd".into()).await, 403);
    std::os::unix::fs::symlink("/etc/passwd", format!("{dir}/escape")).unwrap();
    assert_eq!(status_of(format!("{dir}/escape")).await, 403);
    assert_eq!(status_of(format!("{dir}/no-such-file")).await, 404);
    assert_eq!(status_of("relative/stdout".into()).await, 400);
    // Mesos' virtual path form reaches the same file.
    let agent_id = state["id"].as_str().unwrap();
    let framework_id = state["frameworks"][0]["id"].as_str().unwrap();
    let run = std::path::Path::new(&dir)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(dir.ends_with(&format!(
        "/slaves/{agent_id}/frameworks/{framework_id}/executors/hello/runs/{run}"
    )));
    let virtual_path = format!("/frameworks/{framework_id}/executors/hello/runs/latest/stdout");
    assert_eq!(status_of(virtual_path).await, 200);
    // The `latest` link points at the run.
    let latest = std::path::Path::new(&dir).parent().unwrap().join("latest");
    assert_eq!(
        latest.canonicalize().unwrap(),
        std::path::Path::new(&dir).canonicalize().unwrap()
    );
    f.agent.stop().await;
    f.master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_fails_with_its_exit_status() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    launch(
        &mut f,
        command_task("bad", &offer, "echo oops >&2; exit 3"),
        &offer,
    )
    .await;
    let updates = updates_until(&mut f, "bad", terminal).await;
    let last = updates.last().unwrap();
    assert_eq!(last.state, TaskState::TaskFailed as i32);
    assert_eq!(
        last.message.as_deref(),
        Some("Command exited with status 3")
    );
    let dir = sandbox_of(&agent_state(&f.agent).await, "bad");
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/stderr")).unwrap(),
        "oops\n"
    );
    f.agent.stop().await;
    f.master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_sends_sigterm_then_sigkill_after_the_grace_period() {
    use framework_info::capability::Type;
    let mut f = fixture(&[Type::TaskKillingState]).await;
    let offer = offer(&mut f.scheduler).await;
    // Traps SIGTERM (and says so), so only SIGKILL ends it.
    let mut task = command_task(
        "stubborn",
        &offer,
        "trap 'echo got TERM' TERM; echo started; while true; do sleep 0.05; done",
    );
    task.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 1_000_000_000,
        }),
    });
    launch(&mut f, task, &offer).await;
    let running = updates_until(&mut f, "stubborn", |s| {
        s.state == TaskState::TaskRunning as i32
    })
    .await;
    assert_eq!(
        states(&running),
        [TaskState::TaskStarting, TaskState::TaskRunning]
    );
    let dir = sandbox_of(&agent_state(&f.agent).await, "stubborn");
    // Wait for the trap to be installed before killing.
    let deadline = std::time::Instant::now() + WAIT;
    while !std::fs::read_to_string(format!("{dir}/stdout"))
        .unwrap_or_default()
        .contains("started")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kill = f.scheduler.kill_call("stubborn", &offer.agent_id);
    let started = std::time::Instant::now();
    assert_eq!(f.scheduler.call(&kill).await.unwrap().0, 202);
    let rest = updates_until(&mut f, "stubborn", terminal).await;
    assert_eq!(
        states(&rest),
        [TaskState::TaskKilling, TaskState::TaskKilled]
    );
    // SIGKILL came only after the grace period.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        rest[1].message.as_deref(),
        Some("Command terminated with signal Killed")
    );
    assert!(
        std::fs::read_to_string(format!("{dir}/stdout"))
            .unwrap()
            .contains("got TERM")
    );
    f.agent.stop().await;
    f.master.stop().await;
}

/// Serves `files` (path → bytes) over HTTP on loopback; 404 otherwise.
async fn serve(files: Vec<(&'static str, Vec<u8>)>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let found = files.iter().find(|(p, _)| *p == path);
            let (status, body) = match found {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", b"no such file".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(&body).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uris_are_fetched_and_extracted_and_a_failed_fetch_fails_the_task() {
    use mesos_proto::v1::command_info::Uri;
    // An archive with a script in it, served over HTTP.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("app")).unwrap();
    std::fs::write(
        src.path().join("app/hello.sh"),
        "echo hello from the archive\n",
    )
    .unwrap();
    let archive = src.path().join("app.tar.gz");
    let tar = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(src.path())
        .arg("app")
        .status()
        .unwrap();
    assert!(tar.success());
    let http = serve(vec![("/app.tar.gz", std::fs::read(&archive).unwrap())]).await;

    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let mut task = command_task("fetched", &offer, "sh app/hello.sh");
    task.command.as_mut().unwrap().uris = vec![Uri {
        value: format!("http://{http}/app.tar.gz"),
        ..Default::default()
    }];
    let mut missing = command_task("missing", &offer, "true");
    missing.command.as_mut().unwrap().uris = vec![Uri {
        value: format!("http://{http}/nothing.tgz"),
        ..Default::default()
    }];
    let call = f
        .scheduler
        .launch_call(&[&offer.id], vec![task, missing], None);
    assert_eq!(f.scheduler.call(&call).await.unwrap().0, 202);
    let mut last = std::collections::BTreeMap::new();
    while last.len() < 2 {
        let status = f.scheduler.next_update(WAIT).await.unwrap();
        assert_eq!(f.scheduler.acknowledge(&status).await.unwrap(), 202);
        if terminal(&status) {
            last.insert(status.task_id.to_string(), status);
        }
    }
    assert_eq!(
        last["fetched"].state,
        TaskState::TaskFinished as i32,
        "{:?}",
        last["fetched"]
    );
    let dir = sandbox_of(&agent_state(&f.agent).await, "fetched");
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/stdout")).unwrap(),
        "hello from the archive\n"
    );
    let failed = &last["missing"];
    assert_eq!(failed.state, TaskState::TaskFailed as i32);
    assert_eq!(
        failed.reason,
        Some(mesos_proto::v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.contains(&format!("http://{http}/nothing.tgz")) && message.contains("404"),
        "{message}"
    );
    f.agent.stop().await;
    f.master.stop().await;
}

fn nofile_limit(soft: u64, hard: u64) -> mesos_proto::v1::ContainerInfo {
    use mesos_proto::v1::r_limit_info::{RLimit, r_limit::Type};
    mesos_proto::v1::ContainerInfo {
        r#type: mesos_proto::v1::container_info::Type::Mesos as i32,
        rlimit_info: Some(mesos_proto::v1::RLimitInfo {
            rlimits: vec![RLimit {
                r#type: Some(Type::RlmtNofile as i32),
                soft: Some(soft),
                hard: Some(hard),
            }],
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posix_rlimits_apply_to_the_task_and_bad_ones_fail_it() {
    let mut f = fixture_with(&[], |c| {
        c.isolation = "posix/cpu,posix/mem,posix/rlimits".into()
    })
    .await;
    let offer = offer(&mut f.scheduler).await;
    let mut limited = command_task("limited", &offer, "ulimit -Sn; ulimit -Hn");
    limited.resources = "cpus:0.1;mem:32"
        .parse::<mesos_proto::resources::Resources>()
        .unwrap()
        .into_vec();
    limited.container = Some(nofile_limit(100, 200));
    let mut bad = command_task("bad", &offer, "true");
    bad.resources = limited.resources.clone();
    bad.container = Some(nofile_limit(300, 200));
    let call = f
        .scheduler
        .launch_call(&[&offer.id], vec![limited, bad], None);
    assert_eq!(f.scheduler.call(&call).await.unwrap().0, 202);
    let mut seen = std::collections::BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        ["limited", "bad"]
            .iter()
            .all(|t| seen.get(*t).and_then(|u| u.last()).is_some_and(terminal))
    })
    .await;
    let done = seen["limited"].last().unwrap();
    assert_eq!(done.state, TaskState::TaskFinished as i32, "{done:?}");
    let state = agent_state(&f.agent).await;
    let stdout =
        std::fs::read_to_string(format!("{}/stdout", sandbox_of(&state, "limited"))).unwrap();
    assert!(stdout.contains("100\n200\n"), "{stdout}");
    let failed = seen["bad"].last().unwrap();
    assert_eq!(failed.state, TaskState::TaskFailed as i32, "{failed:?}");
    assert_eq!(
        failed.reason,
        Some(mesos_proto::v1::task_status::Reason::ContainerLaunchFailed as i32)
    );
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.contains("RLMT_NOFILE") && message.contains("above hard limit"),
        "{message}"
    );
    f.agent.stop().await;
    f.master.stop().await;
}

/// The `mesos bench agent` scenario, small: a real agent child process runs
/// and kills every task and the report says so.
#[test]
fn the_agent_benchmark_runs_and_kills_every_task() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesos"))
        .args(["bench", "agent", "--tasks", "5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("agent: 5 sleep tasks on one agent"),
        "{stdout}"
    );
    assert!(stdout.contains("5 executors"), "{stdout}");
}
