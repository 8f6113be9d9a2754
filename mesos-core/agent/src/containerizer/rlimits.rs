//! POSIX resource limits for containers: Mesos' `posix/rlimits` isolator.
//!
//! A container's `ContainerInfo.rlimit_info` is checked here (pure), passed
//! to `mesos containerizer launch` as `--rlimit=TYPE:SOFT:HARD` flags, and
//! applied there with `setrlimit(2)` just before the container's command is
//! executed, so the command and everything it starts inherit them.
//!
//! As in Mesos, a limit with neither `soft` nor `hard` is unlimited, one with
//! only one of them is refused, and `soft` may not exceed `hard`. Raising a
//! hard limit above the agent's own needs the agent to run as root.

use mesos_proto::v1::RLimitInfo;
use mesos_proto::v1::r_limit_info::r_limit::Type;

/// One resource limit of a container; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RLimit {
    /// Which resource.
    pub kind: Type,
    /// The soft (effective) limit.
    pub soft: Option<u64>,
    /// The hard limit (the most the soft limit may be raised to).
    pub hard: Option<u64>,
}

impl RLimit {
    /// The limits `info` asks for, checked as Mesos checks them.
    ///
    /// ```
    /// use mesos_agent::containerizer::rlimits::RLimit;
    /// use mesos_proto::v1::{RLimitInfo, r_limit_info::{RLimit as Limit, r_limit::Type}};
    ///
    /// let limit = |kind: Type, soft, hard| Limit { r#type: Some(kind as i32), soft, hard };
    /// let info = RLimitInfo { rlimits: vec![limit(Type::RlmtNofile, Some(64), Some(128))] };
    /// let limits = RLimit::from_info(&info).unwrap();
    /// assert_eq!(limits[0].flag(), "--rlimit=RLMT_NOFILE:64:128");
    ///
    /// let info = RLimitInfo { rlimits: vec![limit(Type::RlmtCore, Some(1), None)] };
    /// assert!(RLimit::from_info(&info).unwrap_err().contains("RLMT_CORE"));
    /// ```
    pub fn from_info(info: &RLimitInfo) -> Result<Vec<RLimit>, String> {
        let mut out: Vec<RLimit> = Vec::with_capacity(info.rlimits.len());
        for limit in &info.rlimits {
            let kind = limit
                .r#type
                .and_then(|t| Type::try_from(t).ok())
                .filter(|t| *t != Type::Unknown)
                .ok_or_else(|| format!("rlimit type {:?} is not supported", limit.r#type))?;
            let name = kind.as_str_name();
            if out.iter().any(|o| o.kind == kind) {
                return Err(format!("rlimit {name} is given more than once"));
            }
            let (soft, hard) = match (limit.soft, limit.hard) {
                (None, None) => (None, None),
                (Some(soft), Some(hard)) if soft > hard => {
                    return Err(format!(
                        "rlimit {name}: soft limit {soft} is above hard limit {hard}"
                    ));
                }
                (Some(soft), Some(hard)) => (Some(soft), Some(hard)),
                _ => {
                    return Err(format!(
                        "rlimit {name}: set both soft and hard limits, or neither (unlimited)"
                    ));
                }
            };
            out.push(RLimit { kind, soft, hard });
        }
        Ok(out)
    }

    /// The `mesos containerizer launch` flag carrying this limit.
    pub fn flag(&self) -> String {
        let value = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
        format!(
            "--rlimit={}:{}:{}",
            self.kind.as_str_name(),
            value(self.soft),
            value(self.hard)
        )
    }

    /// Parses the value of a `--rlimit=` flag (`TYPE:SOFT:HARD`).
    ///
    /// ```
    /// use mesos_agent::containerizer::rlimits::RLimit;
    ///
    /// let limit = RLimit::parse_flag("RLMT_STACK:unlimited:unlimited").unwrap();
    /// assert_eq!((limit.soft, limit.hard), (None, None));
    /// assert!(RLimit::parse_flag("RLMT_STACK:10").is_err());
    /// ```
    pub fn parse_flag(text: &str) -> Result<RLimit, String> {
        let mut parts = text.split(':');
        let (Some(kind), Some(soft), Some(hard), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("--rlimit={text}: expected TYPE:SOFT:HARD"));
        };
        let kind = Type::from_str_name(kind)
            .filter(|t| *t != Type::Unknown)
            .ok_or_else(|| format!("--rlimit={text}: unknown type {kind}"))?;
        let value = |v: &str| match v {
            "unlimited" => Ok(None),
            v => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("--rlimit={text}: {v} is not a number or `unlimited`")),
        };
        Ok(RLimit {
            kind,
            soft: value(soft)?,
            hard: value(hard)?,
        })
    }

    /// Sets this limit on the calling process (`setrlimit(2)`).
    pub fn apply(&self) -> Result<(), String> {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let resource = match self.kind {
            Type::RlmtAs => Resource::As,
            Type::RlmtCore => Resource::Core,
            Type::RlmtCpu => Resource::Cpu,
            Type::RlmtData => Resource::Data,
            Type::RlmtFsize => Resource::Fsize,
            Type::RlmtLocks => Resource::Locks,
            Type::RlmtMemlock => Resource::Memlock,
            Type::RlmtMsgqueue => Resource::Msgqueue,
            Type::RlmtNice => Resource::Nice,
            Type::RlmtNofile => Resource::Nofile,
            Type::RlmtNproc => Resource::Nproc,
            Type::RlmtRss => Resource::Rss,
            Type::RlmtRtprio => Resource::Rtprio,
            Type::RlmtRttime => Resource::Rttime,
            Type::RlmtSigpending => Resource::Sigpending,
            Type::RlmtStack => Resource::Stack,
            Type::Unknown => return Err("rlimit type UNKNOWN is not supported".into()),
        };
        setrlimit(
            resource,
            Rlimit {
                current: self.soft,
                maximum: self.hard,
            },
        )
        .map_err(|e| format!("cannot set {}: {e}", self.kind.as_str_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::r_limit_info::RLimit as Limit;

    fn info(limits: &[(Type, Option<u64>, Option<u64>)]) -> RLimitInfo {
        RLimitInfo {
            rlimits: limits
                .iter()
                .map(|(t, soft, hard)| Limit {
                    r#type: Some(*t as i32),
                    soft: *soft,
                    hard: *hard,
                })
                .collect(),
        }
    }

    #[test]
    fn mesos_rules_for_limits() {
        let ok = RLimit::from_info(&info(&[
            (Type::RlmtNofile, Some(10), Some(20)),
            (Type::RlmtCore, None, None),
        ]))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].flag(), "--rlimit=RLMT_CORE:unlimited:unlimited");
        let err = |l: &[(Type, Option<u64>, Option<u64>)]| RLimit::from_info(&info(l)).unwrap_err();
        assert!(err(&[(Type::RlmtNofile, Some(30), Some(20))]).contains("above hard limit"));
        assert!(err(&[(Type::RlmtNofile, None, Some(20))]).contains("both"));
        assert!(
            err(&[
                (Type::RlmtNofile, None, None),
                (Type::RlmtNofile, None, None)
            ])
            .contains("more than once")
        );
        assert!(err(&[(Type::Unknown, None, None)]).contains("not supported"));
    }

    #[test]
    fn flags_round_trip() {
        for limit in RLimit::from_info(&info(&[
            (Type::RlmtNproc, Some(1), Some(2)),
            (Type::RlmtStack, None, None),
        ]))
        .unwrap()
        {
            let flag = limit.flag();
            let value = flag.strip_prefix("--rlimit=").unwrap();
            assert_eq!(RLimit::parse_flag(value).unwrap(), limit);
        }
        assert!(RLimit::parse_flag("RLMT_NONE:1:2").is_err());
        assert!(RLimit::parse_flag("RLMT_NOFILE:x:2").is_err());
    }
}
