//! Processes the way Mesos runs them: a `CommandInfo` turned into a
//! process of its own group, signalled as a whole. Shared by the
//! containerizer (executors) and the built-in executors (tasks).

use mesos_proto::v1::CommandInfo;
use std::path::Path;
use std::process::Stdio;

pub use rustix::process::Signal;

/// The command line of `info`: `sh -c <value>` in shell form, else
/// `value` run with `arguments` (whose first element is `argv[0]`, as in
/// Mesos).
///
/// ```
/// use mesos_agent::containerizer::process::argv;
/// use mesos_proto::v1::CommandInfo;
///
/// let shell = CommandInfo { value: Some("echo hi".into()), ..Default::default() };
/// assert_eq!(argv(&shell), ["sh", "-c", "echo hi"]);
/// let plain = CommandInfo {
///     shell: Some(false),
///     value: Some("/bin/echo".into()),
///     arguments: vec!["echo".into(), "hi".into()],
///     ..Default::default()
/// };
/// assert_eq!(argv(&plain), ["/bin/echo", "hi"]);
/// ```
pub fn argv(info: &CommandInfo) -> Vec<String> {
    let value = info.value.clone().unwrap_or_default();
    if info.shell.unwrap_or(true) {
        vec!["sh".into(), "-c".into(), value]
    } else {
        let mut argv = vec![value];
        argv.extend(info.arguments.iter().skip(1).cloned());
        argv
    }
}

/// A command for `info`, in its own process group, working in `cwd`, with
/// `env` and then the command's own environment, output appended to
/// `stdout` and `stderr` in `cwd` when `capture` is set.
pub fn command(
    info: &CommandInfo,
    env: &[(String, String)],
    cwd: &Path,
    capture: bool,
) -> std::io::Result<tokio::process::Command> {
    let argv = argv(info);
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .kill_on_drop(false);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(environment) = &info.environment {
        for var in &environment.variables {
            cmd.env(&var.name, var.value.as_deref().unwrap_or(""));
        }
    }
    if capture {
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(cwd.join(name))
        };
        cmd.stdout(open("stdout")?).stderr(open("stderr")?);
    }
    Ok(cmd)
}

/// Sends `signal` to the process group `pgid` (every process of the
/// container that did not leave it). A group that is gone is not an error.
pub fn signal_group(pgid: u32, signal: Signal) -> std::io::Result<()> {
    let Some(pid) = i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Ok(());
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The name Mesos prints for a signal number (`Killed`, `Terminated`).
pub fn signal_name(signal: i32) -> String {
    match signal {
        1 => "Hangup".into(),
        2 => "Interrupt".into(),
        3 => "Quit".into(),
        6 => "Aborted".into(),
        9 => "Killed".into(),
        11 => "Segmentation fault".into(),
        13 => "Broken pipe".into(),
        15 => "Terminated".into(),
        other => format!("{other}"),
    }
}

/// The [`Termination`](super::Termination) of an exit status.
pub fn termination(status: std::process::ExitStatus) -> super::Termination {
    use std::os::unix::process::ExitStatusExt;
    super::Termination {
        exit_code: status.code(),
        signal: status.signal(),
        limitation: None,
    }
}

/// How often a re-adopted process is checked (libprocess' `reap` polls
/// non-children the same way).
const REAP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// Watches a process the agent did not start itself (one re-adopted after
/// an agent restart): resolves when it ends. Its exit status is not ours
/// to collect, so the termination carries none.
///
/// Fails when the process is already gone.
pub fn watch_exit(pid: u32) -> std::io::Result<tokio::sync::oneshot::Receiver<super::Termination>> {
    let start_time = crate::checkpoint::process_start_time(pid);
    if !is_alive(pid, start_time) {
        return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        while is_alive(pid, start_time) && !tx.is_closed() {
            tokio::time::sleep(REAP_INTERVAL).await;
        }
        let _ = tx.send(super::Termination {
            exit_code: None,
            signal: None,
            limitation: None,
        });
    });
    Ok(rx)
}

/// Whether process `pid` is alive and is the one that started at
/// `start_time` (when known), not a later process given the same pid.
pub fn is_alive(pid: u32, start_time: Option<u64>) -> bool {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    if rustix::process::test_kill_process(p).is_err() {
        return false;
    }
    // An exited process waiting to be reaped is not alive.
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat[stat.rfind(')')? + 1..].trim_start().to_string();
            rest.chars().next()
        })
        .is_some_and(|state| state == 'Z' || state == 'X');
    if zombie {
        return false;
    }
    match (start_time, crate::checkpoint::process_start_time(pid)) {
        (Some(then), Some(now)) => then == now,
        (Some(_), None) => false,
        (None, _) => true,
    }
}
