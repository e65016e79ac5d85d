//! `kube-sim serve`: run the simulated API server until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use arc_sim::SimExt;
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
        /// Also run the simulated ARC controller (CRDs installed; it acts once a
        /// controller Deployment exists) with a fake GitHub, whose registrations
        /// are printed on exit.
        #[arg(long)]
        arc: bool,
        /// ARC controller requeue delays: `real` (5s/1s/30s as upstream) or `fast`.
        #[arg(long, default_value = "real", value_parser = ["real", "fast"])]
        arc_timing: String,
        /// Run Jobs whose image is registry.k8s.io/kubectl (such as the hooks
        /// of `helm-arc-uninstall render --hooks`) with this kubectl binary.
        #[arg(long, value_name = "PATH")]
        kubectl: Option<PathBuf>,
        /// Serve HTTPS with a certificate from a fresh test CA (for 127.0.0.1,
        /// localhost and every --tls-name); the kubeconfig carries the CA.
        #[arg(long)]
        tls: bool,
        /// Another name (DNS or IP) of the TLS certificate; repeatable.
        #[arg(long, value_name = "NAME", requires = "tls")]
        tls_name: Vec<String>,
        /// Write the test CA's certificate (PEM) here.
        #[arg(long, value_name = "PATH", requires = "tls")]
        ca_out: Option<PathBuf>,
        /// Require `Authorization: Bearer TOKEN` on API requests (401 otherwise);
        /// repeatable. The kubeconfig uses the first.
        #[arg(long, value_name = "TOKEN")]
        token: Vec<String>,
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
            arc,
            arc_timing,
            kubectl,
            tls,
            tls_name,
            ca_out,
            token,
        } => {
            let tls = if tls {
                let ca = kube_sim::TestCa::new("kube-sim test CA")?;
                if let Some(path) = &ca_out {
                    std::fs::write(path, ca.cert_pem())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                let mut names = vec!["127.0.0.1", "localhost"];
                names.extend(tls_name.iter().map(String::as_str));
                Some(ca.issue(&names)?)
            } else {
                None
            };
            let sim = Sim::start(SimConfig {
                port,
                seed,
                gc_delay: Duration::from_millis(gc_delay_ms),
                tls,
                tokens: token,
                ..SimConfig::default()
            })?;
            if let Some(path) = &kubeconfig_out {
                sim.write_kubeconfig(path)?;
            }
            let github = arc_sim::github::FakeGitHub::new();
            let controller = if arc {
                let timing = if arc_timing == "fast" {
                    arc_sim::controller::Timing::fast()
                } else {
                    arc_sim::controller::Timing::real()
                };
                let config = arc_sim::controller::ArcConfig {
                    timing,
                    ..arc_sim::controller::ArcConfig::default()
                };
                Some(sim.start_arc(github.clone(), config).map_err(|e| {
                    anyhow::anyhow!("cannot start the ARC controller: {}", e.message)
                })?)
            } else {
                None
            };
            let _jobs = match kubectl {
                Some(kubectl) => Some(sim.start_job_runner(kubectl)?),
                None => None,
            };
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
            if let Some(controller) = controller {
                controller.stop();
                for ss in github.scale_sets() {
                    eprintln!(
                        "fake GitHub: scale set {} {:?} (runner group {:?}) still registered",
                        ss.id, ss.name, ss.runner_group
                    );
                }
                for r in github.runners() {
                    eprintln!("fake GitHub: runner {} {:?} still registered", r.id, r.name);
                }
            }
            Ok(())
        }
    }
}
