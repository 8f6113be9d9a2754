//! A real master and a real agent on loopback, with the built `mesos`
//! binary as the agent's command executor: tasks run as processes, their
//! output lands in the sandbox, and every status update arrives in order.

mod common;

use common::*;
use mesos_proto::v1::{
    DurationInfo, KillPolicy, TaskId, TaskState, framework_info, scheduler::call,
};
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
    let mut kill = f.scheduler.call_of(call::Type::Kill);
    kill.kill = Some(call::Kill {
        task_id: TaskId::new("stubborn"),
        agent_id: Some(offer.agent_id.clone()),
        kill_policy: None,
    });
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
