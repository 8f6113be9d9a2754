//! `mesos local`: a master and N agents in one process, on loopback.

use crate::flags::Flags;
use anyhow::{Context, Result};
use mesos_agent::resources::{Machine, agent_resources};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FLAGS: &[&str] = &["agents", "work_dir", "ip", "port", "resources", "isolation"];

pub(crate) const USAGE: &str = "\
Usage: mesos local [--agents N] [--work_dir DIR] [--port PORT] [--resources TEXT]

Runs a master and N agents (default 1) in this process on loopback. Each
agent gets its own work directory (DIR/agent-<i>), its own port (the
master's port plus i) and an equal share of the machine's cpus, memory,
disk and ports [31000-32000], unless --resources gives every agent the
same resources. The registry is kept in DIR/master (default work dir:
/tmp/mesos-local), so a restarted `mesos local` remembers its agents.
Ctrl-C stops everything: tasks, executors, agents and the master.
";

/// The settings of `mesos local`.
#[derive(Debug, Clone)]
struct Local {
    agents: usize,
    work_dir: PathBuf,
    ip: IpAddr,
    port: u16,
    resources: Option<String>,
    isolation: Option<String>,
}

fn settings(args: &[String]) -> Result<Local> {
    let flags = Flags::parse(args, FLAGS)?;
    let agents: usize = flags.get("agents")?.unwrap_or(1);
    anyhow::ensure!(
        (1..=64).contains(&agents),
        "invalid --agents={agents}: expected 1 to 64"
    );
    Ok(Local {
        agents,
        work_dir: flags
            .get("work_dir")?
            .unwrap_or_else(|| PathBuf::from("/tmp/mesos-local")),
        ip: flags.get("ip")?.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port: flags.get("port")?.unwrap_or(5050),
        resources: flags.text("resources").map(str::to_string),
        isolation: flags.text("isolation").map(str::to_string),
    })
}

/// Agent `index`'s share (of `agents`) of what `machine` offers: the
/// scalars divided equally, ports `[31000-32000]` cut into equal ranges.
///
/// `share(&m, 1, 2)` of a 2-cpu machine is `cpus:1;mem:...;ports:[31500-31999]`.
fn share(machine: &Machine, index: usize, agents: usize) -> Result<String> {
    let whole = agent_resources(None, machine).context("measuring this machine")?;
    let n = agents as f64;
    let scalar = |v: Option<f64>| ((v.unwrap_or(0.0) / n) * 1000.0).floor() / 1000.0;
    let span = 1001 / agents;
    let first = 31000 + index * span;
    Ok(format!(
        "cpus:{};mem:{};disk:{};ports:[{}-{}]",
        scalar(whole.cpus()).max(0.1),
        scalar(whole.mem()).floor().max(32.0),
        scalar(whole.disk()).floor(),
        first,
        first + span - 1
    ))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(());
    }
    let local = settings(args)?;
    crate::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(local))
}

async fn serve(local: Local) -> Result<()> {
    let master_dir = local.work_dir.join("master");
    std::fs::create_dir_all(&master_dir)
        .with_context(|| format!("creating the work dir {}", master_dir.display()))?;
    let master = mesos_master::Master::start(mesos_master::MasterConfig {
        ip: local.ip,
        port: local.port,
        registry: mesos_master::RegistryConfig::Local {
            work_dir: master_dir,
        },
        ..Default::default()
    })
    .await
    .with_context(|| {
        format!(
            "starting the master on {}:{} (is another `mesos local` or master running? \
             --port picks another port)",
            local.ip, local.port
        )
    })?;
    let machine = Machine::detect(&local.work_dir);
    let mut agents = Vec::new();
    for i in 0..local.agents {
        match start_agent(&local, &machine, master.addr(), i).await {
            Ok(agent) => agents.push(agent),
            Err(e) => {
                for agent in agents {
                    agent.stop().await;
                }
                master.stop().await;
                return Err(e);
            }
        }
    }
    banner(&local.work_dir, master.addr(), &agents);
    let signal = crate::shutdown_signal().await;
    eprintln!("mesos local: stopping tasks, executors, agents and the master");
    for agent in agents {
        agent.stop().await;
    }
    master.stop().await;
    signal
}

async fn start_agent(
    local: &Local,
    machine: &Machine,
    master: std::net::SocketAddr,
    i: usize,
) -> Result<mesos_agent::Agent> {
    let mut config = mesos_agent::AgentConfig::default();
    config.master = master.to_string();
    config.ip = local.ip;
    config.port = if local.port == 0 {
        0
    } else {
        local
            .port
            .checked_add(1 + i as u16)
            .context("agent port past 65535")?
    };
    config.work_dir = local.work_dir.join(format!("agent-{}", i + 1));
    let config_dir = config.work_dir.clone();
    config.resources = Some(match &local.resources {
        Some(r) => r.clone(),
        None => share(machine, i, local.agents)?,
    });
    if let Some(isolation) = &local.isolation {
        config.isolation = isolation.clone();
    }
    let agent = mesos_agent::Agent::start(config)
        .await
        .with_context(|| format!("starting agent {}", i + 1))?;
    match tokio::time::timeout(Duration::from_secs(30), agent.registration()).await {
        Ok(Ok(_)) => {}
        Ok(Err(refused)) => anyhow::bail!(
            "agent {}: {refused}; its work directory {} belongs to an agent the master \
             will not take back: remove {} to start afresh",
            i + 1,
            config_dir.display(),
            local.work_dir.display()
        ),
        Err(_) => anyhow::bail!(
            "agent {} did not register with the master within 30 s",
            i + 1
        ),
    }
    Ok(agent)
}

fn banner(work_dir: &Path, master: std::net::SocketAddr, agents: &[mesos_agent::Agent]) {
    let n = agents.len();
    println!(
        "mesos local: a master and {n} agent{} on this machine",
        if n == 1 { "" } else { "s" }
    );
    println!("  master    http://{master}   (state: http://{master}/state)");
    for (i, agent) in agents.iter().enumerate() {
        println!("  agent {:<3} http://{}", i + 1, agent.addr());
    }
    println!("  work dir  {}", work_dir.display());
    println!("Try:  mesos execute --master {master} --command 'echo hello' --follow");
    println!("Ctrl-C stops everything.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cut_the_machine_evenly() {
        let machine = Machine {
            cpus: 2.0,
            mem_mb: 24576.0,
            disk_mb: 100_000.0,
        };
        assert_eq!(
            share(&machine, 0, 1).unwrap(),
            "cpus:2;mem:23552;disk:94880;ports:[31000-32000]"
        );
        assert_eq!(
            share(&machine, 1, 2).unwrap(),
            "cpus:1;mem:11776;disk:47440;ports:[31500-31999]"
        );
        let third = share(&machine, 2, 3).unwrap();
        assert!(third.starts_with("cpus:0.666;mem:7850;"), "{third}");
        assert!(third.ends_with("ports:[31666-31998]"), "{third}");
    }

    #[test]
    fn bad_agent_counts_are_refused() {
        let err = settings(&["--agents".into(), "0".into()]).unwrap_err();
        assert!(err.to_string().contains("--agents=0"), "{err}");
    }
}
