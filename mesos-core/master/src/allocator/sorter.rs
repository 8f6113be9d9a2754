//! Hierarchical Dominant Resource Fairness: which client is furthest below
//! its fair share.
//!
//! A client's dominant share is the largest fraction it holds of any
//! resource in the pool, divided by its weight. Clients are named by
//! `/`-separated paths (roles such as `eng/web`); an inner node's share is
//! that of its whole subtree, and sorting orders siblings at every level,
//! so `eng/*` as a group competes with `ops` before `eng/web` competes with
//! `eng/db`. Frameworks within a role use a flat sorter of their own.
//!
//! Pure data: no clock, no I/O. Ties are broken by name, so the order is
//! deterministic.
//!
//! ```
//! use mesos_master::allocator::sorter::DrfSorter;
//! use mesos_proto::resources::Resources;
//!
//! // The DRF paper's example: <9 cpus, 18 GB>; A's tasks need <1, 4>,
//! // B's <3, 1>. A's dominant share (memory, 4/18) is below B's (cpus, 3/9).
//! let mut sorter = DrfSorter::new();
//! sorter.add_total(&"cpus:9;mem:18".parse::<Resources>().unwrap().scalar_quantities());
//! sorter.add_client("a");
//! sorter.add_client("b");
//! sorter.allocated("a", &"cpus:1;mem:4".parse::<Resources>().unwrap().scalar_quantities());
//! sorter.allocated("b", &"cpus:3;mem:1".parse::<Resources>().unwrap().scalar_quantities());
//! assert_eq!(sorter.sort(), ["a", "b"]);
//! ```

use mesos_proto::resources::Scalar;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Quantities of scalar resources by name.
pub type Quantities = BTreeMap<String, Scalar>;

#[derive(Debug, Default, Clone)]
struct Node {
    /// Allocation of this node as a client (not its subtree).
    own: Quantities,
    /// Allocation of the node and every descendant, kept up to date as
    /// allocations change (so a share never sums a subtree).
    subtree: Quantities,
    /// True when this path was added as a client.
    client: bool,
    /// Child names (full paths).
    children: Vec<String>,
    /// The weighted dominant share of `subtree`, valid while its first
    /// member equals the sorter's generation.
    share: Cell<(u64, f64)>,
}

impl Node {
    /// Forgets the cached share.
    fn changed(&mut self) {
        self.share.set((0, 0.0));
    }
}

/// A hierarchical DRF sorter. See the module docs.
#[derive(Debug, Clone)]
pub struct DrfSorter {
    total: Quantities,
    /// Every client and every ancestor of one, by path; "" is the root.
    nodes: BTreeMap<String, Node>,
    weights: BTreeMap<String, f64>,
    /// Bumped when every share changes at once (the pool or a weight);
    /// never 0, which marks a share not computed.
    generation: u64,
}

impl Default for DrfSorter {
    fn default() -> DrfSorter {
        DrfSorter::new()
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn add_into(into: &mut Quantities, q: &Quantities) {
    for (name, v) in q {
        match into.get_mut(name) {
            Some(a) => *a += *v,
            None => {
                into.insert(name.clone(), *v);
            }
        }
    }
}

/// Takes `q` out of `from` (saturating at zero).
fn sub_from(from: &mut Quantities, q: &Quantities) {
    for (name, v) in q {
        if let Some(a) = from.get_mut(name) {
            *a = a.saturating_sub(*v);
        }
    }
}

impl DrfSorter {
    /// An empty sorter.
    pub fn new() -> DrfSorter {
        let mut nodes = BTreeMap::new();
        nodes.insert(String::new(), Node::default());
        DrfSorter {
            total: Quantities::new(),
            nodes,
            weights: BTreeMap::new(),
            generation: 1,
        }
    }

    /// Adds a client (and any missing ancestors). Adding twice is a no-op.
    pub fn add_client(&mut self, path: &str) {
        self.ensure_node(path);
        if let Some(node) = self.nodes.get_mut(path) {
            node.client = true;
        }
    }

    fn ensure_node(&mut self, path: &str) {
        if self.nodes.contains_key(path) {
            return;
        }
        let up = parent(path);
        self.ensure_node(up);
        self.nodes.insert(path.to_string(), Node::default());
        if let Some(p) = self.nodes.get_mut(up) {
            p.children.push(path.to_string());
        }
    }

    /// Applies `change` to the subtree allocation of `path` and of each of
    /// its ancestors, forgetting their shares.
    fn up_from(&mut self, path: &str, change: impl Fn(&mut Quantities)) {
        let mut current = path;
        loop {
            if let Some(node) = self.nodes.get_mut(current) {
                change(&mut node.subtree);
                node.changed();
            }
            if current.is_empty() {
                break;
            }
            current = parent(current);
        }
    }

    /// Removes a client with its allocation; ancestors left with nothing
    /// go too. Its weight is kept (weights belong to roles, not clients).
    pub fn remove_client(&mut self, path: &str) {
        let Some(node) = self.nodes.get_mut(path) else {
            return;
        };
        node.client = false;
        let own = std::mem::take(&mut node.own);
        self.up_from(path, |q| sub_from(q, &own));
        let mut current = path.to_string();
        while !current.is_empty() {
            let empty = self
                .nodes
                .get(&current)
                .is_some_and(|n| !n.client && n.children.is_empty());
            if !empty {
                break;
            }
            self.nodes.remove(&current);
            let up = parent(&current).to_string();
            if let Some(p) = self.nodes.get_mut(&up) {
                p.children.retain(|c| *c != current);
            }
            current = up;
        }
    }

    /// True when `path` was added as a client.
    pub fn contains(&self, path: &str) -> bool {
        self.nodes.get(path).is_some_and(|n| n.client)
    }

    /// Sets the weight of a client or inner node (default 1.0). Weights at
    /// or below zero are treated as 1.0.
    pub fn set_weight(&mut self, path: &str, weight: f64) {
        self.weights.insert(path.to_string(), weight);
        self.generation += 1;
    }

    fn weight(&self, path: &str) -> f64 {
        match self.weights.get(path) {
            Some(w) if *w > 0.0 && w.is_finite() => *w,
            _ => 1.0,
        }
    }

    /// Adds resources to the pool shares are computed against.
    pub fn add_total(&mut self, q: &Quantities) {
        add_into(&mut self.total, q);
        self.generation += 1;
    }

    /// Removes resources from the pool (saturating at zero).
    pub fn remove_total(&mut self, q: &Quantities) {
        sub_from(&mut self.total, q);
        self.generation += 1;
    }

    /// Records resources allocated to a client. Unknown clients are added.
    pub fn allocated(&mut self, path: &str, q: &Quantities) {
        if !self.contains(path) {
            self.add_client(path);
        }
        if let Some(node) = self.nodes.get_mut(path) {
            add_into(&mut node.own, q);
            self.up_from(path, |s| add_into(s, q));
        }
    }

    /// Records resources given back by a client (saturating at zero).
    pub fn unallocated(&mut self, path: &str, q: &Quantities) {
        let Some(node) = self.nodes.get_mut(path) else {
            return;
        };
        // What really comes back: no more than the client holds.
        let mut released = Quantities::new();
        for (name, v) in q {
            if let Some(a) = node.own.get_mut(name) {
                let taken = (*v).min(*a);
                *a = a.saturating_sub(taken);
                released.insert(name.clone(), taken);
            }
        }
        self.up_from(path, |s| sub_from(s, &released));
    }

    /// What a client holds (not counting its subtree).
    pub fn allocation(&self, path: &str) -> Quantities {
        self.nodes
            .get(path)
            .map(|n| n.own.clone())
            .unwrap_or_default()
    }

    /// What a client and its whole subtree hold (a role with its
    /// subroles: what quota counts as the role's consumption).
    pub fn subtree_allocation(&self, path: &str) -> Quantities {
        self.nodes
            .get(path)
            .map(|n| n.subtree.clone())
            .unwrap_or_default()
    }

    fn dominant_share(&self, allocation: &Quantities) -> f64 {
        allocation
            .iter()
            .filter_map(|(name, a)| {
                let total = self.total.get(name)?;
                (!total.is_zero()).then(|| a.to_f64() / total.to_f64())
            })
            .fold(0.0, f64::max)
    }

    /// The weighted dominant share of a client's own allocation, or of an
    /// inner node's whole subtree.
    pub fn share(&self, path: &str) -> f64 {
        let Some(node) = self.nodes.get(path) else {
            return 0.0;
        };
        let (generation, share) = node.share.get();
        if generation == self.generation {
            return share;
        }
        let share = self.dominant_share(&node.subtree) / self.weight(path);
        node.share.set((self.generation, share));
        share
    }

    /// True when every client is a child of the root (no hierarchy): a
    /// client's place in [`DrfSorter::sort`] then depends only on its own
    /// share and name (see [`reposition`]).
    pub fn is_flat(&self) -> bool {
        self.nodes
            .get("")
            .is_some_and(|root| root.children.len() + 1 == self.nodes.len())
    }

    /// Every client, fairest claim first: at each level, siblings in
    /// increasing weighted dominant share of their subtrees, ties by name.
    pub fn sort(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.sort_into("", &mut out);
        out
    }

    fn sort_into(&self, path: &str, out: &mut Vec<String>) {
        let Some(node) = self.nodes.get(path) else {
            return;
        };
        // An inner node that is also a client competes with its children
        // as if it were one more child holding only its own allocation.
        let mut entries: Vec<(f64, &str, bool)> = Vec::with_capacity(node.children.len() + 1);
        if node.client && !path.is_empty() {
            if node.children.is_empty() {
                out.push(path.to_string());
                return;
            }
            let own = self.dominant_share(&node.own) / self.weight(path);
            entries.push((own, path, true));
        }
        for child in &node.children {
            entries.push((self.share(child), child, false));
        }
        entries.sort_by(|a, b| drf_order((a.0, a.1), (b.0, b.1)));
        for (_, name, is_self) in entries {
            if is_self {
                out.push(name.to_string());
            } else {
                self.sort_into(name, out);
            }
        }
    }
}

/// The order [`DrfSorter::sort`] gives siblings: the lower (weighted
/// dominant) share first, ties by name.
pub fn drf_order(a: (f64, &str), b: (f64, &str)) -> Ordering {
    a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1))
}

/// Moves `items[at]`, whose share changed while the others' did not, to
/// its place among them (`items` sorted by `cmp`): where sorting again
/// would put it. For the clients of a flat sorter ([`DrfSorter::is_flat`]).
///
/// ```
/// use mesos_master::allocator::sorter::{drf_order, reposition};
///
/// let mut clients = vec![(0.5, "c"), (0.1, "a"), (0.3, "b"), (0.3, "d")];
/// // "c" was offered more: 0.5 is its new share.
/// reposition(&mut clients, 0, |x, y| drf_order(*x, *y));
/// assert_eq!(clients, [(0.1, "a"), (0.3, "b"), (0.3, "d"), (0.5, "c")]);
/// ```
pub fn reposition<T>(items: &mut Vec<T>, at: usize, cmp: impl Fn(&T, &T) -> Ordering) {
    let moved = items.remove(at);
    let to = items
        .iter()
        .take_while(|other| cmp(other, &moved).is_lt())
        .count();
    items.insert(to, moved);
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::resources::Resources;

    fn q(text: &str) -> Quantities {
        text.parse::<Resources>().unwrap().scalar_quantities()
    }

    fn sorter(total: &str) -> DrfSorter {
        let mut s = DrfSorter::new();
        s.add_total(&q(total));
        s
    }

    #[test]
    fn drf_paper_example_converges_to_equal_dominant_shares() {
        // Allocate one task at a time to whoever sorts first, until
        // nothing fits: A gets 3 tasks, B gets 2 (Ghodsi et al., 2011).
        let mut s = sorter("cpus:9;mem:18");
        s.add_client("a");
        s.add_client("b");
        let need = |c: &str| {
            if c == "a" {
                q("cpus:1;mem:4")
            } else {
                q("cpus:3;mem:1")
            }
        };
        let mut free = q("cpus:9;mem:18");
        let mut tasks = BTreeMap::<String, u32>::new();
        'outer: loop {
            for client in s.sort() {
                let n = need(&client);
                if n.iter().all(|(k, v)| free[k] >= *v) {
                    for (k, v) in &n {
                        *free.get_mut(k).unwrap() -= *v;
                    }
                    s.allocated(&client, &n);
                    *tasks.entry(client).or_default() += 1;
                    continue 'outer;
                }
            }
            break;
        }
        assert_eq!(tasks["a"], 3);
        assert_eq!(tasks["b"], 2);
        assert!((s.share("a") - 2.0 / 3.0).abs() < 1e-9);
        assert!((s.share("b") - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn weights_divide_shares() {
        let mut s = sorter("cpus:9;mem:18");
        s.allocated("a", &q("cpus:1;mem:4"));
        s.allocated("b", &q("cpus:3;mem:1"));
        assert_eq!(s.sort(), ["a", "b"]);
        s.set_weight("b", 2.0);
        assert_eq!(s.sort(), ["b", "a"]);
        s.set_weight("b", 0.0);
        assert_eq!(s.sort(), ["a", "b"], "non-positive weight counts as 1");
    }

    #[test]
    fn hierarchy_sorts_subtrees_first() {
        let mut s = sorter("cpus:100");
        s.allocated("eng/web", &q("cpus:40"));
        s.add_client("eng/db");
        s.allocated("ops", &q("cpus:10"));
        // eng as a whole holds 40% and ops 10%: ops first, although
        // eng/db holds nothing.
        assert_eq!(s.sort(), ["ops", "eng/db", "eng/web"]);
        assert!((s.share("eng") - 0.4).abs() < 1e-9);
        // Weighting eng by 5 puts its subtree ahead (0.08 < 0.1).
        s.set_weight("eng", 5.0);
        assert_eq!(s.sort(), ["eng/db", "eng/web", "ops"]);
    }

    #[test]
    fn inner_node_can_be_a_client_too() {
        let mut s = sorter("cpus:10");
        s.allocated("eng", &q("cpus:3"));
        s.allocated("eng/web", &q("cpus:1"));
        s.add_client("ops");
        assert_eq!(s.sort(), ["ops", "eng/web", "eng"]);
        assert!((s.share("eng") - 0.4).abs() < 1e-9);
    }

    #[test]
    fn ties_break_by_name_and_unknown_resources_do_not_count() {
        let mut s = sorter("cpus:10");
        for c in ["c", "a", "b"] {
            s.add_client(c);
        }
        s.allocated("b", &q("gpus:1"));
        assert_eq!(s.sort(), ["a", "b", "c"]);
    }

    #[test]
    fn removal_and_unallocation() {
        let mut s = sorter("cpus:10");
        s.allocated("eng/web", &q("cpus:5"));
        s.allocated("ops", &q("cpus:1"));
        s.unallocated("eng/web", &q("cpus:5"));
        assert_eq!(s.sort(), ["eng/web", "ops"]);
        s.remove_client("eng/web");
        assert!(!s.contains("eng/web"));
        assert_eq!(s.sort(), ["ops"]);
        assert!(!s.nodes.contains_key("eng"), "empty ancestors are pruned");
        s.remove_total(&q("cpus:10"));
        assert_eq!(s.share("ops"), 0.0, "no pool, no share");
    }
}
