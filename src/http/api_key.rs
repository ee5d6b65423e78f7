//! Who may call the ANEEL endpoint: callers presenting one of the configured `x-api-key`
//! values (compared in constant time), or, when no key is configured, loopback clients only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Shortest accepted key: anything shorter is guessable.
pub const MIN_KEY_LEN: usize = 16;

/// One accepted key: a name for the logs, and the secret.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Shown in the request log instead of the key.
    pub id: String,
    /// The value callers send in `x-api-key`.
    pub secret: SecretString,
}

/// The accepted keys (several at once, so one can be rotated without downtime).
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Keys are configured and the request has no `x-api-key`.
    MissingKey,
    /// The `x-api-key` matches no configured key.
    WrongKey,
    /// No key is configured and the client is not on the loopback interface.
    NotLoopback,
}

/// The key id logged for clients let in without a key (no key configured, loopback).
pub const LOOPBACK_ID: &str = "loopback";

impl ApiKeys {
    /// Parses keys from a setting or a file: entries separated by commas or new lines,
    /// each `id:secret` or just `secret` (then named `key-N` by position); blank lines and
    /// lines starting with `#` are ignored. The error never contains a secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys: Vec<ApiKey> = Vec::new();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (n, entry) in entries.enumerate() {
            let (id, secret) = match entry.split_once(':') {
                Some((id, secret)) => (id.trim().to_owned(), secret.trim()),
                None => (format!("key-{}", n + 1), entry),
            };
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                // The id is not shown: it may be part of a secret that contains a `:`.
                return Err(format!(
                    "key {} has an invalid id (the text before its first `:`): use letters, \
                     digits, `.`, `_`, `-`",
                    n + 1
                ));
            }
            if secret.len() < MIN_KEY_LEN || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "key {id:?} must be at least {MIN_KEY_LEN} visible ASCII characters \
                     without spaces"
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("key id {id:?} appears twice"));
            }
            keys.push(ApiKey {
                id,
                secret: SecretString::from(secret.to_owned()),
            });
        }
        Ok(Self { keys })
    }

    /// Both lists together.
    pub fn merged(mut self, other: ApiKeys) -> Result<Self, String> {
        for key in other.keys {
            if self.keys.iter().any(|k| k.id == key.id) {
                return Err(format!("key id {:?} appears twice", key.id));
            }
            self.keys.push(key);
        }
        Ok(self)
    }

    /// Whether no key is configured (then only loopback clients are answered).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The configured key ids (for the start-up log).
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Lets the request in, naming the key it used, or says why not. Every configured key
    /// is compared, in constant time, whatever matched first.
    pub fn authorize(&self, peer: IpAddr, presented: Option<&[u8]>) -> Result<&str, Denial> {
        if self.keys.is_empty() {
            return if peer.to_canonical().is_loopback() {
                Ok(LOOPBACK_ID)
            } else {
                Err(Denial::NotLoopback)
            };
        }
        let presented = presented.ok_or(Denial::MissingKey)?;
        let mut matched = None;
        for key in &self.keys {
            let equal: bool = key
                .secret
                .expose_secret()
                .as_bytes()
                .ct_eq(presented)
                .into();
            if equal {
                matched = Some(key.id.as_str());
            }
        }
        matched.ok_or(Denial::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaa-2026";
    const B: &str = "bbbbbbbbbbbbbbbb-2027";

    fn local() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    fn remote() -> IpAddr {
        "10.1.2.3".parse().unwrap()
    }

    #[test]
    fn without_keys_only_loopback_clients_are_let_in() {
        let keys = ApiKeys::default();
        assert_eq!(keys.authorize(local(), None), Ok(LOOPBACK_ID));
        assert_eq!(
            keys.authorize("::1".parse().unwrap(), None),
            Ok(LOOPBACK_ID)
        );
        assert_eq!(
            keys.authorize("::ffff:127.0.0.1".parse().unwrap(), None),
            Ok(LOOPBACK_ID)
        );
        assert_eq!(keys.authorize(remote(), None), Err(Denial::NotLoopback));
        assert_eq!(
            keys.authorize(remote(), Some(A.as_bytes())),
            Err(Denial::NotLoopback)
        );
    }

    #[test]
    fn with_keys_every_client_needs_one_and_any_configured_key_works() {
        let keys = ApiKeys::parse(&format!("aneel-2026:{A}, aneel-2027:{B}")).unwrap();
        assert_eq!(keys.ids(), ["aneel-2026", "aneel-2027"]);
        assert_eq!(keys.authorize(local(), None), Err(Denial::MissingKey));
        assert_eq!(
            keys.authorize(remote(), Some(A.as_bytes())),
            Ok("aneel-2026")
        );
        assert_eq!(
            keys.authorize(remote(), Some(B.as_bytes())),
            Ok("aneel-2027")
        );
        assert_eq!(
            keys.authorize(remote(), Some(&A.as_bytes()[..A.len() - 1])),
            Err(Denial::WrongKey)
        );
        assert_eq!(keys.authorize(remote(), Some(b"")), Err(Denial::WrongKey));
    }

    #[test]
    fn a_file_has_one_key_per_line_with_comments_and_unnamed_keys_are_numbered() {
        let keys = ApiKeys::parse(&format!("# ANEEL\n{A}\n\n  {B}  \n")).unwrap();
        assert_eq!(keys.ids(), ["key-1", "key-2"]);
        let merged = keys
            .merged(ApiKeys::parse(&format!("next:{A}x")).unwrap())
            .unwrap();
        assert_eq!(merged.ids(), ["key-1", "key-2", "next"]);
    }

    #[test]
    fn bad_keys_are_refused_without_showing_the_secret() {
        for (text, want) in [
            ("short", "at least 16"),
            ("id:has a space in it 1234", "visible ASCII"),
            ("bad id:aaaaaaaaaaaaaaaaaaaa", "invalid id"),
            (":aaaaaaaaaaaaaaaaaaaa", "invalid id"),
            (
                "x:aaaaaaaaaaaaaaaaaaaa,x:bbbbbbbbbbbbbbbbbbbb",
                "appears twice",
            ),
        ] {
            let e = ApiKeys::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
            assert!(
                !e.contains("aaaaaaaaaaaaaaaa") && !e.contains("short"),
                "{e}"
            );
        }
    }
}

/// The keys in force: those of the setting, plus those of the key file, which is read again
/// by [`reload`](Self::reload) so that a rotated Secret takes effect without a restart.
#[derive(Debug)]
pub struct KeyStore {
    fixed: ApiKeys,
    file: Option<PathBuf>,
    state: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    keys: Arc<ApiKeys>,
    /// The file's text the keys came from (it holds secrets).
    text: SecretString,
}

/// How often the key file is read again.
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for KeyStore {
    /// No key: loopback clients only.
    fn default() -> Self {
        Self::from(ApiKeys::default())
    }
}

impl From<ApiKeys> for KeyStore {
    fn from(keys: ApiKeys) -> Self {
        Self {
            fixed: keys.clone(),
            file: None,
            state: RwLock::new(Loaded {
                keys: Arc::new(keys),
                text: SecretString::default(),
            }),
        }
    }
}

impl KeyStore {
    /// `fixed` plus the keys of `file`, which must hold at least one.
    pub fn with_file(fixed: ApiKeys, file: PathBuf) -> Result<Self, String> {
        let (keys, text) = Self::load(&fixed, &file)?;
        Ok(Self {
            fixed,
            file: Some(file),
            state: RwLock::new(Loaded {
                keys: Arc::new(keys),
                text,
            }),
        })
    }

    fn load(fixed: &ApiKeys, file: &Path) -> Result<(ApiKeys, SecretString), String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
        let from_file = ApiKeys::parse(&text)?;
        if from_file.is_empty() {
            return Err("it holds no key".to_owned());
        }
        Ok((fixed.clone().merged(from_file)?, SecretString::from(text)))
    }

    /// The key file, if keys come from one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The keys in force now.
    pub fn current(&self) -> Arc<ApiKeys> {
        self.state.read().expect("key store lock").keys.clone()
    }

    /// Reads the key file again. `Ok(true)` when the keys changed; on error the keys in
    /// force stay (a half-written or emptied file never locks ANEEL out).
    pub fn reload(&self) -> Result<bool, String> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
        if text
            == self
                .state
                .read()
                .expect("key store lock")
                .text
                .expose_secret()
        {
            return Ok(false);
        }
        let (keys, text) = Self::load(&self.fixed, file)?;
        *self.state.write().expect("key store lock") = Loaded {
            keys: Arc::new(keys),
            text,
        };
        Ok(true)
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    const OLD: &str = "old-key-aaaaaaaaaaaaaaaa";
    const NEW: &str = "new-key-bbbbbbbbbbbbbbbb";

    #[test]
    fn a_rewritten_key_file_takes_effect_and_a_broken_one_keeps_the_keys_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("old:{OLD}\n")).unwrap();
        let fixed = ApiKeys::parse("fixed:fixed-key-cccccccccccc").unwrap();
        let store = KeyStore::with_file(fixed, path.clone()).unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(store.current().ids(), ["fixed", "old"]);
        assert_eq!(store.reload(), Ok(false), "unchanged");

        // Rotation: both keys for a while, then only the new one.
        std::fs::write(&path, format!("old:{OLD}\nnew:{NEW}\n")).unwrap();
        assert_eq!(store.reload(), Ok(true));
        assert_eq!(
            store.current().authorize(ip, Some(NEW.as_bytes())),
            Ok("new")
        );
        std::fs::write(&path, format!("new:{NEW}\n")).unwrap();
        assert_eq!(store.reload(), Ok(true));
        assert_eq!(
            store.current().authorize(ip, Some(OLD.as_bytes())),
            Err(Denial::WrongKey)
        );

        for broken in ["", "new:short\n"] {
            std::fs::write(&path, broken).unwrap();
            assert!(store.reload().is_err(), "{broken:?}");
            assert_eq!(store.current().ids(), ["fixed", "new"]);
        }
        std::fs::remove_file(&path).unwrap();
        assert!(store.reload().unwrap_err().contains("cannot read it"));
        assert_eq!(
            store.current().authorize(ip, Some(NEW.as_bytes())),
            Ok("new")
        );
    }
}
