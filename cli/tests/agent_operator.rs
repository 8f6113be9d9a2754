//! The agent's v1 operator API (`POST /api/v1`) in both codecs.

mod common;

use common::{agent_state, collect_until, command_task, fixture, offer, reached, sandbox_of};
use mesos_http::client::{Client, read_body};
use mesos_proto::media::MediaType;
use mesos_proto::v1::TaskState;
use mesos_proto::v1::agent::{Call, Response, call};
use std::collections::BTreeMap;

/// Makes `call` in `media`; the HTTP status and the body.
async fn call_agent(addr: std::net::SocketAddr, call: &Call, media: MediaType) -> (u16, Vec<u8>) {
    let url = format!("http://{addr}/api/v1");
    let resp = Client::default()
        .post(
            &url,
            &[("Content-Type", media.as_str()), ("Accept", media.as_str())],
            media.encode(call),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, read_body(resp, &url).await.unwrap())
}

async fn ask(addr: std::net::SocketAddr, call: Call, media: MediaType) -> Response {
    let (status, body) = call_agent(addr, &call, media).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    media.decode(&body).unwrap()
}

fn of(ty: call::Type) -> Call {
    Call {
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_operator_calls_in_both_codecs() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let task = command_task("op", &offer, "echo hi; exec sleep 1000");
    let launch = f.scheduler.launch_call(&[&offer.id], vec![task], None);
    assert_eq!(f.scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "op", TaskState::TaskRunning)
    })
    .await;
    let addr = f.agent.addr();
    for media in [MediaType::Json, MediaType::Protobuf] {
        let health = ask(addr, of(call::Type::GetHealth), media).await;
        assert!(health.get_health.unwrap().healthy);
        let version = ask(addr, of(call::Type::GetVersion), media).await;
        assert_eq!(version.get_version.unwrap().version_info.version, "1.11.0");
        let flags = ask(addr, of(call::Type::GetFlags), media).await;
        let flags = flags.get_flags.unwrap().flags;
        let work_dir = flags.iter().find(|f| f.name == "work_dir").unwrap();
        assert_eq!(
            work_dir.value.as_deref(),
            Some(f.work_dir.path().to_str().unwrap())
        );
        let metrics = ask(addr, of(call::Type::GetMetrics), media).await;
        let running = metrics
            .get_metrics
            .unwrap()
            .metrics
            .into_iter()
            .find(|m| m.name == "slave/tasks_running")
            .unwrap();
        assert_eq!(running.value, Some(1.0));

        let state = ask(addr, of(call::Type::GetState), media)
            .await
            .get_state
            .unwrap();
        let tasks = state.get_tasks.unwrap();
        assert_eq!(tasks.launched_tasks.len(), 1);
        assert_eq!(tasks.launched_tasks[0].task_id.as_str(), "op");
        assert_eq!(tasks.launched_tasks[0].state, TaskState::TaskRunning as i32);
        assert_eq!(
            state.get_frameworks.unwrap().frameworks[0]
                .framework_info
                .id
                .as_ref(),
            Some(f.scheduler.framework_id())
        );
        assert_eq!(
            state.get_executors.unwrap().executors[0]
                .executor_info
                .executor_id
                .as_str(),
            "op"
        );
        let containers = ask(addr, of(call::Type::GetContainers), media)
            .await
            .get_containers
            .unwrap()
            .containers;
        assert_eq!(containers.len(), 1);
        assert_eq!(containers[0].executor_id.as_ref().unwrap().as_str(), "op");
        let stats = containers[0].resource_statistics.clone().unwrap();
        // The task's 0.1 cpus and the command executor's 0.1.
        assert_eq!(stats.cpus_limit, Some(0.2));
        let agent = ask(addr, of(call::Type::GetAgent), media).await;
        assert_eq!(
            agent.get_agent.unwrap().agent_info.unwrap().id,
            Some(offer.agent_id.clone())
        );
    }

    // Files: the sandbox is listed and read; nothing outside it.
    let sandbox = sandbox_of(&agent_state(&f.agent).await, "op");
    let mut list = of(call::Type::ListFiles);
    list.list_files = Some(call::ListFiles {
        path: sandbox.clone(),
    });
    let listed = ask(addr, list, MediaType::Json).await.list_files.unwrap();
    let stdout = listed
        .file_infos
        .iter()
        .find(|i| i.path == format!("{sandbox}/stdout"))
        .unwrap();
    assert_eq!(stdout.size, Some(3));
    let read = |path: String, offset: u64| {
        let mut c = of(call::Type::ReadFile);
        c.read_file = Some(call::ReadFile {
            path,
            offset,
            length: None,
        });
        c
    };
    let got = ask(
        addr,
        read(format!("{sandbox}/stdout"), 1),
        MediaType::Protobuf,
    )
    .await
    .read_file
    .unwrap();
    assert_eq!((got.size, got.data.as_slice()), (3, b"i\n".as_slice()));
    let (status, body) = call_agent(
        addr,
        &read(format!("{sandbox}/../../x"), 0),
        MediaType::Json,
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _) = call_agent(addr, &read("/etc/passwd".into(), 0), MediaType::Json).await;
    assert_eq!(status, 403);

    // Nested container calls refuse what they cannot do, naming it.
    let nobody = mesos_proto::v1::ContainerId::nested(
        mesos_proto::v1::ContainerId::new("no-such-executor"),
        "child",
    );
    let mut launch = of(call::Type::LaunchContainer);
    launch.launch_container = Some(call::LaunchContainer {
        container_id: nobody.clone(),
        command: Some(mesos_proto::v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let (status, body) = call_agent(addr, &launch, MediaType::Json).await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("Parent container no-such-executor is not running"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let mut wait = of(call::Type::WaitContainer);
    wait.wait_container = Some(call::WaitContainer {
        container_id: nobody.clone(),
    });
    let (status, _) = call_agent(addr, &wait, MediaType::Json).await;
    assert_eq!(status, 404);
    let mut kill = of(call::Type::KillContainer);
    kill.kill_container = Some(call::KillContainer {
        container_id: nobody,
        signal: None,
    });
    let (status, _) = call_agent(addr, &kill, MediaType::Json).await;
    assert_eq!(status, 404);

    // Calls not built yet say so; bad input is named.
    let (status, body) = call_agent(addr, &of(call::Type::GetOperations), MediaType::Json).await;
    assert_eq!(status, 501);
    assert!(String::from_utf8_lossy(&body).contains("GET_OPERATIONS"));
    let url = format!("http://{addr}/api/v1");
    let resp = Client::default()
        .post(
            &url,
            &[("Content-Type", "application/json")],
            b"{\"type\": 7".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
