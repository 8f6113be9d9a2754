//! A store in one file: the embedded backend of `mesos local` and
//! `--registry=local`.
//!
//! The whole map is kept in memory and written to disk on every change:
//! to `<path>.tmp`, synced, then renamed over `<path>` and the directory
//! synced, so the file is always either the old state or the new one. A
//! CRC-32 guards against a damaged file, which is reported, never
//! overwritten. Writes are synchronous file I/O: fine for a registry that
//! changes a few times a second, not for a data path.

use crate::crc::crc32;
use crate::{Entries, Entry, Expect, Op, StateError, Store, validate_key};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MAGIC: &[u8; 8] = b"MESOSST\x01";

/// A [`Store`] persisted in one file.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    entries: Mutex<Entries>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn encode(entries: &Entries) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.map.len() as u64).to_le_bytes());
    for (key, entry) in &entries.map {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&entry.version.to_le_bytes());
        out.extend_from_slice(&(entry.value.len() as u32).to_le_bytes());
        out.extend_from_slice(&entry.value);
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Entries, StateError> {
    let corrupt = |reason: &str| StateError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < MAGIC.len() + 8 + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not a mesos-state file (bad header)"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32(body) != crc {
        return Err(corrupt("checksum mismatch: the file is damaged"));
    }
    let mut rest = &body[MAGIC.len()..];
    let mut take = |n: usize| -> Result<&[u8], StateError> {
        if rest.len() < n {
            return Err(corrupt("truncated entry"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let u64_at = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let count = u64_at(take(8)?);
    let mut entries = Entries::default();
    for _ in 0..count {
        let klen = u32_at(take(4)?);
        let key = std::str::from_utf8(take(klen)?)
            .map_err(|_| corrupt("a key is not UTF-8"))?
            .to_string();
        let version = u64_at(take(8)?);
        let vlen = u32_at(take(4)?);
        let value = take(vlen)?.to_vec();
        entries.map.insert(key, Entry { value, version });
    }
    if !rest.is_empty() {
        return Err(corrupt("trailing bytes after the last entry"));
    }
    Ok(entries)
}

impl FileStore {
    /// Opens the store in `path`, creating it (and its directory) on the
    /// first write if it does not exist. A damaged file is an error.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileStore, StateError> {
        let path = path.into();
        let entries = match std::fs::read(&path) {
            Ok(bytes) => decode(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entries::default(),
            Err(e) => return Err(io_error(&path)(e)),
        };
        Ok(FileStore {
            path,
            entries: Mutex::new(entries),
        })
    }

    /// The backing file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn persist(&self, entries: &Entries) -> Result<(), StateError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
        file.write_all(&encode(entries)).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io_error(&self.path))?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Applies `change` to the entries under `keys` and persists the
    /// result in one write; on a failed write the change is undone, so
    /// memory never runs ahead of the file.
    fn change<T>(
        &self,
        keys: &[&str],
        change: impl FnOnce(&mut Entries) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let saved: Vec<(String, Option<Entry>)> = keys
            .iter()
            .map(|k| (k.to_string(), guard.map.get(*k).cloned()))
            .collect();
        let out = change(&mut guard)?;
        if let Err(e) = self.persist(&guard) {
            guard.undo(saved);
            return Err(e);
        }
        Ok(out)
    }
}

impl Store for FileStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError> {
        validate_key(key)?;
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(guard.map.get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>, expect: Expect) -> Result<u64, StateError> {
        self.change(&[key], |e| e.put(key, value, expect))
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<bool, StateError> {
        self.change(&[key], |e| e.delete(key, expect))
    }

    async fn apply(&self, ops: Vec<Op>) -> Result<Vec<Option<u64>>, StateError> {
        let keys: Vec<String> = ops.iter().map(|op| op.key().to_string()).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.change(&keys, |e| e.apply(ops))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(guard.list(prefix))
    }
}
