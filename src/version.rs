//! The version `--version` and the start-up line show: the crate version and the git
//! revision it was built from (see `build.rs`), the two halves of the image tag
//! (`deploy/image-tag`: `VERSION-REVISION`).

/// The crate version, e.g. `0.1.0`.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision: 12 hex digits, `-dirty` added when built from a modified tree;
/// `RADAR_GIT_REVISION` at build time when set; `unknown` outside a git checkout.
pub const GIT_REVISION: &str = env!("RADAR_GIT_REVISION");

/// `0.1.0 (git 1953868a2b3c)`, as `--version` prints it after the program name.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("RADAR_GIT_REVISION"),
    ")"
);

/// The image tag of this build, as `deploy/image-tag` computes it: `0.1.0-1953868a2b3c`.
pub fn image_tag() -> String {
    format!("{CRATE_VERSION}-{GIT_REVISION}")
}
