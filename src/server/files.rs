//! The files the settings name, read by the wiring at start-up: the admin token, the TLS
//! certificate, key and client CA, the Oracle password and the ANEEL API keys. A file that
//! cannot be used stops start-up naming its setting ([`ConfigError`], exit code 2).

use std::path::Path;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{
    AdminSettings, ConfigError, HttpSettings, REDACTED, Secret, ServiceSettings, Setting, TlsFiles,
    check_admin_token, names,
};
use crate::http::{ApiKeys, KeyStore};
use crate::transport::TlsSettings;

/// What the gRPC side reads from files.
pub(super) struct ServiceFiles {
    /// TLS of the gRPC listener; `None` serves plaintext.
    pub tls: Option<TlsSettings>,
    /// The token SchedulerAdmin requires; `None` answers loopback callers only.
    pub admin_token: Option<SecretString>,
}

impl ServiceFiles {
    /// Reads the admin token file and the TLS files of `settings`.
    pub(super) fn read(settings: &ServiceSettings) -> Result<Self, ConfigError> {
        Ok(Self {
            admin_token: admin_token(&settings.admin)?,
            tls: tls(&settings.tls)?,
        })
    }
}

/// The token itself, or the one its file holds (checked as the token is).
fn admin_token(admin: &AdminSettings) -> Result<Option<SecretString>, ConfigError> {
    let Some(path) = &admin.admin_token_file else {
        return Ok(admin.admin_token.clone());
    };
    let setting = names::ADMIN_TOKEN_FILE;
    let shown = path.display().to_string();
    let token = read_secret(path)
        .map_err(|e| setting.invalid(shown.clone(), format!("cannot read the token file: {e}")))?;
    check_admin_token(setting, &shown, &token)?;
    Ok(Some(token))
}

/// A secret's value, reading its file (a mounted Secret) when it names one; an empty file
/// is refused.
pub fn secret(value: &Secret, file_setting: Setting) -> Result<SecretString, ConfigError> {
    let path = match value {
        Secret::Value(secret) => return Ok(secret.clone()),
        Secret::File(path) => path,
    };
    let shown = path.display().to_string();
    let secret = read_secret(path).map_err(|e| {
        file_setting.invalid(shown.clone(), format!("cannot read the password file: {e}"))
    })?;
    if secret.expose_secret().is_empty() {
        return Err(file_setting.invalid(shown, "the password file is empty"));
    }
    Ok(secret)
}

/// The file's text without one trailing newline (`\n` or `\r\n`).
fn read_secret(path: &Path) -> std::io::Result<SecretString> {
    let text = SecretString::from(std::fs::read_to_string(path)?);
    let trimmed = text.expose_secret();
    let trimmed = trimmed.strip_suffix('\n').unwrap_or(trimmed);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(SecretString::from(trimmed))
}

/// The accepted keys of the ANEEL endpoint: the setting's, and the key file's (read again
/// while running). Errors never show a key.
pub fn api_keys(http: &HttpSettings) -> Result<Arc<KeyStore>, ConfigError> {
    let from_setting = match &http.aneel_api_keys {
        Some(keys) => ApiKeys::parse(keys.expose_secret())
            .map_err(|reason| names::ANEEL_API_KEYS.invalid(REDACTED, reason))?,
        None => ApiKeys::default(),
    };
    let keys = match &http.aneel_api_keys_file {
        Some(path) => KeyStore::with_file(from_setting, path.clone()).map_err(|reason| {
            names::ANEEL_API_KEYS_FILE.invalid(path.display().to_string(), reason)
        })?,
        None => KeyStore::from(from_setting),
    };
    Ok(Arc::new(keys))
}

/// TLS from the configured files, checked by rustls now so that a bad file stops
/// start-up, not the first call. The settings made sure the certificate and the key come
/// together.
fn tls(files: &TlsFiles) -> Result<Option<TlsSettings>, ConfigError> {
    let (Some(cert_file), Some(key_file)) = (&files.tls_cert_file, &files.tls_key_file) else {
        return Ok(None);
    };
    let cert = read_pem(names::TLS_CERT_FILE, cert_file, "CERTIFICATE")?;
    let key = read_pem(names::TLS_KEY_FILE, key_file, "PRIVATE KEY")?;
    let client_ca = match &files.tls_client_ca_file {
        Some(path) => Some((
            path.clone(),
            read_pem(names::TLS_CLIENT_CA_FILE, path, "CERTIFICATE")?,
        )),
        None => None,
    };
    let tls = TlsSettings::new(cert_file.clone(), &cert, &key, client_ca).map_err(|e| {
        names::TLS_CERT_FILE.invalid(
            cert_file.display().to_string(),
            format!(
                "with {} (and {}, if set) it is not a usable TLS configuration: {e}",
                names::TLS_KEY_FILE.var,
                names::TLS_CLIENT_CA_FILE.var
            ),
        )
    })?;
    Ok(Some(tls))
}

/// Reads a PEM file, checking it holds a block whose label ends with `label`.
fn read_pem(setting: Setting, path: &Path, label: &str) -> Result<Vec<u8>, ConfigError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path)
        .map_err(|e| setting.invalid(shown.clone(), format!("cannot read the file: {e}")))?;
    let text = String::from_utf8_lossy(&pem);
    let has_block = text.lines().any(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if !has_block {
        return Err(setting.invalid(shown, format!("not a PEM file with a {label} block")));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::config::{Cli, Config, Invocation};

    /// The whole start-up path: clap, validation, then the files.
    fn load(extra: &[&str]) -> Result<(Config, ServiceFiles), ConfigError> {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        match Cli::load_from(argv, &super::super::offered())? {
            Invocation::Serve(config) => {
                let files = ServiceFiles::read(&config.service)?;
                Ok((*config, files))
            }
            other => panic!("not serve: {other:?}"),
        }
    }

    fn error_of(extra: &[&str]) -> ConfigError {
        let Err(e) = load(extra) else {
            panic!("{extra:?} was accepted")
        };
        e
    }

    #[test]
    fn the_admin_token_comes_from_the_value_or_the_file_and_is_never_shown() {
        let token = "s3cr3t-t0ken-0123456789";
        let (c, files) = load(&["--admin-token", token]).unwrap();
        assert!(files.admin_token.is_some());
        assert!(!format!("{c:?}").contains(token), "Debug redacts the token");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        let path = file.to_str().unwrap();
        let (_, files) = load(&["--admin-token-file", path]).unwrap();
        assert_eq!(files.admin_token.unwrap().expose_secret(), token);

        let e = error_of(&["--admin-token", token, "--admin-token-file", path]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN");
        let e = error_of(&["--admin-token", "short"]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN");
        assert!(!e.to_string().contains("short"), "{e}");
        let e = error_of(&["--admin-token-file", "/nonexistent/token"]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN_FILE");
    }

    #[test]
    fn tls_needs_a_certificate_and_its_key_and_bad_files_name_their_setting() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/");
        let f = |name: &str| format!("{fixtures}{name}");
        let (cert, key, ca) = (f("server.pem"), f("server.key"), f("ca.pem"));
        let (_, files) = load(&["--tls-cert-file", &cert, "--tls-key-file", &key]).unwrap();
        let tls = files.tls.unwrap();
        assert!(tls.client_ca_file.is_none());
        assert!(
            !format!("{tls:?}").contains("PRIVATE"),
            "Debug never shows the key"
        );
        let (_, files) = load(&[
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-client-ca-file",
            &ca,
        ])
        .unwrap();
        assert!(files.tls.unwrap().client_ca_file.is_some());

        let cases: &[(&[&str], &str)] = &[
            (&["--tls-cert-file", &cert], "RADAR_TLS_KEY_FILE"),
            (&["--tls-key-file", &key], "RADAR_TLS_CERT_FILE"),
            (&["--tls-client-ca-file", &ca], "RADAR_TLS_CLIENT_CA_FILE"),
            (
                &["--tls-cert-file", &key, "--tls-key-file", &key],
                "RADAR_TLS_CERT_FILE",
            ),
            (
                &["--tls-cert-file", &cert, "--tls-key-file", &cert],
                "RADAR_TLS_KEY_FILE",
            ),
            (
                &[
                    "--tls-cert-file",
                    "/nonexistent.pem",
                    "--tls-key-file",
                    &key,
                ],
                "RADAR_TLS_CERT_FILE",
            ),
            (
                &[
                    "--tls-cert-file",
                    &cert,
                    "--tls-key-file",
                    &key,
                    "--tls-client-ca-file",
                    &key,
                ],
                "RADAR_TLS_CLIENT_CA_FILE",
            ),
        ];
        for (argv, setting) in cases {
            assert_eq!(error_of(argv).setting, *setting, "{argv:?}");
        }
    }

    /// The Oracle adapter's settings from `--oracle-password-file <file>`.
    fn with_password_file(
        path: &Path,
    ) -> Result<crate::source::oracle::OracleSettings, ConfigError> {
        let path = path.to_str().unwrap();
        let argv = [
            "radar",
            "--source",
            "oracle",
            "--oracle-connect-string",
            "db:1521/OMS",
            "--oracle-user",
            "RADAR",
            "--oracle-password-file",
            path,
        ];
        match Cli::load_from(argv, &super::super::offered())? {
            Invocation::Serve(config) => super::super::oracle_settings(&config.oracle.validate()?),
            other => panic!("not serve: {other:?}"),
        }
    }

    fn password_file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn password_file_is_read_and_its_trailing_newline_trimmed() {
        for content in ["from-file\n", "from-file\r\n", "from-file"] {
            let file = password_file(content);
            let s = with_password_file(file.path()).unwrap();
            assert_eq!(s.password.expose_secret(), "from-file");
        }
    }

    #[test]
    fn password_file_must_exist_and_not_be_empty() {
        let empty = password_file("\n");
        let missing = empty.path().with_extension("missing");
        for (path, why) in [
            (empty.path().to_path_buf(), "empty"),
            (missing, "cannot read"),
        ] {
            let Err(e) = with_password_file(&path) else {
                panic!("{} was accepted", path.display())
            };
            assert_eq!(e.setting, "RADAR_ORACLE_PASSWORD_FILE");
            assert_eq!(e.flag, "oracle-password-file");
            assert_eq!(e.value, path.display().to_string());
            assert!(e.reason.contains(why), "{e}");
        }
    }
}
