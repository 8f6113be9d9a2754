//! `mesos bench`: the mesos-bench scenarios (see `mesos_testkit::bench`),
//! run in this process against an in-process master and simulated agents.

use crate::flags::Flags;
use anyhow::Result;
use mesos_testkit::bench;

const USAGE: &str = "\
Usage: mesos bench <scenario> [options]

Scenarios:
  launch   tasks launched per second, ACCEPT to TASK_RUNNING
           (--agents 1000 --cpus 10 --tasks 10000)
  state    /state at scale while probing the event loop
           (--agents 10000 --tasks 100000 --rounds 5; --external=true runs
           the master as a `mesos master` child process and reports its RSS)
";

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `mesos bench ARGS`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some(scenario) = args.first() else {
        print!("{USAGE}");
        return Ok(());
    };
    let flags = Flags::parse(
        &args[1..],
        &["agents", "cpus", "tasks", "rounds", "external"],
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    match scenario.as_str() {
        "launch" => {
            let agents = flags.get("agents")?.unwrap_or(1000);
            let cpus = flags.get("cpus")?.unwrap_or(10);
            let tasks = flags.get("tasks")?.unwrap_or(10_000);
            let r = runtime.block_on(bench::launch_throughput(agents, cpus, tasks))?;
            println!(
                "launch: {} tasks on {agents} agents in {:.3} s = {:.0} tasks/s; ACCEPT->RUNNING p50 {:.1} ms, p99 {:.1} ms",
                r.tasks,
                r.elapsed.as_secs_f64(),
                r.rate(),
                ms(r.p50),
                ms(r.p99)
            );
        }
        "state" => {
            let agents = flags.get("agents")?.unwrap_or(10_000);
            let tasks = flags.get("tasks")?.unwrap_or(100_000);
            let rounds = flags.get("rounds")?.unwrap_or(5);
            let external: bool = flags.get("external")?.unwrap_or(false);
            let child = if external {
                Some(ChildMaster::spawn()?)
            } else {
                None
            };
            let r = runtime.block_on(bench::state_at_scale(
                agents,
                tasks,
                rounds,
                child.as_ref().map(|c| c.addr),
            ))?;
            if let Some(c) = &child {
                println!("master process RSS: {:.0} MB", c.rss() as f64 / 1e6);
            }
            let p50 = r.state_times[r.state_times.len() / 2];
            let max = r.state_times.last().copied().unwrap_or_default();
            println!(
                "state: {} agents, {} tasks: /state {:.1} MB, p50 {:.1} ms, max {:.1} ms; \
                 event loop probe max {:.1} ms during /state ({:.1} ms idle); \
                 RSS {:.0} MB -> {:.0} MB",
                r.agents,
                r.tasks,
                r.state_bytes as f64 / 1e6,
                ms(p50),
                ms(max),
                ms(r.max_probe),
                ms(r.idle_probe),
                r.rss_before as f64 / 1e6,
                r.rss_after as f64 / 1e6
            );
        }
        other => anyhow::bail!("unknown scenario `{other}`\n\n{USAGE}"),
    }
    Ok(())
}

/// A `mesos master` child process, killed on drop.
struct ChildMaster {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl ChildMaster {
    fn spawn() -> Result<ChildMaster> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args([
                "master",
                "--ip=127.0.0.1",
                "--port=0",
                "--allocation_interval=100ms",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut line = String::new();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout from the master"))?;
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("master listening on http://")
            .ok_or_else(|| anyhow::anyhow!("unexpected first line from the master: {line:?}"))?
            .parse()?;
        Ok(ChildMaster { child, addr })
    }

    /// The child's resident memory (bytes; 0 if unknown).
    fn rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for ChildMaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
