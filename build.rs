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
    Ok(())
}
