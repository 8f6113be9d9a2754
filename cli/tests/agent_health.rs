//! Health checks and checks run by the built-in executors on a real agent.

mod common;

use common::{collect_until, command_task, fixture, offer, reached};
use mesos_proto::v1::{
    CheckInfo, CommandInfo, ExecutorId, ExecutorInfo, HealthCheck, TaskState, TaskStatus,
    check_info, executor_info, health_check, task_status,
};
use std::collections::BTreeMap;

/// A COMMAND health check probing at once and every 0.2 s, with no grace
/// period, killing after two failures.
fn failing_health_check() -> HealthCheck {
    HealthCheck {
        r#type: Some(health_check::Type::Command as i32),
        command: Some(CommandInfo {
            value: Some("test -e healthy".into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.2),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(2),
        ..Default::default()
    }
}

fn health_updates(updates: &[TaskStatus]) -> Vec<Option<bool>> {
    updates
        .iter()
        .filter(|s| s.reason == Some(task_status::Reason::TaskHealthCheckStatusUpdated as i32))
        .map(|s| s.healthy)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_health_check_kills_the_task() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let mut task = command_task("sick", &offer, "exec sleep 1000");
    task.health_check = Some(failing_health_check());
    let launch = f.scheduler.launch_call(&[&offer.id], vec![task], None);
    assert_eq!(f.scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "sick", TaskState::TaskKilled)
    })
    .await;
    let updates = &seen["sick"];
    // Two failures reported unhealthy; the second killed the task.
    assert_eq!(health_updates(updates), [Some(false), Some(false)]);
    for s in updates
        .iter()
        .filter(|s| s.healthy.is_some() && s.reason.is_some())
    {
        assert_eq!(s.state, TaskState::TaskRunning as i32);
    }
    let last = updates.last().unwrap();
    assert_eq!(last.state, TaskState::TaskKilled as i32);
    assert_eq!(last.healthy, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_http_health_check_and_a_tcp_check_are_reported() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut task = command_task(
        "web",
        &offer,
        &format!("exec python3 -m http.server {port} --bind 127.0.0.1"),
    );
    task.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Http as i32),
        http: Some(health_check::HttpCheckInfo {
            port: u32::from(port),
            path: Some("/".into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.2),
        grace_period_seconds: Some(60.0),
        ..Default::default()
    });
    task.check = Some(CheckInfo {
        r#type: Some(check_info::Type::Tcp as i32),
        tcp: Some(check_info::Tcp {
            port: u32::from(port),
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.2),
        ..Default::default()
    });
    let launch = f.scheduler.launch_call(&[&offer.id], vec![task], None);
    assert_eq!(f.scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        let updates = seen.get("web").map(Vec::as_slice).unwrap_or_default();
        let healthy = updates.iter().any(|s| s.healthy == Some(true));
        let connected = updates.iter().any(|s| {
            s.check_status
                .as_ref()
                .and_then(|c| c.tcp.as_ref())
                .is_some_and(|t| t.succeeded == Some(true))
        });
        healthy && connected
    })
    .await;
    let updates = &seen["web"];
    // Failures while the server starts fall inside the grace period: the
    // first health report is the healthy one.
    assert_eq!(health_updates(updates).first(), Some(&Some(true)));
    let check = updates.iter().find(|s| s.check_status.is_some()).unwrap();
    assert_eq!(
        check.reason,
        Some(task_status::Reason::TaskCheckStatusUpdated as i32)
    );
    assert_eq!(check.state, TaskState::TaskRunning as i32);
    // Each check report is a change: no two in a row are equal.
    let statuses: Vec<_> = updates.iter().filter_map(|s| s.check_status).collect();
    assert!(statuses.windows(2).all(|w| w[0] != w[1]), "{statuses:?}");

    let kill = f.scheduler.kill_call("web", &offer.agent_id);
    assert_eq!(f.scheduler.call(&kill).await.unwrap().0, 202);
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "web", TaskState::TaskKilled)
    })
    .await;
    // Killed by request, not for its health.
    assert_eq!(seen["web"].last().unwrap().healthy, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_task_in_a_group_takes_the_group_with_it() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let mut sick = command_task("sick", &offer, "exec sleep 1000");
    sick.health_check = Some(failing_health_check());
    let well = command_task("well", &offer, "exec sleep 1000");
    let executor = ExecutorInfo {
        r#type: Some(executor_info::Type::Default as i32),
        executor_id: ExecutorId::new("pair"),
        framework_id: Some(f.scheduler.framework_id().clone()),
        resources: "cpus:0.1;mem:32"
            .parse::<mesos_proto::resources::Resources>()
            .unwrap()
            .into_vec(),
        ..Default::default()
    };
    let launch = f
        .scheduler
        .launch_group_call(&[&offer.id], executor, vec![sick, well]);
    assert_eq!(f.scheduler.call(&launch).await.unwrap().0, 202);
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "sick", TaskState::TaskKilled) && reached(seen, "well", TaskState::TaskKilled)
    })
    .await;
    assert_eq!(seen["sick"].last().unwrap().healthy, Some(false));
    assert_eq!(seen["well"].last().unwrap().healthy, None);
    assert_eq!(health_updates(&seen["sick"]), [Some(false), Some(false)]);
}
