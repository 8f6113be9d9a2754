//! `mesos`: one binary for every role of the cluster.

mod api;
mod bench;
mod execute;
mod flags;
mod inspect;
mod local;

use anyhow::{Context, Result};
use flags::Flags;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: mesos <command> [options]

Commands:
  master     run a master (--ip, --port, --work_dir, ...; MESOS_* variables too)
  agent      run an agent (--master, --work_dir, --resources, ...; MESOS_* too)
  local      run a master and agents on this machine (--agents N, --work_dir)
  execute    run one task and follow it (--command CMD, --follow, ...)
  agents     list the agents (--json for scripts)
  frameworks list the frameworks (--all: completed ones too)
  tasks, ps  list the tasks (--all: completed ones too)
  cat        print a task's stdout or stderr (mesos cat TASK [stderr])
  tail       its last lines; -f follows it (mesos tail -f TASK)
  bench      run a mesos-bench scenario (launch, state)
  version    print the version
  help       print this help
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("version" | "--version" | "-V") => {
            println!(
                "mesos {} (Mesos API {})",
                env!("CARGO_PKG_VERSION"),
                mesos_master::MESOS_VERSION
            );
            ExitCode::SUCCESS
        }
        Some("master") => report(master(&args[1..])),
        Some("bench") => report(bench::run(&args[1..])),
        Some("agent") => report(agent(&args[1..])),
        // Run by agents, not people: the built-in executors.
        Some("executor") => report(executor(&args[1..])),
        Some("containerizer") => report(containerizer(&args[1..])),
        Some(cmd @ ("agents" | "frameworks" | "tasks" | "ps" | "cat" | "tail")) => {
            report(inspect::run(cmd, &args[1..]))
        }
        Some("local") => report(local::run(&args[1..])),
        Some("execute") => match execute::run(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("mesos execute: {e:#}");
                ExitCode::FAILURE
            }
        },
        Some(other) => {
            eprintln!("mesos: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn report(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mesos: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only on a terminal, never in files or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        // `RUST_LOG=debug` (a plain level only) for more, `warn` for less.
        .with_max_level(
            std::env::var("RUST_LOG")
                .ok()
                .and_then(|level| level.parse::<tracing::Level>().ok())
                .unwrap_or(tracing::Level::INFO),
        )
        .try_init();
}

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// The master's flags, with Mesos' names.
const MASTER_FLAGS: &[&str] = &[
    "ip",
    "port",
    "hostname",
    "work_dir",
    "registry",
    "zk",
    "zk_session_timeout",
    "quorum",
    "allocation_interval",
    "agent_ping_timeout",
    "max_agent_ping_timeouts",
    "agent_reregister_timeout",
    "registry_max_agent_age",
    "registry_max_agent_count",
    "registry_gc_interval",
    "offer_timeout",
    "weights",
    "max_completed_frameworks",
    "max_completed_tasks_per_framework",
];

/// The master's settings from its flags.
fn master_config(flags: &Flags) -> Result<mesos_master::MasterConfig> {
    use mesos_master::RegistryConfig;
    let mut config = mesos_master::MasterConfig::default();
    if let Some(ip) = flags.get("ip")? {
        config.ip = ip;
    }
    if let Some(port) = flags.get("port")? {
        config.port = port;
    }
    config.hostname = flags.get("hostname")?;
    let work_dir: Option<std::path::PathBuf> = flags.get("work_dir")?;
    config.zk = flags.text("zk").map(zk_url).transpose()?;
    if let Some(d) = flags.duration("zk_session_timeout")? {
        config.zk_session_timeout = d;
    }
    if let Some(quorum) = flags.text("quorum") {
        // Mesos' replicated log needs a quorum of masters; our replicated
        // registry lives in ZooKeeper, whose own quorum keeps it.
        quorum
            .parse::<u32>()
            .ok()
            .filter(|q| *q > 0)
            .with_context(|| format!("invalid --quorum={quorum}: expected a positive number"))?;
    }
    config.registry = match (flags.text("registry"), work_dir) {
        (Some("in_memory"), _) => RegistryConfig::InMemory,
        (Some("replicated") | None, _) if config.zk.is_some() => RegistryConfig::Replicated,
        (Some("replicated" | "local") | None, Some(work_dir)) => RegistryConfig::Local { work_dir },
        (Some(r @ ("replicated" | "local")), None) => {
            anyhow::bail!("--registry={r} needs --work_dir (or --zk for replicated)")
        }
        (None, None) => {
            tracing::warn!(
                "no --work_dir: the registry is in memory and lost when the master stops"
            );
            RegistryConfig::InMemory
        }
        (Some(other), _) => {
            anyhow::bail!("invalid --registry={other}: expected in_memory, local or replicated")
        }
    };
    if let Some(d) = flags.duration("allocation_interval")? {
        config.allocation_interval = d;
    }
    if let Some(d) = flags.duration("agent_ping_timeout")? {
        config.agent_ping_timeout = d;
    }
    if let Some(n) = flags.get("max_agent_ping_timeouts")? {
        config.max_agent_ping_timeouts = n;
    }
    if let Some(d) = flags.duration("agent_reregister_timeout")? {
        config.agent_reregister_timeout = d;
    }
    if let Some(d) = flags.duration("registry_max_agent_age")? {
        config.registry_max_agent_age = d;
    }
    if let Some(n) = flags.get("registry_max_agent_count")? {
        config.registry_max_agent_count = n;
    }
    if let Some(d) = flags.duration("registry_gc_interval")? {
        config.registry_gc_interval = d;
    }
    config.offer_timeout = flags.duration("offer_timeout")?;
    if let Some(n) = flags.get("max_completed_frameworks")? {
        config.max_completed_frameworks = n;
    }
    if let Some(n) = flags.get("max_completed_tasks_per_framework")? {
        config.max_completed_tasks_per_framework = n;
    }
    if let Some(text) = flags.text("weights") {
        for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (role, weight) = pair.split_once('=').with_context(|| {
                format!("invalid --weights entry `{pair}`: expected role=weight")
            })?;
            let weight: f64 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w > 0.0)
                .with_context(|| {
                    format!(
                        "invalid weight in --weights entry `{pair}`: expected a positive number"
                    )
                })?;
            config.weights.insert(role.trim().to_string(), weight);
        }
    }
    Ok(config)
}

/// A `--zk` value: `zk://...`, or `file:///path` of a file holding one
/// (as Mesos takes it).
pub(crate) fn zk_url(text: &str) -> Result<mesos_state::zk::ZkUrl> {
    let text = match text.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the ZooKeeper URL from {path}"))?,
        None => text.to_string(),
    };
    Ok(text.trim().parse()?)
}

fn master(args: &[String]) -> Result<()> {
    let flags = Flags::parse(args, MASTER_FLAGS)?;
    init_logging();
    let config = master_config(&flags)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let master = mesos_master::Master::start(config).await?;
        // The one line scripts and tests read to find the master.
        println!("master listening on http://{}", master.addr());
        shutdown_signal().await?;
        master.stop().await;
        Ok(())
    })
}

/// The agent's flags, with Mesos' names.
const AGENT_FLAGS: &[&str] = &[
    "master",
    "ip",
    "port",
    "hostname",
    "work_dir",
    "resources",
    "attributes",
    "isolation",
    "cgroups_root",
    "cgroups_enable_cfs",
    "executor_registration_timeout",
    "executor_shutdown_grace_period",
    "recover",
    "recovery_timeout",
    "gc_delay",
    "fetcher_cache_dir",
    "fetcher_cache_size",
    "launcher",
];

/// The agent's settings from its flags.
fn agent_config(flags: &Flags) -> Result<mesos_agent::AgentConfig> {
    let mut config = mesos_agent::AgentConfig::default();
    config.master = flags
        .text("master")
        .context("--master is required: the master's host:port, as in --master=127.0.0.1:5050")?
        .to_string();
    config.work_dir = flags
        .get("work_dir")?
        .context("--work_dir is required: where sandboxes and checkpoints live")?;
    if let Some(ip) = flags.get("ip")? {
        config.ip = ip;
    }
    if let Some(port) = flags.get("port")? {
        config.port = port;
    }
    config.hostname = flags.get("hostname")?;
    config.resources = flags.get("resources")?;
    if let Some(a) = flags.text("attributes") {
        config.attributes = a.to_string();
    }
    if let Some(i) = flags.text("isolation") {
        config.isolation = i.to_string();
    }
    if let Some(r) = flags.text("cgroups_root") {
        config.cgroups_root = r.to_string();
    }
    if let Some(b) = flags.get("cgroups_enable_cfs")? {
        config.cgroups_enable_cfs = b;
    }
    if let Some(d) = flags.duration("executor_registration_timeout")? {
        config.executor_registration_timeout = d;
    }
    if let Some(d) = flags.duration("executor_shutdown_grace_period")? {
        config.executor_shutdown_grace_period = d;
    }
    if let Some(r) = flags.get("recover")? {
        config.recover = r;
    }
    if let Some(d) = flags.duration("recovery_timeout")? {
        config.recovery_timeout = d;
    }
    if let Some(d) = flags.duration("gc_delay")? {
        config.gc_delay = d;
    }
    config.fetcher_cache_dir = flags.get("fetcher_cache_dir")?;
    if let Some(n) = flags.get("fetcher_cache_size")? {
        config.fetcher_cache_size = n;
    }
    config.launcher = flags.get("launcher")?;
    Ok(config)
}

fn agent(args: &[String]) -> Result<()> {
    let flags = Flags::parse(args, AGENT_FLAGS)?;
    init_logging();
    let config = agent_config(&flags)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let agent = mesos_agent::Agent::start(config).await?;
        // The one line scripts and tests read to find the agent.
        println!("agent listening on http://{}", agent.addr());
        // As Mesos: SIGTERM (or Ctrl-C) stops the agent and leaves its
        // executors to a restarted agent to recover; SIGUSR1 shuts every
        // executor down first.
        let mut usr1 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
        tokio::select! {
            r = shutdown_signal() => {
                r?;
                agent.halt().await;
            }
            _ = usr1.recv() => agent.stop().await,
        }
        Ok(())
    })
}

/// `mesos executor command|default`: the built-in executors, run by agents.
fn executor(args: &[String]) -> Result<()> {
    init_logging();
    match args.first().map(String::as_str) {
        Some("command") => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(mesos_agent::executors::command::run())?;
            Ok(())
        }
        Some("default") => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(mesos_agent::executors::default::run())?;
            Ok(())
        }
        other => anyhow::bail!(
            "unknown executor {:?}: expected `mesos executor command` or `mesos executor default`",
            other.unwrap_or("")
        ),
    }
}

/// `mesos containerizer launch`: run by the agent to start a container's
/// first process inside its cgroups and namespaces.
fn containerizer(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("launch") => anyhow::bail!("{}", mesos_agent::containerizer::launch_main(&args[1..])),
        other => anyhow::bail!(
            "unknown containerizer command {:?}: expected `mesos containerizer launch`",
            other.unwrap_or("")
        ),
    }
}
