//! The Linux containerizer for real: cgroups (v1 or v2, as the machine
//! has them) and pid namespaces, with a real master, agent and executor.
//! These need root; elsewhere they say so and do nothing.

mod common;

use common::*;
use mesos_agent::containerizer::cgroups::Hierarchy;
use mesos_proto::v1::{TaskState, task_status};
use mesos_testkit::TestClient;
use std::path::PathBuf;
use std::time::Duration;

/// The container id of the executor running `task`, from `/state`.
fn container_of(state: &serde_json::Value, task: &str) -> String {
    for fw in state["frameworks"].as_array().unwrap() {
        for ex in fw["executors"].as_array().unwrap() {
            if ex["id"] == task {
                return ex["container"].as_str().unwrap().to_string();
            }
        }
    }
    panic!("no live executor for {task} in {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_its_memory_limit_fails_with_the_memory_reason() {
    if !root() {
        return;
    }
    let mut f = fixture_with(&[], |c| c.isolation = "cgroups/mem".into()).await;
    let offer = offer(&mut f.scheduler).await;
    // `tail` keeps a line without newlines in memory: 300 MB of it, in a
    // container limited to 64 MB (+32 MB for the executor).
    let mut task = command_task(
        "hog",
        &offer,
        "head -c 300000000 /dev/zero | tail -n 1 > /dev/null",
    );
    task.resources = "cpus:0.1;mem:64"
        .parse::<mesos_proto::resources::Resources>()
        .unwrap()
        .into_vec();
    launch(&mut f, task, &offer).await;
    let updates = updates_until(&mut f, "hog", terminal).await;
    let last = updates.last().unwrap();
    assert_eq!(last.state, TaskState::TaskFailed as i32, "{last:?}");
    assert_eq!(
        last.reason,
        Some(task_status::Reason::ContainerLimitationMemory as i32),
        "{last:?}"
    );
    assert!(
        last.message
            .as_deref()
            .unwrap_or_default()
            .starts_with("Memory limit exceeded: Requested: 96MB"),
        "{last:?}"
    );
    f.agent.stop().await;
    f.master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_shares_and_quota_are_applied_and_usage_is_reported() {
    if !root() {
        return;
    }
    let mut f = fixture_with(&[], |c| {
        c.isolation = "cgroups/cpu,cgroups/mem,cgroups/pids".into();
        c.cgroups_enable_cfs = true;
    })
    .await;
    let offer = offer(&mut f.scheduler).await;
    let mut task = command_task("capped", &offer, "sleep 60");
    task.resources = "cpus:0.5;mem:64"
        .parse::<mesos_proto::resources::Resources>()
        .unwrap()
        .into_vec();
    launch(&mut f, task, &offer).await;
    updates_until(&mut f, "capped", |s| {
        s.state == TaskState::TaskRunning as i32
    })
    .await;
    let container = container_of(&agent_state(&f.agent).await, "capped");
    // 0.5 cpus for the task and 0.1 for the command executor.
    let cpu_dir: PathBuf = match Hierarchy::detect().expect("a cgroup hierarchy") {
        Hierarchy::V1 { mounts } => {
            let cpu = mounts["cpu"].join("mesos").join(&container);
            assert_eq!(
                std::fs::read_to_string(cpu.join("cpu.cfs_quota_us"))
                    .unwrap()
                    .trim(),
                "60000"
            );
            assert_eq!(
                std::fs::read_to_string(cpu.join("cpu.shares"))
                    .unwrap()
                    .trim(),
                "614"
            );
            let procs = std::fs::read_to_string(cpu.join("cgroup.procs")).unwrap();
            assert!(
                procs.lines().count() >= 2,
                "executor and task in the cgroup: {procs}"
            );
            cpu
        }
        Hierarchy::V2 { root } => {
            let dir = root.join("mesos").join(&container);
            assert_eq!(
                std::fs::read_to_string(dir.join("cpu.max")).unwrap().trim(),
                "60000 100000"
            );
            dir
        }
    };
    let (status, _, body) = TestClient::default()
        .get(&format!("http://{}/monitor/statistics", f.agent.addr()))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let s = &stats[0]["statistics"];
    assert_eq!(stats[0]["executor_id"], "capped");
    assert!(
        (s["cpus_limit"].as_f64().unwrap() - 0.6).abs() < 1e-9,
        "{s}"
    );
    assert_eq!(s["mem_limit_bytes"].as_u64().unwrap(), 96 << 20);
    assert!(s["processes"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["mem_total_bytes"].as_u64().unwrap() > 0, "{s}");

    let kill = f.scheduler.kill_call("capped", &offer.agent_id);
    assert_eq!(f.scheduler.call(&kill).await.unwrap().0, 202);
    let rest = updates_until(&mut f, "capped", terminal).await;
    assert_eq!(rest.last().unwrap().state, TaskState::TaskKilled as i32);
    // The container's cgroups go away with it.
    let deadline = std::time::Instant::now() + WAIT;
    while cpu_dir.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} is still there",
            cpu_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f.agent.stop().await;
    f.master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pid_namespace_shows_only_the_containers_processes() {
    if !root() {
        return;
    }
    let mut f = fixture_with(&[], |c| c.isolation = "namespaces/pid".into()).await;
    let offer = offer(&mut f.scheduler).await;
    let command = "tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc | grep -c '^[0-9][0-9]*$'";
    launch(&mut f, command_task("ns", &offer, command), &offer).await;
    let updates = updates_until(&mut f, "ns", terminal).await;
    assert_eq!(
        updates.last().unwrap().state,
        TaskState::TaskFinished as i32
    );
    let dir = sandbox_of(&agent_state(&f.agent).await, "ns");
    let out = std::fs::read_to_string(format!("{dir}/stdout")).unwrap();
    let mut lines = out.lines();
    // Pid 1 of the namespace is the executor.
    assert!(lines.next().unwrap().contains("executor command"), "{out}");
    // The executor, the shell and its pipeline: a handful, not the host's.
    let count: usize = lines.next().unwrap().trim().parse().unwrap();
    assert!(count <= 6, "{count} processes visible: {out}");
    f.agent.stop().await;
    f.master.stop().await;
}
