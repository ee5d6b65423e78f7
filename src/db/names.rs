//! The names the operator knows the adapters' settings by. Whoever reads the settings (the
//! service's `server`) fills them in, so that an adapter's advice names what to fix while
//! the adapters themselves know no flag or variable. Shared by both ports: the Oracle store
//! logs in with the same connection settings as the Oracle source.

/// The environment variables of the settings the adapters' messages advise about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingNames {
    /// The attempt timeout of a job run.
    pub job_timeout: String,
    /// The SQLite database file.
    pub sqlite_path: String,
    /// Whether the demo database is created at the SQLite path.
    pub sqlite_create_demo: String,
    /// The Oracle connect string.
    pub oracle_connect_string: String,
    /// The Oracle user.
    pub oracle_user: String,
    /// The Oracle password.
    pub oracle_password: String,
    /// The file holding the Oracle password.
    pub oracle_password_file: String,
    /// The directory of the Oracle Client library.
    pub oracle_client_lib_dir: String,
    /// The most sessions of the Oracle pool.
    pub oracle_pool_max: String,
    /// The Oracle call timeout.
    pub oracle_call_timeout: String,
    /// Which snapshot store is used (`sqlite` or `oracle`).
    pub store: String,
}

impl SettingNames {
    /// `template` with each `{field}` (a field of this struct) replaced by its name.
    pub fn fill(&self, template: &str) -> String {
        [
            ("{job_timeout}", &self.job_timeout),
            ("{sqlite_path}", &self.sqlite_path),
            ("{sqlite_create_demo}", &self.sqlite_create_demo),
            ("{oracle_connect_string}", &self.oracle_connect_string),
            ("{oracle_user}", &self.oracle_user),
            ("{oracle_password}", &self.oracle_password),
            ("{oracle_password_file}", &self.oracle_password_file),
            ("{oracle_client_lib_dir}", &self.oracle_client_lib_dir),
            ("{oracle_pool_max}", &self.oracle_pool_max),
            ("{oracle_call_timeout}", &self.oracle_call_timeout),
            ("{store}", &self.store),
        ]
        .into_iter()
        .fold(template.to_owned(), |text, (field, name)| {
            text.replace(field, name)
        })
    }

    /// The service's names, for the adapters' own tests (which cannot ask the settings);
    /// `server`'s tests check that they are the ones it hands over.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        Self {
            job_timeout: "RADAR_JOB_TIMEOUT_SECS".into(),
            sqlite_path: "RADAR_SQLITE_PATH".into(),
            sqlite_create_demo: "RADAR_SQLITE_CREATE_DEMO".into(),
            oracle_connect_string: "RADAR_ORACLE_CONNECT_STRING".into(),
            oracle_user: "RADAR_ORACLE_USER".into(),
            oracle_password: "RADAR_ORACLE_PASSWORD".into(),
            oracle_password_file: "RADAR_ORACLE_PASSWORD_FILE".into(),
            oracle_client_lib_dir: "RADAR_ORACLE_CLIENT_LIB_DIR".into(),
            oracle_pool_max: "RADAR_ORACLE_POOL_MAX".into(),
            oracle_call_timeout: "RADAR_ORACLE_CALL_TIMEOUT_SECS".into(),
            store: "RADAR_STORE".into(),
        }
    }
}
