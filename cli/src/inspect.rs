//! `mesos agents`, `frameworks`, `tasks` (`ps`), `cat` and `tail`: what
//! is in the cluster, as aligned tables or `--json` for scripts.

use crate::api::Cluster;
use crate::flags::Flags;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::time::Duration;

pub(crate) const USAGE: &str = "\
Usage: mesos agents|frameworks|tasks [--master HOST:PORT] [--json] [--all]
       mesos cat TASK [stdout|stderr] [--master HOST:PORT]
       mesos tail [-f] [-n LINES] TASK [stdout|stderr] [--master HOST:PORT]

agents      the agents: id, address, resources used and total
frameworks  the frameworks (--all: also completed ones)
tasks, ps   the tasks (--all: also completed ones)
cat         a task's sandbox file (stdout unless named)
tail        its last lines (-n, default 10); -f follows it until the task ends
--master defaults to 127.0.0.1:5050 (or MESOS_MASTER); --json prints the
master's JSON for scripts.
";

const FLAGS: &[&str] = &["master", "lines"];
const SWITCHES: &[&str] = &["json", "all", "follow"];

/// Runs `mesos <command> <args>`.
pub(crate) fn run(command: &str, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(());
    }
    // Short forms as tail has them.
    let mut long = Vec::new();
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "-f" => long.push("--follow".to_string()),
            "-n" => {
                long.push("--lines".to_string());
                long.push(iter.next().context("-n needs a number of lines")?.clone());
            }
            _ => long.push(a.clone()),
        }
    }
    let (flags, positional) = Flags::parse_with(&long, FLAGS, SWITCHES)?;
    let cluster = Cluster::new(flags.text("master").unwrap_or("127.0.0.1:5050"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            "agents" | "frameworks" | "tasks" | "ps" => {
                if let Some(extra) = positional.first() {
                    bail!("unexpected argument `{extra}`");
                }
                list(
                    &cluster,
                    command,
                    flags.switch("json")?,
                    flags.switch("all")?,
                )
                .await
            }
            "cat" | "tail" => {
                let (task, file) = match positional.as_slice() {
                    [task] => (task.as_str(), "stdout"),
                    [task, file] => (task.as_str(), file.as_str()),
                    _ => bail!("usage: mesos {command} TASK [stdout|stderr]"),
                };
                if file.contains('/') || file == ".." {
                    bail!(
                        "`{file}` is not a file of the sandbox; name one such as stdout or stderr"
                    );
                }
                let lines = if command == "tail" {
                    Some(flags.get::<usize>("lines")?.unwrap_or(10))
                } else {
                    None
                };
                show_file(&cluster, task, file, lines, flags.switch("follow")?).await
            }
            other => bail!("unknown command {other}"),
        }
    })
}

async fn list(cluster: &Cluster, command: &str, json: bool, all: bool) -> Result<()> {
    let (path, key, completed) = match command {
        "agents" => ("/slaves", "slaves", None),
        "frameworks" => ("/frameworks", "frameworks", Some("completed_frameworks")),
        _ => ("/tasks?limit=-1", "tasks", None),
    };
    let answer = cluster.master_json(path).await?;
    let mut rows: Vec<Value> = answer[key].as_array().cloned().unwrap_or_default();
    if all {
        if let Some(completed) = completed {
            rows.extend(answer[completed].as_array().cloned().unwrap_or_default());
        }
    }
    if command == "tasks" || command == "ps" {
        rows.retain(|t| all || !is_terminal(t["state"].as_str().unwrap_or("")));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(rows))?);
        return Ok(());
    }
    let table = match command {
        "agents" => agents_table(&rows),
        "frameworks" => frameworks_table(&rows),
        _ => tasks_table(&rows),
    };
    print!("{}", render(&table, std::io::stdout().is_terminal()));
    Ok(())
}

fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_ERROR"
            | "TASK_LOST"
            | "TASK_DROPPED"
            | "TASK_GONE"
    )
}

fn scalar(resources: &Value, name: &str) -> String {
    match resources[name].as_f64() {
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "0".into(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A table with only its header row.
fn header(names: &[&str]) -> Vec<Vec<String>> {
    vec![names.iter().map(|n| n.to_string()).collect()]
}

fn agents_table(rows: &[Value]) -> Vec<Vec<String>> {
    let mut table = header(&["ID", "HOSTNAME", "ADDRESS", "ACTIVE", "CPUS", "MEM", "DISK"]);
    for a in rows {
        let address = a["pid"]
            .as_str()
            .and_then(|p| p.split_once('@').map(|(_, addr)| addr.to_string()))
            .unwrap_or_else(|| format!("{}:{}", text(&a["hostname"]), text(&a["port"])));
        let used = |n: &str| {
            format!(
                "{}/{}",
                scalar(&a["used_resources"], n),
                scalar(&a["resources"], n)
            )
        };
        table.push(vec![
            text(&a["id"]),
            text(&a["hostname"]),
            address,
            text(&a["active"]),
            used("cpus"),
            used("mem"),
            used("disk"),
        ]);
    }
    table
}

fn frameworks_table(rows: &[Value]) -> Vec<Vec<String>> {
    let mut table = header(&["ID", "NAME", "USER", "ACTIVE", "TASKS", "CPUS", "MEM"]);
    for f in rows {
        table.push(vec![
            text(&f["id"]),
            text(&f["name"]),
            text(&f["user"]),
            text(&f["active"]),
            f["tasks"].as_array().map_or(0, Vec::len).to_string(),
            scalar(&f["used_resources"], "cpus"),
            scalar(&f["used_resources"], "mem"),
        ]);
    }
    table
}

fn tasks_table(rows: &[Value]) -> Vec<Vec<String>> {
    let mut table = header(&["ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM"]);
    for t in rows {
        table.push(vec![
            text(&t["id"]),
            text(&t["name"]),
            text(&t["state"]),
            text(&t["framework_id"]),
            text(&t["slave_id"]),
            scalar(&t["resources"], "cpus"),
            scalar(&t["resources"], "mem"),
        ]);
    }
    table
}

/// `table` with aligned columns; on a terminal the header is bold and
/// task states coloured.
fn render(table: &[Vec<String>], colour: bool) -> String {
    let columns = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in table.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            let painted = match (colour, i) {
                (false, _) => cell.clone(),
                (true, 0) => format!("\x1b[1m{cell}\x1b[0m"),
                (true, _) => paint(cell),
            };
            line.push_str(&painted);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn paint(cell: &str) -> String {
    let code = match cell {
        "TASK_RUNNING" => "32",
        "TASK_FAILED" | "TASK_ERROR" | "TASK_LOST" | "TASK_DROPPED" | "TASK_GONE" => "31",
        "TASK_STAGING" | "TASK_STARTING" | "TASK_KILLING" | "TASK_UNREACHABLE" => "33",
        _ => return cell.to_string(),
    };
    format!("\x1b[{code}m{cell}\x1b[0m")
}

/// Prints the sandbox file `file` of `task`: all of it, or its last
/// `lines`; with `follow`, then what is appended until the task ends.
async fn show_file(
    cluster: &Cluster,
    task: &str,
    file: &str,
    lines: Option<usize>,
    follow: bool,
) -> Result<()> {
    let found = cluster.task(task).await?;
    let agent = cluster.agent_address(&text(&found["slave_id"])).await?;
    let dir = cluster
        .sandbox(&agent, &text(&found["framework_id"]), task)
        .await?;
    let path = format!("{dir}/{file}");
    let data = cluster.read_from(&agent, &path, 0).await?;
    let start = match lines {
        Some(n) => last_lines_start(&data, n),
        None => 0,
    };
    print_bytes(&data[start..])?;
    if !follow {
        return Ok(());
    }
    let mut offset = data.len() as u64;
    loop {
        let chunk = cluster.read_from(&agent, &path, offset).await?;
        if chunk.is_empty() {
            let state = text(&cluster.task(task).await?["state"]);
            if is_terminal(&state) {
                // One last read for what came with the end.
                return print_bytes(&cluster.read_from(&agent, &path, offset).await?);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        offset += chunk.len() as u64;
        print_bytes(&chunk)?;
    }
}

/// Writes `data` to stdout at once.
pub(crate) fn print_bytes(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

/// Where the last `n` lines of `data` begin.
fn last_lines_start(data: &[u8], n: usize) -> usize {
    if n == 0 {
        return data.len();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_colour_only_when_asked() {
        let table = vec![
            vec!["ID".to_string(), "STATE".to_string()],
            vec!["t-long-id".to_string(), "TASK_RUNNING".to_string()],
        ];
        assert_eq!(
            render(&table, false),
            "ID         STATE\nt-long-id  TASK_RUNNING\n"
        );
        let coloured = render(&table, true);
        assert!(
            coloured.contains("\x1b[32mTASK_RUNNING\x1b[0m"),
            "{coloured:?}"
        );
    }

    #[test]
    fn last_lines_are_found() {
        assert_eq!(
            &b"a\nb\nc\n"[last_lines_start(b"a\nb\nc\n", 2)..],
            b"b\nc\n"
        );
        assert_eq!(last_lines_start(b"a\nb", 5), 0);
        assert_eq!(last_lines_start(b"a\n", 0), 2);
    }
}
