//! Compiles the gRPC contract in `proto/` with the vendored protoc (nothing to install),
//! and writes the descriptor set that server reflection serves.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The vendored protoc, handed to prost-build directly (no PROTOC variable to set).
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("radar_descriptor.bin"))
        .compile_with_config(
            config,
            &[
                std::path::PathBuf::from("proto/radar/interrupcoes/v1/interrupcoes.proto"),
                std::path::PathBuf::from("proto/radar/scheduler/v1/scheduler.proto"),
            ],
            &[
                std::path::PathBuf::from("proto"),
                protoc_bin_vendored::include_path()?,
            ],
        )?;
    println!("cargo:rerun-if-changed=proto");
    git_revision();
    Ok(())
}

/// Sets `RADAR_GIT_REVISION` for `radar_build_info`: the variable given to the build (image
/// builds without `.git`), else `git rev-parse --short HEAD`, else `unknown`.
fn git_revision() {
    println!("cargo:rerun-if-env-changed=RADAR_GIT_REVISION");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let revision = std::env::var("RADAR_GIT_REVISION")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    // Rebuild when HEAD moves: HEAD itself and the branch it points to (only files that
    // exist, since a missing one would rerun this script on every build).
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"])
            .and_then(|branch| git(&["rev-parse", "--git-path", &branch])),
    ]
    .into_iter()
    .flatten()
    {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=RADAR_GIT_REVISION={revision}");
}
