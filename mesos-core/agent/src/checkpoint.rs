//! Checkpoints: what an agent writes under `<work_dir>/meta` so that a
//! restarted agent (`--recover=reconnect`) finds its id, the frameworks
//! that checkpoint, their executors' runs (with the pid to re-adopt), the
//! tasks given to them and every status update stream.
//!
//! The layout is Mesos':
//!
//! ```text
//! meta/boot_id
//! meta/slaves/latest -> <agent id>
//! meta/slaves/<agent>/slave.info
//! meta/slaves/<agent>/frameworks/<fw>/framework.info
//! meta/slaves/<agent>/frameworks/<fw>/executors/<ex>/executor.info
//! .../executors/<ex>/runs/<container>/pids/forked.pid
//! .../runs/<container>/tasks/<task>/task.info
//! .../runs/<container>/tasks/<task>/task.updates
//! ```
//!
//! `.info` files hold protobuf and are replaced atomically (write, then
//! rename). `task.updates` is a RecordIO stream of [`Record`]s appended
//! as updates arrive and are acknowledged; a record cut short by a crash
//! ends the stream on recovery. Records reach the kernel before the agent
//! answers (they survive the agent process dying); they are not fsynced,
//! so a machine crash may lose the newest ones (after a reboot executors
//! are gone and the agent starts afresh anyway).
//!
//! ```
//! use mesos_agent::checkpoint::{Checkpoint, Record};
//! use mesos_proto::v1::{AgentId, AgentInfo, TaskId, TaskStatus};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let meta = Checkpoint::new(dir.path().join("meta"));
//! let info = AgentInfo { id: Some(AgentId::new("a1")), ..Default::default() };
//! meta.agent(&info).unwrap();
//! let recovered = meta.recover().unwrap().unwrap();
//! assert_eq!(recovered.info.id, Some(AgentId::new("a1")));
//! assert!(!recovered.rebooted);
//! ```

use mesos_proto::prost::Message;
use mesos_proto::recordio;
use mesos_proto::v1::{
    AgentId, AgentInfo, ContainerId, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, TaskId,
    TaskInfo, TaskStatus,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest update record read back (a status carries at most a
/// little data; Mesos bounds messages similarly).
const MAX_RECORD: usize = 16 << 20;

/// One entry of a task's update stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An update the agent accepted.
    Update(Box<TaskStatus>),
    /// The framework acknowledged the update with this uuid.
    Ack(Vec<u8>),
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        match self {
            Record::Update(status) => {
                let mut out = vec![b'U'];
                out.extend(status.encode_to_vec());
                out
            }
            Record::Ack(uuid) => {
                let mut out = vec![b'A'];
                out.extend(uuid);
                out
            }
        }
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        match bytes.split_first()? {
            (b'U', rest) => TaskStatus::decode(rest)
                .ok()
                .map(|s| Record::Update(Box::new(s))),
            (b'A', rest) => Some(Record::Ack(rest.to_vec())),
            _ => None,
        }
    }
}

/// Why checkpointed state could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// A checkpoint file is unreadable or does not decode.
    #[error(
        "cannot recover from {path}: {message} (remove {latest} to start the agent afresh)",
        latest = "meta/slaves/latest"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A task as recovered: what was given to the executor and its stream.
#[derive(Debug, Clone)]
pub struct RecoveredTask {
    /// The task.
    pub info: TaskInfo,
    /// Its update stream, oldest first.
    pub records: Vec<Record>,
}

/// One run (container) of an executor.
#[derive(Debug, Clone)]
pub struct RecoveredRun {
    /// Where its checkpoints are.
    pub meta: RunMeta,
    /// The container.
    pub container_id: ContainerId,
    /// The pid of the executor's process, once it was forked.
    pub pid: Option<u32>,
    /// The process's start time (clock ticks after boot), to tell it from
    /// a later process given the same pid.
    pub start_time: Option<u64>,
    /// Whether the run had ended before the agent stopped.
    pub completed: bool,
    /// Its tasks.
    pub tasks: Vec<RecoveredTask>,
    /// Containers launched under it that had not been removed.
    pub nested: Vec<RecoveredNested>,
}

/// A nested container as recovered.
#[derive(Debug, Clone)]
pub struct RecoveredNested {
    /// Its id (under its run's container).
    pub container_id: ContainerId,
    /// Its process.
    pub pid: Option<u32>,
    /// The process's start time, against pid reuse.
    pub start_time: Option<u64>,
    /// Its resources (its limits).
    pub resources: Vec<mesos_proto::v1::Resource>,
}

/// An executor and its runs, oldest first.
#[derive(Debug, Clone)]
pub struct RecoveredExecutor {
    /// The executor.
    pub info: ExecutorInfo,
    /// Whether the agent made it up for a command task.
    pub generated: bool,
    /// Its runs.
    pub runs: Vec<RecoveredRun>,
}

/// A checkpointing framework with executors here.
#[derive(Debug, Clone)]
pub struct RecoveredFramework {
    /// The framework.
    pub info: FrameworkInfo,
    /// Its executors.
    pub executors: Vec<RecoveredExecutor>,
}

/// Everything an agent checkpointed.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The agent, with its id.
    pub info: AgentInfo,
    /// Whether the machine rebooted since (every executor is gone).
    pub rebooted: bool,
    /// Frameworks that checkpoint.
    pub frameworks: Vec<RecoveredFramework>,
}

/// Where a run's checkpoints go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta(PathBuf);

impl RunMeta {
    /// The run's directory under `meta/`.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    fn task_dir(&self, task: &TaskId) -> PathBuf {
        self.0.join("tasks").join(task.as_str())
    }

    /// Records the executor's pid (and its start time).
    pub fn forked(&self, pid: u32) -> std::io::Result<()> {
        forked(&self.0, pid)
    }

    /// Records a nested container of the run: its pid (and start time)
    /// and its resources, under `containers/<id>`, as Mesos lays it out.
    pub fn nested(
        &self,
        child: &ContainerId,
        pid: u32,
        resources: &[mesos_proto::v1::Resource],
    ) -> std::io::Result<()> {
        let dir = self.0.join("containers").join(child.as_str());
        forked(&dir, pid)?;
        let launch = mesos_proto::v1::agent::call::LaunchContainer {
            container_id: child.clone(),
            resources: resources.to_vec(),
            ..Default::default()
        };
        write_atomic(&dir.join("launch.info"), &launch.encode_to_vec())
    }

    /// Forgets a nested container of the run (it ended and was removed).
    pub fn nested_removed(&self, child: &ContainerId) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.0.join("containers").join(child.as_str())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Records a task given to the run.
    pub fn task(&self, task: &TaskInfo) -> std::io::Result<()> {
        let dir = self.task_dir(&task.task_id);
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join("task.info"), &task.encode_to_vec())
    }

    /// Appends to `task`'s update stream.
    pub fn record(&self, task: &TaskId, record: &Record) -> std::io::Result<()> {
        let dir = self.task_dir(task);
        std::fs::create_dir_all(&dir)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("task.updates"))?;
        // One write per record, so a crash leaves at most the last one cut.
        let mut framed = Vec::new();
        recordio::encode(&record.encode(), &mut framed);
        file.write_all(&framed)
    }

    /// Marks the run ended.
    pub fn completed(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.0)?;
        write_atomic(&self.0.join("completed"), b"")
    }
}

/// An agent's `meta/` directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    meta: PathBuf,
}

impl Checkpoint {
    /// Checkpoints under `meta` (`<work_dir>/meta`).
    pub fn new(meta: impl Into<PathBuf>) -> Checkpoint {
        Checkpoint { meta: meta.into() }
    }

    fn agent_dir(&self, agent: &AgentId) -> PathBuf {
        self.meta.join("slaves").join(agent.as_str())
    }

    fn framework_dir(&self, agent: &AgentId, framework: &FrameworkId) -> PathBuf {
        self.agent_dir(agent)
            .join("frameworks")
            .join(framework.as_str())
    }

    fn executor_dir(
        &self,
        agent: &AgentId,
        framework: &FrameworkId,
        executor: &ExecutorId,
    ) -> PathBuf {
        self.framework_dir(agent, framework)
            .join("executors")
            .join(executor.as_str())
    }

    /// Records the agent (with its id) as the one to recover, and the
    /// boot it runs in.
    pub fn agent(&self, info: &AgentInfo) -> std::io::Result<()> {
        let Some(id) = &info.id else {
            return Ok(());
        };
        let dir = self.agent_dir(id);
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join("slave.info"), &info.encode_to_vec())?;
        if let Some(boot) = boot_id() {
            write_atomic(&self.meta.join("boot_id"), boot.as_bytes())?;
        }
        let slaves = self.meta.join("slaves");
        let staged = slaves.join(".latest.tmp");
        let _ = std::fs::remove_file(&staged);
        std::os::unix::fs::symlink(id.as_str(), &staged)?;
        std::fs::rename(&staged, slaves.join("latest"))
    }

    /// Records a framework that checkpoints.
    pub fn framework(&self, agent: &AgentId, info: &FrameworkInfo) -> std::io::Result<()> {
        let Some(id) = &info.id else {
            return Ok(());
        };
        let dir = self.framework_dir(agent, id);
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join("framework.info"), &info.encode_to_vec())
    }

    /// Records an executor and starts a run of it; where the run's
    /// checkpoints go.
    pub fn run(
        &self,
        agent: &AgentId,
        framework: &FrameworkId,
        info: &ExecutorInfo,
        generated: bool,
        container: &ContainerId,
    ) -> std::io::Result<RunMeta> {
        let dir = self.executor_dir(agent, framework, &info.executor_id);
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join("executor.info"), &info.encode_to_vec())?;
        if generated {
            write_atomic(&dir.join("generated"), b"")?;
        }
        let run = dir.join("runs").join(container.as_str());
        std::fs::create_dir_all(&run)?;
        Ok(RunMeta(run))
    }

    /// Forgets everything (`--recover=cleanup`, or a reboot).
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_file(self.meta.join("slaves").join("latest")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads back what the latest agent checkpointed; `None` when nothing
    /// was (a new agent).
    pub fn recover(&self) -> Result<Option<Recovered>, RecoverError> {
        let latest = self.meta.join("slaves").join("latest");
        let Ok(target) = std::fs::read_link(&latest) else {
            return Ok(None);
        };
        let agent_dir = self.meta.join("slaves").join(target);
        let info: AgentInfo = read_info(&agent_dir.join("slave.info"))?;
        let rebooted = match (
            std::fs::read_to_string(self.meta.join("boot_id")).ok(),
            boot_id(),
        ) {
            (Some(then), Some(now)) => then.trim() != now.trim(),
            _ => false,
        };
        let mut frameworks = Vec::new();
        for fw_dir in subdirs(&agent_dir.join("frameworks"))? {
            let info: FrameworkInfo = read_info(&fw_dir.join("framework.info"))?;
            let mut executors = Vec::new();
            for ex_dir in subdirs(&fw_dir.join("executors"))? {
                let info: ExecutorInfo = read_info(&ex_dir.join("executor.info"))?;
                let mut runs = Vec::new();
                for run_dir in subdirs(&ex_dir.join("runs"))? {
                    runs.push(recover_run(&run_dir)?);
                }
                // Oldest first: the live run, if any, is the newest.
                runs.sort_by_key(|r| !r.completed);
                executors.push(RecoveredExecutor {
                    info,
                    generated: ex_dir.join("generated").exists(),
                    runs,
                });
            }
            frameworks.push(RecoveredFramework { info, executors });
        }
        Ok(Some(Recovered {
            info,
            rebooted,
            frameworks,
        }))
    }
}

/// Writes `dir/pids/forked.pid` (and `forked.start`).
fn forked(dir: &Path, pid: u32) -> std::io::Result<()> {
    let pids = dir.join("pids");
    std::fs::create_dir_all(&pids)?;
    write_atomic(&pids.join("forked.pid"), pid.to_string().as_bytes())?;
    if let Some(start) = process_start_time(pid) {
        write_atomic(&pids.join("forked.start"), start.to_string().as_bytes())?;
    }
    Ok(())
}

/// `dir/pids/forked.pid` and `forked.start`, where written.
fn read_forked(dir: &Path) -> (Option<u32>, Option<u64>) {
    let number = |file: &str| -> Option<u64> {
        std::fs::read_to_string(dir.join("pids").join(file))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    };
    (
        number("forked.pid").and_then(|p| u32::try_from(p).ok()),
        number("forked.start"),
    )
}

fn recover_run(dir: &Path) -> Result<RecoveredRun, RecoverError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let container_id = ContainerId::new(name);
    let mut tasks = Vec::new();
    for task_dir in subdirs(&dir.join("tasks"))? {
        let info_path = task_dir.join("task.info");
        if !info_path.exists() {
            continue;
        }
        let info: TaskInfo = read_info(&info_path)?;
        let records = match std::fs::read(task_dir.join("task.updates")) {
            Ok(bytes) => decode_records(&bytes),
            Err(_) => Vec::new(),
        };
        tasks.push(RecoveredTask { info, records });
    }
    let mut nested = Vec::new();
    for child_dir in subdirs(&dir.join("containers"))? {
        let info_path = child_dir.join("launch.info");
        if !info_path.exists() {
            continue;
        }
        let launch: mesos_proto::v1::agent::call::LaunchContainer = read_info(&info_path)?;
        let (pid, start_time) = read_forked(&child_dir);
        nested.push(RecoveredNested {
            container_id: ContainerId::nested(container_id.clone(), launch.container_id.value),
            pid,
            start_time,
            resources: launch.resources,
        });
    }
    let (pid, start_time) = read_forked(dir);
    Ok(RecoveredRun {
        meta: RunMeta(dir.to_path_buf()),
        container_id,
        pid,
        start_time,
        completed: dir.join("completed").exists(),
        tasks,
        nested,
    })
}

/// The records of a `task.updates` file, up to the first one cut short
/// or undecodable.
fn decode_records(bytes: &[u8]) -> Vec<Record> {
    let mut decoder = recordio::Decoder::new(MAX_RECORD);
    decoder.feed(bytes);
    let mut out = Vec::new();
    while let Ok(Some(record)) = decoder.next_record() {
        match Record::decode(&record) {
            Some(r) => out.push(r),
            None => break,
        }
    }
    out
}

fn read_info<M: Message + Default>(path: &Path) -> Result<M, RecoverError> {
    let corrupt = |message: String| RecoverError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| corrupt(e.to_string()))?;
    M::decode(bytes.as_slice()).map_err(|e| corrupt(e.to_string()))
}

/// Directories in `dir` (none when it does not exist), by name, without
/// `latest` links.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, RecoverError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(RecoverError::Corrupt {
                path: dir.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut staged = path.as_os_str().to_owned();
    staged.push(".tmp");
    std::fs::write(&staged, bytes)?;
    std::fs::rename(&staged, path)
}

/// This boot's id (Linux), to tell a restart from a reboot.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// When process `pid` started (field 22 of `/proc/<pid>/stat`).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(task: &str, uuid: u8) -> TaskStatus {
        TaskStatus {
            task_id: TaskId::new(task),
            state: mesos_proto::v1::TaskState::TaskRunning as i32,
            uuid: Some(vec![uuid]),
            ..Default::default()
        }
    }

    #[test]
    fn a_whole_agent_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Checkpoint::new(dir.path());
        let agent = AgentId::new("a1");
        meta.agent(&AgentInfo {
            id: Some(agent.clone()),
            hostname: "h".into(),
            ..Default::default()
        })
        .unwrap();
        let fw = FrameworkId::new("f1");
        meta.framework(
            &agent,
            &FrameworkInfo {
                id: Some(fw.clone()),
                checkpoint: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        let executor = ExecutorInfo {
            executor_id: ExecutorId::new("e1"),
            ..Default::default()
        };
        let old = meta
            .run(&agent, &fw, &executor, true, &ContainerId::new("c0"))
            .unwrap();
        old.completed().unwrap();
        let run = meta
            .run(&agent, &fw, &executor, true, &ContainerId::new("c1"))
            .unwrap();
        run.forked(std::process::id()).unwrap();
        let task = TaskInfo {
            task_id: TaskId::new("t1"),
            name: "t".into(),
            ..Default::default()
        };
        run.task(&task).unwrap();
        run.record(&task.task_id, &Record::Update(Box::new(status("t1", 1))))
            .unwrap();
        run.record(&task.task_id, &Record::Ack(vec![1])).unwrap();
        run.record(&task.task_id, &Record::Update(Box::new(status("t1", 2))))
            .unwrap();

        let got = meta.recover().unwrap().unwrap();
        assert_eq!(got.info.hostname, "h");
        let fw = &got.frameworks[0];
        assert_eq!(fw.info.checkpoint, Some(true));
        let ex = &fw.executors[0];
        assert!(ex.generated);
        assert_eq!(ex.runs.len(), 2);
        assert!(ex.runs[0].completed);
        let live = &ex.runs[1];
        assert_eq!(live.container_id, ContainerId::new("c1"));
        assert_eq!(live.pid, Some(std::process::id()));
        assert_eq!(live.start_time, process_start_time(std::process::id()));
        assert!(live.start_time.is_some());
        assert_eq!(
            live.tasks[0].records,
            vec![
                Record::Update(Box::new(status("t1", 1))),
                Record::Ack(vec![1]),
                Record::Update(Box::new(status("t1", 2))),
            ]
        );

        meta.clear().unwrap();
        assert!(meta.recover().unwrap().is_none());
    }

    #[test]
    fn a_record_cut_short_ends_the_stream() {
        let mut bytes = Vec::new();
        recordio::encode(&Record::Ack(vec![7]).encode(), &mut bytes);
        let mut second = Vec::new();
        recordio::encode(
            &Record::Update(Box::new(status("t", 8))).encode(),
            &mut second,
        );
        bytes.extend_from_slice(&second[..second.len() - 2]);
        assert_eq!(decode_records(&bytes), vec![Record::Ack(vec![7])]);
        assert_eq!(decode_records(b"garbage"), Vec::<Record>::new());
    }

    #[test]
    fn a_corrupt_info_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Checkpoint::new(dir.path());
        let agent = AgentId::new("a1");
        meta.agent(&AgentInfo {
            id: Some(agent),
            ..Default::default()
        })
        .unwrap();
        std::fs::write(dir.path().join("slaves/a1/slave.info"), b"\xff\xff\xff").unwrap();
        let err = meta.recover().unwrap_err().to_string();
        assert!(err.contains("slaves/a1/slave.info"), "{err}");
        assert!(err.contains("meta/slaves/latest"), "{err}");
    }
}
