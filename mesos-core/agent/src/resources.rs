//! The agent's total resources: `--resources` plus what the machine has,
//! detected as Mesos does.

use mesos_proto::resources::{ParseError, Resources};
use std::path::Path;

/// What the machine has, measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: f64,
    /// Total memory in MB.
    pub mem_mb: f64,
    /// Size of the work directory's filesystem in MB.
    pub disk_mb: f64,
}

impl Machine {
    /// Measures this machine (`work_dir` names the disk).
    pub fn detect(work_dir: &Path) -> Machine {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let mem_mb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|rest| {
                        rest.trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse::<f64>()
                            .ok()
                    })
            })
            .map_or(1024.0, |kb| kb / 1024.0);
        let probe = if work_dir.exists() {
            work_dir
        } else {
            Path::new("/")
        };
        let disk_mb = rustix::fs::statvfs(probe)
            .map(|s| (s.f_blocks as f64) * (s.f_frsize as f64) / (1024.0 * 1024.0))
            .unwrap_or(0.0);
        Machine {
            cpus,
            mem_mb,
            disk_mb,
        }
    }
}

/// The agent's resources: the `--resources` text, with `cpus`, `mem`,
/// `disk` and `ports` added from `machine` when the text leaves them out.
/// As Mesos: memory is the total minus 1 GiB, or half of it below 2 GiB;
/// disk is the total minus 5 GiB, or half of it below 10 GiB; ports are
/// `[31000-32000]`.
///
/// ```
/// use mesos_agent::resources::{Machine, agent_resources};
///
/// let machine = Machine { cpus: 2.0, mem_mb: 24576.0, disk_mb: 100_000.0 };
/// let r = agent_resources(Some("cpus:1"), &machine).unwrap();
/// assert_eq!(r.to_string(), "cpus:1; mem:23552; disk:94880; ports:[31000-32000]");
/// ```
pub fn agent_resources(text: Option<&str>, machine: &Machine) -> Result<Resources, ParseError> {
    let given: Resources = text.unwrap_or("").parse()?;
    let has = |name: &str| given.iter().any(|r| r.name == name);
    let mut detected = Vec::new();
    if !has("cpus") {
        detected.push(format!("cpus:{}", machine.cpus));
    }
    if !has("mem") {
        let mem = if machine.mem_mb >= 2048.0 {
            machine.mem_mb - 1024.0
        } else {
            machine.mem_mb / 2.0
        };
        detected.push(format!("mem:{}", mem.floor()));
    }
    if !has("disk") {
        let disk = if machine.disk_mb >= 10240.0 {
            machine.disk_mb - 5120.0
        } else {
            machine.disk_mb / 2.0
        };
        detected.push(format!("disk:{}", disk.floor()));
    }
    if !has("ports") {
        detected.push("ports:[31000-32000]".into());
    }
    let detected: Resources = detected.join(";").parse()?;
    Ok(&given + &detected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_machines_keep_half() {
        let machine = Machine {
            cpus: 1.0,
            mem_mb: 1024.0,
            disk_mb: 4096.0,
        };
        let r = agent_resources(None, &machine).unwrap();
        assert_eq!(
            r.to_string(),
            "cpus:1; mem:512; disk:2048; ports:[31000-32000]"
        );
    }

    #[test]
    fn given_resources_win_and_bad_text_is_an_error() {
        let machine = Machine::detect(Path::new("/"));
        assert!(machine.cpus >= 1.0 && machine.mem_mb > 0.0);
        let r = agent_resources(Some("cpus:3;mem:100;disk:5;ports:[1-2]"), &machine).unwrap();
        assert_eq!(r.to_string(), "cpus:3; mem:100; disk:5; ports:[1-2]");
        assert!(agent_resources(Some("cpus:x"), &machine).is_err());
    }
}
