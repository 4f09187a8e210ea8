//! `latch`: the command-line client of the `latch` library. It parses, calls a flow and
//! renders the result (human text with progress bars, or `--json`); nothing more.
#![forbid(unsafe_code)]
// All output goes through `output` (`outln!`, `errln!`…), which never panics on a closed
// pipe or a full disk.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod commands;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::{AnyError, errln};

/// Keep a sandbox container image current from a registry you do not trust.
///
/// Latch finds the newest image, proves it was signed by the right key, refuses anything
/// older than what it has, installs it, and re-checks it before every use.
#[derive(Parser)]
#[command(
    name = "latch",
    version = commands::version::LONG_VERSION,
    about,
    long_about,
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command understands.
#[derive(clap::Args, Clone, Debug)]
pub struct GlobalArgs {
    /// Reach this registry host (host[:port]) over plain HTTP. Loopback hosts
    /// (localhost, 127.0.0.0/8, ::1) always may. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST", global = true)]
    pub insecure_registries: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    Demo(commands::demo::Args),
    Upgrade(commands::upgrade::Args),
    VerifyLocal(commands::verify_local::Args),
    Check(commands::check::Args),
    StoreSignatures(commands::store_signatures::Args),
    Status(commands::status::Args),
    PrepareArchive(commands::prepare_archive::Args),
    LoadArchive(commands::load_archive::Args),
    Install(commands::install::Args),
    Inspect(commands::inspect::Args),
    Tags(commands::tags::Args),
    Pull(commands::pull::Args),
    Diff(commands::diff::Args),
    Normalize(commands::normalize::Args),
    VerifySignatures(commands::verify_signatures::Args),
    Verify(commands::verify::Args),
    VerifyBundle(commands::verify_bundle::Args),
    VerifyAttestation(commands::verify_attestation::Args),
    GenerateKeyPair(commands::generate_key_pair::Args),
    Sign(commands::sign::Args),
    Attest(commands::attest::Args),
    Nightlies(commands::nightlies::Args),
    Promote(commands::promote::Args),
    RotateKeys(commands::rotate_keys::Args),
    Version(commands::version::Args),
    Completions(commands::completions::Args),
    Man(commands::completions::ManArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("latch: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(a) => commands::demo::run(&cli.global, a).await,
            Command::Upgrade(a) => commands::upgrade::run(&cli.global, a).await,
            Command::VerifyLocal(a) => commands::verify_local::run(&cli.global, a).await,
            Command::Check(a) => commands::check::run(&cli.global, a).await,
            Command::StoreSignatures(a) => commands::store_signatures::run(&cli.global, a).await,
            Command::Status(a) => commands::status::run(&cli.global, a).await,
            Command::PrepareArchive(a) => commands::prepare_archive::run(&cli.global, a).await,
            Command::LoadArchive(a) => commands::load_archive::run(&cli.global, a).await,
            Command::Install(a) => commands::install::run(&cli.global, a).await,
            Command::Inspect(a) => commands::inspect::run(&cli.global, a).await,
            Command::Tags(a) => commands::tags::run(&cli.global, a).await,
            Command::Pull(a) => commands::pull::run(&cli.global, a).await,
            Command::Diff(a) => commands::diff::run(&cli.global, a).await,
            Command::Normalize(a) => commands::normalize::run(&cli.global, a).await,
            Command::VerifySignatures(a) => commands::verify_signatures::run(&cli.global, a).await,
            Command::Verify(a) => commands::verify::run(&cli.global, a).await,
            Command::VerifyBundle(a) => commands::verify_bundle::run(&cli.global, a).await,
            Command::VerifyAttestation(a) => {
                commands::verify_attestation::run(&cli.global, a).await
            }
            Command::GenerateKeyPair(a) => commands::generate_key_pair::run(&cli.global, a).await,
            Command::Sign(a) => commands::sign::run(&cli.global, a).await,
            Command::Attest(a) => commands::attest::run(&cli.global, a).await,
            Command::Nightlies(a) => commands::nightlies::run(&cli.global, a).await,
            Command::Promote(a) => commands::promote::run(&cli.global, a).await,
            Command::RotateKeys(a) => commands::rotate_keys::run(&cli.global, a).await,
            Command::Version(a) => commands::version::run(&cli.global, a).await,
            Command::Completions(a) => commands::completions::run(&cli.global, a).await,
            Command::Man(a) => commands::completions::run_man(&cli.global, a).await,
        }
    });
    // A last line may still sit in stdout's buffer: its write error counts too.
    match result.and_then(|code| output::flush_stdout().map(|()| code).map_err(Into::into)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// Reports a failed command and returns its exit code.
fn fail(e: &AnyError) -> ExitCode {
    if let Some(w) = output::stdout_error(e) {
        return output::stdout_failure(w);
    }
    let mut unwritten = None;
    if std::env::args_os().any(|a| a == "--json") {
        unwritten = output::print_json_error(e)
            .and_then(|()| output::flush_stdout())
            .err();
    }
    // The command's own failure is reported (on stderr) even when its JSON document
    // could not be written; a closed pipe adds nothing to it.
    output::print_error(e);
    if let Some(w) = unwritten.filter(|w| !w.is_broken_pipe()) {
        errln!("latch: {w}: {}", w.0);
    }
    ExitCode::FAILURE
}

/// Ends as `Cli::parse` would (help and version on stdout with 0, usage errors on stderr
/// with 2), except that a failed write to stdout is handled like any command's.
fn clap_exit(e: &clap::Error) -> ExitCode {
    let code = ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    if e.use_stderr() {
        let _ = e.print();
        return code;
    }
    match e
        .print()
        .map_err(output::StdoutError)
        .and_then(|()| output::flush_stdout())
    {
        Ok(()) => code,
        Err(w) => output::stdout_failure(&w),
    }
}
