//! The prost types and their Mesos JSON impls, generated from
//! `spec/mesos-v1-wire-spec.json` by `mesos-proto-codegen` and checked in.
//! Do not edit: run `cargo run -p mesos-proto-codegen`.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]

/// Protobuf's well-known types used by Mesos.
pub mod google {
    /// `google.protobuf`.
    pub mod protobuf {
        include!("generated/google.protobuf.rs");
    }
}

/// The `mesos` proto packages.
pub mod mesos {
    /// `mesos.v1`: the messages shared by every API.
    pub mod v1 {
        include!("generated/mesos.v1.rs");

        /// `mesos.v1.scheduler`: the scheduler API.
        pub mod scheduler {
            include!("generated/mesos.v1.scheduler.rs");
        }
        /// `mesos.v1.executor`: the executor API.
        pub mod executor {
            include!("generated/mesos.v1.executor.rs");
        }
        /// `mesos.v1.master`: the master's operator API.
        pub mod master {
            include!("generated/mesos.v1.master.rs");
        }
        /// `mesos.v1.agent`: the agent's operator API.
        pub mod agent {
            include!("generated/mesos.v1.agent.rs");
        }
        /// `mesos.v1.quota`: quota configuration.
        pub mod quota {
            include!("generated/mesos.v1.quota.rs");
        }
        /// `mesos.v1.maintenance`: maintenance schedules.
        pub mod maintenance {
            include!("generated/mesos.v1.maintenance.rs");
        }
        /// `mesos.v1.allocator`: allocator messages.
        pub mod allocator {
            include!("generated/mesos.v1.allocator.rs");
        }
        /// `mesos.v1.resource_provider`: the resource provider API.
        pub mod resource_provider {
            include!("generated/mesos.v1.resource_provider.rs");
        }
    }
}

mod json_impls {
    include!("generated/json_impls.rs");
}

pub(crate) mod registry {
    include!("generated/registry.rs");
}
