//! `mesos execute`: like mesos-execute, a framework of one task that
//! prints the task's state changes, optionally streams its stdout, and
//! exits with its exit status. Written on the public scheduler SDK.

use crate::api::Cluster;
use crate::flags::Flags;
use anyhow::{Context, Result};
use mesos_proto::resources::Resources;
use mesos_proto::v1::scheduler::event;
use mesos_proto::v1::{FrameworkInfo, Offer, TaskState, TaskStatus};
use mesos_scheduler::builders::{CommandBuilder, TaskBuilder};
use mesos_scheduler::offers::{Needs, OfferResources};
use mesos_scheduler::reconcile::is_terminal;
use mesos_scheduler::{Scheduler, SchedulerConfig, SchedulerDriver};
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

const FLAGS: &[&str] = &[
    "master",
    "command",
    "name",
    "resources",
    "env",
    "role",
    "user",
];
const SWITCHES: &[&str] = &["follow", "no-shell"];

pub(crate) const USAGE: &str = "\
Usage: mesos execute --command CMD [--master HOST:PORT] [--name NAME]
                     [--resources TEXT] [--env K=V ...] [--role ROLE] [--follow]

Runs CMD as one task (through /bin/sh -c unless --no-shell), prints its
state changes on stderr and exits with its exit status. --follow streams
the task's stdout while it runs. --resources defaults to cpus:0.1;mem:32.
--master defaults to 127.0.0.1:5050 (or MESOS_MASTER).
";

/// One run's settings.
#[derive(Debug, Clone)]
struct Settings {
    master: String,
    command: String,
    shell: bool,
    name: String,
    needs: Needs,
    env: Vec<(String, String)>,
    role: String,
    user: String,
    follow: bool,
}

fn settings(args: &[String]) -> Result<Settings> {
    let (flags, positional) = Flags::parse_with(args, FLAGS, SWITCHES)?;
    if let Some(extra) = positional.first() {
        anyhow::bail!("unexpected argument `{extra}`; quote the command: --command 'echo hi'");
    }
    let command = flags
        .text("command")
        .context("--command is required, as in: mesos execute --command 'echo hello'")?
        .to_string();
    let text = flags.text("resources").unwrap_or("cpus:0.1;mem:32");
    let resources: Resources = text
        .parse()
        .with_context(|| format!("invalid --resources={text}"))?;
    let mut needs = Needs::default();
    for (name, amount) in resources.scalar_quantities() {
        needs = needs.scalar(&name, amount.to_f64());
    }
    let ports = mesos_proto::resources::value::ranges_len(&resources.ports());
    needs = needs.ports(ports as usize);
    let mut env = Vec::new();
    for pair in flags.all("env") {
        let (k, v) = pair
            .split_once('=')
            .with_context(|| format!("invalid --env {pair}: expected NAME=VALUE"))?;
        env.push((k.to_string(), v.to_string()));
    }
    Ok(Settings {
        master: flags.text("master").unwrap_or("127.0.0.1:5050").to_string(),
        command,
        shell: !flags.switch("no-shell")?,
        name: flags.text("name").unwrap_or("mesos-execute").to_string(),
        needs,
        env,
        role: flags.text("role").unwrap_or("*").to_string(),
        user: flags
            .text("user")
            .map(str::to_string)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into()),
        follow: flags.switch("follow")?,
    })
}

/// The task's exit status from its last update: 0 when it finished,
/// the command's status when the executor says `Command exited with
/// status N`, 128 + 9 when killed, 1 otherwise (as a shell would).
fn exit_status(status: &TaskStatus) -> u8 {
    if status.state() == TaskState::TaskFinished {
        return 0;
    }
    let message = status.message.as_deref().unwrap_or("");
    if let Some(code) = message
        .rsplit_once("exited with status ")
        .and_then(|(_, n)| n.trim().parse::<u8>().ok())
        .filter(|c| *c != 0)
    {
        return code;
    }
    if status.state() == TaskState::TaskKilled || message.contains("signal Killed") {
        return 137;
    }
    1
}

/// `eprintln!`, clearing a spinner's line first on a terminal.
macro_rules! say {
    ($($arg:tt)*) => {{
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprint!("\r\x1b[2K");
        }
        eprintln!($($arg)*);
    }};
}

struct Execute {
    settings: Settings,
    task_id: String,
    launched: bool,
    last: Option<TaskStatus>,
    printed: Option<i32>,
    running: watch::Sender<Option<(String, String)>>,
}

impl Scheduler for Execute {
    async fn subscribed(&mut self, _: &SchedulerDriver, s: &event::Subscribed) {
        say!("subscribed as framework {}", s.framework_id.value);
    }

    async fn offers(&mut self, driver: &SchedulerDriver, offers: Vec<Offer>) {
        for offer in offers {
            let taken = (!self.launched)
                .then(|| OfferResources::new(&offer).take(&self.settings.needs))
                .flatten();
            let Some(resources) = taken else {
                let _ = driver
                    .decline(
                        vec![offer.id],
                        Some(mesos_scheduler::client::refuse(3600.0)),
                    )
                    .await;
                continue;
            };
            let mut command = if self.settings.shell {
                CommandBuilder::shell(&self.settings.command)
            } else {
                let words: Vec<&str> = self.settings.command.split_whitespace().collect();
                CommandBuilder::exec(words.first().copied().unwrap_or(""), &words)
            };
            for (k, v) in &self.settings.env {
                command = command.env(k, v);
            }
            let task = TaskBuilder::new(&self.task_id, &offer.agent_id)
                .name(&self.settings.name)
                .command(command)
                .resources(resources)
                .build();
            say!("launching task {} on {}", self.task_id, offer.hostname);
            match driver.launch(vec![offer.id], vec![task], None).await {
                Ok(()) => {
                    self.launched = true;
                    let _ = driver.suppress(vec![]).await;
                }
                Err(e) => say!("launching failed: {e}"),
            }
        }
    }

    async fn update(&mut self, driver: &SchedulerDriver, status: TaskStatus) {
        if status.task_id.value != self.task_id {
            return;
        }
        // Reconciliation repeats what is known; say only what changed, as
        // the agent reports it.
        let reconciled =
            status.reason == Some(mesos_proto::v1::task_status::Reason::Reconciliation as i32);
        if self.printed == Some(status.state) || (reconciled && !is_terminal(status.state)) {
            return;
        }
        self.printed = Some(status.state);
        let name = status.state().as_str_name();
        match status.message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => say!("task {}: {name}: {m}", self.task_id),
            None => say!("task {}: {name}", self.task_id),
        }
        if let (Some(agent), Some(fw)) = (&status.agent_id, driver.framework_id()) {
            if self.running.borrow().is_none() {
                self.running
                    .send_replace(Some((agent.value.clone(), fw.value)));
            }
        }
        if is_terminal(status.state) {
            self.last = Some(status);
            if let Err(e) = driver.teardown().await {
                say!("tearing the framework down failed: {e}");
                driver.stop();
            }
        }
    }

    async fn error(&mut self, _: &SchedulerDriver, message: String) {
        say!("the master removed the framework: {message}");
    }
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let settings = settings(args)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(execute(settings))
}

async fn execute(settings: Settings) -> Result<ExitCode> {
    let cluster = Cluster::new(&settings.master)?;
    // Fail fast, in words, when no master is there.
    cluster.check().await?;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let task_id = format!("{}-{millis}", settings.name);
    let info = FrameworkInfo {
        user: settings.user.clone(),
        name: format!("mesos-execute instance ({})", settings.name),
        roles: vec![settings.role.clone()],
        capabilities: vec![mesos_proto::v1::framework_info::Capability {
            r#type: Some(mesos_proto::v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let mut config = SchedulerConfig::new(&settings.master, info)?;
    config.reconnect_max = Duration::from_secs(5);
    let driver = SchedulerDriver::new(config);
    let (running, watch_running) = watch::channel(None);
    let (done, watch_done) = watch::channel(false);
    // A spinner on a terminal until the task has an agent.
    let spinner = std::io::IsTerminal::is_terminal(&std::io::stderr())
        .then(|| tokio::spawn(spin(watch_running.clone(), watch_done.clone())));
    let follower = settings.follow.then(|| {
        let cluster = cluster.clone();
        let task = task_id.clone();
        tokio::spawn(follow(cluster, task, watch_running, watch_done))
    });
    let mut scheduler = Execute {
        settings,
        task_id,
        launched: false,
        last: None,
        printed: None,
        running,
    };
    let interrupted = tokio::select! {
        r = driver.run(&mut scheduler) => { r?; false }
        _ = crate::shutdown_signal() => true,
    };
    if interrupted {
        say!("interrupted: killing the task and tearing the framework down");
        let _ = driver.teardown().await;
    }
    done.send_replace(true);
    if let Some(spinner) = spinner {
        let _ = spinner.await;
    }
    if let Some(follower) = follower {
        match follower.await {
            Ok(Err(e)) => eprintln!("following stdout failed: {e:#}"),
            Err(e) => eprintln!("following stdout failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
    if interrupted {
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::from(
        scheduler.last.as_ref().map_or(1, exit_status),
    ))
}

/// Draws a spinner on stderr until the task has an agent (or the run
/// ends), then clears its line.
async fn spin(
    mut running: watch::Receiver<Option<(String, String)>>,
    mut done: watch::Receiver<bool>,
) {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let mut frame = 0;
    // Quick answers need no spinner.
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        _ = running.wait_for(Option::is_some) => return,
        _ = done.wait_for(|d| *d) => return,
    }
    loop {
        eprint!(
            "\r{} waiting for resources and the task to start ",
            FRAMES[frame % FRAMES.len()]
        );
        frame += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = running.wait_for(Option::is_some) => break,
            _ = done.wait_for(|d| *d) => break,
        }
    }
    eprint!("\r\x1b[2K");
}

/// Streams the task's stdout to ours once it has an agent, until `done`
/// (and then what is left).
async fn follow(
    cluster: Cluster,
    task: String,
    mut running: watch::Receiver<Option<(String, String)>>,
    mut done: watch::Receiver<bool>,
) -> Result<()> {
    let (agent_id, framework) = tokio::select! {
        r = running.wait_for(Option::is_some) => r?.clone().expect("waited for Some"),
        _ = done.wait_for(|d| *d) => return Ok(()),
    };
    let agent = cluster.agent_address(&agent_id).await?;
    let mut sandbox = None;
    let mut offset = 0u64;
    loop {
        let finished = *done.borrow();
        if sandbox.is_none() {
            sandbox = cluster.sandbox(&agent, &framework, &task).await.ok();
        }
        if let Some(dir) = &sandbox {
            let data = cluster
                .read_from(&agent, &format!("{dir}/stdout"), offset)
                .await?;
            offset += data.len() as u64;
            crate::inspect::print_bytes(&data)?;
        }
        if finished {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = done.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: TaskState, message: &str) -> TaskStatus {
        TaskStatus {
            state: state as i32,
            message: Some(message.into()),
            ..Default::default()
        }
    }

    #[test]
    fn exit_statuses_follow_the_task() {
        assert_eq!(
            exit_status(&status(
                TaskState::TaskFinished,
                "Command exited with status 0"
            )),
            0
        );
        assert_eq!(
            exit_status(&status(
                TaskState::TaskFailed,
                "Command exited with status 3"
            )),
            3
        );
        assert_eq!(
            exit_status(&status(
                TaskState::TaskFailed,
                "Command terminated with signal Killed"
            )),
            137
        );
        assert_eq!(exit_status(&status(TaskState::TaskKilled, "")), 137);
        assert_eq!(
            exit_status(&status(TaskState::TaskError, "bad resources")),
            1
        );
    }

    #[test]
    fn settings_read_flags_and_switches() {
        let args: Vec<String> = [
            "--command",
            "echo hi",
            "--env",
            "A=1",
            "--env=B=2",
            "--follow",
            "--resources",
            "cpus:0.5;mem:16;ports:[1-2]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = settings(&args).unwrap();
        assert_eq!(s.command, "echo hi");
        assert!(s.follow && s.shell);
        assert_eq!(s.env, [("A".into(), "1".into()), ("B".into(), "2".into())]);
        assert_eq!(s.needs.scalars["cpus"], 0.5);
        assert_eq!(s.needs.ports, 2);
        let err = settings(&["--follow".to_string()]).unwrap_err();
        assert!(err.to_string().contains("--command is required"), "{err}");
    }
}
