//! Linux control groups, v1 and v2, behind a file-system seam so the
//! isolation logic is tested without root.
//!
//! What goes into a container's cgroups is computed purely
//! ([`Limits::for_resources`]); [`Cgroups`] writes it through a
//! [`CgroupFs`] (the real one is [`RealFs`]).

use mesos_proto::resources::Resources;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file operations cgroups need: the seam between isolation logic
/// and the kernel.
pub trait CgroupFs: Send + Sync + std::fmt::Debug {
    /// Creates a directory (and its parents).
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Removes an (empty) cgroup directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Writes a control file.
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Reads a control file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Whether a path exists.
    fn exists(&self, path: &Path) -> bool;
}

/// The kernel's cgroup file systems.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl CgroupFs for RealFs {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        std::fs::write(path, value)
    }
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// An in-memory [`CgroupFs`] for tests: files are strings, directories
/// are remembered.
#[derive(Debug, Default)]
pub struct MemoryFs {
    files: Mutex<BTreeMap<PathBuf, String>>,
}

impl MemoryFs {
    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, String>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets a file's content (as the kernel would).
    pub fn set(&self, path: impl Into<PathBuf>, value: &str) {
        self.files().insert(path.into(), value.to_string());
    }

    /// A file's content.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<String> {
        self.files().get(path.as_ref()).cloned()
    }
}

impl CgroupFs for MemoryFs {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.files().insert(path.to_path_buf(), String::new());
        Ok(())
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.files().retain(|p, _| !p.starts_with(path));
        Ok(())
    }
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.files().insert(path.to_path_buf(), value.to_string());
        Ok(())
    }
    fn read(&self, path: &Path) -> io::Result<String> {
        self.get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.display().to_string()))
    }
    fn exists(&self, path: &Path) -> bool {
        self.files().contains_key(path)
    }
}

/// Which cgroup version the machine runs, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// v1: one mount per controller (`cpu`, `cpuacct`, `memory`, `pids`).
    V1 {
        /// Controller name to mount point.
        mounts: BTreeMap<String, PathBuf>,
    },
    /// v2: one unified tree with the controllers enabled at its root.
    V2 {
        /// The mount point.
        root: PathBuf,
    },
}

impl Hierarchy {
    /// Detects the hierarchy from `/proc/self/mountinfo`: v2 when a
    /// cgroup2 mount offers the `memory` and `cpu` controllers, else the
    /// v1 mounts; `None` when neither is usable.
    pub fn detect() -> Option<Hierarchy> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Hierarchy::from_mountinfo(&mountinfo, &RealFs)
    }

    /// As [`Hierarchy::detect`], from a mountinfo text.
    pub fn from_mountinfo(mountinfo: &str, fs: &dyn CgroupFs) -> Option<Hierarchy> {
        let mut v1 = BTreeMap::new();
        let mut v2 = None;
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(sep) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(mount_point), Some(fstype), Some(options)) =
                (fields.get(4), fields.get(sep + 1), fields.get(sep + 3))
            else {
                continue;
            };
            match *fstype {
                "cgroup2" => {
                    let root = PathBuf::from(mount_point);
                    let controllers = fs
                        .read(&root.join("cgroup.controllers"))
                        .unwrap_or_default();
                    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
                    if has("memory") && has("cpu") {
                        v2 = Some(root);
                    }
                }
                "cgroup" => {
                    for option in options.split(',') {
                        if matches!(option, "cpu" | "cpuacct" | "memory" | "pids" | "freezer") {
                            v1.insert(option.to_string(), PathBuf::from(mount_point));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(root) = v2 {
            return Some(Hierarchy::V2 { root });
        }
        (!v1.is_empty()).then_some(Hierarchy::V1 { mounts: v1 })
    }
}

/// What the isolators limit, from the `--isolation` flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Isolators {
    /// `cgroups/cpu`: cpu shares (weight) and, with `cfs`, a hard quota.
    pub cpu: bool,
    /// Apply the CFS quota too (Mesos' `--cgroups_enable_cfs`; not set by
    /// [`Isolators::parse`]).
    pub cfs: bool,
    /// `cgroups/mem`: a memory limit.
    pub mem: bool,
    /// `cgroups/pids`: a process count limit.
    pub pids: bool,
    /// `namespaces/pid`: a pid namespace with its own `/proc`.
    pub pid_namespace: bool,
    /// `posix/rlimits`: containers' POSIX resource limits
    /// (`ContainerInfo.rlimit_info`).
    pub rlimits: bool,
}

impl Isolators {
    /// Parses `--isolation` (`cgroups/cpu,cgroups/mem,...`); `posix/*`
    /// and `filesystem/posix` are accepted and mean no cgroups.
    ///
    /// ```
    /// use mesos_agent::containerizer::cgroups::Isolators;
    ///
    /// let i = Isolators::parse("cgroups/cpu,cgroups/mem,namespaces/pid").unwrap();
    /// assert!(i.cpu && i.mem && i.pid_namespace && !i.pids);
    /// assert!(i.uses_cgroups());
    /// assert!(!Isolators::parse("posix/cpu,posix/mem").unwrap().uses_cgroups());
    /// assert!(Isolators::parse("cgroups/gpu").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Isolators, String> {
        let mut isolators = Isolators::default();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "cgroups/cpu" => isolators.cpu = true,
                "cgroups/mem" => isolators.mem = true,
                "cgroups/pids" => isolators.pids = true,
                "namespaces/pid" => isolators.pid_namespace = true,
                "posix/rlimits" => isolators.rlimits = true,
                "posix/cpu" | "posix/mem" | "posix/disk" | "filesystem/posix" => {}
                other => {
                    return Err(format!(
                        "unknown isolator `{other}`: known are posix/cpu, posix/mem, posix/rlimits, cgroups/cpu, cgroups/mem, cgroups/pids, namespaces/pid"
                    ));
                }
            }
        }
        Ok(isolators)
    }

    /// Whether any cgroup isolator is on.
    pub fn uses_cgroups(&self) -> bool {
        self.cpu || self.mem || self.pids
    }
}

/// The CFS period Mesos uses (100 ms).
pub const CFS_PERIOD_US: u64 = 100_000;
/// The least cpu shares Mesos gives a container.
pub const MIN_CPU_SHARES: u64 = 2;
/// The least memory limit Mesos gives a container (32 MB).
pub const MIN_MEMORY_BYTES: u64 = 32 << 20;
/// The process limit with `cgroups/pids` (per container).
pub const DEFAULT_PIDS_MAX: u64 = 4096;

/// A container's limits, computed from its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// v1 `cpu.shares` (1024 per cpu).
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs per [`CFS_PERIOD_US`].
    pub cfs_quota_us: Option<u64>,
    /// Memory limit in bytes.
    pub memory_bytes: Option<u64>,
    /// Process limit.
    pub pids_max: Option<u64>,
}

impl Limits {
    /// The limits of a container with `resources` under `isolators`, as
    /// Mesos computes them: shares = 1024 × cpus (at least 2), quota =
    /// cpus × period (at least 1 ms), memory = mem MB (at least 32 MB).
    ///
    /// ```
    /// use mesos_agent::containerizer::cgroups::{Isolators, Limits};
    ///
    /// let mut isolators = Isolators::parse("cgroups/cpu,cgroups/mem").unwrap();
    /// isolators.cfs = true; // --cgroups_enable_cfs
    /// let l = Limits::for_resources(&"cpus:0.5;mem:64".parse().unwrap(), &isolators);
    /// assert_eq!(l.cpu_shares, Some(512));
    /// assert_eq!(l.cfs_quota_us, Some(50_000));
    /// assert_eq!(l.memory_bytes, Some(64 << 20));
    /// assert_eq!(l.pids_max, None);
    /// ```
    pub fn for_resources(resources: &Resources, isolators: &Isolators) -> Limits {
        let cpus = resources.cpus().unwrap_or(0.0);
        let mem = resources.mem().unwrap_or(0.0);
        Limits {
            cpu_shares: isolators
                .cpu
                .then(|| ((cpus * 1024.0) as u64).max(MIN_CPU_SHARES)),
            cfs_quota_us: (isolators.cpu && isolators.cfs)
                .then(|| ((cpus * CFS_PERIOD_US as f64) as u64).max(1000)),
            memory_bytes: isolators
                .mem
                .then(|| ((mem * 1024.0 * 1024.0) as u64).max(MIN_MEMORY_BYTES)),
            pids_max: isolators.pids.then_some(DEFAULT_PIDS_MAX),
        }
    }
}

/// v2 `cpu.weight` (1..10000) for v1 shares (2..262144), as the kernel and
/// runc convert them.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The cgroups of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCgroups {
    /// Every directory the container's processes join.
    pub dirs: Vec<PathBuf>,
    hierarchy: Hierarchy,
    /// The directory with memory control files.
    memory: Option<PathBuf>,
    /// The directory with cpu accounting files.
    cpuacct: Option<PathBuf>,
    /// The directory listing its processes.
    procs: PathBuf,
}

/// Per-container cgroups under one root (Mesos' `--cgroups_root`,
/// default `mesos`).
#[derive(Debug)]
pub struct Cgroups<F: CgroupFs> {
    fs: F,
    hierarchy: Hierarchy,
    root: String,
}

/// Usage of one container, from its cgroups.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// CPU time in user mode, seconds.
    pub cpus_user_time_secs: f64,
    /// CPU time in kernel mode, seconds.
    pub cpus_system_time_secs: f64,
    /// Memory in use, bytes.
    pub mem_total_bytes: u64,
    /// Resident anonymous memory, bytes.
    pub mem_rss_bytes: u64,
    /// The memory limit, bytes.
    pub mem_limit_bytes: Option<u64>,
    /// Processes in the container.
    pub processes: u32,
}

fn first_number(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).map(str::trim))
        .and_then(|v| v.parse().ok())
}

impl<F: CgroupFs> Cgroups<F> {
    /// Cgroups in `hierarchy` under `root`, through `fs`.
    pub fn new(fs: F, hierarchy: Hierarchy, root: impl Into<String>) -> Cgroups<F> {
        Cgroups {
            fs,
            hierarchy,
            root: root.into(),
        }
    }

    /// The file system seam.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    /// Creates the container's cgroups and writes its limits.
    pub fn create(&self, container: &str, limits: &Limits) -> io::Result<ContainerCgroups> {
        let cgroups = match &self.hierarchy {
            Hierarchy::V2 { root } => {
                let base = root.join(&self.root);
                self.fs.create_dir(&base)?;
                // Controllers must be enabled for children of the base.
                let _ = self
                    .fs
                    .write(&root.join("cgroup.subtree_control"), "+cpu +memory +pids");
                let _ = self
                    .fs
                    .write(&base.join("cgroup.subtree_control"), "+cpu +memory +pids");
                let dir = base.join(container);
                self.fs.create_dir(&dir)?;
                ContainerCgroups {
                    dirs: vec![dir.clone()],
                    hierarchy: self.hierarchy.clone(),
                    memory: Some(dir.clone()),
                    cpuacct: Some(dir.clone()),
                    procs: dir,
                }
            }
            Hierarchy::V1 { mounts } => {
                let mut dirs: Vec<PathBuf> = Vec::new();
                let mut dir_of = |controller: &str| -> io::Result<Option<PathBuf>> {
                    let Some(mount) = mounts.get(controller) else {
                        return Ok(None);
                    };
                    let dir = mount.join(&self.root).join(container);
                    if !dirs.contains(&dir) {
                        self.fs.create_dir(&dir)?;
                        dirs.push(dir.clone());
                    }
                    Ok(Some(dir))
                };
                let memory = dir_of("memory")?;
                let cpuacct = dir_of("cpuacct")?;
                dir_of("cpu")?;
                dir_of("pids")?;
                let freezer = dir_of("freezer")?;
                let procs = freezer
                    .or_else(|| memory.clone())
                    .or_else(|| dirs.first().cloned())
                    .ok_or_else(|| io::Error::other("no cgroup v1 controller is mounted"))?;
                ContainerCgroups {
                    dirs,
                    hierarchy: self.hierarchy.clone(),
                    memory,
                    cpuacct,
                    procs,
                }
            }
        };
        self.set_limits(&cgroups, limits)?;
        Ok(cgroups)
    }

    /// Writes (or rewrites, when the container's resources change) its
    /// limits.
    pub fn set_limits(&self, cgroups: &ContainerCgroups, limits: &Limits) -> io::Result<()> {
        match &cgroups.hierarchy {
            Hierarchy::V2 { .. } => {
                let dir = &cgroups.procs;
                if let Some(shares) = limits.cpu_shares {
                    self.fs.write(
                        &dir.join("cpu.weight"),
                        &shares_to_weight(shares).to_string(),
                    )?;
                }
                if let Some(quota) = limits.cfs_quota_us {
                    self.fs
                        .write(&dir.join("cpu.max"), &format!("{quota} {CFS_PERIOD_US}"))?;
                }
                if let Some(bytes) = limits.memory_bytes {
                    self.fs.write(&dir.join("memory.max"), &bytes.to_string())?;
                    let _ = self.fs.write(&dir.join("memory.swap.max"), "0");
                }
                if let Some(pids) = limits.pids_max {
                    self.fs.write(&dir.join("pids.max"), &pids.to_string())?;
                }
            }
            Hierarchy::V1 { mounts } => {
                let dir = |c: &str| {
                    mounts
                        .get(c)
                        .map(|m| m.join(&self.root).join(cgroups.leaf()))
                };
                if let (Some(shares), Some(cpu)) = (limits.cpu_shares, dir("cpu")) {
                    self.fs
                        .write(&cpu.join("cpu.shares"), &shares.to_string())?;
                    if let Some(quota) = limits.cfs_quota_us {
                        self.fs
                            .write(&cpu.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
                        self.fs
                            .write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
                    }
                }
                if let (Some(bytes), Some(memory)) = (limits.memory_bytes, dir("memory")) {
                    self.fs
                        .write(&memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
                }
                if let (Some(pids), Some(dir)) = (limits.pids_max, dir("pids")) {
                    self.fs.write(&dir.join("pids.max"), &pids.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// Pids in the container's cgroups.
    pub fn pids(&self, cgroups: &ContainerCgroups) -> Vec<u32> {
        let mut pids: Vec<u32> = cgroups
            .dirs
            .iter()
            .filter_map(|d| self.fs.read(&d.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<u32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// How many times the kernel's OOM killer ended a process of the
    /// container (`oom_kill` in v1 `memory.oom_control`, v2
    /// `memory.events`).
    pub fn oom_kills(&self, cgroups: &ContainerCgroups) -> u64 {
        let Some(memory) = &cgroups.memory else {
            return 0;
        };
        let file = match cgroups.hierarchy {
            Hierarchy::V2 { .. } => "memory.events",
            Hierarchy::V1 { .. } => "memory.oom_control",
        };
        self.fs
            .read(&memory.join(file))
            .ok()
            .and_then(|t| first_number(&t, "oom_kill "))
            .unwrap_or(0)
    }

    /// The container's usage.
    pub fn usage(&self, cgroups: &ContainerCgroups) -> Usage {
        let mut usage = Usage {
            processes: self.pids(cgroups).len() as u32,
            ..Default::default()
        };
        let read = |dir: &Option<PathBuf>, file: &str| {
            dir.as_ref().and_then(|d| self.fs.read(&d.join(file)).ok())
        };
        match cgroups.hierarchy {
            Hierarchy::V2 { .. } => {
                if let Some(stat) = read(&cgroups.cpuacct, "cpu.stat") {
                    usage.cpus_user_time_secs =
                        first_number(&stat, "user_usec ").unwrap_or(0) as f64 / 1e6;
                    usage.cpus_system_time_secs =
                        first_number(&stat, "system_usec ").unwrap_or(0) as f64 / 1e6;
                }
                usage.mem_total_bytes = read(&cgroups.memory, "memory.current")
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                usage.mem_rss_bytes = read(&cgroups.memory, "memory.stat")
                    .and_then(|t| first_number(&t, "anon "))
                    .unwrap_or(0);
                usage.mem_limit_bytes =
                    read(&cgroups.memory, "memory.max").and_then(|t| t.trim().parse().ok());
            }
            Hierarchy::V1 { .. } => {
                // USER_HZ is 100 on Linux.
                if let Some(stat) = read(&cgroups.cpuacct, "cpuacct.stat") {
                    usage.cpus_user_time_secs =
                        first_number(&stat, "user ").unwrap_or(0) as f64 / 100.0;
                    usage.cpus_system_time_secs =
                        first_number(&stat, "system ").unwrap_or(0) as f64 / 100.0;
                }
                usage.mem_total_bytes = read(&cgroups.memory, "memory.usage_in_bytes")
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                usage.mem_rss_bytes = read(&cgroups.memory, "memory.stat")
                    .and_then(|t| {
                        first_number(&t, "total_rss ").or_else(|| first_number(&t, "rss "))
                    })
                    .unwrap_or(0);
                usage.mem_limit_bytes = read(&cgroups.memory, "memory.limit_in_bytes")
                    .and_then(|t| t.trim().parse().ok());
            }
        }
        usage
    }

    /// Removes the container's cgroups (they must be empty of processes).
    pub fn remove(&self, cgroups: &ContainerCgroups) -> io::Result<()> {
        let mut result = Ok(());
        for dir in &cgroups.dirs {
            if self.fs.exists(dir) {
                if let Err(e) = self.fs.remove_dir(dir) {
                    result = Err(e);
                }
            }
        }
        result
    }
}

impl ContainerCgroups {
    fn leaf(&self) -> &std::ffi::OsStr {
        self.procs.file_name().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
31 25 0:27 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
32 25 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 25 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 25 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_is_detected_when_v2_has_no_controllers() {
        let fs = MemoryFs::default();
        fs.set("/sys/fs/cgroup/unified/cgroup.controllers", "");
        let h = Hierarchy::from_mountinfo(MOUNTINFO_V1, &fs).unwrap();
        let Hierarchy::V1 { mounts } = h else {
            panic!("expected v1")
        };
        assert_eq!(mounts["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(mounts.len(), 4);
        let v2 = "40 1 0:33 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        fs.set(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory pids",
        );
        assert_eq!(
            Hierarchy::from_mountinfo(v2, &fs),
            Some(Hierarchy::V2 {
                root: "/sys/fs/cgroup".into()
            })
        );
        assert_eq!(Hierarchy::from_mountinfo("", &fs), None);
    }

    #[test]
    fn v1_limits_are_written_per_controller() {
        let fs = MemoryFs::default();
        let h = Hierarchy::from_mountinfo(MOUNTINFO_V1, &fs).unwrap();
        let cgroups = Cgroups::new(fs, h, "mesos");
        let mut isolators = Isolators::parse("cgroups/cpu,cgroups/mem,cgroups/pids").unwrap();
        isolators.cfs = true;
        let limits = Limits::for_resources(&"cpus:1.5;mem:10".parse().unwrap(), &isolators);
        let c = cgroups.create("c1", &limits).unwrap();
        let fs = cgroups.fs();
        assert_eq!(
            fs.get("/sys/fs/cgroup/cpu/mesos/c1/cpu.shares").unwrap(),
            "1536"
        );
        assert_eq!(
            fs.get("/sys/fs/cgroup/cpu/mesos/c1/cpu.cfs_quota_us")
                .unwrap(),
            "150000"
        );
        // Below Mesos' 32 MB floor.
        assert_eq!(
            fs.get("/sys/fs/cgroup/memory/mesos/c1/memory.limit_in_bytes")
                .unwrap(),
            (32u64 << 20).to_string()
        );
        assert_eq!(
            fs.get("/sys/fs/cgroup/pids/mesos/c1/pids.max").unwrap(),
            "4096"
        );
        assert_eq!(c.dirs.len(), 4);
        fs.set(
            "/sys/fs/cgroup/memory/mesos/c1/memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        assert_eq!(cgroups.oom_kills(&c), 2);
        fs.set("/sys/fs/cgroup/memory/mesos/c1/cgroup.procs", "12\n7\n");
        fs.set("/sys/fs/cgroup/cpuacct/mesos/c1/cgroup.procs", "7\n");
        assert_eq!(cgroups.pids(&c), vec![7, 12]);
        fs.set(
            "/sys/fs/cgroup/cpuacct/mesos/c1/cpuacct.stat",
            "user 250\nsystem 50\n",
        );
        fs.set(
            "/sys/fs/cgroup/memory/mesos/c1/memory.usage_in_bytes",
            "4096\n",
        );
        let usage = cgroups.usage(&c);
        assert_eq!(usage.cpus_user_time_secs, 2.5);
        assert_eq!(usage.cpus_system_time_secs, 0.5);
        assert_eq!(usage.mem_total_bytes, 4096);
        assert_eq!(usage.processes, 2);
        cgroups.remove(&c).unwrap();
        assert!(
            !cgroups
                .fs()
                .exists(Path::new("/sys/fs/cgroup/memory/mesos/c1"))
        );
    }

    #[test]
    fn v2_limits_use_the_unified_files() {
        let fs = MemoryFs::default();
        let h = Hierarchy::V2 { root: "/cg".into() };
        let cgroups = Cgroups::new(fs, h, "mesos");
        let mut isolators = Isolators::parse("cgroups/cpu,cgroups/mem").unwrap();
        isolators.cfs = true;
        let limits = Limits::for_resources(&"cpus:2;mem:128".parse().unwrap(), &isolators);
        let c = cgroups.create("c2", &limits).unwrap();
        let fs = cgroups.fs();
        assert_eq!(fs.get("/cg/mesos/c2/cpu.max").unwrap(), "200000 100000");
        assert_eq!(
            fs.get("/cg/mesos/c2/cpu.weight").unwrap(),
            shares_to_weight(2048).to_string()
        );
        assert_eq!(
            fs.get("/cg/mesos/c2/memory.max").unwrap(),
            (128u64 << 20).to_string()
        );
        fs.set(
            "/cg/mesos/c2/memory.events",
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        );
        assert_eq!(cgroups.oom_kills(&c), 1);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
