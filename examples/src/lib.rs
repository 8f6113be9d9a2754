//! Runnable example frameworks and executors; each lives in `examples/` of
//! this crate and says in its doc comment how to run it.
