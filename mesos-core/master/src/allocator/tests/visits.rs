//! Which agents a cycle visits, and cycles split in parts.

use super::*;

#[test]
fn a_cycle_visits_only_the_agents_that_could_offer_something() {
    let mut a = cluster(100, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    let offers = a.allocate(secs(0));
    assert_eq!((offers.len(), a.visits.last()), (100, 100));
    // The agents offered are looked at once more, found empty, and then
    // left alone while nothing changes.
    assert!(a.allocate(secs(1)).is_empty());
    assert_eq!(a.visits.last(), 100);
    assert!(a.allocate(secs(1)).is_empty());
    assert_eq!(a.visits.last(), 0);

    // Ten declined for 5 s: those ten are looked at, then again when
    // their filters run out.
    for o in &offers[..10] {
        decline(&mut a, o, 5, 1);
    }
    assert!(a.allocate(secs(2)).is_empty());
    assert_eq!(a.visits.last(), 10);
    assert!(a.allocate(secs(3)).is_empty());
    assert_eq!(a.visits.last(), 0);
    assert_eq!(a.allocate(secs(6)).len(), 10);
    assert_eq!(a.visits.last(), 10);

    // A framework change, or an agent gone, has every agent looked at.
    a.allocate(secs(7));
    a.suppress(&fw("f"), &[]);
    a.allocate(secs(8));
    assert_eq!(a.visits.last(), 100);
    a.allocate(secs(9));
    assert_eq!(a.visits.last(), 0);
    a.remove_agent(&agent(5));
    a.allocate(secs(10));
    assert_eq!(a.visits.last(), 99);
}

#[test]
fn skipped_agents_stay_blocked_through_any_sequence_of_changes() {
    // Every cycle of a debug build checks that each agent it skips has a
    // memo that holds (`check_visits`); this drives the allocator through
    // a seeded mix of every kind of change to give that check its cases.
    let mut a = cluster(40, "cpus:4;mem:1024");
    let mut rng = 7u64;
    let mut next = move |n: u64| {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (rng >> 33) % n
    };
    // Two frameworks: an agent is blocked (and so skipped) only once
    // every framework has a filter on it or is suppressed or inactive.
    let frameworks = ["f0", "f1"];
    for f in frameworks {
        a.add_framework(fw(f), FrameworkOptions::with_roles(["r"]));
    }
    let mut outstanding: Vec<Allocation> = Vec::new();
    let mut agents_added = 40;
    let mut offered = 0;
    for step in 0..2_000u64 {
        let now = secs(step / 4);
        // Framework changes have every agent looked at, so they are rare
        // here: the other changes are the ones whose agents must be found.
        match next(40) {
            0..=14 => {
                let offers = a.allocate(now);
                offered += offers.len();
                outstanding.extend(offers);
            }
            15..=29 if !outstanding.is_empty() => {
                let o = outstanding.swap_remove(next(outstanding.len() as u64) as usize);
                let filter = [None, Some(secs(1)), Some(secs(3)), Some(secs(1000))];
                let filter = filter[next(4) as usize];
                a.recover_resources(&o.framework_id, &o.agent_id, &o.resources, filter, now);
            }
            30 => {
                let f = fw(frameworks[next(2) as usize]);
                match next(4) {
                    0 => a.suppress(&f, &[]),
                    1 => a.revive(&f, &[]),
                    2 => a.deactivate_framework(&f),
                    _ => a.activate_framework(&f),
                }
            }
            31..=34 => {
                let gone = agent(next(agents_added as u64) as usize);
                outstanding.retain(|o| o.agent_id != gone);
                a.remove_agent(&gone);
            }
            35..=38 => {
                a.add_agent(agent(agents_added), res("cpus:2;mem:512"), []);
                agents_added += 1;
            }
            _ => {}
        }
    }
    assert!(
        offered > 100,
        "the mix offered too little to say much: {offered}"
    );
}

#[test]
fn an_agent_moved_by_a_removal_is_still_offered_when_its_filter_runs_out() {
    let mut a = cluster(3, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    let offers = a.allocate(secs(0));
    let last = offers.iter().find(|o| o.agent_id == agent(2)).unwrap();
    a.recover_resources(&fw("f"), &agent(2), &last.resources, Some(secs(5)), secs(1));
    assert!(a.allocate(secs(2)).is_empty());
    // Removing the first agent moves the last one into its place.
    a.remove_agent(&agent(0));
    assert!(a.allocate(secs(3)).is_empty());
    let again = a.allocate(secs(6));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].agent_id, agent(2));
}

#[test]
fn a_cycle_split_in_parts_offers_every_agent_once() {
    let config = AllocatorConfig {
        max_agents_offered: Some(4),
        ..Default::default()
    };
    let mut a = cluster_with(config, 10, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    let mut seen = Vec::new();
    for expected in [4, 4, 2] {
        let offers = a.allocate(secs(0));
        assert_eq!(offers.len(), expected);
        seen.extend(offers.into_iter().map(|o| o.agent_id));
        assert_eq!(a.has_more(), expected == 4);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 10);
    assert!(a.allocate(secs(0)).is_empty());
    assert!(!a.has_more());
}

#[test]
fn a_cycle_that_must_look_at_every_agent_is_split_by_visits() {
    let config = AllocatorConfig {
        max_agents_visited: Some(4),
        ..Default::default()
    };
    let mut a = cluster_with(config, 10, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    // Each call looks at four: the agents not yet looked at, and those
    // offered the call before (found empty), in shuffled order.
    let offers = all_parts(&mut a, 0);
    assert_eq!(offers.len(), 10);
    // Every agent declined for long: blocked, then left alone.
    for o in &offers {
        decline(&mut a, o, 100, 0);
    }
    for _ in 0..3 {
        assert!(a.allocate(secs(1)).is_empty());
    }
    assert!(a.allocate(secs(1)).is_empty());
    assert_eq!((a.visits.last(), a.has_more()), (0, false));
    // A framework change: every blocked agent is judged again, four a
    // call (debug builds check that none waiting was skipped).
    a.deactivate_framework(&fw("f"));
    a.activate_framework(&fw("f"));
    for expected in [4, 4, 2] {
        assert!(a.allocate(secs(2)).is_empty());
        assert_eq!(a.visits.last(), expected);
        assert_eq!(a.has_more(), expected == 4);
    }
    // A change in the middle of a split cycle starts it over, and a new
    // framework still gets every agent, the split notwithstanding.
    a.deactivate_framework(&fw("f"));
    a.activate_framework(&fw("f"));
    assert!(a.allocate(secs(3)).is_empty());
    a.add_framework(fw("g"), FrameworkOptions::with_roles(["r"]));
    let mut to_g: Vec<AgentId> = all_parts(&mut a, 3)
        .into_iter()
        .map(|o| o.agent_id)
        .collect();
    to_g.sort();
    to_g.dedup();
    assert_eq!(to_g.len(), 10);
    assert!(!a.has_more());
}

/// The offers of a cycle and all its parts, at `now` seconds.
fn all_parts(a: &mut Allocator, now: u64) -> Vec<Allocation> {
    let mut offers = a.allocate(secs(now));
    for _ in 0..100 {
        if !a.has_more() {
            return offers;
        }
        offers.extend(a.allocate(secs(now)));
    }
    panic!("a cycle in more than 100 parts");
}
