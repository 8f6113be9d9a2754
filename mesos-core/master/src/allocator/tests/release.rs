//! A framework removed in batches: shares at once, agents batch by batch.

use super::*;

fn agents_of(offers: &[Allocation]) -> Vec<AgentId> {
    let mut agents: Vec<AgentId> = offers.iter().map(|o| o.agent_id.clone()).collect();
    agents.sort();
    agents
}

#[test]
fn shares_are_released_at_once_and_agents_batch_by_batch() {
    let mut a = cluster(3, "cpus:4;mem:1024");
    a.add_framework(fw("f1"), FrameworkOptions::with_roles(["r"]));
    assert_eq!(a.allocate(secs(0)).len(), 3);
    a.add_framework(fw("f2"), FrameworkOptions::with_roles(["s"]));
    assert!((a.role_share("r") - 1.0).abs() < 1e-9);

    a.remove_framework_in_batches(&fw("f1"));
    assert!(a.is_releasing());
    assert_eq!(a.role_share("r"), 0.0);
    assert!(!a.role_shares().contains_key("r"));
    // Nothing freed on the agents yet: nothing to offer.
    assert!(a.allocate(secs(0)).is_empty());

    assert!(a.release_removed(1));
    assert_eq!(agents_of(&a.allocate(secs(0))), [agent(0)]);
    // A batch larger than what is left finishes it.
    assert!(!a.release_removed(5));
    assert!(!a.is_releasing());
    let offers = a.allocate(secs(0));
    assert_eq!(agents_of(&offers), [agent(1), agent(2)]);
    assert_eq!(count_for(&offers, "f2"), 2);
    // f2 holds everything, counted once.
    assert!(
        (a.role_share("s") - 1.0).abs() < 1e-9,
        "{}",
        a.role_share("s")
    );
    assert!(!a.release_removed(1));
}

#[test]
fn an_agent_moved_behind_the_batches_is_released_when_it_moves() {
    let mut a = cluster(4, "cpus:4;mem:1024");
    a.add_framework(fw("f1"), FrameworkOptions::with_roles(["r"]));
    assert_eq!(a.allocate(secs(0)).len(), 4);
    a.add_framework(fw("f2"), FrameworkOptions::with_roles(["r"]));
    a.remove_framework_in_batches(&fw("f1"));
    assert!(a.release_removed(2));
    // Agent 0 goes: agent 3, not released yet, takes index 0, which the
    // batches have passed.
    a.remove_agent(&agent(0));
    assert!(!a.release_removed(usize::MAX));
    let offers = a.allocate(secs(0));
    assert_eq!(agents_of(&offers), [agent(1), agent(2), agent(3)]);
    assert_eq!(count_for(&offers, "f2"), 3);
}

#[test]
fn a_role_taken_up_again_during_the_release_counts_only_the_new_framework() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("old"), FrameworkOptions::with_roles(["r"]));
    assert_eq!(a.allocate(secs(0)).len(), 2);
    a.remove_framework_in_batches(&fw("old"));
    a.add_framework(fw("new"), FrameworkOptions::with_roles(["r"]));

    assert!(a.release_removed(1));
    assert_eq!(count_for(&a.allocate(secs(0)), "new"), 1);
    assert!(
        (a.role_share("r") - 0.5).abs() < 1e-9,
        "{}",
        a.role_share("r")
    );
    assert!(!a.release_removed(1));
    assert_eq!(count_for(&a.allocate(secs(0)), "new"), 1);
    assert!(
        (a.role_share("r") - 1.0).abs() < 1e-9,
        "{}",
        a.role_share("r")
    );
}

#[test]
fn filter_slots_are_freed_only_when_every_agent_is_released() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("old"), FrameworkOptions::with_roles(["r"]));
    for o in a.allocate(secs(0)) {
        decline(&mut a, &o, 3600, 0);
    }
    let role = a.role_index["r"];
    let old = a.framework_index["old"];
    assert_eq!(a.filter_slots.get(filter_key(old, role)), Some(0));

    a.remove_framework_in_batches(&fw("old"));
    assert!(a.release_removed(1));
    // Agent 1 still has old's filter in slot 0: a new framework's filter
    // takes another slot.
    a.add_framework(fw("new"), FrameworkOptions::with_roles(["r"]));
    a.add_offer_filter(
        &fw("new"),
        &agent(1),
        "r",
        res("cpus:4;mem:1024"),
        secs(3600),
    );
    let new = a.framework_index["new"];
    assert_eq!(a.filter_slots.get(filter_key(new, role)), Some(1));
    assert_eq!(agents_of(&a.allocate(secs(1))), [agent(0)]);

    assert!(!a.release_removed(1));
    assert_eq!(a.filter_slots.get(filter_key(old, role)), None);
    // Agent 1 stays filtered for the new framework.
    assert!(a.allocate(secs(2)).is_empty());
}
