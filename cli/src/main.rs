//! `mesos`: one binary for every role of the cluster.

mod flags;

use anyhow::Result;
use flags::Flags;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: mesos <command> [options]

Commands:
  master     run a master (--ip, --port, --hostname; MESOS_* variables too)
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
            println!(
                "mesos {} (Mesos API {})",
                env!("CARGO_PKG_VERSION"),
                mesos_master::MESOS_VERSION
            );
            ExitCode::SUCCESS
        }
        Some("master") => report(master(&args[1..])),
        Some(cmd @ ("agent" | "local" | "execute")) => {
            eprintln!("mesos {cmd}: not built yet; see the project's open issues");
            ExitCode::from(2)
        }
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
        .with_max_level(tracing::Level::INFO)
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

fn master(args: &[String]) -> Result<()> {
    let flags = Flags::parse(args, &["ip", "port", "hostname"])?;
    let mut config = mesos_master::MasterConfig::default();
    if let Some(ip) = flags.get("ip")? {
        config.ip = ip;
    }
    if let Some(port) = flags.get("port")? {
        config.port = port;
    }
    config.hostname = flags.get("hostname")?;
    init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let master = mesos_master::Master::start(config.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", config.ip, config.port))?;
        // The one line scripts and tests read to find the master.
        println!("master listening on http://{}", master.addr());
        shutdown_signal().await?;
        master.stop().await;
        Ok(())
    })
}
