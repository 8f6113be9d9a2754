//! The fetcher: a task's (or executor's) `CommandInfo.uris`, brought into
//! its sandbox before it starts, as Mesos' fetcher does.
//!
//! `http://` URIs are downloaded (streamed to disk); `file://` URIs and
//! plain absolute paths are copied. A URI is saved as its `output_file`,
//! else under its last path segment; `executable` makes it executable;
//! `extract` (the default) unpacks `.tar`, `.tar.gz`, `.tgz`, `.tar.bz2`,
//! `.tbz2`, `.tar.xz`, `.txz` (with `tar`) and `.zip` (with `unzip`) into
//! the sandbox, as Mesos does. With `cache`, a copy is kept in the cache
//! directory, bounded in size (least recently used out first).
//!
//! A failure names the URI and why: the task fails with that message.

use bytes::Buf;
use http_body_util::BodyExt;
use mesos_http::client::Client;
use mesos_proto::v1::command_info::Uri;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;

/// Why a URI could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Failed to fetch '{uri}': {reason}")]
pub struct FetchError {
    /// The URI.
    pub uri: String,
    /// What went wrong.
    pub reason: String,
}

/// A size-bounded cache of fetched files (`--fetcher_cache_dir`,
/// `--fetcher_cache_size`).
#[derive(Debug, Clone)]
pub struct Cache {
    /// Where cached files live.
    pub dir: PathBuf,
    /// The most bytes kept.
    pub max_bytes: u64,
}

/// Fetches every URI into `sandbox`, in order; stops at the first failure.
pub async fn fetch_all(
    client: &Client,
    uris: &[Uri],
    sandbox: &Path,
    cache: Option<&Cache>,
) -> Result<(), FetchError> {
    for uri in uris {
        fetch(client, uri, sandbox, cache)
            .await
            .map_err(|reason| FetchError {
                uri: uri.value.clone(),
                reason,
            })?;
    }
    Ok(())
}

/// The name a URI is saved under: its `output_file`, else the last
/// segment of its path (query and fragment dropped).
///
/// ```
/// use mesos_agent::fetcher::file_name;
/// use mesos_proto::v1::command_info::Uri;
///
/// let uri = |v: &str| Uri { value: v.into(), ..Default::default() };
/// assert_eq!(file_name(&uri("http://h/a/app.tar.gz?x=1")).unwrap(), "app.tar.gz");
/// assert_eq!(file_name(&uri("/opt/bin/tool")).unwrap(), "tool");
/// assert!(file_name(&uri("http://h/")).is_err());
/// let named = Uri { output_file: Some("x.bin".into()), ..uri("http://h/y") };
/// assert_eq!(file_name(&named).unwrap(), "x.bin");
/// ```
pub fn file_name(uri: &Uri) -> Result<String, String> {
    if let Some(name) = &uri.output_file {
        let path = Path::new(name);
        if name.is_empty()
            || path.is_absolute()
            || path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(format!(
                "output_file '{name}' must be a relative path inside the sandbox"
            ));
        }
        return Ok(name.clone());
    }
    let path = uri.value.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name == ".." || name == "." {
        return Err("the URI names no file; give it an output_file".into());
    }
    Ok(name.to_string())
}

/// What kind of archive a file name is, for extraction.
fn archive_kind(name: &str) -> Option<&'static str> {
    const TAR: [&str; 7] = [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
    ];
    if TAR.iter().any(|s| name.ends_with(s)) {
        Some("tar")
    } else if name.ends_with(".zip") {
        Some("zip")
    } else {
        None
    }
}

/// A stable key for a cache entry (FNV-1a of the URI).
fn cache_key(uri: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uri.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

async fn fetch(
    client: &Client,
    uri: &Uri,
    sandbox: &Path,
    cache: Option<&Cache>,
) -> Result<(), String> {
    let name = file_name(uri)?;
    let target = sandbox.join(&name);
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| e.to_string())?;
    }
    let cached = cache
        .filter(|_| uri.cache == Some(true))
        .map(|c| c.dir.join(cache_key(&uri.value)));
    match &cached {
        Some(entry) if entry.exists() => {
            tokio::fs::copy(entry, &target)
                .await
                .map_err(|e| format!("from the cache: {e}"))?;
            // Touch it: most recently used.
            let _ = std::fs::File::open(entry).and_then(|f| f.set_modified(SystemTime::now()));
        }
        _ => {
            download(client, &uri.value, &target).await?;
            if let (Some(entry), Some(cache)) = (&cached, cache) {
                store_in_cache(cache, entry, &target).await;
            }
        }
    }
    if uri.executable == Some(true) {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
            .await
            .map_err(|e| format!("cannot make it executable: {e}"))?;
    } else if uri.extract.unwrap_or(true) {
        if let Some(kind) = archive_kind(&name) {
            extract(kind, &target, sandbox).await?;
        }
    }
    Ok(())
}

async fn download(client: &Client, uri: &str, target: &Path) -> Result<(), String> {
    if uri.starts_with("https://") {
        return Err(
            "https URIs are not supported by this build yet (no TLS); use http or file".into(),
        );
    }
    if uri.starts_with("http://") {
        let resp = client
            .request("GET", uri, &[], Vec::new())
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let mut file = tokio::fs::File::create(target)
            .await
            .map_err(|e| e.to_string())?;
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(mut data) = frame.into_data() {
                while data.has_remaining() {
                    let chunk = data.chunk();
                    file.write_all(chunk).await.map_err(|e| e.to_string())?;
                    let n = chunk.len();
                    data.advance(n);
                }
            }
        }
        return file.flush().await.map_err(|e| e.to_string());
    }
    let source = uri.strip_prefix("file://").unwrap_or(uri);
    if !Path::new(source).is_absolute() {
        return Err("expected an http:// or file:// URI, or an absolute path".into());
    }
    tokio::fs::copy(source, target)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

async fn extract(kind: &str, archive: &Path, sandbox: &Path) -> Result<(), String> {
    let mut command = match kind {
        "tar" => {
            let mut c = tokio::process::Command::new("tar");
            c.arg("-C").arg(sandbox).arg("-xf").arg(archive);
            c
        }
        _ => {
            let mut c = tokio::process::Command::new("unzip");
            c.arg("-o").arg("-q").arg("-d").arg(sandbox).arg(archive);
            c
        }
    };
    let out = command
        .output()
        .await
        .map_err(|e| format!("cannot run {kind} to extract it: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "extracting it failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Copies a fetched file into the cache, then evicts the least recently
/// used entries until the cache fits its bound. A file larger than the
/// whole cache is not kept.
async fn store_in_cache(cache: &Cache, entry: &Path, fetched: &Path) {
    let Ok(meta) = tokio::fs::metadata(fetched).await else {
        return;
    };
    if meta.len() > cache.max_bytes || tokio::fs::create_dir_all(&cache.dir).await.is_err() {
        return;
    }
    if tokio::fs::copy(fetched, entry).await.is_err() {
        return;
    }
    let Ok(mut dir) = tokio::fs::read_dir(&cache.dir).await else {
        return;
    };
    let mut entries = Vec::new();
    while let Ok(Some(e)) = dir.next_entry().await {
        if let Ok(m) = e.metadata().await {
            entries.push((
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
                e.path(),
            ));
        }
    }
    entries.sort();
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    for (_, size, path) in entries {
        if total <= cache.max_bytes {
            break;
        }
        if path != entry && tokio::fs::remove_file(&path).await.is_ok() {
            total -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(value: &str) -> Uri {
        Uri {
            value: value.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn files_are_copied_extracted_made_executable_and_cached() {
        let src = tempfile::tempdir().unwrap();
        let sandbox = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("app")).unwrap();
        std::fs::write(src.path().join("app/hello.txt"), "hi").unwrap();
        let tar = std::process::Command::new("tar")
            .arg("-czf")
            .arg(src.path().join("app.tgz"))
            .arg("-C")
            .arg(src.path())
            .arg("app")
            .status()
            .unwrap();
        assert!(tar.success());
        std::fs::write(src.path().join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
        let cache = Cache {
            dir: cache_dir.path().join("c"),
            max_bytes: 1 << 20,
        };
        let archive = format!("file://{}/app.tgz", src.path().display());
        let script = Uri {
            executable: Some(true),
            cache: Some(true),
            ..uri(&src.path().join("run.sh").display().to_string())
        };
        let client = Client::default();
        fetch_all(
            &client,
            &[uri(&archive), script.clone()],
            sandbox.path(),
            Some(&cache),
        )
        .await
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(sandbox.path().join("app/hello.txt")).unwrap(),
            "hi"
        );
        let out = std::process::Command::new(sandbox.path().join("run.sh"))
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"ran\n");
        assert_eq!(std::fs::read_dir(&cache.dir).unwrap().count(), 1);
        // Served from the cache once the source is gone.
        std::fs::remove_file(src.path().join("run.sh")).unwrap();
        let again = tempfile::tempdir().unwrap();
        fetch_all(&client, &[script], again.path(), Some(&cache))
            .await
            .unwrap();
        assert!(again.path().join("run.sh").exists());
    }

    #[tokio::test]
    async fn failures_name_the_uri_and_the_reason() {
        let sandbox = tempfile::tempdir().unwrap();
        let client = Client::default();
        let err = fetch_all(
            &client,
            &[uri("/no/such/file.tar.gz")],
            sandbox.path(),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.uri, "/no/such/file.tar.gz");
        assert!(
            err.to_string()
                .starts_with("Failed to fetch '/no/such/file.tar.gz': "),
            "{err}"
        );
        let err = fetch_all(&client, &[uri("relative/path")], sandbox.path(), None)
            .await
            .unwrap_err();
        assert!(err.reason.contains("absolute path"), "{err}");
        let bad = Uri {
            output_file: Some("../escape".into()),
            ..uri("/etc/hostname")
        };
        let err = fetch_all(&client, &[bad], sandbox.path(), None)
            .await
            .unwrap_err();
        assert!(err.reason.contains("inside the sandbox"), "{err}");
        // A corrupt archive fails extraction with tar's own words.
        let corrupt = sandbox.path().join("bad.tar.gz");
        std::fs::write(&corrupt, "not a tarball").unwrap();
        let out = tempfile::tempdir().unwrap();
        let err = fetch_all(
            &client,
            &[uri(&corrupt.display().to_string())],
            out.path(),
            None,
        )
        .await
        .unwrap_err();
        assert!(err.reason.starts_with("extracting it failed"), "{err}");
    }
}
