//! The display's pages, drawn from a snapshot: energy (the registers in large digits),
//! power (W, V, A, PF, Hz, per phase on a three-phase meter) and status (supply switch,
//! link, outbox, alarms). A header names the meter and flags alarms on every page.

use super::panel::Snapshot;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use tui_big_text::{BigText, PixelSize};

/// The display's pages, in the order they cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Import and export registers.
    Energy,
    /// Instantaneous values.
    Power,
    /// Supply switch, link, outbox and alarms.
    Status,
}

impl Page {
    /// Every page, in order.
    pub const ALL: [Page; 3] = [Page::Energy, Page::Power, Page::Status];

    /// The page after this one.
    pub fn next(self) -> Page {
        Self::ALL[(self.index() + 1) % Self::ALL.len()]
    }

    /// The page before this one.
    pub fn previous(self) -> Page {
        Self::ALL[(self.index() + Self::ALL.len() - 1) % Self::ALL.len()]
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    fn title(self) -> &'static str {
        match self {
            Page::Energy => "Energy",
            Page::Power => "Power",
            Page::Status => "Status",
        }
    }
}

/// Draws `page` of `snapshot` over the whole frame.
pub fn draw(frame: &mut Frame<'_>, snapshot: &Snapshot, page: Page) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(header_line(snapshot, page)), header);
    match page {
        Page::Energy => energy(frame, snapshot, body),
        Page::Power => power(frame, snapshot, body),
        Page::Status => status(frame, snapshot, body),
    }
    let keys = "←/→ page   b button (reconnect)   q quit";
    frame.render_widget(Paragraph::new(keys).dark_gray(), footer);
}

fn header_line(snapshot: &Snapshot, page: Page) -> Line<'static> {
    let meter = if snapshot.meter_id.is_empty() {
        "waiting for the meter…".to_owned()
    } else {
        format!("Joule meter {}", snapshot.meter_id)
    };
    let mut spans = vec![
        Span::styled(meter, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("   {}", page.title())),
    ];
    if !snapshot.alarms.is_empty() {
        spans.push(Span::styled(
            format!("   ALARM ({})", snapshot.alarms.len()),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

/// kWh with three decimals (Wh resolution), from mWh.
fn kwh(mwh: u64) -> String {
    format!("{:.3}", mwh as f64 / 1_000_000.0)
}

fn energy(frame: &mut Frame<'_>, snapshot: &Snapshot, area: Rect) {
    let [import, export, tariff] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Min(0),
    ])
    .areas(area);
    let Some(observation) = &snapshot.observation else {
        frame.render_widget(Paragraph::new("no reading yet"), area);
        return;
    };
    let registers = &observation.registers;
    big(frame, import, "Import kWh", &kwh(registers.import_mwh));
    big(frame, export, "Export kWh", &kwh(registers.export_mwh));
    let price = match &snapshot.price {
        Some((price, currency)) => format!("   price {price:.4} {currency}/kWh"),
        None => String::new(),
    };
    // People count tariffs from 1, as utility meters and DSMR do (the wire counts from 0);
    // the portal shows the same.
    frame.render_widget(
        Paragraph::new(format!("Tariff T{}{price}", u16::from(snapshot.tariff) + 1)),
        tariff,
    );
}

fn big(frame: &mut Frame<'_>, area: Rect, title: &str, value: &str) {
    let block = Block::new().borders(Borders::TOP).title(title.to_owned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text = BigText::builder()
        .pixel_size(PixelSize::Quadrant)
        .lines(vec![value.to_owned().into()])
        .build();
    frame.render_widget(text, inner);
}

fn power(frame: &mut Frame<'_>, snapshot: &Snapshot, area: Rect) {
    let Some(observation) = &snapshot.observation else {
        frame.render_widget(Paragraph::new("no reading yet"), area);
        return;
    };
    let [watts, values] = Layout::vertical([Constraint::Length(6), Constraint::Min(0)]).areas(area);
    let direction = if observation.total.p_w < 0.0 {
        "W (exporting)"
    } else {
        "W (importing)"
    };
    big(
        frame,
        watts,
        direction,
        &format!("{:.0}", observation.total.p_w),
    );
    let t = &observation.total;
    let frequency = observation
        .freq_hz
        .map_or_else(|| "–".to_owned(), |hz| format!("{hz:.2} Hz"));
    let mut lines = vec![Line::from(format!(
        "{:.1} V   {:.2} A   PF {:.3}   {:.0} var   {:.0} VA   {frequency}",
        t.voltage_v, t.current_a, t.pf, t.q_var, t.s_va
    ))];
    for (k, phase) in observation.phases.iter().enumerate() {
        lines.push(Line::from(format!(
            "L{}  {:.1} V   {:.2} A   {:.0} W   PF {:.3}",
            k + 1,
            phase.voltage_v,
            phase.current_a,
            phase.p_w,
            phase.pf
        )));
    }
    frame.render_widget(Paragraph::new(lines), values);
}

fn status(frame: &mut Frame<'_>, snapshot: &Snapshot, area: Rect) {
    let relay = snapshot
        .relay
        .map_or("none (no supply switch)", |relay| relay.as_str());
    let link = &snapshot.link;
    let mut lines = vec![
        Line::from(format!("Supply switch: {relay}")),
        Line::from(if link.connected {
            format!("Link: connected, hub stored up to #{}", link.acked_seq)
        } else {
            format!(
                "Link: offline{}",
                link.last_error
                    .as_ref()
                    .map_or_else(String::new, |error| format!(" ({error})"))
            )
        }),
        Line::from(format!(
            "Outbox: {} messages waiting",
            snapshot.outbox_messages
        )),
        Line::from(format!("Register saves: {}", snapshot.register_writes)),
        Line::from(""),
    ];
    if snapshot.alarms.is_empty() {
        lines.push(Line::from("No alarms"));
    } else {
        lines.extend(
            snapshot
                .alarms
                .iter()
                .map(|alarm| Line::from(format!("ALARM {alarm}")).red()),
        );
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Observation, PhaseValues};
    use joule_protocol::{Registers, RelayState};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn snapshot() -> Snapshot {
        Snapshot {
            meter_id: "m-7".into(),
            observation: Some(Observation {
                ts_ms: 0,
                total: PhaseValues {
                    voltage_v: 231.4,
                    current_a: 9.87,
                    p_w: -2283.0,
                    q_var: 12.0,
                    s_va: 2284.0,
                    pf: -0.999,
                },
                phases: Vec::new(),
                freq_hz: Some(50.01),
                voltage_range_v: None,
                registers: Registers {
                    import_mwh: 1_234_567_890,
                    export_mwh: 42_000,
                    ..Registers::default()
                },
                tariff_registers: Vec::new(),
                device_tariff: None,
                events: Vec::new(),
            }),
            relay: Some(RelayState::ReadyForReconnection),
            tariff: 1,
            price: Some((0.2512, "EUR".into())),
            outbox_messages: 17,
            alarms: vec!["power above 5000 W".into()],
            ..Snapshot::default()
        }
    }

    fn rendered(snapshot: &Snapshot, page: Page) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 20)).unwrap();
        terminal.draw(|frame| draw(frame, snapshot, page)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn each_page_shows_its_values_with_units() {
        let snapshot = snapshot();
        let energy = rendered(&snapshot, Page::Energy);
        assert!(energy.contains("Import kWh") && energy.contains("Export kWh"));
        assert!(energy.contains("Tariff T2   price 0.2512 EUR/kWh"));
        assert!(energy.contains("ALARM (1)"), "alarms flagged on every page");
        let power = rendered(&snapshot, Page::Power);
        assert!(power.contains("W (exporting)"));
        assert!(power.contains("231.4 V   9.87 A   PF -0.999"));
        assert!(power.contains("50.01 Hz"));
        let status = rendered(&snapshot, Page::Status);
        assert!(status.contains("Supply switch: ready_for_reconnection"));
        assert!(status.contains("Outbox: 17 messages waiting"));
        assert!(status.contains("ALARM power above 5000 W"));
    }

    #[test]
    fn an_empty_snapshot_says_so_instead_of_showing_zeros() {
        let text = rendered(&Snapshot::default(), Page::Energy);
        assert!(text.contains("waiting for the meter"));
        assert!(text.contains("no reading yet"));
    }

    #[test]
    fn pages_cycle_both_ways() {
        assert_eq!(Page::Status.next(), Page::Energy);
        assert_eq!(Page::Energy.previous(), Page::Status);
    }
}
