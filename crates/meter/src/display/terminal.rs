//! The display on a terminal: redraws a few times a second from the newest snapshot,
//! cycles the pages on a timer until someone uses the keys, and presses the meter's local
//! button on `b`. Blocking: run it on a thread of its own.

use super::panel::Snapshot;
use super::screen::{Page, draw};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often the screen is redrawn.
const REDRAW: Duration = Duration::from_millis(250);
/// How long each page shows when the pages cycle by themselves.
const PAGE_TIME: Duration = Duration::from_secs(5);
/// After a key, the pages stay put this long.
const HOLD_AFTER_KEY: Duration = Duration::from_secs(30);

/// Shows `snapshots` until `q`, Esc or Ctrl-C, or until `stopped` turns true. `b` sends
/// a press of the local button.
pub fn run(
    snapshots: watch::Receiver<Snapshot>,
    button: mpsc::Sender<()>,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut terminal = ratatui::init();
    let result = show(&mut terminal, snapshots, button, stopped);
    ratatui::restore();
    result
}

fn show(
    terminal: &mut ratatui::DefaultTerminal,
    snapshots: watch::Receiver<Snapshot>,
    button: mpsc::Sender<()>,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut page = Page::Energy;
    let mut page_since = Instant::now();
    let mut last_key: Option<Instant> = None;
    while !*stopped.borrow() {
        let snapshot = snapshots.borrow().clone();
        terminal.draw(|frame| draw(frame, &snapshot, page))?;
        if event::poll(REDRAW)?
            && let Event::Key(key) = event::read()?
            && key.kind == KeyEventKind::Press
        {
            last_key = Some(Instant::now());
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(());
                }
                KeyCode::Right | KeyCode::Down | KeyCode::Char(' ') => page = page.next(),
                KeyCode::Left | KeyCode::Up => page = page.previous(),
                KeyCode::Char('b') => {
                    // A full queue means presses are waiting already.
                    let _ = button.try_send(());
                }
                _ => {}
            }
        }
        let held = last_key.is_some_and(|at| at.elapsed() < HOLD_AFTER_KEY);
        if !held && page_since.elapsed() >= PAGE_TIME {
            page = page.next();
            page_since = Instant::now();
        }
    }
    Ok(())
}
