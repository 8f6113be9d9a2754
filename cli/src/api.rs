//! What the inspection commands and `execute --follow` ask of a cluster:
//! the master's JSON endpoints, a task's agent and sandbox, and files in
//! it, with errors a person can act on.

use anyhow::{Context, Result, anyhow, bail};
use mesos_http::client::{Client, HttpError};
use serde_json::Value;

/// A cluster reached through its masters (`host:port`, a list, or the
/// leader named in ZooKeeper).
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    http: Client,
    masters: Vec<String>,
    zk: Option<mesos_state::zk::ZkUrl>,
}

/// How long a command waits for ZooKeeper to name the leader.
const ZK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Cluster {
    /// The masters in `spec` (`host:port`, `h1:p1,h2:p2`, or
    /// `zk://host:2181/mesos`).
    pub(crate) fn new(spec: &str) -> Result<Cluster> {
        let zk = if spec.trim().starts_with("zk://") {
            Some(crate::zk_url(spec).with_context(|| format!("--master={spec}"))?)
        } else {
            None
        };
        let masters: mesos_scheduler::Masters = spec.parse()?;
        Ok(Cluster {
            http: Client::default(),
            masters: masters.candidates().to_vec(),
            zk,
        })
    }

    /// The masters to ask: the given ones, or the leader ZooKeeper names.
    async fn masters(&self) -> Result<Vec<String>> {
        let Some(url) = &self.zk else {
            return Ok(self.masters.clone());
        };
        let leader = tokio::time::timeout(ZK_WAIT, async {
            let client = mesos_state::zk::connect(url, ZK_WAIT).await?;
            mesos_state::zk::leader(&client, url.path()).await
        })
        .await
        .map_err(|_| anyhow!("ZooKeeper at {url} did not answer within {ZK_WAIT:?}"))?
        .with_context(|| format!("cannot ask ZooKeeper at {url} for the leading master"))?;
        let (_, data) =
            leader.ok_or_else(|| anyhow!("no master leads in {url} (none has contended yet)"))?;
        let info: mesos_proto::v1::MasterInfo = mesos_proto::json::from_slice(&data)
            .with_context(|| format!("the leader's entry in {url} is not a MasterInfo"))?;
        Ok(vec![info.authority()])
    }

    /// Whether a master answers `/health`; an error a person can act on
    /// when none does.
    pub(crate) async fn check(&self) -> Result<()> {
        self.first_master(|url| async move {
            match self
                .http
                .get(&format!("{url}/health"))
                .await
                .map_err(plain)?
            {
                (200, _, _) => Ok(()),
                (status, _, _) => bail!("{url}/health answered {status}"),
            }
        })
        .await
    }

    /// GETs `path` from the first master that answers, as JSON.
    pub(crate) async fn master_json(&self, path: &str) -> Result<Value> {
        self.first_master(|url| async move { self.get_json(&format!("{url}{path}")).await })
            .await
    }

    async fn first_master<T, F>(&self, ask: impl Fn(String) -> F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let mut last = None;
        let masters = self.masters().await?;
        for master in &masters {
            match ask(format!("http://{master}")).await {
                Ok(v) => return Ok(v),
                Err(e) => last = Some((master, e)),
            }
        }
        let (master, e) = last.expect("at least one master");
        Err(e.context(format!(
            "cannot reach the master at {master}; is `mesos local` (or a master) running? \
             --master names another"
        )))
    }

    /// GETs `url` as JSON.
    pub(crate) async fn get_json(&self, url: &str) -> Result<Value> {
        let (status, _, body) = self.http.get(url).await.map_err(plain)?;
        if status != 200 {
            bail!(
                "{url} answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
        }
        serde_json::from_slice(&body).with_context(|| format!("{url} did not answer JSON"))
    }

    /// The `host:port` of agent `agent_id`.
    pub(crate) async fn agent_address(&self, agent_id: &str) -> Result<String> {
        let slaves = self.master_json("/slaves").await?;
        let agent = slaves["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == agent_id)
            .ok_or_else(|| anyhow!("the master does not know agent {agent_id}"))?;
        if let Some((_, addr)) = agent["pid"].as_str().and_then(|p| p.split_once('@')) {
            return Ok(addr.to_string());
        }
        let host = agent["hostname"].as_str().unwrap_or("127.0.0.1");
        Ok(format!("{host}:{}", agent["port"].as_u64().unwrap_or(5051)))
    }

    /// The sandbox of `task` of `framework` on the agent at `agent`: the
    /// directory of the executor that ran it.
    pub(crate) async fn sandbox(&self, agent: &str, framework: &str, task: &str) -> Result<String> {
        let state = self.get_json(&format!("http://{agent}/state")).await?;
        let frameworks = ["frameworks", "completed_frameworks"]
            .iter()
            .flat_map(|k| state[*k].as_array().into_iter().flatten())
            .filter(|f| f["id"] == framework);
        for f in frameworks {
            let executors = ["executors", "completed_executors"]
                .iter()
                .flat_map(|k| f[*k].as_array().into_iter().flatten());
            for e in executors {
                let runs_it = e["id"] == task
                    || ["tasks", "queued_tasks", "completed_tasks"]
                        .iter()
                        .flat_map(|k| e[*k].as_array().into_iter().flatten())
                        .any(|t| t["id"] == task);
                if runs_it {
                    if let Some(dir) = e["directory"].as_str() {
                        return Ok(dir.to_string());
                    }
                }
            }
        }
        bail!(
            "agent {agent} has no sandbox for task {task} (garbage collected, or not started yet)"
        )
    }

    /// What the file at `path` on the agent holds from `offset` on, read
    /// in chunks of at most 1 MiB (empty when nothing was appended).
    pub(crate) async fn read_from(&self, agent: &str, path: &str, offset: u64) -> Result<Vec<u8>> {
        const CHUNK: u64 = 1 << 20;
        let mut data = Vec::new();
        loop {
            let at = offset + data.len() as u64;
            let url = format!(
                "http://{agent}/files/read?path={}&offset={at}&length={CHUNK}",
                percent_encode(path)
            );
            let answer = self.get_json(&url).await?;
            let chunk = answer["data"].as_str().unwrap_or_default().as_bytes();
            if chunk.is_empty() {
                return Ok(data);
            }
            data.extend_from_slice(chunk);
        }
    }

    /// The task `task` as the master's `/tasks` shows it (any framework,
    /// completed ones included).
    pub(crate) async fn task(&self, task: &str) -> Result<Value> {
        let tasks = self.master_json("/tasks?limit=-1").await?;
        tasks["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["id"] == task)
            .cloned()
            .ok_or_else(|| {
                anyhow!("the master knows no task {task}; `mesos tasks --all` lists them")
            })
    }
}

/// An HTTP failure in words a person can act on.
fn plain(e: HttpError) -> anyhow::Error {
    match e {
        HttpError::Request { url, message } => {
            let reason = if message.contains("Connection refused")
                || message.contains("connection refused")
            {
                "connection refused".to_string()
            } else {
                message
            };
            anyhow!("{url}: {reason}")
        }
        other => anyhow!(other),
    }
}

/// `text` with everything but unreserved characters and `/` escaped, for
/// a query value.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_escaped_for_queries() {
        assert_eq!(super::percent_encode("/a b/c&d=é"), "/a%20b/c%26d%3D%C3%A9");
    }
}
