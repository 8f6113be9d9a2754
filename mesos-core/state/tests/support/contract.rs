//! The store contract every backend keeps (shared by the test files).

use mesos_state::{Expect, MAX_VALUE_SIZE, Op, StateError, Store};

/// Checks `store`, which must start empty, against the [`Store`] contract.
pub(crate) async fn contract(store: &impl Store) {
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

    // Many keys at once, in order, missing ones as None.
    let keys: Vec<String> = ["batch/x", "nope", "batch/y"].map(String::from).to_vec();
    let got = store.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_ref().unwrap().value, b"2");
    assert!(got[1].is_none());
    assert_eq!(got[2].as_ref().unwrap().version, 1);
    assert!(store.get_many(&["bad//key".to_string()]).await.is_err());
}
