//! Where a scheduler keeps its framework id, so that a restarted
//! scheduler fails over to its tasks instead of registering anew.

use crate::SchedulerError;
use mesos_proto::v1::FrameworkId;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Keeps a framework id across restarts of the scheduler.
///
/// The driver loads it before subscribing, saves the id the master
/// assigns, and clears it when the framework is torn down or removed.
pub trait FrameworkIdStore: Send + Sync + std::fmt::Debug + 'static {
    /// The stored id, if any.
    fn load(&self) -> Result<Option<FrameworkId>, SchedulerError>;
    /// Stores `id`.
    fn save(&self, id: &FrameworkId) -> Result<(), SchedulerError>;
    /// Forgets the id.
    fn clear(&self) -> Result<(), SchedulerError>;
}

/// A framework id in a file, written atomically (a temporary file renamed
/// over it).
///
/// ```
/// use mesos_proto::v1::FrameworkId;
/// use mesos_scheduler::{FileFrameworkIdStore, FrameworkIdStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileFrameworkIdStore::new(dir.path().join("framework_id"));
/// assert_eq!(store.load().unwrap(), None);
/// store.save(&FrameworkId { value: "f-1".into() }).unwrap();
/// assert_eq!(store.load().unwrap().unwrap().value, "f-1");
/// store.clear().unwrap();
/// assert_eq!(store.load().unwrap(), None);
/// ```
#[derive(Debug, Clone)]
pub struct FileFrameworkIdStore {
    path: PathBuf,
}

impl FileFrameworkIdStore {
    /// A store in the file at `path` (its directory is created on save).
    pub fn new(path: impl Into<PathBuf>) -> FileFrameworkIdStore {
        FileFrameworkIdStore { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, source: std::io::Error) -> SchedulerError {
        SchedulerError::Store {
            path: self.path.display().to_string(),
            source,
        }
    }
}

impl FrameworkIdStore for FileFrameworkIdStore {
    fn load(&self) -> Result<Option<FrameworkId>, SchedulerError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Ok(Some(FrameworkId {
                value: text.trim().to_string(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    fn save(&self, id: &FrameworkId) -> Result<(), SchedulerError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e))?;
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", id.value)).map_err(|e| self.error(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.error(e))
    }

    fn clear(&self) -> Result<(), SchedulerError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.error(e)),
            _ => Ok(()),
        }
    }
}

/// A framework id kept in memory only (for tests, and for frameworks
/// that register anew on every start).
#[derive(Debug, Default)]
pub struct MemoryFrameworkIdStore {
    id: Mutex<Option<FrameworkId>>,
}

impl FrameworkIdStore for MemoryFrameworkIdStore {
    fn load(&self) -> Result<Option<FrameworkId>, SchedulerError> {
        Ok(self.id.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn save(&self, id: &FrameworkId) -> Result<(), SchedulerError> {
        *self.id.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
        Ok(())
    }

    fn clear(&self) -> Result<(), SchedulerError> {
        *self.id.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}
