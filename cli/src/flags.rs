//! Flags the way Mesos reads them: `--name=value` or `--name value`, and
//! `MESOS_NAME` in the environment when the flag is not given.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;

/// Parsed `--flag` values of one command.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: BTreeMap<String, String>,
    /// Every `--name value` given, in order (for flags given many times).
    given: Vec<(String, String)>,
}

impl Flags {
    /// Parses `args`, accepting only the flags in `known`.
    pub(crate) fn parse(args: &[String], known: &[&str]) -> Result<Flags> {
        let (flags, positional) = Flags::parse_with(args, known, &[])?;
        if let Some(arg) = positional.first() {
            bail!("unexpected argument `{arg}`; flags look like --name=value");
        }
        Ok(flags)
    }

    /// Parses `args` with `known` flags taking a value and `switches`
    /// that may stand alone (`--follow`, `--follow=false`); also returns
    /// the arguments that are not flags, in order.
    pub(crate) fn parse_with(
        args: &[String],
        known: &[&str],
        switches: &[&str],
    ) -> Result<(Flags, Vec<String>)> {
        let mut values = BTreeMap::new();
        let mut given = Vec::new();
        let mut positional = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let Some(flag) = arg.strip_prefix("--") else {
                positional.push(arg.clone());
                i += 1;
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None if switches.contains(&flag) => (flag.to_string(), "true".to_string()),
                None => {
                    i += 1;
                    let v = args
                        .get(i)
                        .with_context(|| format!("flag --{flag} needs a value"))?;
                    (flag.to_string(), v.clone())
                }
            };
            if !known.contains(&name.as_str()) && !switches.contains(&name.as_str()) {
                let all: Vec<&str> = known.iter().chain(switches).copied().collect();
                bail!("unknown flag --{name}; known flags: --{}", all.join(", --"));
            }
            given.push((name.clone(), value.clone()));
            values.insert(name, value);
            i += 1;
        }
        for name in known {
            if !values.contains_key(*name) {
                if let Ok(v) = std::env::var(format!("MESOS_{}", name.to_ascii_uppercase())) {
                    values.insert((*name).to_string(), v);
                }
            }
        }
        Ok((Flags { values, given }, positional))
    }

    /// Every value of a flag given several times (`--env A=1 --env B=2`).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        let given: Vec<&str> = self
            .given
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if given.is_empty() {
            self.text(name).into_iter().collect()
        } else {
            given
        }
    }

    /// Whether the switch `--name` is on.
    pub(crate) fn switch(&self, name: &str) -> Result<bool> {
        Ok(self.get::<bool>(name)?.unwrap_or(false))
    }

    /// The value of `--name` as a Mesos duration (`10secs`, `500ms`,
    /// `2mins`, `1hrs`, `1days`, `1weeks`, `20us`, `5ns`).
    pub(crate) fn duration(&self, name: &str) -> Result<Option<std::time::Duration>> {
        self.values
            .get(name)
            .map(|v| {
                mesos_proto::duration::parse_duration(v)
                    .with_context(|| format!("invalid --{name}={v}"))
            })
            .transpose()
    }

    /// The raw text of `--name`.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name`, parsed.
    pub(crate) fn get<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.values
            .get(name)
            .map(|v| {
                v.parse()
                    .map_err(|e| anyhow::anyhow!("invalid --{name}={v}: {e}"))
            })
            .transpose()
    }
}
