//! Flags the way Mesos reads them: `--name=value` or `--name value`, and
//! `MESOS_NAME` in the environment when the flag is not given.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;

/// Parsed `--flag` values of one command.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: BTreeMap<String, String>,
}

impl Flags {
    /// Parses `args`, accepting only the flags in `known`.
    pub(crate) fn parse(args: &[String], known: &[&str]) -> Result<Flags> {
        let mut values = BTreeMap::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let Some(flag) = arg.strip_prefix("--") else {
                bail!("unexpected argument `{arg}`; flags look like --name=value");
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    i += 1;
                    let v = args
                        .get(i)
                        .with_context(|| format!("flag --{flag} needs a value"))?;
                    (flag.to_string(), v.clone())
                }
            };
            if !known.contains(&name.as_str()) {
                bail!(
                    "unknown flag --{name}; known flags: --{}",
                    known.join(", --")
                );
            }
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
        Ok(Flags { values })
    }

    /// The value of `--name` as a Mesos duration (`10secs`, `500ms`,
    /// `2mins`, `1hrs`, `1days`, `1weeks`, `20us`, `5ns`).
    pub(crate) fn duration(&self, name: &str) -> Result<Option<std::time::Duration>> {
        self.values
            .get(name)
            .map(|v| parse_duration(v).with_context(|| format!("invalid --{name}={v}")))
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

/// Parses a Mesos duration: a number and a unit (`ns`, `us`, `ms`,
/// `secs`, `mins`, `hrs`, `days`, `weeks`).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("expected a number followed by a unit, as in 10secs"))?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "secs" => 1.0,
        "mins" => 60.0,
        "hrs" => 3600.0,
        "days" => 86400.0,
        "weeks" => 604_800.0,
        "" => bail!("missing unit: use ns, us, ms, secs, mins, hrs, days or weeks"),
        other => bail!("unknown unit `{other}`: use ns, us, ms, secs, mins, hrs, days or weeks"),
    };
    std::time::Duration::try_from_secs_f64(n * scale).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn mesos_durations() {
        assert_eq!(parse_duration("10secs").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5mins").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2hrs").unwrap(), Duration::from_secs(7200));
        assert!(
            parse_duration("10")
                .unwrap_err()
                .to_string()
                .contains("missing unit")
        );
        assert!(
            parse_duration("10parsecs")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
        assert!(parse_duration("secs").is_err());
    }
}
