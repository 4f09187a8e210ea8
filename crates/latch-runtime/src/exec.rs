//! Running the podman and docker CLIs: bounded output, errors that name the command, a
//! child killed when the future is dropped.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::error::{Result, RuntimeError};

/// Bound on what a command may print on stdout (image lists of large stores).
pub(crate) const MAX_STDOUT: usize = 32 * 1024 * 1024;
/// How much of stderr is kept (its end: that is where the error is).
const KEEP_STDERR: usize = 64 * 1024;
/// How much of stderr goes into an error message.
const SHOW_STDERR: usize = 2048;

/// A program with the global arguments and environment every call gets.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub program: PathBuf,
    pub global_args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

/// What a command printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub stdout: Vec<u8>,
    /// The command line, for later error messages.
    pub command: String,
}

impl Output {
    /// Stdout as UTF-8.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.stdout).map_err(|_| RuntimeError::BadOutput {
            command: self.command.clone(),
            detail: "not UTF-8".to_owned(),
        })
    }
}

impl Program {
    /// The command line shown in errors: program, global arguments, arguments.
    pub fn describe<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in self
            .global_args
            .iter()
            .map(OsString::as_os_str)
            .chain(args.iter().map(AsRef::as_ref))
        {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Runs the program with `args`; `Ok` with its stdout if it exits zero.
    pub async fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output> {
        let command = self.describe(args);
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.global_args)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                RuntimeError::NotFound {
                    program: self.program.to_string_lossy().into_owned(),
                }
            } else {
                RuntimeError::Spawn {
                    command: command.clone(),
                    source,
                }
            }
        })?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (out, err) = tokio::join!(read_head(stdout, MAX_STDOUT), read_tail(stderr));
        let spawn_err = |source| RuntimeError::Spawn {
            command: command.clone(),
            source,
        };
        let (stdout, overflow) = out.map_err(spawn_err)?;
        let stderr = err.map_err(spawn_err)?;
        if overflow {
            let _ = child.kill().await;
            return Err(RuntimeError::TooMuchOutput {
                command,
                max: MAX_STDOUT,
            });
        }
        let status = child.wait().await.map_err(spawn_err)?;
        if status.success() {
            return Ok(Output { stdout, command });
        }
        let stderr = shown(&stderr);
        if looks_unreachable(&stderr) {
            return Err(RuntimeError::DaemonUnreachable { command, stderr });
        }
        Err(RuntimeError::Failed {
            command,
            status: status.to_string(),
            stderr,
        })
    }
}

/// Whether stderr says the engine could not be reached (docker daemon, podman service).
fn looks_unreachable(stderr: &str) -> bool {
    const SIGNS: &[&str] = &[
        "Cannot connect to the Docker daemon",
        "Is the docker daemon running",
        "error during connect",
        "unable to connect to Podman socket",
    ];
    SIGNS.iter().any(|s| stderr.contains(s))
}

/// The first `max` bytes; drains the rest and says whether there was more.
async fn read_head<R: AsyncRead + Unpin>(
    r: Option<R>,
    max: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let Some(r) = r else {
        return Ok((Vec::new(), false));
    };
    let mut buf = Vec::new();
    let mut limited = r.take(max as u64 + 1);
    limited.read_to_end(&mut buf).await?;
    if buf.len() > max {
        buf.truncate(max);
        return Ok((buf, true));
    }
    Ok((buf, false))
}

/// The last [`KEEP_STDERR`] bytes of a stream.
async fn read_tail<R: AsyncRead + Unpin>(r: Option<R>) -> std::io::Result<Vec<u8>> {
    let Some(mut r) = r else {
        return Ok(Vec::new());
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(kept);
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * KEEP_STDERR {
            kept.drain(..kept.len() - KEEP_STDERR);
        }
    }
}

/// The end of stderr, trimmed, at most [`SHOW_STDERR`] bytes, control characters removed.
fn shown(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let mut start = text.len().saturating_sub(SHOW_STDERR);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail: String = text[start..]
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    if start > 0 {
        format!("…{tail}")
    } else if tail.is_empty() {
        "(nothing on stderr)".to_owned()
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Program {
        Program {
            program: PathBuf::from("sh"),
            global_args: vec!["-c".into()],
            env: vec![("LATCH_X".into(), "x-value".into())],
        }
    }

    #[tokio::test]
    async fn runs_and_reports() {
        let out = sh().run(&["printf %s \"$LATCH_X\""]).await.unwrap();
        assert_eq!(out.text().unwrap(), "x-value");
        let err = sh()
            .run(&["echo oops >&2; exit 3"])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("sh -c echo oops"), "{err}");
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("oops"), "{err}");
    }

    #[tokio::test]
    async fn bounds_stderr_and_names_missing_programs() {
        let err = sh()
            .run(&["head -c 300000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1"])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.len() < 3000, "{}", err.len());
        assert!(err.ends_with("END"), "{err}");
        let missing = Program {
            program: PathBuf::from("latch-no-such-program"),
            global_args: vec![],
            env: vec![],
        };
        let err = missing.run(&["x"]).await.unwrap_err();
        assert!(matches!(err, RuntimeError::NotFound { .. }), "{err}");
        assert_eq!(
            err.to_string().split(" (").next().unwrap(),
            "latch-no-such-program not found on PATH"
        );
    }

    #[tokio::test]
    async fn daemon_unreachable_is_typed() {
        let err = sh()
            .run(&["echo 'Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?' >&2; exit 1"])
            .await
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::DaemonUnreachable { .. }),
            "{err}"
        );
    }
}
