//! Task groups (LAUNCH_GROUP) on the default executor (`mesos executor
//! default`): tasks run side by side, each with its own sandbox; the
//! group lives and dies together.

mod common;

use common::{
    Fixture, WAIT, agent_state, collect_until, command_task, default_executor, fixture,
    fixture_with, offer, reached, root, states, terminal,
};
use mesos_proto::v1::{ExecutorId, Offer, TaskInfo, TaskState, task_status};
use mesos_testkit::TestClient;
use std::collections::BTreeMap;

async fn launch_group(f: &mut Fixture, offer: &Offer, executor: &str, tasks: Vec<TaskInfo>) {
    let mut executor = default_executor(executor);
    executor.framework_id = Some(f.scheduler.framework_id().clone());
    let call = f.scheduler.launch_group_call(&[&offer.id], executor, tasks);
    let (status, body) = f.scheduler.call(&call).await.unwrap();
    assert_eq!(status, 202, "{body}");
}

/// The executor's sandbox, from the agent's `/state`.
async fn executor_sandbox(f: &Fixture, executor: &str) -> String {
    let state = agent_state(&f.agent).await;
    for fw in state["frameworks"].as_array().unwrap() {
        for list in ["executors", "completed_executors"] {
            for ex in fw[list].as_array().unwrap() {
                if ex["id"] == executor {
                    return ex["directory"].as_str().unwrap().to_string();
                }
            }
        }
    }
    panic!("no executor {executor} in {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_of_two_runs_side_by_side_in_sandboxes_of_their_own() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let tasks = vec![
        command_task("first", &offer, "echo one from $MESOS_TASK_ID"),
        command_task("second", &offer, "echo two > note; pwd"),
    ];
    launch_group(&mut f, &offer, "group", tasks).await;
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "first", TaskState::TaskFinished)
            && reached(seen, "second", TaskState::TaskFinished)
    })
    .await;
    for task in ["first", "second"] {
        assert_eq!(
            states(&seen[task]),
            [
                TaskState::TaskStarting,
                TaskState::TaskRunning,
                TaskState::TaskFinished
            ],
            "{task}"
        );
        assert_eq!(
            seen[task][0].executor_id,
            Some(ExecutorId::new("group")),
            "updates name the group's executor"
        );
    }
    // Each task's output is in its own sandbox, readable through /files.
    let sandbox = executor_sandbox(&f, "group").await;
    let read = |path: String| {
        let url = format!("http://{}/files/read?path={path}&offset=0", f.agent.addr());
        async move {
            let (status, _, body) = TestClient::default().get(&url).await.unwrap();
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            json["data"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(
        read(format!("{sandbox}/tasks/first/stdout")).await,
        "one from first\n"
    );
    // Each task runs in a nested container of its own: its sandbox is
    // `containers/<id>`, linked from `tasks/<task id>` as in Mesos.
    let pwd = read(format!("{sandbox}/tasks/second/stdout")).await;
    let own = std::fs::canonicalize(format!("{sandbox}/tasks/second")).unwrap();
    assert_eq!(pwd.trim_end(), own.to_str().unwrap());
    assert!(pwd.starts_with(&format!("{sandbox}/containers/")), "{pwd}");

    assert_eq!(read(format!("{sandbox}/tasks/second/note")).await, "two\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_task_kills_the_rest_of_its_group() {
    let mut f = fixture(&[]).await;
    let offer = offer(&mut f.scheduler).await;
    let tasks = vec![
        command_task("fails", &offer, "sleep 0.5; exit 3"),
        command_task("sleeps", &offer, "exec sleep 1000"),
    ];
    launch_group(&mut f, &offer, "doomed", tasks).await;
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "fails", TaskState::TaskFailed)
            && reached(seen, "sleeps", TaskState::TaskKilled)
    })
    .await;
    let failed = seen["fails"].last().unwrap();
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
    assert_eq!(
        states(&seen["sleeps"]),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilled
        ]
    );
    // With every task ended, the executor exits.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let state = agent_state(&f.agent).await;
        let live = state["frameworks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|fw| !fw["executors"].as_array().unwrap().is_empty());
        if !live {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the executor lives on"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_task_kills_its_whole_group() {
    use mesos_proto::v1::framework_info::capability::Type as Cap;
    let mut f = fixture(&[Cap::TaskKillingState]).await;
    let offer = offer(&mut f.scheduler).await;
    let tasks = vec![
        command_task("a", &offer, "exec sleep 1000"),
        command_task("b", &offer, "exec sleep 1000"),
    ];
    launch_group(&mut f, &offer, "pair", tasks).await;
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "a", TaskState::TaskRunning) && reached(seen, "b", TaskState::TaskRunning)
    })
    .await;
    let kill = f.scheduler.kill_call("a", &offer.agent_id);
    assert_eq!(f.scheduler.call(&kill).await.unwrap().0, 202);
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        reached(seen, "a", TaskState::TaskKilled) && reached(seen, "b", TaskState::TaskKilled)
    })
    .await;
    for task in ["a", "b"] {
        assert_eq!(
            states(&seen[task]),
            [
                TaskState::TaskStarting,
                TaskState::TaskRunning,
                TaskState::TaskKilling,
                TaskState::TaskKilled
            ],
            "{task}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_its_own_memory_limit_fails_and_takes_its_group() {
    if !root() {
        return;
    }
    let mut f = fixture_with(&[], |c| c.isolation = "cgroups/mem".into()).await;
    let offer = offer(&mut f.scheduler).await;
    // Each task is limited to its own memory (its nested container's
    // cgroup), not the group's sum: 300 MB held by `tail` in 64 MB.
    let mut hog = command_task(
        "hog",
        &offer,
        "head -c 300000000 /dev/zero | tail -n 1 > /dev/null",
    );
    hog.resources = "cpus:0.1;mem:64"
        .parse::<mesos_proto::resources::Resources>()
        .unwrap()
        .into_vec();
    let mut calm = command_task("calm", &offer, "exec sleep 1000");
    calm.resources = "cpus:0.1;mem:256"
        .parse::<mesos_proto::resources::Resources>()
        .unwrap()
        .into_vec();
    launch_group(&mut f, &offer, "limits", vec![hog, calm]).await;
    let mut seen = BTreeMap::new();
    collect_until(&mut f.scheduler, &mut seen, |seen| {
        ["hog", "calm"]
            .iter()
            .all(|t| seen.get(*t).and_then(|u| u.last()).is_some_and(terminal))
    })
    .await;
    let hog = seen["hog"].last().unwrap();
    assert_eq!(hog.state, TaskState::TaskFailed as i32, "{hog:?}");
    assert_eq!(
        hog.reason,
        Some(task_status::Reason::ContainerLimitationMemory as i32),
        "{hog:?}"
    );
    assert!(
        hog.message
            .as_deref()
            .unwrap_or_default()
            .starts_with("Memory limit exceeded: Requested: 64MB"),
        "{hog:?}"
    );
    let calm = seen["calm"].last().unwrap();
    assert_eq!(calm.state, TaskState::TaskKilled as i32, "{calm:?}");
}
