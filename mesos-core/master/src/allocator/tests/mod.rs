use super::*;

mod release;
mod visits;

fn res(text: &str) -> Resources {
    text.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn agent(i: usize) -> AgentId {
    AgentId::new(format!("agent-{i:03}"))
}

fn fw(name: &str) -> FrameworkId {
    FrameworkId::new(name)
}

/// An allocator with `n` agents of the given resources.
fn cluster(n: usize, resources: &str) -> Allocator {
    cluster_with(AllocatorConfig::default(), n, resources)
}

fn cluster_with(config: AllocatorConfig, n: usize, resources: &str) -> Allocator {
    let mut a = Allocator::new(config);
    for i in 0..n {
        a.add_agent(agent(i), res(resources), []);
    }
    a
}

/// `o`'s framework declines all of it at `now`, filtering it for
/// `refuse` seconds.
fn decline(a: &mut Allocator, o: &Allocation, refuse: u64, now: u64) {
    a.recover_resources(
        &o.framework_id,
        &o.agent_id,
        &o.resources,
        Some(secs(refuse)),
        secs(now),
    );
}

fn count_for(offers: &[Allocation], framework: &str) -> usize {
    offers
        .iter()
        .filter(|o| o.framework_id.as_str() == framework)
        .count()
}

#[test]
fn everything_is_offered_once() {
    let mut a = cluster(3, "cpus:4;mem:1024;ports:[31000-32000]");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["web"]));
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 3);
    for o in &offers {
        assert_eq!(
            o.resources,
            res("cpus:4;mem:1024;ports:[31000-32000]").allocate("web")
        );
    }
    // All of it is out: nothing more to offer until it comes back.
    assert!(a.allocate(secs(1)).is_empty());
    let o = &offers[0];
    a.recover_resources(&o.framework_id, &o.agent_id, &o.resources, None, secs(1));
    let again = a.allocate(secs(1));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].agent_id, o.agent_id);
}

#[test]
fn a_decline_filter_is_honoured_for_its_duration() {
    let mut a = cluster(1, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["web"]));
    let o = a.allocate(secs(0)).remove(0);
    a.recover_resources(&fw("f"), &o.agent_id, &o.resources, Some(secs(10)), secs(0));
    assert!(a.allocate(secs(1)).is_empty());
    assert!(a.allocate(secs(9)).is_empty());
    assert_eq!(a.allocate(secs(10)).len(), 1, "the filter has expired");

    // A filter covers only what was refused: more resources are offered.
    let mut a = cluster(1, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["web"]));
    let o = a.allocate(secs(0)).remove(0);
    let part = res("cpus:1;mem:100").allocate("web");
    let rest = &o.resources - &part;
    a.recover_resources(&fw("f"), &o.agent_id, &part, Some(secs(10)), secs(0));
    assert!(
        a.allocate(secs(1)).is_empty(),
        "the refused part is filtered"
    );
    a.recover_resources(&fw("f"), &o.agent_id, &rest, None, secs(1));
    assert_eq!(a.allocate(secs(2)).len(), 1, "a superset is offered again");
}

#[test]
fn a_filter_applies_to_its_framework_only() {
    let mut a = cluster(1, "cpus:4;mem:1024");
    a.add_framework(fw("f1"), FrameworkOptions::with_roles(["web"]));
    a.add_framework(fw("f2"), FrameworkOptions::with_roles(["web"]));
    let o = a.allocate(secs(0)).remove(0);
    let other = if o.framework_id.as_str() == "f1" {
        "f2"
    } else {
        "f1"
    };
    decline(&mut a, &o, 60, 0);
    let next = a.allocate(secs(1));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].framework_id.as_str(), other);
}

#[test]
fn suppress_and_revive() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["web", "batch"]));
    a.suppress(&fw("f"), &[]);
    assert!(a.allocate(secs(0)).is_empty());
    a.revive(&fw("f"), &["batch".to_string()]);
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 2);
    assert!(
        offers
            .iter()
            .all(|o| o.resources.allocations().contains_key("batch"))
    );

    // Revive also clears the role's filters.
    for o in &offers {
        decline(&mut a, o, 100, 0);
    }
    assert!(a.allocate(secs(1)).is_empty());
    a.revive(&fw("f"), &[]);
    assert_eq!(a.allocate(secs(1)).len(), 2);
}

#[test]
fn weights_one_and_three_converge_to_shares_one_to_three() {
    let mut a = cluster(40, "cpus:1;mem:1024");
    a.set_weight("light", 1.0);
    a.set_weight("heavy", 3.0);
    a.add_framework(fw("l"), FrameworkOptions::with_roles(["light"]));
    a.add_framework(fw("h"), FrameworkOptions::with_roles(["heavy"]));
    let offers = a.allocate(secs(0));
    assert_eq!(count_for(&offers, "l"), 10);
    assert_eq!(count_for(&offers, "h"), 30);
    // Weighted shares are equal: 10/40 / 1 == 30/40 / 3.
    assert!((a.role_share("light") - a.role_share("heavy")).abs() < 1e-9);
}

#[test]
fn frameworks_in_one_role_share_it_fairly() {
    let mut a = cluster(9, "cpus:1;mem:1024");
    for f in ["a", "b", "c"] {
        a.add_framework(fw(f), FrameworkOptions::with_roles(["web"]));
    }
    let offers = a.allocate(secs(0));
    for f in ["a", "b", "c"] {
        assert_eq!(count_for(&offers, f), 3, "{f}");
    }
}

#[test]
fn hierarchical_roles_share_as_subtrees() {
    // eng/web and eng/db together get what ops alone gets.
    let mut a = cluster(12, "cpus:1;mem:1024");
    a.add_framework(fw("web"), FrameworkOptions::with_roles(["eng/web"]));
    a.add_framework(fw("db"), FrameworkOptions::with_roles(["eng/db"]));
    a.add_framework(fw("ops"), FrameworkOptions::with_roles(["ops"]));
    let offers = a.allocate(secs(0));
    assert_eq!(count_for(&offers, "ops"), 6);
    assert_eq!(count_for(&offers, "web"), 3);
    assert_eq!(count_for(&offers, "db"), 3);
}

#[test]
fn reservations_go_to_their_role_and_its_descendants() {
    let mut a = Allocator::new(AllocatorConfig::default());
    a.add_agent(
        agent(0),
        res("cpus(eng):4;mem(eng):1024;cpus:1;mem:512"),
        [],
    );
    a.add_framework(fw("ops"), FrameworkOptions::with_roles(["ops"]));
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:1;mem:512").allocate("ops"));

    a.add_framework(fw("web"), FrameworkOptions::with_roles(["eng/web"]));
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id.as_str(), "web");
    assert_eq!(
        offers[0].resources,
        res("cpus(eng):4;mem(eng):1024").allocate("eng/web")
    );
}

#[test]
fn minimum_allocatable_resources() {
    let mut a = Allocator::new(AllocatorConfig::default());
    a.add_agent(agent(0), res("cpus:0.005;mem:16"), []);
    a.add_agent(agent(1), res("cpus:0.01"), []);
    a.add_agent(agent(2), res("mem:32;disk:10"), []);
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    let offers = a.allocate(secs(0));
    let agents: Vec<&str> = offers.iter().map(|o| o.agent_id.as_str()).collect();
    assert_eq!(agents, ["agent-001", "agent-002"]);

    // With no minimum, anything goes; a ports-only minimum is counted in
    // ports.
    let ports_min = Quantities::from([("ports".to_string(), Scalar::from_f64(2.0))]);
    let mut a = Allocator::new(AllocatorConfig {
        min_allocatable: vec![ports_min],
        ..Default::default()
    });
    a.add_agent(agent(0), res("cpus:4;ports:[1-1]"), []);
    a.add_agent(agent(1), res("cpus:4;ports:[1-2]"), []);
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, agent(1));
}

#[test]
fn gpus_and_revocable_need_capabilities() {
    let mut a = Allocator::new(AllocatorConfig::default());
    a.add_agent(agent(0), res("cpus:4;mem:1024;gpus:1"), []);
    a.add_framework(fw("plain"), FrameworkOptions::with_roles(["r"]));
    assert!(
        a.allocate(secs(0)).is_empty(),
        "GPU agents are kept for GPU frameworks"
    );
    a.add_framework(
        fw("gpu"),
        FrameworkOptions {
            gpu_resources: true,
            ..FrameworkOptions::with_roles(["r"])
        },
    );
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id.as_str(), "gpu");
}

#[test]
fn inactive_frameworks_get_nothing() {
    let mut a = cluster(1, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    a.deactivate_framework(&fw("f"));
    assert!(a.allocate(secs(0)).is_empty());
    a.activate_framework(&fw("f"));
    assert_eq!(a.allocate(secs(0)).len(), 1);
}

#[test]
fn removing_a_framework_frees_its_resources() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("f1"), FrameworkOptions::with_roles(["r"]));
    assert_eq!(a.allocate(secs(0)).len(), 2);
    a.add_framework(fw("f2"), FrameworkOptions::with_roles(["r"]));
    assert!(a.allocate(secs(0)).is_empty());
    a.remove_framework(&fw("f1"));
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 2);
    assert!(offers.iter().all(|o| o.framework_id.as_str() == "f2"));
    // What f1 held on both agents left the role's allocation: the role
    // holds everything once (f2's), not twice.
    assert!(
        (a.role_share("r") - 1.0).abs() < 1e-9,
        "{}",
        a.role_share("r")
    );
}

#[test]
fn removing_an_agent_releases_its_allocations() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    a.allocate(secs(0));
    assert!((a.role_share("r") - 1.0).abs() < 1e-9);
    a.remove_agent(&agent(0));
    assert!((a.role_share("r") - 1.0).abs() < 1e-9, "one of one agents");
    assert!(a.allocated(&fw("f"), &agent(0)).is_empty());
}

#[test]
fn re_registered_agents_bring_their_allocations() {
    // Resources in use on a returning agent count toward shares.
    let mut a = Allocator::new(AllocatorConfig::default());
    a.add_framework(fw("busy"), FrameworkOptions::with_roles(["a"]));
    a.add_framework(fw("idle"), FrameworkOptions::with_roles(["b"]));
    a.add_agent(
        agent(0),
        res("cpus:8;mem:8192"),
        [(fw("busy"), res("cpus:6;mem:6144").allocate("a"))],
    );
    a.add_agent(agent(1), res("cpus:8;mem:8192"), []);
    let offers = a.allocate(secs(0));
    // busy holds 6/16 already, so both free slices go to idle (whose
    // share stays below busy's after the first).
    assert_eq!(offers.len(), 2);
    assert!(offers.iter().all(|o| o.framework_id.as_str() == "idle"));
    assert_eq!(
        a.allocated(&fw("busy"), &agent(0)),
        res("cpus:6;mem:6144").allocate("a")
    );
    assert!((a.role_share("b") - 10.0 / 16.0).abs() < 1e-9);
    assert!((a.role_share("a") - 6.0 / 16.0).abs() < 1e-9);
}

#[test]
fn allocation_is_deterministic_for_a_seed() {
    let run = |seed: u64| {
        let mut a = Allocator::new(AllocatorConfig {
            seed,
            ..Default::default()
        });
        for i in 0..20 {
            a.add_agent(agent(i), res("cpus:2;mem:2048"), []);
        }
        for f in ["a", "b", "c"] {
            a.add_framework(fw(f), FrameworkOptions::with_roles([f]));
        }
        a.allocate(secs(0))
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8), "the seed changes the agent order");
}

#[test]
fn a_blocked_agent_is_reconsidered_when_anything_could_unblock_it() {
    // One agent that nobody may take: f1 has declined it for a long time
    // and f2 has suppressed. Each change that could unblock it must.
    let mut a = cluster(1, "cpus:4;mem:1024");
    a.add_framework(fw("f1"), FrameworkOptions::with_roles(["r"]));
    let o = a.allocate(secs(0)).remove(0);
    decline(&mut a, &o, 1000, 0);
    a.add_framework(fw("f2"), FrameworkOptions::with_roles(["r"]));
    a.suppress(&fw("f2"), &[]);
    assert!(a.allocate(secs(1)).is_empty());
    assert!(a.allocate(secs(2)).is_empty(), "still blocked");

    // Revive unblocks.
    a.revive(&fw("f2"), &[]);
    let o = a.allocate(secs(3)).remove(0);
    assert_eq!(o.framework_id.as_str(), "f2");

    // Declined by f2 too: blocked again; a new framework unblocks.
    decline(&mut a, &o, 1000, 3);
    assert!(a.allocate(secs(4)).is_empty());
    a.add_framework(fw("f3"), FrameworkOptions::with_roles(["r"]));
    let o = a.allocate(secs(5)).remove(0);
    assert_eq!(o.framework_id.as_str(), "f3");

    // Declined by all three; the earliest filter's expiry unblocks.
    decline(&mut a, &o, 10, 5);
    assert!(a.allocate(secs(14)).is_empty());
    let o = a.allocate(secs(15)).remove(0);
    assert_eq!(o.framework_id.as_str(), "f3");

    // Resources freed on the agent unblock it too.
    let mut b = cluster(1, "cpus:4;mem:1024");
    b.add_framework(fw("f"), FrameworkOptions::with_roles(["r"]));
    let o = b.allocate(secs(0)).remove(0);
    let part = res("cpus:1;mem:512").allocate("r");
    b.recover_resources(&fw("f"), &o.agent_id, &part, Some(secs(100)), secs(0));
    assert!(b.allocate(secs(1)).is_empty());
    let rest = &o.resources - &part;
    b.recover_resources(&fw("f"), &o.agent_id, &rest, None, secs(2));
    assert_eq!(b.allocate(secs(3)).len(), 1);
}

#[test]
fn blocked_agents_are_judged_right_after_the_change_log_overflows() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("f1"), FrameworkOptions::with_roles(["r"]));
    for o in a.allocate(secs(0)) {
        decline(&mut a, &o, 1000, 0);
    }
    a.add_framework(fw("f2"), FrameworkOptions::with_roles(["r"]));
    a.suppress(&fw("f2"), &[]);
    assert!(a.allocate(secs(1)).is_empty());
    // Far more changes than the log holds, none of which unblocks.
    for _ in 0..(CHANGE_LOG + 10) {
        a.deactivate_framework(&fw("f2"));
        a.activate_framework(&fw("f2"));
    }
    assert!(a.allocate(secs(2)).is_empty(), "f1 filtered, f2 suppressed");
    a.revive(&fw("f2"), &[]);
    let offers = a.allocate(secs(3));
    assert_eq!(offers.len(), 2);
    assert!(offers.iter().all(|o| o.framework_id.as_str() == "f2"));
}

fn cpus_for(offers: &[Allocation], framework: &str) -> f64 {
    offers
        .iter()
        .filter(|o| o.framework_id.as_str() == framework)
        .filter_map(|o| o.resources.cpus())
        .sum()
}

#[test]
fn a_quota_guarantee_is_met_before_fair_share() {
    let mut a = cluster(10, "cpus:1;mem:1024");
    a.set_quota("q", Quota::parse("cpus:6", "").unwrap());
    a.add_framework(fw("fair"), FrameworkOptions::with_roles(["a"]));
    a.add_framework(fw("quota"), FrameworkOptions::with_roles(["q"]));
    let offers = a.allocate(secs(0));
    // Without quota DRF would split 5:5.
    assert_eq!(cpus_for(&offers, "quota"), 6.0);
    assert_eq!(cpus_for(&offers, "fair"), 4.0);
}

#[test]
fn headroom_for_an_unmet_guarantee_is_held_back_from_fair_share() {
    let mut a = cluster(10, "cpus:1;mem:1024");
    a.set_quota("q", Quota::parse("cpus:6", "").unwrap());
    a.add_framework(fw("quota"), FrameworkOptions::with_roles(["q"]));
    let offers = a.allocate(secs(0));
    // Its guarantee first, then (alone) the rest by fair share.
    assert_eq!(cpus_for(&offers, "quota"), 10.0);
    // The quota framework declines everything for a long time.
    for o in &offers {
        decline(&mut a, o, 600, 0);
    }
    a.add_framework(fw("fair"), FrameworkOptions::with_roles(["a"]));
    let offers = a.allocate(secs(1));
    // 10 cpus free, 6 held for the guarantee: only 4 go to fair share.
    assert_eq!(cpus_for(&offers, "fair"), 4.0);
    assert_eq!(cpus_for(&offers, "quota"), 0.0);
    // Once the guarantee no longer matters, the rest is offered.
    a.set_quota("q", Quota::default());
    let offers = a.allocate(secs(2));
    assert_eq!(cpus_for(&offers, "fair"), 6.0);
}

#[test]
fn a_limit_caps_a_role_and_cuts_offers_to_fit() {
    let mut a = cluster(5, "cpus:1;mem:1024");
    a.set_quota("l", Quota::parse("", "cpus:2.5").unwrap());
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["l"]));
    let offers = a.allocate(secs(0));
    assert_eq!(cpus_for(&offers, "f"), 2.5);
    assert_eq!(a.consumed("l").get("cpus").map(|s| s.to_f64()), Some(2.5));
    // Still capped in later cycles.
    assert!(cpus_for(&a.allocate(secs(1)), "f") == 0.0);
}

#[test]
fn a_parent_limit_caps_its_subroles_together() {
    let mut a = cluster(6, "cpus:1;mem:1024");
    a.set_quota("p", Quota::parse("", "cpus:2").unwrap());
    a.add_framework(fw("x"), FrameworkOptions::with_roles(["p/x"]));
    a.add_framework(fw("y"), FrameworkOptions::with_roles(["p/y"]));
    a.add_framework(fw("other"), FrameworkOptions::with_roles(["o"]));
    let offers = a.allocate(secs(0));
    assert_eq!(cpus_for(&offers, "x") + cpus_for(&offers, "y"), 2.0);
    assert_eq!(cpus_for(&offers, "other"), 4.0);
}

#[test]
fn a_guarantee_within_a_limit_gets_no_more_than_the_limit() {
    let mut a = cluster(4, "cpus:2;mem:1024");
    a.set_quota("q", Quota::parse("cpus:3", "cpus:3").unwrap());
    a.add_framework(fw("quota"), FrameworkOptions::with_roles(["q"]));
    let offers = a.allocate(secs(0));
    assert_eq!(cpus_for(&offers, "quota"), 3.0);
}

#[test]
fn a_filter_on_an_offer_cut_by_a_limit_does_not_cover_a_larger_one() {
    let mut a = cluster(1, "cpus:8;mem:1024");
    a.set_quota("l", Quota::parse("", "cpus:2").unwrap());
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["l"]));
    let offers = a.allocate(secs(0));
    assert_eq!(cpus_for(&offers, "f"), 2.0);
    // Declined: cpus:2 are filtered, and so is the same cut-down offer.
    a.recover_resources(
        &fw("f"),
        &agent(0),
        &offers[0].resources,
        Some(secs(3600)),
        secs(0),
    );
    assert!(a.allocate(secs(1)).is_empty());
    assert!(a.allocate(secs(2)).is_empty());
    // A higher limit makes the offer larger than what was declined, so the
    // filter no longer applies (Mesos filters only subsets of what was
    // refused).
    a.set_quota("l", Quota::parse("", "cpus:4").unwrap());
    assert_eq!(cpus_for(&a.allocate(secs(3)), "f"), 4.0);
}

#[test]
fn a_narrower_filter_replacing_a_wider_one_lets_the_agent_be_offered() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    a.add_framework(fw("f"), FrameworkOptions::with_roles(["web"]));
    for i in 0..2 {
        a.add_offer_filter(
            &fw("f"),
            &agent(i),
            "web",
            res("cpus:4;mem:1024"),
            secs(3600),
        );
    }
    assert!(a.allocate(secs(0)).is_empty());
    assert!(a.allocate(secs(1)).is_empty());
    // The filter on agent 1 now refuses less than the agent offers.
    a.add_offer_filter(&fw("f"), &agent(1), "web", res("cpus:1"), secs(3600));
    let offers = a.allocate(secs(2));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, agent(1));
}

#[test]
fn every_framework_changing_re_judges_every_agent_the_same_way() {
    // Agents blocked by filters stay blocked when every framework changes
    // (the remembered filter answers hold), and an agent whose filter
    // expires in between is offered.
    let mut a = cluster(40, "cpus:4;mem:1024");
    let names: Vec<String> = (0..40).map(|j| format!("f{j}")).collect();
    for (j, name) in names.iter().enumerate() {
        a.add_framework(
            fw(name),
            FrameworkOptions::with_roles([format!("r{}", j % 3)]),
        );
    }
    for i in 0..40 {
        for (j, name) in names.iter().enumerate() {
            let expires = if i == 7 && j == 5 {
                secs(10)
            } else {
                secs(3600)
            };
            let role = format!("r{}", j % 3);
            a.add_offer_filter(&fw(name), &agent(i), &role, res("cpus:4;mem:1024"), expires);
        }
    }
    assert!(a.allocate(secs(0)).is_empty());
    for name in &names {
        a.deactivate_framework(&fw(name));
        a.activate_framework(&fw(name));
    }
    assert!(a.allocate(secs(1)).is_empty());
    for name in &names {
        a.activate_framework(&fw(name));
    }
    let offers = a.allocate(secs(10));
    assert_eq!(offers.len(), 1);
    assert_eq!(
        (offers[0].agent_id.clone(), offers[0].framework_id.clone()),
        (agent(7), fw("f5"))
    );
}

#[test]
fn an_offer_filter_stays_small() {
    // 50,000 agents x 5,000 declining frameworks is 250 M filters.
    assert!(std::mem::size_of::<OfferFilter>() <= 24);
}

#[test]
fn on_a_gpu_agent_only_gpu_frameworks_count_when_all_are_re_judged() {
    let mut a = cluster(1, "cpus:4;mem:1024;gpus:1");
    let gpu = FrameworkOptions {
        gpu_resources: true,
        ..FrameworkOptions::with_roles(["r"])
    };
    a.add_framework(fw("plain"), FrameworkOptions::with_roles(["r"]));
    a.add_framework(fw("gpu"), gpu);
    let all = res("cpus:4;mem:1024;gpus:1");
    a.add_offer_filter(&fw("gpu"), &agent(0), "r", all, secs(10));
    assert!(a.allocate(secs(0)).is_empty());
    for name in ["plain", "gpu"] {
        a.deactivate_framework(&fw(name));
        a.activate_framework(&fw(name));
    }
    // Still nothing: "plain" may not have GPU offers, "gpu" is filtered.
    assert!(a.allocate(secs(1)).is_empty());
    for name in ["plain", "gpu"] {
        a.activate_framework(&fw(name));
    }
    // The filter expired: the GPU framework gets the agent.
    let offers = a.allocate(secs(10));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id, fw("gpu"));
}

#[test]
fn a_removed_frameworks_filter_slots_are_used_again() {
    let mut a = cluster(2, "cpus:4;mem:1024");
    let all = || res("cpus:4;mem:1024");
    for round in 0..50 {
        let name = format!("f{round}");
        a.add_framework(fw(&name), FrameworkOptions::with_roles(["r"]));
        for i in 0..2 {
            a.add_offer_filter(&fw(&name), &agent(i), "r", all(), secs(3600));
        }
        // Filtered on both agents, through the memo too.
        assert!(a.allocate(secs(round)).is_empty());
        assert!(a.allocate(secs(round)).is_empty());
        a.remove_framework(&fw(&name));
    }
    // One slot served all fifty frameworks, so the agents' bits stay one
    // word.
    assert!(a.agents.iter().all(|agent| agent.filters.words() <= 1));
    // A new framework filtered on agent 0 takes the freed slot; agent 1,
    // where that slot's bit was set for the old frameworks, is offered.
    a.add_framework(fw("fresh"), FrameworkOptions::with_roles(["r"]));
    a.add_offer_filter(&fw("fresh"), &agent(0), "r", all(), secs(3600));
    let fresh = a.framework_index["fresh"];
    let role = a.role_index["r"];
    assert_eq!(a.filter_slots.get(filter_key(fresh, role)), Some(0));
    let offers = a.allocate(secs(100));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id, agent(1));
}

#[test]
fn the_cover_memo_recovers_after_one_of_its_filters_expires() {
    let mut a = cluster(1, "cpus:4;mem:1024");
    a.add_framework(fw("brief"), FrameworkOptions::with_roles(["r"]));
    a.add_framework(fw("long"), FrameworkOptions::with_roles(["r"]));
    let all = || res("cpus:4;mem:1024");
    a.add_offer_filter(&fw("brief"), &agent(0), "r", all(), secs(10));
    a.add_offer_filter(&fw("long"), &agent(0), "r", all(), secs(3600));
    assert!(a.allocate(secs(0)).is_empty());
    // "brief" goes away before its filter expires; after the expiry the
    // agent is still blocked by "long" alone...
    a.deactivate_framework(&fw("brief"));
    assert!(a.allocate(secs(20)).is_empty());
    // ...and the memo of that is usable again, not stuck on the expired
    // filter until the agent changes.
    let agent0 = &a.agents[0];
    assert!(agent0.filters.cover(agent0.epoch, secs(21)).is_some());
}
