//! The deployment files (deploy/Dockerfile, deploy/k8s) checked against the
//! binaries: every service's probes, Service and environment match what its
//! binary listens on and reads, in the base and in each overlay as applied.
//!
//! The overlays are applied here the way kustomize does for what they use
//! (strategic-merge patches: maps merged, lists of named items merged by
//! name, `null` deletes; `behavior: merge` generators), so the checks run
//! without a cluster tool; where `kubectl` is installed (CI requires it) the
//! same checks also run on `kubectl kustomize`'s real output.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fiveledger_platform::settings::{self, Setting, SettingsDoc};
use serde_yaml_ng::Value;

mod admin_cli;
mod gateway;
mod monitoring;

/// Short names; the binary and package are `fiveledger-<name>`.
const SERVICES: [&str; 3] = ["rounds", "issues", "ledgers"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documents of a YAML file (separated by `---` lines).
fn documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().expect("one");
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .map(|doc| {
            serde_yaml_ng::from_str::<Value>(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `KEY=value` literals of a generator.
fn literals(generator: &Value) -> BTreeMap<String, String> {
    strings(&generator["literals"])
        .into_iter()
        .map(|literal| {
            let (key, value) = literal.split_once('=').expect("KEY=value literal");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// Every setting the binaries read, listed from the settings' own defaults
/// (the same list `--help` prints), so a renamed setting fails here.
fn known_settings() -> BTreeMap<String, Setting> {
    fiveledger::settings_docs()
        .iter()
        .flat_map(SettingsDoc::settings)
        .map(|s| (s.env.clone(), s))
        .collect()
}

/// Loads a service's settings from `vars` with the binary's own loader:
/// every value must parse into the type the binary expects.
fn load(svc: &str, vars: &[(String, String)]) -> settings::ServerSettings {
    let listen = SocketAddr::from(([0, 0, 0, 0], 1));
    let loaded = match svc {
        "rounds" => settings::load_vars::<fiveledger_rounds::RoundsSettings>(svc, listen, vars)
            .map(|(server, _)| server),
        "issues" => settings::load_vars::<fiveledger_issues::IssuesSettings>(svc, listen, vars)
            .map(|(server, _)| server),
        "ledgers" => settings::load_vars::<fiveledger_ledgers::LedgersSettings>(svc, listen, vars)
            .map(|(server, _)| server),
        other => panic!("unknown service {other}"),
    };
    loaded.unwrap_or_else(|e| panic!("{svc}: the binary cannot read its environment: {e:#}"))
}

/// One kustomization directory, loaded: its own file, its resources, (for
/// overlays) its base, and the other kustomizations it includes (the first
/// directory listed is the base; later ones, such as the dashboard's, only
/// add resources).
struct Kustomization {
    dir: PathBuf,
    file: Value,
    resources: Vec<Value>,
    base: Option<Box<Kustomization>>,
    includes: Vec<Kustomization>,
}

impl Kustomization {
    fn load(dir: &Path) -> Self {
        let dir = dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let file = documents(&dir.join("kustomization.yaml")).remove(0);
        let mut resources = Vec::new();
        let mut base = None;
        let mut includes = Vec::new();
        for entry in strings(&file["bases"])
            .into_iter()
            .chain(strings(&file["resources"]))
        {
            let path = dir.join(&entry);
            assert!(path.exists(), "{}: {entry} does not exist", dir.display());
            if path.is_dir() && base.is_none() {
                base = Some(Box::new(Self::load(&path)));
            } else if path.is_dir() {
                includes.push(Self::load(&path));
            } else {
                resources.extend(documents(&path));
            }
        }
        Self {
            dir,
            file,
            resources,
            base,
            includes,
        }
    }

    fn patches(&self) -> Vec<Value> {
        strings(&self.file["patchesStrategicMerge"])
            .iter()
            .flat_map(|patch| documents(&self.dir.join(patch)))
            .collect()
    }

    fn generator(&self, kind: &str, name: &str) -> Option<&Value> {
        self.file[kind]
            .as_sequence()?
            .iter()
            .find(|generator| generator["name"].as_str() == Some(name))
    }

    /// The resources as `kubectl kustomize` would emit them (without name
    /// hashes, labels and namespace).
    fn rendered(&self) -> Vec<Value> {
        let mut all = self.base.as_ref().map(|b| b.rendered()).unwrap_or_default();
        for patch in self.patches() {
            let target = all
                .iter_mut()
                .find(|r| r["kind"] == patch["kind"] && name(r) == name(&patch))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: patch of {} {} matches nothing in the base",
                        self.dir.display(),
                        kind(&patch),
                        name(&patch)
                    )
                });
            merge(
                target,
                &patch,
                &format!("{} {}", kind(&patch), name(&patch)),
            );
        }
        for included in &self.includes {
            all.extend(included.rendered());
        }
        all.extend(self.resources.iter().cloned());
        all
    }

    /// A generated ConfigMap built from files (`files:` entries, named by
    /// their file name), with the labels its generator options give it, here
    /// or in an included kustomization.
    fn generated_from_files(&self, name: &str) -> Option<(BTreeMap<String, String>, Value)> {
        if let Some(own) = self.generator("configMapGenerator", name) {
            let files = strings(&own["files"])
                .into_iter()
                .map(|file| {
                    assert!(!file.contains('='), "{file}: keyed files not emulated");
                    (file.clone(), read(&self.dir.join(&file)))
                })
                .collect();
            let mut labels = self.file["generatorOptions"]["labels"].clone();
            if let (Some(labels), Some(own)) = (
                labels.as_mapping_mut(),
                own["options"]["labels"].as_mapping(),
            ) {
                labels.extend(own.clone());
            }
            return Some((files, labels));
        }
        self.includes
            .iter()
            .chain(self.base.as_deref())
            .find_map(|k| k.generated_from_files(name))
    }

    /// A generated ConfigMap's or Secret's data, merged down the bases.
    fn generated(&self, kind: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let inherited = self.base.as_ref().and_then(|b| b.generated(kind, name));
        let Some(own) = self.generator(kind, name) else {
            return inherited;
        };
        match own["behavior"].as_str().unwrap_or("create") {
            "create" => {
                assert!(inherited.is_none(), "{name} generated twice");
                Some(literals(own))
            }
            "merge" | "replace" => {
                let mut data = inherited.unwrap_or_else(|| {
                    panic!(
                        "{}: merges {name}, which no base generates",
                        self.dir.display()
                    )
                });
                if own["behavior"].as_str() == Some("replace") {
                    data.clear();
                }
                data.extend(literals(own));
                Some(data)
            }
            other => panic!("behavior {other}"),
        }
    }

    /// The files of the generated Secret `name` (as rendered: kustomize
    /// appends `-<hash>`), here or in a base.
    fn secret_files(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let own = self.file["secretGenerator"]
            .as_sequence()
            .into_iter()
            .flatten()
            .find(|g| {
                g["name"].as_str().is_some_and(|g| {
                    name == g
                        || name
                            .strip_prefix(g)
                            .and_then(|rest| rest.strip_prefix('-'))
                            .is_some_and(|hash| hash.len() == 10 && !hash.contains('-'))
                })
            });
        let Some(own) = own else {
            return self.base.as_ref().and_then(|b| b.secret_files(name));
        };
        Some(
            strings(&own["files"])
                .into_iter()
                .map(|entry| {
                    let (key, path) = match entry.split_once('=') {
                        Some((key, path)) => (key.to_owned(), path.to_owned()),
                        None => (
                            Path::new(&entry)
                                .file_name()
                                .and_then(|f| f.to_str())
                                .expect("a file name")
                                .to_owned(),
                            entry.clone(),
                        ),
                    };
                    let bytes = std::fs::read(self.dir.join(&path))
                        .unwrap_or_else(|e| panic!("{}: {path}: {e}", self.dir.display()));
                    (key, bytes)
                })
                .collect(),
        )
    }

    fn of_kind<'a>(rendered: &'a [Value], kind: &str) -> Vec<&'a Value> {
        rendered.iter().filter(|r| r["kind"] == kind).collect()
    }
}

fn kind(resource: &Value) -> &str {
    resource["kind"].as_str().expect("kind")
}

fn name(resource: &Value) -> &str {
    resource["metadata"]["name"]
        .as_str()
        .expect("metadata.name")
}

/// The fields a strategic merge matches the items of the list at `at` by
/// (the Kubernetes API's merge keys, for the lists our patches touch), or
/// None for a list a patch replaces whole.
fn merge_keys(at: &str, items: &[Value]) -> Option<&'static [&'static str]> {
    let all_have = |key: &str| items.iter().all(|item| !item[key].is_null());
    match at.rsplit('.').next().unwrap_or("") {
        // A container's ports, and a Service's: keyed with the protocol.
        "ports" if all_have("containerPort") => Some(&["containerPort", "protocol"]),
        "ports" if at.starts_with("Service ") => Some(&["port", "protocol"]),
        "ports" => None,
        "volumeMounts" => Some(&["mountPath"]),
        _ if all_have("name") => Some(&["name"]),
        _ => None,
    }
}

/// Strategic merge as kustomize applies it to the fields our patches touch.
fn merge(target: &mut Value, patch: &Value, at: &str) {
    match (target, patch) {
        (Value::Mapping(target), Value::Mapping(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else if let Some(existing) = target.get_mut(key) {
                    merge(
                        existing,
                        value,
                        &format!("{at}.{}", key.as_str().unwrap_or("?")),
                    );
                } else {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        (Value::Sequence(target), Value::Sequence(patch)) if merge_keys(at, target).is_some() => {
            let keys = merge_keys(at, target).expect("merge keys");
            for item in patch {
                // kustomize matches on every key (a missing protocol is not
                // TCP to it: such an item matches nothing).
                let matches = |t: &Value| keys.iter().all(|k| t[*k] == item[*k]);
                match target.iter_mut().find(|t| matches(t)) {
                    Some(existing) => merge(existing, item, at),
                    None => {
                        // A patch naming a container the base lacks adds a
                        // container without an image: a typo, not intent.
                        assert!(
                            !at.ends_with(".containers"),
                            "{at}: patch names container {:?} the base lacks",
                            item["name"]
                        );
                        // Deleting a field of an item that matches nothing
                        // deletes nothing (the patch names the item wrong).
                        assert!(
                            item.as_mapping()
                                .is_none_or(|m| m.values().all(|v| !v.is_null())),
                            "{at}: patch item {item:?} deletes a field but matches no item by {keys:?}"
                        );
                        target.push(item.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let (Some(selector), Some(labels)) = (selector.as_mapping(), labels.as_mapping()) else {
        return false;
    };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A container's security setting, the container's own winning over the pod's.
fn effective<'a>(container: &'a Value, pod: &'a Value, field: &str) -> &'a Value {
    let own = &container["securityContext"][field];
    if own.is_null() {
        &pod["securityContext"][field]
    } else {
        own
    }
}

fn port_of(url_or_addr: &str) -> u16 {
    url_or_addr
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url_or_addr}"))
}

/// Everything each service needs, in a render of `k`; what each binary
/// makes of its settings.
fn check_services(
    config: &BTreeMap<String, String>,
    rendered: &[Value],
    label: &str,
    k: &Kustomization,
) -> BTreeMap<&'static str, settings::ServerSettings> {
    let known = known_settings();
    let mut all_settings = BTreeMap::new();
    for key in config.keys() {
        assert!(
            known.contains_key(key),
            "{label}: ConfigMap sets unknown setting {key}"
        );
    }
    let services = Kustomization::of_kind(rendered, "Service");
    let mut schemas = BTreeSet::new();

    for svc in SERVICES {
        let at = format!("{label} {svc}");
        let deployment = Kustomization::of_kind(rendered, "Deployment")
            .into_iter()
            .find(|d| name(d) == svc)
            .unwrap_or_else(|| panic!("{at}: no Deployment"));
        let pod = &deployment["spec"]["template"]["spec"];
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(
            labels_match(&deployment["spec"]["selector"]["matchLabels"], pod_labels),
            "{at}: selector does not match the pod"
        );
        let containers = pod["containers"].as_sequence().expect("containers");
        assert_eq!(containers.len(), 1, "{at}: one container");
        let container = &containers[0];
        assert_eq!(
            strings(&container["command"]),
            [format!("/usr/local/bin/fiveledger-{svc}")],
            "{at}: runs its own binary"
        );

        // The environment: only names the binary reads, and those it needs.
        let mut env = BTreeMap::new();
        for var in container["env"].as_sequence().expect("env") {
            let var_name = var["name"].as_str().expect("env name").to_owned();
            assert!(
                known.contains_key(&var_name),
                "{at}: unknown setting {var_name}"
            );
            env.insert(var_name, var.clone());
        }
        let from: Vec<_> = container["envFrom"]
            .as_sequence()
            .expect("envFrom")
            .iter()
            .filter_map(|source| source["configMapRef"]["name"].as_str())
            .collect();
        // kustomize appends a content hash to generated names.
        assert!(
            from.len() == 1 && from[0].starts_with("fiveledger-config"),
            "{at}: settings from the ConfigMap, not {from:?}"
        );
        let setting = |key: &str| -> Option<String> {
            env.get(key)
                .and_then(|v| v["value"].as_str().map(str::to_owned))
                .or_else(|| config.get(key).cloned())
        };
        for key in [
            "FIVELEDGER_DATA_DIR",
            "FIVELEDGER_DATABASE__SCHEMA",
            "FIVELEDGER_LOG__FORMAT",
            "FIVELEDGER_LOG__FILTER",
            "FIVELEDGER_UPSTREAM__ROUNDS",
            "FIVELEDGER_UPSTREAM__ISSUES",
            "FIVELEDGER_UPSTREAM__LEDGERS",
        ] {
            assert!(
                setting(key).is_some_and(|v| !v.is_empty()),
                "{at}: {key} unset"
            );
        }
        assert!(
            schemas.insert(setting("FIVELEDGER_DATABASE__SCHEMA").unwrap()),
            "{at}: schema shared"
        );
        for (key, secret, secret_key) in [
            ("FIVELEDGER_DATABASE__URL", "fiveledger-database", svc),
            ("FIVELEDGER_AUTH__SECRET", "fiveledger-auth", "token-key"),
        ] {
            let reference = &env.get(key).unwrap_or_else(|| panic!("{at}: {key} unset"))["valueFrom"]
                ["secretKeyRef"];
            assert!(
                reference["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with(secret)),
                "{at}: {key} from the Secret {secret}"
            );
            assert_eq!(reference["key"].as_str(), Some(secret_key), "{at}: {key}");
        }

        // Its own service key from its own Secret, its peers' public keys
        // from the shared ConfigMap, mounted where the settings say.
        let mounted = |path: &str| -> Value {
            let mount = container["volumeMounts"]
                .as_sequence()
                .expect("volumeMounts")
                .iter()
                .find(|m| m["mountPath"].as_str() == Some(path))
                .unwrap_or_else(|| panic!("{at}: nothing mounted at {path}"));
            pod["volumes"]
                .as_sequence()
                .expect("volumes")
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap_or_else(|| panic!("{at}: no volume for {path}"))
                .clone()
        };
        let key_file = setting("FIVELEDGER_AUTH__SERVICE_KEY_FILE")
            .unwrap_or_else(|| panic!("{at}: FIVELEDGER_AUTH__SERVICE_KEY_FILE unset"));
        let key_dir = Path::new(&key_file).parent().expect("a folder");
        let own = mounted(key_dir.to_str().expect("UTF-8"));
        assert!(
            own["secret"]["secretName"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("fiveledger-service-key-{svc}"))),
            "{at}: its key comes from its own Secret, not {own:?}"
        );
        let peers = mounted(
            &setting("FIVELEDGER_AUTH__SERVICE_KEYS_DIR")
                .unwrap_or_else(|| panic!("{at}: FIVELEDGER_AUTH__SERVICE_KEYS_DIR unset")),
        );
        assert!(
            peers["configMap"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("fiveledger-service-keys")),
            "{at}: peers' public keys from the shared ConfigMap, not {peers:?}"
        );

        // What the binary makes of that environment (Secrets stand in).
        let mut vars: Vec<(String, String)> =
            config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (key, var) in &env {
            let value = var["value"].as_str().map(str::to_owned).unwrap_or_else(|| {
                if key == "FIVELEDGER_DATABASE__URL" {
                    "postgres://user@db/fiveledger".to_owned()
                } else {
                    "a-secret-from-the-cluster".to_owned()
                }
            });
            vars.push((key.clone(), value));
        }
        let loaded = load(svc, &vars);
        let grace = loaded.limits.shutdown_grace_seconds;
        let drain = loaded.limits.shutdown_drain_seconds;

        // The port the binary listens on, reachable from outside the pod.
        let listen = loaded.listen;
        assert!(
            listen.ip().is_unspecified(),
            "{at}: listens on {listen}, not reachable by probes"
        );
        let port = i64::from(listen.port());
        let named_port = |port_name: &str| {
            container["ports"]
                .as_sequence()
                .expect("ports")
                .iter()
                .find(|p| p["name"].as_str() == Some(port_name))
                .and_then(|p| p["containerPort"].as_i64())
        };
        assert_eq!(named_port("grpc"), Some(port), "{at}: container port grpc");
        // The binary serves /metrics where FIVELEDGER_METRICS_LISTEN says.
        let metrics = loaded
            .metrics_listen
            .unwrap_or_else(|| panic!("{at}: FIVELEDGER_METRICS_LISTEN unset"));
        assert!(
            metrics.ip().is_unspecified(),
            "{at}: metrics on {metrics}, not scrapable"
        );
        assert_eq!(
            named_port("metrics"),
            Some(i64::from(metrics.port())),
            "{at}: container port metrics"
        );
        assert_eq!(
            metrics.port(),
            9090,
            "{at}: the scrape annotations say 9090"
        );
        let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(
            annotations["prometheus.io/scrape"].as_str(),
            Some("true"),
            "{at}"
        );
        assert_eq!(
            annotations["prometheus.io/port"].as_str(),
            Some("9090"),
            "{at}"
        );
        assert_eq!(
            annotations["prometheus.io/path"].as_str(),
            Some("/metrics"),
            "{at}"
        );

        // Native gRPC probes: liveness on the whole server (""), readiness on
        // the short name the service reports once migrated. They cannot speak
        // TLS: with it on, they use the plaintext health-only port.
        let tls = &loaded.tls;
        let probe_port = match tls.probe_listen {
            Some(probe) => {
                assert!(
                    probe.ip().is_unspecified(),
                    "{at}: probe port on {probe}, not reachable by the kubelet"
                );
                let probe = i64::from(probe.port());
                assert_ne!(probe, port, "{at}: probe port is the service port");
                assert!(
                    container["ports"]
                        .as_sequence()
                        .expect("ports")
                        .iter()
                        .any(|p| p["containerPort"].as_i64() == Some(probe)),
                    "{at}: the probe port {probe} is no container port"
                );
                probe
            }
            None => {
                assert!(
                    !tls.enabled,
                    "{at}: TLS on without FIVELEDGER_TLS__PROBE_LISTEN: the kubelet's gRPC probes cannot do TLS"
                );
                port
            }
        };
        for (probe, service) in [
            ("startupProbe", ""),
            ("livenessProbe", ""),
            ("readinessProbe", svc),
        ] {
            let grpc = &container[probe]["grpc"];
            assert_eq!(
                grpc["port"].as_i64(),
                Some(probe_port),
                "{at}: {probe} port"
            );
            assert_eq!(
                grpc["service"].as_str().unwrap_or(""),
                service,
                "{at}: {probe} service"
            );
        }

        let resources = &container["resources"];
        for bound in ["requests", "limits"] {
            for what in ["cpu", "memory"] {
                assert!(
                    !resources[bound][what].is_null(),
                    "{at}: resources.{bound}.{what}"
                );
            }
        }

        let user = effective(container, pod, "runAsUser").as_i64();
        assert!(
            user.is_some_and(|u| u > 0),
            "{at}: runAsUser numeric, not root"
        );
        assert_eq!(
            effective(container, pod, "runAsNonRoot").as_bool(),
            Some(true),
            "{at}"
        );
        let sc = &container["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true), "{at}");
        assert_eq!(
            sc["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{at}"
        );
        assert!(
            strings(&sc["capabilities"]["drop"]).contains(&"ALL".to_owned()),
            "{at}: drop ALL"
        );
        assert_eq!(
            effective(container, pod, "seccompProfile")["type"].as_str(),
            Some("RuntimeDefault"),
            "{at}"
        );

        // Writable places on a read-only root: /tmp and the data folder.
        let volumes = pod["volumes"].as_sequence().expect("volumes");
        let mounted = |path: &str| {
            let mount = container["volumeMounts"]
                .as_sequence()
                .expect("volumeMounts")
                .iter()
                .find(|m| m["mountPath"].as_str() == Some(path))
                .unwrap_or_else(|| panic!("{at}: nothing mounted at {path}"));
            volumes
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap_or_else(|| panic!("{at}: volume of {path} missing"))
                .clone()
        };
        assert!(
            !mounted("/tmp")["emptyDir"].is_null(),
            "{at}: /tmp is an emptyDir"
        );
        mounted(&setting("FIVELEDGER_DATA_DIR").unwrap());

        let period = pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("grace period");
        assert!(
            period > drain + grace,
            "{at}: {period} s to stop, the service takes up to {drain} + {grace} s"
        );
        // Readiness must see NOT_SERVING before the listener closes.
        let readiness = &container["readinessProbe"];
        let unready_after = readiness["periodSeconds"].as_u64().unwrap_or(10)
            * readiness["failureThreshold"].as_u64().unwrap_or(3);
        assert!(
            drain >= unready_after,
            "{at}: drains {drain} s, readiness notices after {unready_after} s"
        );

        // The Service: port `grpc` reaching the container's gRPC port.
        let service = services
            .iter()
            .find(|s| name(s) == svc)
            .unwrap_or_else(|| panic!("{at}: no Service"));
        assert!(
            labels_match(&service["spec"]["selector"], pod_labels),
            "{at}: Service selects the pods"
        );
        let service_port = port_named(&service["spec"]["ports"], "grpc")
            .unwrap_or_else(|| panic!("{at}: Service has no port named grpc"));
        let target = &service_port["targetPort"];
        assert!(
            target.as_i64() == Some(port) || target.as_str() == Some("grpc"),
            "{at}: Service targets {target:?}, the binary listens on {port}"
        );
        // Other services find it where the upstream settings point: by its
        // bare name (what its certificate is valid for) over TLS when on.
        let upstream = setting(&format!("FIVELEDGER_UPSTREAM__{}", svc.to_uppercase())).unwrap();
        let scheme = if tls.enabled { "https" } else { "http" };
        assert!(
            upstream.starts_with(&format!("{scheme}://{svc}:")),
            "{at}: upstream {upstream}, TLS {}",
            if tls.enabled { "on" } else { "off" }
        );
        if tls.enabled {
            // The plaintext HTTP/2 claim would have proxies speak h2c to it.
            assert_ne!(
                service_port["appProtocol"].as_str(),
                Some("kubernetes.io/h2c"),
                "{at}: the Service says plaintext, the port speaks TLS"
            );
            check_tls_files(&loaded, container, pod, rendered, k, &at);
        }
        // Health for probes only: the Service does not lead there.
        if tls.probe_listen.is_some() {
            let probe_port_names: Vec<_> = container["ports"]
                .as_sequence()
                .expect("ports")
                .iter()
                .filter(|p| p["containerPort"].as_i64() == Some(probe_port))
                .filter_map(|p| p["name"].as_str())
                .collect();
            for p in service["spec"]["ports"].as_sequence().expect("ports") {
                let target = &p["targetPort"];
                assert!(
                    target.as_i64() != Some(probe_port)
                        && !target
                            .as_str()
                            .is_some_and(|name| probe_port_names.contains(&name)),
                    "{at}: the Service exposes the plaintext probe port"
                );
            }
        }
        assert_eq!(
            i64::from(port_of(&upstream)),
            service_port["port"].as_i64().expect("Service port"),
            "{at}: upstream {upstream}"
        );

        let pdb = Kustomization::of_kind(rendered, "PodDisruptionBudget")
            .into_iter()
            .find(|p| labels_match(&p["spec"]["selector"]["matchLabels"], pod_labels))
            .unwrap_or_else(|| panic!("{at}: no PodDisruptionBudget"));
        assert!(
            !pdb["spec"]["maxUnavailable"].is_null() || !pdb["spec"]["minAvailable"].is_null(),
            "{at}: PDB bound"
        );

        let policy = Kustomization::of_kind(rendered, "NetworkPolicy")
            .into_iter()
            .find(|p| labels_match(&p["spec"]["podSelector"]["matchLabels"], pod_labels))
            .unwrap_or_else(|| panic!("{at}: no NetworkPolicy"));
        let grpc_rule = policy["spec"]["ingress"]
            .as_sequence()
            .expect("ingress rules")
            .iter()
            .find(|rule| {
                rule["ports"].as_sequence().is_some_and(|ports| {
                    ports.iter().any(|p| {
                        p["port"].as_str() == Some("grpc") || p["port"].as_i64() == Some(port)
                    })
                })
            })
            .unwrap_or_else(|| panic!("{at}: NetworkPolicy lets no one reach gRPC"));
        let sources = grpc_rule["from"].as_sequence().expect("from");
        assert!(
            sources
                .iter()
                .all(|s| !s["podSelector"].is_null() || !s["namespaceSelector"].is_null()),
            "{at}: every source is restricted"
        );
        assert!(
            sources.iter().any(
                |s| s["podSelector"]["matchLabels"]["app.kubernetes.io/part-of"].as_str()
                    == Some("fiveledger")
                    && s["namespaceSelector"].is_null()
            ),
            "{at}: the suite's pods may call"
        );
        assert!(
            sources
                .iter()
                .any(|s| !s["namespaceSelector"].is_null() && s["podSelector"].is_null()),
            "{at}: the ingress namespace may call"
        );
        // The kubelet reaches the probe port from the pod's node, which no
        // NetworkPolicy can block; nothing else needs it.
        if tls.probe_listen.is_some() {
            for rule in policy["spec"]["ingress"].as_sequence().expect("ingress") {
                for p in rule["ports"].as_sequence().into_iter().flatten() {
                    assert!(
                        p["port"].as_i64() != Some(probe_port)
                            && p["port"].as_str() != Some("probe"),
                        "{at}: NetworkPolicy opens the plaintext probe port"
                    );
                }
            }
        }
        all_settings.insert(svc, loaded);
    }
    all_settings
}

/// The port named `port_name` of a Service's or container's `ports`.
fn port_named<'a>(ports: &'a Value, port_name: &str) -> Option<&'a Value> {
    ports
        .as_sequence()
        .expect("ports")
        .iter()
        .find(|p| p["name"].as_str() == Some(port_name))
}

/// A mount's volume holding `path` (the deepest mount above it).
fn mount_holding<'a>(container: &'a Value, pod: &'a Value, path: &Path) -> (&'a Value, &'a Value) {
    let mount = container["volumeMounts"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["mountPath"]
                .as_str()
                .is_some_and(|dir| path.starts_with(dir))
        })
        .max_by_key(|m| m["mountPath"].as_str().map_or(0, str::len))
        .unwrap_or_else(|| panic!("nothing mounted above {}", path.display()));
    let volume = pod["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("no volume {:?}", mount["name"]));
    (mount, volume)
}

/// With TLS on: the certificate, key and CA files the settings name are the
/// `tls.crt`, `tls.key` and `ca.crt` of one Secret mounted whole (so a
/// renewal reaches the files), which a cert-manager Certificate in the
/// render writes for this service, or the kustomization generates from
/// files holding this service's certificate.
fn check_tls_files(
    loaded: &settings::ServerSettings,
    container: &Value,
    pod: &Value,
    rendered: &[Value],
    k: &Kustomization,
    at: &str,
) {
    let namespace = k.file["namespace"].as_str();
    let svc = at.rsplit(' ').next().expect("service");
    let files = loaded.tls.files(svc, &loaded.data_dir);
    let mut secrets = BTreeSet::new();
    for (path, key) in [
        (&files.cert, "tls.crt"),
        (&files.key, "tls.key"),
        (&files.ca, "ca.crt"),
    ] {
        let (mount, volume) = mount_holding(container, pod, path);
        let dir = mount["mountPath"].as_str().expect("mountPath");
        assert!(
            mount["subPath"].is_null(),
            "{at}: {} on a subPath mount, which renewals never reach",
            path.display()
        );
        assert_eq!(mount["readOnly"].as_bool(), Some(true), "{at}: {dir}");
        let secret = &volume["secret"];
        let secret_name = secret["secretName"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: {} is not from a Secret", path.display()));
        assert!(secret["items"].is_null(), "{at}: {secret_name} items");
        assert_eq!(
            path.strip_prefix(dir).ok(),
            Some(Path::new(key)),
            "{at}: {} is not the Secret's {key}",
            path.display()
        );
        // Readable by the service's group only (the pod's fsGroup).
        assert_eq!(
            file_mode(&secret["defaultMode"]),
            Some(0o440),
            "{at}: {secret_name} mode"
        );
        secrets.insert(secret_name.to_owned());
    }
    assert_eq!(secrets.len(), 1, "{at}: TLS files from {secrets:?}");
    let secret_name = secrets.pop_first().expect("one");
    let Some(certificate) = Kustomization::of_kind(rendered, "Certificate")
        .into_iter()
        .find(|c| c["spec"]["secretName"].as_str() == Some(secret_name.as_str()))
    else {
        let files = k.secret_files(&secret_name).unwrap_or_else(|| {
            panic!("{at}: neither a Certificate in the render nor a generator writes {secret_name}")
        });
        check_certificate_files(&files, svc, namespace, &format!("{at}: {secret_name}"));
        return;
    };
    let at = format!("{at}: Certificate {}", name(certificate));
    assert_eq!(
        certificate["apiVersion"].as_str(),
        Some("cert-manager.io/v1"),
        "{at}"
    );
    let spec = &certificate["spec"];
    let dns_names = strings(&spec["dnsNames"]);
    // The bare name: what the upstream URLs name, and what makes a client
    // certificate this service's (valid for it and for no other service).
    assert!(
        dns_names.iter().any(|n| n == svc),
        "{at}: not valid for {svc}: {dns_names:?}"
    );
    for dns_name in &dns_names {
        assert!(
            dns_name == svc || dns_name.starts_with(&format!("{svc}.")),
            "{at}: valid for {dns_name} too"
        );
    }
    if let Some(ns) = namespace {
        for dns_name in [
            format!("{svc}.{ns}.svc"),
            format!("{svc}.{ns}.svc.cluster.local"),
        ] {
            assert!(dns_names.contains(&dns_name), "{at}: lacks {dns_name}");
        }
    }
    let usages = strings(&spec["usages"]);
    for usage in ["server auth", "client auth"] {
        assert!(usages.iter().any(|u| u == usage), "{at}: lacks {usage}");
    }
    assert!(!spec["isCA"].as_bool().unwrap_or(false), "{at}: a CA");
    assert_eq!(
        spec["privateKey"]["rotationPolicy"].as_str(),
        Some("Always"),
        "{at}: a renewal keeps the key"
    );
    let (duration, renew_before) = (
        hours(&spec["duration"]).unwrap_or(90 * 24),
        hours(&spec["renewBefore"]).unwrap_or(30 * 24),
    );
    assert!(
        renew_before > 0 && renew_before < duration,
        "{at}: renewed {renew_before} h before expiry of {duration} h"
    );
    check_issuer(&spec["issuerRef"], rendered, &at);
}

/// A generated Secret's files: `tls.crt` holds `svc`'s certificate (valid
/// for its names, for server and client use, from `ca.crt`'s CA, not
/// expired) and `tls.key` its key.
fn check_certificate_files(
    files: &BTreeMap<String, Vec<u8>>,
    svc: &str,
    namespace: Option<&str>,
    at: &str,
) {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use std::sync::Arc;

    let pem = |key: &str| {
        files
            .get(key)
            .unwrap_or_else(|| panic!("{at}: no {key}"))
            .as_slice()
    };
    let chain = CertificateDer::pem_slice_iter(pem("tls.crt"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{at}: tls.crt: {e}"));
    assert!(!chain.is_empty(), "{at}: tls.crt holds no certificate");
    let key = PrivateKeyDer::from_pem_slice(pem("tls.key"))
        .unwrap_or_else(|e| panic!("{at}: tls.key: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pem("ca.crt")) {
        roots
            .add(ca.unwrap_or_else(|e| panic!("{at}: ca.crt: {e}")))
            .unwrap_or_else(|e| panic!("{at}: ca.crt: {e}"));
    }
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    assert_eq!(
        fiveledger_platform::tls::certificate_service(&chain[0]),
        Some(svc),
        "{at}: the certificate is not {svc}'s"
    );
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .unwrap_or_else(|e| panic!("{at}: tls.key: {e}"));
    rustls::sign::CertifiedKey::new(chain.clone(), signing_key)
        .keys_match()
        .unwrap_or_else(|e| panic!("{at}: tls.key is not the certificate's key: {e}"));

    let now = UnixTime::now();
    let server = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .expect("server verifier");
    let mut names = vec![svc.to_owned()];
    if let Some(ns) = namespace {
        names.push(format!("{svc}.{ns}.svc"));
        names.push(format!("{svc}.{ns}.svc.cluster.local"));
    }
    for dns_name in names {
        let server_name = ServerName::try_from(dns_name.clone()).expect("a DNS name");
        server
            .verify_server_cert(&chain[0], &chain[1..], &server_name, &[], now)
            .unwrap_or_else(|e| panic!("{at}: no server certificate for {dns_name}: {e}"));
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
        .build()
        .expect("client verifier")
        .verify_client_cert(&chain[0], &chain[1..], now)
        .unwrap_or_else(|e| panic!("{at}: no client certificate: {e}"));
}

/// A file mode as Kubernetes reads the YAML (1.1: `0440` is octal; this
/// parser keeps such a number a string).
fn file_mode(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let text = value.as_str()?.strip_prefix('0')?;
        i64::from_str_radix(text, 8).ok()
    })
}

/// Hours of a cert-manager duration written in whole hours (`2160h`).
fn hours(value: &Value) -> Option<u64> {
    let text = value.as_str()?;
    Some(
        text.strip_suffix('h')
            .and_then(|h| h.parse().ok())
            .unwrap_or_else(|| panic!("duration {text}: write whole hours")),
    )
}

/// An issuerRef resolves to an Issuer in the render; one of kind CA signs
/// with a CA Certificate of the render, itself issued by an Issuer there.
fn check_issuer(reference: &Value, rendered: &[Value], at: &str) {
    let issuer_kind = reference["kind"].as_str().unwrap_or("Issuer");
    let issuer_name = reference["name"].as_str().expect("issuerRef.name");
    assert!(
        matches!(reference["group"].as_str(), None | Some("cert-manager.io")),
        "{at}: issuer group {:?}",
        reference["group"]
    );
    let issuer = rendered
        .iter()
        .find(|r| {
            r["apiVersion"].as_str() == Some("cert-manager.io/v1")
                && kind(r) == issuer_kind
                && name(r) == issuer_name
        })
        .unwrap_or_else(|| panic!("{at}: issuer {issuer_kind} {issuer_name} not in the render"));
    if let Some(ca_secret) = issuer["spec"]["ca"]["secretName"].as_str() {
        let ca = Kustomization::of_kind(rendered, "Certificate")
            .into_iter()
            .find(|c| c["spec"]["secretName"].as_str() == Some(ca_secret))
            .unwrap_or_else(|| panic!("{at}: no Certificate writes the CA Secret {ca_secret}"));
        assert_eq!(
            ca["spec"]["isCA"].as_bool(),
            Some(true),
            "{at}: CA {} not isCA",
            name(ca)
        );
        assert_ne!(
            &ca["spec"]["issuerRef"], reference,
            "{at}: the CA issues itself"
        );
        check_issuer(
            &ca["spec"]["issuerRef"],
            rendered,
            &format!("{at} <- {}", name(ca)),
        );
    } else {
        assert!(
            !issuer["spec"]["selfSigned"].is_null(),
            "{at}: issuer {issuer_name} is neither a CA nor self-signed"
        );
    }
}

fn deployments_by_name(rendered: &[Value]) -> BTreeMap<&str, &Value> {
    Kustomization::of_kind(rendered, "Deployment")
        .into_iter()
        .map(|d| (name(d), d))
        .collect()
}

fn config_of(k: &Kustomization) -> BTreeMap<String, String> {
    k.generated("configMapGenerator", "fiveledger-config")
        .unwrap_or_else(|| panic!("{}: no fiveledger-config ConfigMap", k.dir.display()))
}

/// `kubectl kustomize` of a directory under deploy/k8s, or None without
/// kubectl (a user's machine); CI sets FIVELEDGER_REQUIRE_KUBECTL.
fn kubectl_kustomize(path: &str) -> Option<Vec<Value>> {
    let dir = root().join("deploy/k8s").join(path);
    let output = match std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
    {
        Ok(output) => output,
        Err(e) if std::env::var_os("FIVELEDGER_REQUIRE_KUBECTL").is_none() => {
            eprintln!("skipped: kubectl kustomize {path} ({e}); the emulated render was checked");
            return None;
        }
        Err(e) => panic!("kubectl: {e}"),
    };
    assert!(
        output.status.success(),
        "kubectl kustomize {path}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let file = std::env::temp_dir().join(format!(
        "fiveledger-kustomize-{}-{}.yaml",
        path.replace('/', "-"),
        std::process::id()
    ));
    std::fs::write(&file, text).expect("write the render");
    let docs = documents(&file);
    let _ = std::fs::remove_file(&file);
    Some(docs)
}

/// A rendered ConfigMap's `data`.
fn config_map_data(config_map: &Value) -> BTreeMap<String, String> {
    config_map["data"]
        .as_mapping()
        .expect("data")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("key").to_owned(),
                v.as_str().expect("string value").to_owned(),
            )
        })
        .collect()
}

#[test]
fn kubectl_kustomize_renders_what_the_checks_expect() {
    for path in ["base", "overlays/dev", "overlays/prod"] {
        let Some(rendered) = kubectl_kustomize(path) else {
            return;
        };
        let config_map = Kustomization::of_kind(&rendered, "ConfigMap")
            .into_iter()
            .find(|c| name(c).starts_with("fiveledger-config"))
            .unwrap_or_else(|| panic!("{path}: no fiveledger-config ConfigMap"));
        let config = config_map_data(config_map);
        assert_eq!(
            config,
            config_of(&k8s(path)),
            "{path}: the emulated render differs from kustomize's"
        );
        let loaded = check_services(&config, &rendered, &format!("kubectl {path}"), &k8s(path));
        // The deployments run mutual TLS; the base leaves it to them.
        for (svc, settings) in &loaded {
            assert_eq!(settings.tls.enabled, path != "base", "{path} {svc}");
        }
        let emulated = k8s(path).rendered();
        let kinds = |docs: &[Value]| -> BTreeSet<(String, String)> {
            docs.iter()
                .filter(|d| !matches!(kind(d), "ConfigMap" | "Secret"))
                .map(|d| (kind(d).to_owned(), name(d).to_owned()))
                .collect()
        };
        assert_eq!(
            kinds(&rendered),
            kinds(&emulated),
            "{path}: resources differ"
        );
        // What the patches touch, as kustomize merged it (lists as sets:
        // kustomize puts added items first).
        let patched = |docs: &[Value]| -> BTreeSet<String> {
            let mut fields = BTreeSet::new();
            let mut add = |at: String, value: &Value| {
                let items: Vec<_> = match value.as_sequence() {
                    Some(items) => items.iter().collect(),
                    None => vec![value],
                };
                for item in items {
                    fields.insert(format!(
                        "{at} {}",
                        serde_yaml_ng::to_string(&sorted(item)).expect("YAML")
                    ));
                }
            };
            for d in docs {
                let at = format!("{} {}", kind(d), name(d));
                match kind(d) {
                    "Deployment" => {
                        let pod = &d["spec"]["template"]["spec"];
                        add(format!("{at} replicas"), &d["spec"]["replicas"]);
                        add(format!("{at} strategy"), &d["spec"]["strategy"]);
                        for c in pod["containers"].as_sequence().expect("containers") {
                            for field in [
                                "ports",
                                "volumeMounts",
                                "startupProbe",
                                "livenessProbe",
                                "readinessProbe",
                                "resources",
                            ] {
                                add(format!("{at} {field}"), &c[field]);
                            }
                            // Values only: generated names carry a hash.
                            for var in c["env"].as_sequence().expect("env") {
                                add(format!("{at} env"), &var["value"]);
                            }
                        }
                    }
                    "Service" => add(format!("{at} ports"), &d["spec"]["ports"]),
                    _ => {}
                }
            }
            fields
        };
        let (real, ours) = (patched(&rendered), patched(&emulated));
        assert!(
            real == ours,
            "{path}: the emulated render differs from kustomize's: only kustomize's {:#?}, only ours {:#?}",
            real.difference(&ours).collect::<Vec<_>>(),
            ours.difference(&real).collect::<Vec<_>>()
        );
    }
}

/// `value` with every mapping's keys in order (kubectl sorts them).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Mapping(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by_key(|(k, _)| serde_yaml_ng::to_string(k).unwrap_or_default());
            Value::Mapping(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Sequence(items) => Value::Sequence(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn k8s(path: &str) -> Kustomization {
    Kustomization::load(&root().join("deploy/k8s").join(path))
}

#[test]
fn base_runs_each_service_as_its_binary_expects() {
    let base = k8s("base");
    assert_eq!(
        base.file["commonLabels"]["app.kubernetes.io/part-of"].as_str(),
        Some("fiveledger")
    );
    let rendered = base.rendered();
    let loaded = check_services(&config_of(&base), &rendered, "base", &base);
    assert!(loaded.values().all(|s| !s.tls.enabled), "base: TLS on");
}

#[test]
fn dev_overlay_runs_one_replica_on_sqlite_volumes() {
    let dev = k8s("overlays/dev");
    assert_eq!(dev.base.as_ref().expect("a base").dir, k8s("base").dir);
    let rendered = dev.rendered();
    let loaded = check_services(&config_of(&dev), &rendered, "dev", &dev);
    // Mutual TLS as in production, with the committed dev certificates.
    for (svc, settings) in &loaded {
        assert!(settings.tls.enabled, "dev {svc}: TLS off");
    }

    let claims: BTreeSet<_> = Kustomization::of_kind(&rendered, "PersistentVolumeClaim")
        .into_iter()
        .map(name)
        .collect();
    let database = dev
        .generated("secretGenerator", "fiveledger-database")
        .expect("dev generates the database Secret");
    let auth = dev
        .generated("secretGenerator", "fiveledger-auth")
        .expect("dev generates the token key");
    assert!(
        auth["token-key"].len() >= 16,
        "HS256 key of at least 16 bytes"
    );
    let config = dev
        .generated("configMapGenerator", "fiveledger-config")
        .unwrap();
    let data_dir = &config["FIVELEDGER_DATA_DIR"];
    for (svc, deployment) in deployments_by_name(&rendered) {
        assert_eq!(
            deployment["spec"]["replicas"].as_i64(),
            Some(1),
            "dev {svc}"
        );
        // A volume held by one pod at a time: the old pod goes first.
        assert_eq!(
            deployment["spec"]["strategy"]["type"].as_str(),
            Some("Recreate"),
            "dev {svc}"
        );
        let pod = &deployment["spec"]["template"]["spec"];
        let mount = pod["containers"][0]["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"].as_str() == Some(data_dir.as_str()))
            .unwrap()
            .clone();
        let volume = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        let claim = volume["persistentVolumeClaim"]["claimName"]
            .as_str()
            .unwrap_or_else(|| panic!("dev {svc}: data folder is not on a PVC"));
        assert!(
            volume["emptyDir"].is_null(),
            "dev {svc}: volume has two sources"
        );
        assert!(claims.contains(claim), "dev {svc}: PVC {claim} not defined");
        let url = &database[svc];
        assert!(
            url.starts_with(&format!("sqlite://{data_dir}/")),
            "dev {svc}: {url} is not on the volume at {data_dir}"
        );
    }
}

#[test]
fn prod_overlay_runs_replicas_on_postgres_with_autoscaling() {
    let prod = k8s("overlays/prod");
    assert_eq!(prod.base.as_ref().expect("a base").dir, k8s("base").dir);
    let rendered = prod.rendered();
    let loaded = check_services(&config_of(&prod), &rendered, "prod", &prod);
    for (svc, settings) in &loaded {
        assert!(settings.tls.enabled, "prod {svc}: TLS off");
    }
    // cert-manager writes the TLS Secrets; none is committed.
    for svc in SERVICES.iter().copied().chain(["client"]) {
        let secret = format!("fiveledger-tls-{svc}");
        assert!(
            prod.generated("secretGenerator", &secret).is_none(),
            "prod must not commit {secret}"
        );
    }

    // The operators' client certificate: client use only, valid for no
    // service's name (so it carries no service's rights), from the CA the
    // services trust; the header says how to use it with grpcurl.
    let certificates = Kustomization::of_kind(&rendered, "Certificate");
    let client = certificates
        .iter()
        .find(|c| c["spec"]["secretName"].as_str() == Some("fiveledger-tls-client"))
        .expect("prod: a client Certificate writing fiveledger-tls-client");
    let usages = strings(&client["spec"]["usages"]);
    assert!(usages.iter().any(|u| u == "client auth"), "{usages:?}");
    assert!(!usages.iter().any(|u| u == "server auth"), "{usages:?}");
    for dns_name in strings(&client["spec"]["dnsNames"]) {
        assert!(
            !SERVICES
                .iter()
                .any(|svc| dns_name == *svc || dns_name.starts_with(&format!("{svc}."))),
            "prod: the client certificate is valid for {dns_name}"
        );
    }
    check_issuer(&client["spec"]["issuerRef"], &rendered, "prod client");
    let rounds = certificates
        .iter()
        .find(|c| c["spec"]["secretName"].as_str() == Some("fiveledger-tls-rounds"))
        .expect("rounds' Certificate");
    assert_eq!(
        client["spec"]["issuerRef"], rounds["spec"]["issuerRef"],
        "prod: the client certificate's CA is the services'"
    );
    let header: String = read(&prod.dir.join("kustomization.yaml"))
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for needed in [
        "cert-manager",
        "get secret fiveledger-tls-client",
        "grpcurl -cacert",
        "-cert client-tls.crt -key client-tls.key",
        "-authority rounds",
    ] {
        assert!(
            header.contains(needed),
            "prod's kustomization header lacks {needed:?}"
        );
    }

    // The operator creates the Secrets; the example documents their keys.
    for secret in ["fiveledger-database", "fiveledger-auth"] {
        assert!(
            prod.generated("secretGenerator", secret).is_none(),
            "prod must not commit {secret}"
        );
    }
    let example: BTreeMap<_, _> = read(&prod.dir.join("database.env.example"))
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (k, v) = line.split_once('=').expect("KEY=value");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let config = prod
        .generated("configMapGenerator", "fiveledger-config")
        .unwrap();
    assert_eq!(config["FIVELEDGER_LOG__FORMAT"], "json");

    let autoscalers = Kustomization::of_kind(&rendered, "HorizontalPodAutoscaler");
    for (svc, deployment) in deployments_by_name(&rendered) {
        // The autoscaler owns the count: a `replicas` in the manifest would
        // undo its scaling on every `kubectl apply`.
        assert!(
            deployment["spec"].get("replicas").is_none(),
            "prod {svc}: spec.replicas set beside a HorizontalPodAutoscaler"
        );
        assert!(
            example
                .get(svc)
                .is_some_and(|url| url.starts_with("postgres://")),
            "prod {svc}: database.env.example documents no PostgreSQL URL under key {svc}"
        );
        let hpa = autoscalers
            .iter()
            .find(|h| h["spec"]["scaleTargetRef"]["name"].as_str() == Some(svc))
            .unwrap_or_else(|| panic!("prod {svc}: no HorizontalPodAutoscaler"));
        assert_eq!(
            hpa["spec"]["scaleTargetRef"]["kind"].as_str(),
            Some("Deployment")
        );
        let min = hpa["spec"]["minReplicas"].as_i64().unwrap_or(1);
        let max = hpa["spec"]["maxReplicas"].as_i64().expect("maxReplicas");
        assert!(min > 1 && max >= min, "prod {svc}: HPA {min}..{max}");
    }
}

#[test]
fn overlays_use_the_base_image() {
    let base = k8s("base").rendered();
    let images: BTreeSet<_> = deployments_by_name(&base)
        .values()
        .map(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
        })
        .collect();
    for overlay in ["dev", "prod"] {
        let k = k8s(&format!("overlays/{overlay}"));
        for image in k.file["images"].as_sequence().expect("images") {
            let image_name = image["name"].as_str().unwrap();
            assert!(
                images.contains(image_name),
                "{overlay}: image {image_name} is not the base's"
            );
        }
    }
}

/// The Dockerfile's instructions per stage (index 0: before the first FROM).
fn stage_lines(dockerfile: &str) -> Vec<Vec<String>> {
    // Joins continuation lines, drops comments, splits at each FROM.
    let mut stages: Vec<Vec<String>> = vec![Vec::new()];
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let instruction = std::mem::take(&mut current);
        if instruction.starts_with("FROM ") {
            stages.push(Vec::new());
        }
        stages.last_mut().unwrap().push(instruction);
    }
    stages
}

#[test]
fn dockerfile_builds_the_service_binaries_locked_into_a_small_non_root_image() {
    let root = root();
    let dockerfile = read(&root.join("deploy/Dockerfile"));
    let stages = stage_lines(&dockerfile);
    assert!(stages.len() >= 3, "a builder and a runtime stage");
    let builder = stages[1..stages.len() - 1].concat().join("\n");
    let runtime = stages.last().unwrap();

    // Every stage says what it is for.
    let froms = dockerfile
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("FROM "));
    let lines: Vec<_> = dockerfile.lines().collect();
    for (i, from) in froms {
        assert!(
            lines[i - 1].starts_with('#'),
            "stage without a comment: {from}"
        );
    }

    let build = builder
        .lines()
        .find(|l| l.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
    let rust_version = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .expect("ARG RUST_VERSION");
    let workspace = toml_value(&read(&root.join("Cargo.toml")), "rust-version");
    assert!(
        version(rust_version) >= version(&workspace),
        "image Rust {rust_version} older than the workspace's rust-version"
    );

    for svc in SERVICES {
        let package = format!("fiveledger-{svc}");
        let manifest = read(&root.join("services").join(svc).join("Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{package}\"")),
            "{package} renamed?"
        );
        assert!(
            build.contains(&format!("-p {package}")),
            "{package} not built: {build}"
        );
        assert!(
            builder.contains(&format!("target/release/{package}")),
            "{package} not copied"
        );
    }

    // The admin CLI (the suite's package) is built and copied out with the
    // services, into the folder the final stage takes whole.
    let suite = read(&root.join("services/suite/Cargo.toml"));
    let cli_package = toml_value(&suite, "name");
    let cli = toml_value(
        suite
            .split("[[bin]]")
            .nth(1)
            .expect("services/suite declares its binary"),
        "name",
    );
    assert!(
        build
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["-p", cli_package.as_str()]),
        "the admin CLI ({cli_package}) is not built: {build}"
    );
    let copy = build
        .split("&&")
        .map(str::trim)
        .find(|step| step.starts_with("cp "))
        .expect("the binaries copied out of the cache mount");
    let words: Vec<_> = copy.split_whitespace().collect();
    let out = words.last().expect("a destination").trim_end_matches('/');
    assert!(
        words.contains(&format!("target/release/{cli}").as_str()),
        "the admin CLI {cli} is not copied: {copy}"
    );
    let installed = runtime
        .iter()
        .filter_map(|i| i.strip_prefix("COPY --from=builder "))
        .find_map(|args| {
            let args: Vec<_> = args.split_whitespace().collect();
            (args.first().map(|a| a.trim_end_matches('/')) == Some(out)).then(|| {
                args.last()
                    .expect("a destination")
                    .trim_end_matches('/')
                    .to_owned()
            })
        })
        .unwrap_or_else(|| panic!("the final stage does not take {out}"));
    assert_eq!(
        installed, "/usr/local/bin",
        "where the manifests' commands look"
    );
    // README's way to run it in the cluster names that path.
    assert!(
        read(&root.join("README.md")).contains(&format!("--command -- {installed}/{cli} ")),
        "README does not run {installed}/{cli} in the cluster"
    );

    // The final stage: copies and settings only, no toolchain, numeric user
    // (the one the manifests run as).
    assert!(
        runtime.iter().all(|i| !i.starts_with("RUN ")),
        "build steps in the final stage"
    );
    assert!(
        !runtime[0].contains("rust"),
        "final stage on a Rust image: {}",
        runtime[0]
    );
    let user = runtime
        .iter()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("USER in the final stage");
    let uid: i64 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert!(uid > 0);
    let base = k8s("base").rendered();
    for deployment in Kustomization::of_kind(&base, "Deployment") {
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(
            effective(&pod["containers"][0], pod, "runAsUser").as_i64(),
            Some(uid)
        );
    }
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("ENV FIVELEDGER_DATA_DIR=")),
        "default data folder"
    );

    // The build context leaves out build output but keeps the sources.
    let ignore = read(&root.join("deploy/Dockerfile.dockerignore"));
    let ignored: Vec<_> = ignore.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        ignored.contains(&"**/target"),
        "target/ sent to the builder"
    );
    for needed in ["Cargo.lock", "Cargo.toml", "proto", "services", "tests"] {
        assert!(
            !ignored.contains(&needed),
            "{needed} left out of the build context"
        );
    }
}

/// `key = "value"` from a TOML file (the workspace's package table).
fn toml_value(text: &str, key: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.split('=').next().map(str::trim) == Some(key))
        .unwrap_or_else(|| panic!("{key} not found"));
    line.split('"').nth(1).expect("quoted").to_owned()
}

fn version(text: &str) -> Vec<u32> {
    text.split('.')
        .map(|part| part.parse().expect("version"))
        .collect()
}

#[test]
fn every_yaml_under_deploy_parses() {
    let mut stack = vec![root().join("deploy/k8s")];
    let mut count = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                for doc in documents(&path) {
                    assert!(
                        doc.as_mapping().is_some_and(|m| !m.is_empty()),
                        "{}",
                        path.display()
                    );
                    count += 1;
                }
            }
        }
    }
    assert!(count > 10, "only {count} YAML documents");
}

#[test]
fn every_setting_the_binaries_read_is_documented() {
    for doc in fiveledger::settings_docs() {
        assert_eq!(doc.gaps(), Vec::<String>::new());
    }
}

/// README's configuration table names every setting (`A / __B` shorthand:
/// a row naming `FIVELEDGER_X__A` may list its siblings as `__B`).
#[test]
fn readme_lists_every_setting() {
    let readme = read(&root().join("README.md"));
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `FIVELEDGER_"))
        .collect();
    for setting in fiveledger::settings_docs()
        .iter()
        .flat_map(SettingsDoc::settings)
    {
        let (prefix, last) = setting.env.rsplit_once("__").unwrap_or(("", ""));
        let listed = rows.iter().any(|row| {
            row.contains(&format!("`{}`", setting.env))
                || (!prefix.is_empty()
                    && row.contains(&format!("`{prefix}__"))
                    && row.contains(&format!("`__{last}`")))
        });
        assert!(listed, "README's configuration table lacks {}", setting.env);
    }
}

/// Both overlays run TLS with one patch (kustomize loads no file outside an
/// overlay's folder, hence a copy in each); the dev operators' client
/// certificate is one of the dev CA, valid for no service; the dev CA's key
/// is not kept.
#[test]
fn the_overlays_share_the_tls_patch_and_the_dev_client_certificate_is_nobodys() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, UnixTime};
    let overlays = root().join("deploy/k8s/overlays");
    assert_eq!(
        read(&overlays.join("dev/tls.yaml")),
        read(&overlays.join("prod/tls.yaml")),
        "dev/tls.yaml and prod/tls.yaml differ"
    );
    let tls = overlays.join("dev/tls");
    assert!(
        !tls.join("ca.key").exists(),
        "the dev CA's key is committed"
    );
    let client = CertificateDer::pem_file_iter(tls.join("client.crt"))
        .expect("client.crt")
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM");
    assert_eq!(
        fiveledger_platform::tls::certificate_service(&client[0]),
        None,
        "the dev client certificate is a service's"
    );
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(tls.join("ca.crt")).expect("ca.crt") {
        roots.add(ca.expect("PEM")).expect("CA");
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        std::sync::Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier")
    .verify_client_cert(&client[0], &client[1..], UnixTime::now())
    .expect("the dev client certificate verifies against the dev CA");
}

/// The dev overlay's service keys are pairs: each service's key signs a
/// token its peers verify by its public key.
#[test]
fn the_dev_service_keys_are_pairs_the_peers_verify() {
    use fiveledger_platform::service_identity::{ServiceKey, ServicePeers, key_file};
    let dir = root().join("deploy/k8s/overlays/dev/service-keys");
    let peers = ServicePeers::load(&dir, "fiveledger", chrono::Duration::hours(1)).expect("peers");
    for svc in SERVICES {
        let key = ServiceKey::load(svc, &key_file(&dir, svc), "fiveledger").expect("key");
        let caller = futures::executor::block_on(fiveledger_platform::auth::TokenVerifier::verify(
            &peers,
            &key.token(),
        ))
        .unwrap_or_else(|e| panic!("{svc}: {e:?}"));
        assert_eq!(caller.subject, format!("service:{svc}"));
    }
}

/// Production migrates in a Job per service before the rollout: the same
/// image and database environment as the Deployment, restricted like it,
/// running `fiveledger-<service> migrate`, selected by no Service; the
/// Deployments only check the schema version (database.migrate off), while
/// dev (SQLite, one replica) migrates at start.
#[test]
fn prod_migrates_in_a_job_per_service_and_its_deployments_only_check() {
    let prod = k8s("overlays/prod");
    let rendered = prod.rendered();
    let loaded = check_services(&config_of(&prod), &rendered, "prod", &prod);
    for (svc, settings) in &loaded {
        assert!(!settings.database.migrate, "prod {svc}: migrates at start");
    }
    let dev = k8s("overlays/dev");
    for (svc, settings) in check_services(&config_of(&dev), &dev.rendered(), "dev", &dev) {
        assert!(settings.database.migrate, "dev {svc}: does not migrate");
    }
    let jobs = Kustomization::of_kind(&rendered, "Job");
    assert_eq!(jobs.len(), SERVICES.len(), "one Job per service");
    let services = Kustomization::of_kind(&rendered, "Service");
    for (svc, deployment) in deployments_by_name(&rendered) {
        let at = format!("prod {svc}-migrate");
        let job = jobs
            .iter()
            .find(|j| name(j) == format!("{svc}-migrate"))
            .unwrap_or_else(|| panic!("{at}: no Job"));
        let pod = &job["spec"]["template"]["spec"];
        let serving = &deployment["spec"]["template"]["spec"];
        let (c, d) = (&pod["containers"][0], &serving["containers"][0]);
        assert_eq!(c["image"], d["image"], "{at}: the Deployment's image");
        assert_eq!(
            strings(&c["command"]),
            [format!("/usr/local/bin/fiveledger-{svc}"), "migrate".into()],
            "{at}"
        );
        assert_eq!(c["envFrom"], d["envFrom"], "{at}: the same ConfigMap");
        let var = |container: &Value, key: &str| -> Value {
            container["env"]
                .as_sequence()
                .into_iter()
                .flatten()
                .find(|v| v["name"].as_str() == Some(key))
                .cloned()
                .unwrap_or_else(|| panic!("{at}: {key} unset"))
        };
        for key in ["FIVELEDGER_DATABASE__URL", "FIVELEDGER_DATABASE__SCHEMA"] {
            assert_eq!(var(c, key), var(d, key), "{at}: {key} as the Deployment's");
        }
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"), "{at}");
        assert_eq!(
            c["securityContext"], d["securityContext"],
            "{at}: restricted"
        );
        for field in ["runAsNonRoot", "runAsUser", "seccompProfile"] {
            assert_eq!(
                pod["securityContext"][field], serving["securityContext"][field],
                "{at}: pod {field}"
            );
        }
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        for service in &services {
            assert!(
                !labels_match(&service["spec"]["selector"], labels),
                "{at}: the Service {} would send calls to it",
                name(service)
            );
        }
    }
}
