//! `joule metrology accuracy`: the accuracy table of docs/METROLOGY.md, regenerated.
//!
//! Runs every point of `joule_sim::accuracy` (IEC class points, influence quantities, real
//! loads, three-phase) through the real meter, reporting progress on stderr, and prints the
//! Markdown table or writes it between the markers of a document.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use joule_sim::accuracy::{all_points, markdown_table, run as run_point};

use crate::cli::AccuracyArgs;

/// The markers the table goes between.
const START_MARKER: &str = "<!-- accuracy-table:start -->";
const END_MARKER: &str = "<!-- accuracy-table:end -->";

/// Why the accuracy run failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccuracyError {
    /// Points out of their limits.
    #[error("{count} accuracy point(s) failed: {names}")]
    Failed {
        /// How many.
        count: usize,
        /// Their names.
        names: String,
    },
    /// The document could not be read or written.
    #[error("{}: {source}", path.display())]
    Document {
        /// The document.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The document lacks the markers.
    #[error("{}: no `{START_MARKER}` … `{END_MARKER}` markers to put the table between", path.display())]
    NoMarkers {
        /// The document.
        path: PathBuf,
    },
    /// Writing the output failed.
    #[error("writing the output")]
    Output(#[from] io::Error),
}

/// Runs the points and prints or writes the table.
pub(crate) fn run(args: &AccuracyArgs, out: &mut impl Write) -> Result<(), AccuracyError> {
    // Check the document before the minute of work, not after.
    let document = match &args.update {
        Some(path) => Some((path, read_document(path)?)),
        None => None,
    };
    let points = all_points();
    let terminal = io::stderr().is_terminal();
    let mut results = Vec::with_capacity(points.len());
    for (n, point) in points.iter().enumerate() {
        let result = run_point(point);
        let progress = format!(
            "[{}/{}] {}: {}: {:+.4}",
            n + 1,
            points.len(),
            point.group,
            point.name,
            result.energy_error_pct
        );
        if terminal {
            eprint!("\r\x1b[2K{progress}");
        } else {
            eprintln!("{progress}");
        }
        results.push(result);
    }
    if terminal {
        eprintln!();
    }
    let table = markdown_table(&results);
    match document {
        Some((path, (before, after))) => {
            let updated = format!("{before}{START_MARKER}\n{}\n{after}", table.trim());
            std::fs::write(path, updated).map_err(|source| AccuracyError::Document {
                path: path.clone(),
                source,
            })?;
        }
        None => out.write_all(table.as_bytes())?,
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(AccuracyError::Failed {
            count: failed.len(),
            names: failed.join("; "),
        })
    }
}

/// Reads `path` and splits it around the markers: the text before the start marker and
/// the text from the end marker on.
fn read_document(path: &Path) -> Result<(String, String), AccuracyError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccuracyError::Document {
        path: path.to_path_buf(),
        source,
    })?;
    match (text.find(START_MARKER), text.find(END_MARKER)) {
        (Some(start), Some(end)) if start < end => {
            Ok((text[..start].to_string(), text[end..].to_string()))
        }
        _ => Err(AccuracyError::NoMarkers {
            path: path.to_path_buf(),
        }),
    }
}
