//! Output that cannot be written never ends in a panic: a closed pipe (`latch status |
//! true`) ends quietly with 141, what a shell shows for a tool killed by SIGPIPE; any other
//! write error on stdout (`latch status > /dev/full`) is one line on stderr and exit 1.
#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `latch <args>` with `stdout` as its standard output, capturing stderr.
fn latch(args: &[&str], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .env_remove("LATCH_PROFILE")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run latch")
}

/// A pipe whose read end is closed before latch starts: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

fn dev_full() -> Option<std::fs::File> {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return None;
    }
    Some(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full"),
    )
}

fn describe(args: &[&str], o: &Output) -> String {
    format!(
        "latch {}: {:?}\nstderr: {}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Commands that print on stdout, offline: the embedded demo, its status (text and JSON,
/// before and after an install), and clap's help and version.
fn printing_commands(data: &Path) -> Vec<Vec<String>> {
    let d = data.to_str().expect("utf-8 temp dir").to_owned();
    let status = ["status", "--profile", "demo", "--data-dir", &d];
    let mut status_json = status.to_vec();
    status_json.push("--json");
    [
        &status[..],
        &status_json[..],
        &["demo", "--data-dir", &d],
        &["demo", "--json", "--data-dir", &d],
        &["--help"],
        &["--version"],
        &["status", "--help"],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect())
    .collect()
}

#[test]
fn a_closed_pipe_ends_quietly_with_141() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for args in printing_commands(&data) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = latch(&args, closed_pipe());
        let stderr = String::from_utf8_lossy(&o.stderr);
        let what = describe(&args, &o);
        assert_ne!(o.status.code(), Some(101), "{what}");
        assert!(!stderr.contains("panicked"), "{what}");
        assert_eq!(o.status.code(), Some(141), "{what}");
        assert!(stderr.is_empty(), "{what}");
    }
    // The demo did install: status has more to say the second time round.
    let o = latch(
        &[
            "status",
            "--profile",
            "demo",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        Stdio::piped(),
    );
    assert!(o.status.success(), "{}", describe(&["status"], &o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Installed:      sha256:"));
}

#[test]
fn a_full_disk_is_one_line_on_stderr_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for args in printing_commands(&data) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let Some(full) = dev_full() else { return };
        let o = latch(&args, full);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let what = describe(&args, &o);
        assert_ne!(o.status.code(), Some(101), "{what}");
        assert!(!stderr.contains("panicked"), "{what}");
        assert_eq!(o.status.code(), Some(1), "{what}");
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            ["latch: cannot write to standard output: No space left on device (os error 28)"],
            "{what}"
        );
    }
}

#[test]
fn a_failed_command_under_json_still_reports_its_error_when_stdout_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a profile: the command fails before printing anything but its error document.
    let missing = tmp.path().join("no-such-profile.toml");
    let args = ["status", "--json", "--profile", missing.to_str().unwrap()];
    let ok = latch(&args, Stdio::piped());
    assert_eq!(ok.status.code(), Some(1), "{}", describe(&args, &ok));
    let doc: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("error document");
    assert!(doc["error"]["message"].is_string());
    let message = String::from_utf8_lossy(&ok.stderr).into_owned();
    assert!(message.starts_with("latch: "), "{message}");

    // A closed pipe: the command's own error, exit 1, nothing about the pipe.
    let o = latch(&args, closed_pipe());
    let what = describe(&args, &o);
    assert_eq!(o.status.code(), Some(1), "{what}");
    assert_eq!(String::from_utf8_lossy(&o.stderr), message, "{what}");

    // A full disk: the command's error, then the failed write.
    if let Some(full) = dev_full() {
        let o = latch(&args, full);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let what = describe(&args, &o);
        assert_eq!(o.status.code(), Some(1), "{what}");
        assert!(!stderr.contains("panicked"), "{what}");
        assert!(stderr.starts_with(&message), "{what}");
        assert!(
            stderr.trim_end().ends_with(
                "latch: cannot write to standard output: No space left on device (os error 28)"
            ),
            "{what}"
        );
    }
}
