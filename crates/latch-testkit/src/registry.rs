//! A real registry: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::token::{TokenAuth, TokenServer};

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

enum Auth {
    None,
    Basic { user: String, password: String },
    Token(TokenServer),
}

/// Options for a [`Registry`] before it starts.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    basic: Option<(String, String)>,
    token: Option<TokenAuth>,
}

impl RegistryBuilder {
    /// Basic authentication through distribution's htpasswd support (a bcrypt file made
    /// with `htpasswd -Bbn` from apache2-utils).
    pub fn basic_auth(mut self, user: &str, password: &str) -> RegistryBuilder {
        self.basic = Some((user.to_owned(), password.to_owned()));
        self.token = None;
        self
    }

    /// Bearer tokens from a [`TokenServer`] started with these options.
    pub fn token_auth(mut self, opts: TokenAuth) -> RegistryBuilder {
        self.token = Some(opts);
        self.basic = None;
        self
    }

    /// Starts the registry and waits until it answers.
    pub fn start(self) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("latch-registry-")
            .tempdir()
            .expect("a temporary directory for the registry");
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).expect("create the registry's storage directory");
        let auth = if let Some((user, password)) = self.basic {
            let out = crate::cmd::run(Command::new("htpasswd").args(["-Bbn", &user, &password]));
            fs::write(
                dir.path().join("htpasswd"),
                out.trim_end().to_owned() + "\n",
            )
            .expect("write the htpasswd file");
            Auth::Basic { user, password }
        } else if let Some(opts) = self.token {
            let server = TokenServer::start(opts);
            fs::write(dir.path().join("token-root.pem"), server.cert_pem())
                .expect("write the token root certificate");
            Auth::Token(server)
        } else {
            Auth::None
        };
        let mut reg = Registry {
            dir,
            port: 0,
            child: None,
            auth,
        };
        reg.launch(true);
        reg
    }
}

/// A running `docker-registry`: filesystem storage in a temporary directory, deletes
/// enabled, plain HTTP on 127.0.0.1 and a free port. Killed when dropped (its storage is
/// removed with it).
///
/// ```no_run
/// let reg = latch_testkit::Registry::start();
/// let dest = reg.reference("app:1"); // "127.0.0.1:PORT/app:1"
/// # let _ = dest;
/// ```
pub struct Registry {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    auth: Auth,
}

impl Registry {
    /// An open registry (no auth section in its config).
    pub fn start() -> Registry {
        Registry::builder().start()
    }

    /// A registry that requires these basic credentials on every request.
    pub fn with_basic_auth(user: &str, password: &str) -> Registry {
        Registry::builder().basic_auth(user, password).start()
    }

    /// A registry that requires bearer tokens from a real token server (see
    /// [`Registry::token_server`]).
    pub fn with_token_auth(opts: TokenAuth) -> Registry {
        Registry::builder().token_auth(opts).start()
    }

    /// Options before starting.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT/<repo_and_tag>`, e.g. `reference("app:1")`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host())
    }

    /// The storage root (`docker/registry/v2/...` below it once something is pushed).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The config file written for it.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    /// Everything the registry printed (stdout and stderr) so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path())
    }

    /// The basic credentials, for a basic-auth registry.
    pub fn basic_credentials(&self) -> Option<(&str, &str)> {
        match &self.auth {
            Auth::Basic { user, password } => Some((user, password)),
            _ => None,
        }
    }

    /// The token server, for a token-auth registry.
    pub fn token_server(&self) -> Option<&TokenServer> {
        match &self.auth {
            Auth::Token(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the registry (for "registry gone" tests): connections to its address are
    /// refused until [`Registry::restart`]. Its storage is kept.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(false);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    fn write_config(&self) {
        let storage = self.storage_dir();
        let auth = match &self.auth {
            Auth::None => String::new(),
            Auth::Basic { .. } => format!(
                "auth:\n  htpasswd:\n    realm: latch-testkit\n    path: {}\n",
                yaml_str(&self.dir.path().join("htpasswd"))
            ),
            Auth::Token(t) => format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                serde_json::to_string(&t.realm()).expect("a string"),
                serde_json::to_string(t.service()).expect("a string"),
                serde_json::to_string(t.issuer()).expect("a string"),
                yaml_str(&self.dir.path().join("token-root.pem"))
            ),
        };
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:{}\n  secret: latch-testkit-not-secret\n\
             {auth}",
            yaml_str(&storage),
            self.port
        );
        fs::write(self.config_path(), config).expect("write the registry config");
    }

    /// Starts the process and waits for `GET /v2/`; with `new_port`, picks free ports
    /// until one is not taken by someone else meanwhile.
    fn launch(&mut self, new_port: bool) {
        let attempts = if new_port { PORT_ATTEMPTS } else { 1 };
        for attempt in 1..=attempts {
            if new_port {
                self.port = free_port();
            }
            self.write_config();
            let log = File::create(self.log_path()).expect("create the registry log");
            let mut cmd = Command::new(registry_binary());
            cmd.arg("serve")
                .arg(self.config_path())
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
            match self.wait_ready() {
                Ok(()) => return,
                Err(log) if log.contains("address already in use") && attempt < attempts => {
                    continue;
                }
                Err(log) => panic!(
                    "docker-registry did not start on {}; config {}:\n{}\n--- its output ---\n{log}",
                    self.host(),
                    self.config_path().display(),
                    fs::read_to_string(self.config_path()).unwrap_or_default()
                ),
            }
        }
    }

    /// Polls `GET /v2/` until any HTTP answer (200, or 401 with auth); `Err(log)` if the
    /// process exits or the time runs out.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "(exited with {status})\n{}",
                    read_log(&self.log_path())
                ));
            }
            if http_get_status(self.addr(), "/v2/").is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "(no answer to GET /v2/ within {START_TIMEOUT:?})\n{}",
                    read_log(&self.log_path())
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("host", &self.host())
            .field("dir", &self.dir.path())
            .finish()
    }
}

fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// A port that was free a moment ago (the registry cannot take a bound socket, so there
/// is a small race; `launch` retries when it loses it).
pub(crate) fn free_port() -> u16 {
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
pub(crate) fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
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
