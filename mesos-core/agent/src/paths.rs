//! Where things live under `--work_dir`, in Mesos' layout.
//!
//! ```
//! use mesos_agent::paths::Layout;
//! use mesos_proto::v1::{AgentId, ContainerId, ExecutorId, FrameworkId};
//!
//! let layout = Layout::new("/var/lib/mesos");
//! let run = layout.executor_run(
//!     &AgentId::new("a1"),
//!     &FrameworkId::new("f1"),
//!     &ExecutorId::new("e1"),
//!     &ContainerId::new("c1"),
//! );
//! assert_eq!(
//!     run.to_str().unwrap(),
//!     "/var/lib/mesos/slaves/a1/frameworks/f1/executors/e1/runs/c1"
//! );
//! ```

use mesos_proto::v1::{AgentId, ContainerId, ExecutorId, FrameworkId};
use std::path::{Path, PathBuf};

/// The directory layout of one agent's `--work_dir`.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `work_dir`.
    pub fn new(work_dir: impl Into<PathBuf>) -> Layout {
        Layout {
            root: work_dir.into(),
        }
    }

    /// `--work_dir` itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `slaves/<agent>`: every sandbox of one agent id.
    pub fn agent_dir(&self, agent: &AgentId) -> PathBuf {
        self.root.join("slaves").join(agent.as_str())
    }

    /// `.../frameworks/<fw>/executors/<ex>`: every run of one executor.
    pub fn executor_dir(
        &self,
        agent: &AgentId,
        framework: &FrameworkId,
        executor: &ExecutorId,
    ) -> PathBuf {
        self.agent_dir(agent)
            .join("frameworks")
            .join(framework.as_str())
            .join("executors")
            .join(executor.as_str())
    }

    /// `.../runs/<container>`: one run's sandbox.
    pub fn executor_run(
        &self,
        agent: &AgentId,
        framework: &FrameworkId,
        executor: &ExecutorId,
        container: &ContainerId,
    ) -> PathBuf {
        self.executor_dir(agent, framework, executor)
            .join("runs")
            .join(container.as_str())
    }

    /// `meta/`: checkpoints.
    pub fn meta_dir(&self) -> PathBuf {
        self.root.join("meta")
    }
}

/// Creates `run` and points its sibling `latest` link at it, as Mesos
/// does for the newest run of an executor.
pub fn create_run_dir(run: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(run)?;
    if let (Some(parent), Some(name)) = (run.parent(), run.file_name()) {
        let latest = parent.join("latest");
        let staged = parent.join(".latest.tmp");
        let _ = std::fs::remove_file(&staged);
        std::os::unix::fs::symlink(name, &staged)?;
        std::fs::rename(&staged, &latest)?;
    }
    Ok(())
}
