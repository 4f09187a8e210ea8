//! `latch completions SHELL` and `latch man DIR`: shell completions and man pages, made
//! from the same command definitions as `--help` (what a package installs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory as _;

use crate::GlobalArgs;
use crate::output::{AnyError, StdoutError, outln};

/// Print shell completions for bash, zsh, fish, elvish or powershell.
///
/// Example: latch completions bash > /usr/share/bash-completion/completions/latch
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Runs `completions`.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "latch", &mut out);
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(&out)
        .map_err(StdoutError)?;
    Ok(ExitCode::SUCCESS)
}

/// Write man pages: latch.1 and one latch-COMMAND.1 per command.
///
/// Example: latch man /usr/share/man/man1
#[derive(clap::Args)]
#[command(long_about)]
pub struct ManArgs {
    /// The folder to write them to (created if needed).
    pub dir: PathBuf,
}

/// Runs `man`.
pub async fn run_man(_global: &GlobalArgs, args: ManArgs) -> Result<ExitCode, AnyError> {
    let cmd = crate::Cli::command();
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let mut written = Vec::new();
    let mut pages = vec![("latch".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        let name = format!("latch-{}", sub.get_name());
        let page = sub
            .clone()
            .bin_name(format!("latch {}", sub.get_name()))
            .display_name(name.clone());
        pages.push((name, page));
    }
    for (name, page) in pages {
        let path = args.dir.join(format!("{name}.1"));
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page)
            .title(name.clone())
            .render(&mut bytes)
            .map_err(|e| format!("{name}: {e}"))?;
        std::fs::write(&path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    outln!(
        "Wrote {} man pages to {}",
        written.len(),
        args.dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
