//! End-to-end tests of the `radar-interrupcoes` binary: settings errors, the embedded demo
//! database, the Oracle source without a client library, and SIGTERM.

mod process;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use process::{BIN, Service, clean, command};

use radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasRequest;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::proto::scheduler::v1::ListJobsRequest;
use radar_interrupcoes::proto::scheduler::v1::scheduler_admin_client::SchedulerAdminClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[test]
fn invalid_settings_stop_start_up_naming_the_setting_and_value() {
    let cases = [
        ("RADAR_LISTEN_ADDR", "localhost:http", "RADAR_LISTEN_ADDR"),
        ("RADAR_WARMUP_CRON", "every 30 minutes", "RADAR_WARMUP_CRON"),
        ("RADAR_SOURCE", "oracle", "RADAR_ORACLE_CONNECT_STRING"),
        ("RADAR_SOURCE", "postgres", "expected `sqlite` or `oracle`"),
        ("RADAR_STORE", "redis", "expected `sqlite` or `oracle`"),
        (
            "RADAR_ANEEL_LISTEN_ADDR",
            "any:8080",
            "RADAR_ANEEL_LISTEN_ADDR",
        ),
        (
            "RADAR_METRICS_LISTEN_ADDR",
            "9464",
            "RADAR_METRICS_LISTEN_ADDR",
        ),
        (
            "RADAR_JOB_RETRY_BACKOFF_MS",
            "18446744073709551615",
            "RADAR_JOB_RETRY_BACKOFF_MS",
        ),
        ("RADAR_JOB_TIMEOUT_SECS", "86400", "RADAR_JOB_TIMEOUT_SECS"),
        ("RADAR_MAX_CONNECTIONS", "0", "RADAR_MAX_CONNECTIONS"),
        (
            "RADAR_ANEEL_SOURCE_RANGES",
            "203.0.113.0/24,anywhere",
            "RADAR_ANEEL_SOURCE_RANGES",
        ),
        (
            "RADAR_ANEEL_TRUSTED_PROXIES",
            "10.0.0.0/33",
            "RADAR_ANEEL_TRUSTED_PROXIES",
        ),
    ];
    for (var, value, named) in cases {
        let out = command().env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{var}={value}: {stderr}");
        if var == "RADAR_ANEEL_API_KEYS" {
            assert!(!stderr.contains("tooShort"), "a secret was shown: {stderr}");
        } else if (var, value) != ("RADAR_SOURCE", "oracle") {
            assert!(stderr.contains(value), "{var}={value}: {stderr}");
        }
    }
}

/// A weekly cron (UTC) firing at midnight on the weekday `days` from today.
fn weekly_cron_days_away(days: i64) -> String {
    use chrono::Datelike as _;
    let day = (chrono::Utc::now() + chrono::Duration::days(days)).weekday();
    format!("0 0 * * {}", day.num_days_from_sunday())
}

#[test]
fn a_schedule_slower_than_the_hard_limit_stops_start_up_naming_both_settings() {
    let out = command()
        .env("RADAR_WARMUP_CRON", "0 0 * * *")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for named in [
        "RADAR_WARMUP_CRON",
        "RADAR_STALE_HARD_LIMIT_SECS (7200 s)",
        "86400 s (1 d)",
    ] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    // A weekly schedule under the longest limit starts: the DPI-1047 test below runs one.
}

/// Runs `cmd` to its exit (at most 30 s) and returns the exit code and stderr.
fn run_to_exit(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_port_in_use_stops_start_up_with_exit_code_2_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for setting in [
        "RADAR_LISTEN_ADDR",
        "RADAR_ANEEL_LISTEN_ADDR",
        "RADAR_METRICS_LISTEN_ADDR",
    ] {
        let mut cmd = command();
        cmd.current_dir(dir.path())
            .env("RADAR_LISTEN_ADDR", "127.0.0.1:0")
            .env(setting, &addr);
        let (code, stderr) = run_to_exit(cmd);
        assert_eq!(code, Some(2), "{setting}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid setting {setting}")) && stderr.contains(&addr),
            "{setting}: {stderr}"
        );
    }
}

#[test]
fn an_empty_address_turns_an_http_listener_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .env("RADAR_ANEEL_LISTEN_ADDR", "")
        .env("RADAR_METRICS_LISTEN_ADDR", "");
    let service = Service::start(cmd);
    // The HTTP listeners would be logged before the scheduler starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !service.logs().contains("scheduler started") {
        assert!(Instant::now() < deadline, "{}", service.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = service.logs();
    assert!(!logs.contains("HTTP server listening"), "{logs}");
    assert_eq!(service.terminate(), Some(0));
}

#[tokio::test]
async fn the_aneel_endpoint_logs_each_request_once_without_the_key_and_stops_after_not_serving() {
    let secret = "Rotating-Key-2026-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .env("RADAR_ANEEL_API_KEYS", format!("aneel-2026:{secret}"));
    let service = Service::start(cmd);
    let aneel = service.addr_logged("ANEEL HTTP server listening");
    let ops = service.addr_logged("operations HTTP server listening");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let readyz = client
            .get(format!("http://{ops}/readyz"))
            .send()
            .await
            .unwrap();
        if readyz.status() == reqwest::StatusCode::OK {
            break;
        }
        assert_eq!(readyz.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "never ready: {}", service.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let url = format!("http://{aneel}/quantitativointerrupcoesativas");
    let ok = client
        .get(&url)
        .header("x-api-key", secret)
        .header("x-request-id", "aneel-poll-42")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), reqwest::StatusCode::OK);
    assert_eq!(ok.headers()["x-request-id"], "aneel-poll-42");
    let json: serde_json::Value = serde_json::from_slice(&ok.bytes().await.unwrap()).unwrap();
    assert!(json["interrupcaoFornecimento"].as_array().unwrap().len() >= 10);
    let denied = client.get(&url).send().await.unwrap();
    assert_eq!(denied.status(), reqwest::StatusCode::UNAUTHORIZED);
    let generated = denied.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // The key in the query string instead of the header: refused, and not logged.
    let in_query = client
        .get(format!(
            "{url}?x-api-key={secret}&dthRecuperacao=28%2F11%2F2026+14%3A30&{secret}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), reqwest::StatusCode::UNAUTHORIZED);

    let requests = |service: &Service| -> Vec<serde_json::Value> {
        service
            .json_logs()
            .into_iter()
            .filter(|v| v["message"] == "aneel request")
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while requests(&service).len() < 3 {
        assert!(Instant::now() < deadline, "{}", service.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = requests(&service);
    assert_eq!(lines.len(), 3, "one line per request: {lines:#?}");
    let (first, second, third) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/quantitativointerrupcoesativas");
    assert_eq!(first["status"], 200);
    assert_eq!(first["key_id"], "aneel-2026");
    assert!(first["duration_ms"].is_u64(), "{first}");
    assert_eq!(first["client"], "127.0.0.1", "{first}");
    assert!(
        first["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{first}"
    );
    // Each layer's decision: no allow-list by default, the default rate limit counted it.
    assert_eq!(first["allow_list"], "off", "{first}");
    assert_eq!(first["rate_limit"], "counted", "{first}");
    assert_eq!(first["rate_remaining"], 9, "{first}");
    assert_eq!(second["status"], 401);
    assert_eq!(second["key_id"], "-");
    assert_eq!(second["rate_limit"], "-", "refused before it: {second}");
    assert_eq!(third["status"], 401);
    assert_eq!(
        third["query"], "x-api-key=[redacted]&dthRecuperacao=28%2F11%2F2026+14%3A30&[redacted]",
        "only the endpoint's own parameter keeps its value: {third}"
    );
    // The request's log line names the id its answer carried.
    assert_eq!(first["request_id"], "aneel-poll-42");
    assert_eq!(second["request_id"], generated.as_str());
    assert!(
        !service.logs().contains(secret),
        "the key leaked into the logs"
    );

    let all = service.logs.clone();
    assert_eq!(service.terminate(), Some(0));
    // Same order as the gRPC server: NOT_SERVING, the scheduler stops, then the HTTP
    // servers drain and stop, then the process.
    let lines: Vec<serde_json::Value> = all
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let position = |what: &dyn Fn(&serde_json::Value) -> bool| {
        lines
            .iter()
            .position(what)
            .unwrap_or_else(|| panic!("missing log line in {lines:#?}"))
    };
    let not_serving = position(&|v| {
        v["message"] == "health status changed"
            && v["service"] == ""
            && v["status"] == "NOT_SERVING"
    });
    let scheduler_stopped = position(&|v| v["message"] == "scheduler stopped");
    let aneel_stopped =
        position(&|v| v["message"] == "HTTP server stopped" && v["server"] == "ANEEL HTTP server");
    let ops_stopped = position(&|v| {
        v["message"] == "HTTP server stopped" && v["server"] == "operations HTTP server"
    });
    let stopped = position(&|v| v["message"] == "stopped");
    assert!(not_serving < scheduler_stopped, "{lines:#?}");
    assert!(scheduler_stopped < aneel_stopped, "{lines:#?}");
    assert!(scheduler_stopped < ops_stopped, "{lines:#?}");
    assert!(aneel_stopped.max(ops_stopped) < stopped, "{lines:#?}");
}

#[test]
fn a_missing_database_at_a_configured_path_fails_instead_of_serving_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oms-copy.sqlite");
    let mut cmd = command();
    cmd.env("RADAR_SQLITE_PATH", &path);
    let service = Service::start(cmd);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !service.logs().contains("RADAR_SQLITE_PATH") {
        assert!(Instant::now() < deadline, "{}", service.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!path.exists(), "no demo database at a configured path");
    assert_eq!(service.terminate(), Some(0));
}

#[test]
fn generate_demo_writes_a_database_of_the_requested_scale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/demo.sqlite");
    let out = command()
        .env("RADAR_SQLITE_PATH", &path)
        .args(["generate-demo", "--scale", "0.02"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("premises"), "{stdout}");
    assert!(
        stdout.contains(&path.display().to_string()),
        "prints the path it wrote: {stdout}"
    );
    assert!(path.exists());
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn usage_errors_exit_2_and_print_once() {
    let out = command()
        .args(["generate-demo", "--scale", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(occurrences(&stderr, "--scale"), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A port in use: the listen address is the setting to fix.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = command().env("RADAR_LISTEN_ADDR", &addr).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(occurrences(&stderr, "cannot listen on it"), 1, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("cannot listen on it"))
        .unwrap();
    assert!(
        line.contains("RADAR_LISTEN_ADDR") && line.contains(&addr),
        "{line}"
    );
    assert_eq!(occurrences(&stderr, "\"ERROR\""), 1, "{stderr}");

    // clap's own usage errors (an unknown flag) exit 2 as well.
    let out = command()
        .args(["generate-demo", "--listen-addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `radar-interrupcoes ARGS --help`, as text.
fn help(args: &[&str]) -> String {
    let out = command().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn each_subcommand_shows_only_its_own_options() {
    let top = help(&[]);
    assert!(
        top.lines()
            .next()
            .unwrap()
            .contains("consumer units without power"),
        "a one-line description of the service: {top}"
    );
    for subcommand in ["serve", "generate-demo", "check-oracle", "completions"] {
        assert!(top.contains(subcommand), "{top}");
    }
    // `help` answers its own --help, and `help SUBCOMMAND` is the subcommand's --help.
    assert_eq!(help(&["help"]), top);
    let out = command().args(["help", "generate-demo"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        help(&["generate-demo"])
    );

    let serve = help(&["serve"]);
    for flag in [
        "--listen-addr",
        "--sqlite-path",
        "--oracle-connect-string",
        "--warmup-cron",
    ] {
        assert!(serve.contains(flag), "serve lists {flag}: {serve}");
    }
    // Each setting with its variable, and the backends' names with their help.
    assert!(serve.contains("[env: RADAR_WARMUP_CRON=]"), "{serve}");
    assert!(
        serve.contains("Data source: `sqlite` (embedded) or `oracle` (production)"),
        "{serve}"
    );

    let demo = help(&["generate-demo"]);
    assert!(
        demo.contains("--sqlite-path") && demo.contains("--scale"),
        "{demo}"
    );
    for flag in [
        "--listen-addr",
        "--source",
        "--oracle-",
        "--warmup-cron",
        "--agency-id",
    ] {
        assert!(!demo.contains(flag), "generate-demo lists {flag}: {demo}");
    }

    let check = help(&["check-oracle"]);
    assert!(check.contains("--oracle-connect-string"), "{check}");
    for flag in [
        "--sqlite-path",
        "--listen-addr",
        "--source",
        "--warmup-cron",
        "--scale",
    ] {
        assert!(!check.contains(flag), "check-oracle lists {flag}: {check}");
    }
}

#[test]
fn version_shows_the_crate_version_and_the_revision_of_the_image_tag() {
    let out = command().arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = String::from_utf8(out.stdout).unwrap();
    let crate_version = env!("CARGO_PKG_VERSION");
    let revision = version
        .trim()
        .strip_prefix(&format!("radar-interrupcoes {crate_version} (git "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{version}"));
    let tag = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/image-tag"))
        .output()
        .unwrap();
    assert!(
        tag.status.success(),
        "{}",
        String::from_utf8_lossy(&tag.stderr)
    );
    let tag = String::from_utf8(tag.stdout).unwrap();
    // Whether the tree is dirty may have changed since the build (a README edit); the
    // commit may not.
    let commit = |s: &str| s.trim().trim_end_matches("-dirty").to_owned();
    assert_eq!(commit(&tag), commit(&format!("{crate_version}-{revision}")));
    assert_eq!(commit(revision).len(), 12, "{revision}");
}

#[test]
fn completions_print_a_script_for_the_shell() {
    let out = command().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("complete -F _radar__interrupcoes"),
        "{script}"
    );
    assert!(script.contains("generate-demo"), "{script}");
    assert!(script.contains("--sqlite-path"), "{script}");
    // bash reads it without a syntax error.
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut bash.stdin.take().unwrap(), script.as_bytes()).unwrap();
    assert!(bash.wait().unwrap().success());

    let out = command().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tcsh") && stderr.contains("bash, elvish, fish, powershell, zsh"),
        "the message names the shells there are: {stderr}"
    );
}

/// Completion in bash itself, as a user's TAB runs it: a subcommand's flag completes
/// (`serve --log-f` to `--log-format`, `generate-demo --sc` to `--scale`), and so do the
/// subcommands and a flag's values.
#[test]
fn bash_completes_the_flags_of_a_subcommand() {
    let out = command().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("radar-interrupcoes.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // What bash's programmable completion does on TAB: set COMP_WORDS and COMP_CWORD and
    // call the function `complete -p` names with the command, the word and the one before.
    let complete = |words: &[&str]| -> Vec<String> {
        let line = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let program = format!(
            r#"source "$1"
COMP_WORDS=({line}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
function=$(complete -p radar-interrupcoes | sed -E 's/.*-F ([^ ]+) .*/\1/')
"$function" radar-interrupcoes "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
        );
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program, "bash"])
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        complete(&["radar-interrupcoes", "serve", "--log-f"]),
        ["--log-format"]
    );
    assert_eq!(
        complete(&["radar-interrupcoes", "generate-demo", "--sc"]),
        ["--scale"]
    );
    assert_eq!(
        complete(&["radar-interrupcoes", "check-oracle", "--oracle-us"]),
        ["--oracle-user"]
    );
    assert_eq!(complete(&["radar-interrupcoes", "gen"]), ["generate-demo"]);
    assert_eq!(
        complete(&["radar-interrupcoes", "serve", "--log-format", ""]),
        ["plain", "json"]
    );
    // The backends' names come from the wiring's list.
    assert_eq!(
        complete(&["radar-interrupcoes", "serve", "--source", ""]),
        ["sqlite", "oracle"]
    );
    assert_eq!(
        complete(&["radar-interrupcoes", "serve", "--store", "o"]),
        ["oracle"]
    );
}

#[tokio::test]
async fn the_default_run_creates_the_demo_database_serves_it_and_exits_zero_on_sigterm() {
    // No setting at all: the documented default path, relative to the working directory.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/radar-interrupcoes-demo.sqlite");
    let mut cmd = command();
    cmd.current_dir(dir.path());
    let service = Service::start(cmd);

    let deadline = Instant::now() + Duration::from_secs(60);
    while service.health("").await != ServingStatus::Serving {
        assert!(
            Instant::now() < deadline,
            "never SERVING: {}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(path.exists(), "the demo database was created");
    let mut data = InterrupcoesServiceClient::connect(service.url())
        .await
        .unwrap();
    let answer = data
        .get_quantitativo_interrupcoes_ativas(GetQuantitativoInterrupcoesAtivasRequest::default())
        .await
        .unwrap()
        .into_inner();
    let items = answer.resposta.unwrap().interrupcao_fornecimento;
    assert!(
        items.len() >= 10,
        "the demo has real aggregated rows: {}",
        items.len()
    );
    assert!(
        items
            .iter()
            .all(|i| (1_400_000..1_500_000).contains(&i.ide_municipio))
    );
    assert_eq!(answer.snapshot.unwrap().source, "sqlite");

    let logs = service.logs();
    assert!(
        logs.contains("\"cache_key\":\"interrupcoes:ativas:v1\""),
        "{logs}"
    );
    assert!(logs.contains("\"duration_ms\""), "{logs}");
    // Span fields at the top level of the JSON line.
    let replaced = service
        .lines_at("INFO")
        .into_iter()
        .find(|v| v["message"] == "snapshot replaced")
        .unwrap_or_else(|| panic!("no snapshot replaced line: {logs}"));
    assert_eq!(replaced["job"], "interrupcao_cache_warmup", "{logs}");
    assert_eq!(replaced["cache_key"], "interrupcoes:ativas:v1", "{logs}");
    assert!(replaced["run_id"].is_u64(), "{logs}");
    // The scheduler library's internals stay below the default level.
    assert!(!logs.contains("tokio_cron_scheduler"), "{logs}");
    let lines = service.logs.clone();
    assert_eq!(service.terminate(), Some(0));

    // Shutdown order: health NOT_SERVING first, then the scheduler, then the server.
    let lines = lines.lock().unwrap().clone();
    let position = |what: &dyn Fn(&serde_json::Value) -> bool| {
        lines
            .iter()
            .position(|l| serde_json::from_str(l).is_ok_and(|v: serde_json::Value| what(&v)))
            .unwrap_or_else(|| panic!("missing log line in {lines:#?}"))
    };
    let changed = |v: &serde_json::Value, service: &str, status: &str| {
        v["message"] == "health status changed" && v["service"] == service && v["status"] == status
    };
    // The protocol's spelling, as grpcurl and /readyz show it.
    let serving = position(&|v| changed(v, "", "SERVING"));
    let not_serving = position(&|v| changed(v, "", "NOT_SERVING"));
    let scheduler_stopped = position(&|v| v["message"] == "scheduler stopped");
    let stopped = position(&|v| v["message"] == "stopped");
    assert!(serving < not_serving, "{lines:#?}");
    assert!(not_serving < scheduler_stopped, "{lines:#?}");
    assert!(scheduler_stopped < stopped, "{lines:#?}");
}

#[tokio::test]
async fn oracle_without_a_client_library_stays_up_not_serving_and_explains_dpi_1047() {
    let password = "Sup3r-Secret-Pw";
    let mut cmd = command();
    cmd.env("RADAR_SOURCE", "oracle")
        .env("RADAR_ORACLE_CONNECT_STRING", "127.0.0.1:1/RADAR")
        .env("RADAR_ORACLE_USER", "radar_app")
        .env("RADAR_ORACLE_PASSWORD", password)
        .env("RADAR_STARTUP_RETRY_MAX_SECS", "1")
        // No cron run during the test: only the start-up run may touch the source. A weekly
        // run, three days away, is the slowest schedule the longest hard limit (7 days)
        // accepts.
        .env("RADAR_WARMUP_CRON", weekly_cron_days_away(3))
        .env("RADAR_TIME_ZONE", "UTC")
        .env("RADAR_STALE_HARD_LIMIT_SECS", "604800")
        .env_remove("LD_LIBRARY_PATH");
    let service = Service::start(cmd);

    let mut admin = SchedulerAdminClient::connect(service.url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let jobs = admin
            .list_jobs(ListJobsRequest {})
            .await
            .unwrap()
            .into_inner();
        let job = jobs.jobs.into_iter().next().unwrap();
        if job.total_failures >= 1 {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "no failed runs: {}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let error = &job.last_run.as_ref().unwrap().error;
    assert!(error.contains("DPI-1047"), "{error}");
    assert!(error.contains("RADAR_ORACLE_CLIENT_LIB_DIR"), "{error}");
    assert_eq!(
        service
            .health("radar.interrupcoes.v1.InterrupcoesService")
            .await,
        ServingStatus::NotServing
    );
    assert_eq!(service.health("").await, ServingStatus::NotServing);
    assert_eq!(
        service.health("radar.scheduler.v1.SchedulerAdmin").await,
        ServingStatus::Serving
    );

    let mut data = InterrupcoesServiceClient::connect(service.url())
        .await
        .unwrap();
    let status = data
        .get_quantitativo_interrupcoes_ativas(GetQuantitativoInterrupcoesAtivasRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("DPI-1047"),
        "{}",
        status.message()
    );
    // The failure is permanent and is not retried: the answer must not say "retrying".
    assert!(
        !status.message().contains("retrying") && status.message().contains("not retried"),
        "{}",
        status.message()
    );

    // A permanent failure is not retried in a loop: the process waits, up and healthy.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let jobs = admin
        .list_jobs(ListJobsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jobs.jobs[0].total_runs, 1, "{}", service.logs());
    assert!(jobs.scheduler_running);

    let logs = service.logs();
    assert!(logs.contains("DPI-1047"), "the failure is logged");
    // One failure, one error line, with the true state: there is no snapshot to keep.
    let errors = service.lines_at("ERROR");
    assert_eq!(errors.len(), 1, "{logs}");
    let error = &errors[0];
    assert_eq!(error["message"], "job run failed", "{logs}");
    assert_eq!(error["job"], "interrupcao_cache_warmup", "{logs}");
    assert!(
        error["error"].as_str().unwrap().contains("DPI-1047"),
        "{logs}"
    );
    assert!(
        error["state"]
            .as_str()
            .unwrap()
            .starts_with("no snapshot yet"),
        "{logs}"
    );
    assert!(!logs.contains("keeping the last good snapshot"), "{logs}");
    assert!(
        !logs.contains("retrying"),
        "a permanent failure is not retried: {logs}"
    );
    assert!(
        !logs.contains(password),
        "the password leaked into the logs"
    );
    assert!(!format!("{job:?}").contains(password));
    assert_eq!(service.terminate(), Some(0), "still up, and exits cleanly");
}

#[test]
fn check_oracle_without_a_client_library_exits_non_zero_with_the_reason() {
    let password = "Sup3r-Secret-Pw";
    let out = command()
        .env("RADAR_SOURCE", "oracle")
        .env("RADAR_ORACLE_CONNECT_STRING", "127.0.0.1:1/RADAR")
        .env("RADAR_ORACLE_USER", "radar_app")
        .env("RADAR_ORACLE_PASSWORD", password)
        .env_remove("LD_LIBRARY_PATH")
        .arg("check-oracle")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DPI-1047"), "{stderr}");
    assert!(stderr.contains("RADAR_ORACLE_CLIENT_LIB_DIR"), "{stderr}");
    assert!(!stderr.contains(password), "the password leaked: {stderr}");

    // check-oracle checks Oracle whatever RADAR_SOURCE says; without its settings it is a
    // usage error naming the first missing one.
    let out = command().arg("check-oracle").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RADAR_ORACLE_CONNECT_STRING"));
}

#[test]
fn plain_logs_to_a_pipe_have_no_escape_codes_and_quote_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oms copy.sqlite");
    let mut child = command()
        .env("RADAR_LOG_FORMAT", "plain")
        .env("RADAR_LISTEN_ADDR", "127.0.0.1:0")
        .env("RADAR_SQLITE_PATH", &path)
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    // The missing database fails the start-up run at once (permanently).
    while !seen.iter().any(|l: &String| l.contains("job run failed")) {
        match lines.next() {
            Some(line) => seen.push(line.unwrap()),
            None => panic!("exited early: {seen:#?}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = seen.join("\n");
    assert!(!text.contains('\u{1b}'), "escape codes in a pipe: {text}");
    assert!(text.contains(r#"warmup_cron="*/30 * * * *""#), "{text}");
    let failed = seen.iter().find(|l| l.contains("job run failed")).unwrap();
    assert!(failed.contains(" ERROR "), "{failed}");
    assert!(
        failed.contains(r#"job="interrupcao_cache_warmup""#),
        "{failed}"
    );
    // The error names the path, which holds a blank: the whole value is quoted.
    assert!(failed.contains(" error=\""), "{failed}");
    assert!(failed.contains("oms copy.sqlite"), "{failed}");
}

/// Health of `service` on a new connection, or `None` when the call cannot complete.
async fn try_health(url: &str, service: &str) -> Option<ServingStatus> {
    let call = async {
        let channel = tonic::transport::Channel::from_shared(url.to_owned())
            .ok()?
            .connect()
            .await
            .ok()?;
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .ok()?
            .into_inner()
            .status;
        ServingStatus::try_from(status).ok()
    };
    tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .ok()
        .flatten()
}

/// A channel to `url` from the loopback address `from`, or `None` when refused.
async fn channel_from(from: std::net::IpAddr, url: &str) -> Option<tonic::transport::Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .ok()?
        .local_address(Some(from));
    tokio::time::timeout(Duration::from_secs(2), endpoint.connect())
        .await
        .ok()?
        .ok()
}

#[tokio::test]
async fn with_few_file_descriptors_the_caps_keep_some_for_the_probes_and_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let out = command()
        .env("RADAR_SQLITE_PATH", &path)
        .args(["generate-demo", "--scale", "0.02"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // A small descriptor limit for the service only (soft and hard).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 256 && exec \"$0\"", BIN]);
    let mut cmd = clean(cmd);
    cmd.env("RADAR_SQLITE_PATH", &path)
        .env("RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS", "0");
    let service = Service::start(cmd);
    let url = service.url();
    let ops = service.addr_logged("operations HTTP server listening");
    let deadline = Instant::now() + Duration::from_secs(30);
    while try_health(&url, "").await != Some(ServingStatus::Serving) {
        assert!(
            Instant::now() < deadline,
            "never SERVING: {}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The caps chosen at start-up fit the limit, with the reserve kept.
    let lowered = service
        .lines_at("WARN")
        .into_iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("connection caps lowered"))
        })
        .unwrap_or_else(|| panic!("no line about the caps: {}", service.logs()));
    let grpc_cap = lowered["grpc_max_connections"].as_u64().unwrap();
    let http_cap = lowered["http_max_connections"].as_u64().unwrap();
    assert!(grpc_cap + 2 * http_cap + 64 <= 256, "{lowered}");

    // One client opens 300 idle gRPC connections, and four others 75 each on the ANEEL
    // port (which has no key here, so loopback clients are its clients).
    let aneel = service.addr_logged("ANEEL HTTP server listening");
    let mut held = Vec::new();
    for (peer, addr, count) in [
        (1u8, &service.addr, 300),
        (2, &aneel, 75),
        (3, &aneel, 75),
        (4, &aneel, 75),
        (5, &aneel, 75),
    ] {
        for _ in 0..count {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket
                .bind(std::net::SocketAddr::from(([127, 0, 0, peer], 0)))
                .unwrap();
            if let Ok(conn) = socket.connect(addr.parse().unwrap()).await {
                held.push(conn);
            }
        }
    }
    // A probe and an operator from another address still get in, and a warm-up still
    // opens the database.
    let other = std::net::IpAddr::from([127, 0, 0, 9]);
    let channel = channel_from(other, &url)
        .await
        .unwrap_or_else(|| panic!("the probe was kept out: {}", service.logs()));
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        ServingStatus::try_from(status).unwrap(),
        ServingStatus::Serving
    );
    let run = SchedulerAdminClient::new(channel)
        .trigger_now(
            radar_interrupcoes::proto::scheduler::v1::TriggerNowRequest {
                job_name: "interrupcao_cache_warmup".to_owned(),
            },
        )
        .await
        .unwrap()
        .into_inner();
    let outcome = run.run.as_ref().map(|r| r.outcome);
    assert_eq!(
        outcome,
        Some(radar_interrupcoes::proto::scheduler::v1::RunOutcome::Succeeded as i32),
        "the warm-up failed with the listener full: {run:?}"
    );
    let livez = reqwest::Client::builder()
        .no_proxy()
        .local_address(other)
        .build()
        .unwrap()
        .get(format!("http://{ops}/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(livez.status().as_u16(), 200);
    drop(held);
    assert_eq!(service.terminate(), Some(0));
}
