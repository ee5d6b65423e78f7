//! The `radar-interrupcoes` binary as a process: started in a clean environment (no
//! RADAR_* or OTEL_* from the developer's shell), logging JSON, with its log lines
//! collected.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_radar-interrupcoes");

/// The binary in a clean environment: no RADAR_* from the developer's shell.
pub fn command() -> Command {
    clean(Command::new(BIN))
}

/// `cmd` without the developer's RADAR_* and OTEL_* variables, logging JSON.
pub fn clean(mut cmd: Command) -> Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("RADAR_") || key.starts_with("OTEL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RADAR_LOG_FORMAT", "json")
        // Never the default ports: other services (and tests) may hold them.
        .env("RADAR_ANEEL_LISTEN_ADDR", "127.0.0.1:0")
        .env("RADAR_METRICS_LISTEN_ADDR", "127.0.0.1:0");
    cmd
}

/// A running service whose log lines are collected.
pub struct Service {
    /// The process.
    pub child: Child,
    /// Its standard error, line by line.
    pub logs: Arc<Mutex<Vec<String>>>,
    /// The gRPC listener's address.
    pub addr: String,
}

impl Service {
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .env("RADAR_LISTEN_ADDR", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found = logs.lock().unwrap().iter().find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).ok()?;
                (v["message"] == "gRPC server listening")
                    .then(|| v["addr"].as_str().unwrap().to_owned())
            });
            if let Some(addr) = found {
                break addr;
            }
            assert!(
                Instant::now() < deadline,
                "no listening line: {:?}",
                logs.lock().unwrap()
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "exited: {:?}",
                logs.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, logs, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn health(&self, service: &str) -> ServingStatus {
        let channel = tonic::transport::Channel::from_shared(self.url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = HealthClient::new(channel);
        let status = client
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        ServingStatus::try_from(status).unwrap()
    }

    /// Waits until the data service is SERVING (its first warm-up done; at most 120 s, a
    /// bound against hanging, not a timing assertion).
    pub async fn wait_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self
            .health("radar.interrupcoes.v1.InterrupcoesService")
            .await
            != ServingStatus::Serving
        {
            assert!(Instant::now() < deadline, "never SERVING: {}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The JSON log lines.
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The JSON log lines at `level` (`ERROR`, `WARN`, ...).
    pub fn lines_at(&self, level: &str) -> Vec<serde_json::Value> {
        self.json_logs()
            .into_iter()
            .filter(|v| v["level"] == level)
            .collect()
    }

    /// The `addr` of the log line `message` (waits for it).
    pub fn addr_logged(&self, message: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.json_logs().into_iter().find_map(|v| {
                (v["message"] == message).then(|| v["addr"].as_str().unwrap().to_owned())
            });
            if let Some(addr) = found {
                return addr;
            }
            assert!(Instant::now() < deadline, "no {message:?}: {}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
