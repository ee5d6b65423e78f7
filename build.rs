//! Compiles the gRPC contract in `proto/` with the vendored protoc (nothing to install),
//! writes the descriptor set that server reflection serves, and records the git revision
//! that `--version` shows.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The vendored protoc, handed to prost-build directly (no PROTOC variable to set).
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("radar_descriptor.bin"))
        .compile_with_config(
            config,
            &[
                PathBuf::from("proto/radar/interrupcoes/v1/interrupcoes.proto"),
                PathBuf::from("proto/radar/scheduler/v1/scheduler.proto"),
            ],
            &[PathBuf::from("proto"), protoc_bin_vendored::include_path()?],
        )?;
    println!("cargo:rerun-if-changed=proto");

    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    println!("cargo:rustc-env=RADAR_GIT_REVISION={}", git_revision(&root));
    Ok(())
}

/// The revision as `deploy/image-tag` writes it in the image tag: 12 hex digits, with
/// `-dirty` when tracked files differ from the commit. `RADAR_GIT_REVISION`, when set, wins
/// (a build from a source archive or a container build context without `.git`); without
/// either it is `unknown`.
fn git_revision(root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=RADAR_GIT_REVISION");
    if let Ok(given) = std::env::var("RADAR_GIT_REVISION") {
        let given = given.trim();
        if !given.is_empty() {
            return given.to_owned();
        }
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(revision) = git(&["rev-parse", "--short=12", "HEAD"]).filter(|r| !r.is_empty()) else {
        return "unknown".to_owned();
    };
    // Run again when the commit, the branch or the index moves, and when the binary's own
    // sources change (they may make the tree dirty or clean).
    let mut watched = vec![
        "HEAD".to_owned(),
        "index".to_owned(),
        "packed-refs".to_owned(),
    ];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = root.join(path);
            // A path that does not exist would make cargo run this script on every build.
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    for source in ["src", "sql", "Cargo.toml", "Cargo.lock", "build.rs"] {
        println!("cargo:rerun-if-changed={source}");
    }
    let dirty = Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--"])
        .current_dir(root)
        .status()
        .is_ok_and(|status| status.code() == Some(1));
    if dirty {
        format!("{revision}-dirty")
    } else {
        revision
    }
}
