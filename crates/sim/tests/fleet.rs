//! Properties of the register-level fleet model: registers never decrease, their energy is
//! the integral of the power the household draws, and the same seed tells the same story
//! however the time is advanced.

use joule_sim::fleet::{Cadence, RegisterMeter, Report, Start, neighbourhood_home};
use proptest::prelude::*;

/// 2026-03-01 00:00 UTC.
const START_MS: i64 = 1_772_323_200_000;

fn meter(seed: u64, home: usize, start_ms: i64) -> RegisterMeter {
    let start = Start {
        ts_ms: start_ms,
        import_mwh: 1_000,
        export_mwh: 7,
    };
    RegisterMeter::new(
        neighbourhood_home(seed, home),
        3_600.0,
        Cadence::minutely(600),
        start,
    )
}

/// The registers of every report, in order.
fn registers(reports: &[Report]) -> Vec<(i64, u64, u64)> {
    reports
        .iter()
        .map(|report| match report {
            Report::Live(live) => (
                live.ts_ms,
                live.registers.import_mwh,
                live.registers.export_mwh,
            ),
            Report::Interval(record) => (
                record.ts_ms,
                record.registers.import_mwh,
                record.registers.export_mwh,
            ),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn registers_never_decrease_and_time_moves_forward(
        seed in any::<u64>(),
        home in 0usize..24,
        offset_s in 0i64..(300 * 86_400),
    ) {
        let start_ms = START_MS + offset_s * 1000 + 123;
        let mut meter = meter(seed, home, start_ms);
        let mut out = Vec::new();
        meter.advance_to(start_ms + 2 * 86_400_000, &mut out);
        let seen = registers(&out);
        prop_assert!(seen.len() >= 2 * (96 + 144) - 2);
        for pair in seen.windows(2) {
            prop_assert!(pair[0].0 <= pair[1].0);
            prop_assert!(pair[0].1 <= pair[1].1 && pair[0].2 <= pair[1].2);
        }
        prop_assert!(seen[0].1 >= 1_000 && seen[0].2 >= 7);
    }

    #[test]
    fn energy_is_the_integral_of_power(
        seed in any::<u64>(),
        home in 0usize..24,
        hours in 1i64..48,
    ) {
        let end_ms = START_MS + hours * 3_600_000 + 17_000;
        let mut meter = meter(seed, home, START_MS);
        meter.advance_to(end_ms, &mut Vec::new());
        // The same power, slot by slot, integrated here in watt-hours.
        let household = meter.household().clone();
        let (mut import_wh, mut export_wh) = (0.0, 0.0);
        let mut t_ms = START_MS;
        while t_ms < end_ms {
            let next = (t_ms + 60_000).min(end_ms);
            let p_w: f64 = household
                .phase_powers(t_ms as f64 / 1000.0, 3_600.0)
                .iter()
                .map(|p| p.p_w)
                .sum();
            let wh = p_w * (next - t_ms) as f64 / 3_600_000.0;
            if p_w >= 0.0 { import_wh += wh } else { export_wh -= wh }
            t_ms = next;
        }
        let (import_mwh, export_mwh) = meter.registers_mwh();
        // Registers hold whole mWh; what is left is under 1 mWh per register (plus
        // the rounding of power to whole mW).
        let slots = (hours * 60 + 1) as f64;
        let tolerance_mwh = 1.0 + slots * 60.0 * 0.0005 / 3.6;
        prop_assert!(((import_mwh - 1_000) as f64 - import_wh * 1000.0).abs() <= tolerance_mwh,
            "import {import_mwh} vs {import_wh} Wh");
        prop_assert!(((export_mwh - 7) as f64 - export_wh * 1000.0).abs() <= tolerance_mwh,
            "export {export_mwh} vs {export_wh} Wh");
    }

    #[test]
    fn same_seed_same_reports_however_time_is_advanced(
        seed in any::<u64>(),
        home in 0usize..24,
        cuts in proptest::collection::vec(1i64..7_200_000, 1..20),
    ) {
        let end_ms = START_MS + 86_400_000;
        let mut whole = meter(seed, home, START_MS);
        let mut all_at_once = Vec::new();
        whole.advance_to(end_ms, &mut all_at_once);
        let mut chunked = meter(seed, home, START_MS);
        let mut in_pieces = Vec::new();
        let mut t_ms = START_MS;
        for cut in cuts {
            t_ms = (t_ms + cut).min(end_ms);
            chunked.advance_to(t_ms, &mut in_pieces);
        }
        chunked.advance_to(end_ms, &mut in_pieces);
        prop_assert_eq!(&all_at_once, &in_pieces);
        prop_assert_eq!(whole.registers_mwh(), chunked.registers_mwh());
        let other = meter(seed.wrapping_add(1), home, START_MS);
        let mut different = Vec::new();
        other.clone().advance_to(end_ms, &mut different);
        prop_assert_ne!(registers(&all_at_once), registers(&different));
    }
}
