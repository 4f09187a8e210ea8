//! The registry process started by this process (Linux).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{Auth, Registry, RegistryBuilder, read_log};
use crate::token::TokenServer;

/// How long a registry may take to answer `GET /v2/` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many free ports to try when another process takes the one picked.
const PORT_ATTEMPTS: usize = 8;

/// The registry binary: `$LATCH_DOCKER_REGISTRY`, else `docker-registry` from `PATH`.
fn registry_binary() -> PathBuf {
    std::env::var_os("LATCH_DOCKER_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docker-registry"))
}

/// The temporary directory (config, storage, log) and the running process.
pub(super) struct Process {
    _tmp: TempDir,
    child: Option<Child>,
}

impl Process {
    pub(super) fn start(b: RegistryBuilder) -> Registry {
        let tmp = tempfile::Builder::new()
            .prefix("latch-registry-")
            .tempdir()
            .expect("a temporary directory for the registry");
        let dir = tmp.path().to_owned();
        fs::create_dir_all(dir.join("storage")).expect("create the registry's storage directory");
        let auth = if let Some((user, password)) = b.basic {
            let out = crate::cmd::run(Command::new("htpasswd").args(["-Bbn", &user, &password]));
            fs::write(dir.join("htpasswd"), out.trim_end().to_owned() + "\n")
                .expect("write the htpasswd file");
            Auth::Basic { user, password }
        } else if let Some(opts) = b.token {
            let server = TokenServer::start(opts);
            fs::write(dir.join("token-root.pem"), server.cert_pem())
                .expect("write the token root certificate");
            Auth::Token(server)
        } else {
            Auth::None
        };
        let mut process = Process {
            _tmp: tmp,
            child: None,
        };
        let port = process.launch(None, &dir, &auth);
        Registry {
            dir,
            port,
            auth,
            process,
        }
    }

    pub(super) fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub(super) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(super) fn restart(&mut self, port: u16, dir: &Path, auth: &Auth) {
        self.launch(Some(port), dir, auth);
    }

    /// Starts the process and waits for `GET /v2/`; without a `port`, picks free ports
    /// until one is not taken by someone else meanwhile. Returns the port.
    fn launch(&mut self, port: Option<u16>, dir: &Path, auth: &Auth) -> u16 {
        let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
        let config = dir.join("config.yml");
        let log_path = dir.join("registry.log");
        let mut last = String::new();
        for attempt in 1..=attempts {
            let port = port.unwrap_or_else(free_port);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            fs::write(&config, config_text(dir, port, auth)).expect("write the registry config");
            let log = File::create(&log_path).expect("create the registry log");
            let mut cmd = Command::new(registry_binary());
            cmd.arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log handle"))
                .stderr(log);
            // The registry reads REGISTRY_* variables as config overrides: none may leak in.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("REGISTRY_") {
                    cmd.env_remove(k);
                }
            }
            let child = cmd.spawn().unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); install Debian's docker-registry package \
                     (apt-get install docker-registry) or set LATCH_DOCKER_REGISTRY",
                    registry_binary().display()
                )
            });
            self.child = Some(child);
            match self.wait_ready(addr, &log_path) {
                Ok(()) => return port,
                Err(log) if log.contains("address already in use") && attempt < attempts => {
                    last = log;
                }
                Err(log) => panic!(
                    "docker-registry did not start on {addr}; config {}:\n{}\n--- its output ---\n{log}",
                    config.display(),
                    fs::read_to_string(&config).unwrap_or_default()
                ),
            }
        }
        panic!("docker-registry found no free port:\n{last}")
    }

    /// Polls `GET /v2/` until any HTTP answer (200, or 401 with auth); `Err(log)` if the
    /// process exits or the time runs out.
    fn wait_ready(&mut self, addr: SocketAddr, log_path: &Path) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!("(exited with {status})\n{}", read_log(log_path)));
            }
            if http_get_status(addr, "/v2/").is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "(no answer to GET /v2/ within {START_TIMEOUT:?})\n{}",
                    read_log(log_path)
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// The registry's config: storage in `dir`, deletes on, plain HTTP on 127.0.0.1:`port`.
fn config_text(dir: &Path, port: u16, auth: &Auth) -> String {
    let auth = match auth {
        Auth::None => String::new(),
        Auth::Basic { .. } => format!(
            "auth:\n  htpasswd:\n    realm: latch-testkit\n    path: {}\n",
            yaml_str(&dir.join("htpasswd"))
        ),
        Auth::Token(t) => format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            serde_json::to_string(&t.realm()).expect("a string"),
            serde_json::to_string(t.service()).expect("a string"),
            serde_json::to_string(t.issuer()).expect("a string"),
            yaml_str(&dir.join("token-root.pem"))
        ),
    };
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: latch-testkit-not-secret\n\
         {auth}",
        yaml_str(&dir.join("storage")),
    )
}

/// A port that was free a moment ago (the registry cannot take a bound socket, so there
/// is a small race; `launch` retries when it loses it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// A YAML double-quoted scalar for a path (JSON strings are valid YAML).
fn yaml_str(path: &Path) -> String {
    serde_json::to_string(&path.to_string_lossy()).expect("a string")
}

/// The status of a plain `GET path` over HTTP/1.0, or `None` if nothing answers.
fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}
