//! The memory allocator of every binary that links this library: the service, the tests
//! and the benchmarks, so that what the load benchmark measures is what the service runs.
//!
//! jemalloc by default (cargo feature `jemalloc`), with background threads that give freed
//! memory back to the system within about 10 s even while the service is idle: after a
//! flood of Watch streams glibc's allocator kept all of it (and more after a second
//! flood), mimalloc kept it too (the README's "Memory after a flood of Watch streams" has
//! the figures). `--no-default-features` builds with the system allocator, to repeat the
//! comparison.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator this build uses, as the load benchmark reports it.
pub const NAME: &str = if cfg!(feature = "jemalloc") {
    "jemalloc (background threads)"
} else {
    "system (glibc)"
};
