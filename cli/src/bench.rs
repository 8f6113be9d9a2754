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
           (--agents 10000 --tasks 100000 --rounds 5)
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
    let flags = Flags::parse(&args[1..], &["agents", "cpus", "tasks", "rounds"])?;
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
            let r = runtime.block_on(bench::state_at_scale(agents, tasks, rounds))?;
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
