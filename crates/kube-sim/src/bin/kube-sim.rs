//! `kube-sim serve`: run the simulated API server until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kube_sim::{Sim, SimConfig};

#[derive(Parser)]
#[command(
    name = "kube-sim",
    about = "An in-memory Kubernetes API server for tests",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on 127.0.0.1, print its URL, run until SIGINT/SIGTERM.
    Serve {
        /// Write a kubeconfig for the simulator here.
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
        /// Port on 127.0.0.1 (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Delay before the garbage collector acts, in milliseconds.
        #[arg(long, default_value_t = 50)]
        gc_delay_ms: u64,
        /// Seed for uids and generated names.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            kubeconfig_out,
            port,
            gc_delay_ms,
            seed,
        } => {
            let sim = Sim::start(SimConfig {
                port,
                seed,
                gc_delay: Duration::from_millis(gc_delay_ms),
                ..SimConfig::default()
            })?;
            if let Some(path) = &kubeconfig_out {
                sim.write_kubeconfig(path)?;
            }
            println!("{}", sim.url());
            sim.handle().block_on(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .context("cannot listen for SIGTERM")?;
                tokio::select! {
                    r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT"),
                    _ = term.recv() => Ok(()),
                }
            })?;
            Ok(())
        }
    }
}
