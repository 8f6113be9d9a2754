//! The store contract, checked against every backend, and the file
//! backend's durability.

use mesos_state::{AnyStore, Expect, FileStore, MemoryStore, StateError, Store};
use std::future::Future;

#[path = "support/contract.rs"]
mod contract;
use contract::contract;
use std::path::PathBuf;

/// Runs a future that never waits (our backends complete at once).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesos-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn memory_store_keeps_the_contract() {
    block_on(contract(&MemoryStore::new()));
    block_on(contract(&std::sync::Arc::new(AnyStore::Memory(
        MemoryStore::new(),
    ))));
}

#[test]
fn file_store_keeps_the_contract_and_survives_reopening() {
    let dir = temp_dir("contract");
    let path = dir.join("nested/registry.bin");
    let store = FileStore::open(&path).unwrap();
    block_on(contract(&store));
    let before: Vec<_> = block_on(store.list("")).unwrap();
    drop(store);

    // Everything, with versions, is there after reopening.
    let store = FileStore::open(&path).unwrap();
    assert_eq!(block_on(store.list("")).unwrap(), before);
    let entry = block_on(store.get("a/b")).unwrap().unwrap();
    assert_eq!((entry.value.as_slice(), entry.version), (&b"again"[..], 1));
    assert!(block_on(store.put("a/b", vec![], Expect::Version(1))).is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_damaged_file_is_reported_not_overwritten() {
    let dir = temp_dir("corrupt");
    let path = dir.join("registry.bin");
    let store = FileStore::open(&path).unwrap();
    block_on(store.put("k", b"value".to_vec(), Expect::Absent)).unwrap();
    drop(store);

    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = FileStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as found");

    std::fs::write(&path, b"not a store").unwrap();
    let err = FileStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("bad header"), "{err}");

    // A leftover temporary file from a crash mid-write is ignored.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(dir.join("registry.bin.tmp"), b"half written").unwrap();
    let store = FileStore::open(&path).unwrap();
    assert!(block_on(store.list("")).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failed_write_changes_nothing() {
    // The store's directory is replaced by a file after opening: every
    // write fails, and the failed change must not be visible afterwards.
    let dir = temp_dir("failing");
    let sub = dir.join("sub");
    let store = FileStore::open(sub.join("registry.bin")).unwrap();
    block_on(store.put("kept", b"1".to_vec(), Expect::Absent)).unwrap();
    std::fs::remove_dir_all(&sub).unwrap();
    std::fs::write(&sub, b"in the way").unwrap();

    let err = block_on(store.put("k", b"v".to_vec(), Expect::Absent)).unwrap_err();
    assert!(matches!(err, StateError::Io { .. }), "{err}");
    assert!(block_on(store.get("k")).unwrap().is_none());
    let err = block_on(store.put("kept", b"2".to_vec(), Expect::Version(1))).unwrap_err();
    assert!(matches!(err, StateError::Io { .. }), "{err}");
    let kept = block_on(store.get("kept")).unwrap().unwrap();
    assert_eq!((kept.value.as_slice(), kept.version), (&b"1"[..], 1));
    assert!(block_on(store.delete("kept", Expect::Any)).is_err());
    assert!(block_on(store.get("kept")).unwrap().is_some());

    // Opening a store under a file is refused.
    assert!(FileStore::open(sub.join("x.bin")).is_err());
    let _ = std::fs::remove_dir_all(dir);
}
