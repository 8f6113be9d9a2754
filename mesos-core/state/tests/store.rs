//! The store contract, checked against every backend, and the file
//! backend's durability.

use mesos_state::{
    AnyStore, Expect, FileStore, MAX_VALUE_SIZE, MemoryStore, Op, StateError, Store,
};
use std::future::Future;
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

async fn contract(store: &impl Store) {
    // Create only when absent; versions count writes.
    assert_eq!(
        store
            .put("a/b", b"1".to_vec(), Expect::Absent)
            .await
            .unwrap(),
        1
    );
    let err = store
        .put("a/b", b"x".to_vec(), Expect::Absent)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "version conflict on `a/b`: expected no entry, found version 1"
    );
    assert_eq!(
        store
            .put("a/b", b"2".to_vec(), Expect::Version(1))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.put("a/b", b"3".to_vec(), Expect::Version(1)).await,
        Err(StateError::Conflict { found: Some(2), .. })
    ));
    assert_eq!(
        store.put("a/b", b"4".to_vec(), Expect::Any).await.unwrap(),
        3
    );
    let entry = store.get("a/b").await.unwrap().unwrap();
    assert_eq!((entry.value.as_slice(), entry.version), (&b"4"[..], 3));
    assert!(matches!(
        store.put("a/new", b"x".to_vec(), Expect::Version(1)).await,
        Err(StateError::Conflict { found: None, .. })
    ));

    // Listing by prefix, sorted.
    store.put("a/c", vec![], Expect::Absent).await.unwrap();
    store.put("ab", vec![], Expect::Absent).await.unwrap();
    store.put("b/x", vec![], Expect::Absent).await.unwrap();
    assert_eq!(store.list("a/").await.unwrap(), ["a/b", "a/c"]);
    assert_eq!(store.list("a").await.unwrap(), ["a/b", "a/c", "ab"]);
    assert_eq!(store.list("").await.unwrap().len(), 4);

    // Deletes are versioned too.
    assert!(store.delete("a/b", Expect::Version(2)).await.is_err());
    assert!(store.delete("a/b", Expect::Version(3)).await.unwrap());
    assert!(!store.delete("a/b", Expect::Any).await.unwrap());
    assert!(store.delete("a/c", Expect::Absent).await.is_err());
    assert!(store.get("a/b").await.unwrap().is_none());
    // Re-created keys start again at version 1.
    assert_eq!(
        store
            .put("a/b", b"again".to_vec(), Expect::Absent)
            .await
            .unwrap(),
        1
    );

    // Bad keys and oversized values are refused, naming the problem.
    for (key, why) in [
        ("", "empty"),
        ("/a", "empty component"),
        ("a//b", "empty component"),
        ("a/", "empty component"),
        ("a/../b", "`..`"),
        ("a\0b", "NUL"),
    ] {
        let err = store
            .put(key, vec![], Expect::Any)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{key:?}: {err}");
        assert!(store.get(key).await.is_err());
    }
    let err = store
        .put("big", vec![0; MAX_VALUE_SIZE + 1], Expect::Any)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::TooLarge { .. }), "{err}");
    assert!(store.get("big").await.unwrap().is_none());

    // A batch applies in order, all or nothing.
    let put = |key: &str, value: &[u8], expect| Op::Put {
        key: key.into(),
        value: value.to_vec(),
        expect,
    };
    let done = store
        .apply(vec![
            put("batch/x", b"1", Expect::Absent),
            put("batch/x", b"2", Expect::Version(1)),
            put("batch/y", b"y", Expect::Any),
            Op::Delete {
                key: "ab".into(),
                expect: Expect::Any,
            },
        ])
        .await
        .unwrap();
    assert_eq!(done, [Some(1), Some(2), Some(1), None]);
    assert_eq!(store.get("batch/x").await.unwrap().unwrap().value, b"2");
    assert!(store.get("ab").await.unwrap().is_none());
    let before: Vec<_> = store.list("").await.unwrap();
    let err = store
        .apply(vec![
            put("batch/x", b"3", Expect::Version(2)),
            Op::Delete {
                key: "batch/y".into(),
                expect: Expect::Any,
            },
            put("batch/z", b"z", Expect::Absent),
            put("batch/y", b"late", Expect::Version(7)),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StateError::Conflict { key, .. } if key == "batch/y"),
        "{err}"
    );
    // Nothing of the failed batch is visible.
    assert_eq!(store.list("").await.unwrap(), before);
    let x = store.get("batch/x").await.unwrap().unwrap();
    assert_eq!((x.value.as_slice(), x.version), (&b"2"[..], 2));
    assert_eq!(store.get("batch/y").await.unwrap().unwrap().value, b"y");
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
