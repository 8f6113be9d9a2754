//! `mesos`: one binary for every role of the cluster.
//!
//! Today it knows `version` and `help`; the server and inspection commands
//! (`master`, `agent`, `local`, `execute`, `tasks`, ...) arrive with their
//! issues and say so plainly until then.

use std::process::ExitCode;

const USAGE: &str = "\
Usage: mesos <command> [options]

Commands:
  master     run a master            (not built yet)
  agent      run an agent            (not built yet)
  local      run a whole cluster on this machine (not built yet)
  execute    run one task and follow it (not built yet)
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
            println!("mesos {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(cmd @ ("master" | "agent" | "local" | "execute")) => {
            eprintln!("mesos {cmd}: not built yet; see the project's open issues");
            ExitCode::from(2)
        }
        Some(other) => {
            eprintln!("mesos: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
