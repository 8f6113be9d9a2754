//! `mesos bench`: the mesos-bench scenarios (see `mesos_testkit::bench`),
//! run in this process against an in-process master and simulated agents.

use crate::flags::Flags;
use anyhow::Result;
use mesos_testkit::bench;

const USAGE: &str = "\
Usage: mesos bench <scenario> [options]

Scenarios:
  launch   tasks launched per second, ACCEPT to TASK_RUNNING
           (--agents 1000 --cpus 10 --tasks 10000; --external=true runs
           the master as a `mesos master` child process and reports the CPU
           time it used)
  state    /state at scale while probing the event loop
           (--agents 10000 --tasks 100000 --rounds 5; then --gone 100 agents
           marked gone one at a time and a TEARDOWN of every task left;
           --external=true runs the master as a `mesos master` child
           process and reports its RSS)
  reregister
           agents registering again, all at once, each carrying its tasks
           (--agents 1 --tasks 10000 --rounds 3; --external=true runs the
           master as a `mesos master` child process)
  failover masters elected through ZooKeeper: time from the leader's loss
           to every agent and framework back with its successor
           after a kill -9 (--agents 1000 --frameworks 10 --tasks 0
           --zk_session_timeout 10secs; --zk zk://... or a ZooKeeper
           started from Debian's package; --tasks N are launched by the
           first framework and must all run again with the successor)
  agent    `sleep` tasks on one real agent (a `mesos agent` child process,
           POSIX containerizer, a command executor per task): time to all
           TASK_RUNNING, to all TASK_KILLED, memory per task (--tasks 1000)
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
        &[
            "agents",
            "cpus",
            "tasks",
            "rounds",
            "gone",
            "external",
            "frameworks",
            "zk",
            "zk_session_timeout",
        ],
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    match scenario.as_str() {
        "launch" => {
            let agents = flags.get("agents")?.unwrap_or(1000);
            let cpus = flags.get("cpus")?.unwrap_or(10);
            let tasks = flags.get("tasks")?.unwrap_or(10_000);
            let child = Child::master_if_external(&flags)?;
            let cpu_before = child.as_ref().map(|c| cpu_time(c.child.id()));
            let r = runtime.block_on(bench::launch_throughput(
                agents,
                cpus,
                tasks,
                child.as_ref().map(|c| c.addr),
            ))?;
            println!(
                "launch: {} tasks on {agents} agents in {:.3} s = {:.0} tasks/s; ACCEPT->RUNNING p50 {:.1} ms, p99 {:.1} ms",
                r.tasks,
                r.elapsed.as_secs_f64(),
                r.rate(),
                ms(r.p50),
                ms(r.p99)
            );
            if let (Some(c), Some(before)) = (&child, cpu_before) {
                let used = cpu_time(c.child.id()).saturating_sub(before);
                let per_task =
                    |d: std::time::Duration| d.as_secs_f64() * 1e6 / r.tasks.max(1) as f64;
                println!(
                    "master process CPU (user + system) from its start to the last \
                     TASK_RUNNING, registering the agents included: {:.2} s = {:.0} us \
                     per task",
                    used.as_secs_f64(),
                    per_task(used)
                );
                if let Some(event_loop) = event_loop_cpu_time(c.child.id()) {
                    println!(
                        "of which the event loop's thread: {:.3} s = {:.1} us per task",
                        event_loop.as_secs_f64(),
                        per_task(event_loop)
                    );
                }
            }
        }
        "state" => {
            let agents = flags.get("agents")?.unwrap_or(10_000);
            let tasks = flags.get("tasks")?.unwrap_or(100_000);
            let rounds = flags.get("rounds")?.unwrap_or(5);
            let gone = flags.get("gone")?.unwrap_or(100);
            let child = Child::master_if_external(&flags)?;
            let pid = child.as_ref().map(|c| c.child.id());
            let master_cpu = move || pid.map_or_else(Default::default, cpu_time);
            let r = runtime.block_on(bench::state_at_scale(
                agents,
                tasks,
                rounds,
                gone,
                child.as_ref().map(|c| c.addr),
                pid.is_some().then_some(&master_cpu as _),
            ))?;
            if let Some(c) = &child {
                println!(
                    "master process memory (PSS): {:.0} MB",
                    memory(c.child.id()) as f64 / 1e6
                );
            }
            let cold = r.state_times.first().copied().unwrap_or_default();
            let mut warm = r.state_times.get(1..).unwrap_or_default().to_vec();
            warm.sort();
            let p50 = warm.get(warm.len() / 2).copied().unwrap_or_default();
            let max = warm.last().copied().unwrap_or_default();
            println!(
                "state: {} agents, {} tasks ({} in /state): /state {:.1} MB, first (cold) \
                 {:.1} ms, then p50 {:.1} ms, max {:.1} ms; \
                 event loop turns over 10 ms during /state: {} ({} of them on CPU); \
                 probe max {:.1} ms during /state ({:.1} ms idle); \
                 RSS {:.0} MB -> {:.0} MB",
                r.agents,
                r.tasks,
                r.state_tasks,
                r.state_bytes as f64 / 1e6,
                ms(cold),
                ms(p50),
                ms(max),
                r.turns_over_10ms,
                r.turns_over_10ms_on_cpu,
                ms(r.max_probe),
                ms(r.idle_probe),
                r.rss_before as f64 / 1e6,
                r.rss_after as f64 / 1e6
            );
            let g = &r.gone;
            println!(
                "gone: {} agents marked gone one at a time ({} tasks): MARK_AGENT_GONE p50 {:.1} \
                 ms, max {:.1} ms; event loop turns over 10 ms: {} ({} of them on CPU); probe \
                 max {:.1} ms",
                g.agents,
                g.tasks,
                ms(g.p50),
                ms(g.max),
                g.turns_over_10ms,
                g.turns_over_10ms_on_cpu,
                ms(g.max_probe)
            );
            let t = &r.teardown;
            println!(
                "teardown of the framework with its {} tasks left: answered in {:.1} ms, no task \
                 running after {:.1} ms, finished (agents told, history written, resources \
                 released, memory freed) after {:.1} ms; event loop turns over 10 ms: {} ({} of \
                 them on CPU); probe max {:.1} ms",
                r.tasks - r.gone.tasks,
                ms(t.answered),
                ms(t.done),
                ms(t.finished),
                t.turns_over_10ms,
                t.turns_over_10ms_on_cpu,
                ms(t.max_probe)
            );
            if let Some((cold, warm)) = r.state_cpu.split_first() {
                let warm_ms = warm.iter().map(|d| ms(*d)).sum::<f64>() / warm.len().max(1) as f64;
                println!(
                    "master CPU per /state: first (cold) {:.0} ms, then {:.0} ms on average \
                     (ticks of 10 ms)",
                    ms(*cold),
                    warm_ms
                );
            }
        }
        "reregister" => {
            let agents = flags.get("agents")?.unwrap_or(1);
            let tasks = flags.get("tasks")?.unwrap_or(10_000);
            let rounds = flags.get("rounds")?.unwrap_or(3);
            let child = Child::master_if_external(&flags)?;
            let r = runtime.block_on(bench::reregister(
                agents,
                tasks,
                rounds,
                child.as_ref().map(|c| c.addr),
            ))?;
            println!(
                "reregister: {} agents with {} tasks between them, all registering again {} \
                 times: REGISTER to REGISTERED p50 {:.1} ms, max {:.1} ms; event loop turns over \
                 10 ms: {} ({} of them on CPU); probe max {:.1} ms",
                r.agents,
                r.tasks,
                r.rounds,
                ms(r.p50),
                ms(r.max),
                r.turns_over_10ms,
                r.turns_over_10ms_on_cpu,
                ms(r.max_probe)
            );
        }
        "agent" => {
            let tasks = flags.get("tasks")?.unwrap_or(1000);
            let master =
                runtime.block_on(mesos_master::Master::start(mesos_master::MasterConfig {
                    port: 0,
                    allocation_interval: std::time::Duration::from_millis(100),
                    ..Default::default()
                }))?;
            let work_dir = std::env::temp_dir().join(format!("mesos-bench-{}", std::process::id()));
            let agent = Child::spawn(
                &[
                    "agent".into(),
                    format!("--master={}", master.addr()),
                    "--ip=127.0.0.1".into(),
                    "--port=0".into(),
                    format!("--work_dir={}", work_dir.display()),
                    format!(
                        "--resources=cpus:{};mem:{};disk:10000;ports:[31000-32000]",
                        tasks,
                        tasks * 2
                    ),
                    "--isolation=posix/cpu,posix/mem".into(),
                ],
                "agent listening on http://",
            )?;
            let idle = memory(agent.child.id());
            let (r, (agent_busy, executors)) =
                runtime.block_on(bench::sleepers(master.addr(), tasks, || {
                    let pid = agent.child.id();
                    let tree = process_tree();
                    let kids = |p: u32| tree.get(&p).cloned().unwrap_or_default();
                    let mut executors = (0u32, 0);
                    for executor in kids(pid) {
                        executors.0 += 1;
                        executors.1 += memory(executor);
                        executors.1 += kids(executor).into_iter().map(memory).sum::<u64>();
                    }
                    (memory(pid), executors)
                }))?;
            println!(
                "agent: {} sleep tasks on one agent: all TASK_RUNNING after {:.2} s, \
                 all TASK_KILLED {:.2} s later; agent PSS {:.1} MB idle -> {:.1} MB with \
                 them running = {:.0} KB per task; {} executors, {:.2} MB PSS each \
                 (with their `sleep`)",
                r.tasks,
                r.to_running.as_secs_f64(),
                r.to_killed.as_secs_f64(),
                idle as f64 / 1e6,
                agent_busy as f64 / 1e6,
                agent_busy.saturating_sub(idle) as f64 / 1e3 / r.tasks.max(1) as f64,
                executors.0,
                executors.1 as f64 / 1e6 / f64::from(executors.0.max(1)),
            );
            drop(agent);
            runtime.block_on(master.stop());
            let _ = std::fs::remove_dir_all(&work_dir);
        }
        "failover" => {
            let agents = flags.get("agents")?.unwrap_or(1000);
            let frameworks = flags.get("frameworks")?.unwrap_or(10);
            let tasks = flags.get("tasks")?.unwrap_or(0);
            let (_server, url) = match flags.text("zk") {
                Some(url) => (None, crate::zk_url(url)?),
                None => {
                    let server = mesos_state::testing::ZooKeeperServer::start()?;
                    let url = server.url("/mesos").parse()?;
                    (Some(server), url)
                }
            };
            let session = flags
                .duration("zk_session_timeout")?
                .unwrap_or(std::time::Duration::from_secs(10));
            let work_dir = std::env::temp_dir().join(format!("mesos-bench-{}", std::process::id()));
            let mut masters = Vec::new();
            for i in 0..2 {
                masters.push(Child::spawn(
                    &[
                        "master".into(),
                        "--ip=127.0.0.1".into(),
                        "--port=0".into(),
                        format!("--zk={url}"),
                        format!("--zk_session_timeout={}ms", session.as_millis()),
                        format!("--work_dir={}", work_dir.join(format!("m{i}")).display()),
                    ],
                    "master listening on http://",
                )?);
            }
            let addrs: Vec<_> = masters.iter().map(|m| m.addr).collect();
            let r = runtime.block_on(bench::failover(
                &addrs,
                |i| {
                    let _ = masters[i].child.kill();
                },
                agents,
                frameworks,
                tasks,
            ))?;
            drop(masters);
            let _ = std::fs::remove_dir_all(&work_dir);
            println!("ZooKeeper session timeout {} ms", session.as_millis());
            println!(
                "failover: {} agents, {} frameworks: successor leading after {:.0} ms, \
                 all agents re-registered after {:.0} ms, all frameworks too after {:.0} ms",
                r.agents,
                r.frameworks,
                ms(r.elected),
                ms(r.agents_back),
                ms(r.all_back)
            );
            if r.tasks > 0 {
                println!(
                    "tasks: {} running before, all running again with the successor after {:.0} \
                     ms",
                    r.tasks,
                    ms(r.tasks_back)
                );
            }
            println!(
                "successor's event loop: turns over 10 ms {} ({} of them on CPU), longest \
                 {:.1} ms ({:.1} ms on CPU)",
                r.turns_over_10ms,
                r.turns_over_10ms_on_cpu,
                r.longest_turn_ms.0,
                r.longest_turn_ms.1
            );
        }
        other => anyhow::bail!("unknown scenario `{other}`\n\n{USAGE}"),
    }
    Ok(())
}

/// A `mesos` child process (master or agent), killed on drop.
struct Child {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

/// Where a child process' logs go: nowhere, or with
/// `MESOS_BENCH_LOG_DIR` set, to `<dir>/<command>.log` (set
/// `RUST_LOG=debug` too to see each event-loop turn past 10 ms).
fn child_stderr(command: &str) -> Result<std::process::Stdio> {
    Ok(match std::env::var_os("MESOS_BENCH_LOG_DIR") {
        Some(dir) => {
            let path = std::path::Path::new(&dir).join(format!("{command}.log"));
            std::fs::File::create(path)?.into()
        }
        None => std::process::Stdio::null(),
    })
}

impl Child {
    /// Runs `mesos ARGS` and reads its address from the first line of its
    /// output, which starts with `prefix`.
    fn spawn(args: &[String], prefix: &str) -> Result<Child> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(child_stderr(&args[0])?)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no output from `mesos {}`", args[0]))?;
        let mut lines = std::io::BufReader::new(stdout);
        let mut line = String::new();
        lines.read_line(&mut line)?;
        // Whatever else it prints must not fill the pipe and stall it.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix(prefix)
            .ok_or_else(|| {
                anyhow::anyhow!("unexpected first line from `mesos {}`: {line:?}", args[0])
            })?
            .parse()?;
        Ok(Child { child, addr })
    }

    /// With `--external=true`, a `mesos master` child process for the
    /// scenario to use; otherwise none (the scenario starts one in this
    /// process).
    fn master_if_external(flags: &Flags) -> Result<Option<Child>> {
        let external: bool = flags.get("external")?.unwrap_or(false);
        external.then(Child::master).transpose()
    }

    fn master() -> Result<Child> {
        Child::spawn(
            &[
                "master".into(),
                "--ip=127.0.0.1".into(),
                "--port=0".into(),
                "--allocation_interval=100ms".into(),
            ],
            "master listening on http://",
        )
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process' memory: its proportional set size (shared pages divided
/// among their users, so a sum over processes is the memory they take),
/// in bytes; 0 if unknown.
fn memory(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The CPU time (user and system) a process has used; zero if unknown.
/// `/proc/P/stat` counts it in ticks of `USER_HZ`, 100 per second on
/// Linux.
fn cpu_time(pid: u32) -> std::time::Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // After "P (comm)": state is field 3, utime 14 and stime 15.
            let rest = &s[s.rfind(')')? + 1..];
            let mut fields = rest.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}

/// The CPU time the master's event loop thread
/// ([`mesos_master::EVENT_LOOP_THREAD`]) of
/// process `pid` has used, to the nanosecond (`/proc/P/task/T/schedstat`).
fn event_loop_cpu_time(pid: u32) -> Option<std::time::Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.filter_map(Result::ok).find_map(|task| {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).ok()?;
        if comm.trim_end() != mesos_master::EVENT_LOOP_THREAD {
            return None;
        }
        let schedstat = std::fs::read_to_string(path.join("schedstat")).ok()?;
        let ns: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
        Some(std::time::Duration::from_nanos(ns))
    })
}

/// Every process' children, by parent pid.
fn process_tree() -> std::collections::HashMap<u32, Vec<u32>> {
    let mut tree: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return tree;
    };
    for pid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        // `/proc/P/stat`: "P (comm) S PPID ..."; comm may hold spaces.
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = &s[s.rfind(')')? + 1..];
                rest.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        if let Some(parent) = parent {
            tree.entry(parent).or_default().push(pid);
        }
    }
    tree
}
