//! The `joule` command line: one binary for every part of Joule.

mod bench;
mod billing;
mod cli;
mod demo;
mod hub;
mod meter;
mod metrology;
mod registry;
mod runtime;
mod sim;

/// The hub and the benchmarks allocate and free large buffers from many threads at once
/// (a block's decoded records, a batch's rows); glibc's allocator hands such memory back
/// to the kernel and faults it in again, which cost a billing run from the store a third
/// of its time. mimalloc keeps it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{self, ErrorKind};
use std::process::ExitCode;

use clap::Parser;

use cli::{BenchCommand, Cli, Command, HubAction, MetrologyCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`| head`) is not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("joule: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen verb.
fn run(cli: Cli) -> anyhow::Result<()> {
    // Not `stdout().lock()`: holding the lock for the whole run would block every other
    // thread that writes (the hub's log lines) for as long as the hub runs.
    let mut out = io::stdout();
    match cli.command {
        Command::Metrology(MetrologyCommand::Analyze(args)) => {
            metrology::analyze::run(&args, &mut out)?;
        }
        Command::Metrology(MetrologyCommand::Calibrate(args)) => {
            metrology::calibrate::run(&args, &mut out)?;
        }
        Command::Metrology(MetrologyCommand::Accuracy(args)) => {
            metrology::accuracy::run(&args, &mut out)?;
        }
        Command::Hub(args) => match &args.action {
            None => hub::run(&args.hub)?,
            Some(HubAction::ExportMosquittoAuth(export)) => {
                hub::export_mosquitto_auth(export, &mut out)?;
            }
        },
        Command::Meter(args) => meter::run(&args, &mut out)?,
        Command::Meters(command) => registry::meters(&command, &mut out)?,
        Command::Users(command) => registry::users(&command, &mut out)?,
        Command::Bench(BenchCommand::Ingest(args)) => bench::ingest::run(&args, &mut out)?,
        Command::Bench(BenchCommand::Billing(args)) => bench::billing::run(&args, &mut out)?,
        Command::Bench(BenchCommand::Query(args)) => bench::query::run(&args, &mut out)?,
        Command::Bench(BenchCommand::Metrology(args)) => bench::metrology::run(&args, &mut out)?,
        Command::Tariffs(command) => registry::tariffs(&command, &mut out)?,
        Command::Billing(command) => billing::billing(&command, &mut out)?,
        Command::Demo(args) => demo::run(&args, &mut out)?,
        Command::Sim(args) => sim::run(&args, &mut out)?,
    }
    Ok(())
}

/// Whether an error comes down to writing into a closed pipe.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
