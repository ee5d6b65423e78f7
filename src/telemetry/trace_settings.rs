//! Trace export settings, read from the standard OpenTelemetry environment variables (no
//! `RADAR_*` twin, so the platform's usual configuration works unchanged).
//!
//! Export is off unless an endpoint is set: the OpenTelemetry default of `localhost:4317`
//! would make every laptop run try to export. `OTEL_SDK_DISABLED=true` turns it off
//! whatever else is set. A value that cannot be used stops start-up, naming the variable,
//! as every other setting does.
//!
//! The exporter itself still reads the variables that only it uses
//! (`OTEL_EXPORTER_OTLP[_TRACES]_HEADERS`, `_TIMEOUT`, `_COMPRESSION`): they are never
//! read, logged or copied here, since headers often carry a collector's credentials.

use std::ffi::OsString;
use std::fmt;

/// Turns export off when `true`.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The collector for every signal (`/v1/traces` is appended for `http/protobuf`).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The collector for traces, used as given; wins over [`OTEL_EXPORTER_OTLP_ENDPOINT`].
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `grpc` or `http/protobuf`, for every signal.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `grpc` or `http/protobuf`, for traces; wins over [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// The `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// More resource attributes: `key=value,key=value`, values percent-encoded.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// The sampler: `parentbased_always_on` (the default), `always_on`, `traceidratio`, ...
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The ratio of the `traceidratio` samplers, from 0 to 1 (default 1).
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";

/// Every variable read here, for tests and documentation.
pub const VARIABLES: [&str; 9] = [
    OTEL_SDK_DISABLED,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
];

/// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one.
pub const DEFAULT_SERVICE_NAME: &str = "radar-interrupcoes";

/// The resource attribute that names the service.
const SERVICE_NAME_KEY: &str = opentelemetry_semantic_conventions::resource::SERVICE_NAME;

/// How spans travel to the collector. The Rust exporter does not switch transport by
/// itself: the pipeline builds the one named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (a collector's port 4317).
    Grpc,
    /// OTLP protobuf over HTTP POST (a collector's port 4318), the specification's default.
    HttpProtobuf,
}

impl Protocol {
    /// The variable's spelling of it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Which spans are recorded and exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Every trace.
    AlwaysOn,
    /// No trace.
    AlwaysOff,
    /// This fraction of traces, by trace id.
    TraceIdRatio(f64),
    /// The caller's decision when there is one, else the inner sampler's.
    ParentBased(RootSampler),
}

/// The decision of a [`Sampler::ParentBased`] for a trace that starts here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// Every new trace.
    AlwaysOn,
    /// No new trace.
    AlwaysOff,
    /// This fraction of new traces, by trace id.
    TraceIdRatio(f64),
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlwaysOn => f.write_str("always_on"),
            Self::AlwaysOff => f.write_str("always_off"),
            Self::TraceIdRatio(r) => write!(f, "traceidratio({r})"),
            Self::ParentBased(RootSampler::AlwaysOn) => f.write_str("parentbased_always_on"),
            Self::ParentBased(RootSampler::AlwaysOff) => f.write_str("parentbased_always_off"),
            Self::ParentBased(RootSampler::TraceIdRatio(r)) => {
                write!(f, "parentbased_traceidratio({r})")
            }
        }
    }
}

/// The collector and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL the exporter is given (for `http/protobuf` from the generic variable, with
    /// `/v1/traces` appended).
    pub url: String,
    /// The variable it came from.
    pub variable: &'static str,
    /// The transport.
    pub protocol: Protocol,
}

/// Everything the trace pipeline needs, when export is on.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    /// Where spans go.
    pub endpoint: Endpoint,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// The other resource attributes from `OTEL_RESOURCE_ATTRIBUTES`, in their order.
    pub resource_attributes: Vec<(String, String)>,
    /// Which traces are kept.
    pub sampler: Sampler,
}

/// A variable that cannot be used. Start-up stops with it (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {variable} = {value:?}: {reason}")]
pub struct TraceSettingsError {
    /// The variable, e.g. `OTEL_TRACES_SAMPLER`.
    pub variable: &'static str,
    /// Its value as given.
    pub value: String,
    /// What is wrong and what is expected.
    pub reason: String,
}

impl TraceSettings {
    /// Reads the settings from the process environment. `Ok(None)`: export is off.
    pub fn from_env() -> Result<Option<Self>, TraceSettingsError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the settings through `lookup` (the environment, or a test's map). Empty
    /// values count as unset, as the specification asks.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Option<Self>, TraceSettingsError> {
        let get = |variable: &'static str| -> Result<Option<String>, TraceSettingsError> {
            let Some(value) = lookup(variable) else {
                return Ok(None);
            };
            let Some(value) = value.to_str() else {
                return Err(TraceSettingsError {
                    variable,
                    value: value.to_string_lossy().into_owned(),
                    reason: "must be valid UTF-8".into(),
                });
            };
            let value = value.trim();
            Ok((!value.is_empty()).then(|| value.to_owned()))
        };
        if let Some(disabled) = get(OTEL_SDK_DISABLED)? {
            match disabled.to_ascii_lowercase().as_str() {
                "true" => return Ok(None),
                "false" => {}
                _ => {
                    return Err(TraceSettingsError {
                        variable: OTEL_SDK_DISABLED,
                        value: disabled,
                        reason: "must be true or false".into(),
                    });
                }
            }
        }
        let protocol = match get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)? {
            Some(v) => parse_protocol(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, v)?,
            None => match get(OTEL_EXPORTER_OTLP_PROTOCOL)? {
                Some(v) => parse_protocol(OTEL_EXPORTER_OTLP_PROTOCOL, v)?,
                None => Protocol::HttpProtobuf,
            },
        };
        let endpoint = if let Some(url) = get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)? {
            checked_endpoint(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, &url)?;
            Endpoint {
                url,
                variable: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                protocol,
            }
        } else if let Some(url) = get(OTEL_EXPORTER_OTLP_ENDPOINT)? {
            checked_endpoint(OTEL_EXPORTER_OTLP_ENDPOINT, &url)?;
            let url = match protocol {
                // gRPC routes by service and method, never by the URL's path.
                Protocol::Grpc => url,
                // The specification: the generic endpoint is a base, the signal's path is
                // appended to it.
                Protocol::HttpProtobuf => format!("{}/v1/traces", url.trim_end_matches('/')),
            };
            Endpoint {
                url,
                variable: OTEL_EXPORTER_OTLP_ENDPOINT,
                protocol,
            }
        } else {
            return Ok(None);
        };
        let resource_attributes = match get(OTEL_RESOURCE_ATTRIBUTES)? {
            Some(v) => parse_resource_attributes(&v)?,
            None => Vec::new(),
        };
        let service_name = match get(OTEL_SERVICE_NAME)? {
            Some(name) => name,
            None => resource_attributes
                .iter()
                .find(|(k, _)| k == SERVICE_NAME_KEY)
                .map_or_else(|| DEFAULT_SERVICE_NAME.to_owned(), |(_, v)| v.clone()),
        };
        let resource_attributes = resource_attributes
            .into_iter()
            .filter(|(k, _)| k != SERVICE_NAME_KEY)
            .collect();
        let sampler = parse_sampler(
            get(OTEL_TRACES_SAMPLER)?,
            get(OTEL_TRACES_SAMPLER_ARG)?.as_deref(),
        )?;
        Ok(Some(Self {
            endpoint,
            service_name,
            resource_attributes,
            sampler,
        }))
    }
}

fn parse_protocol(variable: &'static str, value: String) -> Result<Protocol, TraceSettingsError> {
    match value.as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err(TraceSettingsError {
            variable,
            value,
            reason: "http/json is not built in; use grpc or http/protobuf".into(),
        }),
        _ => Err(TraceSettingsError {
            variable,
            value,
            reason: "must be grpc or http/protobuf".into(),
        }),
    }
}

/// An `http://host:port[/path]` URL without credentials. This build has no TLS for the
/// exporter: the collector is expected beside the service (a sidecar or the node's
/// DaemonSet), and credentials belong in `OTEL_EXPORTER_OTLP_HEADERS`, which is never
/// logged, not in a URL that start-up logs.
fn checked_endpoint(variable: &'static str, url: &str) -> Result<(), TraceSettingsError> {
    let error = |reason: &str| TraceSettingsError {
        variable,
        value: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|_| error("must be a URL such as http://otel-collector:4317"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(error(
                "https is not supported by this build's exporter: point it at a collector beside \
                 the service (sidecar or node agent) over http://",
            ));
        }
        _ => {
            return Err(error(
                "must start with http://, e.g. http://otel-collector:4317",
            ));
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(error("must name a host, e.g. http://otel-collector:4317"));
    };
    if authority.as_str().contains('@') {
        return Err(error(
            "must not hold credentials; put them in OTEL_EXPORTER_OTLP_HEADERS",
        ));
    }
    if authority.host().is_empty() {
        return Err(error("must name a host, e.g. http://otel-collector:4317"));
    }
    Ok(())
}

/// `key=value,key=value` with percent-encoded values (the W3C Baggage octet rules the
/// specification refers to).
fn parse_resource_attributes(text: &str) -> Result<Vec<(String, String)>, TraceSettingsError> {
    let error = |reason: String| TraceSettingsError {
        variable: OTEL_RESOURCE_ATTRIBUTES,
        value: text.to_owned(),
        reason,
    };
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(error(format!(
                    "{pair:?} is not key=value (pairs are separated by commas)"
                )));
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(error(format!("{pair:?} has an empty key")));
            }
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| error(format!("the value of {key} is not UTF-8 once decoded")))?;
            Ok((key.to_owned(), value.into_owned()))
        })
        .collect()
}

fn parse_sampler(name: Option<String>, arg: Option<&str>) -> Result<Sampler, TraceSettingsError> {
    let ratio = || -> Result<f64, TraceSettingsError> {
        let Some(text) = arg else { return Ok(1.0) };
        match text.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(TraceSettingsError {
                variable: OTEL_TRACES_SAMPLER_ARG,
                value: text.to_owned(),
                reason: "must be a ratio from 0 to 1, e.g. 0.25".into(),
            }),
        }
    };
    let Some(name) = name else {
        return Ok(Sampler::ParentBased(RootSampler::AlwaysOn));
    };
    Ok(match name.as_str() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatio(ratio()?),
        "parentbased_always_on" => Sampler::ParentBased(RootSampler::AlwaysOn),
        "parentbased_always_off" => Sampler::ParentBased(RootSampler::AlwaysOff),
        "parentbased_traceidratio" => Sampler::ParentBased(RootSampler::TraceIdRatio(ratio()?)),
        _ => {
            return Err(TraceSettingsError {
                variable: OTEL_TRACES_SAMPLER,
                value: name,
                reason: "must be always_on, always_off, traceidratio, parentbased_always_on, \
                         parentbased_always_off or parentbased_traceidratio"
                    .into(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<TraceSettings>, TraceSettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TraceSettings::from_lookup(|name| map.get(name).map(OsString::from))
    }

    fn on(vars: &[(&str, &str)]) -> TraceSettings {
        settings(vars).unwrap().expect("export on")
    }

    fn error(vars: &[(&str, &str)]) -> TraceSettingsError {
        settings(vars).unwrap_err()
    }

    #[test]
    fn export_is_off_without_an_endpoint_whatever_else_is_set() {
        assert_eq!(settings(&[]).unwrap(), None);
        assert_eq!(
            settings(&[
                (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
                (OTEL_SERVICE_NAME, "x"),
                (OTEL_TRACES_SAMPLER, "always_on"),
            ])
            .unwrap(),
            None
        );
        // An empty endpoint is an unset one (a manifest's `value: ""`).
        assert_eq!(
            settings(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "")]).unwrap(),
            None
        );
    }

    #[test]
    fn sdk_disabled_true_wins_over_an_endpoint() {
        for value in ["true", "TRUE", "True"] {
            assert_eq!(
                settings(&[
                    (OTEL_SDK_DISABLED, value),
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
                ])
                .unwrap(),
                None,
                "{value}"
            );
        }
        let s = on(&[
            (OTEL_SDK_DISABLED, "false"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
        ]);
        assert_eq!(s.endpoint.url, "http://collector:4318/v1/traces");
        let e = error(&[
            (OTEL_SDK_DISABLED, "yes"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
        ]);
        assert_eq!(e.variable, OTEL_SDK_DISABLED);
    }

    #[test]
    fn the_defaults_are_http_protobuf_our_service_name_and_parent_based_sampling() {
        let s = on(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/")]);
        assert_eq!(
            s.endpoint,
            Endpoint {
                url: "http://collector:4318/v1/traces".into(),
                variable: OTEL_EXPORTER_OTLP_ENDPOINT,
                protocol: Protocol::HttpProtobuf,
            }
        );
        assert_eq!(s.service_name, "radar-interrupcoes");
        assert!(s.resource_attributes.is_empty());
        assert_eq!(s.sampler, Sampler::ParentBased(RootSampler::AlwaysOn));
    }

    #[test]
    fn the_traces_endpoint_wins_and_is_used_as_given() {
        let s = on(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://generic:4318"),
            (
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                "http://traces:4318/custom",
            ),
        ]);
        assert_eq!(s.endpoint.url, "http://traces:4318/custom");
        assert_eq!(s.endpoint.variable, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
    }

    #[test]
    fn grpc_takes_the_generic_endpoint_without_a_path() {
        let s = on(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4317"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
        ]);
        assert_eq!(s.endpoint.url, "http://127.0.0.1:4317");
        assert_eq!(s.endpoint.protocol, Protocol::Grpc);
        // The traces protocol wins over the generic one.
        let s = on(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:4317"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
        ]);
        assert_eq!(s.endpoint.protocol, Protocol::Grpc);
    }

    #[test]
    fn unusable_protocols_and_endpoints_name_their_variable() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318");
        let e = error(&[endpoint, (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")]);
        assert_eq!(e.variable, OTEL_EXPORTER_OTLP_PROTOCOL);
        assert!(e.reason.contains("grpc or http/protobuf"), "{e}");
        let e = error(&[endpoint, (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "udp")]);
        assert_eq!(e.variable, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL);

        for (url, says) in [
            ("collector:4317", "http://"),
            ("https://collector:4317", "https is not supported"),
            ("http://user:secret@collector:4317", "credentials"),
            ("not a url", "URL"),
        ] {
            let e = error(&[(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, url)]);
            assert_eq!(e.variable, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "{url}");
            assert!(e.reason.contains(says), "{url}: {e}");
            assert!(e.to_string().contains(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT));
        }
    }

    #[test]
    fn resource_attributes_are_decoded_and_service_name_follows_the_precedence() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318");
        let s = on(&[
            endpoint,
            (
                OTEL_RESOURCE_ATTRIBUTES,
                "deployment.environment.name=prod, k8s.namespace.name=radar,team=cop%20RR",
            ),
        ]);
        assert_eq!(
            s.resource_attributes,
            vec![
                ("deployment.environment.name".to_owned(), "prod".to_owned()),
                ("k8s.namespace.name".to_owned(), "radar".to_owned()),
                ("team".to_owned(), "cop RR".to_owned()),
            ]
        );
        // service.name from the attributes when OTEL_SERVICE_NAME is unset...
        let s = on(&[
            endpoint,
            (OTEL_RESOURCE_ATTRIBUTES, "service.name=radar-rr"),
        ]);
        assert_eq!(s.service_name, "radar-rr");
        assert!(s.resource_attributes.is_empty());
        // ...and OTEL_SERVICE_NAME over both.
        let s = on(&[
            endpoint,
            (OTEL_RESOURCE_ATTRIBUTES, "service.name=radar-rr"),
            (OTEL_SERVICE_NAME, "radar-am"),
        ]);
        assert_eq!(s.service_name, "radar-am");

        let e = error(&[endpoint, (OTEL_RESOURCE_ATTRIBUTES, "a=1,broken")]);
        assert_eq!(e.variable, OTEL_RESOURCE_ATTRIBUTES);
        assert!(e.reason.contains("\"broken\""), "{e}");
        let e = error(&[endpoint, (OTEL_RESOURCE_ATTRIBUTES, "=1")]);
        assert!(e.reason.contains("empty key"), "{e}");
    }

    #[test]
    fn samplers_and_their_ratio() {
        let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318");
        let sampler = |name: &str, arg: Option<&str>| {
            let mut vars = vec![endpoint, (OTEL_TRACES_SAMPLER, name)];
            vars.extend(arg.map(|a| (OTEL_TRACES_SAMPLER_ARG, a)));
            settings(&vars).map(|s| s.unwrap().sampler)
        };
        assert_eq!(sampler("always_on", None), Ok(Sampler::AlwaysOn));
        assert_eq!(sampler("always_off", None), Ok(Sampler::AlwaysOff));
        assert_eq!(
            sampler("traceidratio", Some("0.25")),
            Ok(Sampler::TraceIdRatio(0.25))
        );
        assert_eq!(
            sampler("traceidratio", None),
            Ok(Sampler::TraceIdRatio(1.0))
        );
        assert_eq!(
            sampler("parentbased_traceidratio", Some("0.1")),
            Ok(Sampler::ParentBased(RootSampler::TraceIdRatio(0.1)))
        );
        assert_eq!(
            sampler("parentbased_always_off", None),
            Ok(Sampler::ParentBased(RootSampler::AlwaysOff))
        );
        let e = sampler("traceidratio", Some("1.5")).unwrap_err();
        assert_eq!(e.variable, OTEL_TRACES_SAMPLER_ARG);
        let e = sampler("traceidratio", Some("half")).unwrap_err();
        assert_eq!(e.variable, OTEL_TRACES_SAMPLER_ARG);
        let e = sampler("jaeger_remote", None).unwrap_err();
        assert_eq!(e.variable, OTEL_TRACES_SAMPLER);
        assert!(e.reason.contains("parentbased_always_on"), "{e}");
    }

    #[test]
    fn a_value_that_is_not_utf8_names_its_variable() {
        use std::os::unix::ffi::OsStringExt;
        let e = TraceSettings::from_lookup(|name| {
            (name == OTEL_EXPORTER_OTLP_ENDPOINT).then(|| OsString::from_vec(vec![0x68, 0xff]))
        })
        .unwrap_err();
        assert_eq!(e.variable, OTEL_EXPORTER_OTLP_ENDPOINT);
    }
}
