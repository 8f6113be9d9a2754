//! Matching what a task needs against what an offer holds.
//!
//! An offer's resources are each allocated to one of the framework's roles
//! and may be reserved; a task's resources must all come from one
//! allocation role. [`OfferResources`] hands out pieces of one offer task
//! by task, preferring reserved resources to unreserved ones and picking
//! concrete ports.
//!
//! ```
//! use mesos_proto::v1::Offer;
//! use mesos_proto::resources::Resources;
//! use mesos_scheduler::offers::{Needs, OfferResources};
//!
//! let offered: Resources = "cpus:2;mem:1024;ports:[31000-31009]".parse().unwrap();
//! let offer = Offer { resources: offered.into_vec(), ..Default::default() };
//! let mut pool = OfferResources::new(&offer);
//! let web = pool.take(&Needs::new(1.0, 256.0).ports(2)).unwrap();
//! assert_eq!(Resources::try_from(web).unwrap().to_string(), "cpus:1; mem:256; ports:[31000-31001]");
//! assert!(pool.take(&Needs::new(1.5, 1.0)).is_none(), "only 1 cpu is left");
//! assert_eq!(pool.remaining().to_string(), "cpus:1; mem:768; ports:[31002-31009]");
//! ```

use mesos_proto::resources::{Resources, Scalar};
use mesos_proto::v1::value::{Range, Ranges};
use mesos_proto::v1::{Offer, Resource, value};
use std::collections::BTreeMap;

/// What one task needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// Scalar resources by name (`cpus`, `mem`, `disk`, `gpus`, ...).
    pub scalars: BTreeMap<String, f64>,
    /// How many ports, any of them.
    pub ports: usize,
    /// These exact ports.
    pub fixed_ports: Vec<u64>,
    /// Only resources allocated to this role (any of the framework's
    /// roles when `None`).
    pub role: Option<String>,
    /// Whether revocable resources may be used.
    pub revocable: bool,
}

impl Needs {
    /// `cpus` and `mem` (MB).
    pub fn new(cpus: f64, mem: f64) -> Needs {
        Needs::default().scalar("cpus", cpus).scalar("mem", mem)
    }

    /// Also `amount` of the scalar `name` (`disk`, `gpus`, ...).
    pub fn scalar(mut self, name: &str, amount: f64) -> Needs {
        if amount > 0.0 {
            self.scalars.insert(name.to_string(), amount);
        }
        self
    }

    /// Also `n` ports, whichever are free.
    pub fn ports(mut self, n: usize) -> Needs {
        self.ports = n;
        self
    }

    /// Also the port `port` exactly.
    pub fn port(mut self, port: u64) -> Needs {
        self.fixed_ports.push(port);
        self
    }

    /// Only resources allocated to `role`.
    pub fn role(mut self, role: &str) -> Needs {
        self.role = Some(role.to_string());
        self
    }
}

/// The resources of one offer not handed out yet.
#[derive(Debug, Clone)]
pub struct OfferResources {
    remaining: Resources,
}

impl OfferResources {
    /// All of `offer`'s resources (invalid ones are left out).
    pub fn new(offer: &Offer) -> OfferResources {
        let remaining = offer
            .resources
            .iter()
            .filter_map(|r| Resources::from_resources([r.clone()]).ok())
            .fold(Resources::new(), |mut acc, r| {
                acc += &r;
                acc
            });
        OfferResources { remaining }
    }

    /// What is left.
    pub fn remaining(&self) -> &Resources {
        &self.remaining
    }

    /// Takes what `needs` asks for, all from one allocation role, and
    /// returns it (ready for a `TaskInfo`); `None`, taking nothing, when
    /// the offer cannot satisfy it.
    pub fn take(&mut self, needs: &Needs) -> Option<Vec<Resource>> {
        let mut roles: Vec<String> = self
            .remaining
            .iter()
            .map(allocation_role)
            .filter(|r| needs.role.as_deref().is_none_or(|want| want == r))
            .collect();
        roles.sort();
        roles.dedup();
        for role in roles {
            if let Some(picked) = self.pick(needs, &role) {
                let picked_resources = picked.iter().fold(Resources::new(), |mut acc, r| {
                    if let Ok(r) = Resources::from_resources([r.clone()]) {
                        acc += &r;
                    }
                    acc
                });
                self.remaining -= &picked_resources;
                return Some(picked);
            }
        }
        None
    }

    fn pick(&self, needs: &Needs, role: &str) -> Option<Vec<Resource>> {
        // Reserved resources first (they are the framework's to use), then
        // unreserved ones.
        let mut usable: Vec<&Resource> = self
            .remaining
            .iter()
            .filter(|r| allocation_role(r) == role)
            .filter(|r| needs.revocable || r.revocable.is_none())
            // Volumes and mount disks are not plain disk.
            .filter(|r| r.disk.is_none())
            .collect();
        usable.sort_by_key(|r| r.reservations.is_empty());
        let mut picked = Vec::new();
        for (name, amount) in &needs.scalars {
            let mut left = Scalar::from_f64(*amount);
            for r in usable.iter().filter(|r| &r.name == name) {
                if left.is_zero() {
                    break;
                }
                let have = Scalar::from_f64(r.scalar.as_ref().map_or(0.0, |s| s.value));
                let take = if have.to_f64() >= left.to_f64() {
                    left
                } else {
                    have
                };
                if take.is_zero() {
                    continue;
                }
                let mut piece = (*r).clone();
                piece.scalar = Some(value::Scalar {
                    value: take.to_f64(),
                });
                picked.push(piece);
                left = left.saturating_sub(take);
            }
            if !left.is_zero() {
                return None;
            }
        }
        if needs.ports > 0 || !needs.fixed_ports.is_empty() {
            picked.extend(pick_ports(&usable, needs)?);
        }
        Some(picked)
    }
}

/// The role `r` is allocated to (`*` when not allocated).
fn allocation_role(r: &Resource) -> String {
    r.allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .unwrap_or_else(|| "*".to_string())
}

/// The ports `needs` asks for from the `ports` resources in `usable`: the
/// fixed ones where they are, then the lowest free ones.
fn pick_ports(usable: &[&Resource], needs: &Needs) -> Option<Vec<Resource>> {
    let sources: Vec<&&Resource> = usable.iter().filter(|r| r.name == "ports").collect();
    let mut chosen: Vec<(usize, u64)> = Vec::new();
    for port in &needs.fixed_ports {
        let source = sources
            .iter()
            .position(|r| ranges_of(r).any(|(b, e)| (b..=e).contains(port)))?;
        if chosen.iter().any(|(_, p)| p == port) {
            return None;
        }
        chosen.push((source, *port));
    }
    let mut wanted = needs.ports;
    'sources: for (i, r) in sources.iter().enumerate() {
        for (b, e) in ranges_of(r) {
            let mut port = b;
            while port <= e {
                if wanted == 0 {
                    break 'sources;
                }
                if !chosen.iter().any(|(_, p)| *p == port) {
                    chosen.push((i, port));
                    wanted -= 1;
                }
                port += 1;
            }
        }
    }
    if wanted > 0 {
        return None;
    }
    let mut out = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let mut ports: Vec<u64> = chosen
            .iter()
            .filter(|(s, _)| *s == i)
            .map(|(_, p)| *p)
            .collect();
        if ports.is_empty() {
            continue;
        }
        ports.sort_unstable();
        let mut range: Vec<Range> = Vec::new();
        for p in ports {
            match range.last_mut() {
                Some(last) if last.end + 1 == p => last.end = p,
                _ => range.push(Range { begin: p, end: p }),
            }
        }
        let mut piece = (**source).clone();
        piece.r#type = value::Type::Ranges as i32;
        piece.ranges = Some(Ranges { range });
        out.push(piece);
    }
    Some(out)
}

fn ranges_of(r: &Resource) -> impl Iterator<Item = (u64, u64)> + '_ {
    r.ranges
        .iter()
        .flat_map(|rs| rs.range.iter().map(|x| (x.begin, x.end)))
}

/// The concrete ports in `resources` (for the task's environment, health
/// checks, service discovery).
///
/// ```
/// use mesos_proto::resources::Resources;
///
/// let r: Resources = "cpus:1;ports:[8080-8081,9000-9000]".parse().unwrap();
/// assert_eq!(mesos_scheduler::offers::ports_of(r.as_slice()), [8080, 8081, 9000]);
/// ```
pub fn ports_of(resources: &[Resource]) -> Vec<u64> {
    let mut ports: Vec<u64> = resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| ranges_of(r).flat_map(|(b, e)| b..=e))
        .collect();
    ports.sort_unstable();
    ports
}

/// The value of the attribute `name` of `offer` as text (scalar, text,
/// ranges or set), for constraints.
///
/// ```
/// use mesos_proto::resources::parse_attributes;
/// use mesos_proto::v1::Offer;
///
/// let offer = Offer { attributes: parse_attributes("rack:r2;zone:a").unwrap(), ..Default::default() };
/// assert_eq!(mesos_scheduler::offers::attribute(&offer, "rack").as_deref(), Some("r2"));
/// assert_eq!(mesos_scheduler::offers::attribute(&offer, "gpu"), None);
/// ```
pub fn attribute(offer: &Offer, name: &str) -> Option<String> {
    let a = offer.attributes.iter().find(|a| a.name == name)?;
    Some(match value::Type::try_from(a.r#type) {
        Ok(value::Type::Scalar) => a.scalar.as_ref().map(|s| s.value.to_string())?,
        Ok(value::Type::Text) => a.text.as_ref().map(|t| t.value.clone())?,
        Ok(value::Type::Ranges) => {
            let r = a.ranges.as_ref()?;
            let parts: Vec<String> = r
                .range
                .iter()
                .map(|x| format!("{}-{}", x.begin, x.end))
                .collect();
            format!("[{}]", parts.join(","))
        }
        Ok(value::Type::Set) => format!("{{{}}}", a.set.as_ref()?.item.join(",")),
        Err(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::resource::AllocationInfo;

    fn offer(text: &str) -> Offer {
        let r: Resources = text.parse().unwrap();
        Offer {
            resources: r.into_vec(),
            ..Default::default()
        }
    }

    fn allocated(mut r: Vec<Resource>, role: &str) -> Vec<Resource> {
        for x in &mut r {
            x.allocation_info = Some(AllocationInfo {
                role: Some(role.into()),
            });
        }
        r
    }

    #[test]
    fn reserved_resources_go_first() {
        let offered: Resources = "cpus(web):1;cpus:2;mem:512".parse().unwrap();
        let o = Offer {
            resources: allocated(offered.into_vec(), "web"),
            ..Default::default()
        };
        let mut pool = OfferResources::new(&o);
        let got = pool.take(&Needs::new(1.5, 100.0)).unwrap();
        let cpus: Vec<(f64, bool)> = got
            .iter()
            .filter(|r| r.name == "cpus")
            .map(|r| (r.scalar.as_ref().unwrap().value, r.reservations.is_empty()))
            .collect();
        assert_eq!(cpus, [(1.0, false), (0.5, true)]);
        assert_eq!(pool.remaining().cpus(), Some(1.5));
    }

    #[test]
    fn one_task_takes_from_one_role() {
        let a = allocated(
            "cpus:1;mem:100".parse::<Resources>().unwrap().into_vec(),
            "a",
        );
        let b = allocated(
            "cpus:1;mem:100".parse::<Resources>().unwrap().into_vec(),
            "b",
        );
        let o = Offer {
            resources: a.into_iter().chain(b).collect(),
            ..Default::default()
        };
        let mut pool = OfferResources::new(&o);
        assert!(
            pool.take(&Needs::new(2.0, 10.0)).is_none(),
            "1 cpu per role"
        );
        let got = pool.take(&Needs::new(1.0, 10.0).role("b")).unwrap();
        assert!(got.iter().all(|r| allocation_role(r) == "b"));
        assert!(pool.take(&Needs::new(1.0, 10.0).role("b")).is_none());
        assert!(
            pool.take(&Needs::new(1.0, 10.0)).is_some(),
            "role a is left"
        );
    }

    #[test]
    fn fixed_and_any_ports() {
        let mut pool = OfferResources::new(&offer("cpus:1;mem:10;ports:[31000-31002,31005-31006]"));
        let got = pool
            .take(&Needs::new(0.1, 1.0).port(31005).ports(3))
            .unwrap();
        assert_eq!(ports_of(&got), [31000, 31001, 31002, 31005]);
        assert!(
            pool.take(&Needs::new(0.1, 1.0).port(31005)).is_none(),
            "taken"
        );
        assert!(
            pool.take(&Needs::new(0.1, 1.0).port(40000)).is_none(),
            "not offered"
        );
        assert!(
            pool.take(&Needs::new(0.1, 1.0).ports(2)).is_none(),
            "one left"
        );
        let last = pool.take(&Needs::new(0.1, 1.0).ports(1)).unwrap();
        assert_eq!(ports_of(&last), [31006]);
    }

    #[test]
    fn scalars_do_not_drift() {
        let mut pool = OfferResources::new(&offer("cpus:1;mem:1000"));
        for _ in 0..10 {
            assert!(pool.take(&Needs::new(0.1, 100.0)).is_some());
        }
        assert!(pool.take(&Needs::new(0.001, 0.0)).is_none());
        assert!(pool.remaining().is_empty(), "{}", pool.remaining());
    }
}
